"""Label / value lines where a long value wraps beside its label, never under it."""

from __future__ import annotations

from textual.containers import Grid
from textual.widgets import Static


class LabelGrid(Grid):
    """Two columns: labels ``label_width`` cells wide, values wrapping in the rest.

    Attributes down: the owner calls ``show(rows)`` with (label, value markup) pairs."""

    DEFAULT_CSS = """
    LabelGrid {
        grid-size: 2;
        grid-gutter: 0 1;
        grid-rows: auto;
        height: auto;
    }
    LabelGrid > .label { color: $text-muted; }
    """

    def __init__(self, label_width: int, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.styles.grid_columns = f"{label_width} 1fr"
        self._shown: list[tuple[str, str]] | None = None

    def show(self, rows: list[tuple[str, str]]) -> None:
        if rows == self._shown:
            return
        self._shown = list(rows)
        self.remove_children()
        cells = []
        for label, value in rows:
            cells += [Static(label, classes="label", markup=False), Static(value, classes="value")]
        self.mount_all(cells)

    @property
    def plain(self) -> str:
        """What it shows, one 'label value' line per row (for tests and logs)."""
        return "\n".join(f"{label} {value}" for label, value in self._shown or [])
