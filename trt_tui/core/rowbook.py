"""The rows of one run while the pipeline works on them, beside the results store that keeps them.

Every change is saved first (``ResultsStore.upsert`` writes results.json/csv) and announced second
(a RowEvent), so a crash after the announcement loses nothing. In a batch sweep the book knows the
batch size being worked on: ``set("tensorrt-fp16", ...)`` updates that size's row.
"""

from __future__ import annotations

from typing import Any

from trt_tui.core import accuracy, results, runclock
from trt_tui.core.events import Emit, RowEvent
from trt_tui.core.vocab import OPEN, Status

# Row fields a benchmark fills in, and those a TensorRT build fills in.
MEASURED = tuple(c for c in results.COLUMNS if c.startswith(("latency_", "gpu_compute_", "throughput", "images_"))) + (
    "speedup_vs_pytorch",
    "speedup_vs_best_pytorch",
    *accuracy.KEYS,
    "label_accuracy",
    "iterations",
    "warmup",
    "speedup_ci_low",
    "speedup_ci_high",
    "speedup_best_ci_low",
    "speedup_best_ci_high",
    "stopped_by",
    "other_cpu_cores",
    "noise_warning",
    "output_warning",
    "accuracy_na",
)
BUILT = ("size_bytes", "build_time_s", "artifact", "notes")
SPEEDUPS = ("speedup_vs_pytorch", "speedup_vs_best_pytorch", *(c for pair in results.SPEEDUP_CI.values() for c in pair))


class RowBook:
    def __init__(self, store: results.ResultsStore, emit: Emit, *, batch: int, sweep: bool) -> None:
        self.store = store
        self.emit = emit
        self.batch = batch  # the batch size being worked on
        self.sweep = sweep
        self.dims = ""  # a sweep over dynamic dims: the sizes being worked on ('seq=128'), else ''
        self.first_row = runclock.FirstRow()

    def set(self, row_id: str, **values: Any) -> dict[str, Any]:
        """Update a row: saved to disk first, then announced; so are the other rows whose speedups
        (and their CIs) moved with it, e.g. when a faster PyTorch row becomes the best-PyTorch reference."""
        if self.sweep:
            values.setdefault("batch_size", self.batch)  # the (row_id, batch) being worked on
            if self.dims:
                values.setdefault("dims", self.dims)
        before = {k: tuple(r.get(c) for c in SPEEDUPS) for k, r in self.store.rows.items()}
        current = self.store.upsert({"row_id": row_id, **values})
        if first := self.first_row.see(current):  # how long the user waited for the first number
            self.store.meta["first_row"] = first
            self.store.save()
        self.emit(RowEvent(row=dict(current)))
        for key, row in self.store.rows.items():
            if row is not current and key in before and before[key] != tuple(row.get(c) for c in SPEEDUPS):
                self.emit(RowEvent(row=dict(row)))
        return current

    def key(self, row_id: str) -> str:
        """The store key of ``row_id`` at the batch size being worked on."""
        return self.store.key(row_id, self.batch, self.dims or None)

    def current(self, row_id: str) -> dict[str, Any]:
        return self.store.rows[self.key(row_id)]

    def status(self, row_id: str) -> str | None:
        return self.store.rows.get(self.key(row_id), {}).get("status")

    def has(self, row_id: str, batch: int, dims: str = "") -> bool:
        return self.store.key(row_id, batch, dims or None) in self.store.rows

    def fail(self, row_ids: list[str], reason: str, status: str = Status.FAILED) -> None:
        """Settle the rows still open at this batch size (one that already failed keeps its reason)."""
        for r in row_ids:
            if self.status(r) in OPEN:
                self.set(r, status=status, reason=reason)

    def fail_unfinished(self, reason: str, status: str = Status.FAILED) -> None:
        """Close every row still pending or running, at every batch size."""
        for row in list(self.store.rows.values()):
            if row.get("status") in OPEN:
                self.set(
                    row["row_id"], batch_size=row.get("batch_size"), dims=row.get("dims"), status=status, reason=reason
                )

    def load_earlier(self, wanted: tuple[str, ...]) -> None:
        """A step run alone starts from the rows an earlier run saved in this folder."""
        if self.store.out_dir is None:
            return
        try:
            earlier = results.ResultsStore.load(self.store.out_dir)
        except (OSError, ValueError, KeyError):
            return
        for row_id, row in earlier.rows.items():
            if row_id in wanted:
                self.store.rows[row_id] = row
                if row_id in earlier.samples:  # kept, so saving this run's samples does not drop them
                    self.store.samples[row_id] = earlier.samples[row_id]
