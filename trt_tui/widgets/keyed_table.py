"""Keyed updates of a DataTable: add a row once, then touch only the cells that changed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from textual.widgets import DataTable


def upsert_row(table: DataTable, key: str, columns: Sequence[str], cells: Sequence[Any], *, label: Any = None) -> bool:
    """Add the row ``key`` or update its changed cells (by row and column key). True if it was added."""
    if key not in table.rows:
        table.add_row(*cells, key=key, label=label)
        return True
    for column, value in zip(columns, cells):
        if table.get_cell(key, column) != value:
            table.update_cell(key, column, value, update_width=True)
    return False
