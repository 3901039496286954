"""What the stages share: the validated config (never changed), the row book, the TensorRT
environment, the artifacts made so far, and how a stage or step is announced."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from trt_tui.core import artifacts, bench, results, rows
from trt_tui.core.config import RunConfig
from trt_tui.core.errors import TrtTuiError
from trt_tui.core.events import Emit, ErrorEvent, Event, Log, Progress, StageFinished, StageStarted, StepFinished
from trt_tui.core.results import dims_label
from trt_tui.core.rowbook import RowBook
from trt_tui.core.timeline import Timeline
from trt_tui.core.trt.adapter import PrecisionPlan, TensorRTEnv, precision_plan
from trt_tui.core.vocab import Backend, OnnxVariant, Status


class Cancelled(Exception):
    """Raised when the run is cancelled (SIGTERM in the child)."""


class Throttle:
    """Rate-limits Progress events per task to ``hz`` (first and last step always pass)."""

    def __init__(self, emit: Emit, hz: float = 4.0) -> None:
        self.emit = emit
        self.period = 1.0 / hz
        self.last: dict[str, float] = {}
        self.lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        # a running p50 always passes: measure() sends it every RUNNING_EVERY_S already
        if isinstance(event, Progress) and 0 < event.step < event.total and event.p50_ms is None:
            now = time.monotonic()
            with self.lock:
                if now - self.last.get(event.task, 0.0) < self.period:
                    return
                self.last[event.task] = now
        self.emit(event)


class Artifacts:
    """The files of the batch size being worked on (a sweep makes one set per size)."""

    def __init__(self) -> None:
        self.onnx: Path | None = None  # model.onnx (or the user's .onnx)
        self.qdq: Path | None = None  # Q/DQ INT8 ONNX
        self.fp16: Path | None = None  # FP16 ONNX (strongly typed TensorRT)
        self.plans: dict[str, Path] = {}  # row id -> the plan this run built
        self.made_at = ""  # the dim sizes (dims label) at which these files were made: a sweep's first

    def onnx_variant(self, variant: str | None) -> Path | None:
        """The ONNX file a PrecisionPlan or an onnxruntime row names (an OnnxVariant); None for none."""
        if variant is None:
            return None
        files: dict[str, Path | None] = {
            OnnxVariant.FP32: self.onnx,
            OnnxVariant.FP16: self.fp16,
            OnnxVariant.QDQ: self.qdq,
        }
        return files[variant]


def param_count(module: Any) -> int | None:
    """The parameters of a PyTorch module; None for none (an ONNX model)."""
    return int(sum(p.numel() for p in module.parameters())) if module is not None else None


class RunContext:
    def __init__(self, config: RunConfig, emit: Emit, cancel: threading.Event | None = None) -> None:
        self.cfg = config  # validated by the caller; read, never written
        self.cancel = cancel or threading.Event()
        self.out = config.resolved_out_dir()
        self.sizes: tuple[int, ...] = config.sizes()  # the batch sizes measured (a fixed-batch ONNX: its own)
        self.points = config.points()  # every (batch size, dynamic dim sizes) measured, batch outermost
        self.sweep = len(self.points) > 1
        self.store = results.ResultsStore(self.out, meta={"config": config.to_dict(), "timing": bench.TIMING_METHOD})
        # where the seconds go (meta.timeline): it sees every event before the rate limit
        self.timeline = Timeline(
            batch=lambda: self.batch if self.sweep else None, dims=lambda: self.rows.dims if self.sweep else ""
        )
        self.emit = self.timeline.recording(Throttle(emit), self.store)
        if self.sweep:
            self.store.meta["batch_sizes"] = list(self.sizes)
        self.rows = RowBook(self.store, self.emit, batch=config.batch_size, sweep=self.sweep)
        self.dims: dict[str, int] = dict(self.points[0][1])  # the dynamic dim sizes being worked on
        self.device = "cpu"
        self.trt = TensorRTEnv(reason="TensorRT not looked for yet")
        self.model: Any = None
        self.files = Artifacts()
        self.notes: dict[str, str] = {}  # how the Q/DQ / FP16 ONNX were made, for the rows built from them

    # -- the batch size being worked on ---------------------------------------------------------
    @property
    def batch(self) -> int:
        """The effective batch size now: the config's, a sweep's current one, or a fixed-batch ONNX's."""
        return self.rows.batch

    def move_to(self, batch: int, dims: dict[str, int] | None = None) -> None:
        """Work on one point of a sweep: a batch size has its own artifacts (one export and build per
        size); other sizes of dynamic dims share the engines (one profile covers them) but not the
        benchmark inputs (stages/benchmark.Benchmark keeps those per point)."""
        dims = dict(self.dims if dims is None else dims)
        if batch != self.rows.batch:
            self.rows.batch = batch
            self.files = Artifacts()
        self.dims = dims
        self.rows.dims = dims_label({k: v for k, v in dims.items() if k in self.cfg.sweep})

    def use_fixed_batch(self, batch: int) -> None:
        """An ONNX file with a fixed batch runs at that batch only (the config keeps what was asked)."""
        self.sizes = (batch,)
        dims: list[dict[str, int]] = []
        for _, d in self.points:  # the dim sizes, once each
            if d not in dims:
                dims.append(d)
        self.points = [(batch, d) for d in dims]
        self.sweep = len(self.points) > 1
        self.rows.batch, self.rows.sweep = batch, self.sweep
        self.store.meta["effective_batch_size"] = batch

    @property
    def inputs(self) -> Any:
        """The model's inputs (core/inputs.ModelInputs), known once the model is loaded."""
        return self.model.inputs

    def batch_shape(self) -> dict[str, tuple[int, ...]]:
        """Each input's full shape (batch first) at the point being worked on."""
        return self.inputs.shapes(self.batch, self.dims)

    def profile_shapes(self) -> dict[str, tuple[tuple[int, ...], ...]]:
        """Each input's TensorRT optimization profile (min, opt, max shapes): the batch as built, each
        dynamic dim over the sizes asked for (--sweep) or --profile."""
        from trt_tui.core.inputs import profile_ranges

        ranges = profile_ranges(self.inputs, self.cfg.sweep, self.cfg.profile)
        return {
            s.name: tuple((self.batch, *s.shape_at({d: r[k] for d, r in ranges.items()})) for k in range(3))
            for s in self.inputs
        }

    def artifact(self, name: str) -> Path:
        """A file in the results folder; in a sweep its name carries the batch size (model_fp16_b32.plan)."""
        if not self.sweep:
            return self.out / name
        stem, dot, ext = name.partition(".")
        return self.out / f"{stem}_b{self.batch}{dot}{ext}"

    # -- rows ------------------------------------------------------------------------------------
    def selected(self, backend: Backend) -> list[str]:
        """The configured rows of one backend, in table order."""
        return [r.id for r in rows.select(self.cfg.rows, backend=backend)]

    def onnx_rows(self) -> list[str]:
        return [r.id for r in rows.select(self.cfg.rows) if r.needs_onnx]

    def device_label(self) -> str:
        return f"cuda:0 ({self.store.env.get('gpu')})" if self.device == "cuda" else "cpu"

    def param_count(self) -> int | None:
        return param_count(self.model.module)

    # -- TensorRT --------------------------------------------------------------------------------
    def trt_plan(self, precision: str) -> PrecisionPlan | None:
        """The adapter's precision plan for a selected TensorRT row, or None when TensorRT is unusable."""
        if not self.trt.usable or self.trt.features is None or f"tensorrt-{precision}" not in self.cfg.rows:
            return None
        return precision_plan(self.trt.features, precision, self.cfg.calibrator)

    def timing_cache_path(self) -> Path:
        return Path(self.cfg.timing_cache) if self.cfg.timing_cache else self.out.parent / artifacts.TIMING_CACHE

    def calibration_source(self) -> Any:
        from trt_tui.core.calib_batches import BatchSource

        return BatchSource.for_model(
            self.model,
            batch_size=self.batch,
            calib_data=self.cfg.calib_data,
            max_samples=self.cfg.calib_samples,
            seed=self.cfg.seed,
            sizes=self.dims,
        )

    # -- announcing ------------------------------------------------------------------------------
    def log(self, stage: str, message: str, level: str = "info") -> None:
        self.emit(Log(stage=stage, level=level, message=message))

    def error(self, stage: str, message: str, detail: str = "") -> None:
        self.emit(ErrorEvent(stage=stage, message=message, detail=detail))

    def progress(self, stage: str, task: str) -> Any:
        """A (phase, step, total[, eta_s]) callback that emits Progress events for ``task``."""
        return lambda phase, step, total, eta_s=None: self.emit(
            Progress(stage=stage, task=task, step=step, total=total, phase=phase, eta_s=eta_s)
        )

    def check_cancel(self) -> None:
        if self.cancel.is_set():
            raise Cancelled()

    @contextmanager
    def stage(self, name: str, title: str) -> Iterator[dict[str, Any]]:
        """Announce a stage; yields a dict that becomes its StageFinished detail (``_status`` and
        ``_reason`` in it set the outcome). A TrtTuiError inside marks the stage failed and is
        re-raised for the caller to decide."""
        self.check_cancel()
        if self.sweep and name not in ("env", "model"):
            title += f" — batch {self.batch}" + (f", {dims_label(self.dims)}" if self.cfg.sweep else "")
        self.emit(StageStarted(stage=name, title=title))
        t0 = time.perf_counter()
        detail: dict[str, Any] = {}
        try:
            yield detail
        except Cancelled:
            self.emit(
                StageFinished(stage=name, status=Status.CANCELLED, seconds=time.perf_counter() - t0, reason="cancelled")
            )
            raise
        except TrtTuiError as exc:
            self.error(name, exc.message, exc.detail)
            self.emit(
                StageFinished(
                    stage=name,
                    status=Status.FAILED,
                    seconds=time.perf_counter() - t0,
                    reason=exc.message,
                    detail=detail,
                )
            )
            raise
        status = detail.pop("_status", Status.OK)
        reason = detail.pop("_reason", "")
        self.emit(
            StageFinished(stage=name, status=status, seconds=time.perf_counter() - t0, reason=reason, detail=detail)
        )

    def step(self, stage: str, step: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run one named step and announce its result (detail = the dict it returns)."""
        t0 = time.perf_counter()
        try:
            out = fn(*args, **kwargs)
        except TrtTuiError as exc:
            self.step_failed(stage, step, exc, t0)
            raise
        self.emit(
            StepFinished(
                stage=stage, step=step, seconds=time.perf_counter() - t0, detail=out if isinstance(out, dict) else {}
            )
        )
        return out

    def step_failed(self, stage: str, step: str, exc: TrtTuiError, t0: float) -> None:
        self.emit(
            StepFinished(
                stage=stage,
                step=step,
                status=Status.FAILED,
                seconds=time.perf_counter() - t0,
                reason=exc.message,
                detail={"error": exc.detail},
            )
        )
