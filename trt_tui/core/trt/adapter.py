"""The one place that knows TensorRT versions (8.6 / 10.x / 11.x / TensorRT-RTX).

Capabilities come from the module's attributes (``hasattr``/``getattr``), never from enum integers;
the version is parsed only for display and deprecation notes. Everything here is pure and is tested
with fake modules (tests/trt/fakes.py).
"""

from __future__ import annotations

import importlib
import os
import re
from dataclasses import asdict, dataclass, field
from types import ModuleType
from typing import Any

from trt_tui.core.errors import TensorRTUnavailable, TrtTuiError
from trt_tui.core.vocab import Calibration, Precision

ENV_VAR = "TRT_TUI_TENSORRT"  # tensorrt | rtx | none | auto
FLAVOUR_TRT = "tensorrt"
FLAVOUR_RTX = "tensorrt-rtx"
# ``precision_plan``'s INT8 mode besides a Calibration: Q/DQ even where this TensorRT has calibrators (the
# GPU scripts and tests build the Q/DQ path on every version with it; the app and CLI never pass it)
FORCE_QDQ = "qdq"

INSTALL_HINT = 'pip install "trt-tui[tensorrt]" (CUDA 12: "trt-tui[tensorrt-cu12]")'  # the one wording, everywhere
INSTALL_NOTE = (
    "The tensorrt-*-libs wheels are fetched from NVIDIA's own package index during the install, so a "
    "PyPI-only or offline machine needs TensorRT pre-installed (container, system package or tarball)."
)

RTX_INSTALL_HINT = (
    'install TensorRT-RTX with: pip install "trt-tui[tensorrt-rtx]" (module tensorrt_rtx; the '
    "tensorrt-rtx-*-bindings wheel alone provides tensorrt_rtx_bindings); it targets RTX GPUs "
    "(compute capability 7.5/8.6/8.9/12.x), not data-center Hopper"
)

# pip distributions that install each flavour, in the order looked up (metadata only, no import)
DISTRIBUTIONS: tuple[tuple[str, str], ...] = (
    ("tensorrt", FLAVOUR_TRT),
    ("tensorrt-cu13", FLAVOUR_TRT),
    ("tensorrt-cu12", FLAVOUR_TRT),
    ("tensorrt-rtx", FLAVOUR_RTX),
    ("tensorrt-rtx-cu13-bindings", FLAVOUR_RTX),
    ("tensorrt-rtx-cu12-bindings", FLAVOUR_RTX),
)


def installed_distribution(flavour: str | None = None) -> tuple[str, str] | None:
    """(version, flavour) of the first TensorRT distribution pip installed, read from its metadata
    (cheap: nothing is imported); None if there is none."""
    from importlib import metadata

    for dist, flav in DISTRIBUTIONS:
        if flavour is not None and flav != flavour:
            continue
        try:
            return metadata.version(dist), flav
        except metadata.PackageNotFoundError:
            continue
    return None


# module names per choice, in the order tried: the ``tensorrt`` front end only re-exports the bindings
# wheel's own module (tensorrt_bindings / tensorrt_rtx_bindings), which may be installed alone
_MODULES: dict[str, tuple[tuple[str, str], ...]] = {
    "tensorrt": (("tensorrt", FLAVOUR_TRT), ("tensorrt_bindings", FLAVOUR_TRT)),
    "rtx": (("tensorrt_rtx", FLAVOUR_RTX), ("tensorrt_rtx_bindings", FLAVOUR_RTX)),
}


def import_tensorrt(prefer: str = "auto") -> tuple[ModuleType, str]:
    """Import TensorRT (or TensorRT-RTX); returns (module, flavour).

    ``TRT_TUI_TENSORRT=tensorrt|rtx|none`` overrides ``prefer``; ``none`` behaves as if nothing were
    installed. A module without ``Builder`` (e.g. the namespace package that a stubs-only install
    leaves behind) does not count as TensorRT.
    """
    choice = (os.environ.get(ENV_VAR, "").strip().lower() or prefer or "auto").replace("tensorrt-rtx", "rtx")
    if choice == "none":
        raise TensorRTUnavailable(f"TensorRT disabled by {ENV_VAR}=none", detail=INSTALL_HINT)
    if choice == "auto":
        order = _MODULES["tensorrt"] + _MODULES["rtx"]
    elif choice in _MODULES:
        order = _MODULES[choice]
    else:
        raise TrtTuiError(f"{ENV_VAR} must be tensorrt, rtx, none or auto, not {choice!r}")
    tried: list[str] = []
    for name, flavour in order:
        try:
            mod = importlib.import_module(name)
        except ImportError as exc:
            tried.append(f"import {name}: {exc}")
            continue
        except Exception as exc:  # noqa: BLE001 - a broken install (missing libnvinfer, CUDA driver mismatch...) is a reason, not a crash
            tried.append(f"import {name}: {type(exc).__name__}: {exc}")
            continue
        if not (hasattr(mod, "Builder") and hasattr(mod, "Runtime")):
            where = list(getattr(mod, "__path__", []) or [getattr(mod, "__file__", "?")])
            tried.append(f"import {name}: found {where} but it has no Builder/Runtime (type stubs only?)")
            continue
        return mod, flavour
    if choice == "rtx":
        raise TensorRTUnavailable(f"TensorRT-RTX is not installed: {RTX_INSTALL_HINT}", detail="\n".join(tried))
    raise TensorRTUnavailable(f"TensorRT is not installed: {INSTALL_HINT}", detail="\n".join([*tried, INSTALL_NOTE]))


def parse_version(text: str) -> tuple[int, ...]:
    """'8.6.1' / '8.6.1.post1' / '10.13.3.9' / '11.4.0.106' -> numeric parts (up to 4)."""
    parts: list[int] = []
    for piece in str(text).strip().split(".")[:4]:
        m = re.match(r"\d+", piece)
        if not m:
            break
        parts.append(int(m.group()))
    return tuple(parts) or (0,)


def module_version(trt: Any) -> str:
    v = getattr(trt, "__version__", None)
    if v:
        return str(v)
    try:  # bindings-only RTX installs may lack __version__
        found = installed_distribution(FLAVOUR_RTX)
    except Exception:  # noqa: BLE001 - bindings-only RTX installs may lack metadata: the version is display only
        found = None
    return found[0] if found else "unknown"


def _has(obj: Any, *names: str) -> bool:
    return obj is not None and all(hasattr(obj, n) for n in names)


@dataclass(frozen=True)
class Features:
    version: tuple[int, ...]
    version_str: str
    flavour: str
    has_explicit_batch_flag: bool
    needs_explicit_batch: bool  # an implicit-batch network is still possible (8.x/9.x)
    has_strongly_typed_flag: bool
    strongly_typed_only: bool  # 11.x and TensorRT-RTX
    has_fp16_flag: bool
    has_int8_flag: bool
    has_calibrators: bool
    has_progress_monitor: bool
    has_tf32_flag: bool
    has_timing_cache: bool
    has_device_memory_v2: bool
    has_build_serialized: bool
    has_onnx_parser: bool
    notes: tuple[str, ...] = field(default=())
    has_int64: bool = True  # INT64 engine I/O (10.x+); 8.6's parser turns an int64 input into INT32

    @property
    def label(self) -> str:
        return f"{'TensorRT-RTX' if self.flavour == FLAVOUR_RTX else 'TensorRT'} {self.version_str}"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["version"] = list(self.version)
        d["notes"] = list(self.notes)
        return d

    @classmethod
    def from_module(cls, trt: Any, flavour: str | None = None) -> Features:
        if flavour is None:
            flavour = FLAVOUR_RTX if str(getattr(trt, "__name__", "")).startswith("tensorrt_rtx") else FLAVOUR_TRT
        rtx = flavour == FLAVOUR_RTX
        ver = module_version(trt)
        ncf = getattr(trt, "NetworkDefinitionCreationFlag", None)
        bf = getattr(trt, "BuilderFlag", None)
        has_eb = _has(ncf, "EXPLICIT_BATCH")
        has_st = _has(ncf, "STRONGLY_TYPED")
        has_fp16 = _has(bf, "FP16")
        has_int8 = _has(bf, "INT8")
        calibs = _has(trt, "IInt8EntropyCalibrator2", "IInt8MinMaxCalibrator")
        strong_only = rtx or not (has_fp16 or has_int8)
        notes = []
        if rtx:
            notes.append("TensorRT-RTX: strongly typed only; FP16 = FP16 ONNX, INT8 = Q/DQ ONNX")
        elif strong_only:
            notes.append("no BuilderFlag.FP16/INT8: strongly typed only (TensorRT 11)")
        # Builder.max_batch_size is the implicit-batch API (8.x/9.x, removed in 10.0)
        needs_eb = has_eb and not rtx and (_has(getattr(trt, "Builder", None), "max_batch_size") or not has_st)
        cfg = getattr(trt, "IBuilderConfig", None)
        return cls(
            version=parse_version(ver),
            version_str=ver,
            flavour=flavour,
            has_explicit_batch_flag=has_eb,
            needs_explicit_batch=needs_eb,
            has_strongly_typed_flag=has_st,
            strongly_typed_only=strong_only,
            has_fp16_flag=has_fp16,
            has_int8_flag=has_int8,
            has_calibrators=calibs,
            has_progress_monitor=_has(trt, "IProgressMonitor"),
            has_tf32_flag=_has(bf, "TF32"),
            # TensorRT-RTX >= 1.2: timing-cache calls are deprecated no-ops (it has a runtime cache)
            has_timing_cache=_has(cfg, "create_timing_cache", "set_timing_cache") and not rtx,
            has_device_memory_v2=_has(getattr(trt, "ICudaEngine", None), "device_memory_size_v2"),
            has_build_serialized=_has(getattr(trt, "Builder", None), "build_serialized_network"),
            has_onnx_parser=_has(trt, "OnnxParser"),
            has_int64=_has(getattr(trt, "DataType", None), "INT64"),
            notes=tuple(notes),
        )


NO_GPU_REASON = "no CUDA GPU: TensorRT engines need one (PyTorch sees none)"


@dataclass(frozen=True)
class TensorRTEnv:
    """What this run can do with TensorRT: the module, its features and flavour, or the reason it
    cannot be used (not installed, disabled, no CUDA GPU). One object instead of loose attributes."""

    module: Any = None
    features: Features | None = None
    flavour: str | None = None
    reason: str = ""  # why TensorRT cannot be used here; "" when it can

    @classmethod
    def detect(cls, device: str, prefer: str = "auto") -> TensorRTEnv:
        """Import TensorRT (see import_tensorrt); ``device`` is where this run works (cuda | cpu)."""
        try:
            module, flavour = import_tensorrt(prefer)
        except TensorRTUnavailable as exc:
            return cls(reason=exc.message)
        return cls.of(module, flavour, reason="" if device == "cuda" else NO_GPU_REASON)

    @classmethod
    def of(cls, module: Any, flavour: str | None = None, reason: str = "") -> TensorRTEnv:
        """An environment around an already imported module (real or fake)."""
        features = Features.from_module(module, flavour)
        return cls(module, features, features.flavour, reason)

    @property
    def installed(self) -> bool:
        return self.module is not None

    @property
    def usable(self) -> bool:
        return self.module is not None and self.features is not None and not self.reason

    def require(self) -> tuple[Any, Features]:
        """(module, features), or a TrtTuiError with the reason it cannot be used."""
        if not self.usable or self.features is None:
            raise TrtTuiError(self.reason or "TensorRT is not available")
        return self.module, self.features

    def env_fields(self) -> dict[str, Any]:
        """The ``env`` entries a run records (results.json, EnvEvent)."""
        if self.features is None:
            return {"tensorrt": None}
        return {"tensorrt": self.features.version_str, "tensorrt_flavour": self.flavour}


def network_flags(trt: Any, features: Features, strong: bool) -> int:
    """The create_network() mask, built from enum names (bit positions differ between versions)."""
    ncf = getattr(trt, "NetworkDefinitionCreationFlag", None)
    mask = 0
    if features.needs_explicit_batch:
        mask |= 1 << int(getattr(ncf, "EXPLICIT_BATCH"))  # noqa: B009 - by name: the enum value differs by version (DESIGN)
    if strong:
        if features.has_strongly_typed_flag:
            mask |= 1 << int(getattr(ncf, "STRONGLY_TYPED"))  # noqa: B009 - by name: the enum value differs by version (DESIGN)
        elif not features.strongly_typed_only:
            raise TrtTuiError(f"{features.label} has no strongly typed networks (STRONGLY_TYPED is 10.x+)")
    return mask


@dataclass(frozen=True)
class PrecisionPlan:
    precision: str  # fp32 | fp16 | int8
    onnx: str  # which ONNX to parse: fp32 | fp16 (converted) | qdq
    strongly_typed: bool
    flags: tuple[str, ...]  # BuilderFlag names to set
    calibrator: str | None  # entropy | minmax | None
    mechanism: str  # for the results table
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["flags"] = list(self.flags)
        d["notes"] = list(self.notes)
        return d


def _since(features: Features, ver: tuple[int, ...], text: str) -> str:
    """A deprecation suffix, only for plain TensorRT at/after ``ver`` (display only)."""
    return f" ({text})" if features.flavour == FLAVOUR_TRT and features.version >= ver else ""


def precision_plan(features: Features, precision: str, int8_mode: str = Calibration.ENTROPY) -> PrecisionPlan:
    """How to get ``precision`` out of this TensorRT. ``int8_mode``: a Calibration (TensorRT's calibrator
    where one exists, else Q/DQ) or FORCE_QDQ (Q/DQ ONNX everywhere). How the Q/DQ ONNX was made (ModelOpt
    or onnxruntime) is the quantize stage's note, added to the row's notes beside this mechanism."""
    precision = precision.lower()
    if precision not in set(Precision):
        raise ValueError(f"precision must be one of {tuple(Precision)}, not {precision!r}")
    if int8_mode != FORCE_QDQ and int8_mode not in set(Calibration):
        raise ValueError(f"int8_mode must be one of {(*Calibration, FORCE_QDQ)}, not {int8_mode!r}")
    strong_only = features.strongly_typed_only
    typed = "strongly typed" if strong_only else "weakly typed"

    if precision == "fp32":
        return PrecisionPlan("fp32", "fp32", strong_only, (), None, f"FP32 ONNX, no precision flags ({typed})")

    if precision == "fp16":
        if features.has_fp16_flag and not strong_only:
            dep = _since(features, (10, 12), "deprecated since 10.12")
            return PrecisionPlan("fp16", "fp32", False, ("FP16",), None, f"BuilderFlag.FP16 (weakly typed){dep}")
        return PrecisionPlan("fp16", "fp16", True, (), None, "FP16 ONNX, strongly typed")

    # int8
    no_calib = () if int8_mode == FORCE_QDQ else (f"{features.label} has no INT8 calibrators; using Q/DQ",)
    if strong_only or not features.has_int8_flag:
        return PrecisionPlan(
            "int8",
            "qdq",
            True,
            (),
            None,
            "Q/DQ ONNX, strongly typed",
            no_calib,
        )
    if int8_mode == FORCE_QDQ or not features.has_calibrators:
        return PrecisionPlan(
            "int8",
            "qdq",
            False,
            ("INT8",),
            None,
            "Q/DQ ONNX + BuilderFlag.INT8 (weakly typed)",
            no_calib,
        )
    cls = "IInt8EntropyCalibrator2" if int8_mode == Calibration.ENTROPY else "IInt8MinMaxCalibrator"
    flags = ("INT8", "FP16") if features.has_fp16_flag else ("INT8",)
    dep = _since(features, (10, 1), "deprecated since 10.1")
    fallback = " with FP16 fallback" if "FP16" in flags else ""
    return PrecisionPlan(
        "int8",
        "fp32",
        False,
        flags,
        int8_mode,
        f"{cls}{dep}, BuilderFlag.INT8{fallback} (weakly typed)",
    )


def tf32_label(state: bool | None) -> str:
    """Results-table value for the tf32 column."""
    return "n/a" if state is None else ("on" if state else "off")
