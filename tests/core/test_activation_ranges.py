"""trt-tui's own calibration pass: TensorRT's entropy threshold search and the ranges handed to the tools."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch
from onnx import helper, numpy_helper

from trt_tui.core import activation_ranges
from trt_tui.core.calib_batches import BatchSource
from trt_tui.core.heartbeat import StepProgress


def kl_reference(bins: np.ndarray, start: int = 128, levels: int = 128) -> int:
    """NVIDIA pytorch-quantization's ``_compute_amax_entropy`` loop (one candidate at a time), as a bin count."""
    from scipy.stats import entropy

    divs = []
    for i in range(start, len(bins) + 1):
        level = np.digitize(range(i), np.linspace(0, i, num=levels + 1)) - 1
        level[bins[:i] == 0] = -1
        counts = np.zeros(levels)
        np.add.at(counts, level[level >= 0], bins[:i][level >= 0])
        per = np.bincount(level[level >= 0], minlength=levels)
        counts = np.divide(counts, per, out=np.zeros(levels), where=per > 0)
        q = np.where(level >= 0, counts[np.maximum(level, 0)], 0.0)
        p = bins[:i].astype(float)
        p[-1] += bins[i:].sum()
        divs.append(entropy(p / p.sum(), q / q.sum()))
    divs = np.array(divs)
    return int(len(divs) - 1 - np.argmin(divs[::-1]) + start)


def samples():
    rng = np.random.default_rng(0)
    n = 50_000
    return {"normal": np.abs(rng.standard_normal(n)), "laplace": np.abs(rng.laplace(size=n)),
            "relu": np.maximum(rng.standard_normal(n) * 2 + 0.5, 0), "student-t": np.abs(rng.standard_t(3, size=n))}  # fmt: skip


def test_vectorised_kl_search_equals_the_reference_loop():
    hists = [np.histogram(x, bins=400, range=(0, x.max()))[0] for x in samples().values()]
    ours = activation_ranges.entropy_bins(torch.tensor(np.array(hists), dtype=torch.float64)).tolist()
    assert ours == [kl_reference(h) for h in hists]


def test_entropy_threshold_is_close_to_onnxruntime_on_the_same_histogram():
    """ORT's EntropyCalibrater search (signed histogram, smoothing, remainder bins) on the mirrored 2048-bin
    |x| histogram: same ballpark, and both clip heavy tails well below max |x|."""
    from onnxruntime.quantization.calibrate import HistogramCollector

    for name, x in samples().items():
        top = float(x.max())
        h = np.histogram(x, bins=2048, range=(0, top))[0]
        ours = int(activation_ranges.entropy_bins(torch.tensor(h[None], dtype=torch.float64))[0]) * top / 2048
        mirrored = (np.concatenate([h[::-1], h]), np.linspace(-top, top, 4097, dtype=np.float32),
                    np.float32(-top), np.float32(top))  # fmt: skip
        ort = float(HistogramCollector("entropy", True, 4096, 128, None, None).get_entropy_threshold(mirrored, 128)[1])
        assert 1 / 1.45 < ours / ort < 1.45, (name, ours, ort)  # measured: 0.79 .. 1.35
        if name == "student-t":
            assert ours < 0.5 * top and ort < 0.5 * top


def test_running_range_merges_bins_exactly():
    """A later batch past the range widens it by an integer factor; the histogram equals one built at once."""
    col = activation_ranges.RangeCollector("entropy", "cpu", bins=64)
    a = torch.linspace(0, 1, 1000)
    b = torch.linspace(0, 2.5, 1000)
    col.add("t", a)
    col.add("t", b)
    assert col.range["t"] == 3.0  # 1.0 widened by k = ceil(2.5 / 1.0)
    expected = torch.histc(a, 64, 0, 3.0) + torch.histc(b, 64, 0, 3.0)
    # exact up to values sitting on a merged bin edge (float rounding of the first histogram's edges)
    assert col.hist["t"].sum() == 2000 and (col.hist["t"] - expected.double()).abs().sum() <= 4
    assert col.amax["t"] == pytest.approx(2.5)
    assert col.amaxes()["t"] <= 2.5


def _tiny(path):
    """x -> Conv -> Relu -> MatMul; the tensors onnxruntime quantizes are x, conv out, relu out, matmul out."""
    rng = np.random.default_rng(1)
    w = numpy_helper.from_array(rng.standard_normal((4, 2, 3, 3)).astype(np.float32), "w")
    m = numpy_helper.from_array(rng.standard_normal((6, 5)).astype(np.float32), "m")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"]), helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("MatMul", ["r", "m"], ["y"])]  # fmt: skip
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [4, 2, 8, 8])],
                              [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)], [w, m])  # fmt: skip
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), str(path))


@pytest.mark.parametrize("method", ["minmax", "entropy"])
def test_ranges_match_onnxruntime_minmax_and_report_each_batch(tmp_path, method):
    from onnxruntime.quantization.calibrate import MinMaxCalibrater

    path = tmp_path / "tiny.onnx"
    _tiny(path)
    model = onnx.load(str(path))
    assert activation_ranges.activation_tensors(model, ["Conv", "MatMul"]) == ["x", "r"]
    tensors = activation_ranges.activation_tensors(model, ["Conv", "MatMul"], outputs=True)
    assert tensors == ["x", "c", "r", "y"]
    src = BatchSource.random((2, 8, 8), 4, max_samples=40)
    events = []
    progress = StepProgress(lambda *e: events.append(e))
    amax, info = activation_ranges.tensor_ranges(path, tensors, src, "x", method, providers=["CPUExecutionProvider"],
                                         progress=progress, tmp=tmp_path)  # fmt: skip
    steps = [e[1] for e in events if e[0] == "calibration" and e[1] > 0]
    assert steps == list(range(1, 11)) and info["tensors_calibrated"] == 4
    ref = MinMaxCalibrater(str(path), ["Conv", "MatMul"], str(tmp_path / "aug.onnx"), symmetric=True)
    ref.augment_graph()
    ref.create_inference_session()
    ref.collect_data(src.as_ort_reader("x"))
    ranges = ref.compute_data()
    for t in tensors:
        ort_amax = float(np.asarray(ranges[t].range_value[1]).ravel()[0])
        if method == "minmax":
            assert amax[t] == pytest.approx(ort_amax, rel=1e-5)
        else:
            assert 0 < amax[t] <= ort_amax * (1 + 1e-6)


@pytest.mark.parametrize("tool", ["onnxruntime"] + (["modelopt"] if __import__("trt_tui.core.onnx_variants", fromlist=["x"]).modelopt_version() else []))
def test_the_tools_do_not_calibrate_again(tmp_path, tool, monkeypatch):
    """Every batch is read once, by trt-tui's pass (ModelOpt's placement reads the first one once more);
    onnxruntime's quantize_static never builds a calibrator."""
    import importlib

    from trt_tui.core.onnx_variants import quantize_qdq

    path = tmp_path / "tiny.onnx"
    _tiny(path)
    reads = []
    data = np.random.default_rng(2).standard_normal((48, 2, 8, 8)).astype(np.float32)
    src = BatchSource(lambda i: (reads.append(i), data[i * 4 : i * 4 + 4])[1], 48, (2, 8, 8), 4, "npy", "test data")
    if tool == "onnxruntime":
        monkeypatch.setattr(importlib.import_module("onnxruntime.quantization.quantize"), "create_calibrator", lambda *a, **k: pytest.fail("quantize_static calibrated"))
    events = []
    info = quantize_qdq(path, tmp_path / "q.onnx", src, method="entropy", tool=tool, on_progress=lambda *e: events.append(e))
    assert sorted(reads) == sorted(list(range(12)) + ([0] if tool == "modelopt" else []))
    assert info["ranges_by"] == "trt-tui" and set(info["calibrate_seconds"]) == {"inference", "statistics", "thresholds"}
    assert "calibration" in info["phase_seconds"] and "entropy thresholds" in info["phase_seconds"]
    steps = [e[1] for e in events if e[0] == "calibration" and e[1]]  # the heartbeat may repeat one
    assert sorted(set(steps)) == list(range(1, 13)) and steps == sorted(steps)
