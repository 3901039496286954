"""How long the user waited for the first number: recorded in results.json meta as ``first_row``."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from trt_tui.core.vocab import Status

_handed_over: float | None = None  # perf_counter() when a spare child got its run


def handed_over() -> None:
    """A spare child (started ahead, torch imported) got its run now: its age counts from here."""
    global _handed_over
    _handed_over = time.perf_counter()


def handed_over_at() -> float | None:
    """perf_counter() when this spare child was handed its run (None: not a spare)."""
    return _handed_over


def process_age_s() -> float | None:
    """Seconds since this process started (Linux /proc; None elsewhere): includes interpreter start
    and the torch import, which a clock started in the pipeline does not see. For a spare child:
    since it was handed its run."""
    if _handed_over is not None:
        return time.perf_counter() - _handed_over
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        start_ticks = int(fields[19])  # field 22, starttime, in clock ticks after boot
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return max(0.0, uptime - start_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError, AttributeError):
        return None


class FirstRow:
    """Notes the first row that reaches 'ok' and how long after the start it did."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.record: dict[str, Any] | None = None

    def see(self, row: dict[str, Any]) -> dict[str, Any] | None:
        """The record when ``row`` is the first ok one (None otherwise)."""
        if self.record is not None or row.get("status") != Status.OK:
            return None
        age = process_age_s()
        self.record = {
            "row_id": row.get("row_id"),
            "batch_size": row.get("batch_size"),
            "seconds_since_pipeline_start": round(time.perf_counter() - self.t0, 3),
            "seconds_since_process_start": round(age, 3) if age is not None else None,
        }
        return self.record
