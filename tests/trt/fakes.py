"""Fake ``tensorrt`` modules for TensorRT 8.6, 10.13, 11.4 and TensorRT-RTX 1.7.

Which names exist follows shared/reference/trt_api.md §0; enum *values* follow each version's header
(they differ on purpose: code must look members up by name). Behaviour (parse errors, build failure,
progress phases, refusal to deserialize...) is driven by a ``Scenario`` stored on the module.

Where the real bindings have a trap, the fakes have it too (pyCore.cpp, NvInferRuntime.h):
* one global logger per module ("process"): while a Builder/Runtime lives, a different logger passed to
  a new one is ignored with TensorRT's own warning, sent to the existing logger (NVIDIA/TensorRT#1475);
  engines keep their runtime alive and contexts their engine (``keep_alive``);
* ``set_tensor_address`` refuses unknown names and pointers not 256-byte aligned (returns False, logs);
* ``infer_shapes`` raises RuntimeError("infer_shapes error code: ...") on an error;
* outputs listed in ``Scenario.compute`` have data-dependent shapes: -1 dims after infer_shapes, and
  execute needs an ``IOutputAllocator`` (``reallocate_output`` + ``notify_shape``);
* shape-tensor inputs (``Scenario.shape_inputs``) report ``is_shape_inference_io`` and location HOST;
* 8.6's ``__version__`` is "8.6.1" (the pip sdist is 8.6.1.post1, the module says 8.6.1).
"""

from __future__ import annotations

import ctypes
import types
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np


class EnumMember:
    def __init__(self, enum: str, name: str, value: int) -> None:
        self.enum, self.name, self.value = enum, name, value

    def __int__(self) -> int:
        return self.value

    __index__ = __int__

    def __repr__(self) -> str:
        return f"<{self.enum}.{self.name}: {self.value}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, EnumMember) and (other.enum, other.value) == (self.enum, self.value)

    def __hash__(self) -> int:
        return hash((self.enum, self.value))


def make_enum(name: str, members: dict[str, int]) -> type:
    ns = {k: EnumMember(name, k, v) for k, v in members.items()}
    return type(name, (), {**ns, "__members__": dict(ns)})


# -- names and values per version ----------------------------------------------------------------
NETWORK_FLAGS = {
    "8.6": {"EXPLICIT_BATCH": 0, "EXPLICIT_PRECISION": 1},
    "10.13": {"EXPLICIT_BATCH": 0, "STRONGLY_TYPED": 1, "PREFER_JIT_PYTHON_PLUGINS": 2, "PREFER_AOT_PYTHON_PLUGINS": 3},
    "11.4": {"STRONGLY_TYPED": 0, "PREFER_JIT_PYTHON_PLUGINS": 1, "PREFER_AOT_PYTHON_PLUGINS": 2},
    # newest TensorRT-RTX header: only STRONGLY_TYPED (=0); older RTX docs also list EXPLICIT_BATCH
    "rtx-1.7": {"STRONGLY_TYPED": 0},
}
_FLAGS_86 = [
    "FP16", "INT8", "DEBUG", "GPU_FALLBACK", "STRICT_TYPES", "REFIT", "DISABLE_TIMING_CACHE", "TF32",
    "SPARSE_WEIGHTS", "SAFETY_SCOPE", "OBEY_PRECISION_CONSTRAINTS", "PREFER_PRECISION_CONSTRAINTS", "DIRECT_IO",
    "REJECT_EMPTY_ALGORITHMS", "ENABLE_TACTIC_HEURISTIC", "VERSION_COMPATIBLE", "EXCLUDE_LEAN_RUNTIME", "FP8",
]
_FLAGS_10 = {  # as in tensorrt-stubs 10.13
    "FP16": 0, "INT8": 1, "DEBUG": 2, "GPU_FALLBACK": 3, "REFIT": 4, "DISABLE_TIMING_CACHE": 5, "TF32": 6,
    "SPARSE_WEIGHTS": 7, "SAFETY_SCOPE": 8, "OBEY_PRECISION_CONSTRAINTS": 9, "PREFER_PRECISION_CONSTRAINTS": 10,
    "DIRECT_IO": 11, "REJECT_EMPTY_ALGORITHMS": 12, "VERSION_COMPATIBLE": 13, "EXCLUDE_LEAN_RUNTIME": 14, "FP8": 15,
    "ERROR_ON_TIMING_CACHE_MISS": 16, "BF16": 17, "DISABLE_COMPILATION_CACHE": 18, "STRIP_PLAN": 19,
    "REFIT_IDENTICAL": 20, "WEIGHT_STREAMING": 21, "INT4": 22, "REFIT_INDIVIDUAL": 23, "STRICT_NANS": 24,
    "MONITOR_MEMORY": 25, "FP4": 26, "EDITABLE_TIMING_CACHE": 27, "DISTRIBUTIVE_INDEPENDENCE": 28,
}
_FLAGS_11 = {  # FP16/INT8/BF16/FP8/INT4/FP4/OBEY/PREFER removed, the rest renumbered
    "DEBUG": 2, "GPU_FALLBACK": 3, "REFIT": 4, "DISABLE_TIMING_CACHE": 5, "TF32": 6, "SPARSE_WEIGHTS": 7,
    "SAFETY_SCOPE": 8, "DIRECT_IO": 11, "VERSION_COMPATIBLE": 12, "EXCLUDE_LEAN_RUNTIME": 13,
    "ERROR_ON_TIMING_CACHE_MISS": 15, "DISABLE_COMPILATION_CACHE": 17, "STRIP_PLAN": 18, "REFIT_IDENTICAL": 19,
    "WEIGHT_STREAMING": 20, "REFIT_INDIVIDUAL": 22, "STRICT_NANS": 23, "MONITOR_MEMORY": 24,
    "EDITABLE_TIMING_CACHE": 26, "DISTRIBUTIVE_INDEPENDENCE": 27,
}
BUILDER_FLAGS = {
    "8.6": {n: i for i, n in enumerate(_FLAGS_86)},  # STRICT_TYPES still there: TF32 is 7, not 6
    "10.13": _FLAGS_10,
    "11.4": _FLAGS_11,
    "rtx-1.7": {**_FLAGS_11, "REQUIRE_USER_ALLOCATION": 28},
}
VERSIONS = {"8.6": "8.6.1", "10.13": "10.13.3.9", "11.4": "11.4.0.106", "rtx-1.7": "1.7.1.116"}
HAS_CALIBRATORS = {"8.6": True, "10.13": True, "11.4": False, "rtx-1.7": False}
HAS_PROGRESS = {"8.6": False, "10.13": True, "11.4": True, "rtx-1.7": True}
DATA_TYPES = {"FLOAT": 0, "HALF": 1, "INT8": 2, "INT32": 3, "BOOL": 4, "UINT8": 5, "FP8": 6, "BF16": 7, "INT64": 8}
ITEMSIZE = {"FLOAT": 4, "HALF": 2, "INT8": 1, "INT32": 4, "BOOL": 1, "UINT8": 1, "BF16": 2, "INT64": 8}
NP_DTYPES = {"FLOAT": np.float32, "HALF": np.float16, "INT8": np.int8, "INT32": np.int32, "BOOL": np.bool_,
             "UINT8": np.uint8, "INT64": np.int64}
ALIGNMENT = 256
LOGGER_WARNING = (
    "The logger passed into {who} differs from one already provided for an existing builder, runtime, or "
    "refitter. TensorRT maintains only a single logger pointer at any given time, so the existing value, which "
    "can be retrieved with getLogger(), will be used instead. In order to use a new logger, first destroy all "
    "existing builder, runner or refitter objects."
)


def nonzero(inputs: dict[str, np.ndarray]) -> np.ndarray:
    """ONNX NonZero of the first input: (rank, count) int64 indices; count depends on the data."""
    x = next(iter(inputs.values()))
    return np.stack(np.nonzero(x)).astype(np.int64)
KEYS = tuple(VERSIONS)


@dataclass
class Scenario:
    inputs: list[tuple[str, tuple[int, ...], str]] = field(default_factory=lambda: [("input", (-1, 4), "FLOAT")])
    outputs: list[tuple[str, tuple[int, ...], str]] = field(default_factory=lambda: [("output", (-1, 4), "FLOAT")])
    parse_errors: list[dict[str, Any]] = field(default_factory=list)
    parse_errors_by_file: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # by ONNX file name
    build_errors: list[str] = field(default_factory=list)  # logged as ERROR; build returns None
    build_warnings: list[str] = field(default_factory=list)
    phases: list[tuple[str, str | None, int]] = field(
        default_factory=lambda: [("Building engine", None, 2), ("Tactic selection", "Building engine", 6)]
    )
    plan: bytes = b"FAKEPLAN:"
    deserialize_errors: list[str] | None = None  # logged as ERROR; deserialize returns None
    context_errors: list[str] | None = None  # logged as ERROR; create_execution_context returns None
    max_batch: int = 8
    # output name -> f({input name: array}) for outputs whose shape depends on the data (NonZero-style)
    compute: dict[str, Callable[[dict[str, np.ndarray]], np.ndarray]] = field(default_factory=dict)
    shape_inputs: tuple[str, ...] = ()  # inputs that are shape tensors (host memory)
    infer_error: str | None = None  # logged as ERROR, then infer_shapes raises RuntimeError
    # recorded by the fakes
    network_flags: int | None = None
    config: Any = None
    profile_shapes: dict[str, tuple[Any, Any, Any]] = field(default_factory=dict)
    calibration_profile: Any = None
    calibration_ptrs: list[list[int]] = field(default_factory=list)
    steps_seen: int = 0
    executed: int = 0
    reallocations: list[tuple[str, int]] = field(default_factory=list)


def make_fake(key: str, scenario: Scenario | None = None, **overrides: Any) -> types.ModuleType:
    """A fake TensorRT module for ``key`` in KEYS; ``overrides`` replace module attributes."""
    sc = scenario or Scenario()
    rtx = key.startswith("rtx")
    trt = types.ModuleType("tensorrt_rtx" if rtx else "tensorrt")
    trt.__version__ = VERSIONS[key]  # type: ignore[attr-defined]
    trt._scenario = sc  # type: ignore[attr-defined]
    trt.NetworkDefinitionCreationFlag = make_enum("NetworkDefinitionCreationFlag", NETWORK_FLAGS[key])  # type: ignore[attr-defined]
    trt.BuilderFlag = make_enum("BuilderFlag", BUILDER_FLAGS[key])  # type: ignore[attr-defined]
    trt.MemoryPoolType = make_enum("MemoryPoolType", {"WORKSPACE": 0, "DLA_MANAGED_SRAM": 1})  # type: ignore[attr-defined]
    trt.DataType = DataType = make_enum("DataType", DATA_TYPES)  # type: ignore[attr-defined]
    trt.TensorIOMode = IOMode = make_enum("TensorIOMode", {"NONE": 0, "INPUT": 1, "OUTPUT": 2})  # type: ignore[attr-defined]
    trt.TensorLocation = Location = make_enum("TensorLocation", {"DEVICE": 0, "HOST": 1})  # type: ignore[attr-defined]
    trt.ErrorCode = ErrorCode = make_enum("ErrorCode", {"SUCCESS": 0, "INTERNAL_ERROR": 1, "INVALID_NODE": 4, "UNSUPPORTED_NODE": 8})  # type: ignore[attr-defined]
    Severity = make_enum("Severity", {"INTERNAL_ERROR": 0, "ERROR": 1, "WARNING": 2, "INFO": 3, "VERBOSE": 4})

    class ILogger:
        def __init__(self) -> None:
            self.base_inited = True  # the subclass must call the base __init__

        def log(self, severity: Any, msg: str) -> None:
            raise NotImplementedError

    ILogger.Severity = Severity  # type: ignore[attr-defined]
    for n in Severity.__members__:
        setattr(ILogger, n, getattr(Severity, n))
    trt.ILogger = ILogger  # type: ignore[attr-defined]

    class Logger(ILogger):  # the built-in one (prints to stdout in the real bindings; silent here)
        def __init__(self, min_severity: Any = None) -> None:
            ILogger.__init__(self)

        def log(self, severity: Any, msg: str) -> None:
            pass

    trt.Logger = Logger  # type: ignore[attr-defined]

    def log(logger: Any, sev: str, msg: str) -> None:
        logger.log(getattr(Severity, sev), msg)

    # TensorRT's one logger pointer: set by the first Builder/Runtime, kept while any of them lives
    state: dict[str, Any] = {"logger": None, "live": 0}
    trt._state = state  # type: ignore[attr-defined]

    def adopt(logger: Any, who: str) -> Any:
        if state["live"] > 0 and state["logger"] is not None and logger is not state["logger"]:
            log(state["logger"], "WARNING", LOGGER_WARNING.format(who=who))
        else:
            state["logger"] = logger
        state["live"] += 1
        return state["logger"]

    def glog(sev: str, msg: str) -> None:
        if state["logger"] is not None:
            log(state["logger"], sev, msg)

    if HAS_PROGRESS[key]:

        class IProgressMonitor:
            def __init__(self) -> None:
                self.base_inited = True

        trt.IProgressMonitor = IProgressMonitor  # type: ignore[attr-defined]

    if HAS_CALIBRATORS[key]:
        for cname in ("IInt8EntropyCalibrator2", "IInt8MinMaxCalibrator"):

            def _init(self: Any) -> None:
                self.base_inited = True

            setattr(trt, cname, type(cname, (), {"__init__": _init}))

    class IOutputAllocator:
        def __init__(self) -> None:
            self.base_inited = True

        def reallocate_output(self, tensor_name: str, memory: int, size: int, alignment: int) -> int:
            return 0

        def notify_shape(self, tensor_name: str, shape: Any) -> None:
            raise NotImplementedError

    trt.IOutputAllocator = IOutputAllocator  # type: ignore[attr-defined]  # bound in 8.6, 10.x, 11.x

    class Tensor:
        def __init__(self, name: str, shape: tuple[int, ...], dtype: str) -> None:
            self.name, self.shape, self.dtype = name, shape, getattr(DataType, dtype)

    class Network:
        def __init__(self, flags: int) -> None:
            self.flags = flags
            self.inputs: list[Tensor] = []

        @property
        def num_inputs(self) -> int:
            return len(self.inputs)

        def get_input(self, i: int) -> Tensor:
            return self.inputs[i]

    class ParserError:
        def __init__(self, desc: str, node: int = -1, node_name: str = "", node_operator: str = "", code: str = "UNSUPPORTED_NODE") -> None:
            self._d = dict(desc=desc, node=node, node_name=node_name, node_operator=node_operator, code=getattr(ErrorCode, code))

        def desc(self) -> str:
            return self._d["desc"]

        def node(self) -> int:
            return self._d["node"]

        def code(self) -> Any:
            return self._d["code"]

    if key != "8.6":  # node_name()/node_operator() arrived after 8.6
        ParserError.node_name = lambda self: self._d["node_name"]  # type: ignore[attr-defined]
        ParserError.node_operator = lambda self: self._d["node_operator"]  # type: ignore[attr-defined]
    trt.ParserError = ParserError  # type: ignore[attr-defined]

    class OnnxParser:
        def __init__(self, network: Network, logger: Any) -> None:
            self.network, self.logger, self.errors = network, logger, []

        def parse_from_file(self, path: str) -> bool:
            errors = sc.parse_errors or sc.parse_errors_by_file.get(path.rsplit("/", 1)[-1], [])
            if errors:
                self.errors = [ParserError(**e) for e in errors]
                return False
            self.network.inputs = [Tensor(*i) for i in sc.inputs]
            return True

        @property
        def num_errors(self) -> int:
            return len(self.errors)

        def get_error(self, i: int) -> ParserError:
            return self.errors[i]

    trt.OnnxParser = OnnxParser  # type: ignore[attr-defined]

    class Profile:
        def set_shape(self, name: str, mn: Any, opt: Any, mx: Any) -> None:
            for which, lo, hi in (("opt", mn, opt), ("max", opt, mx)):  # pyCore.cpp's opt_profile_set_shape
                if any(a > b for a, b in zip(lo, hi)):
                    glog("ERROR", f"IOptimizationProfile::setDimensions: Error Code 3: API Usage Error (Parameter "
                                  f"check failed, condition: std::all_of(dims.d, dims.d + dims.nbDims, [](int32_t x) "
                                  f"noexcept {{ return x >= 0; }}). {which} dims of {name} inconsistent)")
                    raise RuntimeError(f"Shape provided for {which} is inconsistent with other shapes.")
            sc.profile_shapes[name] = (tuple(mn), tuple(opt), tuple(mx))

    class TimingCache:
        def __init__(self, blob: bytes) -> None:
            self.blob = bytes(blob)

        def serialize(self) -> bytes:
            return b"TCACHE:" + self.blob

    def _cfg_init(self: Any) -> None:
        self.flags = {"TF32"} if "TF32" in BUILDER_FLAGS[key] else set()
        self.pools: dict[str, int] = {}
        self.profiles: list[Any] = []
        self.cache: Any = None
        if HAS_CALIBRATORS[key]:
            self.int8_calibrator = None
        if HAS_PROGRESS[key]:
            self.progress_monitor = None

    def _set_cache(self: Any, cache: Any, ignore_mismatch: bool) -> bool:
        if cache.blob.startswith(b"BAD"):
            return False
        self.cache = cache
        return True

    cfg_ns: dict[str, Any] = {
        "__init__": _cfg_init,
        "set_memory_pool_limit": lambda self, pool, size: self.pools.__setitem__(pool.name, size),
        "set_flag": lambda self, f: self.flags.add(f.name),
        "clear_flag": lambda self, f: self.flags.discard(f.name),
        "get_flag": lambda self, f: f.name in self.flags,
        "add_optimization_profile": lambda self, p: self.profiles.append(p) or len(self.profiles) - 1,
        "create_timing_cache": lambda self, blob: TimingCache(blob),
        "set_timing_cache": _set_cache,
        "get_timing_cache": lambda self: self.cache,
    }
    if HAS_CALIBRATORS[key]:
        cfg_ns["set_calibration_profile"] = lambda self, p: setattr(sc, "calibration_profile", p) or True
    trt.IBuilderConfig = IBuilderConfig = type("IBuilderConfig", (), cfg_ns)  # type: ignore[attr-defined]

    class Builder:
        def __init__(self, logger: Any) -> None:
            self.logger = adopt(logger, "createInferBuilder")

        def __del__(self) -> None:
            state["live"] -= 1

        def create_network(self, flags: int = 0) -> Network:
            sc.network_flags = flags
            return Network(flags)

        def create_builder_config(self) -> Any:
            sc.config = IBuilderConfig()
            return sc.config

        def create_optimization_profile(self) -> Profile:
            return Profile()

        def build_serialized_network(self, network: Network, config: Any) -> bytes | None:
            log(self.logger, "INFO", "[MemUsageChange] Init builder kernel library: CPU +0, GPU +0, now: CPU 0, GPU 0 (MiB)")
            for w in sc.build_warnings:
                log(self.logger, "WARNING", w)
            mon = getattr(config, "progress_monitor", None)
            if mon is not None:
                for phase, parent, n in sc.phases:
                    mon.phase_start(phase, parent, n)
                    for s in range(n):
                        sc.steps_seen += 1
                        if not mon.step_complete(phase, s):
                            mon.phase_finish(phase)
                            log(self.logger, "ERROR", "Build was cancelled by the progress monitor.")
                            return None
                    mon.phase_finish(phase)
            calib = getattr(config, "int8_calibrator", None)
            if calib is not None and calib.read_calibration_cache() is None:
                names = [t.name for t in network.inputs]
                while (ptrs := calib.get_batch(names)) is not None:
                    sc.calibration_ptrs.append(ptrs)
                calib.write_calibration_cache(memoryview(b"CALIBCACHE"))
            if sc.build_errors:
                for e in sc.build_errors:
                    log(self.logger, "ERROR", e)
                return None
            return sc.plan + ",".join(sorted(config.flags)).encode()

    if key == "8.6":
        Builder.max_batch_size = 1  # type: ignore[attr-defined]  # implicit-batch API, removed in 10.0
    trt.Builder = Builder  # type: ignore[attr-defined]

    # -- runtime ---------------------------------------------------------------------------------
    io = [(n, s, d, "INPUT") for n, s, d in sc.inputs] + [(n, s, d, "OUTPUT") for n, s, d in sc.outputs]

    def tensor(name: str) -> tuple[str, tuple[int, ...], str, str]:
        return next(t for t in io if t[0] == name)

    def read(addr: int, shape: tuple[int, ...], dt: str) -> np.ndarray:
        nbytes = _volume(shape) * ITEMSIZE[dt]
        return np.frombuffer((ctypes.c_char * nbytes).from_address(addr), NP_DTYPES[dt]).reshape(shape).copy()

    class Context:
        def __init__(self, engine: Any) -> None:
            self.engine = engine  # keep_alive: a context keeps its engine (and so the runtime) alive
            self.shapes: dict[str, tuple[int, ...]] = {}
            self.addresses: dict[str, int] = {}
            self.allocators: dict[str, Any] = {}

        def set_input_shape(self, name: str, shape: Any) -> bool:
            shape = tuple(shape)
            if not 1 <= shape[0] <= sc.max_batch:
                glog("ERROR", f"IExecutionContext::setInputShape: Error Code 3: API Usage Error (Parameter check "
                              f"failed, condition: satisfyProfile. Set dimension {list(shape)} for tensor {name} "
                              f"does not satisfy any optimization profiles.)")
                return False
            self.shapes[name] = shape
            return True

        def infer_shapes(self) -> list[str]:
            if sc.infer_error is not None:
                glog("ERROR", sc.infer_error)
                raise RuntimeError("infer_shapes error code: -1")  # what pyCore.cpp's lambda throws
            return [n for n, s, _, m in io if m == "INPUT" and -1 in s and n not in self.shapes]

        def get_tensor_shape(self, name: str) -> tuple[int, ...]:
            if name in self.shapes:
                return self.shapes[name]
            shape = tensor(name)[1]
            if name in sc.compute:  # data-dependent: unknown until execute
                return shape
            batch = next(iter(self.shapes.values()), (1,))[0]
            return tuple(batch if d == -1 else d for d in shape)

        def set_tensor_address(self, name: str, ptr: int) -> bool:
            if not any(t[0] == name for t in io):
                glog("ERROR", f"IExecutionContext::setTensorAddress: Error Code 3: API Usage Error (Given invalid "
                              f"tensor name: {name})")
                return False
            if ptr % ALIGNMENT:
                glog("ERROR", f"IExecutionContext::setTensorAddress: Error Code 3: API Usage Error (Parameter check "
                              f"failed, condition: address of {name} is not {ALIGNMENT}-byte aligned)")
                return False
            self.addresses[name] = ptr
            return True

        def set_output_allocator(self, name: str, allocator: Any) -> bool:
            if not any(t[0] == name and t[3] == "OUTPUT" for t in io):
                return False
            self.allocators[name] = allocator
            return True

        def execute_async_v3(self, stream_handle: int) -> bool:
            # "inference": copy the first input's bytes into every static output (checks real addresses);
            # data-dependent outputs are computed from the inputs and written through their allocator
            sc.executed += 1
            for n, _, dt, m in io:
                if m == "INPUT" and n not in self.addresses:
                    glog("ERROR", f"IExecutionContext::enqueueV3: Error Code 3: API Usage Error (Parameter check "
                                  f"failed, condition: mContext.profileObliviousBindings.at(profileObliviousIndex) "
                                  f"|| getPtrOrNull(mOutputAllocators, profileObliviousIndex). Neither address or "
                                  f"allocator is set for input tensor {n}.)")
                    return False
            inputs = {n: read(self.addresses[n], self.get_tensor_shape(n), dt) for n, _, dt, m in io if m == "INPUT"}
            (iname, _, idt, _) = io[0]
            nin = _volume(self.get_tensor_shape(iname)) * ITEMSIZE[idt]
            for n, _, dt, m in io:
                if m != "OUTPUT":
                    continue
                if n in sc.compute:
                    alloc = self.allocators.get(n)
                    if alloc is None:
                        glog("ERROR", f"IExecutionContext::enqueueV3: Error Code 3: API Usage Error (Neither address "
                                      f"or allocator is set for output tensor {n} with a data-dependent shape.)")
                        return False
                    value = np.ascontiguousarray(sc.compute[n](inputs), dtype=NP_DTYPES[dt])
                    size = max(value.nbytes, 1)
                    ptr = int(alloc.reallocate_output(n, self.addresses.get(n, 0), size, ALIGNMENT) or 0)
                    sc.reallocations.append((n, size))
                    if ptr == 0 or ptr % ALIGNMENT:
                        glog("ERROR", f"IExecutionContext::enqueueV3: Error Code 2: OutOfMemory (output allocator "
                                      f"returned {ptr:#x} for {n})")
                        return False
                    self.addresses[n] = ptr
                    ctypes.memmove(ptr, value.ctypes.data, value.nbytes)
                    alloc.notify_shape(n, tuple(value.shape))
                    continue
                if n not in self.addresses:
                    glog("ERROR", f"IExecutionContext::enqueueV3: Error Code 3: API Usage Error (Neither address or "
                                  f"allocator is set for output tensor {n}.)")
                    return False
                nout = _volume(self.get_tensor_shape(n)) * ITEMSIZE[dt]
                ctypes.memmove(self.addresses[n], self.addresses[iname], min(nin, nout))
            return True

    def _profile_shape(self: Any, name: str, profile: int) -> list[tuple[int, ...]]:
        shape = next(s for n, s, _, _ in io if n == name)
        return [tuple(v if d == -1 else d for d in shape) for v in (1, 2, sc.max_batch)]

    eng_ns: dict[str, Any] = {
        "num_io_tensors": len(io),
        "num_layers": 3,
        "num_optimization_profiles": 1,
        "get_tensor_name": lambda self, i: io[i][0],
        "get_tensor_mode": lambda self, n: getattr(IOMode, next(m for nn, _, _, m in io if nn == n)),
        "get_tensor_shape": lambda self, n: next(s for nn, s, _, _ in io if nn == n),
        "get_tensor_dtype": lambda self, n: getattr(DataType, next(d for nn, _, d, _ in io if nn == n)),
        "get_tensor_profile_shape": _profile_shape,  # min=1, opt=2, max=max_batch
        "is_shape_inference_io": lambda self, n: n in sc.shape_inputs,
        "get_tensor_location": lambda self, n: getattr(Location, "HOST" if n in sc.shape_inputs else "DEVICE"),
    }
    if key in ("8.6", "10.13"):
        eng_ns["device_memory_size"] = 1000
    if key != "8.6":
        eng_ns["device_memory_size_v2"] = 2000

    def create_execution_context(self: Any) -> Context | None:
        if sc.context_errors is not None:
            for e in sc.context_errors:
                glog("ERROR", e)
            return None
        return Context(self)

    eng_ns["create_execution_context"] = create_execution_context
    trt.ICudaEngine = ICudaEngine = type("ICudaEngine", (), eng_ns)  # type: ignore[attr-defined]

    class Runtime:
        def __init__(self, logger: Any) -> None:
            self.logger = adopt(logger, "createInferRuntime")

        def __del__(self) -> None:
            state["live"] -= 1

        def deserialize_cuda_engine(self, data: bytes) -> Any:
            if sc.deserialize_errors is not None:
                for e in sc.deserialize_errors:
                    glog("ERROR", e)
                return None
            if not bytes(data).startswith(sc.plan):
                glog("ERROR", "IRuntime::deserializeCudaEngine: Error Code 1: Serialization (magic tag mismatch)")
                return None
            eng = ICudaEngine()
            eng.runtime = self  # keep_alive: an engine keeps its runtime alive
            return eng

    trt.Runtime = Runtime  # type: ignore[attr-defined]
    for k, v in overrides.items():
        setattr(trt, k, v)
    return trt


def _volume(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n
