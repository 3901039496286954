"""Label / value lines where a long value wraps beside its label, never under it."""

from __future__ import annotations

from textual.app import ComposeResult
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

    def __init__(
        self,
        label_width: int,
        rows: list[tuple[str, str]] | None = None,
        *,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.styles.grid_columns = f"{label_width} 1fr"
        self._shown: list[tuple[str, str]] | None = list(rows) if rows is not None else None

    def compose(self) -> ComposeResult:
        yield from self._cells(self._shown or [])

    @staticmethod
    def _cells(rows: list[tuple[str, str]]) -> list[Static]:
        cells = []
        for label, value in rows:
            cells += [Static(label, classes="label", markup=False), Static(value, classes="value")]
        return cells

    def show(self, rows: list[tuple[str, str]]) -> None:
        if rows == self._shown:
            return
        self._shown = list(rows)
        self.remove_children()
        self.mount_all(self._cells(rows))

    @property
    def plain(self) -> str:
        """What it shows, one 'label value' line per row (for tests and logs)."""
        from textual.content import Content

        return "\n".join(f"{label} {Content.from_markup(value).plain}" for label, value in self._shown or [])
