"""Helpers for the UI tests: the recorded streams and a runner for async Pilot scenarios."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Awaitable, Callable

from textual.widgets import DataTable

DATA = Path(__file__).parent / "data"
MLP = DATA / "mlp_cpu.jsonl"
DIGITS = DATA / "digits_cnn_cpu.jsonl"
SYNTHETIC_BUILD = DATA / "build_progress_synthetic.jsonl"
EXPORT_FAILURE = DATA / "export_failure_cpu.jsonl"


def run(coro_fn: Callable[[], Awaitable[Any]]) -> Any:
    """Run an async Pilot scenario from a plain pytest test (no pytest-asyncio needed)."""
    return asyncio.run(coro_fn())


def table_text(table: DataTable) -> list[list[str]]:
    """What a DataTable shows, row by row in display order, as plain strings."""
    rows = []
    for index in range(table.row_count):
        rows.append([getattr(cell, "plain", str(cell)) for cell in table.get_row_at(index)])
    return rows


def static_text(widget: Any) -> str:
    """The plain text a Static/Label shows."""
    content = widget.visual if hasattr(widget, "visual") else widget.render()
    return getattr(content, "plain", str(content))
