"""ONNX -> TensorRT plan: Builder, network, OnnxParser, config per the adapter's PrecisionPlan.

The plan is written under a temporary name and renamed into place, so a failed or interrupted build
never leaves a ``.plan`` that looks valid; a JSON sidecar describes how it was built.
"""

from __future__ import annotations

import datetime as _dt
import os
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trt_tui.core import atomic
from trt_tui.core.errors import TrtTuiError
from trt_tui.core.trt.adapter import Features, PrecisionPlan, network_flags, tf32_label
from trt_tui.core.trt.caches import REUSED, STALE, KeyedCache, open_keyed, timing_key
from trt_tui.core.trt.logger import (
    Listener,
    LogCallback,
    ProgressCallback,
    listen,
    make_progress_monitor,
    process_logger,
)
from trt_tui.core.trt.sidecar import SIDECAR_VERSION, file_sha256, gpu_identity, sidecar_path

if TYPE_CHECKING:  # checked against tensorrt-stubs (10.x API); at run time `trt` may be any version
    import tensorrt

Shape = tuple[int, ...]


class OnnxParseError(TrtTuiError):
    """The ONNX parser rejected the model; ``errors`` has one line per parser error."""

    def __init__(self, message: str, detail: str = "", errors: Sequence[str] = ()) -> None:
        super().__init__(message, detail)
        self.errors = list(errors)


class BuildFailed(TrtTuiError):
    """``build_serialized_network`` returned None; ``log_errors`` has TensorRT's own error lines."""

    def __init__(self, message: str, detail: str = "", log_errors: Sequence[str] = ()) -> None:
        super().__init__(message, detail)
        self.log_errors = list(log_errors)


class BuildCancelled(TrtTuiError):
    """The build was cancelled (progress monitor returned False, or cancel was set before it began)."""


@dataclass(frozen=True)
class ShapeProfile:
    min: Shape
    opt: Shape
    max: Shape

    @classmethod
    def of(cls, value: ShapeLike) -> ShapeProfile:
        """A static shape (1, 3, 8, 8), a (min, opt, max) triple of shapes, or a ShapeProfile."""
        if isinstance(value, ShapeProfile):
            return value
        items: list[Any] = list(value)
        if len(items) == 3 and all(isinstance(v, (tuple, list)) for v in items):
            mn, op, mx = (tuple(int(d) for d in v) for v in items)
            return cls(mn, op, mx)
        shape = tuple(int(d) for d in items)
        return cls(shape, shape, shape)

    def to_dict(self) -> dict[str, list[int]]:
        return {"min": list(self.min), "opt": list(self.opt), "max": list(self.max)}


ShapeLike = ShapeProfile | Sequence[int] | Sequence[Sequence[int]]


@dataclass
class BuildResult:
    plan_path: Path
    sidecar_path: Path
    size_bytes: int
    build_time_s: float
    precision: str
    mechanism: str
    tf32: str  # on | off | n/a
    strongly_typed: bool
    flags: list[str]
    warnings: list[str] = field(default_factory=list)
    shapes: dict[str, Any] = field(default_factory=dict)
    progress_events: int = 0
    phases: list[str] = field(default_factory=list)
    calibrator: str | None = None
    calibration_batches: int | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["plan_path"], d["sidecar_path"] = str(self.plan_path), str(self.sidecar_path)
        return d


def _call(obj: Any, name: str) -> Any:
    """obj.name() if it exists and works, else None (ParserError grew methods over versions)."""
    fn = getattr(obj, name, None)
    if fn is None:
        return None
    try:
        return fn() if callable(fn) else fn
    except Exception:  # noqa: BLE001 - an optional TensorRT property some versions refuse: None
        return None


def format_parser_error(err: Any) -> str:
    """'node 3 'Conv_0' (Conv): <desc> [UNSUPPORTED_NODE]' from a trt.ParserError, fields as available."""
    desc = _call(err, "desc") or str(err)
    node, name, op = _call(err, "node"), _call(err, "node_name"), _call(err, "node_operator")
    code = _call(err, "code")
    code_s = getattr(code, "name", None) or (str(code).rsplit(".", 1)[-1] if code is not None else "")
    where = []
    if node is not None and node != -1:
        where.append(f"node {node}")
    if name:
        where.append(repr(name))
    if op:
        where.append(f"({op})")
    head = " ".join(where)
    return f"{head + ': ' if head else ''}{desc}{f' [{code_s}]' if code_s else ''}"


def parser_errors(parser: Any) -> list[str]:
    out = []
    for i in range(int(getattr(parser, "num_errors", 0) or 0)):
        try:
            out.append(format_parser_error(parser.get_error(i)))
        except Exception as exc:  # noqa: BLE001 - one unreadable parser error must not hide the others
            out.append(f"(error {i} unreadable: {exc})")
    return out


def _resolve_profile(name: str, net_shape: Shape, given: ShapeProfile | None) -> ShapeProfile:
    """Fill the -1 dims of a network input from the requested shapes."""
    if given is None:
        raise TrtTuiError(f"input {name!r} has dynamic dims {list(net_shape)}; give its min/opt/max shapes")
    if len(given.opt) == len(net_shape):
        for shp in (given.min, given.opt, given.max):
            bad = [i for i, (n, g) in enumerate(zip(net_shape, shp)) if n != -1 and n != g]
            if bad:
                raise TrtTuiError(f"input {name!r} is {list(net_shape)}; shape {list(shp)} differs at dims {bad}")
        return given
    if -1 in net_shape[1:]:
        raise TrtTuiError(f"input {name!r} has dynamic dims {list(net_shape)}; give full min/opt/max shapes")
    rest = tuple(net_shape[1:])
    return ShapeProfile((given.min[0],) + rest, (given.opt[0],) + rest, (given.max[0],) + rest)


@dataclass
class BuildOptions:
    """How to build, apart from what to build (the PrecisionPlan). ``batch_shape``: the input shape, or
    (min, opt, max) for dynamic inputs, or a dict per input name. ``configure(trt, config)`` may adjust
    the config last (e.g. TensorRT-RTX compute capabilities)."""

    batch_shape: ShapeLike | Mapping[str, ShapeLike] | None = None
    workspace_mib: int = 4096
    tf32: bool = True
    timing_cache_path: str | os.PathLike[str] | None = None
    calibrator: Any = None
    on_log: LogCallback | None = None
    on_progress: ProgressCallback | None = None
    on_phase: Callable[[str], None] | None = None  # "parse", "build", "write" as each begins (the timeline)
    cancel: threading.Event | None = None
    log_level: str = "WARNING"
    extra_sidecar: Mapping[str, Any] = field(default_factory=dict)
    configure: Callable[[Any, Any], None] | None = None

    @property
    def timing_cache(self) -> Path | None:
        return Path(self.timing_cache_path) if self.timing_cache_path else None

    def cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()


def build_engine(
    trt: Any,
    features: Features,
    onnx_path: str | os.PathLike[str],
    plan_path: str | os.PathLike[str],
    plan: PrecisionPlan,
    options: BuildOptions | None = None,
) -> BuildResult:
    """Build ``onnx_path`` (the ONNX that ``plan.onnx`` names: fp32, fp16-converted or Q/DQ) into
    ``plan_path`` the way ``plan`` (adapter.precision_plan) says. Raises OnnxParseError, BuildFailed,
    BuildCancelled or TrtTuiError."""
    opts = options or BuildOptions()
    onnx_path, plan_path = Path(onnx_path), Path(plan_path)
    _check_inputs(features, onnx_path, plan, opts)
    plan_path.parent.mkdir(parents=True, exist_ok=True)
    for stale in (plan_path, sidecar_path(plan_path)):  # the plan here is always the latest build's, or none
        stale.unlink(missing_ok=True)
    # the process-wide logger routes to this build's listener while it runs (also when a runner lives)
    with listen(trt, opts.on_log, min_severity=opts.log_level) as logger:
        steps = _BuildSteps(trt, features, plan, opts, logger)
        phase = opts.on_phase or (lambda name: None)
        try:
            phase("parse")
            network = steps.parse(onnx_path)
            config = steps.make_config()
            shapes = steps.add_profiles(network, config)
            steps.finish_config(config)
            phase("build")
            serialized, seconds = steps.build(network, config)
            phase("write")
            steps.save_timing_cache(config)
            return steps.write(serialized, seconds, onnx_path, plan_path, shapes)
        except TrtTuiError:
            raise
        except Exception as exc:
            lines = logger.error_lines()
            raise BuildFailed(
                f"TensorRT build failed: {type(exc).__name__}: {exc}",
                detail="\n".join([traceback.format_exc(), *lines]),
                log_errors=lines,
            ) from exc
        finally:
            steps.release()


def _check_inputs(features: Features, onnx_path: Path, plan: Any, opts: BuildOptions) -> None:
    if not isinstance(plan, PrecisionPlan):  # the old (precision, plan=...) call shape
        raise TypeError(f"build_engine takes a PrecisionPlan (adapter.precision_plan), not {plan!r}")
    if not onnx_path.is_file():
        raise TrtTuiError(f"ONNX file not found: {onnx_path}")
    if not features.has_onnx_parser or not features.has_build_serialized:
        raise TrtTuiError(f"{features.label} lacks OnnxParser or build_serialized_network")
    if plan.calibrator and opts.calibrator is None:
        raise TrtTuiError(f"{plan.mechanism} needs a calibrator (make_calibrator)")


class _BuildSteps:
    """One build, step by step: parse → config → profiles → build → write. Holds the TensorRT objects
    (released in reverse order) and the notes that end up in BuildResult.warnings."""

    def __init__(self, trt: Any, features: Features, plan: PrecisionPlan, opts: BuildOptions, logger: Listener) -> None:
        self.trt, self.features, self.plan, self.opts, self.logger = trt, features, plan, opts, logger
        self.notes: list[str] = list(plan.notes)
        self.keep: list[Any] = []
        self.builder: tensorrt.Builder | None = None
        self.monitor: Any = None
        self.profile: tensorrt.IOptimizationProfile | None = None
        self.tf32_state: bool | None = None
        self.tcache: Any = None
        self.tkey: KeyedCache | None = None

    def _hold(self, obj: Any) -> Any:
        self.keep.append(obj)
        return obj

    def release(self) -> None:
        while self.keep:
            self.keep.pop()

    def parse(self, onnx_path: Path) -> tensorrt.INetworkDefinition:
        trt, trt_logger = self.trt, process_logger(self.trt)
        self.builder = builder = self._hold(trt.Builder(trt_logger))
        flags = network_flags(trt, self.features, self.plan.strongly_typed)
        network: tensorrt.INetworkDefinition = self._hold(builder.create_network(flags))
        parser: tensorrt.OnnxParser = self._hold(trt.OnnxParser(network, trt_logger))
        if hasattr(parser, "parse_from_file"):
            ok = parser.parse_from_file(str(onnx_path))
        else:
            ok = parser.parse(onnx_path.read_bytes(), str(onnx_path))
        if not ok:
            errs = parser_errors(parser)
            first = errs[0] if errs else (self.logger.error_lines() or ["no parser error reported"])[0]
            more = f" (+{len(errs) - 1} more)" if len(errs) > 1 else ""
            raise OnnxParseError(
                f"ONNX parser rejected {onnx_path.name}: {first}{more}",
                detail="\n".join([f"{len(errs)} parser error(s) in {onnx_path}:", *errs, *self.logger.error_lines()]),
                errors=errs,
            )
        return network

    def make_config(self) -> tensorrt.IBuilderConfig:
        """Workspace, the plan's flags, TF32, timing cache."""
        trt, features, opts = self.trt, self.features, self.opts
        assert self.builder is not None
        config: tensorrt.IBuilderConfig = self._hold(self.builder.create_builder_config())
        pool = getattr(getattr(trt, "MemoryPoolType", None), "WORKSPACE", None)
        if pool is not None:
            config.set_memory_pool_limit(pool, int(opts.workspace_mib) << 20)
        else:
            self.notes.append(f"{features.label} has no MemoryPoolType.WORKSPACE; workspace limit not set")
        for name in self.plan.flags:
            flag = getattr(trt.BuilderFlag, name, None)
            if flag is None:
                raise TrtTuiError(f"BuilderFlag.{name} does not exist in {features.label}")
            config.set_flag(flag)
        if features.has_tf32_flag:
            tf32_flag = trt.BuilderFlag.TF32
            if opts.tf32:
                config.set_flag(tf32_flag)
            else:
                config.clear_flag(tf32_flag)
            self.tf32_state = bool(config.get_flag(tf32_flag))
        self.tcache, self.tkey = _attach_timing_cache(config, features, opts.timing_cache, self.notes)
        return config

    def add_profiles(self, network: tensorrt.INetworkDefinition, config: tensorrt.IBuilderConfig) -> dict[str, Any]:
        """One optimization profile for the dynamic inputs (shapes from opts.batch_shape); returns the
        shapes per input for the sidecar."""
        shapes: dict[str, Any] = {}
        batch_shape = self.opts.batch_shape
        for i in range(network.num_inputs):
            tensor = network.get_input(i)
            dims = tensor.shape
            net_shape = tuple(int(dims[j]) for j in range(len(dims)))
            if -1 not in net_shape:
                shapes[tensor.name] = {"shape": list(net_shape)}
                continue
            given = batch_shape.get(tensor.name) if isinstance(batch_shape, Mapping) else batch_shape
            prof = _resolve_profile(tensor.name, net_shape, ShapeProfile.of(given) if given is not None else None)
            if self.profile is None:
                assert self.builder is not None
                self.profile = self._hold(self.builder.create_optimization_profile())
            self.profile.set_shape(tensor.name, prof.min, prof.opt, prof.max)  # type: ignore[arg-type]  # tuples of ints: the bindings take them for Dims
            shapes[tensor.name] = {"network": list(net_shape), **prof.to_dict()}
        if self.profile is not None:
            config.add_optimization_profile(self.profile)
        return shapes

    def finish_config(self, config: tensorrt.IBuilderConfig) -> None:
        """Progress monitor (it also cancels), calibrator (on the profile), then the caller's ``configure``."""
        trt, features, opts = self.trt, self.features, self.opts
        self.monitor = (
            make_progress_monitor(trt, opts.on_progress, opts.cancel) if features.has_progress_monitor else None
        )
        if self.monitor is not None:
            config.progress_monitor = self._hold(self.monitor)
        elif opts.cancel is not None:
            self.notes.append(f"{features.label} has no progress monitor: cancel only works before the build starts")
        calibrator = opts.calibrator
        if self.plan.calibrator:
            config.int8_calibrator = calibrator
            if self.profile is not None and hasattr(config, "set_calibration_profile"):
                config.set_calibration_profile(self.profile)
        elif calibrator is not None:
            self.notes.append("a calibrator was given but the plan does not use one; ignored")
        if opts.configure is not None:
            opts.configure(trt, config)

    def build(self, network: tensorrt.INetworkDefinition, config: tensorrt.IBuilderConfig) -> tuple[Any, float]:
        if self.opts.cancelled():
            raise BuildCancelled("TensorRT build cancelled before it started")
        assert self.builder is not None
        t0 = time.perf_counter()
        serialized = self.builder.build_serialized_network(network, config)
        build_time = time.perf_counter() - t0
        if serialized is None:
            if self.opts.cancelled():
                raise BuildCancelled(f"TensorRT build cancelled after {build_time:.1f} s")
            lines = self.logger.error_lines()
            calib_err = getattr(self.opts.calibrator, "error", None) if self.plan.calibrator else None
            detail = lines or ["TensorRT logged no error lines"]
            if calib_err:
                detail = [*detail, "calibrator error:", calib_err]
            first = lines[0] if lines else "no error logged"
            raise BuildFailed(f"TensorRT build failed: {first}", detail="\n".join(detail), log_errors=lines)
        return self._hold(serialized), build_time

    def save_timing_cache(self, config: tensorrt.IBuilderConfig) -> None:
        path = self.opts.timing_cache
        if self.tcache is None or path is None:
            return
        try:
            atomic.write_bytes(path, config.get_timing_cache().serialize())
            if self.tkey is not None:
                self.tkey.record()
        except Exception as exc:  # noqa: BLE001 - a timing cache that cannot be saved is a note, not a failed build
            self.notes.append(f"timing cache not saved: {exc}")

    def write(
        self, serialized: Any, build_time: float, onnx_path: Path, plan_path: Path, shapes: dict[str, Any]
    ) -> BuildResult:
        """Sidecar first, then the plan: a crash between the two leaves a sidecar without a plan,
        never the reverse."""
        side = sidecar_path(plan_path)
        meta = self._sidecar(build_time, onnx_path, shapes)
        atomic.write_json(side, {**meta, "size_bytes": memoryview(serialized).nbytes})
        try:
            size = atomic.write_bytes(plan_path, serialized)
        except BaseException:
            side.unlink(missing_ok=True)
            raise
        plan, calibrator = self.plan, self.opts.calibrator
        if plan.calibrator and getattr(calibrator, "note", None):
            self.notes.append(f"calibrator: {calibrator.note}")
        return BuildResult(
            plan_path=plan_path,
            sidecar_path=side,
            size_bytes=size,
            build_time_s=build_time,
            precision=plan.precision,
            mechanism=plan.mechanism,
            tf32=tf32_label(self.tf32_state),
            strongly_typed=plan.strongly_typed,
            flags=list(plan.flags),
            warnings=[*self.notes, *self.logger.warning_lines()],
            shapes=shapes,
            progress_events=getattr(self.monitor, "events", 0),
            phases=list(getattr(self.monitor, "phases", [])),
            calibrator=plan.calibrator,
            calibration_batches=getattr(calibrator, "batches_fed", None) if plan.calibrator else None,
        )

    def _sidecar(self, build_time: float, onnx_path: Path, shapes: dict[str, Any]) -> dict[str, Any]:
        plan, features = self.plan, self.features
        return {
            "sidecar_version": SIDECAR_VERSION,
            "trt_version": features.version_str,
            "flavour": features.flavour,
            "gpu": gpu_identity(),
            "precision": plan.precision,
            "mechanism": plan.mechanism,
            "strongly_typed": plan.strongly_typed,
            "flags": list(plan.flags),
            "calibrator": plan.calibrator,
            "onnx_variant": plan.onnx,
            "shapes": shapes,
            "tf32": tf32_label(self.tf32_state),
            "workspace_mib": self.opts.workspace_mib,
            "onnx_path": str(onnx_path),
            "onnx_sha256": file_sha256(onnx_path),
            "build_time_s": round(build_time, 3),
            "created_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            **self.opts.extra_sidecar,
        }


def _attach_timing_cache(
    config: Any, features: Features, path: Path | None, notes: list[str]
) -> tuple[Any, KeyedCache | None]:
    """Load (or start) the timing cache; skipped where TensorRT has none or it is a no-op (RTX).
    A cache recorded for another TensorRT version or GPU (or with no record) is replaced."""
    if path is None:
        return None, None
    if not features.has_timing_cache:
        notes.append(f"timing cache skipped: not used by {features.label}")
        return None, None
    keyed = open_keyed(path, timing_key(features.label, gpu_identity()))
    if keyed.status == STALE:
        notes.append(f"timing cache {path.name} replaced: it differed in {', '.join(keyed.changed)}")
    elif keyed.status == REUSED:
        notes.append(f"timing cache {path.name} reused")
    data = b""
    try:
        if path.is_file():
            data = path.read_bytes()
    except OSError as exc:
        notes.append(f"timing cache {path} unreadable: {exc}")
    for blob in (data, b"") if data else (b"",):
        try:
            cache = config.create_timing_cache(blob)
            if cache is not None and config.set_timing_cache(cache, False):
                return cache, keyed
        except Exception as exc:  # noqa: BLE001 - a rejected timing cache is rebuilt, not fatal
            notes.append(f"timing cache {path} rejected: {exc}")
        if blob:
            notes.append(f"timing cache {path} did not match this TensorRT/GPU; starting a new one")
    return None, None
