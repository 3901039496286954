"""scripts/rtx_build_check.py never crashes: without TensorRT, and with a fake TensorRT-RTX that refuses."""

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
SCRIPT = ROOT / "scripts" / "rtx_build_check.py"


def load_script() -> Any:
    spec = importlib.util.spec_from_file_location("rtx_build_check", SCRIPT)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_without_tensorrt_writes_report(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    env = {**os.environ, "TRT_TUI_TENSORRT": "none"}
    res = subprocess.run([sys.executable, str(SCRIPT), "--out", str(out), "--workdir", str(tmp_path / "w")],
                         env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    data = json.loads(out.read_text())
    assert data["tensorrt"]["available"] is False and "TRT_TUI_TENSORRT=none" in data["tensorrt"]["error"]["message"]
    assert data["in_progress"] is None


@pytest.fixture
def cpu_runner(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    def init(self: TrtRunner, index: int) -> Any:
        self.device = "cpu"
        return torch

    monkeypatch.setattr(TrtRunner, "_init_cuda", init)


def test_check_one_records_rtx_refusal(tmp_path: Path, cpu_runner: None) -> None:
    mod = load_script()
    said = "[runtime] Error Code 1: Internal Error (Unsupported SM: sm_90)"
    trt = make_fake("rtx-1.7", Scenario(context_errors=[said]))
    onnx = tmp_path / "model_fp16.onnx"
    onnx.write_bytes(b"x")
    report = mod.Report(tmp_path / "r.json")
    rec = mod.check_one(trt, Features.from_module(trt), "fp16", onnx, tmp_path / "plans", 4, "default", None, report)
    assert rec["parser_ok"] and rec["build_ok"] and rec["plan_size"] > 0
    assert rec["monitor_events"] > 0 and rec["phases"] == ["Building engine", "Tactic selection"]
    assert rec["plan"]["mechanism"] == "FP16 ONNX, strongly typed"
    assert rec["run"]["ok"] is False
    assert rec["run"]["reason"] == f"TensorRT could not create an execution context for model_fp16_default.plan: {said}"
    assert json.loads((tmp_path / "r.json").read_text())["in_progress"] == "run fp16 (default)"


def test_check_one_records_parser_and_build_failures(tmp_path: Path, cpu_runner: None) -> None:
    mod = load_script()
    onnx = tmp_path / "m.onnx"
    onnx.write_bytes(b"x")
    trt = make_fake("rtx-1.7", Scenario(parse_errors=[dict(desc="INT8 Q/DQ unsupported", node=2, node_name="q")]))
    rep = mod.Report(tmp_path / "r.json")
    rec = mod.check_one(trt, Features.from_module(trt), "qdq", onnx, tmp_path, 4, "default", None, rep)
    assert rec["parser_ok"] is False and rec["parser_errors"] == ["node 2 'q': INT8 Q/DQ unsupported [UNSUPPORTED_NODE]"]
    trt = make_fake("rtx-1.7", Scenario(build_errors=["Error Code 9: API Usage Error (no kernel for SM 9.0)"]))
    rec = mod.check_one(trt, Features.from_module(trt), "fp32", onnx, tmp_path, 4, "default", None, rep)
    assert rec["parser_ok"] and rec["build_ok"] is False
    assert rec["reason"] == "TensorRT build failed: Error Code 9: API Usage Error (no kernel for SM 9.0)"
    assert "run" not in rec


def test_cc_variants_only_where_the_enum_exists() -> None:
    mod = load_script()
    assert list(mod.cc_variants(make_fake("10.13"), ["default", "current"])) == ["default"]
    from tests.trt.fakes import make_enum

    rtx = make_fake("rtx-1.7", ComputeCapability=make_enum("ComputeCapability", {"CURRENT": 0, "SM89": 3}))
    assert list(mod.cc_variants(rtx, ["default", "current"])) == ["default", "current"]
