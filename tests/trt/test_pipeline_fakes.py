"""The whole pipeline (real mlp, real export, real PyTorch/onnxruntime rows) with a fake TensorRT:
what a TensorRT failure looks like in the rows and events, and that the other rows still run.

The engines are fakes (tests/trt/fakes.py) run on the CPU; the real-TensorRT versions of these cases
are in tests/gpu (the H200) — see README "When things go wrong".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.trt.fakes import Scenario, make_fake
from trt_tui.core.config import RunConfig
from trt_tui.core.events import ErrorEvent, Event, Finished, RowEvent
from trt_tui.core.pipeline import Pipeline
from trt_tui.core.trt import adapter
from trt_tui.core.trt import runner as runner_mod
from trt_tui.core.trt.runner import TrtRunner

MLP_IO = dict(inputs=[("input", (1, 1, 28, 28), "FLOAT")], outputs=[("output", (1, 10), "FLOAT")])
H200 = {"name": "NVIDIA H200", "compute_capability": "9.0"}
A100 = {"name": "NVIDIA A100-SXM4-80GB", "compute_capability": "8.0"}


class FakeTrtPipeline(Pipeline):
    """The pipeline on a machine whose TensorRT is ``fake`` and usable (as on a GPU box)."""

    fake: Any = None

    def detect_tensorrt(self, device: str) -> adapter.TensorRTEnv:
        return adapter.TensorRTEnv.of(self.fake)


@pytest.fixture
def on_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """TrtRunner runs fake engines on the CPU; the GPU is an H200 as far as the sidecar check knows."""
    import torch

    def init(self: TrtRunner, index: int) -> Any:
        self.device = "cpu"
        return torch

    monkeypatch.setattr(TrtRunner, "_init_cuda", init)
    monkeypatch.setattr(runner_mod, "gpu_identity", lambda index=0: dict(H200))


def run(tmp_path: Path, sc: Scenario, rows: tuple[str, ...], **kw: Any) -> tuple[Finished, list[Event], dict[str, dict]]:
    pipe = FakeTrtPipeline(RunConfig(model="mlp", rows=rows, exporter="torchscript", iterations=5, warmup=1,
                                     eval_samples=8, out_dir=str(tmp_path / "out"), **kw), (events := []).append)
    pipe.fake = make_fake("10.13", sc)
    fin = pipe.run()
    saved = {r["row_id"]: r for r in json.loads((tmp_path / "out" / "results.json").read_text())["rows"]}
    return fin, events, saved


def errors(events: list[Event], stage: str) -> list[ErrorEvent]:
    return [e for e in events if isinstance(e, ErrorEvent) and e.stage == stage]


def no_plans_left(folder: Path) -> None:
    assert sorted(p.name for p in folder.iterdir() if ".plan" in p.name or p.name.endswith(".tmp")) == []


def test_parser_errors_are_all_listed_with_node_names_and_the_other_rows_run(tmp_path, on_cpu):
    sc = Scenario(**MLP_IO, parse_errors=[
        dict(desc="No importer registered for op: FancyGemm", node=1, node_name="/fc1/FancyGemm", node_operator="FancyGemm"),
        dict(desc="Assertion failed: axis in range", node=4, node_name="/flatten/Flatten", node_operator="Flatten",
             code="INVALID_NODE"),
        dict(desc="third error", node=7, node_name="/fc3/Gemm", node_operator="Gemm"),
    ])
    fin, events, saved = run(tmp_path, sc, ("pytorch-fp32", "tensorrt-fp32", "onnxruntime-fp32"))
    assert fin.status == "ok"
    reason = saved["tensorrt-fp32"]["reason"]
    assert saved["tensorrt-fp32"]["status"] == "failed"
    assert reason == ("ONNX parser rejected model.onnx: node 1 '/fc1/FancyGemm' (FancyGemm): "
                      "No importer registered for op: FancyGemm [UNSUPPORTED_NODE] (+2 more)")
    (err,) = errors(events, "build")
    assert err.message == f"tensorrt-fp32: {reason}"
    for line in ("3 parser error(s) in", "node 1 '/fc1/FancyGemm' (FancyGemm)",
                 "node 4 '/flatten/Flatten' (Flatten): Assertion failed: axis in range [INVALID_NODE]",
                 "node 7 '/fc3/Gemm' (Gemm): third error"):
        assert line in err.detail
    assert saved["pytorch-fp32"]["status"] == saved["onnxruntime-fp32"]["status"] == "ok"
    no_plans_left(tmp_path / "out")


def test_build_returning_none_reports_tensorrt_log_lines(tmp_path, on_cpu):
    said = ["[optimizer] Error Code 4: Internal Error (could not find any implementation for node /fc1/Gemm)",
            "[builder] Error Code 2: Internal Error (Assertion engine != nullptr failed)"]
    fin, events, saved = run(tmp_path, Scenario(**MLP_IO, build_errors=said), ("pytorch-fp32", "tensorrt-fp32"))
    assert fin.status == "ok" and saved["pytorch-fp32"]["status"] == "ok"
    assert saved["tensorrt-fp32"]["status"] == "failed"
    assert saved["tensorrt-fp32"]["reason"] == f"TensorRT build failed: {said[0]}"
    (err,) = errors(events, "build")
    assert all(line in err.detail for line in said)
    no_plans_left(tmp_path / "out")


def test_out_of_gpu_memory_in_the_build_names_the_batch_size(tmp_path, on_cpu):
    said = ["[defaultAllocator.cpp::allocate::31] Error Code 1: Cuda Runtime (out of memory)",
            "Requested amount of GPU memory (137438953472 bytes) could not be allocated."]
    fin, events, saved = run(tmp_path, Scenario(**MLP_IO, build_errors=said), ("pytorch-fp32", "tensorrt-fp32"))
    assert saved["tensorrt-fp32"]["reason"] == (
        "out of GPU memory building at batch size 1: try a smaller --batch-size or --workspace-mib — "
        f"TensorRT build failed: {said[0]}")
    assert fin.status == "ok" and saved["pytorch-fp32"]["status"] == "ok"


@pytest.mark.parametrize("case", ["ok", "other-version", "other-gpu", "corrupt", "truncated", "sidecar-unreadable",
                                  "other-onnx"])
def test_a_plan_from_elsewhere_is_refused_with_the_reason(tmp_path, on_cpu, case):
    """Build, then benchmark alone (as after copying the folder to another machine or upgrading TensorRT)."""
    rows = ("pytorch-fp32", "tensorrt-fp32")
    fin, _, saved = run(tmp_path, Scenario(**MLP_IO), rows, stages=("export", "quantize", "build"))
    assert fin.status == "ok" and saved["tensorrt-fp32"]["status"] == "built"
    plan = tmp_path / "out" / "model_fp32.plan"
    side = plan.with_name(plan.name + ".json")
    meta = json.loads(side.read_text())
    meta["gpu"] = dict(H200)  # built "on" this H200 (the build ran without a GPU)
    if case == "other-version":
        meta["trt_version"] = "10.12.0.36"
    elif case == "other-gpu":
        meta["gpu"] = dict(A100)
    side.write_text(json.dumps(meta))
    if case == "corrupt":  # same size, other bytes: only TensorRT can tell
        plan.write_bytes(b"\x00" * plan.stat().st_size)
    elif case == "truncated":
        plan.write_bytes(plan.read_bytes()[:5])
    elif case == "sidecar-unreadable":
        side.write_text("{ not json")
    elif case == "other-onnx":  # e.g. a plan left by an earlier run of another model in this folder
        onnx = tmp_path / "out" / "model.onnx"
        onnx.write_bytes(onnx.read_bytes() + b"\0")
    fin, events, saved = run(tmp_path, Scenario(**MLP_IO), rows, stages=("benchmark",))
    assert fin.status == "ok" and saved["pytorch-fp32"]["status"] == "ok"
    row = saved["tensorrt-fp32"]
    expected = {
        "ok": None,
        "other-version": "refusing model_fp32.plan: it was built with TensorRT 10.12.0.36, this process has "
                         "TensorRT 10.13.3.9; plans only load in the exact version that built them",
        "other-gpu": "refusing model_fp32.plan: it was built for NVIDIA A100-SXM4-80GB (compute capability 8.0), "
                     "this GPU is NVIDIA H200 (compute capability 9.0)",
        "corrupt": "TensorRT could not load model_fp32.plan: IRuntime::deserializeCudaEngine: Error Code 1: "
                   "Serialization (magic tag mismatch)",
        "truncated": "refusing model_fp32.plan: it is 5 bytes, its sidecar recorded ",
        "sidecar-unreadable": "refusing model_fp32.plan: its sidecar is unreadable (",
        "other-onnx": "refusing model_fp32.plan: it was built from another model.onnx (sha256 ",
    }[case]
    if expected is None:
        assert row["status"] == "ok" and row["latency_p50_ms"] > 0
        return
    assert row["status"] == "failed" and row["reason"].startswith(expected), row["reason"]
    (err,) = errors(events, "benchmark")
    assert err.message == f"tensorrt-fp32: {row['reason']}"


def test_tensorrt_installed_but_no_gpu_skips_the_tensorrt_rows(tmp_path, monkeypatch):
    """The real detection path: TensorRT imports, PyTorch sees no CUDA GPU (this machine)."""
    fake = make_fake("10.13", Scenario(**MLP_IO))
    monkeypatch.setattr(adapter, "import_tensorrt", lambda prefer="auto": (fake, "tensorrt"))
    events: list[Event] = []
    cfg = RunConfig(model="mlp", rows=("pytorch-fp32", "tensorrt-fp16"), exporter="torchscript", iterations=5,
                    warmup=1, out_dir=str(tmp_path / "out"))
    fin = Pipeline(cfg, events.append).run()
    assert fin.status == "ok"
    rows = {e.row["row_id"]: e.row for e in events if isinstance(e, RowEvent)}
    assert rows["tensorrt-fp16"]["status"] == "skipped"
    assert rows["tensorrt-fp16"]["reason"] == "no CUDA GPU: TensorRT engines need one (PyTorch sees none)"
    assert rows["pytorch-fp32"]["status"] == "ok"


def test_calibration_cache_is_keyed_to_what_made_it(tmp_path, on_cpu, monkeypatch):
    """A used results folder: the same settings reuse the INT8 calibration cache, a changed calibration
    set recalibrates (the old cache would give the old scales), and the row's notes say which."""
    from trt_tui.core.trt import int8_calibrators

    monkeypatch.setattr(int8_calibrators, "torch_to_device", lambda a: (a, a.ctypes.data))  # no GPU here
    sc = Scenario(**MLP_IO)
    rows, stages = ("tensorrt-int8",), ("export", "quantize", "build")
    cache = tmp_path / "out" / "calibration_entropy.cache"

    def build(**kw: Any) -> tuple[str, int]:
        before = len(sc.calibration_ptrs)
        _, _, saved = run(tmp_path, sc, rows, stages=stages, calibrator="entropy", **kw)
        assert saved["tensorrt-int8"]["status"] == "built", saved["tensorrt-int8"]
        return saved["tensorrt-int8"]["notes"], len(sc.calibration_ptrs) - before

    notes, fed = build(calib_samples=64)
    assert fed == 64 and notes.endswith("; calibrated on 64 batches (new calibration cache)")
    assert cache.is_file() and json.loads(cache.with_name(cache.name + ".json").read_text())["calib_samples"] == 64
    notes, fed = build(calib_samples=64)
    assert fed == 0 and notes.endswith("; calibration cache reused (same model, calibration data, samples, method, seed)")
    notes, fed = build(calib_samples=32)
    assert fed == 32 and "recalibrated on 32 batches: the old calibration cache differed in calib_samples" in notes
    data = tmp_path / "calib.npy"
    np.save(data, np.random.default_rng(1).standard_normal((40, 1, 28, 28)).astype(np.float32))
    notes, fed = build(calib_samples=32, calib_data=str(data))
    assert fed == 32 and "differed in calib_data, calib_data_sha256" in notes
    np.save(data, np.random.default_rng(2).standard_normal((40, 1, 28, 28)).astype(np.float32))  # same name
    notes, fed = build(calib_samples=32, calib_data=str(data))
    assert fed == 32 and "differed in calib_data_sha256" in notes
    cache.with_name(cache.name + ".json").unlink()  # a cache of unknown origin is never trusted
    notes, fed = build(calib_samples=32, calib_data=str(data))
    assert fed == 32 and "differed in no record of what made it" in notes


@pytest.mark.parametrize("version", ["10.13", "11.4"])
def test_one_timing_cache_serves_every_precision_of_a_run(tmp_path, on_cpu, monkeypatch, version):
    """FP32, FP16 and INT8 of one run build with one timing cache: each build starts from what the builds
    before it saved (the fake's cache grows by one mark per build), and a second run starts from all of it.
    Unverified on a real TensorRT until the GPU run (scripts/gpu-suite.sh timeline)."""
    from trt_tui.core.events import StepFinished
    from trt_tui.core.trt import int8_calibrators as calibrators

    monkeypatch.setattr(calibrators, "torch_to_device", lambda a: (a, a.ctypes.data))  # no GPU here
    sc = Scenario(**MLP_IO)
    trt_rows = ("tensorrt-fp32", "tensorrt-fp16", "tensorrt-int8")
    cache = tmp_path / "timing.cache"  # beside the results folder: shared by the runs made there

    def build() -> dict[str, list[str]]:
        pipe = FakeTrtPipeline(RunConfig(model="mlp", rows=trt_rows, exporter="torchscript", calib_samples=16,
                                         stages=("export", "quantize", "build"), out_dir=str(tmp_path / "out")),
                               (events := []).append)
        pipe.fake = make_fake(version, sc)
        assert pipe.run().status == "ok"
        built = {e.step: e.detail.get("warnings", []) for e in events if isinstance(e, StepFinished) and e.stage == "build"}
        assert sorted(built) == sorted(trt_rows)
        return built

    built = build()
    assert cache.read_bytes() == b"TCACHE:" * 3  # one cache through the three builds
    assert not any("timing cache" in w for w in built["tensorrt-fp32"])  # the first started a new one
    for row in ("tensorrt-fp16", "tensorrt-int8"):
        assert "timing cache timing.cache reused" in built[row]
    built = build()
    assert cache.read_bytes() == b"TCACHE:" * 6 and "timing cache timing.cache reused" in built["tensorrt-fp32"]
