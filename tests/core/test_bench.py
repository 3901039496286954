"""The timing harness on the CPU: real PyTorch and onnxruntime runners through bench.measure."""

from __future__ import annotations

import time

import numpy as np
import pytest

from trt_tui.core import bench, models
from trt_tui.core.results import COLUMNS


@pytest.fixture(scope="module")
def mlp():
    return models.load_model("mlp")


def test_measure_a_torch_runner_on_the_cpu(mlp):
    x = models.sample_input(mlp.input_shape, 4)
    runner = bench.TorchRunner(mlp.module, x.shape, device="cpu")
    m = bench.measure(runner, x, warmup=3, iterations=40)
    lat = m.latency_ms
    assert m.iterations == 40 and m.warmup == 3
    assert 0 < lat["min"] <= lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"]
    assert m.gpu_compute_ms is None and m.enqueue_ms is None  # GPU-only figures stay empty on the CPU
    fields = m.row_fields(batch_size=4)
    assert set(fields) <= set(COLUMNS)
    assert fields["images_per_s"] == pytest.approx(4 * fields["throughput_per_s"])
    # throughput is iterations over the loop's wall time, so it cannot beat 1 / mean latency
    assert m.throughput_per_s <= 1e3 / lat["mean"] * 1.001


class SlowRunner:
    """A CPU runner whose compute takes 20 ms: the time budget must stop the loops early."""

    device, stream = "cpu", None

    def set_input(self, host):
        pass

    def h2d(self):
        pass

    def compute(self):
        time.sleep(0.02)

    def outputs(self):
        return []

    def close(self):
        pass


def test_time_budget_bounds_warmup_and_loop_but_keeps_ten_iterations():
    ticks = []
    m = bench.measure(SlowRunner(), np.zeros(1), warmup=100, iterations=1000, max_seconds=0.3,
                      on_progress=lambda phase, done, total: ticks.append((phase, done, total)))
    assert m.warmup < 100 and 10 <= m.iterations < 1000
    # warm-up and timed iterations counted apart, each ending exactly at its (shortened) total
    warm = [t for t in ticks if t[0] == "warm-up"]
    timed = [t for t in ticks if t[0] == "timed"]
    assert ticks == warm + timed and len(warm) == m.warmup and len(timed) == m.iterations
    assert warm[-1] == ("warm-up", m.warmup, m.warmup) and timed[-1] == ("timed", m.iterations, m.iterations)
    assert {t[2] for t in timed[:-1]} == {1000} and [t[1] for t in timed] == list(range(1, m.iterations + 1))
    short = bench.measure(SlowRunner(), np.zeros(1), warmup=0, iterations=50, max_seconds=0.001)
    assert short.iterations == 10


def test_progress_counts_warmup_apart_from_the_timed_iterations():
    ticks = []
    bench.measure(SlowRunner(), np.zeros(1), warmup=3, iterations=5,
                  on_progress=lambda phase, done, total: ticks.append((phase, done, total)))
    assert ticks == [("warm-up", 1, 3), ("warm-up", 2, 3), ("warm-up", 3, 3),
                     *[("timed", i, 5) for i in range(1, 6)]]


def test_measure_an_onnxruntime_runner(tmp_path, mlp):
    import onnxruntime as ort

    from trt_tui.core import export

    path = tmp_path / "mlp.onnx"
    export.export_onnx(mlp.module, mlp.input_shape, 2, path)
    runner = bench.OrtRunner(ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]))
    x = models.sample_input(mlp.input_shape, 2)
    m = bench.measure(runner, x, warmup=2, iterations=20)
    assert runner.device == "cpu" and m.iterations == 20 and m.gpu_compute_ms is None
    np.testing.assert_allclose(runner.outputs()[0], mlp.module(__import__("torch").from_numpy(x)).detach().numpy(),
                               atol=1e-5)


def test_launch_note_only_above_five_percent():
    base = dict(latency_ms=bench.summarize([1.0]), gpu_compute_ms=bench.summarize([0.5]), throughput_per_s=1.0,
                wall_s=1.0, iterations=100, warmup=0)
    assert bench.Measurement(**base, launch_exposed=5).note == ""
    assert "6/100" in bench.Measurement(**base, launch_exposed=6).note


def test_the_latency_half_is_handed_over_before_the_measurement_ends(mlp):
    """on_latency gets the latency statistics once the latency loop ends (the first number on screen
    while a CUDA row's GPU loop still runs); they are the final measurement's latency figures."""
    runner = bench.TorchRunner(mlp.module, (2, *mlp.input_shape), device="cpu")
    seen, steps = [], []
    m = bench.measure(runner, np.ones((2, *mlp.input_shape), np.float32), warmup=2, iterations=20,
                      on_latency=lambda part: seen.append((part, len(steps))),
                      on_progress=lambda phase, step, total: steps.append(phase))
    assert len(seen) == 1
    part, at = seen[0]
    assert at == len(steps) and steps[-1] == "timed"  # handed over right after the last timed step
    assert part.latency_ms == m.latency_ms and part.iterations == m.iterations == 20
    assert part.gpu_compute_ms is None
    assert part.row_fields(2)["latency_p50_ms"] == m.row_fields(2)["latency_p50_ms"]


def test_the_running_median_is_handed_over_during_the_timed_loop(mlp, monkeypatch):
    """on_running gets (iterations so far, their median) from the 10th timed iteration on, each
    within the final measurement's range, and never for the last iteration (on_latency has it)."""
    monkeypatch.setattr(bench, "RUNNING_EVERY_S", 0.0)  # every iteration once past the 10th
    runner = bench.TorchRunner(mlp.module, (2, *mlp.input_shape), device="cpu")
    seen = []
    m = bench.measure(runner, np.ones((2, *mlp.input_shape), np.float32), warmup=1, iterations=20,
                      on_running=lambda n, p50: seen.append((n, p50)))
    assert [n for n, _ in seen] == list(range(10, 20))
    assert all(m.latency_ms["min"] <= p50 <= m.latency_ms["max"] for _, p50 in seen)


def test_the_first_running_median_comes_at_the_10th_iteration_not_after_a_period(mlp, monkeypatch):
    monkeypatch.setattr(bench, "RUNNING_EVERY_S", 3600.0)  # one period would outlast the loop
    runner = bench.TorchRunner(mlp.module, (2, *mlp.input_shape), device="cpu")
    seen = []
    bench.measure(runner, np.ones((2, *mlp.input_shape), np.float32), warmup=1, iterations=30,
                  on_running=lambda n, p50: seen.append(n))
    assert seen == [10]
