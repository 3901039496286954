"""The environment record written with every result: what produced the numbers."""

from __future__ import annotations

import platform
import sys
from importlib import metadata
from typing import Any


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def collect(device: str) -> dict[str, Any]:
    """GPU, driver, CUDA, TensorRT, torch, onnxruntime versions and the TF32/cuDNN settings in force."""
    import onnxruntime as ort
    import torch

    env: dict[str, Any] = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "torch_cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "onnx": _version("onnx"),
        "onnxruntime": ort.__version__,
        "onnxruntime_providers": ort.get_available_providers(),
        "device": device,
        "gpu": None,
        "compute_capability": None,
        "driver": None,
        "torch_tf32_matmul": bool(torch.backends.cuda.matmul.allow_tf32),
        "torch_tf32_cudnn": bool(torch.backends.cudnn.allow_tf32),
        "cudnn_benchmark": bool(torch.backends.cudnn.benchmark),
    }
    from trt_tui.core import machine

    env["machine_before"] = machine.snapshot(
        device
    )  # clocks, temperature, load, GPU tenants (machine_after at the end)
    if device == "cuda":
        props = torch.cuda.get_device_properties(0)
        env["gpu"] = props.name
        env["compute_capability"] = f"{props.major}.{props.minor}"
        env["gpu_memory_gib"] = round(props.total_memory / 2**30, 1)
        env["driver"] = _driver_version()
    return env


def _driver_version() -> str | None:
    try:
        import pynvml  # nvidia-ml-py, present on most GPU boxes

        pynvml.nvmlInit()
        v = pynvml.nvmlSystemGetDriverVersion()
        return v.decode() if isinstance(v, bytes) else str(v)
    except Exception:  # noqa: BLE001 - optional; fall back to nvidia-smi
        import subprocess

        try:
            out = subprocess.run(
                ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                capture_output=True,
                text=True,
                timeout=10,
            )
            return out.stdout.strip().splitlines()[0] if out.returncode == 0 else None
        except (OSError, subprocess.TimeoutExpired, IndexError):
            return None
