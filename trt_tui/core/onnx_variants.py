"""Explicit-precision ONNX models for strongly typed TensorRT (and for onnxruntime rows).

INT8 (Q/DQ), placed where TensorRT runs INT8 (see ``graph_checks``):
- NVIDIA ModelOpt's ONNX PTQ when installed (``pip install trt-tui[modelopt]``): its TensorRT placement
  heuristics, symmetric, per-channel weights, the rest of the graph kept FP32.
- else onnxruntime's ``quantize_static`` restricted to Conv/ConvTranspose/Gemm/MatMul (``TRT_INT8_OPS``):
  symmetric (TensorRT accepts only zero-point 0), per-channel weights, biases left in FP32 (TensorRT
  cannot dequantize INT32). Unrestricted, ORT quantizes scalar constants (GELU's +1, LayerNorm's eps)
  into Add/Mul/Div, which TensorRT's builder refuses.
Calibration is trt-tui's own single pass (``activation_ranges``: TensorRT's entropy or max |x|), over the tensors
that get quantized only, on onnxruntime's CUDA provider when the run's device is cuda; the tool gets the
ranges and does not calibrate again.

FP16: ModelOpt AutoCast (``convert_to_f16``) when installed, else onnxruntime's float16 converter with
the ops whose inputs it would leave mixed float/half blocked; graph inputs/outputs stay float32.
Every result is checked with ``graph_checks``; the record says which tool, method and placement.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import inspect
import io
import os
import shutil
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import activation_ranges, atomic, graph_checks, placement
from .calib_batches import BatchSource
from .errors import TrtTuiError
from .heartbeat import OnProgress, StepProgress
from .inputs import named_feeds
from .provenance import file_sha256, fingerprint
from .scratch import scratch_dir
from .vocab import Calibration

TOOLS = ("auto", "modelopt", "onnxruntime")
TRT_INT8_OPS = ("Conv", "ConvTranspose", "Gemm", "MatMul")
# Ops onnxruntime's float16 converter leaves with mixed float/half inputs (index/scatter data paths,
# shape-like float inputs); kept in FP32 on the fallback path.
ORT_FP16_BLOCK = (
    "ScatterND",
    "ScatterElements",
    "Scatter",
    "GatherElements",
    "Range",
    "Resize",
    "Upsample",
    "RandomNormalLike",
    "RandomUniformLike",
    "EyeLike",
    "CumSum",
    "Einsum",
)


def modelopt_version() -> str | None:
    """ModelOpt's version when its ONNX quantization imports, else None."""
    try:
        import modelopt.onnx.quantization  # noqa: F401 - imported to learn whether ModelOpt's ONNX PTQ loads here
    except Exception:  # noqa: BLE001 - missing, or its deps broken: the fallback runs
        return None
    try:
        return importlib.metadata.version("nvidia-modelopt")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _tool(tool: str) -> str:
    if tool not in TOOLS:
        raise ValueError(f"tool must be one of {TOOLS}, not {tool!r}")
    if tool == "auto":
        return "modelopt" if modelopt_version() else "onnxruntime"
    if tool == "modelopt" and not modelopt_version():
        raise TrtTuiError("ModelOpt is not installed: pip install 'trt-tui[modelopt]'")
    return tool


def _count_qdq(model) -> dict[str, int]:
    q = sum(n.op_type == "QuantizeLinear" for n in model.graph.node)
    dq = [n for n in model.graph.node if n.op_type == "DequantizeLinear"]
    dq_out = {o for n in dq for o in n.output}
    quantized = [
        n.op_type
        for n in model.graph.node
        if n.op_type not in ("QuantizeLinear", "DequantizeLinear") and any(i in dq_out for i in n.input)
    ]
    return {
        "quantize_nodes": q,
        "dequantize_nodes": len(dq),
        "nodes_quantized": len(quantized),
        "quantized_op_types": sorted(set(quantized)),
    }


def zero_points(path) -> list[int]:
    """Every zero-point value of every Q/DQ node (all 0 for a TensorRT-compatible model)."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    consts = {
        n.output[0]: numpy_helper.to_array(n.attribute[0].t)
        for n in model.graph.node
        if n.op_type == "Constant" and n.attribute and n.attribute[0].name == "value"
    }
    values: list[int] = []
    for n in model.graph.node:
        if n.op_type in ("QuantizeLinear", "DequantizeLinear") and len(n.input) > 2 and n.input[2]:
            arr = inits.get(n.input[2], consts.get(n.input[2]))
            if arr is not None:  # a zero point from elsewhere (a graph input) is not a constant to read
                values.extend(int(v) for v in arr.ravel())
    return values


def calibration_providers(device: str) -> list[str]:
    """onnxruntime providers for calibration: CUDA first when the run is on the GPU and ORT has it."""
    if device == "cuda":
        import onnxruntime as ort

        if "CUDAExecutionProvider" in ort.get_available_providers():
            return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


@contextlib.contextmanager
def _quiet() -> Iterator[io.StringIO]:
    """The libraries print progress and warnings on stdout, which is the child's event stream."""
    import logging
    import sys

    noise = io.StringIO()
    # ModelOpt's loggers hold a StreamHandler on the stdout of the moment they were configured
    loggers = [logging.getLogger()] + [
        lg
        for name, lg in logging.root.manager.loggerDict.items()
        if isinstance(lg, logging.Logger) and name.startswith("modelopt")
    ]
    swapped = [
        (h, h.stream)
        for lg in loggers
        for h in lg.handlers
        if isinstance(h, logging.StreamHandler) and h.stream in (sys.stdout, sys.__stdout__)
    ]
    for h, _ in swapped:
        h.setStream(noise)
    try:
        with contextlib.redirect_stdout(noise):
            yield noise
    finally:
        for h, stream in swapped:
            h.setStream(stream)


@contextlib.contextmanager
def _restore_ort_patches() -> Iterator[None]:
    """ModelOpt monkey-patches onnxruntime's quantization classes for the whole process (e.g. its
    tensor selection reads node *names*); put them back so the onnxruntime path stays itself."""
    from onnxruntime.quantization import base_quantizer, calibrate, qdq_quantizer, registry

    classes = [getattr(calibrate, n) for n in dir(calibrate) if isinstance(getattr(calibrate, n), type)]
    classes += [qdq_quantizer.QDQQuantizer, base_quantizer.BaseQuantizer]
    saved_classes = [(c, dict(vars(c))) for c in classes]
    saved_module = dict(vars(calibrate))
    registries = [
        (r, dict(r)) for r in (registry.QDQRegistry, registry.QLinearOpsRegistry, registry.IntegerOpsRegistry)
    ]
    try:
        yield
    finally:
        for cls, attrs in saved_classes:
            for k in [k for k in vars(cls) if k not in attrs]:
                delattr(cls, k)
            for k, v in attrs.items():
                if vars(cls).get(k) is not v and k not in ("__dict__", "__weakref__", "__doc__"):
                    setattr(cls, k, v)
        for k, v in saved_module.items():
            if vars(calibrate).get(k) is not v:
                setattr(calibrate, k, v)
        for reg, content in registries:
            reg.clear()
            reg.update(content)


def _input_names(path: Path) -> list[str]:
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    inits = {i.name for i in graph.initializer}
    return [i.name for i in graph.input if i.name not in inits]


def _link_into(src: Path, folder: Path) -> Path:
    """The FP32 model (and its external data) seen from ``folder``: libraries write next to their input."""
    from .export import _external_files

    dst = folder / src.name
    for name in [src.name, *_external_files(src)]:
        target = folder / name
        try:
            os.symlink((src.parent / name).resolve(), target)
        except OSError:
            shutil.copyfile(src.parent / name, target)
    return dst


def _ort_qdq(
    source: Path,
    partial: Path,
    method: str,
    providers: list[str],
    tmp: Path,
    info: dict[str, Any],
    progress: StepProgress,
    batch_source: BatchSource,
    input_name: list[str],
) -> None:
    """onnxruntime: trt-tui's ranges for the Conv/ConvTranspose/Gemm/MatMul inputs, handed to
    ``quantize_static`` as its calibration cache, so it only writes the Q/DQ nodes (no second pass)."""
    import numpy as np
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.calibrate import TensorData, TensorsData, save_tensors_data

    if "calibration_cache_path" not in inspect.signature(quantize_static).parameters:
        raise TrtTuiError(
            "this onnxruntime is too old for INT8 Q/DQ: its quantize_static takes no calibration_cache_path (pip install -U onnxruntime)"
        )
    ort_method = CalibrationMethod.Entropy if method == Calibration.ENTROPY else CalibrationMethod.MinMax
    tensors = activation_ranges.activation_tensors(
        onnx.load(str(source), load_external_data=False), TRT_INT8_OPS, outputs=True
    )
    amax, how = activation_ranges.tensor_ranges(
        source, tensors, batch_source, input_name, method, providers=providers, progress=progress, tmp=tmp
    )
    info.update(how)
    progress.set_phase("writing Q/DQ")
    cache = tmp / "calibration.json"
    ranges = {t: TensorData(lowest=np.float32(-a), highest=np.float32(a)) for t, a in amax.items()}
    save_tensors_data(TensorsData(ort_method, ranges), cache)
    quantize_static(
        str(source),
        str(partial),
        None,
        calibration_cache_path=str(cache),
        quant_format=QuantFormat.QDQ,
        op_types_to_quantize=list(TRT_INT8_OPS),
        activation_type=QuantType.QInt8,
        weight_type=QuantType.QInt8,
        per_channel=True,
        calibrate_method=ort_method,
        # QuantizeBias=False: TensorRT's parser rejects DequantizeLinear on the INT32 biases ORT writes
        # by default (onnx-tensorrt#850); TensorRT fuses a float bias itself.
        extra_options={"ActivationSymmetric": True, "WeightSymmetric": True, "QuantizeBias": False},
    )


def _modelopt_qdq(
    source: Path,
    partial: Path,
    method: str,
    providers: list[str],
    tmp: Path,
    info: dict[str, Any],
    progress: StepProgress,
    batch_source: BatchSource,
    input_name: list[str],
    cache_dir: str | os.PathLike[str] | None = None,
) -> None:
    """ModelOpt's ONNX PTQ places the Q/DQ nodes (its TensorRT heuristics; FP32 elsewhere), fed one batch
    only; then trt-tui's ranges over all batches replace its activation scales, as ModelOpt itself does
    with a TensorRT calibration cache (``replace_scale_values``). Its cache option would still calibrate
    through onnxruntime over the reader, and needs the tensor list before ModelOpt has chosen it.
    ``cache_dir``: ModelOpt's output is kept there (``placement``), keyed by everything it depends on, and
    an ONNX it has seen is not placed again."""
    import onnx

    reader: Any = _OneBatch(batch_source, input_name, _dynamic_batch(source))  # __new__ gives ORT's reader
    eps = ["cuda:0", "cpu"] if "CUDAExecutionProvider" in providers else ["cpu"]
    out = _modelopt_placement(source, reader, eps, tmp, info, progress, cache_dir)
    model = onnx.load(str(out))
    scales = _activation_scales(model)
    amax, how = activation_ranges.tensor_ranges(
        source, list(scales), batch_source, input_name, method, providers=providers, progress=progress, tmp=tmp
    )
    info.update(how)
    progress.set_phase("writing Q/DQ")
    info["scale_groups"] = _share_concat_scales(source, model, amax)
    _set_scales(model, scales, amax)
    onnx.save(model, str(partial))


def _modelopt_placement(
    source: Path,
    reader: Any,
    eps: list[str],
    tmp: Path,
    info: dict[str, Any],
    progress: StepProgress,
    cache_dir: str | os.PathLike[str] | None,
) -> Path:
    """ModelOpt's Q/DQ placement of ``source`` (its quantized ONNX), from the placement cache when it has
    placed this ONNX with these data and settings before; ``info['placement']`` says which."""
    from modelopt.onnx import trt_utils
    from modelopt.onnx.quantization import quantize as mo_quantize

    # `import tensorrt` also succeeds for a stubs-only or broken install; ModelOpt then fails on trt.Logger
    trt_utils.TRT_PYTHON_AVAILABLE = hasattr(getattr(trt_utils, "trt", None), "Logger")
    # what ModelOpt is asked for, said once: the call below and the cache key both take it
    asked: dict[str, Any] = {"quantize_mode": "int8", "calibration_method": "max", "high_precision_dtype": "fp32"}
    key = placement.placement_key(
        source, reader.get_first(), calibration_eps=eps, trt_python=trt_utils.TRT_PYTHON_AVAILABLE, **asked
    )
    cache = placement.open_cache(cache_dir, key)
    out = cache.hit() if cache is not None else None
    progress.set_phase(placement.CACHED_PHASE if out is not None else "Q/DQ placement")
    if out is None:
        out = tmp / "modelopt.quant.onnx"
        with _restore_ort_patches():
            mo_quantize(
                onnx_path=str(_at_opset(source, tmp, MODELOPT_MIN_OPSET)),
                calibration_data_reader=reader,
                calibration_eps=eps,
                output_path=str(out),
                log_level="ERROR",
                # its weights in a side file: ModelOpt saves and reloads the whole model a dozen times, and
                # protobuf copying the weights each time was most of a ViT-B/16's placement (CPU: 35-42 s ->
                # 24-26 s, the same graph and values; BENCHMARKS.md). Not in the key: same output.
                use_external_data_format=True,
                **asked,
            )
        if not out.is_file():
            raise RuntimeError("ModelOpt wrote no quantized model (no node it could quantize?)")
        if cache is not None:
            cache.store(out)
    info["placement"] = cache.status if cache is not None else "not cached"
    return out


# ModelOpt's Q/DQ need opset 19 (its BASE_MIN_OPSET); below, it runs onnx's version converter over the
# whole model in memory (ViT-B/16: 3-6 s on the CPU) and saves the result again.
MODELOPT_MIN_OPSET = 19


def _at_opset(source: Path, tmp: Path, opset: int) -> Path:
    """``source`` at ``opset`` by its import alone where that is exact: from opset 18 every operator
    that changed in 19 only gained types, or attributes and modes whose defaults keep the old meaning
    (Cast, Pad, Resize, AveragePool, Q/DQ...), so an 18 graph means the same at 19 — ModelOpt's own
    fallback when the converter fails; the INT8 file comes out byte-identical. Saved with its weights
    beside it as ModelOpt saves. Anything else (older opsets, external data) goes to ModelOpt as it is."""
    import onnx

    model = onnx.load(str(source))
    default = [o for o in model.opset_import if o.domain in ("", "ai.onnx")]
    external = any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer)
    if external or len(default) != 1 or default[0].version != opset - 1 or opset != MODELOPT_MIN_OPSET:
        return source
    default[0].version = opset
    model.ir_version = max(model.ir_version, 9)  # opset 19 came with IR 9
    out = tmp / f"{source.stem}.opset{opset}.onnx"
    onnx.save(model, str(out), save_as_external_data=True, location=out.name + "_data")
    return out


def _dynamic_batch(path: Path) -> bool:
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    inits = {i.name for i in graph.initializer}
    firsts = [list(i.type.tensor_type.shape.dim)[:1] for i in graph.input if i.name not in inits]
    return any(d and not d[0].dim_value for d in firsts)


class _OneBatch:
    """A CalibrationDataReader with the first batch only: ModelOpt's placement (GEMV shapes, its own
    calibration that trt-tui's ranges replace) needs one real-shaped input. With a dynamic batch, two
    samples do (never one: ModelOpt leaves a MatMul with a dimension of 1 unquantized)."""

    def __new__(cls, source: BatchSource, input_name: list[str], dynamic: bool = False):
        from onnxruntime.quantization import CalibrationDataReader

        first = named_feeds(source.batch(0), input_name)
        if dynamic and source.batch_size > 2:
            first = {k: v[:2].copy() for k, v in first.items()}

        class Reader(CalibrationDataReader):
            def __init__(self) -> None:
                self.rewind()

            def get_next(self):
                return next(self._it, None)

            def get_first(self):
                return first

            def rewind(self) -> None:
                self._it = iter([first])

            def __len__(self) -> int:
                return 1

        return Reader()


def _activation_scales(model) -> dict[str, list[str]]:
    """Quantized activation tensor -> the scale initializers of its QuantizeLinear and DequantizeLinear."""
    inits = {i.name for i in model.graph.initializer}
    consumers: dict[str, list] = {}
    for n in model.graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    scales: dict[str, list[str]] = {}
    for n in model.graph.node:
        if n.op_type == "QuantizeLinear" and n.input[0] not in inits:
            names = scales.setdefault(n.input[0], [])
            for s in [n.input[1]] + [
                d.input[1] for d in consumers.get(n.output[0], []) if d.op_type == "DequantizeLinear"
            ]:
                if s in inits and s not in names:
                    names.append(s)
    return scales


def _share_concat_scales(source: Path, model, amax: dict[str, float]) -> int:
    """ModelOpt gives the inputs and output of a Concat one scale (TensorRT then drops the Q/DQ around it);
    keep that with our ranges: the group's largest amax for all. Returns the number of groups."""
    import onnx

    try:
        from modelopt.onnx.quantization.graph_utils import get_concat_eliminated_tensors

        dq_out = {o for n in model.graph.node if n.op_type == "DequantizeLinear" for o in n.output}
        quantized = [n.name for n in model.graph.node if any(i in dq_out for i in n.input)]
        groups = get_concat_eliminated_tensors(onnx.load(str(source), load_external_data=False), quantized) or {}
    except Exception:  # noqa: BLE001 - an internal helper of ModelOpt: without it scales stay per tensor
        return 0
    seen: set[frozenset] = set()
    for group in groups.values():
        members = frozenset(t for t in group if t in amax)
        if len(members) > 1 and members not in seen:
            seen.add(members)
            top = max(amax[t] for t in members)
            for t in members:
                amax[t] = top
    return len(seen)


def _set_scales(model, scales: dict[str, list[str]], amax: dict[str, float]) -> None:
    import numpy as np
    from onnx import numpy_helper

    index = {init.name: init for init in model.graph.initializer}
    for tensor, names in scales.items():
        for name in names:
            old = numpy_helper.to_array(index[name])
            new = np.full(old.shape, activation_ranges.int8_scale(amax[tensor]), dtype=old.dtype)
            index[name].CopyFrom(numpy_helper.from_array(new, name))


def source_identity(fp32_onnx) -> dict[str, str]:
    """What a derived ONNX was made from: the source file's name and SHA-256."""
    return {"source_onnx": str(fp32_onnx), "source_sha256": file_sha256(fp32_onnx)}


PROVENANCE_KEYS = (
    "source_onnx",
    "source_sha256",
    "tool",
    "tool_version",
    "method",
    "samples",
    "calibration",
    "calibration_id",
    "entropy_bins",
    "keep_fp32",
)


def provenance_path(derived) -> Path:
    return Path(derived).with_name(Path(derived).name + ".source.json")


def _record_provenance(info: dict[str, Any]) -> None:
    """``<derived>.onnx.source.json``: what the derived file was made from (a later stage run alone checks it)."""
    record = {k: info[k] for k in PROVENANCE_KEYS if k in info} | {"sha256": file_sha256(info["path"])}
    atomic.write_json(provenance_path(info["path"]), record)


def stale_reason(derived, fp32_onnx) -> str:
    """Empty when ``derived`` was made from this ``fp32_onnx`` (by content), else why it must not be used."""
    import json

    derived = Path(derived)
    try:
        record = json.loads(provenance_path(derived).read_text())
    except (OSError, ValueError):
        return f"{derived.name} has no record of the model it was made from"
    if record.get("source_sha256") != file_sha256(fp32_onnx):
        return f"{derived.name} was made from another {Path(fp32_onnx).name}"
    if record.get("sha256") != file_sha256(derived):
        return f"{derived.name} changed after it was written"
    return ""


def quantize_qdq(
    fp32_onnx,
    out_path,
    batch_source: BatchSource,
    method: str = "entropy",
    *,
    tool: str = "auto",
    device: str = "cpu",
    preprocess: bool = True,
    on_progress: OnProgress | None = None,
    placement_cache: str | os.PathLike[str] | None = None,
) -> dict:
    """Static INT8 Q/DQ quantization calibrated on ``batch_source``; returns what was done.

    ``tool``: 'auto' (ModelOpt when installed, else onnxruntime), 'modelopt' or 'onnxruntime'.
    ``device``: 'cuda' calibrates on onnxruntime's CUDA provider when it has one.
    ``preprocess`` (onnxruntime path): ``quant_pre_process`` first (shape inference + graph optimisation);
    if it fails the original graph is quantized and the record says so.
    Ranges come from trt-tui's own pass (``activation_ranges``: TensorRT's entropy or max |x|, on the GPU with
    onnxruntime's CUDA provider); the tool only places Q/DQ. ``placement_cache`` (ModelOpt path): a folder
    where ModelOpt's placement is kept and found again for the same ONNX, data and settings
    (``info['placement']``: cached | new | not cached). ``info['phase_seconds']`` and
    ``info['calibrate_seconds']`` say where the time went.
    ``on_progress(phase, step, total, eta_s)``: calibration batch i/N, then a heartbeat each second.
    The record's ``placement_problems`` lists quantized constants TensorRT would refuse (should be empty).
    """
    if method not in set(Calibration):
        raise ValueError(f"method must be one of {tuple(Calibration)}, not {method!r}")
    tool = _tool(tool)
    fp32_onnx, out_path = Path(fp32_onnx), Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    input_name = _input_names(fp32_onnx)
    providers = calibration_providers(device)
    t0 = time.perf_counter()
    info: dict[str, Any] = {
        "tool": tool,
        "tool_version": modelopt_version() if tool == "modelopt" else _ort_version(),
        "preprocessed": False,
    }
    progress = StepProgress(on_progress)
    with scratch_dir("trt-tui-quant-", parent=out_path.parent) as tmp, _quiet() as noise, progress:
        try:
            source = _link_into(fp32_onnx, tmp)
            if preprocess and tool == "onnxruntime":
                source = _preprocess(source, tmp, progress, info)
            qdq, extra = (_modelopt_qdq, [placement_cache]) if tool == "modelopt" else (_ort_qdq, [])
            with atomic.replacing(out_path, atomic.partial_onnx(out_path)) as partial:  # renamed once whole
                qdq(source, partial, method, providers, tmp, info, progress, batch_source, input_name, *extra)
                model, problems = _placement_checked(partial, progress)
        except Exception as e:
            raise TrtTuiError(
                f"INT8 quantization failed ({tool}): {type(e).__name__}: {e}".splitlines()[0],
                detail=traceback.format_exc() + noise.getvalue()[-20000:],
            ) from e
    info["phase_seconds"] = progress.seconds
    info["seconds"] = round(time.perf_counter() - t0, 3)
    return _qdq_record(info, fp32_onnx, out_path, batch_source, method, tool, model, problems)


def _qdq_record(
    info: dict[str, Any],
    fp32_onnx: Path,
    out_path: Path,
    batch_source: BatchSource,
    method: str,
    tool: str,
    model: Any,
    problems: list[str],
) -> dict[str, Any]:
    """The Q/DQ file's record: how it was calibrated, what was quantized, where TensorRT would refuse it."""
    seconds = info.pop("seconds")
    info.update(
        {
            "path": str(out_path),
            "method": method,
            "samples": batch_source.num_samples,
            "batches": batch_source.num_batches,
            "calibration": batch_source.description,
            "calibration_kind": batch_source.kind,
            "calibration_device": info.get("ranges_device", "cpu"),
            "seconds": seconds,
            "size_bytes": out_path.stat().st_size,
            "placement_problems": problems,
            **_count_qdq(model),
            **source_identity(fp32_onnx),
        }
    )
    return _with_identity(info, batch_source, method, tool)


def _with_identity(info: dict[str, Any], batch_source: BatchSource, method: str, tool: str) -> dict[str, Any]:
    """The record's identity (what a cache of it is keyed to), its note, and its provenance file."""
    info["calibration_id"] = fingerprint(
        method=method,
        tool=tool,
        samples=batch_source.num_samples,
        calibration=batch_source.description,
        bins=info.get("entropy_bins"),
    )
    info["note"] = qdq_note(info)
    _record_provenance(info)
    return info


def _placement_checked(path: Path, progress: StepProgress) -> tuple[Any, list[str]]:
    """The written model and the quantized constants in it TensorRT would refuse."""
    import onnx

    progress.set_phase("checking")
    model = onnx.load(str(path), load_external_data=False)
    return model, graph_checks.int8_placement_problems(model)


def _preprocess(source: Path, tmp: Path, progress: StepProgress, info: dict[str, Any]) -> Path:
    """onnxruntime's ``quant_pre_process`` (shape inference + graph optimisation) where it works; the
    original graph (and the reason in ``info``) where it does not."""
    progress.set_phase("pre-process")
    try:
        from onnxruntime.quantization import quant_pre_process

        pre = tmp / "preprocessed.onnx"
        quant_pre_process(str(source), str(pre))
        info["preprocessed"] = True
        return pre
    except Exception as e:  # noqa: BLE001 - e.g. symbolic shape inference on an exotic graph
        info["preprocess_error"] = f"{type(e).__name__}: {e}".splitlines()[0]
        return source


def qdq_note(info: dict[str, Any]) -> str:
    """One line for the INT8 rows: tool, method, samples, where the Q/DQ pairs are."""
    version = f" {info['tool_version']}" if info.get("tool_version") else ""
    ops = "/".join(info.get("quantized_op_types") or [])
    where = f"{ops} inputs" if ops else "no node quantized (it computes in FP32)"
    cached = "; placement: cached" if info.get("placement") == "cached" else ""
    return (
        f"Q/DQ by {info['tool']}{version} ({info['method']}, {info['samples']} samples, ranges: trt-tui "
        f"({info.get('calibration_device', 'cpu').upper()})): {where}{cached}"
    )


def _ort_version() -> str:
    import onnxruntime

    return onnxruntime.__version__


def convert_fp16(
    fp32_onnx,
    out_path,
    *,
    keep_fp32: tuple[str, ...] | list[str] = (),
    tool: str = "auto",
    on_progress: OnProgress | None = None,
) -> dict:
    """FP16 ONNX with FP32 graph inputs/outputs for strongly typed TensorRT.

    ``keep_fp32``: op types pinned to FP32 (the user's ``--precision-keep-fp32``). ``tool``: 'auto'
    (ModelOpt AutoCast when installed, else onnxruntime's converter), 'modelopt' or 'onnxruntime'.
    The record's ``mixed_nodes`` lists nodes still fed float and half together (should be empty).
    """
    import onnx

    tool = _tool(tool)
    fp32_onnx, out_path = Path(fp32_onnx), Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    keep = sorted({op.strip() for op in keep_fp32 if op.strip()})
    t0 = time.perf_counter()
    progress = StepProgress(on_progress)
    info: dict[str, Any] = {"tool": tool, "keep_fp32": keep}
    with scratch_dir("trt-tui-fp16-", parent=out_path.parent) as _tmp, _quiet() as noise, progress:
        try:
            progress.set_phase("conversion")
            model = onnx.load(str(fp32_onnx))
            if tool == "modelopt":
                from modelopt.onnx.autocast import convert_to_f16

                info["tool_version"] = modelopt_version()
                model = convert_to_f16(model, low_precision_type="fp16", keep_io_types=True, op_block_list=keep)
            else:
                model, blocked = _ort_fp16(model, keep)
                info["tool_version"], info["blocked_ops"] = _ort_version(), blocked
            progress.set_phase("checking")
            mixed = graph_checks.mixed_float_nodes(model)
            with atomic.replacing(out_path, atomic.partial_onnx(out_path)) as partial:  # renamed once whole
                onnx.save(model, str(partial))
        except Exception as e:
            raise TrtTuiError(
                f"FP16 conversion failed ({tool}): {type(e).__name__}: {e}".splitlines()[0],
                detail=traceback.format_exc() + noise.getvalue()[-20000:],
            ) from e
    casts = sum(n.op_type == "Cast" for n in model.graph.node)
    info.update(
        {
            "path": str(out_path),
            "seconds": round(time.perf_counter() - t0, 3),
            "size_bytes": out_path.stat().st_size,
            "casts": casts,
            "mixed_nodes": mixed,
            **source_identity(fp32_onnx),
        }
    )
    kept = f", FP32 kept: {','.join(keep)}" if keep else ""
    info["note"] = f"FP16 by {tool} {info.get('tool_version') or ''}".rstrip() + kept
    _record_provenance(info)
    return info


def _ort_fp16(model, keep: list[str]):
    """onnxruntime's float16 converter, blocking the ops it would leave with mixed float/half inputs:
    the fixed list first, then any node the check still finds (by name), until none is left."""
    import copy

    from onnxruntime.transformers.float16 import DEFAULT_OP_BLOCK_LIST, convert_float_to_float16

    op_block = sorted(set(DEFAULT_OP_BLOCK_LIST) | set(ORT_FP16_BLOCK) | set(keep))
    present = {n.op_type for n in model.graph.node}
    nodes: list[str] = []
    for _ in range(4):
        converted = convert_float_to_float16(
            copy.deepcopy(model), keep_io_types=True, op_block_list=op_block, node_block_list=nodes
        )
        mixed = graph_checks.mixed_float_nodes(converted)
        names = [p.split(" ", 2)[1] for p in mixed if p.split(" ", 2)[1] not in nodes]
        if not names:
            break
        nodes += names
    return converted, sorted(present & set(op_block)) + nodes
