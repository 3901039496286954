"""scripts/rtx_logger_check.py (the H200 check of TensorRT's single logger): its CPU-runnable parts.

With a fake TensorRT-RTX that keeps one global logger and refuses to run on CC 9.0, a build's errors
must reach BuildFailed while the first plan's Runtime lives; without TensorRT the script only says so.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.trt.fakes import Scenario, make_fake
from trt_tui.core.trt.adapter import Features
from trt_tui.core.trt.runner import TrtRunner

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "rtx_logger_check.py"


def load_script() -> Any:
    spec = importlib.util.spec_from_file_location("rtx_logger_check", SCRIPT)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_without_tensorrt_writes_a_clean_skip(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    res = subprocess.run([sys.executable, str(SCRIPT), "--out", str(out), "--workdir", str(tmp_path / "w")],
                         env={**os.environ, "TRT_TUI_TENSORRT": "none"}, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    data = json.loads(out.read_text())
    assert data["tensorrt"]["available"] is False and data["steps"] == {} and data["in_progress"] is None


def test_checks_with_a_fake_rtx_that_refuses_to_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.setattr(TrtRunner, "_init_cuda", lambda self, index: (setattr(self, "device", "cpu"), torch)[1])
    said = "[runtime] Error Code 1: Internal Error (Unsupported SM: sm_90)"
    unknown = [dict(desc="No importer registered for op: FancyOp", node=1, node_name="n1", node_operator="FancyOp")]
    trt = make_fake("rtx-1.7", Scenario(inputs=[("x", (-1, 8), "FLOAT")], outputs=[("y", (-1, 4), "FLOAT")],
                                        context_errors=[said], parse_errors_by_file={"tiny_fancy.onnx": unknown}))
    mod = load_script()
    report = mod.Report(tmp_path / "r.json")
    mod.run_checks(trt, Features.from_module(trt), tmp_path, report)
    steps = json.loads((tmp_path / "r.json").read_text())["steps"]
    assert steps["first_build"]["ok"] is True and steps["first_build"]["listener_lines"] == 1
    keep = steps["keep_alive"]
    assert keep["runner_loaded"] is False and said in keep["runner_error"]["message"]
    assert keep["alive"] == ["Runtime", "ICudaEngine"]  # the runner released its own; the script kept these
    broken = steps["broken_builds"]
    assert broken["profile_min_gt_opt"]["errors_reached"] is True
    assert broken["profile_min_gt_opt"]["reason"] == (
        "TensorRT build failed: RuntimeError: Shape provided for opt is inconsistent with other shapes.")
    assert "opt dims of x inconsistent" in broken["profile_min_gt_opt"]["log_errors"][0]
    assert broken["unknown_op"]["errors_reached"] is True
    assert broken["unknown_op"]["parser_errors"] == ["node 1 'n1' (FancyOp): No importer registered for op: FancyOp "
                                                     "[UNSUPPORTED_NODE]"]
    assert broken["profile_volume_overflow"]["ok"] is True  # the fake has no volume limit: only real TensorRT says
    assert not any(b.get("logger_warning_seen") for b in broken.values() if isinstance(b, dict))
    assert steps["second_build"]["ok"] is True and steps["second_build"]["reached_second_listener"] is True
    foreign = steps["foreign_logger"]  # the fake models TensorRT#1475: a second logger is ignored, with a warning
    assert foreign["made"] is True and "will be used instead" in foreign["warning_to_our_logger"][0]
    assert foreign["listeners_left"] == 0
    summary = mod.summary(json.loads((tmp_path / "r.json").read_text()))
    assert summary["broken_builds_errors_reached"] == {
        "profile_min_gt_opt": True, "profile_volume_overflow": False, "unknown_op": True}
