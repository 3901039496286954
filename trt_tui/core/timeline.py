"""The stage timeline: where a run's seconds go, saved as results.json ``meta.timeline``.

Each entry is ``{name, kind, start_s, duration_s}``, ``start_s`` counted from the launch (below), with
``row`` on a phase: the row or task it belongs to (a row id for its build and benchmark phases,
``int8-qdq`` / ``fp16-convert`` for the quantize steps, ``export`` for the export steps, ``imports`` for
the import of a heavy package), ``batch`` in a batch sweep, ``dims`` (``seq=128``) in a sweep over a dynamic
dim, and ``title`` / ``status`` on a stage.

- **stage**: ``launch`` (the `trt-tui run` process until its job process started), ``startup`` (the job
  process until the pipeline starts: interpreter, imports), then every ``ctx.stage()`` of the pipeline.
- **phase**, derived from the events the pipeline already sends: a benchmark row's ``warm-up``,
  ``timed`` and ``gpu-compute`` loops and a quantize step's phases (calibration, ModelOpt's Q/DQ
  placement, ...) from its Progress events; the export steps from their StepFinished. Where no event
  tells, a one-line hook marks the phase: a row's ``load`` (its runner), ``reference`` (the eval set
  and the accuracy reference, made for the first row of a batch size), ``accuracy``; a TensorRT
  build's ``parse``, ``build`` and ``write``; each ``import <module>`` is timed by an import hook the
  job process installs first thing (``job_process``).

The phases of one row follow each other without overlapping; a phase runs until the next begins
(a Progress event that comes after one step of the new phase closes the old one at its own last
event) or until the row settles, its step ends or its stage ends.

t = 0 is when `trt-tui run` started (the CLI hands its start to the job process in ``LAUNCH_ENV``);
without it, when the job process started (/proc), or for the app's spare child when it was handed its
run, as for ``meta.first_row``; a pipeline run inside another program (tests) counts from its own
start. Nothing here imports torch or a UI package.
"""

from __future__ import annotations

import bisect
import importlib.abc
import importlib.machinery
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from trt_tui.core import runclock
from trt_tui.core.events import (
    Emit,
    Event,
    Progress,
    RowEvent,
    StageFinished,
    StageStarted,
    StepFinished,
    TimelineEvent,
)
from trt_tui.core.vocab import Status

LAUNCH_ENV = "TRT_TUI_LAUNCHED_AT"  # time.time() when `trt-tui run` started, set for its job process
LAUNCH_ORIGIN = "the launch of trt-tui run"  # t = 0 then (meta.timeline_origin)
DERIVED = ("benchmark", "quantize")  # stages whose Progress phases are timeline phases
SETTLED = (
    Status.OK,
    Status.FAILED,
    Status.SKIPPED,
    Status.CANCELLED,
    Status.BUILT,
)  # a row status that ends the row's phase
IMPORT_MIN_S = 0.05  # imports shorter than this are not worth a line
JOB_PROCESS = False  # set by job_process(): this process runs one pipeline, t = 0 is its launch


# -- the clock ----------------------------------------------------------------------------------
def launch_origin() -> tuple[float, float | None, str]:
    """(t = 0 as a perf_counter() value, this process's start on that clock or None, what t = 0 is).
    A pipeline run inside another program (a test, a script) counts from its own start."""
    now = time.perf_counter()
    if not JOB_PROCESS:
        return now, None, "the start of the pipeline"
    age = runclock.process_age_s()
    if runclock.handed_over_at() is not None:
        return now - (age or 0.0), None, "the hand-over of the run to the spare job process"
    start = now - age if age is not None else None
    try:
        launched = now - (time.time() - float(os.environ.get(LAUNCH_ENV, "")))
    except ValueError:
        launched = None
    if launched is not None and (start is None or 0 <= start - launched <= 120):  # a stale value is ignored
        return launched, start, LAUNCH_ORIGIN
    if start is not None:
        return start, start, "the start of the job process"
    return now, None, "the start of the pipeline"


def launch_env() -> dict[str, str]:
    """The environment a `trt-tui run` gives its job process: its own start, so t = 0 is the launch."""
    age = runclock.process_age_s()
    return {LAUNCH_ENV: repr(time.time() - age)} if age is not None else {}


# -- imports --------------------------------------------------------------------------------------
FILE_LOADERS = (
    importlib.machinery.SourceFileLoader,
    importlib.machinery.SourcelessFileLoader,
    importlib.machinery.ExtensionFileLoader,
)  # one loader object per module
IMPORTS: list[tuple[str, float, float]] = []  # (module, perf_counter start, end), outermost only


class ImportClock(importlib.abc.MetaPathFinder):
    """Times each import: first on ``sys.meta_path``, it finds the module with the finders behind it and
    times the loader's ``exec_module`` (file loaders only: one loader object per module). A module
    imported while another is being imported counts in the outer one (``import modelopt.onnx`` holds
    the sympy and onnxscript it imports)."""

    def __init__(self) -> None:
        self.depth = 0
        self.finding = False

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if self.finding or fullname in sys.modules:
            return None
        self.finding = True
        try:
            spec = next(
                (
                    s
                    for f in sys.meta_path
                    if f is not self
                    and hasattr(f, "find_spec")
                    and (s := f.find_spec(fullname, path, target)) is not None
                ),
                None,
            )
        except Exception:  # noqa: BLE001 - the import system asks the other finders itself and reports
            return None
        finally:
            self.finding = False
        loader = getattr(spec, "loader", None)
        if isinstance(loader, FILE_LOADERS):
            self._time(fullname, loader)
        return spec

    def _time(self, name: str, loader: Any) -> None:
        run = loader.exec_module

        def exec_module(module: Any) -> None:
            self.depth += 1
            t0 = time.perf_counter()
            try:
                run(module)
            finally:
                self.depth -= 1
                vars(loader).pop("exec_module", None)  # the loader's own method again
                t1 = time.perf_counter()
                if self.depth == 0 and t1 - t0 >= IMPORT_MIN_S:
                    IMPORTS.append((name, t0, t1))

        loader.exec_module = exec_module


def job_process() -> None:
    """This process is a job process (``python -m trt_tui.jobs``, which calls this first thing): its
    timeline counts from its launch, and its imports are timed from now on."""
    global JOB_PROCESS
    JOB_PROCESS = True
    if not any(isinstance(f, ImportClock) for f in sys.meta_path):
        sys.meta_path.insert(0, ImportClock())


def order(entry: dict[str, Any]) -> tuple[float, int]:
    """Entries by start, a stage before the phases that start with it."""
    return entry["start_s"], entry["kind"] != "stage"


# -- the recorder -------------------------------------------------------------------------------------
@dataclass
class Open:
    """A phase under way in one lane (a row or task)."""

    name: str
    start: float  # perf_counter()
    last: float | None = None  # its latest Progress event, where it ends if the next phase comes a step late


Lane = tuple[str, "int | None", str]  # (row or task, batch size in a sweep, dims label in a dim sweep)


class Timeline:
    """Records the stages and phases of one run from its events and a few explicit marks."""

    def __init__(self, *, batch: Callable[[], int | None] = lambda: None, dims: Callable[[], str] = lambda: "") -> None:
        self.origin, start, self.origin_note = launch_origin()
        self.batch = batch  # the batch size being worked on in a sweep, else None
        self.dims = dims  # the swept dynamic dims' sizes being worked on ('seq=128'), else ""
        self.entries: list[dict[str, Any]] = []  # closed, ordered by start
        self.pending: list[dict[str, Any]] = []  # closed, not yet sent in a TimelineEvent
        self.stage: tuple[StageStarted, float, tuple[int | None, str]] | None = None
        self.lanes: dict[Lane, Open] = {}
        self.seen: set[Lane] = set()  # lanes that had a phase
        self.imports_taken = 0
        self.lock = threading.RLock()  # progress comes from heartbeat and TensorRT threads too
        if start is not None and start > self.origin:
            self._add("launch", "stage", self.origin, start, title="trt-tui run until its job process started")
        self.startup: float | None = max(start or self.origin, self.origin)  # ends when the first stage starts

    # -- marks (where no event tells) ----------------------------------------------------------
    def mark(self, row: str, name: str) -> None:
        """Phase ``name`` of ``row`` begins now (the phase under way ends here); no-op if it is on."""
        now = time.perf_counter()
        with self.lock:
            key = (row, *self.point())
            lane = self.lanes.get(key)
            if lane is not None and lane.name == name:
                return
            if lane is not None:
                self._close(key, now)
            self.lanes[key] = Open(name, now)
            self.seen.add(key)

    def end(self, row: str) -> None:
        """The phase under way of ``row`` ends now."""
        with self.lock:
            key = (row, *self.point())
            if key in self.lanes:
                self._close(key, time.perf_counter())

    # -- events ------------------------------------------------------------------------------------
    def observe(self, ev: Event) -> bool:
        """Fold one event in (before any rate limit); True when a stage ended (time to send)."""
        now = time.perf_counter()
        with self.lock:
            if isinstance(ev, Progress):
                if ev.stage in DERIVED:
                    self._progress(ev, now)
            elif isinstance(ev, StageStarted):
                if self.startup is not None:
                    self._add(
                        "startup",
                        "stage",
                        self.startup,
                        now,
                        title="the job process until the first stage: interpreter, imports, config",
                    )
                    self.startup = None
                self.stage = (ev, now, self.point() if ev.stage not in ("env", "model") else (None, ""))
            elif isinstance(ev, StageFinished):
                self._stage_end(ev, now)
                return True
            elif isinstance(ev, StepFinished):
                self._step_end(ev, now)
            elif isinstance(ev, RowEvent) and ev.row.get("status") in SETTLED and ev.row.get("row_id"):
                key = (
                    str(ev.row["row_id"]),
                    ev.row.get("batch_size") if self.batch() is not None else None,
                    str(ev.row.get("dims") or "") if self.dims() else "",
                )
                if key in self.lanes:
                    self._close(key, now)
        return False

    def _progress(self, ev: Progress, now: float) -> None:
        key = (ev.task, *self.point())
        lane = self.lanes.get(key)
        if lane is not None and lane.name == ev.phase:
            lane.last = now
            return
        at = now
        if lane is not None:
            # a first event at step 0 says "starting now"; at step >= 1 it comes a step late, and the
            # phase before ended at its own last event
            at = now if ev.step == 0 or lane.last is None else lane.last
            self._close(key, at)
        if ev.phase:  # "" = no phase (a quantize step's end)
            self.lanes[key] = Open(ev.phase, at, now if ev.step else None)
            self.seen.add(key)

    def _stage_end(self, ev: StageFinished, now: float) -> None:
        for key in list(self.lanes):
            self._close(key, now)
        started, start, (batch, dims) = (
            self.stage if self.stage and self.stage[0].stage == ev.stage else (None, now - ev.seconds, (None, ""))
        )
        self._add(
            ev.stage,
            "stage",
            start,
            now,
            batch=batch,
            dims=dims,
            title=started.title if started else "",
            status=ev.status,
        )
        self.stage = None

    def _step_end(self, ev: StepFinished, now: float) -> None:
        key = (ev.step, *self.point())
        if key in self.lanes:
            self._close(key, now)
        elif key not in self.seen:  # a step with no phases of its own (the export steps)
            self._add(ev.step, "phase", now - ev.seconds, now, row=ev.stage, batch=key[1], dims=key[2])

    def _close(self, key: Lane, at: float) -> None:
        lane = self.lanes.pop(key)
        self._add(lane.name, "phase", lane.start, max(at, lane.start), row=key[0], batch=key[1], dims=key[2])

    def point(self) -> tuple[int | None, str]:
        """The sweep point being worked on: (batch size or None, dims label or '')."""
        return self.batch(), self.dims()

    def _add(
        self,
        name: str,
        kind: str,
        start: float,
        end: float,
        *,
        row: str | None = None,
        batch: int | None = None,
        dims: str = "",
        **extra: Any,
    ) -> None:
        entry = {**self._entry(name, kind, start, end, row, (batch, dims)), **extra}
        bisect.insort(self.entries, entry, key=order)
        self.pending.append(entry)

    def _take_imports(self) -> None:
        for name, t0, t1 in IMPORTS[self.imports_taken :]:
            if t1 > self.origin:  # a spare's imports before its hand-over are not part of the run
                self._add(f"import {name}", "phase", max(t0, self.origin), t1, row="imports")
        self.imports_taken = len(IMPORTS)

    # -- out -----------------------------------------------------------------------------------------
    def drain(self) -> list[dict[str, Any]]:
        """The entries closed since the last call (what the next TimelineEvent carries)."""
        with self.lock:
            self._take_imports()
            out, self.pending = self.pending, []
            return out

    def snapshot(self) -> list[dict[str, Any]]:
        """Every entry so far, those under way included (``open``: their duration so far)."""
        now = time.perf_counter()
        with self.lock:
            self._take_imports()
            out = list(self.entries)
            if self.stage is not None:
                started, start, point = self.stage
                out.append(
                    dict(self._entry(started.stage, "stage", start, now, None, point), title=started.title, open=True)
                )
            out += [
                dict(self._entry(lane.name, "phase", lane.start, now, key[0], key[1:]), open=True)
                for key, lane in self.lanes.items()
            ]
        return sorted(out, key=order)

    def _entry(
        self, name: str, kind: str, start: float, end: float, row: str | None, point: tuple[int | None, str]
    ) -> dict[str, Any]:
        entry: dict[str, Any] = {"name": name, "kind": kind, **({"row": row} if kind == "phase" else {})}
        if point[0] is not None:
            entry["batch"] = point[0]
        if point[1]:
            entry["dims"] = point[1]
        return {**entry, "start_s": round(start - self.origin, 3), "duration_s": round(max(0.0, end - start), 3)}

    def recording(self, downstream: Emit, store: Any) -> Emit:
        """``downstream`` with the timeline watching every event first (before the rate limit): the
        results store's ``meta.timeline`` kept current (saved with each row, and at each stage end),
        and a TimelineEvent with the new entries after each StageFinished."""
        store.meta["timeline_origin"] = self.origin_note  # what t = 0 is

        def emit(event: Event) -> None:
            stage_ended = self.observe(event)
            if not isinstance(event, Progress):
                store.meta["timeline"] = self.snapshot()
            downstream(event)
            if stage_ended:
                if store.rows:
                    try:
                        store.save()
                    except OSError:
                        pass  # the next row's save reports it
                if entries := self.drain():
                    downstream(TimelineEvent(entries=entries, origin=self.origin_note))

        return emit


# -- text (the CLI's summary and --timeline, the app's Build screen) ----------------------------------
MAX_STAGE_LINES = 10  # more stages (a sweep) are summed by name
BLOCKS = " ▏▎▍▌▋▊▉█"


def span_s(entries: Iterable[dict[str, Any]]) -> float:
    """Seconds from t = 0 to the end of the last entry."""
    return max((e["start_s"] + e["duration_s"] for e in entries), default=0.0)


def bar(fraction: float, width: int) -> str:
    """A horizontal bar of ``fraction`` of ``width`` cells, in eighths."""
    eighths = round(max(0.0, min(1.0, fraction)) * width * 8)
    full, part = divmod(eighths, 8)
    return "█" * full + (BLOCKS[part] if part else "")


def point_suffix(e: dict[str, Any]) -> str:
    """' b32', ' seq=128', ' b32 seq=128' or '': an entry's sweep point."""
    return (f" b{e['batch']}" if e.get("batch") is not None else "") + (f" {e['dims']}" if e.get("dims") else "")


def stage_label(e: dict[str, Any]) -> str:
    label = e["name"] + point_suffix(e)
    return label + (f" ({e['status']})" if e.get("status") not in (None, Status.OK) else "")


def stage_rows(entries: Sequence[dict[str, Any]]) -> list[tuple[str, float, float]]:
    """(label, start_s, seconds) per stage in order; summed by name when there are too many (a sweep)."""
    stages = [e for e in entries if e["kind"] == "stage"]
    if len(stages) <= MAX_STAGE_LINES:
        return [(stage_label(e), e["start_s"], e["duration_s"]) for e in stages]
    summed: dict[str, list[float]] = {}
    for e in stages:
        acc = summed.setdefault(e["name"], [e["start_s"], 0.0, 0])
        acc[1] += e["duration_s"]
        acc[2] += 1
    return [(f"{name} ×{int(n)}" if n > 1 else name, start, took) for name, (start, took, n) in summed.items()]


def phase_groups(entries: Sequence[dict[str, Any]]) -> list[tuple[str, int, float, str, float]]:
    """Phases summed by name, largest first: (name, how many, seconds, the largest one's row, its seconds).
    The imports count as one name, 'import', their largest named by module."""
    groups: dict[str, tuple[int, float, str, float]] = {}
    for e in entries:
        if e["kind"] != "phase":
            continue
        is_import = e.get("row") == "imports"
        name = "import" if is_import else e["name"]
        who = e["name"].removeprefix("import ") if is_import else str(e.get("row") or "")
        who += point_suffix(e)
        n, took, big, big_s = groups.get(name, (0, 0.0, "", -1.0))
        if e["duration_s"] > big_s:
            big, big_s = who, e["duration_s"]
        groups[name] = (n + 1, took + e["duration_s"], big, big_s)
    return sorted(((k, *v) for k, v in groups.items()), key=lambda g: -g[2])


def summary_lines(
    entries: Sequence[dict[str, Any]],
    origin: str = "",
    *,
    wall_s: float | None = None,
    phases: int = 6,
    bar_width: int = 16,
) -> list[str]:
    """Where the time went, on one 80x24 screen: each stage with its share of the whole, then the
    phases summed over rows (largest first) with the largest of each. ``wall_s``: the seconds from
    t = 0 to now where the caller knows them (`trt-tui run`: what came after the last stage counts too)."""
    span = span_s(entries)
    if not entries or span <= 0:
        return ["timeline: none recorded"]
    total = max(span, wall_s or 0.0)
    pct = lambda s: f"{100 * s / total:5.1f}%"  # noqa: E731 - a one-line local format, read beside its uses
    lines = [
        f"timeline: {total:.1f} s from {origin or 'the start'}",
        f"  {'stage':<20}{'start s':>9}{'took s':>9}{'share':>7}",
    ]
    stages = stage_rows(entries)
    for label, start, took in stages:
        lines.append(f"  {label[:20]:<20}{start:>9.1f}{took:>9.1f}{pct(took):>7} {bar(took / total, bar_width)}")
    between = span - sum(took for _, _, took in stages)
    if between >= 0.005 * total:
        lines.append(f"  {'(between stages)':<20}{'':>9}{between:>9.1f}{pct(between):>7}")
    if total - span >= 0.05:  # the job process saving and exiting, the results printed
        lines.append(f"  {'(after the last one)':<20}{span:>9.1f}{total - span:>9.1f}{pct(total - span):>7}")
    lines.append(f"  {'phase (how many)':<25}{'took s':>9}{'share':>7}  largest")
    for name, n, took, big, big_s in phase_groups(entries)[:phases]:
        lines.append(f"  {f'{name} ({n})'[:25]:<25}{took:>9.1f}{pct(took):>7}  {big[:20]} {big_s:.1f}")
    return lines


def entry_lines(entries: Sequence[dict[str, Any]]) -> list[str]:
    """Every entry in order of start: a stage flush left, its phases indented with their row."""
    lines = [f"{'start s':>9}{'took s':>9}  entry"]
    for e in sorted(entries, key=order):
        if e["kind"] == "stage":
            what = stage_label(e) + (" (under way)" if e.get("open") else "")
        else:
            row = str(e.get("row") or "") + point_suffix(e)
            what = f"  {e['name']} · {row}" + (" (under way)" if e.get("open") else "")
        lines.append(f"{e['start_s']:>9.3f}{e['duration_s']:>9.3f}  {what}")
    return lines
