"""build_engine with fake TensorRT modules: config per plan, errors, cancel, atomic plan + sidecar."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest

from tests.trt.fakes import KEYS, Scenario, make_fake
from trt_tui.core.errors import TrtTuiError
from trt_tui.core.trt.adapter import Features, precision_plan
from trt_tui.core.trt.builder import (
    BuildCancelled,
    BuildFailed,
    OnnxParseError,
    ShapeProfile,
    BuildOptions,
    build_engine,
    format_parser_error,
)
from trt_tui.core.trt.int8_calibrators import make_calibrator

PROFILE = ((1, 4), (4, 4), (8, 4))


@pytest.fixture
def onnx(tmp_path: Path) -> Path:
    p = tmp_path / "model.onnx"
    p.write_bytes(b"not really onnx")
    return p


def build(key: str, onnx: Path, precision: str = "fp32", sc: Scenario | None = None, mode: str = "entropy", **kw):  # type: ignore[no-untyped-def]
    trt = make_fake(key, sc)
    f = Features.from_module(trt)
    plan = precision_plan(f, precision, mode)
    out = onnx.parent / "out" / f"model_{precision}.plan"
    kw.setdefault("batch_shape", PROFILE)
    res = build_engine(trt, f, onnx, out, plan, BuildOptions(**kw))
    return trt, res, out


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("precision", ["fp32", "fp16", "int8"])
def test_builds_with_flags_by_name(key: str, precision: str, onnx: Path) -> None:
    trt = make_fake(key)
    f = Features.from_module(trt)
    plan = precision_plan(f, precision, "qdq")
    sc: Scenario = trt._scenario
    events: list[tuple] = []
    out = onnx.parent / f"m_{precision}.plan"
    res = build_engine(trt, f, onnx, out, plan, BuildOptions(batch_shape=PROFILE, tf32=False,
                                                             on_progress=lambda *a: events.append(a)))
    cfg = sc.config
    assert cfg.flags == set(plan.flags)  # TF32 cleared, plan flags set, nothing else
    assert res.tf32 == "off" and res.mechanism == plan.mechanism
    assert cfg.pools == {"WORKSPACE": 4096 << 20}
    assert out.read_bytes() == sc.plan + ",".join(sorted(plan.flags)).encode()
    assert res.size_bytes == out.stat().st_size
    assert sc.profile_shapes == {"input": ((1, 4), (4, 4), (8, 4))}
    if f.has_progress_monitor:
        assert res.progress_events > 0 and res.phases == ["Building engine", "Tactic selection"]
        assert events[0] == ("Building engine", None, 0, 2)
    else:
        assert res.progress_events == 0 and events == []
    side = json.loads((onnx.parent / f"m_{precision}.plan.json").read_text())
    assert side["trt_version"] == trt.__version__ and side["flavour"] == f.flavour
    assert side["precision"] == precision and side["mechanism"] == plan.mechanism and side["tf32"] == "off"
    assert side["shapes"]["input"]["opt"] == [4, 4] and len(side["onnx_sha256"]) == 64
    assert {"gpu", "created_at", "build_time_s", "strongly_typed", "flags"} <= set(side)
    assert [p.name for p in onnx.parent.glob("*.tmp")] == []


def test_network_flags_passed_to_create_network(onnx: Path) -> None:
    trt, _, _ = build("8.6", onnx)
    assert trt._scenario.network_flags == 1  # EXPLICIT_BATCH
    trt, _, _ = build("11.4", onnx, "fp16")
    assert trt._scenario.network_flags == 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
    trt, _, _ = build("10.13", onnx, "fp16")
    assert trt._scenario.network_flags == 0  # weakly typed + FP16 flag


def test_tf32_default_on(onnx: Path) -> None:
    trt, res, out = build("10.13", onnx)
    assert res.tf32 == "on" and "TF32" in trt._scenario.config.flags


def test_static_input_needs_no_profile(onnx: Path) -> None:
    sc = Scenario(inputs=[("x", (2, 3, 8, 8), "FLOAT")])
    trt, res, _ = build("10.13", onnx, sc=sc, batch_shape=None)
    assert sc.profile_shapes == {} and res.shapes == {"x": {"shape": [2, 3, 8, 8]}}


def test_batch_only_profile_fills_other_dims(onnx: Path) -> None:
    sc = Scenario(inputs=[("x", (-1, 3, 8, 8), "FLOAT")])
    build("10.13", onnx, sc=sc, batch_shape=ShapeProfile((1,), (4,), (16,)))
    assert sc.profile_shapes["x"] == ((1, 3, 8, 8), (4, 3, 8, 8), (16, 3, 8, 8))


def test_dynamic_input_without_shapes(onnx: Path) -> None:
    with pytest.raises(TrtTuiError, match="dynamic dims"):
        build("10.13", onnx, batch_shape=None)
    with pytest.raises(TrtTuiError, match="differs"):
        build("10.13", onnx, batch_shape=(2, 5))


def test_parser_errors_all_collected(onnx: Path) -> None:
    sc = Scenario(parse_errors=[
        dict(desc="No importer registered for op: FancyOp", node=3, node_name="/fancy/FancyOp", node_operator="FancyOp"),
        dict(desc="Assertion failed: zero_point == 0", node=7, node_name="/q/QuantizeLinear", node_operator="QuantizeLinear", code="INVALID_NODE"),
        dict(desc="third", node=9, node_name="n9", node_operator="Relu"),
    ])
    with pytest.raises(OnnxParseError) as ei:
        build("10.13", onnx, sc=sc)
    e = ei.value
    assert e.message.startswith("ONNX parser rejected model.onnx: node 3 '/fancy/FancyOp' (FancyOp): No importer")
    assert "(+2 more)" in e.message and "\n" not in e.message
    assert len(e.errors) == 3
    for frag in ("node 7 '/q/QuantizeLinear' (QuantizeLinear): Assertion failed: zero_point == 0 [INVALID_NODE]",
                 "node 9 'n9' (Relu): third"):
        assert frag in e.detail
    assert leftovers(onnx.parent / "out") == []


def test_parser_error_format_on_86_without_node_names(onnx: Path) -> None:
    sc = Scenario(parse_errors=[dict(desc="Unsupported ONNX data type: UINT8 (2)", node=12, node_name="ignored")])
    with pytest.raises(OnnxParseError) as ei:
        build("8.6", onnx, sc=sc)
    assert ei.value.errors == ["node 12: Unsupported ONNX data type: UINT8 (2) [UNSUPPORTED_NODE]"]


def test_format_parser_error_tolerates_anything() -> None:
    assert format_parser_error("plain string error") == "plain string error"


def test_build_none_gives_tensorrt_log_lines(onnx: Path) -> None:
    sc = Scenario(build_errors=["[optimizer] Error Code 4: Internal Error (could not find any implementation for node X)",
                                "[builder] Error Code 2: Internal Error (Assertion engine != nullptr failed)"],
                  build_warnings=["weights exceed FP16 range"])
    out_dir = onnx.parent / "out"
    out_dir.mkdir()
    (out_dir / "model_fp16.plan").write_bytes(b"old plan from an earlier run")
    (out_dir / "model_fp16.plan.json").write_text("{}")
    with pytest.raises(BuildFailed) as ei:
        build("10.13", onnx, "fp16", sc=sc)
    e = ei.value
    assert e.message == "TensorRT build failed: " + sc.build_errors[0]
    assert e.log_errors == sc.build_errors and all(x in e.detail for x in sc.build_errors)
    assert leftovers(out_dir) == []  # stale plan removed, nothing half-written


def test_cancel_through_progress_monitor(onnx: Path) -> None:
    cancel = threading.Event()
    sc = Scenario()

    def on_progress(phase: str, parent: str | None, step: int, total: int) -> None:
        if phase == "Tactic selection":  # e.g. the user pressed cancel during tactic selection
            cancel.set()

    with pytest.raises(BuildCancelled):
        build("11.4", onnx, sc=sc, cancel=cancel, on_progress=on_progress)
    assert sc.steps_seen == 3  # 2 steps of the first phase, then the first tactic step said stop
    assert leftovers(onnx.parent / "out") == []


def test_cancel_before_start_on_86(onnx: Path) -> None:
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(BuildCancelled, match="before it started"):
        build("8.6", onnx, cancel=cancel)


def test_calibrator_path_10x(onnx: Path) -> None:
    class Src:
        batch_size, description = 4, "test"

        def reset(self) -> None:
            pass

        def __iter__(self):  # type: ignore[no-untyped-def]
            return iter([np.ones((4, 4), np.float32) * i for i in range(3)])

    trt = make_fake("10.13")
    f = Features.from_module(trt)
    plan = precision_plan(f, "int8", "entropy")
    cal = make_calibrator(trt, "entropy", Src(), onnx.parent / "calib.cache", to_device=lambda a: (a, a.ctypes.data))
    res = build_engine(trt, f, onnx, onnx.parent / "int8.plan", plan, BuildOptions(batch_shape=PROFILE, calibrator=cal))
    sc = trt._scenario
    assert sc.config.int8_calibrator is cal and sc.calibration_profile is not None
    assert len(sc.calibration_ptrs) == 3 and res.calibration_batches == 3
    assert sc.config.flags >= {"INT8", "FP16"}
    assert (onnx.parent / "calib.cache").read_bytes() == b"CALIBCACHE"


def test_calibrator_plan_without_calibrator(onnx: Path) -> None:
    with pytest.raises(TrtTuiError, match="needs a calibrator"):
        build("8.6", onnx, "int8", mode="entropy")


def test_timing_cache_saved_and_bad_cache_replaced(onnx: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from trt_tui.core.trt import builder as builder_mod

    gpu = {"name": "NVIDIA H200", "compute_capability": "9.0"}
    monkeypatch.setattr(builder_mod, "gpu_identity", lambda index=0: dict(gpu))
    tc = onnx.parent / "timing.cache"
    record = tc.with_name("timing.cache.json")
    tc.write_bytes(b"BAD old cache")  # no record of what made it: never handed to TensorRT
    trt, res, _ = build("10.13", onnx, timing_cache_path=tc)
    assert tc.read_bytes() == b"TCACHE:"  # a fresh cache, saved after the build
    assert any("replaced: it differed in no record of what made it" in w for w in res.warnings)
    assert json.loads(record.read_text())["tensorrt"] == "TensorRT 10.13.3.9"
    trt, res, _ = build("10.13", onnx, timing_cache_path=tc)
    assert tc.read_bytes() == b"TCACHE:TCACHE:"  # loaded and re-saved
    assert "timing cache timing.cache reused" in res.warnings
    tc.write_bytes(b"BAD but recorded")  # the record matches, TensorRT still refuses the contents
    _, res, _ = build("10.13", onnx, timing_cache_path=tc)
    assert any("did not match" in w for w in res.warnings) and tc.read_bytes() == b"TCACHE:"
    _, res, _ = build("11.4", onnx, timing_cache_path=tc)  # another TensorRT version: not even offered
    assert any("replaced: it differed in tensorrt" in w for w in res.warnings) and tc.read_bytes() == b"TCACHE:"
    gpu["name"] = "NVIDIA A100-SXM4-80GB"
    _, res, _ = build("11.4", onnx, timing_cache_path=tc)
    assert any("replaced: it differed in gpu" in w for w in res.warnings)


def test_timing_cache_skipped_on_rtx(onnx: Path) -> None:
    tc = onnx.parent / "timing.cache"
    _, res, _ = build("rtx-1.7", onnx, timing_cache_path=tc)
    assert not tc.exists() and any("timing cache skipped" in w for w in res.warnings)


def test_missing_onnx_and_a_precision_string(tmp_path: Path) -> None:
    trt = make_fake("10.13")
    f = Features.from_module(trt)
    with pytest.raises(TrtTuiError, match="not found"):
        build_engine(trt, f, tmp_path / "nope.onnx", tmp_path / "x.plan", precision_plan(f, "fp32"))
    (tmp_path / "m.onnx").write_bytes(b"x")
    with pytest.raises(TypeError, match="takes a PrecisionPlan"):  # the plan is the one input, not "fp16"
        build_engine(trt, f, tmp_path / "m.onnx", tmp_path / "x.plan", "fp16")  # type: ignore[arg-type]


def test_unexpected_exception_becomes_build_failed(onnx: Path) -> None:
    trt = make_fake("10.13")

    def broken(self, network, config):  # type: ignore[no-untyped-def]
        raise RuntimeError("pybind11: incompatible function arguments")

    trt.Builder.build_serialized_network = broken
    with pytest.raises(BuildFailed, match="incompatible function arguments"):
        f = Features.from_module(trt)
        build_engine(trt, f, onnx, onnx.parent / "x.plan", precision_plan(f, "fp32"), BuildOptions(batch_shape=PROFILE))
    assert not (onnx.parent / "x.plan").exists()
