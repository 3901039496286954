"""A model's inputs, one aligned line each: name, shape, dtype, values; an optional note under them."""

from __future__ import annotations

from typing import NamedTuple

from textual.content import Content
from textual.widgets import Static

from trt_tui.format import ellipsize


class InputRow(NamedTuple):
    name: str
    shape: str  # '[B,seq=128]'
    dtype: str
    values: str  # the generator: 'randint [0, 999] (ids below ...)'
    unsized: bool = False  # a dynamic dim without a size yet: the shape is drawn as a warning


class InputsList(Static):
    """Plain lines, never focused; the owner calls ``show(rows, note)``. Each line fits the width
    (``lines``: one per input, or two where one does not fit)."""

    DEFAULT_CSS = """
    InputsList { height: auto; width: 100%; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__("", id=id, classes=classes)
        self.rows: list[InputRow] = []
        self.note = ""  # markup
        self._shown: tuple[list[InputRow], str] | None = None

    def show(self, rows: list[InputRow], note: str = "") -> None:
        if (rows, note) == self._shown:
            return
        self._shown = (list(rows), note)
        self.rows, self.note = list(rows), note
        self.refresh(layout=True)

    @property
    def plain(self) -> str:
        """What it shows, one line per input then the note (for tests)."""
        lines = [f"{r.name} {r.shape} {r.dtype} {r.values}" for r in self.rows]
        return "\n".join(lines + ([Content.from_markup(self.note).plain] if self.note else []))

    def render(self) -> Content:
        width = self.size.width or 60
        return Content("\n").join(self.lines(width)) if (self.rows or self.note) else Content.from_markup("[dim]–[/]")

    def lines(self, width: int) -> list[Content]:
        """Each input in at most ``width`` cells, then the note: one aligned line per input where they all
        fit; else name, shape and dtype on one line and the values indented under them; where even that
        does not fit (a narrow terminal, a long dim name), the name alone, then shape and dtype, then the
        values, each indented — a name is never cut to a stub."""
        shape_w = max((len(r.shape) for r in self.rows), default=0)
        dtype_w = max((len(r.dtype) for r in self.rows), default=0)
        name_w = max((len(r.name) for r in self.rows), default=0)
        one_line = all(name_w + shape_w + dtype_w + len(r.values) + 3 <= width for r in self.rows)
        two_lines = name_w + shape_w + dtype_w + 2 <= width
        out = []
        for r in self.rows:
            name = (ellipsize(r.name, width).ljust(name_w if two_lines else 0), "bold")
            shape = (r.shape, "$warning" if r.unsized else "")
            values = ("  ", (ellipsize(r.values, max(4, width - 2)), "dim"))
            if not two_lines:  # the dtype under the shape too when both do not fit on one line
                kind = (
                    [("  ", shape, " ", r.dtype)]
                    if len(r.shape) + len(r.dtype) + 3 <= width
                    else [("  ", shape), ("  ", r.dtype)]
                )
                out += [Content.assemble(name), *(Content.assemble(*k) for k in kind), Content.assemble(*values)]
                continue
            head = Content.assemble(name, " ", shape, " " * (shape_w - len(r.shape) + 1), r.dtype.ljust(dtype_w))
            out += [Content.assemble(head, " ", (r.values, "dim"))] if one_line else [head, Content.assemble(*values)]
        if self.note:
            out.append(Content.from_markup(self.note))
        return out
