"""Stage model: load the model, then open one row per (batch size, selected row)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from trt_tui.core import rows, torch_runners
from trt_tui.core.errors import NO_PYTORCH_MODULE
from trt_tui.core.rowbook import BUILT, MEASURED
from trt_tui.core.stages.context import RunContext, param_count
from trt_tui.core.vocab import Backend, Status

if TYPE_CHECKING:
    from trt_tui.core.models import LoadedModel


def run(ctx: RunContext) -> LoadedModel:
    """Load the model and open its rows; returns the model (the pipeline keeps it as ``ctx.model``)."""
    from trt_tui.core import models

    cfg = ctx.cfg
    with ctx.stage("model", "Load model") as detail:
        loaded = models.load_model(cfg.model, cfg.input_shape, overrides=cfg.overrides())
        fixed = getattr(loaded, "onnx_batch", None)
        if fixed and fixed != cfg.batch_size:  # an ONNX file with a fixed batch runs at that batch
            ctx.log(
                "model",
                f"{cfg.model} has a fixed batch size of {fixed}: using it instead of {cfg.batch_size}",
                "warning",
            )
            ctx.use_fixed_batch(fixed)
            detail["effective_batch_size"] = fixed
        notes = list(loaded.info.get("notes") or [])
        for note in notes:  # what trt-tui changed in the model to measure it, said once
            ctx.log("model", note)
        lines = loaded.inputs.describe()
        for line in lines:  # the generator of each input, said once
            ctx.log("model", f"input {line}")
        ctx.store.meta["inputs"] = loaded.inputs.to_dict()
        detail.update(
            name=loaded.name,
            input_shape=list(loaded.input_shape),
            inputs=lines,
            notes=notes,
            description=getattr(loaded, "description", ""),
            parameters=param_count(loaded.module),
        )
    open_rows(ctx)
    for batch, dims in ctx.points:
        ctx.move_to(batch, dims)
        if loaded.module is None:
            ctx.rows.fail(ctx.selected(Backend.PYTORCH), NO_PYTORCH_MODULE, status=Status.SKIPPED)
        for row in rows.select(ctx.selected(Backend.PYTORCH)):
            if why := torch_runners.unavailable_reason(row, ctx.device):
                ctx.rows.fail([row.id], why, status=Status.SKIPPED)
    ctx.move_to(*ctx.points[0])
    return loaded


def open_rows(ctx: RunContext) -> None:
    """Every selected row, pending, at every batch size; a row this run does not touch (a step run
    alone) is announced as the earlier run left it."""
    touched = touched_rows(ctx)
    for batch, dims in ctx.points:
        ctx.move_to(batch, dims)
        for row in rows.select(ctx.cfg.rows):
            if row.id not in touched and ctx.rows.has(row.id, batch, ctx.rows.dims):
                ctx.rows.set(row.id)  # kept from the earlier run in this folder: announce it as it is
                continue
            keep_build = row.is_tensorrt and "build" not in ctx.cfg.stages
            cleared = {c: None for c in MEASURED + (() if keep_build else BUILT)}
            torch_fp32 = row.is_pytorch and row.precision == "fp32" and ctx.device == "cuda"
            ctx.rows.set(
                row.id,
                **cleared,
                backend=row.backend,
                precision=row.precision,
                batch_size=batch,
                status=Status.PENDING,
                reason="",
                device=ctx.device_label() if not row.is_onnxruntime else None,
                tf32=("on" if ctx.cfg.tf32 else "off") if torch_fp32 else "n/a",
            )


def touched_rows(ctx: RunContext) -> list[str]:
    """Rows this run (re)computes; a step run alone leaves the others as the earlier run left them."""
    if "benchmark" in ctx.cfg.stages:
        return list(ctx.cfg.rows)
    if "build" in ctx.cfg.stages:
        return ctx.selected(Backend.TENSORRT)
    return []
