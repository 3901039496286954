"""PyTorch -> ONNX export, the ONNX checker, ONNX statistics and onnxruntime parity.

Exporters (``torch.onnx.export``): ``dynamo=True`` (torch.export-based, the default since torch 2.9)
and ``dynamo=False`` (the legacy TorchScript tracer, deprecated but still present in torch 2.14). The
caller picks one; there is no silent fallback, and the record names the exporter that ran.
The ONNX file is self-contained (weights inside) unless the weights exceed ``EXTERNAL_DATA_BYTES``
(protobuf's 2 GiB limit); then they go to ``<name>.onnx.data`` beside it, which TensorRT's parser and
onnxruntime both find by themselves when given the .onnx path.
Graph names: input ``input``; output ``output`` (one output) or ``output_0``, ``output_1``, ...
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import os
import re
import time
import traceback
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .accuracy import compare
from .errors import ModelError, TrtTuiError

EXTERNAL_DATA_BYTES = 1_800_000_000
PARITY_ATOL = 1e-3
PARITY_RTOL = 1e-3
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _flatten(out: Any) -> list:
    if isinstance(out, (list, tuple)):
        return [t for o in out for t in _flatten(o)]
    if isinstance(out, dict):
        return [t for o in out.values() for t in _flatten(o)]
    return [out]


def _root_cause_line(exc: BaseException) -> str:
    """The innermost exception's first line: torch.onnx wraps the real cause in generic advice."""
    root = exc
    while root.__cause__ is not None:
        root = root.__cause__
    text = _ANSI.sub("", str(root)).strip()
    return f"{type(root).__name__}: {text.splitlines()[0] if text else ''}".rstrip(": ")


def _module_device(module):
    import torch

    p = next(module.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def _external_files(path: Path) -> list[str]:
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    files = set()
    for init in model.graph.initializer:
        if init.data_location == onnx.TensorProto.EXTERNAL:
            files.update(e.value for e in init.external_data if e.key == "location")
    return sorted(files)


def export_onnx(module, input_shape, batch_size: int, path, opset: int = 18, exporter: str = "dynamo",
                dynamic_batch: bool = False) -> dict:  # fmt: skip
    """Export ``module`` (in eval mode) to ``path``; returns the export record. ModelError on failure."""
    import torch

    if exporter not in ("dynamo", "torchscript"):
        raise ValueError(f"exporter must be dynamo or torchscript, not {exporter!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Path(f"{path}.data").unlink(missing_ok=True)  # a stale sidecar from an earlier export
    module.eval()
    # torch.export specialises a dimension of size 1, so a dynamic batch is traced with 2 samples.
    trace_batch = max(batch_size, 2) if dynamic_batch else batch_size
    device = _module_device(module)
    x = torch.zeros((trace_batch, *input_shape), device=device)
    with torch.no_grad():  # count the outputs with one cheap sample
        n_out = len(_flatten(module(torch.zeros((1, *input_shape), device=device))))
    outputs = ["output"] if n_out == 1 else [f"output_{i}" for i in range(n_out)]
    kwargs = _export_kwargs(module, outputs, opset, exporter, dynamic_batch)
    # Written under a temporary name and renamed, so a killed export never leaves a model.onnx that
    # looks whole; not for dynamo's external data, whose file is named after the ONNX file.
    target = path if kwargs.get("external_data") else path.with_name(f".{path.stem}.partial.onnx")
    t0 = time.perf_counter()
    log = io.StringIO()
    try:
        with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(log):
            warnings.simplefilter("always")
            with torch.no_grad():
                torch.onnx.export(module, (x,), str(target), **kwargs)
        if target != path:
            os.replace(target, path)
    except Exception as e:
        if target != path:
            target.unlink(missing_ok=True)
        raise ModelError(f"{exporter} export failed: {_root_cause_line(e)}",
                         detail=_ANSI.sub("", traceback.format_exc()) + log.getvalue()) from e  # fmt: skip
    seconds = time.perf_counter() - t0
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    ext = _external_files(path)
    return {
        "path": str(path),
        "exporter": exporter,
        "torch_version": torch.__version__,
        "opset": opset,
        "opset_in_file": next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None),
        "batch_size": batch_size,
        "dynamic_batch": dynamic_batch,
        "input_names": ["input"],
        "output_names": outputs,
        "seconds": round(seconds, 3),
        "size_bytes": path.stat().st_size + sum((path.parent / f).stat().st_size for f in ext),
        "external_data": ext,
        "warnings": sorted({str(w.message).strip().splitlines()[0] for w in caught if str(w.message).strip()}),
    }


def _export_kwargs(module: Any, outputs: list[str], opset: int, exporter: str, dynamic_batch: bool) -> dict[str, Any]:
    """torch.onnx.export's options: names, opset, and per exporter the dynamic batch axis and (dynamo)
    external data for a model too big for one protobuf."""
    import torch

    param_bytes = sum(p.numel() * p.element_size() for p in module.parameters())
    kwargs: dict[str, Any] = dict(input_names=["input"], output_names=outputs, opset_version=opset, verbose=False)
    if exporter == "dynamo":
        kwargs.update(dynamo=True, external_data=param_bytes > EXTERNAL_DATA_BYTES)
        if dynamic_batch:
            kwargs["dynamic_shapes"] = ({0: torch.export.Dim("batch")},)
    else:
        kwargs.update(dynamo=False)
        if dynamic_batch:
            kwargs["dynamic_axes"] = {n: {0: "batch"} for n in ["input", *outputs]}
    return kwargs


def check_onnx(path) -> dict:
    """``onnx.checker.check_model(path, full_check=True)`` (full_check adds strict shape inference)."""
    import onnx

    t0 = time.perf_counter()
    try:
        onnx.checker.check_model(str(path), full_check=True)
    except Exception as e:
        raise TrtTuiError(f"ONNX checker failed on {Path(path).name}: {_root_cause_line(e)}",
                          detail=traceback.format_exc()) from e  # fmt: skip
    return {"ok": True, "seconds": round(time.perf_counter() - t0, 3)}


def _value_info(v) -> dict:
    import onnx

    tt = v.type.tensor_type
    dims = [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in tt.shape.dim]
    return {"name": v.name, "shape": dims, "dtype": str(onnx.helper.tensor_dtype_to_np_dtype(tt.elem_type))}


def onnx_stats(path) -> dict:
    """File size (incl. external data), node count and op histogram, parameter count, opset, I/O, producer."""
    import onnx

    path = Path(path)
    model = onnx.load(str(path), load_external_data=False)
    g = model.graph
    inits = {i.name for i in g.initializer}
    ops: dict[str, int] = {}
    for n in g.node:
        ops[n.op_type] = ops.get(n.op_type, 0) + 1
    ext = _external_files(path)
    return {
        "size_bytes": path.stat().st_size + sum((path.parent / f).stat().st_size for f in ext),
        "nodes": len(g.node),
        "ops": dict(sorted(ops.items(), key=lambda kv: -kv[1])),
        "parameters": int(sum(int(np.prod(i.dims, dtype=np.int64)) for i in g.initializer)),
        "opset": next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None),
        "ir_version": model.ir_version,
        "inputs": [_value_info(v) for v in g.input if v.name not in inits],
        "outputs": [_value_info(v) for v in g.output],
        "producer": f"{model.producer_name} {model.producer_version}".strip(),
    }


def _cuda_driver_present() -> bool:
    for name in ("libcuda.so.1", "nvcuda.dll"):
        try:
            ctypes.CDLL(name)
            return True
        except OSError:
            pass
    return False


def ort_session(path, prefer_cuda: bool = True):
    """An InferenceSession on CUDAExecutionProvider when it actually loads, else CPU. Which one is in
    use: ``session.get_providers()[0]``. (CUDA is not even tried without a CUDA driver: onnxruntime
    would print a load error and fall back anyway.)"""
    import onnxruntime as ort

    providers = ["CPUExecutionProvider"]
    if prefer_cuda and "CUDAExecutionProvider" in ort.get_available_providers() and _cuda_driver_present():
        providers.insert(0, "CUDAExecutionProvider")
    try:
        return ort.InferenceSession(str(path), providers=providers)
    except Exception as e:
        raise TrtTuiError(f"onnxruntime cannot load {Path(path).name}: {_root_cause_line(e)}",
                          detail=traceback.format_exc()) from e  # fmt: skip


def ort_cuda_problem() -> str:
    """Why onnxruntime runs on the CPU although CUDA was wanted (one line)."""
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        return f"this onnxruntime ({ort.__version__}) has no CUDA provider: pip install onnxruntime-gpu"
    if not _cuda_driver_present():
        return "no CUDA driver (libcuda) found"
    return "onnxruntime's CUDA provider did not load (the CUDA/cuDNN libraries it needs are missing)"


def ort_parity(path, module, input_array: np.ndarray, prefer_cuda: bool = True,
               atol: float = PARITY_ATOL, rtol: float = PARITY_RTOL) -> dict:  # fmt: skip
    """onnxruntime vs PyTorch FP32 (TF32 off) on the same input: accuracy.compare() figures, the
    provider, and pass/fail: every element within ``atol + rtol * |torch|`` and no NaN/Inf.
    (onnxruntime's CUDA provider may use TF32 for FP32 convolutions/GEMMs: parity on CUDA is looser.)"""
    import torch

    sess = ort_session(path, prefer_cuda)
    got = sess.run(None, {sess.get_inputs()[0].name: np.ascontiguousarray(input_array, dtype=np.float32)})
    flags = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False  # strict FP32 reference
    try:
        with torch.no_grad():
            x = torch.from_numpy(np.ascontiguousarray(input_array, dtype=np.float32)).to(_module_device(module))
            ref = [t.detach().float().cpu().numpy() for t in _flatten(module.eval()(x))]
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = flags
    result = compare(ref, got)
    passed = result["nan_count"] == 0 and result["inf_count"] == 0 and all(
        np.allclose(o, r, atol=atol, rtol=rtol) for r, o in zip(ref, got)
    )
    return {
        **result,
        "provider": sess.get_providers()[0],
        "tolerance": f"|ort - torch| <= {atol:g} + {rtol:g} * |torch|",
        "passed": bool(passed),
    }
