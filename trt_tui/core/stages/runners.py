"""The Runner that measures a row (bench.Runner protocol) and the row fields it fixes, per backend."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trt_tui.core import artifacts, bench, torch_runners
from trt_tui.core.errors import NO_PYTORCH_MODULE, TrtTuiError
from trt_tui.core.rows import Row
from trt_tui.core.stages.context import RunContext

Made = tuple[Any, dict[str, Any]]  # (runner, row fields: size, device, artifact, notes)


def make_runner(ctx: RunContext, row: Row) -> Made:
    if row.is_pytorch:
        return pytorch_runner(ctx, row)
    if row.is_onnxruntime:
        return onnxruntime_runner(ctx, row)
    return tensorrt_runner(ctx, row)


def pytorch_runner(ctx: RunContext, row: Row) -> Made:
    if ctx.model.module is None:
        raise TrtTuiError(NO_PYTORCH_MODULE)
    return torch_runners.make(
        row,
        ctx.model.module,
        ctx.inputs,
        device=ctx.device,
        params=ctx.param_count() or 0,
        compile_mode=ctx.cfg.compile_mode,
    )


def onnxruntime_runner(ctx: RunContext, row: Row) -> Made:
    import onnxruntime

    path = ctx.files.onnx_variant(row.onnx)
    if path is None:
        raise TrtTuiError(f"no {row.precision} ONNX model to run")
    size = Path(path).stat().st_size
    quantized = "; " + ctx.notes.get("qdq", "Q/DQ " + ctx.cfg.calibrator) if row.precision == "int8" else ""
    if ctx.device == "cuda" and "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        from trt_tui.core import ort_runners  # device buffers through IOBinding, like TensorRT rows

        try:
            bound = ort_runners.cuda_runner(path, ctx.batch_shape)
            return bound, {
                "size_bytes": size,
                "device": ctx.device_label(),
                "artifact": str(path),
                "notes": "CUDAExecutionProvider, IOBinding"
                + ("; Q/DQ " + ctx.cfg.calibrator if row.precision == "int8" else ""),
            }
        except ort_runners.CudaProviderMissing:
            pass  # the session.run path below finds the same and says why on the row
        except TrtTuiError as exc:
            ctx.log(
                "benchmark",
                f"{row.id}: onnxruntime on CUDA through IOBinding failed ({exc.message}); "
                "measuring session.run instead",
                "warning",
            )
    return ort_session_runner(ctx, row, path, size, quantized)


def ort_session_runner(ctx: RunContext, row: Row, path: Path, size: int, quantized: str) -> Made:
    from trt_tui.core import export

    session = export.ort_session(path, prefer_cuda=ctx.device == "cuda")
    runner = bench.OrtRunner(session)
    provider = session.get_providers()[0]
    device = ctx.device_label() if runner.device == "cuda" else "cpu"
    if ctx.device == "cuda" and runner.device != "cuda":  # the GPU is there, onnxruntime's CUDA is not
        problem = export.ort_cuda_problem()
        provider += f" ({problem})"
        ctx.log("benchmark", f"{row.id} runs on the CPU: {problem}", "warning")
    return runner, {"size_bytes": size, "device": device, "artifact": str(path), "notes": provider + quantized}


def tensorrt_runner(ctx: RunContext, row: Row) -> Made:
    from trt_tui.core.trt.runner import TrtRunner

    plan_path = ctx.files.plans.get(row.id) or ctx.artifact(artifacts.plan(row.precision))
    trt_module, _ = ctx.trt.require()
    source = None  # a plan not built by this run must come from this run's ONNX
    if row.id not in ctx.files.plans and (uses := ctx.trt_plan(row.precision)) is not None:
        source = ctx.files.onnx_variant(uses.onnx)
        if source is None:
            raise TrtTuiError(f"no {uses.onnx} ONNX model in {ctx.out} to check {plan_path.name} against")
    return TrtRunner(trt_module, plan_path, ctx.batch_shape(), source_onnx=source), {"artifact": str(plan_path)}
