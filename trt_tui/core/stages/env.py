"""Stage env: where the run works (CUDA or CPU), TF32, and what TensorRT can do here."""

from __future__ import annotations

from collections.abc import Callable

from trt_tui.core.errors import TrtTuiError
from trt_tui.core.events import EnvEvent
from trt_tui.core.stages.context import RunContext
from trt_tui.core.trt.adapter import TensorRTEnv

Detect = Callable[[str], TensorRTEnv]  # device -> the TensorRT environment


def run(ctx: RunContext, detect: Detect = TensorRTEnv.detect) -> None:
    import torch

    from trt_tui.core import envinfo

    with ctx.stage("env", "Environment") as detail:
        want = ctx.cfg.device
        if want == "cuda" and not torch.cuda.is_available():
            raise TrtTuiError("--device cuda was asked for but no CUDA GPU is visible to PyTorch")
        ctx.device = "cuda" if want != "cpu" and torch.cuda.is_available() else "cpu"
        torch.backends.cuda.matmul.allow_tf32 = ctx.cfg.tf32
        torch.backends.cudnn.allow_tf32 = ctx.cfg.tf32
        torch.backends.cudnn.benchmark = True
        env = envinfo.collect(ctx.device)
        env["tf32_requested"] = ctx.cfg.tf32
        ctx.trt = detect(ctx.device)
        env.update(ctx.trt.env_fields())
        if not ctx.trt.installed:
            ctx.log("env", ctx.trt.reason, "warning")
        ctx.store.set_env(env)
        ctx.emit(EnvEvent(env=env))
        detail.update(device=ctx.device, tensorrt=env.get("tensorrt") or "not installed")
