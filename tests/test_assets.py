"""The example model and calibration data in assets/ work as the assets README says (a real CPU run)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tests.test_cli import FAST, run_cli

ASSETS = Path(__file__).resolve().parents[1] / "assets"


def test_example_model_runs_with_the_sample_calibration_data(tmp_path: Path) -> None:
    calib = ASSETS / "digits_calibration.npy"
    x = np.load(calib)
    assert x.shape == (256, 1, 8, 8) and x.dtype == np.float32 and -1.0 <= x.min() < x.max() <= 1.0
    proc = run_cli("run", "--model", f"{ASSETS / 'example_model.py'}:make", "--input-shape", "1,8,8",
                   "--calib-data", str(calib), "--calib-samples", "64",
                   "--rows", "pytorch-fp32,onnxruntime-int8", "--out", str(tmp_path / "o"), "--json", *FAST)
    assert proc.returncode == 0, proc.stderr[-2000:]
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    (quantized,) = [e for e in events if e["type"] == "stage_finished" and e["stage"] == "quantize"]
    assert "digits_calibration.npy" in quantized["detail"]["int8"]["calibration_data"]  # the file, not random data
    rows = {r["row_id"]: r for r in json.loads((tmp_path / "o" / "results.json").read_text())["rows"]}
    assert rows["pytorch-fp32"]["status"] == rows["onnxruntime-int8"]["status"] == "ok"
    assert rows["onnxruntime-int8"]["top1_agreement"] > 0.5  # the Q/DQ model still follows the FP32 one
