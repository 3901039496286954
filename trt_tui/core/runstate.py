"""The caller's view of a run, folded event by event: the one state both front ends use.

The CLI uses ``RunState`` as it is; the app's view-model (``screens.state``) builds on it with what
the screens draw (stages, steps, logs). The child saves rows as it measures them; after a crash,
cancel or failure ``close_unfinished`` marks the rows still pending/running with the reason and
saves them, the caller being the only writer left.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trt_tui.core.events import EnvEvent, ErrorEvent, Event, Finished, RowEvent, TimelineEvent
from trt_tui.core.results import ResultsStore, pick_best, remove_stale_temps
from trt_tui.core.vocab import Status


@dataclass
class StepState:
    """One step of a stage as the events tell it (an export step, one engine build, a quantize step)."""

    name: str
    status: str = Status.PENDING  # pending | running | ok | skipped | failed
    seconds: float | None = None
    reason: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    started_at: float | None = None  # local clock when it began (for the live elapsed time)
    # progress (build phases, calibration batches)
    phase: str = ""
    step: int = 0
    total: int = 0
    eta_s: float | None = None


@dataclass
class StageState:
    name: str
    status: str = Status.PENDING  # pending | running | ok | skipped | failed
    title: str = ""
    seconds: float | None = None
    reason: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    started_at: float | None = None


class RunState:
    """Rows (a ResultsStore, the source of truth), errors and the end of one run, from its events."""

    def __init__(self) -> None:
        self.store = ResultsStore(None)
        self.finished: Finished | None = None
        self.errors: list[ErrorEvent] = []
        self.timeline: list[dict[str, Any]] = []  # core.timeline entries, as the stages end
        self.timeline_origin = ""  # what t = 0 of the timeline is

    def apply(self, event: Event) -> None:
        if isinstance(event, RowEvent):
            if event.row.get("row_id"):
                self.store.upsert(event.row)
        elif isinstance(event, EnvEvent):
            self.store.set_env(event.env)
        elif isinstance(event, ErrorEvent):
            self.errors.append(event)
        elif isinstance(event, TimelineEvent):
            self.timeline.extend(event.entries)
            self.timeline_origin = event.origin or self.timeline_origin
        elif isinstance(event, Finished):
            self.finish(event)

    def timeline_entries(self) -> tuple[list[dict[str, Any]], str]:
        """The timeline and what its t = 0 is: from the events, or from results.json where that has more
        (a crash: the entries of the stage under way were saved but never sent)."""
        disk = self.store.meta.get("timeline")
        if isinstance(disk, list) and len(disk) > len(self.timeline):
            return disk, str(self.store.meta.get("timeline_origin") or self.timeline_origin)
        return self.timeline, self.timeline_origin

    def finish(self, event: Finished) -> None:
        """The run ended: the child's best row is the answer (it saw every row); an unfinished run's
        open rows are closed here."""
        self.finished = event
        if event.best:
            self.store.best = event.best
        if event.best_rule:
            self.store.best_rule = event.best_rule
        if event.status != Status.OK:
            close_unfinished(self.store, event)


def close_unfinished(store: ResultsStore, event: Finished) -> None:
    """After a run that did not finish ok the caller is the only writer left (CLI and TUI alike).

    The child saves each row before announcing it, so its ``results.json`` is at least as new as the
    events the caller saw: a row whose event was lost to a SIGKILL is taken from the disk. Rows still
    pending/running are then marked failed (cancelled after a cancel) with the reason, the files are
    saved again and the temporary files of an interrupted write are removed."""
    out = Path(event.out_dir) if event.out_dir else None
    if out is not None and (store.rows or store.env):  # the child has written this run's files by now
        merge_from_disk(store, out)
    reason = event.message or event.status
    changed = False
    for row in store.rows.values():
        if row.get("status") in (Status.PENDING, Status.RUNNING):
            row["status"] = Status.CANCELLED if event.status == Status.CANCELLED else Status.FAILED
            row["reason"] = reason
            changed = True
    store.best, store.best_rule = pick_best(store.rows.values())
    if out is None:
        return
    remove_stale_temps(out)
    if changed:
        try:
            store.out_dir = out
            store.save()
        except OSError:
            pass  # the child's own files (rows so far) stay as they were


def merge_from_disk(store: ResultsStore, out: Path) -> None:
    """Take the rows the caller has not seen settle from the child's results.json."""
    try:
        disk: ResultsStore | None = ResultsStore.load(out)
    except (OSError, ValueError, KeyError, TypeError):
        disk = None
    if disk is None:
        return
    for rid, row in disk.rows.items():
        mine = store.rows.get(rid)
        if mine is None or mine.get("status") in (Status.PENDING, Status.RUNNING):
            store.rows[rid] = dict(row)
    store.env = store.env or disk.env
    meta: dict[str, Any] = {**disk.meta, **store.meta}
    store.meta = meta
