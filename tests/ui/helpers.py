"""Helpers for the UI tests: the recorded streams and a runner for async Pilot scenarios."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Awaitable, Callable

from textual.widgets import DataTable

from trt_tui.screenshots import STREAMS_DIR

ASSET_STREAMS = Path(__file__).resolve().parents[2] / "assets" / "streams"
MLP = STREAMS_DIR / "mlp_cpu.jsonl"  # shipped with the package: `trt-tui screenshots` replays them
SYNTHETIC_BUILD = STREAMS_DIR / "build_progress_synthetic.jsonl"
DIGITS = STREAMS_DIR / "digits_cnn_cpu.jsonl"
EXPORT_FAILURE = ASSET_STREAMS / "export_failure_cpu.jsonl"


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
