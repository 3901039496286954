"""A horizontal bar chart of each row's speedup over PyTorch FP32."""

from __future__ import annotations

from typing import Any

from textual.content import Content
from textual.widget import Widget

from trt_tui.format import fmt_speedup, is_num

_EIGHTHS = " ▏▎▍▌▋▊▉"


def bar(value: float, scale: float, width: int) -> str:
    """A bar of ``value/scale`` of ``width`` cells, in eighths of a cell."""
    if scale <= 0 or width <= 0:
        return ""
    eighths = int(round(max(0.0, min(value / scale, 1.0)) * width * 8))  # noqa: RUF046 - round() of a numpy float is a numpy float
    full, part = divmod(eighths, 8)
    return "█" * full + (_EIGHTHS[part] if part else "")


class SpeedupChart(Widget):
    """Attributes down: ``show(rows, best)`` with (row_id, speedup) pairs."""

    DEFAULT_CSS = """
    SpeedupChart {
        width: 1fr;
        height: auto;
        padding: 0 1;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._rows: list[tuple[str, Any]] = []
        self._best = ""

    def show(self, rows: list[tuple[str, Any]], best: str) -> None:
        if rows == self._rows and best == self._best:
            return
        self._rows, self._best = list(rows), best
        self.refresh(layout=True)

    def get_content_height(self, container, viewport, width: int) -> int:
        return max(1, len(self._rows))

    def render(self) -> Content:
        rows = [(rid, v) for rid, v in self._rows]
        if not rows:
            return Content.from_markup("[dim]speedups appear once PyTorch FP32 and another row are measured[/]")
        label_w = max(len(rid) for rid, _ in rows) + 2
        values = [v for _, v in rows if is_num(v)]
        scale = max(values + [1.0])
        width = max(4, (self.content_size.width or 60) - label_w - 11)
        lines = []
        for rid, v in rows:
            mark = "★" if rid == self._best else " "
            if is_num(v):
                style = "$success" if rid == self._best else ("$primary" if v >= 1 else "$warning")
                lines.append(
                    Content.from_markup(
                        f"$mark $rid[{style}]$bar[/] $val",
                        mark=mark,
                        rid=rid.ljust(label_w - 1),
                        bar=bar(v, scale, width),
                        val=fmt_speedup(v),
                    )
                )
            else:
                lines.append(Content.from_markup("$mark $rid[dim]—[/]", mark=mark, rid=rid.ljust(label_w - 1)))
        return Content("\n").join(lines)
