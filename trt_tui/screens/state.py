"""The view-model of one run: what the screens draw, built from the event stream.

The App applies every event here (on the UI thread) and the screens render from it, so a screen that
was not on display while events arrived still shows the whole story when it is opened. Rows live in
the core ``ResultsStore`` (the source of truth for the table and for CSV/JSON exports). Nothing here
imports textual.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from trt_tui.core import rows, runstate
from trt_tui.core.config import RUN_STAGES, RunConfig
from trt_tui.core.events import (
    Event,
    Finished,
    Log,
    Progress,
    RowEvent,
    StageFinished,
    StageStarted,
    StepFinished,
)
from trt_tui.core.results import ResultsStore
from trt_tui.core.runstate import StageState, StepState
from trt_tui.core.vocab import Status
from trt_tui.format import fmt_elapsed, step_title

EXPORT_STEPS = ("export", "checker", "parity")
LOG_LEVELS = ("verbose", "info", "warning", "error")
_LEVEL_RANK = {
    "verbose": 0,
    "debug": 0,
    "info": 1,
    "warning": 2,
    "warn": 2,
    "error": 3,
    "internal_error": 3,
    "critical": 3,
}


def level_rank(level: str) -> int:
    return _LEVEL_RANK.get(level.lower(), 1)


class BenchProgress(NamedTuple):
    """A running row's timed loop: steps done, of total, and the median latency so far (provisional)."""

    step: int = 0
    total: int = 0
    p50_ms: float | None = None


class RunView(runstate.RunState):
    """Everything the screens show about the current (or reopened) run: the core run state (rows,
    errors, the end) and, on top, the stages, steps, engines, progress and log the screens draw."""

    def __init__(
        self, config: RunConfig | None = None, *, clock: Callable[[], float] | None = None, max_logs: int = 5000
    ) -> None:
        import time

        super().__init__()
        self.clock = clock or time.time
        self.config = config or RunConfig()
        self.stages: dict[str, StageState] = {}
        self.export_steps: dict[str, StepState] = {}
        self.engines: dict[str, StepState] = {}
        self.quantize_steps: dict[str, StepState] = {}
        self.quantize_idle_since: float | None = None  # quantize running, no step under way since then
        self.bench_progress: dict[str, BenchProgress] = {}  # by store key of the running row
        self.logs: deque[Log] = deque(maxlen=max_logs)
        self.log_total = 0  # logs ever appended (the deque keeps the newest)
        self.running = False
        self.cancel_requested = False
        self.out_dir: Path | None = None
        self.source = ""  # "live run" | "reopened <path>"
        self.version = 0  # bumped on every change; screens re-render when it moves
        self.reset(self.config)

    # -- lifecycle -------------------------------------------------------------------------------
    def reset(self, config: RunConfig, *, running: bool = False) -> None:
        """A fresh run: keep nothing from the previous one."""
        self.config = config
        self.store = ResultsStore(None, meta={"config": config.to_dict()})
        self.stages = {}
        self.export_steps = {name: StepState(name) for name in EXPORT_STEPS}
        self.engines = {r: StepState(r) for r in config.rows if rows.is_tensorrt(r)}
        self.quantize_steps = {}
        self.quantize_idle_since = None
        self.bench_progress = {}
        self.logs.clear()
        self.log_total = 0
        self.errors = []
        self.timeline, self.timeline_origin = [], ""
        self.finished = None
        self.running = running
        self.cancel_requested = False
        self.out_dir = config.resolved_out_dir()
        self.source = "live run" if running else ""
        self.version += 1

    def begin(self, config: RunConfig) -> None:
        """A job starts. A step run alone on the same model keeps what the other steps showed
        (its rows are merged into the existing ones); anything else starts afresh."""
        alone = set(config.stages) != set(RUN_STAGES)
        same = self.config.model == config.model and self.out_dir == config.resolved_out_dir()
        if not (alone and same and (self.store.rows or self.stages)):
            self.reset(config, running=True)
            return
        self.config = config
        self.store.meta["config"] = config.to_dict()
        self.running, self.cancel_requested, self.finished, self.errors = True, False, None, []
        self.timeline, self.timeline_origin = [], ""  # this run's own
        self.source = "live run"
        if "export" in config.stages:
            self.stages.pop("export", None)
            self.export_steps = {name: StepState(name) for name in EXPORT_STEPS}
        if "quantize" in config.stages:
            self.stages.pop("quantize", None)
            self.quantize_steps = {}
        if "build" in config.stages:
            self.stages.pop("build", None)
            self.engines = {r: StepState(r) for r in config.rows if rows.is_tensorrt(r)}
        if "benchmark" in config.stages:
            self.stages.pop("benchmark", None)
            self.bench_progress = {}
        self.version += 1

    def reopen(self, store: ResultsStore) -> None:
        """Show an earlier run's results folder (read from its results.json)."""
        cfg = (
            RunConfig.from_dict(store.meta.get("config", {}))
            if isinstance(store.meta.get("config"), dict)
            else RunConfig()
        )
        self.reset(cfg)
        self.store = store
        self.out_dir = store.out_dir
        self.source = f"reopened {store.out_dir}"
        self.engines = {rid: StepState(rid) for rid in store.rows if rows.is_tensorrt(rid)}
        for rid, row in store.rows.items():
            if rid in self.engines and row.get("build_time_s") is not None:
                eng = self.engines[rid]
                eng.status = Status.OK if row.get("status") != Status.SKIPPED else Status.SKIPPED
                eng.seconds = row.get("build_time_s")
                eng.detail = {
                    "plan": row.get("artifact"),
                    "size_bytes": row.get("size_bytes"),
                    "build_time_s": row.get("build_time_s"),
                }
        self.version += 1

    # -- events ----------------------------------------------------------------------------------
    def apply(self, event: Event) -> None:
        now = self.clock()
        super().apply(event)  # rows, env, errors, the end of the run (best row, unfinished rows closed)
        if isinstance(event, StageStarted):
            st = self.stages.setdefault(event.stage, StageState(event.stage))
            st.status, st.title, st.started_at = Status.RUNNING, event.title, now
            if event.stage == "quantize":
                self.quantize_idle_since = now
            if event.stage == "export":
                for step in self.export_steps.values():
                    if step.status == Status.PENDING:
                        step.status, step.started_at = Status.RUNNING, now
                        break
        elif isinstance(event, StageFinished):
            st = self.stages.setdefault(event.stage, StageState(event.stage))
            st.status, st.seconds, st.reason, st.detail = event.status, event.seconds, event.reason, dict(event.detail)
            if event.stage == "export":
                for step in self.export_steps.values():
                    if step.status == Status.RUNNING:
                        step.status = Status.FAILED if event.status == Status.FAILED else Status.SKIPPED
                    elif step.status == Status.PENDING and event.status in (Status.SKIPPED, Status.FAILED):
                        step.status, step.reason = Status.SKIPPED, event.reason
            if event.stage == "build":
                for eng in self.engines.values():
                    if eng.status in (Status.PENDING, Status.RUNNING):
                        eng.status = (
                            Status.SKIPPED if event.status != Status.OK or eng.status == Status.PENDING else eng.status
                        )
                        eng.reason = eng.reason or event.reason
        elif isinstance(event, StepFinished):
            self._apply_step(event, now)
        elif isinstance(event, Progress):
            self._apply_progress(event, now)
        elif isinstance(event, Log):
            self.logs.append(event)
            self.log_total += 1
        elif isinstance(event, RowEvent):
            self._apply_row(event.row, now)
        elif isinstance(event, Finished):
            self.running = False
            if event.out_dir:
                self.out_dir = Path(event.out_dir)
            for st in self.stages.values():
                if st.status == Status.RUNNING:
                    st.status = Status.FAILED if event.status != Status.OK else Status.OK
            for step in list(self.export_steps.values()) + list(self.engines.values()):
                if step.status == Status.RUNNING:
                    step.status = Status.CANCELLED if event.status == Status.CANCELLED else Status.FAILED
        self.version += 1

    def _apply_row(self, row: dict[str, Any], now: float) -> None:
        rid = row.get("row_id")
        if not rid or not rows.is_tensorrt(rid):
            return
        status = row.get("status")
        eng = self.engines.setdefault(rid, StepState(rid))
        if status == Status.RUNNING and row.get("reason") == "building" and eng.status == Status.PENDING:
            eng.status, eng.started_at = Status.RUNNING, now
        elif status in (Status.SKIPPED, Status.FAILED, Status.CANCELLED) and eng.status in (
            Status.PENDING,
            Status.RUNNING,
        ):
            eng.status, eng.reason = status, row.get("reason") or eng.reason

    def _apply_step(self, event: StepFinished, now: float) -> None:
        if event.stage == "export":
            key = _export_key(event.step)
            step = self.export_steps.setdefault(key, StepState(key))
            step.status, step.seconds, step.reason, step.detail = (
                event.status,
                event.seconds,
                event.reason,
                dict(event.detail),
            )
            # the next export step starts when this one ends
            if event.status in (Status.OK, Status.SKIPPED):
                for nxt in self.export_steps.values():
                    if nxt.status == Status.PENDING:
                        nxt.status, nxt.started_at = Status.RUNNING, now
                        break
        elif event.stage == "quantize":
            step = self.quantize_steps.setdefault(event.step, StepState(event.step))
            step.status, step.seconds, step.reason, step.detail = (
                event.status,
                event.seconds,
                event.reason,
                dict(event.detail),
            )
            step.eta_s = None
            self.quantize_idle_since = now  # the next step (if any) starts now
        elif event.stage == "build":
            eng = self.engines.setdefault(event.step, StepState(event.step))
            eng.status, eng.seconds, eng.reason, eng.detail = (
                event.status,
                event.seconds,
                event.reason,
                dict(event.detail),
            )
            if event.status == Status.OK and eng.total:
                eng.step = eng.total

    def _apply_progress(self, event: Progress, now: float) -> None:
        if event.stage == "build":
            eng = self.engines.setdefault(event.task, StepState(event.task))
            if eng.status == Status.PENDING:
                eng.status, eng.started_at = Status.RUNNING, now
            eng.phase, eng.step, eng.total = event.phase, event.step, event.total
        elif event.stage == "benchmark":
            key = next(
                (
                    k
                    for k, r in self.store.rows.items()  # in a sweep: the row at the size running
                    if r.get("row_id") == event.task and r.get("status") == Status.RUNNING
                ),
                event.task,
            )
            last = self.bench_progress.get(key)
            p50 = (
                event.p50_ms if event.p50_ms is not None else (last.p50_ms if last and event.phase == "timed" else None)
            )
            self.bench_progress[key] = BenchProgress(event.step, event.total, p50)
        elif event.stage == "quantize":
            step = self.quantize_steps.get(event.task)
            if step is None or step.status != Status.RUNNING:
                step = self.quantize_steps[event.task] = StepState(
                    event.task, Status.RUNNING, started_at=self.quantize_idle_since or now
                )
            step.phase, step.step, step.total, step.eta_s = event.phase, event.step, event.total, event.eta_s

    # -- derived ---------------------------------------------------------------------------------
    @property
    def export_detail(self) -> dict[str, Any]:
        """The ONNX report: the export stage's detail merged with each step's detail."""
        merged: dict[str, Any] = {}
        for name in ("export", "checker"):  # the parity step's 'outputs' are errors, not the ONNX outputs
            merged.update({k: v for k, v in self.export_steps[name].detail.items() if k not in ("ok", "seconds")})
        stage = self.stages.get("export")
        if stage:
            merged.update(stage.detail)
        return merged

    def export_failure(self) -> str:
        """The full message of an export failure ('' when none)."""
        parts = []
        for err in self.errors:
            if err.stage in ("export", "model", ""):
                parts.append(err.message + ("\n\n" + err.detail if err.detail else ""))
        for step in self.export_steps.values():
            if step.status == Status.FAILED and step.reason and not any(step.reason in p for p in parts):
                parts.append(f"{step.name}: {step.reason}")
        return "\n\n".join(parts)

    def current_stage(self) -> str:
        for name in reversed(list(self.stages)):
            if self.stages[name].status == Status.RUNNING:
                return name
        return ""

    def elapsed(self, started_at: float | None) -> float | None:
        return None if started_at is None else max(0.0, self.clock() - started_at)

    def status_line(self) -> tuple[str, str]:
        """The top bar's status: (what must stay visible: the stage and its elapsed time, or the
        outcome; the detail, which is cut first when the line is too long)."""
        if self.running:
            stage = self.current_stage()
            if not stage:
                head, detail = "starting", ""
            else:
                st = self.stages[stage]
                head = f"{stage} {fmt_elapsed(self.elapsed(st.started_at))}"
                detail = self._stage_progress(stage) or st.title
            if self.cancel_requested:
                head += " cancelling…"
            return head, detail
        if self.finished is not None:
            fin = self.finished
            head = {
                Status.OK: "finished",
                Status.FAILED: "failed",
                Status.CANCELLED: "cancelled",
                Status.CRASHED: "crashed",
            }.get(fin.status, fin.status)
            return head, (fin.message if fin.message and fin.status != Status.OK else str(self.out_dir or ""))
        return self.source or "idle", ""

    def _stage_progress(self, stage: str) -> str:
        """What the running stage is doing right now, in a few words ('' if nothing more is known)."""
        steps = {"quantize": self.quantize_steps, "build": self.engines}.get(stage)
        if steps is not None:
            for name, step in steps.items():
                if step.status == Status.RUNNING:
                    return progress_words(name, step)
            return ""
        if stage == "export":
            running = [step_title(n) for n, s in self.export_steps.items() if s.status == Status.RUNNING]
            return running[0] if running else ""
        if stage == "benchmark":
            for rid, row in self.store.rows.items():
                if row.get("status") == Status.RUNNING:
                    done, total, _ = self.bench_progress.get(rid, BenchProgress())
                    return f"{rid} {100 * done // total}%" if total else rid
        return ""


def progress_words(name: str, step: StepState) -> str:
    """'calibration 12/64 ~40 s left · INT8 Q/DQ ONNX', as far as it is known (the moving part first:
    a narrow top bar cuts from the end)."""
    bits = []
    if step.phase:
        bits.append(step.phase)
    if step.total:
        bits.append(f"{step.step}/{step.total}")
    if step.eta_s is not None:
        bits.append(f"~{fmt_elapsed(step.eta_s)} left")
    title = step_title(name)
    return f"{' '.join(bits)} · {title}" if bits else title


def _export_key(step: str) -> str:
    s = step.lower()
    if "parity" in s or "onnxruntime" in s:
        return "parity"
    if "check" in s:
        return "checker"
    if "export" in s:
        return "export"
    return step


def row_title(store: ResultsStore, key: str) -> str:
    """A row's short label for the screens; in a sweep with its point ('ORT INT8 b32', 'TRT FP16 seq=128')."""
    row = store.rows.get(key) or {"row_id": key}
    title = rows.short(str(row["row_id"]))
    label = store.sweep_label(row)
    return f"{title} {label}" if label else title


def table_rows(state: RunView) -> list[str]:
    """Row ids in table order: the configured rows first (pending until they arrive), then any other."""
    order = [r for r in rows.ALL_IDS if r in state.store.rows or (state.running and r in state.config.rows)]
    return order + [r for r in state.store.rows if r not in order]
