from __future__ import annotations

import inspect

import numpy as np
import onnx
import pytest

from trt_tui.core.accuracy import compare, label_accuracy
from trt_tui.core.calib_batches import BatchSource
from trt_tui.core.export import export_onnx, ort_session
from trt_tui.core import onnx_variants
from trt_tui.core.onnx_variants import convert_fp16, quantize_qdq, zero_points

TOOLS = ["onnxruntime"] + (["modelopt"] if onnx_variants.modelopt_version() else [])


@pytest.fixture(scope="module")
def digits_onnx(digits, tmp_path_factory):
    """digits-cnn FP32 ONNX with a dynamic batch, and its onnxruntime logits on the held-out split."""
    path = tmp_path_factory.mktemp("quant") / "digits-fp32.onnx"
    export_onnx(digits.module, digits.input_shape, 32, path, exporter="dynamo", dynamic_batch=True)
    logits = ort_session(path, prefer_cuda=False).run(None, {"input": digits.data.x_test})[0]
    return path, logits


def run(path, x):
    return ort_session(path, prefer_cuda=False).run(None, {"input": x})[0]


@pytest.mark.parametrize("tool", TOOLS)
@pytest.mark.parametrize("method", ["entropy", "minmax"])
def test_int8_qdq_accuracy_and_zero_points(digits, digits_onnx, tmp_path, method, tool):
    fp32_path, fp32_logits = digits_onnx
    src = BatchSource.from_digits(digits.input_shape, batch_size=32, max_samples=512)
    info = quantize_qdq(fp32_path, tmp_path / "int8.onnx", src, method=method, tool=tool)
    assert info["tool"] == tool and info["placement_problems"] == []
    assert info["method"] == method and info["samples"] == 512 and info["calibration_kind"] == "digits-train"
    assert info["nodes_quantized"] >= 4 and info["quantize_nodes"] > 0 and info["size_bytes"] > 0

    zps = zero_points(info["path"])
    assert zps and set(zps) == {0}  # symmetric: TensorRT accepts zero-point 0 only
    dtypes = {i.data_type for i in onnx.load(info["path"]).graph.initializer if i.name.endswith("_zero_point")}
    assert dtypes == {onnx.TensorProto.INT8}  # no INT32 bias DQ: TensorRT cannot parse it

    y = digits.data.y_test
    fp32_acc = label_accuracy(fp32_logits, y)
    int8_acc = label_accuracy(run(info["path"], digits.data.x_test), y)
    print(f"{tool} {method}: FP32 {fp32_acc:.4f}  INT8 {int8_acc:.4f}  ({info['seconds']} s)")
    assert fp32_acc > 0.9 and int8_acc >= 0.98
    assert fp32_acc - int8_acc <= 0.02  # required: INT8 within 2 points of FP32 on held-out data


def _activation_scales(path):
    from onnx import numpy_helper

    return {i.name: float(numpy_helper.to_array(i)) for i in onnx.load(str(path)).graph.initializer
            if i.name.endswith("_scale") and not i.dims}  # fmt: skip


@pytest.mark.skipif(
    "calibration_cache_path" not in inspect.signature(__import__("onnxruntime.quantization", fromlist=["x"]).quantize_static).parameters,
    reason="this onnxruntime's quantize_static has no calibration_cache_path: entropy = ORT's 128-bin default",
)
@pytest.mark.parametrize("tool", TOOLS)
def test_entropy_is_not_minmax(digits, digits_onnx, tmp_path, tool):
    """trt-tui's TensorRT-style entropy (2048 bins, KL search) clips some ranges that minmax keeps whole,
    with either tool placing the Q/DQ nodes."""
    src = BatchSource.from_digits(digits.input_shape, batch_size=32, max_samples=256)
    ent = quantize_qdq(digits_onnx[0], tmp_path / "e.onnx", src, method="entropy", tool=tool)
    mm = quantize_qdq(digits_onnx[0], tmp_path / "m.onnx", src, method="minmax", tool=tool)
    assert ent["entropy_bins"] == 2048 and mm["entropy_bins"] is None
    assert ent["ranges_by"] == "trt-tui" and "ranges: trt-tui (CPU)" in ent["note"]
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


def test_fp16_keep_fp32_pins_ops(digits_onnx, tmp_path):
    """--precision-keep-fp32: the pinned op type computes in FP32 (its inputs are float), on every tool."""
    for tool in TOOLS:
        info = convert_fp16(digits_onnx[0], tmp_path / f"k-{tool}.onnx", keep_fp32=["Gemm"], tool=tool)
        model = onnx.load(info["path"])
        f16 = {i.name for i in model.graph.initializer if i.data_type == onnx.TensorProto.FLOAT16}
        gemms = [n for n in model.graph.node if n.op_type == "Gemm"]
        assert gemms and not any(i in f16 for n in gemms for i in n.input), tool
        assert info["keep_fp32"] == ["Gemm"] and "FP32 kept: Gemm" in info["note"]
        assert info["mixed_nodes"] == []


def test_ort_fallback_still_itself_after_modelopt(digits, digits_onnx, tmp_path):
    """ModelOpt patches onnxruntime's quantizer process-wide; the onnxruntime path must be unaffected."""
    src = BatchSource.from_digits(digits.input_shape, batch_size=32, max_samples=128)
    before = quantize_qdq(digits_onnx[0], tmp_path / "a.onnx", src, method="minmax", tool="onnxruntime")
    if "modelopt" in TOOLS:
        quantize_qdq(digits_onnx[0], tmp_path / "m.onnx", src, method="minmax", tool="modelopt")
    after = quantize_qdq(digits_onnx[0], tmp_path / "b.onnx", src, method="minmax", tool="onnxruntime")
    assert before["tensors_calibrated"] == after["tensors_calibrated"] > 0
    assert _activation_scales(before["path"]) == _activation_scales(after["path"])


def test_derived_onnx_records_its_source(digits, digits_onnx, tmp_path):
    import shutil

    src_path = tmp_path / "model.onnx"
    shutil.copyfile(digits_onnx[0], src_path)
    src = BatchSource.from_digits(digits.input_shape, batch_size=32, max_samples=64)
    info = quantize_qdq(src_path, tmp_path / "q.onnx", src, method="minmax", tool="onnxruntime")
    h = convert_fp16(src_path, tmp_path / "h.onnx", tool="onnxruntime")
    assert info["source_sha256"] == h["source_sha256"] and len(info["source_sha256"]) == 64
    assert onnx_variants.stale_reason(info["path"], src_path) == "" == onnx_variants.stale_reason(h["path"], src_path)
    shutil.copyfile(h["path"], src_path)  # another model.onnx now (e.g. left by a cancelled run)
    assert "made from another model.onnx" in onnx_variants.stale_reason(info["path"], src_path)
    onnx_variants.provenance_path(h["path"]).unlink()
    assert "no record" in onnx_variants.stale_reason(h["path"], tmp_path / "model.onnx")


def test_pipeline_quantize_progress_and_stale_qdq(tmp_path):
    """The quantize stage reports calibration batch i/N with an ETA and never goes 2 s silent; a later
    benchmark-only run refuses a Q/DQ file made from another model.onnx, with one line."""
    import shutil
    import time

    from trt_tui.core.config import RunConfig
    from trt_tui.core.events import Progress, StageFinished, StageStarted
    from trt_tui.core.pipeline import Pipeline

    out = tmp_path / "out"
    stamped: list = []
    cfg = RunConfig(model="cnn", rows=("onnxruntime-int8",), stages=("export", "quantize"), batch_size=4,
                    calib_samples=64, out_dir=str(out), device="cpu")  # fmt: skip
    fin = Pipeline(cfg, lambda ev: stamped.append((time.monotonic(), ev))).run()
    assert fin.status == "ok"
    start = next(t for t, ev in stamped if isinstance(ev, StageStarted) and ev.stage == "quantize")
    end = next(t for t, ev in stamped if isinstance(ev, StageFinished) and ev.stage == "quantize")
    prog = [(t, ev) for t, ev in stamped if isinstance(ev, Progress) and ev.stage == "quantize"]
    assert {ev.task for _, ev in prog} == {"int8-qdq"}
    calib = [ev for _, ev in prog if ev.phase == "calibration"]
    assert calib and calib[-1].step == calib[-1].total == 16
    assert any(ev.eta_s is not None and 0 < ev.step < ev.total for ev in calib)
    times = [start] + [t for t, _ in prog] + [end]
    assert max(b - a for a, b in zip(times, times[1:])) <= 2.0
    assert onnx_variants.stale_reason(out / "model_int8_qdq.onnx", out / "model.onnx") == ""

    shutil.copyfile(out / "model_int8_qdq.onnx", out / "model.onnx")  # model.onnx from elsewhere
    events: list = []
    cfg2 = RunConfig(model="cnn", rows=("onnxruntime-int8",), stages=("benchmark",), batch_size=4,
                     iterations=3, warmup=1, out_dir=str(out), device="cpu")  # fmt: skip
    Pipeline(cfg2, events.append).run()
    row = Pipeline.__new__(Pipeline)  # noqa: F841 - rows are read from disk below
    import json

    rows = {r["row_id"]: r for r in json.loads((out / "results.json").read_text())["rows"]}
    assert rows["onnxruntime-int8"]["status"] == "failed"
    assert "model_int8_qdq.onnx was made from another model.onnx" in rows["onnxruntime-int8"]["reason"]


def test_the_int8_note_says_when_no_node_was_quantized():
    """ModelOpt may quantize nothing (a small MLP at batch 1): the INT8 rows then compute in FP32, and the
    note says so rather than 'none inputs'."""
    from trt_tui.core.onnx_variants import qdq_note

    info = {"tool": "modelopt", "tool_version": "0.47.0", "method": "entropy", "samples": 512}
    assert qdq_note({**info, "quantized_op_types": []}).endswith("no node quantized (it computes in FP32)")
    assert qdq_note({**info, "quantized_op_types": ["Conv", "MatMul"]}).endswith("): Conv/MatMul inputs")



def test_opset_18_reaches_modelopt_as_19_by_its_import(digits, digits_onnx, tmp_path):
    # what ModelOpt needs, without its version converter over the whole model: the same graph at opset 19
    path, logits = digits_onnx
    model = onnx.load(str(path))
    assert [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")] == [18]
    bumped = onnx_variants._at_opset(path, tmp_path, onnx_variants.MODELOPT_MIN_OPSET)
    again = onnx.load(str(bumped))
    assert bumped != path and [o.version for o in again.opset_import if o.domain in ("", "ai.onnx")] == [19]
    assert again.ir_version >= 9 and [n.op_type for n in again.graph.node] == [n.op_type for n in model.graph.node]
    onnx.checker.check_model(str(bumped))
    np.testing.assert_array_equal(run(bumped, digits.data.x_test), logits)  # means the same
    older = tmp_path / "opset17.onnx"
    model.opset_import[0].version = 17
    onnx.save(model, str(older))
    assert onnx_variants._at_opset(older, tmp_path, onnx_variants.MODELOPT_MIN_OPSET) == older  # left to ModelOpt
