"""INT8 Q/DQ and FP16 ONNX of one small model per architecture family: produced, run by onnxruntime
close to FP32, and shaped the way strongly typed TensorRT accepts (``graph_checks``)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from trt_tui.core import graph_checks, onnx_variants
from trt_tui.core.accuracy import compare
from trt_tui.core.calib_batches import BatchSource
from trt_tui.core.export import export_onnx, ort_session
from trt_tui.core.families import FAMILIES, build

TOOLS = ["onnxruntime"] + (["modelopt"] if onnx_variants.modelopt_version() else [])
BATCH = 8


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """name -> (fp32 onnx path, input batch, FP32 onnxruntime outputs), exported once per module."""
    folder = tmp_path_factory.mktemp("families")
    cache: dict[str, tuple] = {}

    def get(name: str):
        if name not in cache:
            fam = FAMILIES[name]
            path = folder / f"{name}.onnx"
            export_onnx(build(name), fam.input_shape, BATCH, path)
            x = np.random.default_rng(7).standard_normal((BATCH, *fam.input_shape), dtype=np.float32)
            cache[name] = (path, x, ort_session(path, prefer_cuda=False).run(None, {"input": x}))
        return cache[name]

    return get


def _close(ref: list[np.ndarray], out: list[np.ndarray], min_cos: float) -> dict:
    assert len(ref) == len(out)
    r = compare(ref, out)
    assert r["nan_count"] == 0 and r["inf_count"] == 0
    assert r["cosine_sim"] >= min_cos, r
    return r


@pytest.mark.parametrize("tool", TOOLS)
@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_int8_qdq_runs_close_and_trt_placement(exported, tmp_path, name, tool):
    path, x, ref = exported(name)
    src = BatchSource.random(FAMILIES[name].input_shape, batch_size=BATCH, max_samples=32, seed=1)
    events = []
    info = onnx_variants.quantize_qdq(path, tmp_path / "int8.onnx", src, method="minmax", tool=tool,
                                 on_progress=lambda *a: events.append(a))  # fmt: skip
    assert info["tool"] == tool and info["nodes_quantized"] > 0
    assert info["placement_problems"] == [] == graph_checks.int8_placement_problems(info["path"])
    assert set(onnx_variants.zero_points(info["path"])) == {0}
    assert set(info["quantized_op_types"]) & set(onnx_variants.TRT_INT8_OPS)
    assert info["note"].startswith(f"Q/DQ by {tool}") and "minmax" in info["note"]
    # calibration progress: batch 1..N of N reported
    steps = [e[1] for e in events if e[0] == "calibration" and e[2] == src.num_batches]
    assert src.num_batches in steps
    out = ort_session(info["path"], prefer_cuda=False).run(None, {"input": x})
    r = _close(ref, out, min_cos=0.99)
    print(f"{name} {tool}: cos {r['cosine_sim']:.4f} max_abs {r['max_abs_err']:.3g} ({info['seconds']} s)")


@pytest.mark.parametrize("tool", TOOLS)
@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_fp16_runs_close_without_mixed_nodes(exported, tmp_path, name, tool):
    path, x, ref = exported(name)
    info = onnx_variants.convert_fp16(path, tmp_path / "fp16.onnx", tool=tool)
    model = onnx.load(info["path"])
    assert info["mixed_nodes"] == [] == graph_checks.mixed_float_nodes(model)
    f32, f16 = onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16
    assert all(v.type.tensor_type.elem_type == f32 for v in [*model.graph.input, *model.graph.output])
    assert any(i.data_type == f16 for i in model.graph.initializer)  # really converted
    out = ort_session(info["path"], prefer_cuda=False).run(None, {"input": x})
    _close(ref, out, min_cos=0.999)


def test_int8_check_flags_quantized_constant_into_add(exported, tmp_path):
    """onnxruntime unrestricted (what trt-tui used to write) quantizes GELU's constants: the check names them."""
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    path, _, _ = exported("gelu-mlp")
    src = BatchSource.random(FAMILIES["gelu-mlp"].input_shape, batch_size=BATCH, max_samples=16)
    out = tmp_path / "all-ops.onnx"
    quantize_static(str(path), str(out), src.as_ort_reader("input"), quant_format=QuantFormat.QDQ,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                    extra_options={"ActivationSymmetric": True, "WeightSymmetric": True})  # fmt: skip
    problems = graph_checks.int8_placement_problems(out)
    assert problems and any(op in p for p in problems for op in ("Add", "Mul", "Div"))
    assert "quantized constant" in graph_checks.summary(problems)


def test_fp16_check_flags_mixed_inputs():
    from onnx import TensorProto, helper

    g = helper.make_graph(
        [helper.make_node("ScatterND", ["data", "idx", "upd"], ["y"], name="scatter"),
         helper.make_node("Resize", ["h", "", "scales"], ["r"], name="resize")],
        "g",
        [helper.make_tensor_value_info("data", TensorProto.FLOAT, [4]),
         helper.make_tensor_value_info("idx", TensorProto.INT64, [1, 1]),
         helper.make_tensor_value_info("upd", TensorProto.FLOAT16, [1]),
         helper.make_tensor_value_info("h", TensorProto.FLOAT16, [1, 1, 2, 2]),
         helper.make_tensor_value_info("scales", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4]),
         helper.make_tensor_value_info("r", TensorProto.FLOAT16, None)],
    )  # fmt: skip
    problems = graph_checks.mixed_float_nodes(helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)]))
    # ScatterND ties data and updates to one type; Resize's float scales are a separate constraint
    assert problems == ["ScatterND scatter mixes float/half inputs"]


def test_temporaries_are_removed(exported, tmp_path, monkeypatch):
    """quant_pre_process and the quantizers leave nothing in the system temp folder."""
    import tempfile

    tmp_root = tmp_path / "tmp"
    tmp_root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_root))
    path, _, _ = exported("depthwise-bn")
    src = BatchSource.random(FAMILIES["depthwise-bn"].input_shape, batch_size=BATCH, max_samples=16)
    for tool in TOOLS:
        onnx_variants.quantize_qdq(path, tmp_path / f"q-{tool}.onnx", src, method="entropy", tool=tool)
        onnx_variants.convert_fp16(path, tmp_path / f"h-{tool}.onnx", tool=tool)
    assert list(tmp_root.iterdir()) == []
    assert tempfile.tempdir == str(tmp_root)


def test_gpu_families_script_without_tensorrt(tmp_path, monkeypatch):
    """The H200 script's CPU side: ONNX made and recorded, builds skipped with the reason (no TensorRT here)."""
    import json
    import runpy

    monkeypatch.setenv("TRT_TUI_TENSORRT", "none")
    script = runpy.run_path(str(__import__("pathlib").Path(__file__).parents[2] / "scripts" / "gpu_families.py"))
    out = tmp_path / "families.json"
    assert script["main"](["--out", str(out), "--models", "conv1d-sequence", "--calib-samples", "8",
                           "--device", "cpu", "--method", "minmax"]) == 0  # fmt: skip
    data = json.loads(out.read_text())
    rec = data["models"]["conv1d-sequence"]
    assert data["in_progress"] is None and "disabled" in data["tensorrt"]
    assert rec["int8_quantize"]["placement_problems"] == [] and rec["fp16_convert"]["mixed_nodes"] == []
    assert {rec[p]["status"] for p in ("fp32", "fp16", "int8")} == {"skipped"}
