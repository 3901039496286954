"""Stage quantize: the Q/DQ INT8 ONNX (onnxruntime INT8, and TensorRT INT8 where the adapter says
Q/DQ) and the FP16 ONNX (strongly typed TensorRT), each checked for what TensorRT would refuse."""

from __future__ import annotations

from typing import Any

from trt_tui.core import artifacts
from trt_tui.core.errors import TrtTuiError
from trt_tui.core.models import resolve_cache_dir
from trt_tui.core.stages.context import RunContext
from trt_tui.core.vocab import OnnxVariant


def run(ctx: RunContext) -> None:
    fp16_plan, int8_plan = ctx.trt_plan("fp16"), ctx.trt_plan("int8")
    explain = ctx.cfg.explain_accuracy  # the per-layer view compares both files with the FP32 one
    need_qdq = explain or "onnxruntime-int8" in ctx.cfg.rows or (int8_plan is not None and int8_plan.onnx == "qdq")
    need_fp16 = explain or (fp16_plan is not None and fp16_plan.onnx == "fp16")
    if ctx.files.onnx is None or not (need_qdq or need_fp16):
        return
    with ctx.stage("quantize", "Quantize (Q/DQ INT8) and convert (FP16)") as detail:
        if need_qdq:
            make_qdq(
                ctx,
                detail,
                trt_uses_qdq=int8_plan is not None and int8_plan.onnx == "qdq",
                trt_int8=int8_plan is not None,
            )
        if need_fp16:
            make_fp16(ctx, detail)


def make_qdq(ctx: RunContext, detail: dict[str, Any], *, trt_uses_qdq: bool, trt_int8: bool) -> None:
    from trt_tui.core import graph_checks, onnx_variants

    qdq_rows = ["onnxruntime-int8"] + (["tensorrt-int8"] if trt_int8 else [])
    try:
        source = ctx.calibration_source()
        ctx.files.qdq = ctx.artifact(artifacts.ONNX[OnnxVariant.QDQ])
        info = detail["int8"] = ctx.step(
            "quantize",
            "int8-qdq",
            onnx_variants.quantize_qdq,
            ctx.files.onnx,
            ctx.files.qdq,
            source,
            method=ctx.cfg.calibrator,
            device=ctx.device,
            on_progress=ctx.progress("quantize", "int8-qdq"),
            placement_cache=resolve_cache_dir() / "placement",
        )
        info["calibration_data"] = source.description
        if info.get("placement") == "cached":
            ctx.log(
                "quantize",
                "int8-qdq placement: cached (ModelOpt placed this ONNX before with the same data "
                "and settings; trt-tui's calibration set the scales afresh)",
            )
        ctx.notes["qdq"] = info["note"]
        if info["placement_problems"]:  # TensorRT's builder would refuse it; onnxruntime runs it
            reason = "Q/DQ placement TensorRT refuses: " + graph_checks.summary(info["placement_problems"])
            ctx.log("quantize", reason, "warning")
            if trt_uses_qdq:
                ctx.rows.fail(["tensorrt-int8"], reason)
    except TrtTuiError as exc:
        ctx.files.qdq = None
        ctx.rows.fail(qdq_rows, f"INT8 quantization failed: {exc.message}")
        ctx.error("quantize", exc.message, exc.detail)


def make_fp16(ctx: RunContext, detail: dict[str, Any]) -> None:
    from trt_tui.core import graph_checks, onnx_variants

    try:
        ctx.files.fp16 = ctx.artifact(artifacts.ONNX[OnnxVariant.FP16])
        info = detail["fp16"] = ctx.step(
            "quantize",
            "fp16-convert",
            onnx_variants.convert_fp16,
            ctx.files.onnx,
            ctx.files.fp16,
            keep_fp32=ctx.cfg.precision_keep_fp32,
            on_progress=ctx.progress("quantize", "fp16-convert"),
        )
        ctx.notes["fp16"] = info["note"]
        if info["mixed_nodes"]:
            ctx.log(
                "quantize",
                "FP16 graph TensorRT may refuse: "
                + graph_checks.summary(info["mixed_nodes"])
                + " (pin the op with --precision-keep-fp32)",
                "warning",
            )
    except TrtTuiError as exc:
        ctx.files.fp16 = None
        ctx.rows.fail(["tensorrt-fp16"], f"FP16 conversion failed: {exc.message}")
        ctx.error("quantize", exc.message, exc.detail)
