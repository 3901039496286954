"""Stage build: one TensorRT engine per selected TensorRT row, the way the adapter's PrecisionPlan
says for this TensorRT (flags, strongly typed ONNX, calibrator or Q/DQ)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from trt_tui.core import artifacts, rows
from trt_tui.core.errors import TrtTuiError, is_out_of_memory
from trt_tui.core.events import Log, Progress, StepFinished
from trt_tui.core.rows import Row
from trt_tui.core.stages.context import RunContext
from trt_tui.core.trt.adapter import PrecisionPlan
from trt_tui.core.vocab import Backend, Status

Sources = Mapping[str, Path | None]  # OnnxVariant -> its ONNX file (None: not made)


def run(ctx: RunContext, sources: Sources, notes: Mapping[str, str]) -> dict[str, Path]:
    """One engine per selected TensorRT row from the ONNX file its PrecisionPlan names in ``sources``
    (``notes``: how the Q/DQ / FP16 files were made, said on the rows built from them); returns the
    plans built, by row id."""
    plans: dict[str, Path] = {}
    trt_rows = rows.select(ctx.cfg.rows, backend=Backend.TENSORRT)
    if not trt_rows:
        return plans
    with ctx.stage("build", "Build TensorRT engines") as detail:
        if not ctx.trt.usable:
            ctx.rows.fail([r.id for r in trt_rows], ctx.trt.reason, status=Status.SKIPPED)
            detail.update(_status=Status.SKIPPED, _reason=ctx.trt.reason)
            return plans
        for row in trt_rows:
            ctx.check_cancel()
            if ctx.rows.current(row.id)["status"] != Status.PENDING:
                continue  # already failed upstream (export/quantize)
            if (plan_path := build_one(ctx, row, sources, notes, detail)) is not None:
                plans[row.id] = plan_path
    return plans


def build_one(
    ctx: RunContext, row: Row, sources: Sources, notes: Mapping[str, str], detail: dict[str, Any]
) -> Path | None:
    """Build one row's engine; its plan file, or None when the build failed (the row says why)."""
    plan = ctx.trt_plan(row.precision)
    assert plan is not None  # TensorRT is usable and the row is selected
    onnx = sources.get(plan.onnx)
    plan_path = ctx.artifact(artifacts.plan(row.precision))
    ctx.rows.set(row.id, status=Status.RUNNING, reason="building", notes=plan.mechanism)
    calib_cache = None
    t0 = time.perf_counter()
    try:
        if onnx is None:
            raise TrtTuiError(f"no {plan.onnx} ONNX model to build from")
        calibrator, calib_cache = make_calibrator(ctx, plan, onnx)
        result = engine(ctx, row, plan, onnx, plan_path, calibrator)
    except TrtTuiError as exc:
        ctx.check_cancel()
        ctx.step_failed("build", row.id, exc, t0)
        reason = exc.message
        if is_out_of_memory(f"{exc.message}\n{exc.detail}"):
            reason = (
                f"out of GPU memory building at batch size {ctx.batch}: try a smaller "
                f"--batch-size or --workspace-mib — {exc.message}"
            )
        ctx.error("build", f"{row.id}: {reason}", exc.detail)
        ctx.rows.set(row.id, status=Status.FAILED, reason=reason)
        return None
    info = result.to_dict()
    row_notes = plan.mechanism + (f"; {notes[plan.onnx]}" if plan.onnx in notes else "")
    if calib_cache is not None:
        from trt_tui.core.trt import caches

        calib_cache.record()
        info["calibration_cache"] = caches.calibration_note(calib_cache, result.calibration_batches)
        row_notes += "; " + info["calibration_cache"]
    detail[row.id] = info
    ctx.emit(StepFinished(stage="build", step=row.id, seconds=time.perf_counter() - t0, detail=info))
    ctx.rows.set(
        row.id,
        status=Status.PENDING if "benchmark" in ctx.cfg.stages else Status.BUILT,
        reason="",
        size_bytes=info.get("size_bytes"),
        build_time_s=info.get("build_time_s"),
        artifact=str(plan_path),
        tf32=info.get("tf32") or "n/a",
        notes=row_notes,
    )
    return plan_path


def make_calibrator(ctx: RunContext, plan: PrecisionPlan, onnx: Any) -> tuple[Any, Any]:
    """The INT8 calibrator and its keyed cache where the plan calibrates, else (None, None)."""
    if not plan.calibrator:
        return None, None
    from trt_tui.core.trt import caches, int8_calibrators

    trt_module, features = ctx.trt.require()
    cfg = ctx.cfg
    source = ctx.calibration_source()
    calib_cache = caches.open_keyed(  # a cache from another model/data/seed is deleted here
        ctx.out / artifacts.calibration_cache(cfg.calibrator),
        caches.calibration_key(
            onnx,
            source,
            method=cfg.calibrator,
            samples=cfg.calib_samples,
            seed=cfg.seed,
            calib_data=cfg.calib_data,
            trt_label=features.label,
        ),
    )
    return int8_calibrators.make_calibrator(
        trt_module, cfg.calibrator, source, calib_cache.path, int64=features.has_int64
    ), calib_cache


def engine(ctx: RunContext, row: Row, plan: PrecisionPlan, onnx: Any, plan_path: Any, calibrator: Any) -> Any:
    from trt_tui.core.trt import builder

    trt_module, features = ctx.trt.require()
    options = builder.BuildOptions(
        batch_shape=ctx.profile_shapes(),
        workspace_mib=ctx.cfg.workspace_mib,
        tf32=ctx.cfg.tf32,
        timing_cache_path=ctx.timing_cache_path(),
        calibrator=calibrator,
        on_log=lambda level, msg: ctx.emit(Log(stage="build", level=level.lower(), message=msg, source="tensorrt")),
        on_progress=lambda phase, parent, step, total: ctx.emit(
            Progress(stage="build", task=row.id, step=step, total=total, phase=phase)
        ),
        on_phase=lambda name: ctx.timeline.mark(row.id, name),
        cancel=ctx.cancel,
    )
    return builder.build_engine(trt_module, features, onnx, plan_path, plan, options)
