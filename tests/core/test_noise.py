"""Noise warnings: each disturbance named with what to do, nothing on a stable row; the machine's
readings (CPU load from other processes for real, NVML through a fake module or none at all)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import types

import numpy as np
import pytest

from trt_tui.core import bench, machine, noise
from trt_tui.format import machine_words


def stable(n=500, median=2.0, seed=0):
    return np.random.default_rng(seed).normal(median, 0.01 * median, n)


def test_a_stable_row_has_no_warning():
    assert noise.noise_warning(stable(), stable(seed=1) * 0.5, {"other_cpu_cores": 0.0, "cpu_count": 2},
                               ci_target=0.01) == ""


def test_the_issues_disturbed_row_is_called_unstable_with_each_statistic():
    """PyTorch FP32 on a busy 2-core box: p50 0.49 ms, p99 107 ms, mean 7.7 ms."""
    rng = np.random.default_rng(0)
    lat = np.where(rng.random(500) < 0.06, rng.uniform(50, 120, 500), rng.normal(0.49, 0.01, 500))
    line = noise.noise_warning(lat, None, {}, device="cuda")
    assert line.startswith("unstable timing (latency CoV")
    for words in ("p99", "× p50", "mean", "× median", "lock the GPU clocks"):
        assert words in line, line


def test_gpu_compute_uses_trtexecs_threshold():
    rng = np.random.default_rng(1)
    steady, wobbly = rng.normal(1.0, 0.01, 400), rng.normal(1.0, 0.05, 400)
    assert noise.noise_warning(stable(), steady) == ""
    assert "GPU compute CoV" in noise.noise_warning(stable(), wobbly)


def test_too_few_iterations_for_the_ci_asked():
    wide = np.random.default_rng(2).normal(2.0, 0.1, 40)
    assert "(--ci-target ±1.0%): more --iterations, or --iterations auto" in noise.noise_warning(wide, None, ci_target=0.01)
    assert "--max-seconds ended the loop" in noise.noise_warning(wide, None, ci_target=0.01, stopped_by="time")
    assert noise.noise_warning(wide, None, ci_target=0.2) == ""
    assert "too few iterations (4)" in noise.noise_warning(stable(4), None)


def test_the_cpu_threshold_scales_with_the_cores():
    assert noise.cpu_busy_threshold(2) == 0.5 and noise.cpu_busy_threshold(64) == 16
    line = noise.noise_warning(stable(), None, {"other_cpu_cores": 1.7, "cpu_count": 2})
    assert line.startswith("CPU busy: other processes kept 1.7 of 2 cores busy") and "idle machine" in line
    assert noise.noise_warning(stable(), None, {"other_cpu_cores": 1.7, "cpu_count": 16}) == ""


def reading(**kw):
    base = {"sm_mhz": 1980, "sm_max_mhz": 1980, "mem_mhz": 3201, "mem_max_mhz": 3201, "temp_c": 40, "reasons": 0,
            "processes": [], "power_limit_w": 700.0, "persistence": "on"}
    return {**base, **kw}


@pytest.mark.parametrize(("readings", "expected"), [
    ([reading(), reading(reasons=0x4, sm_mhz=1500), reading()], "GPU throttled (power cap)"),
    ([reading(), reading(reasons=0x40), reading()], "thermal (hardware)"),
    ([reading(), reading(sm_mhz=1200), reading()], "GPU SM clock 1200/1980 MHz under load"),
    ([reading(processes=[{"pid": 42, "name": "python3", "mib": 2048}]), reading(), reading()],
     "1 other process on the GPU: python3 (pid 42, 2048 MiB): close it"),
])
def test_gpu_readings_name_the_cause_and_the_remedy(readings, expected):
    line = noise.noise_warning(stable(), stable() * 0.5, {"gpu": readings}, device="cuda")
    assert expected in line, line


def warming(n=500, median=2.0, by=0.03):
    """Samples whose median creeps up by ``by`` from the first quarter to the last (a GPU heating up)."""
    return stable(n, median) * np.linspace(1.0, 1.0 + by * 4 / 3, n)


def test_a_temperature_rise_is_named_only_when_the_timing_moved_with_it():
    hot = {"gpu": [reading(temp_c=40), reading(temp_c=51), reading(temp_c=48)]}  # an idle H100's first row
    assert noise.noise_warning(stable(), stable(seed=1) * 0.5, hot, device="cuda") == ""  # no number moved
    assert noise.drift(warming()) == pytest.approx(0.03, abs=0.005)
    line = noise.noise_warning(warming(), warming() * 0.5, hot, device="cuda")
    assert "GPU temperature rose 40→48 °C" in line and "--warmup" in line, line


def test_an_idle_gpu_at_low_clocks_is_not_throttling():
    idle = reading(sm_mhz=345, reasons=machine.GPU_IDLE_BIT)
    assert noise.noise_warning(stable(), None, {"gpu": [reading(), idle, reading()]}, device="cuda") == ""


@pytest.fixture
def no_nvml(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import pynvml -> ImportError
    monkeypatch.setattr(machine, "_nvml_state", {})


def test_without_nvml_the_gpu_state_is_a_clear_note(no_nvml):
    snap = machine.snapshot("cuda")
    assert snap["gpu"] == {"nvml": machine.NVML_MISSING}
    assert "pip install nvidia-ml-py" in machine_words({"machine_before": snap})
    watch = machine.RowWatch("cuda")
    watch.start()
    out = watch.stop()
    assert out["nvml"] == machine.NVML_MISSING and "gpu" not in out
    assert noise.gpu_problems(out) == []  # nothing claimed about a GPU that was not read


def fake_pynvml(reasons=0x4, procs=None):
    """The nvidia-ml-py calls machine.py makes, answering like a busy, power-capped GPU."""
    procs = procs or ((os.getpid(), 100), (4242, 512))
    m = types.SimpleNamespace(NVML_CLOCK_SM=0, NVML_CLOCK_MEM=1, NVML_TEMPERATURE_GPU=0)
    m.nvmlInit = lambda: None
    m.nvmlDeviceGetHandleByIndex = lambda i: f"gpu{i}"
    m.nvmlDeviceGetClockInfo = lambda h, t: (1500, 2619)[t]
    m.nvmlDeviceGetMaxClockInfo = lambda h, t: (1980, 2619)[t]
    m.nvmlDeviceGetTemperature = lambda h, s: 51
    m.nvmlDeviceGetPowerUsage = lambda h: 650_000
    m.nvmlDeviceGetEnforcedPowerLimit = lambda h: 700_000
    m.nvmlDeviceGetPersistenceMode = lambda h: 1
    m.nvmlDeviceGetCurrentClocksThrottleReasons = lambda h: reasons  # an older nvidia-ml-py: the old name
    m.nvmlDeviceGetComputeRunningProcesses = lambda h: [types.SimpleNamespace(pid=p, usedGpuMemory=b * 2**20)
                                                        for p, b in procs]
    return m


def test_nvml_readings_from_a_power_capped_shared_gpu(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml())
    monkeypatch.setattr(machine, "_nvml_state", {})
    r = machine.gpu_reading()
    assert (r["sm_mhz"], r["sm_max_mhz"], r["temp_c"], r["power_limit_w"], r["persistence"]) == (1500, 1980, 51, 700.0, "on")
    assert [p["pid"] for p in r["processes"]] == [4242]  # this process is not "another" one
    watch = machine.RowWatch("cuda")
    watch.start()
    watch.mark()
    line = noise.noise_warning(stable(), None, watch.stop(), device="cuda")
    assert "GPU throttled (power cap)" in line and "other process on the GPU" in line and "pid 4242, 512 MiB" in line
    words = machine_words({"machine_before": machine.snapshot("cuda")})
    assert "SM 1500/1980 MHz" in words and "700 W cap" in words and "1 other GPU process" in words


class NumpyRunner:
    """A CPU runner whose compute is ~0.5 ms of numpy work (single-threaded)."""

    device, stream = "cpu", None

    def __init__(self):
        self.a = np.random.default_rng(0).random((120, 120))

    def set_input(self, host):
        pass

    def h2d(self):
        pass

    def compute(self):
        for _ in range(3):
            self.a = np.tanh(self.a @ self.a * 1e-2)

    def outputs(self):
        return []

    def close(self):
        pass


def others_load(seconds=1.0):
    watch = machine.RowWatch("cpu")
    watch.start()
    time.sleep(seconds)
    return watch.stop().get("other_cpu_cores")


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="reads /proc/stat")
def test_cpu_hogs_beside_a_run_are_named():
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 1)]
    try:
        time.sleep(0.3)
        m = bench.measure(NumpyRunner(), np.zeros(1), warmup=5, iterations=1500, max_seconds=3)
    finally:
        for h in hogs:
            h.kill()
            h.wait()
    assert m.readings["other_cpu_cores"] >= noise.cpu_busy_threshold(os.cpu_count() or 1)
    assert "CPU busy: other processes kept" in m.noise_warning, m.noise_warning


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="reads /proc/stat")
def test_an_idle_machine_is_not_called_busy_by_our_own_work():
    """Our own CPU time (the timed loop, numpy) is never counted as another process's."""
    if (load := others_load()) >= 0.25:
        pytest.skip(f"this machine is not idle: other processes use {load:.2f} cores")
    m = bench.measure(NumpyRunner(), np.zeros(1), warmup=5, iterations=1000, max_seconds=3)
    assert m.readings["other_cpu_cores"] < noise.cpu_busy_threshold(os.cpu_count() or 1), m.readings
    assert "CPU busy" not in m.noise_warning
