"""Number formatting shared by the screens (plain functions, no widgets)."""

from __future__ import annotations

import math
from typing import Any

STATUS_ICONS = {
    "pending": "·",
    "running": "▶",
    "ok": "✔",
    "skipped": "–",
    "failed": "✘",
    "cancelled": "■",
    "crashed": "✘",
}


def is_num(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def fmt_ms(value: Any) -> str:
    """Milliseconds in at most 6 characters: 0.0434, 23.970, 412.5, 1520."""
    if not is_num(value):
        return ""
    if value >= 1000:
        return f"{value:.0f}"
    if value >= 100:
        return f"{value:.1f}"
    if value >= 10:
        return f"{value:.2f}"
    if value >= 1:
        return f"{value:.3f}"
    return f"{value:.4f}"


def fmt_seconds(value: Any) -> str:
    if not is_num(value):
        return ""
    if value < 0.0995:
        return f"{value * 1000:.0f} ms" if value >= 0.0005 else "<1 ms"
    if value < 60:
        return f"{value:.1f} s"
    minutes, seconds = divmod(int(round(value)), 60)
    return f"{minutes}m{seconds:02d}s"


def fmt_bytes(value: Any) -> str:
    if not is_num(value):
        return ""
    size = float(value)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            if unit == "B" or size >= 100:
                return f"{size:.0f} {unit}"
            return f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


def fmt_count(value: Any) -> str:
    if not is_num(value):
        return ""
    value = float(value)
    if value >= 1e9:
        return f"{value / 1e9:.2f} G"
    if value >= 1e6:
        return f"{value / 1e6:.2f} M"
    if value >= 1e4:
        return f"{value / 1e3:.1f} k"
    return f"{value:.0f}"


def fmt_rate(value: Any) -> str:
    if not is_num(value):
        return ""
    if value >= 1e6:
        return f"{value / 1e6:.2f}M"
    if value >= 1e3:
        return f"{value:,.0f}"
    return f"{value:.1f}"


def fmt_speedup(value: Any) -> str:
    if not is_num(value):
        return ""
    return f"{value:.2f}×" if value >= 0.095 else f"{value:.3f}×"


def fmt_err(value: Any) -> str:
    if not is_num(value):
        return ""
    if value == 0:
        return "0"
    return f"{value:.1e}"


def fmt_frac(value: Any) -> str:
    """A fraction as a percentage: 0.9961 -> '99.6%'."""
    return f"{value * 100:.1f}%" if is_num(value) else ""


def status_text(status: str) -> str:
    return f"{STATUS_ICONS.get(status, '?')} {status}"


def ellipsize(text: str, width: int) -> str:
    """``text`` cut to ``width`` cells with an ellipsis (the full text lives elsewhere)."""
    if width <= 1 or len(text) <= width:
        return text if width > 1 else text[:1]
    return text[: width - 1] + "…"


def fmt_elapsed(value: Any) -> str:
    """A live elapsed time, whole seconds: '0 s', '42 s', '3m05s'."""
    if not is_num(value):
        return ""
    if value < 60:
        return f"{value:.0f} s"
    minutes, seconds = divmod(int(value), 60)
    return f"{minutes}m{seconds:02d}s"


def markup_width(markup: str) -> int:
    """Cells that a line of Textual markup takes on screen."""
    from textual.content import Content

    return Content.from_markup(markup).cell_length


def fit_markup(variants: list[str], width: int) -> str:
    """The first (longest) markup line that fits ``width`` cells; the last one, cut, when none does."""
    for text in variants:
        if markup_width(text) <= width:
            return text
    from textual.content import Content

    return Content.from_markup(variants[-1]).truncate(max(1, width), ellipsis=True).markup



def pack_markup(bits: list[str], width: int, sep: str = "  ") -> str:
    """Markup pieces joined with ``sep`` into lines of at most ``width`` cells, a piece never split
    (one longer than a line gets a line of its own, cut by the widget)."""
    lines: list[str] = []
    current, used = "", 0
    for bit in bits:
        size = markup_width(bit)
        if current and used + len(sep) + size > width:
            lines.append(current)
            current, used = "", 0
        current, used = (current + sep + bit, used + len(sep) + size) if current else (bit, size)
    if current:
        lines.append(current)
    return "\n".join(lines)
