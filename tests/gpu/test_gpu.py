"""GPU tests: run on a CUDA machine with `pytest -m gpu` (scripts/gpu-suite.sh on the H200).

They skip with a reason where there is no CUDA GPU; a skipped test is not a passed one.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU visible to PyTorch"),
]


def trt_tui_run(tmp_path: Path, *args: str, timeout: int = 600) -> tuple[subprocess.CompletedProcess, dict]:
    out = tmp_path / "res"
    proc = subprocess.run([sys.executable, "-m", "trt_tui.cli", "run", "--out", str(out), *args],
                          capture_output=True, text=True, timeout=timeout)
    data = json.loads((out / "results.json").read_text()) if (out / "results.json").exists() else {}
    return proc, data


def rows_by_id(data: dict) -> dict[str, dict]:
    return {r["row_id"]: r for r in data.get("rows", [])}


def test_pytorch_cuda_rows_fp32_fp16(tmp_path):
    proc, data = trt_tui_run(tmp_path, "--model", "cnn", "--batch-size", "8", "--rows", "pytorch-fp32,pytorch-fp16",
                             "--iterations", "100", "--warmup", "10")
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = rows_by_id(data)
    for rid in ("pytorch-fp32", "pytorch-fp16"):
        r = rows[rid]
        assert r["status"] == "ok" and r["device"].startswith("cuda:0"), r
        assert 0 < r["gpu_compute_p50_ms"] <= r["latency_p50_ms"] * 1.5
        assert r["iterations"] == 100 and 0 < r["gpu_compute_iterations"] <= 100
        assert 0 < r["enqueue_p50_ms"] <= r["latency_p50_ms"], r
    assert rows["pytorch-fp16"]["top1_agreement"] > 0.9
    assert rows["pytorch-fp32"]["tf32"] == "on"
    assert data["env"]["gpu"] and data["env"]["compute_capability"]


def test_cuda_event_timing_tracks_gpu_work():
    """GPU compute time follows the work actually enqueued (a spin kernel of known cycles)."""
    from trt_tui.core import bench

    class Spin:
        device, stream = "cuda", torch.cuda.Stream()

        def __init__(self, cycles: int) -> None:
            self.cycles = cycles

        def compute(self) -> None:
            with torch.cuda.stream(self.stream):
                torch.cuda._sleep(self.cycles)

    short = np.median(bench.gpu_compute_times(Spin(1_000_000), 50).ms)
    long = np.median(bench.gpu_compute_times(Spin(4_000_000), 50, lead_ms=1.0).ms)
    assert 3.0 < long / short < 5.0, (short, long)


def test_gpu_loop_ends_once_its_median_is_as_precise_as_asked():
    """A steady kernel's GPU times reach a ±0.5 % CI long before 2000 iterations: the loop stops at a
    check (>= 64, a multiple of 32) with that precision, and its median is the full loop's."""
    from trt_tui.core import bench, stats

    class Spin:
        device, stream = "cuda", torch.cuda.Stream()

        def compute(self) -> None:
            with torch.cuda.stream(self.stream):
                torch.cuda._sleep(200_000)

    full = bench.gpu_compute_times(Spin(), 400, l2_flush=False).ms
    short = bench.gpu_compute_times(Spin(), 2000, l2_flush=False, precision=0.005).ms
    assert bench.AUTO_MIN_ITERATIONS <= len(short) < 2000 and len(short) % bench.GPU_CHECK_EVERY == 0, len(short)
    assert stats.relative_halfwidth(short) <= 0.005
    assert abs(np.median(short) / np.median(full) - 1) < 0.02, (np.median(short), np.median(full))
    never = bench.gpu_compute_times(Spin(), 100, l2_flush=False, precision=0.0).ms  # unreachable: all of them
    assert len(never) == 100


class ManyTinyKernels:
    """A launch-bound workload: 400 tiny in-place adds (the GPU runs each in a few µs, the CPU
    needs longer to launch it), like eager PyTorch of a small model at batch 1."""

    device = "cuda"

    def __init__(self) -> None:
        self.stream = torch.cuda.current_stream()
        self.x = torch.zeros(16, device="cuda")

    def compute(self) -> None:
        for _ in range(400):
            self.x.add_(1.0)


def test_gpu_compute_hides_cpu_launch_time():
    """With the spin ahead of each iteration the events time the GPU's work (≈ a CUDA graph replay of
    the same kernels), not the CPU's launch rate; without it they time the launch rate."""
    import time

    from trt_tui.core import bench

    work = ManyTinyKernels()
    for _ in range(3):
        work.compute()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(20):
        work.compute()
    enqueue_ms = (time.perf_counter() - t0) * 1e3 / 20
    torch.cuda.synchronize()
    exposed = np.median(bench.gpu_compute_times(work, 30, l2_flush=False).ms)
    hidden = bench.gpu_compute_times(work, 30, l2_flush=False, lead_ms=1.5 * enqueue_ms + 0.05)
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.stream(side), torch.cuda.graph(graph):
        work.compute()
    replays = []
    for _ in range(20):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        graph.replay()
        e.record()
        e.synchronize()
        replays.append(s.elapsed_time(e))
    graph_ms, hidden_ms = float(np.median(replays)), float(np.median(hidden.ms))
    print(f"enqueue {enqueue_ms:.3f} ms, events without spin {exposed:.3f} ms, with spin {hidden_ms:.3f} ms "
          f"(lead {hidden.lead_ms:.3f} ms, exposed {hidden.launch_exposed}/30), CUDA graph {graph_ms:.3f} ms")
    assert hidden.lead_ms > 0 and hidden.launch_exposed <= 3
    too_short = bench.gpu_compute_times(work, 30, l2_flush=False, lead_ms=0.01)
    assert too_short.launch_exposed >= 25, too_short  # a spin shorter than the launch is reported
    assert exposed > 0.6 * enqueue_ms  # the unhidden events follow the CPU's launch rate...
    assert hidden_ms < 0.6 * exposed  # ...the hidden ones do not
    assert hidden_ms < 3 * graph_ms  # and stay near the GPU's own time for the same kernels


def test_measure_reports_enqueue_and_gpu_time_apart():
    """measure() on a launch-bound runner: enqueue time (CPU) well above GPU compute (hidden launch)."""
    from trt_tui.core import bench

    class Runner(ManyTinyKernels):
        def set_input(self, host):
            pass

        def h2d(self):
            pass

        def outputs(self):
            return [self.x.cpu().numpy()]

        def close(self):
            pass

    m = bench.measure(Runner(), np.zeros(1, np.float32), warmup=5, iterations=50)
    print(m.row_fields(1), m.launch_exposed)
    assert m.enqueue_ms["p50"] > 1.5 * m.gpu_compute_ms["p50"], (m.enqueue_ms, m.gpu_compute_ms)
    assert m.launch_exposed <= 3 and not m.note


def test_onnxruntime_parity_from_gpu_model(tmp_path):
    from trt_tui.core import export, models

    loaded = models.load_model("cnn")
    path = tmp_path / "cnn.onnx"
    export.export_onnx(loaded.module, loaded.input_shape, 4, path)
    x = models.sample_input(loaded.input_shape, 4, 0)
    parity = export.ort_parity(path, loaded.module.cuda(), x)
    assert parity["max_abs_err"] < 1e-3, parity


def test_child_process_on_gpu_streams_events():
    from trt_tui.core.config import RunConfig
    from trt_tui.core.events import Finished, RowEvent
    from trt_tui.child_job import JobProcess

    cfg = RunConfig(model="digits-cnn", rows=("pytorch-fp32",), iterations=50, warmup=5, out_dir=None)
    events = list(JobProcess(cfg).events())
    assert isinstance(events[-1], Finished) and events[-1].status == "ok"
    final = [e.row for e in events if isinstance(e, RowEvent) and e.row["status"] == "ok"]
    assert final and final[-1]["device"].startswith("cuda")
    assert final[-1]["label_accuracy"] > 0.9


@pytest.mark.parametrize("model,batch", [("digits-cnn", "32"), ("cnn", "32"), ("resnet50", "8")])
def test_full_run(tmp_path, model, batch):
    proc, data = trt_tui_run(tmp_path, "--model", model, "--batch-size", batch, "--iterations", "100",
                             "--warmup", "10", "--max-seconds", "10", "--calib-samples", "64")
    rows = rows_by_id(data)
    failed = [r for r in rows.values() if r["status"] == "failed"]  # TensorRT-RTX on CC 9.0 builds, cannot run
    assert proc.returncode == (3 if failed else 0), proc.stderr[-3000:]  # 3: finished with failed rows
    assert "trt-tui results" in proc.stdout
    for rid in ("pytorch-fp32", "pytorch-fp16", "pytorch-graph-fp32", "pytorch-graph-fp16", "onnxruntime-fp32",
                "onnxruntime-int8"):
        assert rows[rid]["status"] == "ok", rows[rid]
    for rid in ("tensorrt-fp32", "tensorrt-fp16", "tensorrt-int8"):
        assert rows[rid]["status"] in ("ok", "skipped", "failed")
        if rows[rid]["status"] != "ok":
            assert rows[rid]["reason"], rows[rid]
    assert (tmp_path / "res" / "results.csv").read_text().count("\n") == 1 + len(rows)  # header + every row


def test_out_of_gpu_memory_is_a_row_failure(tmp_path):
    """A batch too large for the GPU fails its rows with a clear reason; the run still finishes."""
    # cnn FP32 at a million images needs two 65 GB activations at once (FP16 can fit in 141 GB)
    proc, data = trt_tui_run(tmp_path, "--model", "cnn", "--batch-size", "1000000", "--rows",
                             "pytorch-fp32", "--iterations", "3", "--warmup", "1")
    row = rows_by_id(data)["pytorch-fp32"]
    assert "Traceback" not in proc.stdout
    assert row["status"] == "failed" and "out of GPU memory at batch size 1000000" in row["reason"], row
    proc2, data2 = trt_tui_run(tmp_path, "--model", "cnn", "--batch-size", "4", "--rows", "pytorch-fp32",
                               "--iterations", "10", "--warmup", "2")
    assert proc2.returncode == 0 and rows_by_id(data2)["pytorch-fp32"]["status"] == "ok"
