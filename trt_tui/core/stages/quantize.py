"""Stage quantize: the Q/DQ INT8 ONNX (onnxruntime INT8, and TensorRT INT8 where the adapter says
Q/DQ) and the FP16 ONNX (strongly typed TensorRT), each checked for what TensorRT would refuse."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from trt_tui.core import artifacts
from trt_tui.core.errors import TrtTuiError
from trt_tui.core.models import resolve_cache_dir
from trt_tui.core.stages.context import RunContext
from trt_tui.core.vocab import OnnxVariant

Made = tuple[Path | None, str | None]  # (the file, how it was made) or (None, None) when it failed


@dataclass(frozen=True)
class Variants:
    """The explicit-precision ONNX files of a batch size (None: not made, or it failed) and, per variant
    made here, how it was made (``notes["qdq"]``, ``notes["fp16"]``: the rows built from it say so)."""

    qdq: Path | None = None
    fp16: Path | None = None
    notes: dict[str, str] = field(default_factory=dict)

    def onnx_files(self, onnx: Path | None) -> dict[str, Path | None]:
        """Every ONNX file by its OnnxVariant, with ``onnx`` (model.onnx) as the FP32 one."""
        return {OnnxVariant.FP32: onnx, OnnxVariant.FP16: self.fp16, OnnxVariant.QDQ: self.qdq}


def run(ctx: RunContext, onnx: Path | None, earlier: Variants | None = None) -> Variants:
    """The Q/DQ and FP16 files made from ``onnx`` where a row needs them; what this run does not remake
    is kept from ``earlier`` (an earlier run's files, for a stage run alone)."""
    out = earlier or Variants()
    fp16_plan, int8_plan = ctx.trt_plan("fp16"), ctx.trt_plan("int8")
    explain = ctx.cfg.explain_accuracy  # the per-layer view compares both files with the FP32 one
    need_qdq = explain or "onnxruntime-int8" in ctx.cfg.rows or (int8_plan is not None and int8_plan.onnx == "qdq")
    need_fp16 = explain or (fp16_plan is not None and fp16_plan.onnx == "fp16")
    if onnx is None or not (need_qdq or need_fp16):
        return out
    notes: dict[str, str] = {}
    with ctx.stage("quantize", "Quantize (Q/DQ INT8) and convert (FP16)") as detail:
        if need_qdq:
            qdq, note = make_qdq(
                ctx,
                onnx,
                detail,
                trt_uses_qdq=int8_plan is not None and int8_plan.onnx == "qdq",
                trt_int8=int8_plan is not None,
            )
            out = replace(out, qdq=qdq)
            if note is not None:
                notes["qdq"] = note
        if need_fp16:
            fp16, note = make_fp16(ctx, onnx, detail)
            out = replace(out, fp16=fp16)
            if note is not None:
                notes["fp16"] = note
    return replace(out, notes=notes)


def make_qdq(ctx: RunContext, onnx: Path, detail: dict[str, Any], *, trt_uses_qdq: bool, trt_int8: bool) -> Made:
    from trt_tui.core import graph_checks, onnx_variants

    qdq_rows = ["onnxruntime-int8"] + (["tensorrt-int8"] if trt_int8 else [])
    try:
        source = ctx.calibration_source()
        qdq = ctx.artifact(artifacts.ONNX[OnnxVariant.QDQ])
        info = detail["int8"] = ctx.step(
            "quantize",
            "int8-qdq",
            onnx_variants.quantize_qdq,
            onnx,
            qdq,
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
        if not info.get("quantized_op_types"):  # the INT8 rows would be FP32 under another name
            ctx.log(
                "quantize",
                f"int8-qdq: {info['tool']} quantized no node of this model (it keeps layers it judges too "
                "small or unsupported in FP32): the INT8 rows compute in FP32",
                "warning",
            )
        if info["placement_problems"]:  # TensorRT's builder would refuse it; onnxruntime runs it
            reason = "Q/DQ placement TensorRT refuses: " + graph_checks.summary(info["placement_problems"])
            ctx.log("quantize", reason, "warning")
            if trt_uses_qdq:
                ctx.rows.fail(["tensorrt-int8"], reason)
    except TrtTuiError as exc:
        ctx.rows.fail(qdq_rows, f"INT8 quantization failed: {exc.message}")
        ctx.error("quantize", exc.message, exc.detail)
        return None, None
    return qdq, info["note"]


def make_fp16(ctx: RunContext, onnx: Path, detail: dict[str, Any]) -> Made:
    from trt_tui.core import graph_checks, onnx_variants

    try:
        fp16 = ctx.artifact(artifacts.ONNX[OnnxVariant.FP16])
        info = detail["fp16"] = ctx.step(
            "quantize",
            "fp16-convert",
            onnx_variants.convert_fp16,
            onnx,
            fp16,
            keep_fp32=ctx.cfg.precision_keep_fp32,
            on_progress=ctx.progress("quantize", "fp16-convert"),
        )
        if info["mixed_nodes"]:
            ctx.log(
                "quantize",
                "FP16 graph TensorRT may refuse: "
                + graph_checks.summary(info["mixed_nodes"])
                + " (pin the op with --precision-keep-fp32)",
                "warning",
            )
    except TrtTuiError as exc:
        ctx.rows.fail(["tensorrt-fp16"], f"FP16 conversion failed: {exc.message}")
        ctx.error("quantize", exc.message, exc.detail)
        return None, None
    return fp16, info["note"]
