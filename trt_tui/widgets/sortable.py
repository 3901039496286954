"""A table cell that shows formatted text but sorts by its raw value (memray's SortableText idea)."""

from __future__ import annotations

import math
from typing import Any

from rich.text import Text


class SortableText(Text):
    """``Text`` carrying the raw value it was formatted from; empty values sort last."""

    def __init__(self, text: str, value: Any = None, style: str = "", justify: str | None = None) -> None:
        super().__init__(text, style=style, justify=justify)  # type: ignore[arg-type]  # justify: Rich's Literal
        self.value = value

    @property
    def sort_key(self) -> tuple[int, Any]:
        value = self.value
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return (1, 0)
        if isinstance(value, (int, float)):
            return (0, float(value))
        return (0, str(value))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SortableText):
            return self.plain == other.plain and self.style == other.style and self.value == other.value
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # compares by value (sorting): unhashable, as __eq__ requires


def sort_key_descending(cell: Any) -> tuple[int, Any]:
    """A key that sorts largest first but still puts empty cells last (use without ``reverse``)."""
    missing, value = sort_key(cell)
    if missing:
        return (1, 0)
    if isinstance(value, float):
        return (0, -value)
    return (0, tuple(-ord(ch) for ch in str(value)))


def sort_key(cell: Any) -> tuple[int, Any]:
    if isinstance(cell, SortableText):
        return cell.sort_key
    if isinstance(cell, Text):
        return (0, cell.plain)
    return (0, str(cell)) if cell is not None else (1, 0)
