from __future__ import annotations

import inspect

import numpy as np
import onnx
import pytest

from trt_tui.core.accuracy import compare, label_accuracy
from trt_tui.core.calibration import BatchSource
from trt_tui.core.export import export_onnx, ort_session
from trt_tui.core.quantize import convert_fp16, quantize_qdq, zero_points


@pytest.fixture(scope="module")
def digits_onnx(digits, tmp_path_factory):
    """digits-cnn FP32 ONNX with a dynamic batch, and its onnxruntime logits on the held-out split."""
    path = tmp_path_factory.mktemp("quant") / "digits-fp32.onnx"
    export_onnx(digits.module, digits.input_shape, 32, path, exporter="dynamo", dynamic_batch=True)
    logits = ort_session(path, prefer_cuda=False).run(None, {"input": digits.data.x_test})[0]
    return path, logits


def run(path, x):
    return ort_session(path, prefer_cuda=False).run(None, {"input": x})[0]


@pytest.mark.parametrize("method", ["entropy", "minmax"])
def test_int8_qdq_accuracy_and_zero_points(digits, digits_onnx, tmp_path, method):
    fp32_path, fp32_logits = digits_onnx
    src = BatchSource.from_digits(digits.input_shape, batch_size=32, max_samples=512)
    info = quantize_qdq(fp32_path, tmp_path / "int8.onnx", src, method=method)
    assert info["method"] == method and info["samples"] == 512 and info["calibration_kind"] == "digits-train"
    assert info["nodes_quantized"] >= 4 and info["quantize_nodes"] > 0 and info["size_bytes"] > 0

    zps = zero_points(info["path"])
    assert zps and set(zps) == {0}  # symmetric: TensorRT accepts zero-point 0 only
    dtypes = {i.data_type for i in onnx.load(info["path"]).graph.initializer if i.name.endswith("_zero_point")}
    assert dtypes == {onnx.TensorProto.INT8}  # no INT32 bias DQ: TensorRT cannot parse it

    y = digits.data.y_test
    fp32_acc = label_accuracy(fp32_logits, y)
    int8_acc = label_accuracy(run(info["path"], digits.data.x_test), y)
    print(f"{method}: FP32 {fp32_acc:.4f}  INT8 {int8_acc:.4f}  ({info['seconds']} s)")
    assert fp32_acc > 0.9
    assert fp32_acc - int8_acc <= 0.02  # required: INT8 within 2 points of FP32 on held-out data


def _activation_scales(path):
    from onnx import numpy_helper

    return {i.name: float(numpy_helper.to_array(i)) for i in onnx.load(str(path)).graph.initializer
            if i.name.endswith("_scale") and not i.dims}  # fmt: skip


@pytest.mark.skipif(
    "calibration_cache_path" not in inspect.signature(__import__("onnxruntime.quantization", fromlist=["x"]).quantize_static).parameters,
    reason="this onnxruntime's quantize_static has no calibration_cache_path: entropy = ORT's 128-bin default",
)
def test_entropy_is_not_minmax(digits, digits_onnx, tmp_path):
    """ORT's own 128-bin Entropy equals MinMax; ours searches thresholds and clips some ranges."""
    src = BatchSource.from_digits(digits.input_shape, batch_size=32, max_samples=256)
    ent = quantize_qdq(digits_onnx[0], tmp_path / "e.onnx", src, method="entropy")
    mm = quantize_qdq(digits_onnx[0], tmp_path / "m.onnx", src, method="minmax")
    assert ent["entropy_bins"] == 512
    e, m = _activation_scales(ent["path"]), _activation_scales(mm["path"])
    assert e.keys() == m.keys()
    assert all(e[k] <= m[k] * (1 + 1e-6) for k in e) and any(e[k] < m[k] * 0.9 for k in e)


def test_fp16_keeps_fp32_io_and_is_close(digits, digits_onnx, tmp_path):
    fp32_path, fp32_logits = digits_onnx
    info = convert_fp16(fp32_path, tmp_path / "fp16.onnx")
    model = onnx.load(info["path"])
    f32 = onnx.TensorProto.FLOAT
    assert all(v.type.tensor_type.elem_type == f32 for v in [*model.graph.input, *model.graph.output])
    weights = [i for i in model.graph.initializer if len(i.dims) > 1]
    assert weights and all(i.data_type == onnx.TensorProto.FLOAT16 for i in weights)
    assert info["casts"] >= 2

    sess = ort_session(info["path"], prefer_cuda=False)
    assert [i.type for i in sess.get_inputs()] == ["tensor(float)"]
    out = sess.run(None, {"input": digits.data.x_test})[0]
    assert out.dtype == np.float32
    r = compare([fp32_logits], [out])
    assert r["max_abs_err"] < 0.05 * np.abs(fp32_logits).max() and r["cosine_sim"] > 0.9999
    assert r["top1_agreement"] >= 0.99 and r["nan_count"] == 0


def test_quantize_with_random_calibration_still_symmetric(digits_onnx, tmp_path):
    src = BatchSource.random((1, 8, 8), batch_size=16, max_samples=64)
    info = quantize_qdq(digits_onnx[0], tmp_path / "r.onnx", src, method="minmax")
    assert info["calibration_kind"] == "random" and set(zero_points(info["path"])) == {0}
