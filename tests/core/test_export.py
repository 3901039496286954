from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from trt_tui.core import export as exp
from trt_tui.core.errors import ModelError, TrtTuiError
from trt_tui.core.export import check_onnx, export_onnx, onnx_stats, ort_parity, ort_session
from trt_tui.core.models import load_model, sample_input

EXPORTERS = ["dynamo", "torchscript"]


@pytest.fixture(scope="module")
def models(digits):
    return {"mlp": load_model("mlp"), "cnn": load_model("cnn"), "digits-cnn": digits}


@pytest.mark.parametrize("exporter", EXPORTERS)
@pytest.mark.parametrize("name", ["mlp", "cnn", "digits-cnn"])
def test_export_check_stats_parity(models, tmp_path, name, exporter):
    m = models[name]
    rec = export_onnx(m.module, m.input_shape, 2, tmp_path / f"{name}.onnx", opset=18, exporter=exporter)
    path = Path(rec["path"])
    assert rec["exporter"] == exporter and rec["torch_version"] == torch.__version__
    assert rec["opset"] == rec["opset_in_file"] == 18 and rec["external_data"] == []
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{name}.onnx"]  # one self-contained file
    assert check_onnx(path)["ok"]

    stats = onnx_stats(path)
    assert stats["size_bytes"] == rec["size_bytes"] == path.stat().st_size
    assert stats["opset"] == 18 and stats["producer"].startswith("pytorch") and stats["nodes"] > 0
    assert stats["inputs"] == [{"name": "input", "shape": [2, *m.input_shape], "dtype": "float32"}]
    assert stats["outputs"] == [{"name": "output", "shape": [2, 10], "dtype": "float32"}]
    torch_params = sum(p.numel() for p in m.module.parameters())
    if name == "mlp":
        assert abs(stats["parameters"] - torch_params) < 16  # + a Reshape's shape constant
    else:  # BatchNorm folded into the convolutions
        assert 0 < stats["parameters"] < torch_params and "BatchNormalization" not in stats["ops"]

    parity = ort_parity(path, m.module, sample_input(m.input_shape, 2, seed=0))
    assert parity["passed"], parity
    assert parity["provider"] in ("CPUExecutionProvider", "CUDAExecutionProvider")
    assert parity["max_abs_err"] < 1e-4 and parity["top1_agreement"] == 1.0 and parity["cosine_sim"] > 0.99999
    assert "1e-3" in parity["tolerance"] or "0.001" in parity["tolerance"]


@pytest.mark.parametrize("exporter", EXPORTERS)
@pytest.mark.parametrize("batch_size", [1, 3])
def test_dynamic_batch_runs_at_1_and_4(models, tmp_path, exporter, batch_size):
    m = models["cnn"]
    rec = export_onnx(m.module, m.input_shape, batch_size, tmp_path / "cnn.onnx", exporter=exporter, dynamic_batch=True)
    batch_dim = onnx_stats(rec["path"])["inputs"][0]["shape"][0]
    assert isinstance(batch_dim, str)  # symbolic
    sess = ort_session(rec["path"], prefer_cuda=False)
    for b in (1, 4):
        x = sample_input(m.input_shape, b, seed=b)
        (out,) = sess.run(None, {"input": x})
        with torch.no_grad():
            ref = m.module(torch.from_numpy(x)).numpy()
        assert out.shape == (b, 10) and np.allclose(out, ref, atol=1e-4)


class Eigh(torch.nn.Module):
    """linalg.eigh has no ONNX translation in either exporter."""

    def forward(self, x):
        return torch.linalg.eigh(x @ x.transpose(-1, -2))[0]


@pytest.mark.parametrize("exporter", EXPORTERS)
def test_export_failure_raises_model_error(tmp_path, exporter):
    with pytest.raises(ModelError, match=f"{exporter} export failed: .*eigh") as info:
        export_onnx(Eigh(), (4, 4), 1, tmp_path / "e.onnx", exporter=exporter)
    assert "Traceback" in info.value.detail
    assert list(tmp_path.iterdir()) == []  # nothing half-written is left behind


class BranchOnValue(torch.nn.Module):
    """Python control flow on a tensor's value: torch.export cannot trace it, the TorchScript tracer
    records the branch the example takes."""

    def forward(self, x):
        if x.sum() > 0:
            return x * 2
        return -x


def test_dynamo_failure_falls_back_to_torchscript_and_says_why(tmp_path):
    rec = export_onnx(BranchOnValue(), (3,), 2, tmp_path / "b.onnx", exporter="dynamo")
    assert rec["exporter"] == "torchscript"
    assert rec["fallback"].startswith("dynamo export failed: ") and len(rec["fallback"].splitlines()) == 1
    assert any("trace might not generalize" in w or "Python boolean" in w for w in rec["warnings"]), rec["warnings"]
    parity = ort_parity(rec["path"], BranchOnValue(), sample_input((3,), 2, seed=0), prefer_cuda=False)
    assert parity["passed"], parity  # the branch its example took, which the parity check holds it to
    assert "fallback" not in export_onnx(torch.nn.Linear(3, 2), (3,), 1, tmp_path / "l.onnx", exporter="dynamo")


def test_no_fallback_from_an_exported_program_or_an_opset_torchscript_cannot_write(tmp_path, monkeypatch):
    monkeypatch.setattr(exp, "opset_problem", lambda opset, how: "the installed torchscript exporter writes opsets 7 to 20")
    with pytest.raises(ModelError, match="dynamo export failed: .*; no TorchScript export to fall back on: .*7 to 20"):
        export_onnx(BranchOnValue(), (3,), 2, tmp_path / "b.onnx", exporter="dynamo")


def test_export_is_written_whole_then_renamed(tmp_path):
    (tmp_path / "m.onnx").write_bytes(b"stale")
    rec = export_onnx(torch.nn.Linear(3, 2), (3,), 1, tmp_path / "m.onnx", exporter="torchscript")
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]
    assert rec["size_bytes"] == (tmp_path / "m.onnx").stat().st_size > 5


def test_multiple_outputs_named(tmp_path):
    class Two(torch.nn.Module):
        def forward(self, x):
            return x.relu(), x.sum(dim=1)

    rec = export_onnx(Two(), (3,), 2, tmp_path / "two.onnx", exporter="torchscript")
    assert rec["output_names"] == ["output_0", "output_1"]
    parity = ort_parity(rec["path"], Two(), sample_input((3,), 2, 0), prefer_cuda=False)
    assert parity["passed"] and len(parity["outputs"]) == 2


def test_large_weights_go_to_external_data(models, tmp_path, monkeypatch):
    m = models["mlp"]
    monkeypatch.setattr(exp, "EXTERNAL_DATA_BYTES", 0)
    rec = export_onnx(m.module, m.input_shape, 1, tmp_path / "big.onnx", exporter="dynamo")
    assert rec["external_data"] == ["big.onnx.data"]
    stats = onnx_stats(rec["path"])
    assert stats["size_bytes"] == rec["size_bytes"] > (tmp_path / "big.onnx").stat().st_size
    assert check_onnx(rec["path"])["ok"]
    assert ort_parity(rec["path"], m.module, sample_input(m.input_shape, 1, 0))["passed"]


def test_checker_failure(tmp_path):
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    graph = helper.make_graph([helper.make_node("Relu", ["not_defined"], ["y"])], "g", [x], [y])
    p = tmp_path / "bad.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), p)
    with pytest.raises(TrtTuiError, match="ONNX checker failed on bad.onnx"):
        check_onnx(p)


def test_ort_session_cpu_fallback(models, tmp_path):
    m = models["mlp"]
    rec = export_onnx(m.module, m.input_shape, 1, tmp_path / "m.onnx", exporter="torchscript")
    assert ort_session(rec["path"], prefer_cuda=False).get_providers() == ["CPUExecutionProvider"]
    providers = ort_session(rec["path"], prefer_cuda=True).get_providers()
    import onnxruntime

    # CUDA needs both a CUDA build of onnxruntime (onnxruntime-gpu) and a driver; else CPU, silently.
    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers() or not exp._cuda_driver_present():
        assert providers == ["CPUExecutionProvider"]
    else:
        assert providers[0] in ("CUDAExecutionProvider", "CPUExecutionProvider")
