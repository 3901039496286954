"""Stage env: where the run works (CUDA or CPU), TF32, and what TensorRT can do here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from trt_tui.core.errors import TrtTuiError
from trt_tui.core.events import EnvEvent
from trt_tui.core.stages.context import RunContext
from trt_tui.core.trt.adapter import TensorRTEnv

Detect = Callable[[str], TensorRTEnv]  # device -> the TensorRT environment


@dataclass(frozen=True)
class Environment:
    """What the env stage found: the device the run works on and what TensorRT can do there."""

    device: str  # "cuda" or "cpu"
    trt: TensorRTEnv


def run(ctx: RunContext, detect: Detect = TensorRTEnv.detect) -> Environment:
    import torch

    from trt_tui.core import envinfo

    with ctx.stage("env", "Environment") as detail:
        want = ctx.cfg.device
        if want == "cuda" and not torch.cuda.is_available():
            raise TrtTuiError("--device cuda was asked for but no CUDA GPU is visible to PyTorch")
        device = "cuda" if want != "cpu" and torch.cuda.is_available() else "cpu"
        torch.backends.cuda.matmul.allow_tf32 = ctx.cfg.tf32
        torch.backends.cudnn.allow_tf32 = ctx.cfg.tf32
        torch.backends.cudnn.benchmark = True
        env = envinfo.collect(device)
        env["tf32_requested"] = ctx.cfg.tf32
        trt = detect(device)
        env.update(trt.env_fields())
        if not trt.installed:
            ctx.log("env", trt.reason, "warning")
        ctx.store.set_env(env)
        ctx.emit(EnvEvent(env=env))
        detail.update(device=device, tensorrt=env.get("tensorrt") or "not installed")
    return Environment(device=device, trt=trt)
