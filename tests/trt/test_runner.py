"""TrtRunner with fake engines: sidecar refusal, TensorRT's own load errors, I/O plumbing on CPU."""

from __future__ import annotations

import gc
import json
from pathlib import Path

import numpy as np
import pytest

from tests.trt.fakes import Scenario, make_fake
from trt_tui.core.errors import TrtTuiError
from trt_tui.core.trt import runner as runner_mod
from trt_tui.core.trt.adapter import Features, precision_plan
from trt_tui.core.trt.builder import BuildOptions, build_engine
from trt_tui.core.trt.runner import EngineLoadError, PlanMismatch, TrtRunner

H200 = {"name": "NVIDIA H200", "compute_capability": "9.0"}
A100 = {"name": "NVIDIA A100-SXM4-80GB", "compute_capability": "8.0"}


@pytest.fixture
def gpu(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """This machine's GPU as seen by the runner's sidecar check."""
    current = dict(H200)
    monkeypatch.setattr(runner_mod, "gpu_identity", lambda index=0: current)
    return current


def make_plan(tmp_path: Path, key: str, sc: Scenario | None = None, sidecar: dict | None = None) -> Path:
    trt = make_fake(key, sc)
    (tmp_path / "m.onnx").write_bytes(b"onnx")
    plan = tmp_path / f"m_{key}.plan"
    f = Features.from_module(trt)
    build_engine(trt, f, tmp_path / "m.onnx", plan, precision_plan(f, "fp32"), BuildOptions(batch_shape=((1, 4), (2, 4), (8, 4))))
    side = plan.with_name(plan.name + ".json")
    data = json.loads(side.read_text())
    data["gpu"] = H200
    data.update(sidecar or {})
    side.write_text(json.dumps(data))
    return plan


def test_refuses_other_tensorrt_version(tmp_path: Path, gpu: dict) -> None:
    plan = make_plan(tmp_path, "10.13", sidecar={"trt_version": "10.12.0.36"})
    with pytest.raises(PlanMismatch) as ei:
        TrtRunner(make_fake("10.13"), plan, _device="cpu")
    assert "TensorRT 10.12.0.36" in ei.value.message and "TensorRT 10.13.3.9" in ei.value.message


def test_refuses_other_flavour(tmp_path: Path, gpu: dict) -> None:
    plan = make_plan(tmp_path, "rtx-1.7")
    with pytest.raises(PlanMismatch, match="TensorRT-RTX 1.7.1.116, this process has TensorRT 10.13.3.9"):
        TrtRunner(make_fake("10.13"), plan, _device="cpu")


def test_refuses_other_gpu(tmp_path: Path, gpu: dict) -> None:
    plan = make_plan(tmp_path, "10.13", sidecar={"gpu": A100})
    with pytest.raises(PlanMismatch) as ei:
        TrtRunner(make_fake("10.13"), plan, _device="cpu")
    assert "NVIDIA A100-SXM4-80GB (compute capability 8.0)" in ei.value.message
    assert "NVIDIA H200 (compute capability 9.0)" in ei.value.message


def test_rtx_engines_are_not_gpu_bound(tmp_path: Path, gpu: dict) -> None:
    plan = make_plan(tmp_path, "rtx-1.7", sidecar={"gpu": A100})
    TrtRunner(make_fake("rtx-1.7"), plan, _device="cpu").close()


def test_rtx_refused_at_context_creation_says_what_tensorrt_said(tmp_path: Path, gpu: dict) -> None:
    """TensorRT-RTX on an H200 (CC 9.0): the JIT step fails; the message is TensorRT's own line."""
    said = "[runtime] Error Code 1: Internal Error (Unsupported SM: sm_90)"
    plan = make_plan(tmp_path, "rtx-1.7")
    trt = make_fake("rtx-1.7", Scenario(context_errors=[said]))
    with pytest.raises(EngineLoadError) as ei:
        TrtRunner(trt, plan, _device="cpu")
    assert ei.value.message == f"TensorRT could not create an execution context for {plan.name}: {said}"


def test_corrupt_plan(tmp_path: Path, gpu: dict) -> None:
    plan = make_plan(tmp_path, "11.4")
    plan.write_bytes(b"g" * plan.stat().st_size)  # the size its sidecar recorded: only TensorRT can tell
    with pytest.raises(EngineLoadError, match="magic tag mismatch"):
        TrtRunner(make_fake("11.4"), plan, _device="cpu")


def test_deserialize_none_without_log_lines(tmp_path: Path, gpu: dict) -> None:
    plan = make_plan(tmp_path, "11.4")
    with pytest.raises(EngineLoadError, match="corrupt plan, or built by another TensorRT version"):
        TrtRunner(make_fake("11.4", Scenario(deserialize_errors=[])), plan, _device="cpu")


def test_no_sidecar_is_allowed_with_a_note(tmp_path: Path, gpu: dict) -> None:
    plan = make_plan(tmp_path, "10.13")
    plan.with_name(plan.name + ".json").unlink()
    r = TrtRunner(make_fake("10.13"), plan, _device="cpu")
    assert any("no sidecar" in n for n in r.notes)


@pytest.mark.parametrize("key", ["8.6", "10.13", "11.4", "rtx-1.7"])
def test_io_round_trip_on_cpu(tmp_path: Path, gpu: dict, key: str) -> None:
    sc = Scenario(outputs=[("logits", (-1, 4), "FLOAT"), ("half", (-1, 4), "HALF")])
    plan = make_plan(tmp_path, key, sc)
    trt = make_fake(key, sc)
    with TrtRunner(trt, plan, (3, 4), _device="cpu") as r:
        assert r.input_names == ["input"] and r.output_names == ["logits", "half"]
        x = np.arange(12, dtype=np.float32).reshape(3, 4)
        r.set_input(x)
        r.compute()
        logits, half = r.outputs()
        np.testing.assert_array_equal(logits, x)  # the fake copies input bytes to outputs
        assert half.dtype == np.float16 and half.shape == (3, 4)
        info = r.engine_info()
        assert [(i["name"], i["dtype"], i["shape"]) for i in info["io"]] == [
            ("input", "FLOAT", [3, 4]), ("logits", "FLOAT", [3, 4]), ("half", "HALF", [3, 4])]
        assert info["device_memory_bytes"] == (1000 if key == "8.6" else 2000)  # _v2 where it exists
        assert info["built"]["precision"] == "fp32"
    assert r.engine is None  # closed


def test_dynamic_input_defaults_to_profile_opt(tmp_path: Path, gpu: dict) -> None:
    plan = make_plan(tmp_path, "10.13")
    r = TrtRunner(make_fake("10.13"), plan, _device="cpu")
    assert r.engine_info()["io"][0]["shape"] == [2, 4]


def test_shape_outside_profile_and_wrong_host_shape(tmp_path: Path, gpu: dict) -> None:
    plan = make_plan(tmp_path, "10.13")
    with pytest.raises(EngineLoadError, match="outside the engine's profile"):
        TrtRunner(make_fake("10.13"), plan, (64, 4), _device="cpu")
    r = TrtRunner(make_fake("10.13"), plan, (2, 4), _device="cpu")
    with pytest.raises(TrtTuiError, match=r"must be shaped \[2, 4\]"):
        r.set_input(np.zeros((3, 4), np.float32))


def test_static_engine_rejects_other_shape(tmp_path: Path, gpu: dict) -> None:
    sc = Scenario(inputs=[("input", (2, 4), "FLOAT")], outputs=[("out", (2, 4), "FLOAT")])
    plan = make_plan(tmp_path, "11.4", sc)
    with pytest.raises(TrtTuiError, match=r"built for input \[2, 4\], not \[5, 4\]"):
        TrtRunner(make_fake("11.4", sc), plan, (5, 4), _device="cpu")


def test_fp16_input_gets_converted(tmp_path: Path, gpu: dict) -> None:
    """Strongly typed FP16 ONNX without keep_io_types: FP16 input buffer, float32 host data."""
    sc = Scenario(inputs=[("input", (-1, 4), "HALF")], outputs=[("out", (-1, 4), "HALF")])
    plan = make_plan(tmp_path, "11.4", sc)
    r = TrtRunner(make_fake("11.4", sc), plan, (2, 4), _device="cpu")
    r.set_input(np.full((2, 4), 1.5, np.float32))
    r.compute()
    (out,) = r.outputs()
    assert out.dtype == np.float16 and np.all(out == 1.5)


def test_execute_failure_names_log(tmp_path: Path, gpu: dict) -> None:
    plan = make_plan(tmp_path, "10.13")
    r = TrtRunner(make_fake("10.13"), plan, _device="cpu")

    def fail(handle: int) -> bool:
        r.logger.log("ERROR", "IExecutionContext::enqueueV3: Error Code 1: Cuda Runtime (illegal memory access)")
        return False

    r.context.execute_async_v3 = fail
    with pytest.raises(TrtTuiError, match="illegal memory access"):
        r.compute()


def test_truncated_plan_refused_by_its_recorded_size(tmp_path: Path, gpu: dict) -> None:
    plan = make_plan(tmp_path, "10.13")
    data = plan.read_bytes()
    plan.write_bytes(data[: len(data) // 2])
    with pytest.raises(PlanMismatch) as ei:
        TrtRunner(make_fake("10.13"), plan, _device="cpu")
    assert ei.value.message == (f"refusing {plan.name}: it is {len(data) // 2} bytes, its sidecar recorded {len(data)}: "
                                "truncated or replaced since it was built; build it again")


# -- findings of the API audit (issue 11): the fakes now have the real bindings' traps -----------------
def test_build_while_a_runner_lives_still_reports_tensorrt_errors(tmp_path: Path, gpu: dict) -> None:
    """One logger per process: a build started while an earlier runner's Runtime lives gets its errors."""
    from trt_tui.core.trt.builder import BuildFailed

    said = "[optimizer] Error Code 4: Internal Error (could not find any implementation for node /fc/Gemm)"
    sc = Scenario()
    plan = make_plan(tmp_path, "10.13", sc)
    trt = make_fake("10.13", sc)
    f = Features.from_module(trt)
    runner = TrtRunner(trt, plan, (2, 4), _device="cpu")
    assert trt._state["live"] == 1  # its Runtime holds TensorRT's logger
    sc.build_errors = [said]
    logged: list[tuple[str, str]] = []
    with pytest.raises(BuildFailed) as ei:
        build_engine(trt, f, tmp_path / "m.onnx", tmp_path / "again.plan", precision_plan(f, "fp32"),
                     BuildOptions(batch_shape=((1, 4), (2, 4), (8, 4)), on_log=lambda s, m: logged.append((s, m))))
    assert ei.value.message == f"TensorRT build failed: {said}" and ei.value.log_errors == [said]
    assert logged == [("ERROR", said)]
    # and a normal second build's warnings reach its own listener, not the runner's
    sc.build_errors, sc.build_warnings = [], ["weights exceed FP16 range"]
    res = build_engine(trt, f, tmp_path / "m.onnx", tmp_path / "again.plan", precision_plan(f, "fp32"),
                       BuildOptions(batch_shape=((1, 4), (2, 4), (8, 4))))
    assert res.warnings == ["weights exceed FP16 range"]
    runner.close()
    assert runner.runtime is None and runner.engine is None and runner.context is None
    del ei, res  # the BuildFailed traceback holds the failed build's frames (and its Builder)
    gc.collect()
    assert trt._state["live"] == 0  # close() released the Runtime (the engine no longer keeps it alive)


def test_failed_load_releases_the_runtime(tmp_path: Path, gpu: dict) -> None:
    plan = make_plan(tmp_path, "11.4")
    trt = make_fake("11.4", Scenario(context_errors=["Error Code 1: Internal Error (Unsupported SM: sm_90)"]))
    with pytest.raises(EngineLoadError):
        TrtRunner(trt, plan, _device="cpu")
    assert trt._state["live"] == 0


@pytest.mark.parametrize("key", ["8.6", "10.13", "11.4"])
def test_data_dependent_output_through_the_runner(tmp_path: Path, gpu: dict, key: str) -> None:
    """NonZero-style output: -1 after infer_shapes; sized by the IOutputAllocator during execute."""
    from tests.trt.fakes import nonzero

    sc = Scenario(outputs=[("copy", (-1, 4), "FLOAT"), ("indices", (2, -1), "INT64")], compute={"indices": nonzero})
    plan = make_plan(tmp_path, key, sc)
    trt = make_fake(key, sc)
    with TrtRunner(trt, plan, (3, 4), _device="cpu") as r:
        assert r.dynamic_outputs == ["indices"]
        seen = []
        for fill in (1, 9, 2):  # more, then fewer non-zeros than the first buffer holds
            x = np.zeros((3, 4), np.float32)
            x.flat[:fill] = 1.0
            r.set_input(x)
            r.compute()
            copy, idx = r.outputs()
            np.testing.assert_array_equal(copy, x)
            np.testing.assert_array_equal(idx, np.stack(np.nonzero(x)))
            seen.append(idx.shape)
        assert seen == [(2, 1), (2, 9), (2, 2)]
        assert [s for _, s in sc.reallocations] == [16, 144, 32]
        assert r.output_allocator.sizes["indices"] == 144  # kept while big enough: no allocation per call
        assert r.engine_info()["io"][2] == {"name": "indices", "mode": "output", "dtype": "INT64",
                                            "engine_shape": [2, -1], "shape": [2, 2], "memory": "allocator"}


def test_data_dependent_output_without_output_allocator_is_one_line(tmp_path: Path, gpu: dict) -> None:
    from tests.trt.fakes import nonzero

    sc = Scenario(outputs=[("indices", (2, -1), "INT64")], compute={"indices": nonzero})
    plan = make_plan(tmp_path, "10.13", sc)
    with pytest.raises(TrtTuiError) as ei:
        TrtRunner(make_fake("10.13", sc, IOutputAllocator=None), plan, (3, 4), _device="cpu")
    assert ei.value.message == (f"{plan.name}: output(s) {{'indices': [2, -1]}} have data-dependent shapes and "
                                "TensorRT 10.13.3.9 has no IOutputAllocator to size them")


def test_shape_tensor_input_lives_in_host_memory(tmp_path: Path, gpu: dict) -> None:
    """An input that is a shape tensor (is_shape_inference_io): host buffer, values from set_input."""
    def first_k(ins: dict) -> np.ndarray:
        return ins["x"][:, : int(ins["k"][0])]

    sc = Scenario(inputs=[("x", (-1, 4), "FLOAT"), ("k", (1,), "INT32")], outputs=[("y", (-1, -1), "FLOAT")],
                  shape_inputs=("k",), compute={"y": first_k})
    plan = make_plan(tmp_path, "10.13", sc)
    with TrtRunner(make_fake("10.13", sc), plan, {"x": (2, 4)}, _device="cpu") as r:
        assert r.host_io == {"k"} and r.dynamic_outputs == ["y"]
        x = np.arange(8, dtype=np.float32).reshape(2, 4)
        r.set_input({"x": x, "k": np.array([3], np.int32)})
        r.compute()
        (y,) = r.outputs()
        np.testing.assert_array_equal(y, x[:, :3])


def test_infer_shapes_raising_becomes_one_line_naming_the_inputs(tmp_path: Path, gpu: dict) -> None:
    said = "IExecutionContext::inferShapes: Error Code 7: Internal Error (/Reshape: volume mismatch)"
    plan = make_plan(tmp_path, "10.13")
    with pytest.raises(TrtTuiError) as ei:
        TrtRunner(make_fake("10.13", Scenario(infer_error=said)), plan, (3, 4), _device="cpu")
    assert ei.value.message == (f"TensorRT cannot infer the output shapes of {plan.name} for input 'input' [3, 4]: "
                                f"{said}")
    assert "infer_shapes error code: -1" in ei.value.detail


def test_fake_set_tensor_address_checks_name_and_alignment(tmp_path: Path, gpu: dict) -> None:
    plan = make_plan(tmp_path, "10.13")
    trt = make_fake("10.13")
    r = TrtRunner(trt, plan, (2, 4), _device="cpu")
    assert all(int(b.data_ptr()) % 256 == 0 for b in r._buffers.values())  # the runner aligns its buffers
    base = int(r._buffers["input"].data_ptr())
    assert r.context.set_tensor_address("input", base + 64) is False
    assert r.context.set_tensor_address("nope", base) is False
    with pytest.raises(EngineLoadError, match=r"set_tensor_address\('input'\) failed: .*not 256-byte aligned"):
        with runner_mod.listen(trt) as sink:
            r._sink = sink
            r._set_address("input", r._buffers["input"][0, 1:])
