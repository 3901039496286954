"""PyTorch -> ONNX export, the ONNX checker, ONNX statistics and onnxruntime parity.

Exporters (``torch.onnx.export``): ``dynamo=True`` (torch.export-based, the default since torch 2.9)
and ``dynamo=False`` (the legacy TorchScript tracer, deprecated but still present in torch 2.14). The
caller picks one, and the record names the exporter that ran.
When the dynamo exporter fails on a module (torch.export cannot trace it), the TorchScript one is tried
and the record says so (``fallback``: why dynamo failed), as the CLI's and the app's export line do; an
exported program has no TorchScript path. Only when both fail is the export failed, with both reasons.
The ONNX file is self-contained (weights inside) unless the weights exceed ``EXTERNAL_DATA_BYTES``
(protobuf's 2 GiB limit); then they go to ``<name>.onnx.data`` beside it, which TensorRT's parser and
onnxruntime both find by themselves when given the .onnx path.
Graph names: the inputs' names (``input`` for a one-input model); outputs as core/user_models.flatten_named
names them: ``output`` (one tensor), ``output_0``, ``output_1``, ... (a tuple), the keys of a dict or ModelOutput.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import re
import time
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from . import atomic
from .accuracy import compare
from .errors import ModelError, TrtTuiError
from .validate import opset_problem

EXTERNAL_DATA_BYTES = 1_800_000_000
PARITY_ATOL = 1e-3
PARITY_RTOL = 1e-3
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


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
    files: set[str] = set()
    for init in model.graph.initializer:
        if init.data_location == onnx.TensorProto.EXTERNAL:
            files.update(e.value for e in init.external_data if e.key == "location")
    return sorted(files)


def export_onnx(
    module,
    inputs,
    batch_size: int,
    path,
    opset: int = 18,
    exporter: str = "dynamo",
    dynamic_batch: bool = False,
    dim_ranges: dict[str, tuple[int, int, int]] | None = None,
) -> dict:
    """Export ``module`` (in eval mode; a torch.export program too) to ``path``; returns the export record.
    ``inputs``: the model's ModelInputs (or one float input's per-sample shape); its named dynamic dims
    become dynamic ONNX dims (``dim_ranges``: their min/opt/max, bounds for torch.export). ModelError on failure."""
    import torch

    from .inputs import ModelInputs, single
    from .user_models import call, output_names

    if exporter not in ("dynamo", "torchscript"):
        raise ValueError(f"exporter must be dynamo or torchscript, not {exporter!r}")
    inputs = inputs if isinstance(inputs, ModelInputs) else single(tuple(inputs))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Path(f"{path}.data").unlink(missing_ok=True)  # a stale sidecar from an earlier export
    program = module if isinstance(module, torch.export.ExportedProgram) else None
    runnable = program.module() if program is not None else module.eval()
    if isinstance(module, torch.jit.ScriptModule) and exporter == "dynamo":
        exporter = "torchscript"  # the dynamo exporter cannot trace a ScriptModule; the TorchScript one can
    # torch.export specialises a dimension of size 1, so a dynamic dim is traced with at least 2.
    trace_batch = max(batch_size, 2) if dynamic_batch else batch_size
    sizes = {d: max(n, 2) for d, n in inputs.dim_sizes().items()}
    device = _module_device(runnable)
    example = {k: torch.from_numpy(v).to(device) for k, v in inputs.feeds(trace_batch, seed=0, sizes=sizes).items()}
    with torch.no_grad():  # name the outputs (a program with a static batch runs at its own batch only)
        outputs = output_names(call(runnable, inputs, example))
    args: tuple[Any, ...] = () if inputs.keyword else tuple(example.values())

    def write(how: str) -> list[Any]:
        kwargs = _export_kwargs(runnable, inputs, outputs, opset, how, dynamic_batch, dim_ranges or {})
        kwargs.update({"kwargs": example} if inputs.keyword else {})
        return _write_export(program if program is not None else module, args, path, kwargs, how)

    t0 = time.perf_counter()
    caught, exporter, fallback = _with_fallback(write, exporter, opset, can_fall_back=program is None)
    seconds = time.perf_counter() - t0
    record = _export_record(path, exporter, opset, batch_size, dynamic_batch, inputs, outputs, seconds, caught)
    return record | ({"fallback": fallback} if fallback else {})


def _with_fallback(
    write: Callable[[str], list[Any]], exporter: str, opset: int, can_fall_back: bool
) -> tuple[list[Any], str, str]:
    """``write(exporter)``; when the dynamo exporter fails on a module, ``write("torchscript")``. Returns the
    warnings, the exporter that wrote the file and why dynamo failed ('' when it did not)."""
    try:
        return write(exporter), exporter, ""
    except ModelError as e:
        if exporter != "dynamo" or not can_fall_back:
            raise
        fallback = e.message  # e.g. a torch.export limitation the TorchScript tracer does not have
        if problem := opset_problem(opset, "torchscript"):
            raise ModelError(f"{fallback}; no TorchScript export to fall back on: {problem}", detail=e.detail) from e
        try:
            return write("torchscript"), "torchscript", fallback
        except ModelError as e2:
            raise ModelError(
                f"{fallback}; torchscript export failed too: {e2.message.split(': ', 1)[-1]}",
                detail=f"{e.detail}\n{e2.detail}",
            ) from e2


def _export_record(
    path: Path,
    exporter: str,
    opset: int,
    batch_size: int,
    dynamic_batch: bool,
    inputs: Any,
    outputs: list[str],
    seconds: float,
    caught: list[Any],
) -> dict[str, Any]:
    """What the export made (the export step's detail): the file, names, sizes, the exporter's warnings."""
    import onnx
    import torch

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
        "dynamic_dims": sorted(inputs.dim_sizes()),
        "input_names": inputs.names,
        "output_names": outputs,
        "seconds": round(seconds, 3),
        "size_bytes": path.stat().st_size + sum((path.parent / f).stat().st_size for f in ext),
        "external_data": ext,
        "warnings": sorted({str(w.message).strip().splitlines()[0] for w in caught if str(w.message).strip()}),
    }


def _write_export(model: Any, args: tuple[Any, ...], path: Path, kwargs: dict[str, Any], exporter: str) -> list[Any]:
    """torch.onnx.export into ``path``; returns the warnings it raised. Written under a temporary name and
    renamed, so a killed export never leaves a model.onnx that looks whole; not for dynamo's external data,
    whose file is named after the ONNX file."""
    import torch

    writing = (
        contextlib.nullcontext(path)
        if kwargs.get("external_data")
        else atomic.replacing(path, atomic.partial_onnx(path))
    )
    log = io.StringIO()
    try:
        with writing as target, warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(log):
            warnings.simplefilter("always")
            with torch.no_grad():
                torch.onnx.export(model, args, str(target), **kwargs)
    except Exception as e:
        raise ModelError(
            f"{exporter} export failed: {_root_cause_line(e)}",
            detail=_ANSI.sub("", traceback.format_exc()) + log.getvalue(),
        ) from e
    return list(caught)


def _export_kwargs(
    module: Any,
    inputs: Any,
    outputs: list[str],
    opset: int,
    exporter: str,
    dynamic_batch: bool,
    dim_ranges: dict[str, tuple[int, int, int]],
) -> dict[str, Any]:
    """torch.onnx.export's options: names, opset, and per exporter the dynamic axes (the batch, the named
    dims; one torch.export Dim per name, so inputs that share a name share its size) and (dynamo)
    external data for a model too big for one protobuf."""
    import torch

    param_bytes = sum(p.numel() * p.element_size() for p in module.parameters())
    kwargs: dict[str, Any] = dict(input_names=inputs.names, output_names=outputs, opset_version=opset, verbose=False)
    axes = {
        s.name: ({0: "batch"} if dynamic_batch else {}) | {i + 1: d for i, d in enumerate(s.dims) if d} for s in inputs
    }
    if exporter == "dynamo":
        kwargs.update(dynamo=True, external_data=param_bytes > EXTERNAL_DATA_BYTES)
        if any(axes.values()):
            dims = {
                name: torch.export.Dim(name, max=dim_ranges[name][2])
                if dim_ranges.get(name, (0, 0, 0))[2] > 2
                else torch.export.Dim(name)
                for name in {d for a in axes.values() for d in a.values()}
            }
            shapes = {n: {i: dims[d] for i, d in a.items()} or None for n, a in axes.items()}
            kwargs["dynamic_shapes"] = shapes if inputs.keyword else tuple(shapes.values())
    else:
        kwargs.update(dynamo=False)
        if any(axes.values()):
            kwargs["dynamic_axes"] = {n: a for n, a in axes.items() if a} | (
                {o: {0: "batch"} for o in outputs} if dynamic_batch else {}
            )
    return kwargs


def check_onnx(path) -> dict:
    """``onnx.checker.check_model(path, full_check=True)`` (full_check adds strict shape inference)."""
    import onnx

    t0 = time.perf_counter()
    try:
        onnx.checker.check_model(str(path), full_check=True)
    except Exception as e:
        raise TrtTuiError(
            f"ONNX checker failed on {Path(path).name}: {_root_cause_line(e)}", detail=traceback.format_exc()
        ) from e
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
        raise TrtTuiError(
            f"onnxruntime cannot load {Path(path).name}: {_root_cause_line(e)}", detail=traceback.format_exc()
        ) from e


def ort_cuda_problem() -> str:
    """Why onnxruntime runs on the CPU although CUDA was wanted (one line)."""
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        return f"this onnxruntime ({ort.__version__}) has no CUDA provider: pip install onnxruntime-gpu"
    if not _cuda_driver_present():
        return "no CUDA driver (libcuda) found"
    return "onnxruntime's CUDA provider did not load (the CUDA/cuDNN libraries it needs are missing)"


def ort_parity(
    path,
    module,
    feeds,
    prefer_cuda: bool = True,
    atol: float = PARITY_ATOL,
    rtol: float = PARITY_RTOL,
    keyword: bool = False,
) -> dict:
    """onnxruntime vs PyTorch FP32 (TF32 off) on the same inputs (``feeds``: name -> array, or the one
    input's array): accuracy.compare() figures, the provider, and pass/fail: every element within
    ``atol + rtol * |torch|`` and no NaN/Inf. (onnxruntime's CUDA provider may use TF32 for FP32
    convolutions/GEMMs: parity on CUDA is looser.)"""
    import torch

    from .user_models import flatten_named, in_eval

    sess = ort_session(path, prefer_cuda)
    if not isinstance(feeds, dict):
        feeds = {sess.get_inputs()[0].name: np.ascontiguousarray(feeds, dtype=np.float32)}
    got = sess.run(None, {k: np.ascontiguousarray(v) for k, v in feeds.items()})
    flags = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False  # strict FP32 reference
    try:
        with torch.no_grad():
            device = _module_device(module)
            x = {k: torch.from_numpy(np.ascontiguousarray(v)).to(device) for k, v in feeds.items()}
            net = in_eval(module)
            out = net(**x) if keyword else net(*x.values())
            ref = [t.detach().float().cpu().numpy() for _, t in flatten_named(out)]
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = flags
    result = compare(ref, got)
    passed = (
        result["nan_count"] == 0
        and result["inf_count"] == 0
        and all(np.allclose(o, r, atol=atol, rtol=rtol) for r, o in zip(ref, got))
    )
    return {
        **result,
        "provider": sess.get_providers()[0],
        "tolerance": f"|ort - torch| <= {atol:g} + {rtol:g} * |torch|",
        "passed": bool(passed),
    }
