"""Per-layer FP16 / INT8 divergence (core/layers.py) on the real converters and real onnxruntime."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch
from torch import nn

from trt_tui.core import layers
from trt_tui.core.calib_batches import BatchSource
from trt_tui.core.export import export_onnx
from trt_tui.core.onnx_variants import convert_fp16, quantize_qdq


class Overflows(nn.Module):
    """``big`` outputs ~1e5 (over FP16's 65504) on ordinary inputs; LayerNorm brings it back to ~1."""

    def __init__(self) -> None:
        super().__init__()
        self.pre = nn.Linear(8, 32)
        self.big = nn.Linear(32, 32)
        self.norm = nn.LayerNorm(32)
        self.head = nn.Linear(32, 4)
        with torch.no_grad():
            self.big.weight.mul_(4e5)

    def forward(self, x):
        return self.head(self.norm(self.big(torch.relu(self.pre(x)))))


class Outliers(nn.Module):
    """``fc2`` gives one channel ~1e4 while the rest stay ~1: ``fc3`` reads that activation, barely
    uses the outlier channel, so one INT8 scale for its input wipes out what it does use."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.fc2, self.fc3, self.head = nn.Linear(16, 64), nn.Linear(64, 64), nn.Linear(64, 64), nn.Linear(64, 10)
        with torch.no_grad():
            self.fc2.weight[0].mul_(1e4)
            self.fc2.bias[0] = 1e4
            self.fc3.weight[:, 0].mul_(1e-4)

    def forward(self, x):
        h = torch.relu(self.fc1(x))
        return self.head(torch.relu(self.fc3(torch.relu(self.fc2(h)))))


def _export(module: nn.Module, shape: tuple[int, ...], path, batch: int = 8):
    torch.manual_seed(0)
    export_onnx(module.eval(), shape, batch, path, exporter="dynamo")
    return path


def _first(entry, key):
    return layers.by_node(entry)[entry[key][0]]


def test_fp16_overflow_is_found_by_name(tmp_path):
    torch.manual_seed(0)
    fp32 = _export(Overflows(), (8,), tmp_path / "m.onnx")
    fp16 = convert_fp16(fp32, tmp_path / "m_fp16.onnx")["path"]
    x = np.random.default_rng(0).standard_normal((32, 8)).astype(np.float32)
    data = layers.explain(fp32, {"fp16": fp16}, x)
    entry = data["variants"]["fp16"]
    assert entry["status"] == "ok" and data["samples"] == 8  # the exported model's fixed batch
    assert entry["overflow"], entry
    first = entry["overflow"][0]
    assert first["module"] == "big" and first["problem"].startswith("overflow")
    assert _first(entry, "first_jumps")["module"] == "big"
    assert _first(entry, "top_growth")["module"] == "big" and _first(entry, "top_growth")["growth"] > 0.9
    assert entry["output_loss"] == 1.0  # the NaN reaches the output
    # the LayerNorm that receives the inf is not reported as a second place where it starts
    assert [o["module"] for o in entry["overflow"]] == ["big"]
    # and nothing before ``big`` is blamed
    pre = next(n for n in entry["nodes"] if n["module"] == "pre")
    assert pre["loss"] < 1e-2 and not pre["problem"]


@pytest.mark.parametrize("method", ["minmax", "entropy"])
def test_int8_wide_activation_range_puts_its_consumer_first(tmp_path, method):
    torch.manual_seed(0)
    fp32 = _export(Outliers(), (16,), tmp_path / "m.onnx")
    rng = np.random.default_rng(1)
    calib = BatchSource.from_array(rng.standard_normal((256, 16)).astype(np.float32), (16,), batch_size=8)
    int8 = quantize_qdq(fp32, tmp_path / "m_int8.onnx", calib, method=method)["path"]
    x = rng.standard_normal((64, 16)).astype(np.float32)
    entry = layers.explain(fp32, {"int8": int8}, x)["variants"]["int8"]
    assert entry["status"] == "ok"
    top = _first(entry, "top_growth")
    assert top["module"] == "fc3", [layers.describe(layers.by_node(entry)[n]) for n in entry["top_growth"]]
    assert top["growth"] > 0.5
    fc1 = next(n for n in entry["nodes"] if n["module"] == "fc1")
    assert fc1["loss"] < 0.1  # an ordinary layer loses little


def test_every_node_matches_through_the_real_converters(digits, tmp_path):
    """Each float tensor of the FP32 graph finds the variant tensor its own node made (not a Cast/Q/DQ)."""
    fp32 = _export(digits.module, digits.input_shape, tmp_path / "d.onnx", batch=4)
    fp16 = convert_fp16(fp32, tmp_path / "d16.onnx")["path"]
    src = BatchSource.from_digits(digits.input_shape, batch_size=4, max_samples=64)
    int8 = quantize_qdq(fp32, tmp_path / "d8.onnx", src, method="minmax")["path"]
    ref = onnx.load(str(fp32))
    ops = {o: n.op_type for n in ref.graph.node for o in n.output}
    for path in (fp16, int8):
        model = onnx.load(str(path))
        made_by = {o: n.op_type for n in model.graph.node for o in n.output}
        pairs, unmatched = layers.match_tensors(ref, model)
        assert pairs and not [u for u in unmatched if ops[u] != "BatchNormalization"], unmatched
        for name, twin in pairs.items():
            assert made_by[twin] == ops[name], (path, name, twin)


def test_missing_and_broken_variants_are_recorded_not_raised(tmp_path):
    fp32 = _export(Overflows(), (8,), tmp_path / "m.onnx")
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"not a model")
    x = np.zeros((8, 8), np.float32)
    data = layers.explain(fp32, {"fp16": None, "int8": bad}, x)
    assert data["variants"]["fp16"]["status"] == "skipped" and "model_fp16.onnx" in data["variants"]["fp16"]["reason"]
    assert data["variants"]["int8"]["status"] == "failed" and data["variants"]["int8"]["reason"]
    path = layers.write(tmp_path, data)
    assert layers.load(tmp_path) == layers._json_safe(data) and path.name == "layers.json"


def test_chunks_give_the_same_numbers_as_one_run(tmp_path):
    """A small memory cap splits the exposed tensors over several runs without changing a figure."""
    fp32 = _export(Overflows(), (8,), tmp_path / "m.onnx")
    fp16 = convert_fp16(fp32, tmp_path / "m_fp16.onnx")["path"]
    x = np.random.default_rng(0).standard_normal((8, 8)).astype(np.float32)
    one = layers.compare_variant(fp32, fp16, x)
    many = layers.compare_variant(fp32, fp16, x, max_bytes=1)
    assert one["runs"] == 1 and many["runs"] == one["tensors_compared"] > 3
    assert layers._json_safe(one["nodes"]) == layers._json_safe(many["nodes"])


def test_tensor_errors_flags_underflow_and_new_nan_only():
    ref = np.array([1e-8, 2e-8, -3e-8], np.float32)
    under = layers.tensor_errors(ref, np.zeros(3, np.float16))
    assert under["all_zero"] and under["loss"] == 1.0 and "underflow" in layers._problem(under)
    same_nan = layers.tensor_errors(np.array([np.nan, 1.0]), np.array([np.nan, 1.0]))
    assert same_nan["nan"] == 0 and same_nan["loss"] == 0.0  # NaN already in FP32 is not the variant's fault
