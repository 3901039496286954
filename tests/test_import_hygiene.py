"""The core never imports UI packages; the TUI process never imports the heavy GPU stack."""

import json
import subprocess
import sys

import pytest

CORE_MODULES = [
    "trt_tui.core.events", "trt_tui.core.results", "trt_tui.core.config", "trt_tui.core.errors",
    "trt_tui.core.bench", "trt_tui.core.pipeline", "trt_tui.core.models", "trt_tui.core.export",
    "trt_tui.core.onnx_variants", "trt_tui.core.accuracy", "trt_tui.core.calib_batches", "trt_tui.core.envinfo",
    "trt_tui.core.trt.adapter", "trt_tui.core.trt.builder", "trt_tui.core.trt.runner",
    "trt_tui.core.trt.int8_calibrators", "trt_tui.core.trt.logger", "trt_tui.jobs.__main__",
    "trt_tui.core.rows", "trt_tui.core.rowbook", "trt_tui.core.runstate", "trt_tui.core.stages.benchmark",
]
UI_PACKAGES = ("textual", "rich")
HEAVY = ("torch", "tensorrt", "tensorrt_rtx", "onnx", "onnxruntime")


def loaded_after(import_stmt: str) -> set[str]:
    code = f"import sys, json; {import_stmt}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return {m.split(".")[0] for m in json.loads(out.stdout.splitlines()[-1])}


@pytest.mark.parametrize("module", CORE_MODULES)
def test_core_imports_no_ui(module):
    loaded = loaded_after(f"import {module}")
    assert not loaded & set(UI_PACKAGES), f"{module} pulls in {loaded & set(UI_PACKAGES)}"


def test_cli_and_runner_import_no_gpu_stack():
    loaded = loaded_after("import trt_tui.cli, trt_tui.child_job")
    assert not loaded & set(HEAVY), f"CLI/runner import {loaded & set(HEAVY)}"
