"""Explicit-precision ONNX models for strongly typed TensorRT (and for onnxruntime rows).

INT8: onnxruntime's static quantizer writes Q/DQ pairs, INT8 activations and weights, per-channel
weights, symmetric everywhere (TensorRT accepts only zero-point 0), biases left in FP32 (TensorRT
cannot dequantize INT32). FP16: every float tensor inside
the graph becomes float16 while the graph inputs/outputs stay float32 (Casts at the edges).
"""

from __future__ import annotations

import contextlib
import inspect
import io
import os
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from .calibration import BatchSource
from .errors import TrtTuiError

METHODS = ("entropy", "minmax")


def _count_qdq(model) -> dict[str, int]:
    q = sum(n.op_type == "QuantizeLinear" for n in model.graph.node)
    dq = [n for n in model.graph.node if n.op_type == "DequantizeLinear"]
    dq_out = {o for n in dq for o in n.output}
    quantized = sum(
        n.op_type not in ("QuantizeLinear", "DequantizeLinear") and any(i in dq_out for i in n.input)
        for n in model.graph.node
    )
    return {"quantize_nodes": q, "dequantize_nodes": len(dq), "nodes_quantized": quantized}


def zero_points(path) -> list[int]:
    """Every zero-point value of every Q/DQ node (all 0 for a TensorRT-compatible model)."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    consts = {n.output[0]: numpy_helper.to_array(n.attribute[0].t) for n in model.graph.node
              if n.op_type == "Constant" and n.attribute and n.attribute[0].name == "value"}  # fmt: skip
    values: list[int] = []
    for n in model.graph.node:
        if n.op_type in ("QuantizeLinear", "DequantizeLinear") and len(n.input) > 2 and n.input[2]:
            arr = inits.get(n.input[2], consts.get(n.input[2]))
            values.extend(int(v) for v in arr.ravel())
    return values


def _entropy_cache(model_path: Path, batch_source: BatchSource, input_name: str, bins: int, tmp: Path) -> Path:
    """Entropy (KL) ranges with ``bins`` histogram bins, saved as an onnxruntime calibration cache.
    quantize_static's own Entropy uses 128 bins for 128 quantized bins: a single candidate threshold,
    i.e. exactly the MinMax ranges. TensorRT's entropy calibrator uses 2048 bins."""
    from onnxruntime.quantization import CalibrationMethod
    from onnxruntime.quantization.calibrate import create_calibrator, save_tensors_data

    calibrator = create_calibrator(
        model_path, None, augmented_model_path=str(tmp / "augmented.onnx"),
        calibrate_method=CalibrationMethod.Entropy,
        extra_options={"num_bins": bins, "num_quantized_bins": 128, "symmetric": True},
    )  # fmt: skip
    calibrator.collect_data(batch_source.as_ort_reader(input_name))
    cache = tmp / "calibration.json"
    save_tensors_data(calibrator.compute_data(), cache)
    return cache


def quantize_qdq(fp32_onnx, out_path, batch_source: BatchSource, method: str = "entropy",
                 preprocess: bool = True, entropy_bins: int = 512) -> dict:  # fmt: skip
    """Static INT8 Q/DQ quantization calibrated on ``batch_source``; returns what was done.

    ``preprocess`` runs ``quant_pre_process`` first (ORT's recommended shape inference + graph
    optimisation); if it fails the original graph is quantized and the record says so.
    ``entropy_bins``: histogram bins for the entropy method (more = finer threshold search, slower;
    TensorRT uses 2048). Needs quantize_static's ``calibration_cache_path`` (recent onnxruntime); without
    it ORT's own Entropy runs and the record's ``entropy_bins`` says 128 (= MinMax ranges).
    """
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quant_pre_process, quantize_static

    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, not {method!r}")
    fp32_onnx, out_path = Path(fp32_onnx), Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    graph = onnx.load(str(fp32_onnx), load_external_data=False).graph
    inits = {i.name for i in graph.initializer}
    input_name = next(i.name for i in graph.input if i.name not in inits)
    t0 = time.perf_counter()
    info: dict[str, Any] = {}
    noise = io.StringIO()  # the calibrators print progress on stdout, which is the child's event stream
    with tempfile.TemporaryDirectory(prefix="trt-tui-quant-") as tmp, contextlib.redirect_stdout(noise):
        source, preprocessed = fp32_onnx, False
        if preprocess:
            try:
                pre = Path(tmp) / "preprocessed.onnx"
                quant_pre_process(str(fp32_onnx), str(pre))
                source, preprocessed = pre, True
            except Exception as e:  # e.g. symbolic shape inference on an exotic graph
                info["preprocess_error"] = f"{type(e).__name__}: {e}".splitlines()[0]
        kwargs: dict[str, Any] = {}
        if method == "entropy":
            if "calibration_cache_path" in inspect.signature(quantize_static).parameters:
                kwargs["calibration_cache_path"] = str(_entropy_cache(source, batch_source, input_name, entropy_bins, Path(tmp)))
                info["entropy_bins"] = entropy_bins
            else:
                info["entropy_bins"] = 128
        partial = out_path.with_name(f".{out_path.stem}.partial.onnx")  # renamed once whole
        try:
            quantize_static(
                str(source),
                str(partial),
                batch_source.as_ort_reader(input_name),
                quant_format=QuantFormat.QDQ,
                activation_type=QuantType.QInt8,
                weight_type=QuantType.QInt8,
                per_channel=True,
                calibrate_method=CalibrationMethod.Entropy if method == "entropy" else CalibrationMethod.MinMax,
                # QuantizeBias=False: TensorRT's parser rejects DequantizeLinear on the INT32 biases
                # ORT writes by default (onnx-tensorrt#850); TensorRT fuses a float bias itself.
                extra_options={"ActivationSymmetric": True, "WeightSymmetric": True, "QuantizeBias": False},
                **kwargs,
            )
            os.replace(partial, out_path)
        except Exception as e:
            partial.unlink(missing_ok=True)
            raise TrtTuiError(f"INT8 quantization failed: {type(e).__name__}: {e}".splitlines()[0],
                              detail=traceback.format_exc() + noise.getvalue()) from e  # fmt: skip
    info.update({
        "path": str(out_path),
        "method": method,
        "samples": batch_source.num_samples,
        "batches": batch_source.num_batches,
        "calibration": batch_source.description,
        "calibration_kind": batch_source.kind,
        "preprocessed": preprocessed,
        "seconds": round(time.perf_counter() - t0, 3),
        "size_bytes": out_path.stat().st_size,
        **_count_qdq(onnx.load(str(out_path), load_external_data=False)),
    })  # fmt: skip
    return info


def convert_fp16(fp32_onnx, out_path) -> dict:
    """FP16 ONNX with FP32 graph inputs/outputs (onnxruntime.transformers.float16, keep_io_types)."""
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    partial = out_path.with_name(f".{out_path.stem}.partial.onnx")  # renamed once whole
    try:
        model = convert_float_to_float16(onnx.load(str(fp32_onnx)), keep_io_types=True)
        onnx.save(model, str(partial))
        os.replace(partial, out_path)
    except Exception as e:
        partial.unlink(missing_ok=True)
        raise TrtTuiError(f"FP16 conversion failed: {type(e).__name__}: {e}".splitlines()[0],
                          detail=traceback.format_exc()) from e  # fmt: skip
    casts = sum(n.op_type == "Cast" for n in model.graph.node)
    return {"path": str(out_path), "seconds": round(time.perf_counter() - t0, 3),
            "size_bytes": out_path.stat().st_size, "casts": casts}  # fmt: skip
