"""Textual markup measured and fitted to a width (the screens' one-line summaries)."""

from __future__ import annotations


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
