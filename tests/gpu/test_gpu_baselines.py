"""GPU tests of the PyTorch baseline rows (CUDA graphs, torch.compile): `pytest -m gpu` on the H200
(scripts/gpu-suite.sh tests). They skip where there is no CUDA GPU; a skipped test is not a passed one."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU visible to PyTorch"),
]


@pytest.fixture(scope="module")
def cnn():
    from trt_tui.core import models

    return models.load_model("cnn")


@pytest.mark.parametrize("half", [False, True])
def test_graph_replay_matches_eager_and_launches_in_one_call(cnn, half):
    from trt_tui.core import bench, models, torch_runners

    x = models.sample_input(cnn.input_shape, 8)
    eager = bench.TorchRunner(cnn.module, x.shape, device="cuda", half=half)
    graph = torch_runners.GraphRunner(cnn.module, x.shape, device="cuda", half=half)
    ref, out = bench.run_batches(eager, x, 8), bench.run_batches(graph, x, 8)
    assert graph.capture_s > 0
    np.testing.assert_allclose(out[0], ref[0], rtol=1e-2 if half else 1e-4, atol=1e-2 if half else 1e-4)
    x2 = models.sample_input(cnn.input_shape, 8, seed=5)  # new data in the same static buffer
    np.testing.assert_allclose(bench.run_batches(graph, x2, 8)[0], bench.run_batches(eager, x2, 8)[0],
                               rtol=1e-2 if half else 1e-4, atol=1e-2 if half else 1e-4)
    m_e = bench.measure(eager, x, warmup=10, iterations=100)
    m_g = bench.measure(graph, x, warmup=10, iterations=100)
    assert m_g.gpu_compute_ms and m_g.enqueue_ms
    assert m_g.enqueue_ms["p50"] < m_e.enqueue_ms["p50"]  # one replay instead of one launch per kernel


@pytest.mark.parametrize("mode", ["default", "reduce-overhead"])
def test_compiled_runner_on_cuda(cnn, mode):
    from trt_tui.core import bench, models, torch_runners

    x = models.sample_input(cnn.input_shape, 8)
    ref = bench.run_batches(bench.TorchRunner(cnn.module, x.shape, device="cuda", half=True), x, 8)
    runner = torch_runners.CompiledRunner(cnn.module, x.shape, device="cuda", half=True, mode=mode)
    out = bench.run_batches(runner, x, 8)
    assert runner.compile_s > 0
    np.testing.assert_allclose(out[0], ref[0], rtol=2e-2, atol=2e-2)
    m = bench.measure(runner, x, warmup=10, iterations=100)  # outputs read after every inference
    assert m.gpu_compute_ms and m.iterations == 100
    runner.close()


def test_baseline_rows_in_a_run(tmp_path):
    out = tmp_path / "res"
    proc = subprocess.run([sys.executable, "-m", "trt_tui.cli", "run", "--model", "cnn", "--batch-size", "8",
                           "--rows", "pytorch-fp32,pytorch-graph-fp32,pytorch-graph-fp16", "--compile",
                           "--compile-mode", "default", "--iterations", "100", "--warmup", "10", "--out", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads((out / "results.json").read_text())
    rows = {r["row_id"]: r for r in data["rows"]}
    assert set(rows) == {"pytorch-fp32", "pytorch-graph-fp32", "pytorch-graph-fp16", "pytorch-compile-fp32",
                         "pytorch-compile-fp16"}
    for rid, r in rows.items():
        assert r["status"] == "ok", (rid, r["reason"])
        assert r["speedup_vs_best_pytorch"] is not None and r["speedup_vs_best_pytorch"] <= 1.0 + 1e-9
        if rid != "pytorch-fp32":
            assert r["build_time_s"] > 0 and r["cosine_sim"] > 0.99
    assert data["meta"]["first_row"]["row_id"] == "pytorch-fp32"


def test_onnxruntime_cuda_rows_run_through_iobinding(tmp_path, cnn):
    ort = pytest.importorskip("onnxruntime")
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        pytest.skip("this onnxruntime has no CUDA provider (pip install onnxruntime-gpu)")
    from trt_tui.core import bench, export, models, ort_runners

    path = tmp_path / "cnn.onnx"
    export.export_onnx(cnn.module, tuple(cnn.input_shape), 8, path, exporter="torchscript")
    x = models.sample_input(cnn.input_shape, 8)
    cpu = export.ort_session(path, prefer_cuda=False)
    want = cpu.run(None, {cpu.get_inputs()[0].name: x})[0]
    runner = ort_runners.cuda_runner(path, lambda: x.shape)
    np.testing.assert_allclose(bench.run_batches(runner, x, 8)[0], want, rtol=1e-2, atol=1e-2)
    m = bench.measure(runner, x, warmup=10, iterations=100)
    assert m.gpu_compute_ms and m.enqueue_ms  # CUDA events on its stream, like the TensorRT rows
    assert m.gpu_compute_ms["p50"] <= m.latency_ms["p50"]
