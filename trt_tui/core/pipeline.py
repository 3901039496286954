"""The pipeline: stages in order, each turned into events. The only place stages are sequenced.

env → model → benchmark of the PyTorch rows (numbers early, and nothing else on the GPU while they
are timed) → export → quantize → build → benchmark of the others. A failure in one row or stage is reported
(ErrorEvent + the row's status/reason) and the rest still runs where it can: without ONNX the
PyTorch rows still run, without TensorRT the other rows still run.
"""

from __future__ import annotations

import threading
import time
import traceback
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from trt_tui.core import accuracy, bench, layers, results, runclock, torch_runners
from trt_tui.core.config import ALL_ROWS, RUN_STAGES, RunConfig
from trt_tui.core.errors import TensorRTUnavailable, TrtTuiError
from trt_tui.core.provenance import file_sha256
from trt_tui.core.events import (
    EnvEvent,
    ErrorEvent,
    Event,
    Emit,
    Finished,
    Log,
    Progress,
    RowEvent,
    StageFinished,
    StageStarted,
    StepFinished,
)

ROW_BACKEND = {r: (r.split("-")[0], r.split("-")[-1]) for r in ALL_ROWS}  # pytorch-graph-fp16 -> pytorch, fp16


# Row fields a benchmark fills in, and those a TensorRT build fills in.
MEASURED = tuple(c for c in results.COLUMNS if c.startswith(("latency_", "gpu_compute_", "throughput", "images_"))) + (
    "speedup_vs_pytorch", "speedup_vs_best_pytorch", "max_abs_err", "mean_abs_err", "max_rel_err", "cosine_sim", "top1_agreement",
    "nan_count", "inf_count", "label_accuracy", "iterations", "warmup")
BUILT = ("size_bytes", "build_time_s", "artifact", "notes")


class Cancelled(Exception):
    """Raised when the run is cancelled (SIGTERM in the child)."""


class Throttle:
    """Rate-limits Progress events per task to ``hz`` (first and last step always pass)."""

    def __init__(self, emit: Emit, hz: float = 4.0) -> None:
        self.emit, self.period, self.last = emit, 1.0 / hz, {}  # type: ignore[var-annotated]
        self.lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        if isinstance(event, Progress) and 0 < event.step < event.total:
            now = time.monotonic()
            with self.lock:
                if now - self.last.get(event.task, 0.0) < self.period:
                    return
                self.last[event.task] = now
        self.emit(event)


class Pipeline:
    def __init__(self, config: RunConfig, emit: Emit, cancel: threading.Event | None = None) -> None:
        self.cfg = config
        self.emit = Throttle(emit)
        self.cancel = cancel or threading.Event()
        self.out = config.resolved_out_dir()
        self.store = results.ResultsStore(self.out, meta={"config": config.to_dict(), "timing": bench.TIMING_METHOD})
        self.device = "cpu"
        self.model: Any = None
        self.onnx_path: Path | None = None
        self.qdq_path: Path | None = None
        self.fp16_onnx_path: Path | None = None
        self.onnx_sha256: str | None = None  # of model.onnx: what every derived artifact must come from
        self.notes: dict[str, str] = {}  # how the Q/DQ / FP16 ONNX were made, for the rows built from them
        self.trt: Any = None
        self.trt_features: Any = None
        self.trt_reason = ""
        self.plans: dict[str, Path] = {}
        self.first_row = runclock.FirstRow()
        self.bench_ctx: tuple[Any, ...] | None = None  # eval inputs, labels, reference, timing input
        self.bench_info: dict[str, Any] = {}
        self.baseline_batches: set[int] = set()  # batch sizes whose PyTorch rows ran before export
        self.sizes = config.sizes()
        self.sweep = len(self.sizes) > 1
        if self.sweep:
            self.store.meta["batch_sizes"] = list(self.sizes)

    # -- plumbing -------------------------------------------------------------------------------
    def row(self, row_id: str, **values: Any) -> None:
        """Update a row: saved to disk first, then announced (a crash after this loses nothing)."""
        if self.sweep:
            values.setdefault("batch_size", self.cfg.batch_size)  # the (row_id, batch) being worked on
        current = self.store.upsert({"row_id": row_id, **values})
        if first := self.first_row.see(current):  # how long the user waited for the first number
            self.store.meta["first_row"] = first
            self.store.save()
        self.emit(RowEvent(row=dict(current)))

    def log(self, stage: str, message: str, level: str = "info") -> None:
        self.emit(Log(stage=stage, level=level, message=message))

    def check_cancel(self) -> None:
        if self.cancel.is_set():
            raise Cancelled()

    @contextmanager
    def stage(self, name: str, title: str) -> Iterator[dict[str, Any]]:
        """Announce a stage; yields a dict that becomes its StageFinished detail. A TrtTuiError
        inside marks the stage failed and is re-raised for the caller to decide."""
        self.check_cancel()
        if self.sweep and name not in ("env", "model"):
            title += f" — batch {self.cfg.batch_size}"
        self.emit(StageStarted(stage=name, title=title))
        t0, detail = time.perf_counter(), {}  # type: ignore[var-annotated]
        try:
            yield detail
        except Cancelled:
            self.emit(StageFinished(stage=name, status="cancelled", seconds=time.perf_counter() - t0, reason="cancelled"))
            raise
        except TrtTuiError as exc:
            self.emit(ErrorEvent(stage=name, message=exc.message, detail=exc.detail))
            self.emit(StageFinished(stage=name, status="failed", seconds=time.perf_counter() - t0,
                                    reason=exc.message, detail=detail))
            raise
        status = detail.pop("_status", "ok")
        reason = detail.pop("_reason", "")
        self.emit(StageFinished(stage=name, status=status, seconds=time.perf_counter() - t0, reason=reason, detail=detail))

    def step(self, stage: str, step: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run one named step and announce its result (detail = the dict it returns)."""
        t0 = time.perf_counter()
        try:
            out = fn(*args, **kwargs)
        except TrtTuiError as exc:
            self.emit(StepFinished(stage=stage, step=step, status="failed", seconds=time.perf_counter() - t0,
                                   reason=exc.message, detail={"error": exc.detail}))
            raise
        self.emit(StepFinished(stage=stage, step=step, seconds=time.perf_counter() - t0,
                               detail=out if isinstance(out, dict) else {}))
        return out

    def fail_rows(self, row_ids: list[str], reason: str, status: str = "failed") -> None:
        for r in row_ids:
            if self.store.rows.get(self.key(r), {}).get("status") in ("pending", "running", None):
                self.row(r, status=status, reason=reason)

    def fail_unfinished(self, reason: str, status: str = "failed") -> None:
        """Close every row still pending or running, at every batch size."""
        for row in list(self.store.rows.values()):
            if row.get("status") in ("pending", "running", None):
                self.row(row["row_id"], batch_size=row.get("batch_size"), status=status, reason=reason)

    def key(self, row_id: str) -> str:
        """The store key of ``row_id`` at the batch size being worked on."""
        return self.store.key(row_id, self.cfg.batch_size)

    def current(self, row_id: str) -> dict[str, Any]:
        return self.store.rows[self.key(row_id)]

    def selected(self, prefix: str) -> list[str]:
        return [r for r in self.cfg.rows if r.startswith(prefix)]

    # -- the run --------------------------------------------------------------------------------
    def run(self) -> Finished:
        try:
            self.out.mkdir(parents=True, exist_ok=True)
            results.remove_stale_temps(self.out)  # left by an earlier run killed mid-write
            if set(self.cfg.stages) != set(RUN_STAGES):
                self.load_earlier_rows()
            self.stage_env()
            self.stage_model()
            if "benchmark" in self.cfg.stages:
                for batch in self.sizes:
                    self.at_batch(batch).stage_baselines()  # PyTorch rows first: numbers before export and builds
            for batch in self.sizes:  # a sweep: one export and one build per batch size
                self.at_batch(batch)
                needs_onnx = any(not r.startswith("pytorch") for r in self.cfg.rows) or self.model.module is None
                if needs_onnx and ("export" in self.cfg.stages or self.model.module is None):
                    self.stage_export()
                elif needs_onnx:
                    self.reuse_artifacts()
                if "quantize" in self.cfg.stages:
                    self.stage_quantize()
                if "build" in self.cfg.stages:
                    self.stage_build()
                if "benchmark" in self.cfg.stages:
                    self.stage_benchmark()
                if self.cfg.explain_accuracy and batch == self.sizes[0]:  # one layers.json, at the first size
                    layers.run_stage(self)
            if self.sweep:
                self.write_sweep_plot()
        except Cancelled:
            self.fail_unfinished("cancelled", status="cancelled")
            return Finished(status="cancelled", out_dir=str(self.out), message="cancelled by the user")
        except TrtTuiError as exc:
            self.fail_unfinished(exc.message)
            return Finished(status="failed", out_dir=str(self.out), message=exc.message)
        except OSError as exc:  # e.g. a read-only or full results folder
            msg = f"cannot write results to {self.out}: {exc.strerror or exc}"
            self.emit(ErrorEvent(stage="", message=msg, detail=traceback.format_exc(), fatal=True))
            return Finished(status="failed", out_dir=str(self.out), message=msg)
        self.store.save()
        return Finished(status="ok", out_dir=str(self.out), best=self.store.best, best_rule=self.store.best_rule)

    # -- stages ---------------------------------------------------------------------------------
    def stage_env(self) -> None:
        import torch

        from trt_tui.core import envinfo

        with self.stage("env", "Environment") as detail:
            want = self.cfg.device
            if want == "cuda" and not torch.cuda.is_available():
                raise TrtTuiError("--device cuda was asked for but no CUDA GPU is visible to PyTorch")
            self.device = "cuda" if want != "cpu" and torch.cuda.is_available() else "cpu"
            torch.backends.cuda.matmul.allow_tf32 = self.cfg.tf32
            torch.backends.cudnn.allow_tf32 = self.cfg.tf32
            torch.backends.cudnn.benchmark = True
            env = envinfo.collect(self.device)
            env["tf32_requested"] = self.cfg.tf32
            self.detect_tensorrt(env)
            self.store.set_env(env)
            self.emit(EnvEvent(env=env))
            detail.update(device=self.device, tensorrt=env.get("tensorrt") or "not installed")

    def detect_tensorrt(self, env: dict[str, Any]) -> None:
        from trt_tui.core.trt import adapter

        try:
            self.trt, flavour = adapter.import_tensorrt()
            self.trt_features = adapter.Features.from_module(self.trt)
            env["tensorrt"] = self.trt_features.version_string
            env["tensorrt_flavour"] = flavour
            if self.device != "cuda":
                self.trt_reason = "no CUDA GPU: TensorRT engines need one (PyTorch sees none)"
        except TensorRTUnavailable as exc:
            env["tensorrt"] = None
            self.trt_reason = exc.message
            self.log("env", exc.message, "warning")

    def device_label(self) -> str:
        if self.device == "cuda":
            return f"cuda:0 ({self.store.env.get('gpu')})"
        return "cpu"

    def stage_model(self) -> None:
        from trt_tui.core import models

        with self.stage("model", "Load model") as detail:
            self.model = models.load_model(self.cfg.model, self.cfg.input_shape)
            fixed = getattr(self.model, "onnx_batch", None)
            if fixed and fixed != self.cfg.batch_size:  # an ONNX file with a fixed batch runs at that batch
                self.log("model", f"{self.cfg.model} has a fixed batch size of {fixed}: using it instead of "
                                  f"{self.cfg.batch_size}", "warning")
                self.cfg.batch_size = fixed
                self.sizes, self.sweep = (fixed,), False
            shape = tuple(self.model.input_shape)
            detail.update(name=self.model.name, input_shape=list(shape),
                          description=getattr(self.model, "description", ""),
                          parameters=self.param_count())
        touched = self.touched_rows()
        for batch, row_id in ((b, r) for b in self.sizes for r in self.cfg.rows):
            backend, precision = ROW_BACKEND[row_id]
            if row_id not in touched and self.store.key(row_id, batch) in self.store.rows:
                self.row(row_id)  # kept from the earlier run in this folder: announce it as it is
                continue
            keep_build = backend == "tensorrt" and "build" not in self.cfg.stages
            cleared = {c: None for c in MEASURED + (() if keep_build else BUILT)}
            torch_fp32 = backend == "pytorch" and precision == "fp32" and self.device == "cuda"
            self.row(row_id, **cleared, backend=backend, precision=precision, batch_size=batch, status="pending",
                     reason="", device=self.device_label() if backend != "onnxruntime" else None,
                     tf32=("on" if self.cfg.tf32 else "off") if torch_fp32 else "n/a")

        for batch in self.sizes:
            self.at_batch(batch)
            if self.model.module is None:
                self.fail_rows(self.selected("pytorch"), "the model is an ONNX file: there is no PyTorch module to run",
                               status="skipped")
            for row_id in self.selected("pytorch-"):
                if why := torch_runners.unavailable_reason(row_id, self.device):
                    self.fail_rows([row_id], why, status="skipped")
        self.at_batch(self.sizes[0])

    def at_batch(self, batch: int) -> "Pipeline":
        """Work on one batch size of a sweep (artifacts and benchmark inputs are per size)."""
        if batch != self.cfg.batch_size:
            self.cfg.batch_size = batch
            self.onnx_path = self.qdq_path = self.fp16_onnx_path = None
            self.plans = {}
            self.bench_ctx = None
        return self

    def artifact(self, name: str) -> Path:
        """A file in the results folder; in a sweep its name carries the batch size (model_fp16_b32.plan)."""
        if not self.sweep:
            return self.out / name
        stem, dot, ext = name.partition(".")
        return self.out / f"{stem}_b{self.cfg.batch_size}{dot}{ext}"

    def touched_rows(self) -> list[str]:
        """Rows this run (re)computes; a step run alone leaves the others as the earlier run left them."""
        if "benchmark" in self.cfg.stages:
            return list(self.cfg.rows)
        if "build" in self.cfg.stages:
            return self.selected("tensorrt")
        return []

    def load_earlier_rows(self) -> None:
        """A step run alone starts from the rows an earlier run saved in this folder."""
        try:
            earlier = results.ResultsStore.load(self.out)
        except (OSError, ValueError, KeyError):
            return
        for row_id, row in earlier.rows.items():
            if row_id in self.cfg.rows:
                self.store.rows[row_id] = row

    def param_count(self) -> int | None:
        module = self.model.module
        return int(sum(p.numel() for p in module.parameters())) if module is not None else None

    def stage_export(self) -> None:
        from trt_tui.core import export

        onnx_rows = [r for r in self.cfg.rows if not r.startswith("pytorch")]
        with self.stage("export", "Export to ONNX") as detail:
            try:
                if self.model.module is None:
                    self.onnx_path = Path(self.model.onnx_path)
                    self.emit(StepFinished(stage="export", step="export", status="skipped",
                                           reason="the model is an ONNX file already"))
                else:
                    self.onnx_path = self.artifact("model.onnx")
                    info = self.step("export", "export", export.export_onnx, self.model.module,
                                     tuple(self.model.input_shape), self.cfg.batch_size, self.onnx_path,
                                     opset=self.cfg.opset, exporter=self.cfg.exporter,
                                     dynamic_batch=self.cfg.dynamic_batch)
                    detail.update(info)
                self.step("export", "checker", export.check_onnx, self.onnx_path)
                self.onnx_sha256 = file_sha256(self.onnx_path)
                detail.update(export.onnx_stats(self.onnx_path))
                if self.model.module is not None:
                    x = self.timing_input()
                    parity = self.step("export", "parity", export.ort_parity, self.onnx_path, self.model.module, x)
                    detail["parity"] = parity
            except TrtTuiError as exc:
                # Without a valid ONNX the PyTorch rows still run; the others cannot.
                self.fail_rows(onnx_rows, f"ONNX export failed: {exc.message}")
                self.onnx_path = None
                if self.model.module is None:
                    raise
                detail.update(_status="failed", _reason=exc.message)
                self.emit(ErrorEvent(stage="export", message=exc.message, detail=exc.detail))

    def reuse_artifacts(self) -> None:
        """A later stage run alone: take the ONNX files an earlier run left in out_dir. A Q/DQ or FP16
        file made from another model.onnx (e.g. left by a cancelled run) is never used."""
        for attr, name in (("onnx_path", "model.onnx"), ("qdq_path", "model_int8_qdq.onnx"),
                           ("fp16_onnx_path", "model_fp16.onnx")):
            path = self.artifact(name)
            if path.is_file():
                setattr(self, attr, path)
        if self.onnx_path is None:
            raise TrtTuiError(f"no exported model in {self.out}: run the export stage first")
        self.onnx_sha256 = file_sha256(self.onnx_path)
        if "quantize" not in self.cfg.stages:  # else the quantize stage remakes them
            self.drop_stale_derived()

    def drop_stale_derived(self) -> None:
        from trt_tui.core.quantize import stale_reason

        for attr, rows in (("qdq_path", ["onnxruntime-int8", "tensorrt-int8"]), ("fp16_onnx_path", ["tensorrt-fp16"])):
            path = getattr(self, attr)
            reason = stale_reason(path, self.onnx_path) if path is not None else ""
            if reason:
                setattr(self, attr, None)
                reason += ": not used (run the quantize stage again)"
                self.log("quantize", reason, "warning")
                uses = {"onnxruntime-int8": "qdq", "tensorrt-int8": getattr(self.trt_uses("int8"), "onnx", ""),
                        "tensorrt-fp16": getattr(self.trt_uses("fp16"), "onnx", "")}
                self.fail_rows([r for r in rows if r in self.cfg.rows and uses[r] in ("qdq", "fp16")], reason)

    def calibration_source(self, batch_size: int) -> Any:
        from trt_tui.core.calibration import BatchSource

        return BatchSource.for_model(self.model, batch_size=batch_size, calib_data=self.cfg.calib_data,
                                     max_samples=self.cfg.calib_samples, seed=self.cfg.seed)

    def trt_uses(self, precision: str) -> Any:
        """The adapter's precision plan for a TensorRT row, or None when TensorRT is unusable."""
        if self.trt is None or self.trt_reason or f"tensorrt-{precision}" not in self.cfg.rows:
            return None
        from trt_tui.core.trt import adapter

        return adapter.precision_plan(self.trt_features, precision, self.cfg.calibrator)

    def quantize_progress(self, task: str) -> Any:
        return lambda phase, step, total, eta_s: self.emit(
            Progress(stage="quantize", task=task, step=step, total=total, phase=phase, eta_s=eta_s))

    def stage_quantize(self) -> None:
        from trt_tui.core import graph_checks, quantize

        fp16_plan, int8_plan = self.trt_uses("fp16"), self.trt_uses("int8")
        explain = self.cfg.explain_accuracy  # the per-layer view compares both files with the FP32 one
        need_qdq = explain or "onnxruntime-int8" in self.cfg.rows or (int8_plan is not None and int8_plan.onnx == "qdq")
        need_fp16 = explain or (fp16_plan is not None and fp16_plan.onnx == "fp16")
        if self.onnx_path is None or not (need_qdq or need_fp16):
            return
        with self.stage("quantize", "Quantize (Q/DQ INT8) and convert (FP16)") as detail:
            if need_qdq:
                qdq_rows = ["onnxruntime-int8"] + (["tensorrt-int8"] if int8_plan is not None else [])
                try:
                    source = self.calibration_source(self.cfg.batch_size)
                    self.qdq_path = self.artifact("model_int8_qdq.onnx")
                    info = detail["int8"] = self.step(
                        "quantize", "int8-qdq", quantize.quantize_qdq, self.onnx_path, self.qdq_path, source,
                        method=self.cfg.calibrator, device=self.device, on_progress=self.quantize_progress("int8-qdq"))
                    info["calibration_data"] = source.description
                    self.notes["qdq"] = info["note"]
                    if info["placement_problems"]:  # TensorRT's builder would refuse it; onnxruntime runs it
                        reason = "Q/DQ placement TensorRT refuses: " + graph_checks.summary(info["placement_problems"])
                        self.log("quantize", reason, "warning")
                        if int8_plan is not None and int8_plan.onnx == "qdq":
                            self.fail_rows(["tensorrt-int8"], reason)
                except TrtTuiError as exc:
                    self.qdq_path = None
                    self.fail_rows(qdq_rows, f"INT8 quantization failed: {exc.message}")
                    self.emit(ErrorEvent(stage="quantize", message=exc.message, detail=exc.detail))
            if need_fp16:
                try:
                    self.fp16_onnx_path = self.artifact("model_fp16.onnx")
                    info = detail["fp16"] = self.step(
                        "quantize", "fp16-convert", quantize.convert_fp16, self.onnx_path, self.fp16_onnx_path,
                        keep_fp32=self.cfg.precision_keep_fp32, on_progress=self.quantize_progress("fp16-convert"))
                    self.notes["fp16"] = info["note"]
                    if info["mixed_nodes"]:
                        self.log("quantize", "FP16 graph TensorRT may refuse: " + graph_checks.summary(info["mixed_nodes"])
                                 + " (pin the op with --precision-keep-fp32)", "warning")
                except TrtTuiError as exc:
                    self.fp16_onnx_path = None
                    self.fail_rows(["tensorrt-fp16"], f"FP16 conversion failed: {exc.message}")
                    self.emit(ErrorEvent(stage="quantize", message=exc.message, detail=exc.detail))

    def stage_build(self) -> None:
        trt_rows = self.selected("tensorrt")
        if not trt_rows:
            return
        with self.stage("build", "Build TensorRT engines") as detail:
            if self.trt is None or self.trt_reason:
                reason = self.trt_reason
                self.fail_rows(trt_rows, reason, status="skipped")
                detail.update(_status="skipped", _reason=reason)
                return
            for row_id in trt_rows:
                self.check_cancel()
                if self.current(row_id)["status"] != "pending":
                    continue  # already failed upstream (export/quantize)
                self.build_one(row_id, detail)

    def build_one(self, row_id: str, detail: dict[str, Any]) -> None:
        from trt_tui.core.trt import builder

        precision = row_id.split("-")[1]
        plan = self.trt_uses(precision)
        onnx = {"fp32": self.onnx_path, "fp16": self.fp16_onnx_path, "qdq": self.qdq_path}[plan.onnx]
        plan_path = self.artifact(f"model_{precision}.plan")
        self.row(row_id, status="running", reason="building", notes=plan.mechanism)
        calibrator = None
        t0 = time.perf_counter()
        try:
            if onnx is None:
                raise TrtTuiError(f"no {plan.onnx} ONNX model to build from")
            if plan.calibrator:
                from trt_tui.core.trt import caches, calibrators

                source = self.calibration_source(self.cfg.batch_size)
                calib_cache = caches.open_keyed(  # a cache from another model/data/seed is deleted here
                    self.out / f"calibration_{self.cfg.calibrator}.cache",
                    caches.calibration_key(onnx, source, method=self.cfg.calibrator, samples=self.cfg.calib_samples,
                                           seed=self.cfg.seed, calib_data=self.cfg.calib_data,
                                           trt_label=self.trt_features.label))
                calibrator = calibrators.make_calibrator(self.trt, self.cfg.calibrator, source, calib_cache.path)
            result = builder.build_engine(self.trt, self.trt_features, onnx, plan_path, plan, builder.BuildOptions(
                batch_shape=self.batch_shape(), workspace_mib=self.cfg.workspace_mib, tf32=self.cfg.tf32,
                timing_cache_path=self.timing_cache_path(), calibrator=calibrator,
                on_log=lambda level, msg: self.emit(Log(stage="build", level=level.lower(), message=msg,
                                                        source="tensorrt")),
                on_progress=lambda phase, parent, step, total: self.emit(
                    Progress(stage="build", task=row_id, step=step, total=total, phase=phase)),
                cancel=self.cancel,
            ))
        except TrtTuiError as exc:
            self.check_cancel()
            self.emit(StepFinished(stage="build", step=row_id, status="failed", seconds=time.perf_counter() - t0,
                                   reason=exc.message, detail={"error": exc.detail}))
            reason = exc.message
            if is_oom_text(f"{exc.message}\n{exc.detail}"):
                reason = (f"out of GPU memory building at batch size {self.cfg.batch_size}: try a smaller "
                          f"--batch-size or --workspace-mib — {exc.message}")
            self.emit(ErrorEvent(stage="build", message=f"{row_id}: {reason}", detail=exc.detail))
            self.row(row_id, status="failed", reason=reason)
            return
        info = result.to_dict()
        notes = plan.mechanism + (f"; {self.notes[plan.onnx]}" if plan.onnx in self.notes else "")
        if calibrator is not None:
            calib_cache.record()
            info["calibration_cache"] = caches.calibration_note(calib_cache, result.calibration_batches)
            notes += "; " + info["calibration_cache"]
        self.plans[row_id] = plan_path
        detail[row_id] = info
        self.emit(StepFinished(stage="build", step=row_id, seconds=time.perf_counter() - t0, detail=info))
        self.row(row_id, status="pending" if "benchmark" in self.cfg.stages else "built", reason="",
                 size_bytes=info.get("size_bytes"),
                 build_time_s=info.get("build_time_s"), artifact=str(plan_path),
                 tf32=info.get("tf32") or "n/a", notes=notes)

    def batch_shape(self) -> tuple[int, ...]:
        return (self.cfg.batch_size, *self.model.input_shape)

    def timing_cache_path(self) -> Path:
        return Path(self.cfg.timing_cache) if self.cfg.timing_cache else self.out.parent / "timing.cache"

    # -- benchmark ------------------------------------------------------------------------------
    def timing_input(self) -> np.ndarray:
        """The benchmark input: np.random.randn of the engine's shape (fixed seed)."""
        rng = np.random.default_rng(self.cfg.seed)
        return rng.standard_normal(self.batch_shape()).astype(np.float32)

    def eval_set(self) -> tuple[np.ndarray, np.ndarray | None]:
        """Inputs (a whole number of batches) for the accuracy columns, and labels where the model has them."""
        bs = self.cfg.batch_size
        data = getattr(self.model, "data", None)
        if data is not None:
            x, y = np.asarray(data.x_test, np.float32), np.asarray(data.y_test)
        else:
            rng = np.random.default_rng(self.cfg.seed + 1)
            x, y = rng.standard_normal((self.cfg.eval_samples, *self.model.input_shape)).astype(np.float32), None
        n = len(x)
        if n < bs:  # tile up to one batch
            reps = -(-bs // n)
            x = np.concatenate([x] * reps)[:bs]
            y = np.concatenate([y] * reps)[:bs] if y is not None else None
        else:
            keep = (n // bs) * bs
            x, y = x[:keep], (y[:keep] if y is not None else None)
        return np.ascontiguousarray(x), y

    def reference_outputs(self, x: np.ndarray) -> tuple[list[np.ndarray], str]:
        """PyTorch FP32 with TF32 off (strict FP32) on the run device; onnxruntime FP32 for ONNX models."""
        import torch

        from trt_tui.core import export

        if self.model.module is None:
            session = export.ort_session(self.onnx_path, prefer_cuda=False)
            return bench.run_batches(bench.OrtRunner(session), x, self.cfg.batch_size), "onnxruntime FP32 (CPU)"
        saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
        try:
            runner = bench.TorchRunner(self.model.module, self.batch_shape(), device=self.device)
            return bench.run_batches(runner, x, self.cfg.batch_size), "PyTorch FP32 (TF32 off)"
        finally:
            torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved

    def make_runner(self, row_id: str) -> tuple[Any, dict[str, Any]]:
        """The Runner for a row and the row fields it fixes (size, device, notes)."""
        import onnxruntime

        from trt_tui.core import export

        backend, precision = ROW_BACKEND[row_id]
        if backend == "pytorch":
            if self.model.module is None:
                raise TrtTuiError("the model was given as an ONNX file: there is no PyTorch module to run", "")
            return torch_runners.make(row_id, self.model.module, self.batch_shape(), device=self.device,
                                      params=self.param_count() or 0, compile_mode=self.cfg.compile_mode)
        if backend == "onnxruntime":
            path = self.onnx_path if precision == "fp32" else self.qdq_path
            if path is None:
                raise TrtTuiError(f"no {precision} ONNX model to run")
            size = Path(path).stat().st_size
            if self.device == "cuda" and "CUDAExecutionProvider" in onnxruntime.get_available_providers():
                from trt_tui.core import ort_runners  # device buffers through IOBinding, like TensorRT rows

                try:
                    bound = ort_runners.cuda_runner(path, self.batch_shape)
                    return bound, {"size_bytes": size, "device": self.device_label(), "artifact": str(path),
                                   "notes": "CUDAExecutionProvider, IOBinding" +
                                            ("; Q/DQ " + self.cfg.calibrator if precision == "int8" else "")}
                except ort_runners.CudaProviderMissing:
                    pass  # the session.run path below finds the same and says why on the row
                except TrtTuiError as exc:
                    self.log("benchmark", f"{row_id}: onnxruntime on CUDA through IOBinding failed ({exc.message}); "
                                          "measuring session.run instead", "warning")
            session = export.ort_session(path, prefer_cuda=self.device == "cuda")
            runner = bench.OrtRunner(session)
            provider = session.get_providers()[0]
            device = self.device_label() if runner.device == "cuda" else "cpu"
            if self.device == "cuda" and runner.device != "cuda":  # the GPU is there, onnxruntime's CUDA is not
                problem = export.ort_cuda_problem()
                provider += f" ({problem})"
                self.log("benchmark", f"{row_id} runs on the CPU: {problem}", "warning")
            return runner, {"size_bytes": Path(path).stat().st_size, "device": device, "artifact": str(path),
                            "notes": provider + ("; " + self.notes.get("qdq", "Q/DQ " + self.cfg.calibrator)
                                                 if precision == "int8" else "")}
        from trt_tui.core.trt.runner import TrtRunner

        plan = self.plans.get(row_id) or self.artifact(f"model_{precision}.plan")
        if self.trt is None or self.trt_reason:
            raise TrtTuiError(self.trt_reason or "TensorRT is not available")
        source = None  # a plan not built by this run must come from this run's ONNX
        if row_id not in self.plans and (uses := self.trt_uses(precision)) is not None:
            source = {"fp32": self.onnx_path, "fp16": self.fp16_onnx_path, "qdq": self.qdq_path}[uses.onnx]
            if source is None:
                raise TrtTuiError(f"no {uses.onnx} ONNX model in {self.out} to check {plan.name} against")
        return TrtRunner(self.trt, plan, self.batch_shape(), source_onnx=source), {"artifact": str(plan)}

    def stage_baselines(self) -> None:
        """The PyTorch rows, right after the model loads: the first numbers come in seconds."""
        rows = [r for r in self.selected("pytorch-") if self.current(r)["status"] == "pending"]
        if not rows:
            return
        self.baseline_batches.add(self.cfg.batch_size)
        with self.stage("benchmark", "Benchmark PyTorch (before export and builds)") as detail:
            x, labels, ref, host = self.benchmark_context(detail)
            for row_id in rows:
                self.check_cancel()
                self.bench_one(row_id, x, labels, ref, host)

    def stage_benchmark(self) -> None:
        rows = [r for r in self.cfg.rows if self.current(r)["status"] in ("pending", "built")]
        if not rows and self.cfg.batch_size in self.baseline_batches:
            return  # every row was measured with the PyTorch ones (or cannot run)
        with self.stage("benchmark", "Benchmark") as detail:
            x, labels, ref, host = self.benchmark_context(detail)
            for row_id in rows:
                self.check_cancel()
                if self.current(row_id)["status"] not in ("pending", "built"):
                    continue
                self.bench_one(row_id, x, labels, ref, host)

    def benchmark_context(self, detail: dict[str, Any]) -> tuple[Any, ...]:
        """Eval inputs, labels, the accuracy reference and the timing input, made once per run."""
        if self.bench_ctx is None:
            x, labels = self.eval_set()
            try:
                ref, ref_name = self.reference_outputs(x)
            except Exception as exc:  # noqa: BLE001 - e.g. out of memory: rows still run, without accuracy
                reason = describe_failure(exc, self.cfg.batch_size)
                self.emit(ErrorEvent(stage="benchmark", message=f"accuracy reference failed: {reason}",
                                     detail=traceback.format_exc()))
                ref, ref_name = None, f"none ({reason})"
                release_gpu_memory()
            self.bench_info = dict(reference=ref_name, eval_samples=len(x), labelled=labels is not None,
                                   timing_input="np.random.randn of the batch shape, seed %d" % self.cfg.seed)
            self.log("benchmark", f"accuracy reference: {ref_name} on {len(x)} samples")
            if ref is not None and (why := accuracy.top1_uninformative(ref)):
                self.log("benchmark", why, "warning")
                self.bench_info.update(top1_note=why)
            self.bench_ctx = (x, labels, ref, self.timing_input())  # one timing input for every row
        detail.update(self.bench_info)
        return self.bench_ctx

    def bench_one(self, row_id: str, x: np.ndarray, labels: np.ndarray | None, ref: list[np.ndarray] | None,
                  host: np.ndarray) -> None:
        self.row(row_id, status="running", reason="compiling" if "-compile-" in row_id else "measuring")
        runner = None
        try:
            runner, fields = self.make_runner(row_id)
            self.row(row_id, **fields)
            outs = bench.run_batches(runner, x, self.cfg.batch_size)
            acc_fields: dict[str, Any] = {}
            if ref is not None:
                acc = accuracy.compare(ref, outs)
                acc_fields = {k: acc.get(k) for k in ("max_abs_err", "mean_abs_err", "max_rel_err", "cosine_sim",
                                                      "top1_agreement", "nan_count", "inf_count")}
            if labels is not None:
                acc_fields["label_accuracy"] = accuracy.label_accuracy(outs[0], labels)
            self.row(row_id, reason="measuring", **acc_fields, **torch_runners.build_fields(runner))
            m = bench.measure(runner, host, warmup=self.cfg.warmup, iterations=self.cfg.iterations,
                              max_seconds=self.cfg.max_seconds,
                              on_latency=lambda part: self.row(row_id, reason="timing GPU compute", **{
                                  k: v for k, v in part.row_fields(self.cfg.batch_size).items() if v is not None}),
                              on_progress=lambda phase, step, total: self.emit(
                                  Progress(stage="benchmark", task=row_id, step=step, total=total, phase=phase)))
            done = m.row_fields(self.cfg.batch_size)
            if m.note:
                self.log("benchmark", f"{row_id}: {m.note}", "warning")
                done["notes"] = "; ".join(n for n in (self.current(row_id).get("notes"), m.note) if n)
            self.row(row_id, status="ok", reason="", **done)
        except Cancelled:
            raise
        except TrtTuiError as exc:
            self.emit(ErrorEvent(stage="benchmark", message=f"{row_id}: {exc.message}", detail=exc.detail))
            self.row(row_id, status="failed", reason=exc.message)
        except Exception as exc:  # noqa: BLE001 - one row's failure must not stop the others
            reason = describe_failure(exc, self.cfg.batch_size)
            self.emit(ErrorEvent(stage="benchmark", message=f"{row_id}: {reason}", detail=traceback.format_exc()))
            self.row(row_id, status="failed", reason=reason)
        finally:
            if runner is not None:
                runner.close()
            release_gpu_memory()

    def write_sweep_plot(self) -> None:
        """plot.png beside the results: latency and throughput against batch size, one line per row."""
        try:
            from trt_tui.core import plot

            path = plot.write_plot(self.store.rows.values(), self.out / "plot.png", title=self.model.name)
            self.store.meta["plot"] = path.name
            self.store.save()
            self.log("benchmark", f"sweep plot: {path}")
        except Exception as exc:  # noqa: BLE001 - a missing plot never fails the run
            self.log("benchmark", f"no sweep plot: {type(exc).__name__}: {exc}", "warning")


def is_oom_text(text: str) -> bool:
    """Whether an error text (PyTorch's, TensorRT's log lines) says the GPU ran out of memory."""
    low = text.lower()
    return any(k in low for k in ("out of memory", "outofmemory", "could not be allocated"))


def describe_failure(exc: BaseException, batch_size: int) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "out of memory" in str(exc).lower() or type(exc).__name__ == "OutOfMemoryError":
        return f"out of GPU memory at batch size {batch_size}: try a smaller --batch-size"
    return f"{type(exc).__name__}: {text}"


def release_gpu_memory() -> None:
    import gc

    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except Exception:  # noqa: BLE001
        pass
