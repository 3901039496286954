"""Stage export: PyTorch → ONNX, checked, and compared with PyTorch through onnxruntime; or, for a
later stage run alone, the ONNX files an earlier run left in the results folder."""

from __future__ import annotations

from pathlib import Path

from trt_tui.core import artifacts, eval_data
from trt_tui.core.errors import TrtTuiError
from trt_tui.core.events import StepFinished
from trt_tui.core.stages.context import RunContext
from trt_tui.core.vocab import OnnxVariant, Status


def needed(ctx: RunContext) -> bool:
    return bool(ctx.onnx_rows()) or ctx.model.module is None


def run(ctx: RunContext) -> None:
    from trt_tui.core import export

    module = ctx.model.module
    with ctx.stage("export", "Export to ONNX") as detail:
        try:
            if module is None:
                ctx.files.onnx = Path(ctx.model.onnx_path)
                ctx.emit(
                    StepFinished(
                        stage="export", step="export", status=Status.SKIPPED, reason="the model is an ONNX file already"
                    )
                )
            else:
                ctx.files.onnx = ctx.artifact(artifacts.MODEL_ONNX)
                from trt_tui.core.inputs import profile_ranges

                source = ctx.model.program if ctx.model.program is not None else module
                detail.update(
                    ctx.step(
                        "export",
                        "export",
                        export.export_onnx,
                        source,
                        ctx.inputs,
                        ctx.batch,
                        ctx.files.onnx,
                        opset=ctx.cfg.opset,
                        exporter=ctx.cfg.exporter,
                        dynamic_batch=ctx.cfg.dynamic_batch,
                        dim_ranges=profile_ranges(ctx.inputs, ctx.cfg.sweep, ctx.cfg.profile),
                    )
                )
            ctx.step("export", "checker", export.check_onnx, ctx.files.onnx)
            detail.update(export.onnx_stats(ctx.files.onnx))
            if module is not None:
                feeds = eval_data.timing_feeds(ctx.inputs, ctx.batch, ctx.cfg.seed, ctx.dims)  # the benchmark's
                detail["parity"] = ctx.step(
                    "export", "parity", export.ort_parity, ctx.files.onnx, module, feeds, keyword=ctx.inputs.keyword
                )
        except TrtTuiError as exc:
            # Without a valid ONNX the PyTorch rows still run; the others cannot.
            ctx.rows.fail(ctx.onnx_rows(), f"ONNX export failed: {exc.message}")
            ctx.files.onnx = None
            if module is None:
                raise
            detail.update(_status=Status.FAILED, _reason=exc.message)
            ctx.error("export", exc.message, exc.detail)


def reuse_artifacts(ctx: RunContext) -> None:
    """A later stage run alone: take the ONNX files an earlier run left in out_dir. A Q/DQ or FP16
    file made from another model.onnx (e.g. left by a cancelled run) is never used."""
    for attr, variant in (("onnx", OnnxVariant.FP32), ("qdq", OnnxVariant.QDQ), ("fp16", OnnxVariant.FP16)):
        path = ctx.artifact(artifacts.ONNX[variant])
        if path.is_file():
            setattr(ctx.files, attr, path)
    if ctx.files.onnx is None:
        raise TrtTuiError(f"no exported model in {ctx.out}: run the export stage first")
    if "quantize" not in ctx.cfg.stages:  # else the quantize stage remakes them
        drop_stale_derived(ctx)


def drop_stale_derived(ctx: RunContext) -> None:
    from trt_tui.core.onnx_variants import stale_reason

    for attr, row_ids in (("qdq", ["onnxruntime-int8", "tensorrt-int8"]), ("fp16", ["tensorrt-fp16"])):
        path = getattr(ctx.files, attr)
        reason = stale_reason(path, ctx.files.onnx) if path is not None and ctx.files.onnx is not None else ""
        if not reason:
            continue
        setattr(ctx.files, attr, None)
        reason += ": not used (run the quantize stage again)"
        ctx.log("quantize", reason, "warning")
        uses = {
            "onnxruntime-int8": "qdq",
            "tensorrt-int8": getattr(ctx.trt_plan("int8"), "onnx", ""),
            "tensorrt-fp16": getattr(ctx.trt_plan("fp16"), "onnx", ""),
        }
        ctx.rows.fail([r for r in row_ids if r in ctx.cfg.rows and uses[r] in ("qdq", "fp16")], reason)
