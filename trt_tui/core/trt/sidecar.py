"""The JSON sidecar next to every plan (``model_fp16.plan.json``) and the checks made before loading."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from trt_tui.core.provenance import file_sha256  # noqa: F401 - re-exported for callers
from trt_tui.core.trt.adapter import FLAVOUR_RTX, parse_version

SIDECAR_VERSION = 1


def sidecar_path(plan_path: str | os.PathLike[str]) -> Path:
    p = Path(plan_path)
    return p.with_name(p.name + ".json")


def gpu_identity(index: int = 0) -> dict[str, Any]:
    """{'name', 'compute_capability'} of the CUDA device from torch, or Nones without one."""
    try:
        import torch

        if torch.cuda.is_available():
            major, minor = torch.cuda.get_device_capability(index)
            return {"name": torch.cuda.get_device_name(index), "compute_capability": f"{major}.{minor}"}
    except Exception:  # noqa: BLE001 - the GPU's identity is best effort (no torch, no CUDA)
        pass
    return {"name": None, "compute_capability": None}


def read_sidecar(plan_path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The sidecar dict, None when there is none; unreadable JSON gives {'_error': ...}."""
    p = sidecar_path(plan_path)
    if not p.is_file():
        return None
    try:
        data = json.loads(p.read_text())
        return data if isinstance(data, dict) else {"_error": "not a JSON object"}
    except (OSError, ValueError) as exc:
        return {"_error": str(exc)}


def _product(flavour: str | None) -> str:
    return "TensorRT-RTX" if flavour == FLAVOUR_RTX else "TensorRT"


def mismatch_reason(sidecar: dict[str, Any], trt_version: str, flavour: str, gpu: dict[str, Any]) -> str | None:
    """Why a plan described by ``sidecar`` must not be loaded here, or None when it may."""
    if "_error" in sidecar:
        return f"its sidecar is unreadable ({sidecar['_error']})"
    built_flavour = sidecar.get("flavour") or "tensorrt"
    built_version = str(sidecar.get("trt_version") or "?")
    if built_flavour != flavour or parse_version(built_version) != parse_version(trt_version):
        return (
            f"it was built with {_product(built_flavour)} {built_version}, this process has "
            f"{_product(flavour)} {trt_version}; plans only load in the exact version that built them"
        )
    # plain TensorRT plans are tied to the GPU model; TensorRT-RTX engines are portable across GPUs
    built_gpu = sidecar.get("gpu") or {}
    if flavour != FLAVOUR_RTX and built_gpu.get("name") and gpu.get("name"):
        same = built_gpu.get("name") == gpu.get("name") and built_gpu.get("compute_capability") == gpu.get(
            "compute_capability"
        )
        if not same:
            return (
                f"it was built for {built_gpu.get('name')} (compute capability "
                f"{built_gpu.get('compute_capability')}), this GPU is {gpu.get('name')} "
                f"(compute capability {gpu.get('compute_capability')})"
            )
    return None
