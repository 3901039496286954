"""The pipeline: the stages in order, each turned into events. The only place stages are sequenced.

env → model → benchmark of the PyTorch rows (numbers early, and nothing else on the GPU while they
are timed) → export → quantize → build → benchmark of the others; a batch sweep repeats export to
benchmark per batch size. Each stage takes what it reads and returns what it makes; this module
passes one stage's output to the next and is the only code that keeps them in the context
(``ctx.device``/``ctx.trt``, ``ctx.model``, ``ctx.files``, ``ctx.notes``), where the run-wide readers
(the runner factory, ``settle_unmade``) find them. A failure in one row or stage is reported
(ErrorEvent + the row's status/reason) and the rest still runs where it can: without ONNX the PyTorch
rows still run, without TensorRT the other rows still run. Each stage is a module of ``core/stages``.
"""

from __future__ import annotations

import gc
import threading
import traceback

from trt_tui.core import results, rows
from trt_tui.core.config import RUN_STAGES, RunConfig
from trt_tui.core.errors import ModelError, TrtTuiError
from trt_tui.core.events import Emit, EnvEvent, ErrorEvent, Finished
from trt_tui.core.stages import benchmark, build, env, export, layers, model, quantize
from trt_tui.core.stages.context import Cancelled, RunContext, Throttle
from trt_tui.core.trt.adapter import TensorRTEnv
from trt_tui.core.vocab import OPEN, Status

__all__ = ["Cancelled", "Pipeline", "Throttle"]


class Pipeline:
    def __init__(self, config: RunConfig, emit: Emit, cancel: threading.Event | None = None) -> None:
        self.ctx = RunContext(config, emit, cancel)
        self.bench = benchmark.Benchmark()  # the benchmark stage, its caches kept per point

    def detect_tensorrt(self, device: str) -> TensorRTEnv:
        """What TensorRT can do on ``device`` (a test gives a fake TensorRT here)."""
        return TensorRTEnv.detect(device)

    def run(self) -> Finished:
        try:
            return self.run_stages()
        finally:
            gc.unfreeze()  # benchmark.freeze_heap's: a process running pipelines one after another frees their cycles

    def run_stages(self) -> Finished:
        ctx = self.ctx
        out = str(ctx.out)
        try:
            self.prepare()
            found = env.run(ctx, self.detect_tensorrt)
            ctx.device, ctx.trt = found.device, found.trt
            ctx.model = model.run(ctx)
            self.baselines()
            for i, (batch, dims) in enumerate(ctx.points):  # one export and build per batch size
                self.engines_and_benchmark(batch, dims)
                if ctx.cfg.explain_accuracy and i == 0:  # one layers.json, at the first point
                    layers.run(ctx, ctx.model, ctx.files.onnx, fp16=ctx.files.fp16, qdq=ctx.files.qdq)
            if ctx.sweep:
                benchmark.write_sweep_plot(ctx)
        except Cancelled:
            ctx.rows.fail_unfinished("cancelled", status=Status.CANCELLED)
            return Finished(status=Status.CANCELLED, out_dir=out, message="cancelled by the user")
        except TrtTuiError as exc:
            ctx.rows.fail_unfinished(exc.message)
            bad_input = isinstance(exc, ModelError) and ctx.model is None  # what the user gave cannot load
            return Finished(status=Status.FAILED, out_dir=out, message=exc.message, bad_input=bad_input)
        except OSError as exc:  # e.g. a read-only or full results folder
            msg = f"cannot write results to {ctx.out}: {exc.strerror or exc}"
            ctx.emit(ErrorEvent(stage="", message=msg, detail=traceback.format_exc(), fatal=True))
            return Finished(status=Status.FAILED, out_dir=out, message=msg)
        self.machine_after()
        ctx.store.save()
        return Finished(status=Status.OK, out_dir=out, best=ctx.store.best, best_rule=ctx.store.best_rule)

    def machine_after(self) -> None:
        """The machine's state at the end (clocks, temperature, load, GPU tenants) beside the one before."""
        from trt_tui.core import machine

        ctx = self.ctx
        if ctx.store.env:
            ctx.store.env["machine_after"] = machine.snapshot(ctx.device or "cpu")
            ctx.emit(EnvEvent(env=dict(ctx.store.env)))

    def settle_unmade(self) -> None:
        """At another size of a dynamic dim, a row whose engine or ONNX was never made (skipped or failed at
        the size the files were made at) ends as it did there, not with a second attempt to run nothing."""
        ctx = self.ctx
        for row in rows.select(ctx.cfg.rows):
            missing = (row.is_tensorrt and row.id not in ctx.files.plans) or (
                row.is_onnxruntime and ctx.files.onnx_variant(row.onnx) is None
            )
            there = ctx.store.rows.get(ctx.store.key(row.id, ctx.batch, ctx.files.made_at or None), {})
            if missing and there.get("status") in (Status.SKIPPED, Status.FAILED) and ctx.rows.status(row.id) in OPEN:
                ctx.rows.set(row.id, status=there["status"], reason=there.get("reason") or "")

    def prepare(self) -> None:
        ctx = self.ctx
        ctx.out.mkdir(parents=True, exist_ok=True)
        results.remove_stale_temps(ctx.out)  # left by an earlier run killed mid-write
        if set(ctx.cfg.stages) != set(RUN_STAGES):
            ctx.rows.load_earlier(ctx.cfg.rows)

    def baselines(self) -> None:
        """PyTorch rows first: numbers before export and builds."""
        if "benchmark" in self.ctx.cfg.stages:
            for batch, dims in self.ctx.points:
                self.ctx.move_to(batch, dims)
                self.bench.baselines(self.ctx)

    def engines_and_benchmark(self, batch: int, dims: dict[str, int]) -> None:
        ctx = self.ctx
        ctx.move_to(batch, dims)
        stages, files = ctx.cfg.stages, ctx.files  # files: this batch size's
        if files.onnx is not None:  # another size of a dynamic dim: the engines cover it (one profile)
            self.settle_unmade()
            if "benchmark" in stages:
                self.bench.run(ctx, files.onnx)
            return
        files.made_at = ctx.rows.dims
        exported = self.onnx_files() if export.needed(ctx, ctx.model) else export.Exported()
        files.onnx, files.qdq, files.fp16 = exported.onnx, exported.qdq, exported.fp16
        variants = quantize.Variants(qdq=exported.qdq, fp16=exported.fp16)
        if "quantize" in stages:
            variants = quantize.run(ctx, exported.onnx, variants)
            files.qdq, files.fp16 = variants.qdq, variants.fp16
            ctx.notes.update(variants.notes)  # run-wide: the onnxruntime INT8 row's notes read it
        if "build" in stages:
            files.plans = build.run(ctx, variants.onnx_files(exported.onnx), variants.notes)
        if "benchmark" in stages:
            self.bench.run(ctx, exported.onnx)

    def onnx_files(self) -> export.Exported:
        """model.onnx made now, or (a later stage run alone) the ONNX files an earlier run left."""
        ctx = self.ctx
        if "export" in ctx.cfg.stages or ctx.model.module is None:
            return export.run(ctx, ctx.model)
        return export.reuse_artifacts(ctx)
