"""The machine's state on a CUDA GPU (NVML), and a GPU hog beside a row named in its noise warning:
`pytest -m gpu tests/gpu/test_gpu_noise.py` on the H200 (scripts/gpu-suite.sh tests)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("pynvml", reason="nvidia-ml-py is not installed")

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU visible to PyTorch"),
]
HOG = Path(__file__).resolve().parents[2] / "scripts" / "gpu_hog.py"


def measure_cnn():
    from trt_tui.core import bench, models

    model = models.load_model("cnn")
    x = models.sample_input(model.input_shape, 32)
    runner = bench.TorchRunner(model.module, x.shape, device="cuda")
    try:
        return bench.measure(runner, x, warmup=20, iterations=300)
    finally:
        runner.close()


def test_nvml_reads_clocks_temperature_and_tenants():
    from trt_tui.core import machine

    r = machine.gpu_reading()
    assert "nvml" not in r, r
    assert r["sm_max_mhz"] and r["sm_mhz"] and r["mem_max_mhz"] and r["temp_c"] is not None, r
    assert r["power_limit_w"] and r["persistence"] in ("on", "off") and r["processes"] is not None
    m = measure_cnn()
    assert len(m.readings["gpu"]) == 4  # start, after the latency loop, after the GPU loop, end
    print("readings", m.readings, "noise:", m.noise_warning or "(stable)")


def test_a_gpu_hog_beside_the_row_is_named():
    hog = subprocess.Popen([sys.executable, str(HOG), "--seconds", "120"], stdout=subprocess.PIPE, text=True)
    try:
        assert "busy" in hog.stdout.readline()
        time.sleep(1.0)
        m = measure_cnn()
    finally:
        hog.kill()
        hog.wait()
    print("noise:", m.noise_warning)
    assert "other process" in m.noise_warning and "on the GPU" in m.noise_warning, m.noise_warning
    # NVML reports host PIDs: inside a PID namespace the hog's own pid differs, so it is only printed
    print("hog pid", hog.pid, "named:", f"pid {hog.pid}" in m.noise_warning)
