"""Stage export: PyTorch → ONNX, checked, and compared with PyTorch through onnxruntime; or, for a
later stage run alone, the ONNX files an earlier run left in the results folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trt_tui.core import artifacts, eval_data
from trt_tui.core.errors import TrtTuiError
from trt_tui.core.events import StepFinished
from trt_tui.core.stages.context import RunContext
from trt_tui.core.vocab import OnnxVariant, Status


@dataclass(frozen=True)
class Exported:
    """The ONNX files this stage gives: model.onnx (None: export failed, or no row needs ONNX) and, for a
    later stage run alone (``reuse_artifacts``), the Q/DQ and FP16 files an earlier run left."""

    onnx: Path | None = None
    qdq: Path | None = None
    fp16: Path | None = None


def needed(ctx: RunContext, model: Any) -> bool:
    return bool(ctx.onnx_rows()) or model.module is None


def run(ctx: RunContext, model: Any) -> Exported:
    """Export ``model`` (a models.LoadedModel; an ONNX model is its own file), check it, compare it with
    PyTorch. A failure fails the ONNX rows and gives ``Exported(None)``; for an ONNX model it is raised."""
    from trt_tui.core import export

    module = model.module
    onnx: Path | None = None
    with ctx.stage("export", "Export to ONNX") as detail:
        try:
            if module is None:
                onnx = Path(model.onnx_path)
                ctx.emit(
                    StepFinished(
                        stage="export", step="export", status=Status.SKIPPED, reason="the model is an ONNX file already"
                    )
                )
            else:
                onnx = ctx.artifact(artifacts.MODEL_ONNX)
                from trt_tui.core.inputs import profile_ranges

                source = model.program if model.program is not None else module
                detail.update(
                    ctx.step(
                        "export",
                        "export",
                        export.export_onnx,
                        source,
                        model.inputs,
                        ctx.batch,
                        onnx,
                        opset=ctx.cfg.opset,
                        exporter=ctx.cfg.exporter,
                        dynamic_batch=ctx.cfg.dynamic_batch,
                        dim_ranges=profile_ranges(model.inputs, ctx.cfg.sweep, ctx.cfg.profile),
                    )
                )
                if detail.get("fallback"):
                    ctx.log(
                        "export", f"{detail['fallback']}; exported with the TorchScript exporter instead", "warning"
                    )
            ctx.step("export", "checker", export.check_onnx, onnx)
            detail.update(export.onnx_stats(onnx))
            if module is not None:
                feeds = eval_data.timing_feeds(model.inputs, ctx.batch, ctx.cfg.seed, ctx.dims)  # the benchmark's
                detail["parity"] = ctx.step(
                    "export", "parity", export.ort_parity, onnx, module, feeds, keyword=model.inputs.keyword
                )
        except TrtTuiError as exc:
            # Without a valid ONNX the PyTorch rows still run; the others cannot.
            ctx.rows.fail(ctx.onnx_rows(), f"ONNX export failed: {exc.message}")
            onnx = None
            if module is None:
                raise
            detail.update(_status=Status.FAILED, _reason=exc.message)
            ctx.error("export", exc.message, exc.detail)
    return Exported(onnx=onnx)


def reuse_artifacts(ctx: RunContext) -> Exported:
    """A later stage run alone: take the ONNX files an earlier run left in out_dir. A Q/DQ or FP16
    file made from another model.onnx (e.g. left by a cancelled run) is never used."""
    found: dict[str, Path | None] = {}
    for variant in (OnnxVariant.FP32, OnnxVariant.QDQ, OnnxVariant.FP16):
        path = ctx.artifact(artifacts.ONNX[variant])
        found[variant] = path if path.is_file() else None
    onnx = found[OnnxVariant.FP32]
    if onnx is None:
        raise TrtTuiError(f"no exported model in {ctx.out}: run the export stage first")
    if "quantize" not in ctx.cfg.stages:  # else the quantize stage remakes them
        drop_stale_derived(ctx, onnx, found)
    return Exported(onnx=onnx, qdq=found[OnnxVariant.QDQ], fp16=found[OnnxVariant.FP16])


def drop_stale_derived(ctx: RunContext, onnx: Path, found: dict[str, Path | None]) -> None:
    """Drop (set to None in ``found``) a Q/DQ or FP16 file not made from ``onnx``, failing its rows."""
    from trt_tui.core.onnx_variants import stale_reason

    for variant, row_ids in (
        (OnnxVariant.QDQ, ["onnxruntime-int8", "tensorrt-int8"]),
        (OnnxVariant.FP16, ["tensorrt-fp16"]),
    ):
        path = found[variant]
        reason = stale_reason(path, onnx) if path is not None else ""
        if not reason:
            continue
        found[variant] = None
        reason += ": not used (run the quantize stage again)"
        ctx.log("quantize", reason, "warning")
        uses = {
            "onnxruntime-int8": "qdq",
            "tensorrt-int8": getattr(ctx.trt_plan("int8"), "onnx", ""),
            "tensorrt-fp16": getattr(ctx.trt_plan("fp16"), "onnx", ""),
        }
        ctx.rows.fail([r for r in row_ids if r in ctx.cfg.rows and uses[r] in ("qdq", "fp16")], reason)
