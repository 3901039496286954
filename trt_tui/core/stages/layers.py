"""Stage layers (``--explain-accuracy``): the per-layer FP16/INT8 view of core/layers.py, written to
layers.json in the results folder, its top 5 per variant logged. A failure here is reported
(ErrorEvent, stage failed) and leaves the rows and the run as they are."""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Any

from trt_tui.core import eval_data, layers
from trt_tui.core.errors import TrtTuiError
from trt_tui.core.events import Progress
from trt_tui.core.stages.context import RunContext


def run(ctx: RunContext, model: Any, onnx: Path | None, *, fp16: Path | None, qdq: Path | None) -> None:
    """Compare ``fp16`` and ``qdq`` with ``onnx`` layer by layer on ``model``'s eval set; writes layers.json."""
    if onnx is None:
        return
    try:
        with ctx.stage("layers", "Per-layer accuracy (onnxruntime)") as detail:
            x, _ = eval_data.eval_set(model, model.inputs, ctx.batch, ctx.cfg.eval_samples, ctx.cfg.seed, ctx.dims)
            paths = layers.variant_paths(ctx.out, fp16, qdq)
            try:
                data = layers.explain(
                    onnx,
                    paths,
                    x,
                    on_progress=lambda name, step, total: ctx.emit(
                        Progress(stage="layers", task=f"layers-{name}", step=step, total=total)
                    ),
                )
            except Exception as exc:
                msg = f"per-layer view failed: {type(exc).__name__}: {exc}".splitlines()[0]
                raise TrtTuiError(msg, traceback.format_exc()) from exc
            for name, entry in data["variants"].items():
                entry["tensorrt"] = trt_source(ctx, name)
            path = layers.write(ctx.out, data)
            for line in layers.summary_lines(data):
                ctx.log("layers", line)
            detail.update(
                path=str(path),
                **{
                    name: {
                        k: e.get(k) for k in ("status", "reason", "first_jumps", "top_growth", "output_loss") if k in e
                    }
                    for name, e in data["variants"].items()
                },
            )
    except TrtTuiError:
        pass  # the stage has reported it; the rows stand


def trt_source(ctx: RunContext, name: str) -> str:
    """What TensorRT builds this precision from, so the view says how close it is to the engine."""
    try:
        plan = ctx.trt_plan(name)
    except Exception:  # noqa: BLE001 - a label only: an unreadable plan reads as TensorRT not used
        plan = None
    if plan is None:
        return "TensorRT not used in this run: the view is of the ONNX file onnxruntime runs"
    if plan.onnx in ("fp16", "qdq"):
        return "TensorRT builds from this file"
    return f"TensorRT builds from model.onnx with its {name.upper()} flag: this file is the nearest ONNX view"
