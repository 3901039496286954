"""The version adapter's choices for TensorRT 8.6 / 10.13 / 11.4 / TensorRT-RTX 1.7 (fake modules)."""

from __future__ import annotations

import sys
import types

import pytest

from tests.trt.fakes import KEYS, NETWORK_FLAGS, make_fake
from trt_tui.core.errors import TensorRTUnavailable, TrtTuiError
from trt_tui.core.trt import adapter
from trt_tui.core.trt.adapter import Features, import_tensorrt, network_flags, parse_version, precision_plan

EXPECTED = {
    #         flavour         needs_eb  st_flag strong_only fp16  int8  calib progress tc    v2
    "8.6": ("tensorrt", True, False, False, True, True, True, False, True, False),
    "10.13": ("tensorrt", False, True, False, True, True, True, True, True, True),
    "11.4": ("tensorrt", False, True, True, False, False, False, True, True, True),
    "rtx-1.7": ("tensorrt-rtx", False, True, True, False, False, False, True, False, True),
}


@pytest.mark.parametrize("key", KEYS)
def test_features(key: str) -> None:
    f = Features.from_module(make_fake(key))
    got = (
        f.flavour, f.needs_explicit_batch, f.has_strongly_typed_flag, f.strongly_typed_only, f.has_fp16_flag,
        f.has_int8_flag, f.has_calibrators, f.has_progress_monitor, f.has_timing_cache, f.has_device_memory_v2,
    )
    assert got == EXPECTED[key]
    assert f.has_tf32_flag and f.has_build_serialized and f.has_onnx_parser
    assert f.to_dict()["version"] == list(f.version)


def test_parse_version() -> None:
    assert parse_version("8.6.1.post1") == (8, 6, 1)
    assert parse_version("10.13.3.9") == (10, 13, 3, 9)
    assert parse_version("11.4.0.106") == (11, 4, 0, 106)
    assert parse_version("1.7.1.116") == (1, 7, 1, 116)
    assert parse_version("garbage") == (0,)


def test_enum_values_really_differ_between_versions() -> None:
    """The premise of building masks by name: bit 1 means three different things."""
    ncf = {k: make_fake(k).NetworkDefinitionCreationFlag for k in ("8.6", "10.13", "11.4")}
    assert ncf["8.6"].EXPLICIT_PRECISION.value == 1
    assert ncf["10.13"].STRONGLY_TYPED.value == 1
    assert ncf["11.4"].PREFER_JIT_PYTHON_PLUGINS.value == 1
    assert ncf["11.4"].STRONGLY_TYPED.value == 0
    assert not hasattr(ncf["11.4"], "EXPLICIT_BATCH")
    assert int(make_fake("8.6").BuilderFlag.TF32) != int(make_fake("10.13").BuilderFlag.TF32)


@pytest.mark.parametrize(
    "key, strong, mask",
    [
        ("8.6", False, 1 << 0),  # EXPLICIT_BATCH (=0)
        ("10.13", False, 0),  # EXPLICIT_BATCH deprecated & ignored: not passed
        ("10.13", True, 1 << 1),  # STRONGLY_TYPED = 1 in 10.x
        ("11.4", True, 1 << 0),  # STRONGLY_TYPED renumbered to 0 in 11.x
        ("11.4", False, 0),
        ("rtx-1.7", True, 1 << 0),
    ],
)
def test_network_flags_by_name(key: str, strong: bool, mask: int) -> None:
    trt = make_fake(key)
    assert network_flags(trt, Features.from_module(trt), strong) == mask


def test_network_flags_never_hardcode_ints() -> None:
    """A hard-coded `1 << 1` for STRONGLY_TYPED would set PREFER_JIT_PYTHON_PLUGINS on 11.x."""
    trt = make_fake("11.4")
    m = network_flags(trt, Features.from_module(trt), True)
    assert m != 1 << 1 and m == 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)


def test_strong_typing_unavailable_on_86() -> None:
    trt = make_fake("8.6")
    with pytest.raises(TrtTuiError, match="strongly typed"):
        network_flags(trt, Features.from_module(trt), True)


def test_rtx_with_legacy_names_still_strong() -> None:
    """Older TensorRT-RTX bindings list EXPLICIT_BATCH (and the header FP16): still strongly typed."""
    trt = make_fake("rtx-1.7")
    from tests.trt.fakes import make_enum

    trt.NetworkDefinitionCreationFlag = make_enum("NetworkDefinitionCreationFlag", {"EXPLICIT_BATCH": 0, "STRONGLY_TYPED": 1})
    trt.BuilderFlag = make_enum("BuilderFlag", {"FP16": 0, "INT8": 1, "TF32": 6})
    f = Features.from_module(trt)
    assert f.strongly_typed_only and not f.needs_explicit_batch
    assert network_flags(trt, f, True) == 1 << 1
    p = precision_plan(f, "fp16")
    assert p.onnx == "fp16" and p.strongly_typed and p.flags == ()


# -- precision plans ---------------------------------------------------------------------------
PLANS = [
    # key, precision, mode -> onnx, strongly_typed, flags, calibrator, mechanism fragment
    ("8.6", "fp32", "entropy", "fp32", False, (), None, "no precision flags (weakly typed)"),
    ("8.6", "fp16", "entropy", "fp32", False, ("FP16",), None, "BuilderFlag.FP16 (weakly typed)"),
    ("8.6", "int8", "entropy", "fp32", False, ("INT8", "FP16"), "entropy", "IInt8EntropyCalibrator2,"),
    ("8.6", "int8", "minmax", "fp32", False, ("INT8", "FP16"), "minmax", "IInt8MinMaxCalibrator,"),
    ("8.6", "int8", "qdq", "qdq", False, ("INT8",), None, "Q/DQ ONNX + BuilderFlag.INT8"),
    ("10.13", "fp16", "entropy", "fp32", False, ("FP16",), None, "BuilderFlag.FP16 (weakly typed) (deprecated since 10.12)"),
    ("10.13", "int8", "entropy", "fp32", False, ("INT8", "FP16"), "entropy", "IInt8EntropyCalibrator2 (deprecated since 10.1)"),
    ("10.13", "int8", "qdq", "qdq", False, ("INT8",), None, "(weakly typed)"),
    ("11.4", "fp32", "entropy", "fp32", True, (), None, "(strongly typed)"),
    ("11.4", "fp16", "entropy", "fp16", True, (), None, "FP16 ONNX, strongly typed"),
    ("11.4", "int8", "entropy", "qdq", True, (), None, "Q/DQ ONNX, strongly typed"),
    ("11.4", "int8", "qdq", "qdq", True, (), None, "strongly typed"),
    ("rtx-1.7", "fp16", "entropy", "fp16", True, (), None, "FP16 ONNX, strongly typed"),
    ("rtx-1.7", "int8", "minmax", "qdq", True, (), None, "Q/DQ ONNX, strongly typed"),
]


@pytest.mark.parametrize("key, precision, mode, onnx, strong, flags, calib, mech", PLANS)
def test_precision_plan(key, precision, mode, onnx, strong, flags, calib, mech) -> None:  # type: ignore[no-untyped-def]
    p = precision_plan(Features.from_module(make_fake(key)), precision, mode)
    assert (p.onnx, p.strongly_typed, p.flags, p.calibrator) == (onnx, strong, flags, calib)
    assert mech in p.mechanism
    # every flag the plan names exists in that version's BuilderFlag
    trt = make_fake(key)
    assert all(hasattr(trt.BuilderFlag, n) for n in p.flags)


def test_plan_notes_when_calibrator_unavailable() -> None:
    p = precision_plan(Features.from_module(make_fake("11.4")), "int8", "entropy")
    assert any("no INT8 calibrators" in n for n in p.notes)
    assert precision_plan(Features.from_module(make_fake("11.4")), "int8", "qdq").notes == ()


def test_86_has_no_deprecation_suffix() -> None:
    p = precision_plan(Features.from_module(make_fake("8.6")), "int8", "entropy")
    assert "deprecated" not in p.mechanism


def test_bad_arguments() -> None:
    f = Features.from_module(make_fake("10.13"))
    with pytest.raises(ValueError):
        precision_plan(f, "int4")
    with pytest.raises(ValueError):
        precision_plan(f, "int8", "percentile")


# -- import_tensorrt ---------------------------------------------------------------------------
@pytest.fixture
def no_trt_modules(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Make every TensorRT import fail unless a test puts a module in sys.modules."""
    real = adapter.importlib.import_module

    def fake_import(name: str, *a, **k):  # type: ignore[no-untyped-def]
        if name in sys.modules and isinstance(sys.modules[name], types.ModuleType):
            return sys.modules[name]
        if name.startswith("tensorrt"):
            raise ImportError(f"No module named {name!r}")
        return real(name, *a, **k)

    monkeypatch.setattr(adapter.importlib, "import_module", fake_import)
    for n in ("tensorrt", "tensorrt_bindings", "tensorrt_rtx", "tensorrt_rtx_bindings"):
        monkeypatch.delitem(sys.modules, n, raising=False)
    monkeypatch.delenv(adapter.ENV_VAR, raising=False)
    return monkeypatch


def test_env_none_behaves_as_missing(no_trt_modules: pytest.MonkeyPatch) -> None:
    no_trt_modules.setitem(sys.modules, "tensorrt", make_fake("10.13"))
    no_trt_modules.setenv(adapter.ENV_VAR, "none")
    with pytest.raises(TensorRTUnavailable, match="TRT_TUI_TENSORRT=none"):
        import_tensorrt()


def test_missing_names_install_commands(no_trt_modules: pytest.MonkeyPatch) -> None:
    with pytest.raises(TensorRTUnavailable) as ei:
        import_tensorrt()
    msg = ei.value.message
    assert 'pip install "trt-tui[tensorrt]"' in msg and '"trt-tui[tensorrt-cu12]"' in msg
    assert "NVIDIA" in ei.value.detail  # why a PyPI-only machine cannot finish the install
    assert "tensorrt_rtx_bindings" in ei.value.detail  # every candidate tried is listed


def test_stubs_only_namespace_is_not_tensorrt(no_trt_modules: pytest.MonkeyPatch) -> None:
    """tensorrt-stubs leaves an importable namespace package `tensorrt` with no bindings."""
    ns = types.ModuleType("tensorrt")
    ns.__path__ = ["/site-packages/tensorrt"]  # type: ignore[attr-defined]
    no_trt_modules.setitem(sys.modules, "tensorrt", ns)
    with pytest.raises(TensorRTUnavailable) as ei:
        import_tensorrt()
    assert "type stubs only" in ei.value.detail


def test_auto_prefers_tensorrt_then_rtx(no_trt_modules: pytest.MonkeyPatch) -> None:
    rtx = make_fake("rtx-1.7")
    no_trt_modules.setitem(sys.modules, "tensorrt_rtx_bindings", rtx)
    mod, flavour = import_tensorrt()
    assert mod is rtx and flavour == "tensorrt-rtx"
    trt = make_fake("10.13")
    no_trt_modules.setitem(sys.modules, "tensorrt", trt)
    assert import_tensorrt() == (trt, "tensorrt")
    no_trt_modules.setenv(adapter.ENV_VAR, "rtx")
    assert import_tensorrt() == (rtx, "tensorrt-rtx")
    no_trt_modules.setenv(adapter.ENV_VAR, "bogus")
    with pytest.raises(TrtTuiError, match="TRT_TUI_TENSORRT"):
        import_tensorrt()


def test_bindings_wheel_module_alone_is_full_tensorrt(no_trt_modules: pytest.MonkeyPatch) -> None:
    """tensorrt-cu13-bindings installs `tensorrt_bindings`; the `tensorrt` front end only re-exports it."""
    trt = make_fake("10.13")
    trt.__name__ = "tensorrt_bindings"
    no_trt_modules.setitem(sys.modules, "tensorrt_bindings", trt)
    no_trt_modules.setitem(sys.modules, "tensorrt_rtx", make_fake("rtx-1.7"))
    assert import_tensorrt() == (trt, "tensorrt")  # before RTX in auto
    no_trt_modules.setenv(adapter.ENV_VAR, "tensorrt")
    assert import_tensorrt() == (trt, "tensorrt")
    assert Features.from_module(trt).flavour == "tensorrt"


def test_forced_tensorrt_does_not_fall_back_to_rtx(no_trt_modules: pytest.MonkeyPatch) -> None:
    no_trt_modules.setitem(sys.modules, "tensorrt_rtx", make_fake("rtx-1.7"))
    no_trt_modules.setenv(adapter.ENV_VAR, "tensorrt")
    with pytest.raises(TensorRTUnavailable):
        import_tensorrt()


def test_flavour_from_bindings_module_name() -> None:
    rtx = make_fake("rtx-1.7")
    rtx.__name__ = "tensorrt_rtx_bindings"
    assert Features.from_module(rtx).flavour == "tensorrt-rtx"


def test_all_fakes_cover_network_flag_table() -> None:
    assert set(NETWORK_FLAGS) == set(KEYS)


# -- TensorRTEnv: the one object the pipeline holds ----------------------------------------------
def test_env_when_not_installed(no_trt_modules: pytest.MonkeyPatch) -> None:
    env = adapter.TensorRTEnv.detect("cuda")
    assert not env.installed and not env.usable and env.features is None
    assert env.reason.startswith("TensorRT is not installed: pip install")
    assert env.env_fields() == {"tensorrt": None}
    with pytest.raises(TrtTuiError, match="TensorRT is not installed"):
        env.require()


@pytest.mark.parametrize(("device", "usable"), [("cuda", True), ("cpu", False)])
def test_env_needs_a_gpu(no_trt_modules: pytest.MonkeyPatch, device: str, usable: bool) -> None:
    rtx = make_fake("rtx-1.7")
    no_trt_modules.setitem(sys.modules, "tensorrt_rtx", rtx)
    env = adapter.TensorRTEnv.detect(device)
    assert env.installed and env.usable is usable and env.module is rtx and env.flavour == "tensorrt-rtx"
    assert env.env_fields() == {"tensorrt": rtx.__version__, "tensorrt_flavour": "tensorrt-rtx"}
    if usable:
        assert env.require() == (rtx, env.features) and env.reason == ""
    else:
        with pytest.raises(TrtTuiError, match="no CUDA GPU"):
            env.require()


def test_installed_distribution_reads_metadata_only(monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib import metadata

    have = {"tensorrt-rtx-cu12-bindings": "1.2.0.54", "tensorrt-cu12": "10.13.3.9"}

    def version(name: str) -> str:
        if name not in have:
            raise metadata.PackageNotFoundError(name)
        return have[name]

    monkeypatch.setattr(metadata, "version", version)
    assert adapter.installed_distribution() == ("10.13.3.9", "tensorrt")  # plain TensorRT first
    assert adapter.installed_distribution("tensorrt-rtx") == ("1.2.0.54", "tensorrt-rtx")
    have.clear()
    assert adapter.installed_distribution() is None
