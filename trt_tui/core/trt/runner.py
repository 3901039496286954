"""A ``bench.Runner`` over a TensorRT plan: tensor-name API + execute_async_v3 on a torch stream.

I/O buffers are torch CUDA tensors allocated from the engine's own dtypes (FP16 I/O under strong
typing is possible), so PyTorch and TensorRT share the primary CUDA context. Outputs whose shape
depends on the data get their memory from an IOutputAllocator during execute; shape tensors
(``is_shape_inference_io``) live in host memory. Before loading, the plan's sidecar must name this
TensorRT version and this GPU. The Runtime uses the process-wide logger (one per process, see
logger.py); this runner listens to it while it loads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from trt_tui.core.errors import TensorRTUnavailable, TrtTuiError, is_out_of_memory
from trt_tui.core.trt.adapter import Features
from trt_tui.core.trt.io_buffers import aligned_empty, make_output_allocator
from trt_tui.core.trt.logger import Listener, LogCallback, listen, process_logger
from trt_tui.core.trt.sidecar import file_sha256, gpu_identity, mismatch_reason, read_sidecar

if TYPE_CHECKING:  # checked against tensorrt-stubs (10.x API)
    import tensorrt

# trt.DataType name -> torch dtype attribute name
TORCH_DTYPES = {
    "FLOAT": "float32",
    "HALF": "float16",
    "BF16": "bfloat16",
    "INT8": "int8",
    "UINT8": "uint8",
    "INT32": "int32",
    "INT64": "int64",
    "BOOL": "bool",
    "FP8": "float8_e4m3fn",
}


class PlanMismatch(TrtTuiError):
    """The plan's sidecar says it was built by another TensorRT version or for another GPU."""


class EngineLoadError(TrtTuiError):
    """TensorRT refused the plan (deserialize_cuda_engine / create_execution_context gave None)."""


def enum_name(value: Any) -> str:
    name = getattr(value, "name", None)
    return name if isinstance(name, str) else str(value).rsplit(".", 1)[-1]


def torch_dtype(trt_dtype: Any) -> Any:
    import torch

    attr = TORCH_DTYPES.get(enum_name(trt_dtype).upper())
    if attr is None or not hasattr(torch, attr):
        raise TrtTuiError(f"no torch dtype for TensorRT {enum_name(trt_dtype)} I/O")
    return getattr(torch, attr)


def _dims(dims: Any) -> tuple[int, ...]:
    """trt.Dims (indexable, not iterable per the stubs) or a tuple -> tuple of ints."""
    return tuple(int(dims[i]) for i in range(len(dims)))


class TrtRunner:
    """Runs one plan. ``batch_shape``: the input shape (or {name: shape}); dynamic inputs default to
    the profile's opt shape. ``source_onnx``: the ONNX the plan must have been built from (its sidecar's
    sha256 must match). ``_device='cpu'`` is a test hook (fake engines, no CUDA)."""

    def __init__(
        self,
        trt: Any,
        plan_path: str | Path,
        batch_shape: Sequence[int] | Mapping[str, Sequence[int]] | None = None,
        *,
        features: Features | None = None,
        on_log: LogCallback | None = None,
        check_sidecar: bool = True,
        source_onnx: str | Path | None = None,
        device_index: int = 0,
        _device: str = "cuda",
    ) -> None:
        self.trt = trt
        self.features = features or Features.from_module(trt)
        self.plan_path = Path(plan_path)
        self.device = _device
        self.stream: Any = None
        self.sidecar: dict[str, Any] | None = None
        self.input_names: list[str] = []
        self.output_names: list[str] = []
        self._buffers: dict[str, Any] = {}
        self._pinned: dict[str, Any] = {}
        self._h2d_done: Any = None
        self.context: Any = None
        self.engine: Any = None
        self.notes: list[str] = []
        self.host_io: set[str] = set()  # shape tensors: host memory
        self.dynamic_outputs: list[str] = []  # data-dependent shapes: sized by the output allocator
        self.output_allocator: Any = None
        self._staging: dict[str, Any] = {}  # pinned bytes for dynamic outputs
        self._sink: Listener = Listener()
        if check_sidecar:
            self._check_sidecar(source_onnx, device_index)
        if not self.plan_path.is_file():
            raise TrtTuiError(f"plan not found: {self.plan_path}")
        self._torch = self._init_cuda(device_index)
        self.logger = process_logger(trt)
        data = self.plan_path.read_bytes()
        self.plan_bytes = len(data)
        self.runtime: Any = None
        try:
            with listen(trt, on_log) as sink:
                self._sink = sink
                self._load(data, batch_shape)
        except BaseException:
            self.close()  # release what was made: TensorRT objects must not outlive a failed load
            raise

    def _load(self, data: bytes, batch_shape: Any) -> None:
        name = self.plan_path.name
        self.runtime = self.trt.Runtime(self.logger)
        runtime: tensorrt.Runtime = self.runtime
        engine: tensorrt.ICudaEngine | None = self._guard(lambda: runtime.deserialize_cuda_engine(data))
        if engine is None:
            self._refuse(f"TensorRT could not load {name}", "corrupt plan, or built by another TensorRT version")
        self.engine = engine
        context: tensorrt.IExecutionContext | None = self._guard(lambda: self.engine.create_execution_context())
        if context is None:
            self._refuse(f"TensorRT could not create an execution context for {name}", "no reason logged")
        self.context = context
        self._setup_io(batch_shape)

    def _check_sidecar(self, source_onnx: str | Path | None, device_index: int) -> None:
        """Refuse a plan built by another TensorRT or GPU, truncated since, or (``source_onnx``) built
        from another ONNX; a plan without a sidecar loads with a note, unless its source matters."""
        name = self.plan_path.name
        self.sidecar = read_sidecar(self.plan_path)
        if self.sidecar is None:
            if source_onnx is not None:
                raise PlanMismatch(
                    f"refusing {name}: it has no sidecar, so which ONNX it was built from is unknown; build it again"
                )
            self.notes.append("no sidecar: TensorRT version and GPU not checked before loading")
            return
        reason = mismatch_reason(
            self.sidecar, self.features.version_str, self.features.flavour, gpu_identity(device_index)
        )
        if reason:
            raise PlanMismatch(f"refusing {name}: {reason}", detail=str(self.sidecar))
        recorded = self.sidecar.get("size_bytes")
        size = self.plan_path.stat().st_size if self.plan_path.is_file() else None
        if isinstance(recorded, int) and size is not None and size != recorded:
            raise PlanMismatch(
                f"refusing {name}: it is {size} bytes, its sidecar recorded {recorded}: truncated or "
                "replaced since it was built; build it again",
                detail=str(self.sidecar),
            )
        self._check_source(source_onnx)

    def _check_source(self, source_onnx: str | Path | None) -> None:
        """A plan is only valid for the ONNX it was built from (e.g. one left by an earlier run of another
        model in the same folder must never be benchmarked as this one)."""
        if source_onnx is None or self.sidecar is None:
            return
        recorded = self.sidecar.get("onnx_sha256")
        current = file_sha256(source_onnx)
        if recorded != current:
            raise PlanMismatch(
                f"refusing {self.plan_path.name}: it was built from another {Path(source_onnx).name} (sha256 "
                f"{str(recorded)[:12]}, now {current[:12]}); build it again",
                detail=str(self.sidecar),
            )

    # -- setup ---------------------------------------------------------------------------------
    def _init_cuda(self, device_index: int) -> Any:
        import torch

        if self.device == "cuda":
            if not torch.cuda.is_available():
                raise TensorRTUnavailable("no CUDA GPU visible to PyTorch; TensorRT engines need one")
            torch.cuda.set_device(device_index)
            torch.cuda.init()  # the primary context exists before TensorRT's runtime does
        return torch

    def _guard(self, fn: Any) -> Any:
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001 - some bindings raise instead of returning None
            self._sink.receive("ERROR", f"{type(exc).__name__}: {exc}")
            return None

    def _refuse(self, what: str, fallback: str) -> None:
        lines = self._sink.error_lines()
        raise EngineLoadError(f"{what}: {lines[0] if lines else fallback}", detail="\n".join(lines) or fallback)

    def _alloc(self, shape: tuple[int, ...], dtype: Any, pinned: bool = False, host: bool = False) -> Any:
        """A 256-byte aligned buffer (what setTensorAddress requires): device, pinned host or plain host."""
        torch = self._torch
        try:
            if pinned:
                return torch.empty(shape, dtype=dtype, pin_memory=True)
            return aligned_empty(torch, shape, dtype, "cpu" if host else self.device)
        except Exception as exc:
            if is_out_of_memory(exc):
                mib = int(np.prod(shape)) * torch.empty((), dtype=dtype).element_size() / 2**20
                where = "pinned host" if pinned else "GPU"
                raise TrtTuiError(
                    f"out of {where} memory allocating a {list(shape)} {dtype} buffer ({mib:.1f} MiB) for "
                    f"{self.plan_path.name}",
                    detail=str(exc),
                ) from exc
            raise

    def _setup_io(self, batch_shape: Any) -> None:
        engine: tensorrt.ICudaEngine = self.engine
        ctx: tensorrt.IExecutionContext = self.context
        names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
        for n in names:
            (self.input_names if enum_name(engine.get_tensor_mode(n)) == "INPUT" else self.output_names).append(n)
        self.host_io = {n for n in names if self._on_host(n)}
        for n in self.input_names:
            engine_shape = _dims(engine.get_tensor_shape(n))
            if isinstance(batch_shape, Mapping):
                want = batch_shape.get(n)
            else:  # one shape: the data inputs' (a shape tensor's own shape is its rank)
                want = None if n in self.host_io else batch_shape
            if -1 in engine_shape:
                if want is None:
                    want = _dims(engine.get_tensor_profile_shape(n, 0)[1])
                want = tuple(int(d) for d in want)
                if not ctx.set_input_shape(n, want):
                    self._refuse(f"input {n!r}: shape {list(want)} is outside the engine's profile", "rejected")
            elif want is not None and tuple(int(d) for d in want) != engine_shape:
                raise TrtTuiError(f"{self.plan_path.name} was built for {n} {list(engine_shape)}, not {list(want)}")
        shape_inputs = [n for n in self.input_names if n in self.host_io]
        for n in shape_inputs:  # values come from set_input; until then zeros
            buf = self._alloc(_dims(ctx.get_tensor_shape(n)), torch_dtype(engine.get_tensor_dtype(n)), host=True)
            self._buffers[n] = buf.zero_()
            self._set_address(n, buf)
        if not shape_inputs:  # with shape-tensor inputs the output shapes depend on their values
            self._infer_shapes()
        for n in names:
            if n in shape_inputs:
                continue
            shape = _dims(ctx.get_tensor_shape(n))
            dtype = torch_dtype(engine.get_tensor_dtype(n))
            if n in self.output_names and (shape_inputs or -1 in shape):
                self.dynamic_outputs.append(n)
                continue
            buf = self._alloc(shape, dtype, host=n in self.host_io)
            self._buffers[n] = buf
            if self.device == "cuda" and n not in self.host_io:
                self._pinned[n] = self._alloc(shape, dtype, pinned=True)
            self._set_address(n, buf)
        if self.dynamic_outputs:
            self._attach_output_allocator()
        if self.device == "cuda":
            self.stream = self._torch.cuda.Stream()  # non-default: the default stream adds syncs

    def _on_host(self, name: str) -> bool:
        """Shape tensors (inputs to shape calculations, outputs of them) live in host memory."""
        e = self.engine
        try:
            if hasattr(e, "is_shape_inference_io") and e.is_shape_inference_io(name):
                return True
            return hasattr(e, "get_tensor_location") and enum_name(e.get_tensor_location(name)) == "HOST"
        except Exception:  # noqa: BLE001 - a location query some versions lack or refuse: not on the host
            return False

    def _set_address(self, name: str, buf: Any) -> None:
        if not self.context.set_tensor_address(name, int(buf.data_ptr())):
            self._refuse(f"set_tensor_address({name!r}) failed", "rejected")

    def _given_shapes(self) -> str:
        ctx = self.context
        return ", ".join(f"{n!r} {list(_dims(ctx.get_tensor_shape(n)))}" for n in self.input_names)

    def _infer_shapes(self) -> None:
        """infer_shapes() returns the inputs still lacking a shape, and raises RuntimeError when the shapes
        contradict the engine (the real bindings; 'infer_shapes error code: -N'): one line either way."""
        ctx = self.context
        if not hasattr(ctx, "infer_shapes"):
            return
        name = self.plan_path.name
        try:
            missing = list(ctx.infer_shapes() or [])
        except Exception as exc:
            lines = self._sink.error_lines()
            said = lines[-1] if lines else f"{type(exc).__name__}: {exc}"
            raise TrtTuiError(
                f"TensorRT cannot infer the output shapes of {name} for input {self._given_shapes()}: {said}",
                detail="\n".join([*lines, f"{type(exc).__name__}: {exc}"]),
            ) from exc
        if missing:
            raise TrtTuiError(
                f"TensorRT cannot infer the output shapes of {name}: no shape set for input(s) "
                f"{missing}; set every dynamic input's shape"
            )

    def _raw_alloc(self, nbytes: int, alignment: int) -> Any:
        return aligned_empty(self._torch, (nbytes,), self._torch.uint8, self.device, alignment=alignment)

    def _attach_output_allocator(self) -> None:
        shapes = {n: list(_dims(self.context.get_tensor_shape(n))) for n in self.dynamic_outputs}
        alloc = make_output_allocator(self.trt, self._raw_alloc)
        if alloc is None:
            raise TrtTuiError(
                f"{self.plan_path.name}: output(s) {shapes} have data-dependent shapes and "
                f"{self.features.label} has no IOutputAllocator to size them"
            )
        self.output_allocator = alloc
        for n in self.dynamic_outputs:
            if not self.context.set_output_allocator(n, alloc):
                self._refuse(f"set_output_allocator({n!r}) failed", "rejected")

    def _dynamic_output(self, n: str) -> Any:
        """The device bytes TensorRT wrote for a data-dependent output, viewed with its notified shape."""
        alloc = self.output_allocator
        shape = alloc.shapes.get(n)
        if shape is None or n not in alloc.buffers:
            why = alloc.error.strip().splitlines()[-1] if alloc.error else "no shape notified"
            raise TrtTuiError(
                f"TensorRT gave no memory/shape for the data-dependent output {n!r}: {why}", detail=alloc.error or ""
            )
        dtype = torch_dtype(self.engine.get_tensor_dtype(n))
        count = int(np.prod(shape)) if shape else 1
        nbytes = count * self._torch.empty((), dtype=dtype).element_size()
        return alloc.buffers[n][:nbytes].view(dtype).view(shape)

    # -- Runner protocol -----------------------------------------------------------------------
    def set_input(self, host: np.ndarray | Sequence[np.ndarray] | Mapping[str, np.ndarray]) -> None:
        torch = self._torch
        if isinstance(host, Mapping):
            arrays = [host[n] for n in self.input_names]
        elif isinstance(host, np.ndarray):
            arrays = [host]
        else:
            arrays = list(host)
        if len(arrays) != len(self.input_names):
            raise TrtTuiError(f"{self.plan_path.name} has inputs {self.input_names}, got {len(arrays)} arrays")
        if self._h2d_done is not None:
            self._h2d_done.synchronize()  # the pinned buffers may still be read by the last copy
        for n, arr in zip(self.input_names, arrays):
            buf = self._buffers[n]
            if tuple(arr.shape) != tuple(buf.shape):
                raise TrtTuiError(f"input {n!r} must be shaped {list(buf.shape)}, got {list(arr.shape)}")
            src = torch.from_numpy(np.ascontiguousarray(arr))
            if self.device == "cuda" and n not in self.host_io:
                pinned = self._pinned[n]
                pinned.copy_(src)  # converts dtype (e.g. float32 host -> float16 engine input)
                with torch.cuda.stream(self.stream):
                    buf.copy_(pinned, non_blocking=True)
            else:  # CPU test engines, and shape tensors (TensorRT reads them from host memory)
                buf.copy_(src)
        if self.device == "cuda":
            self._h2d_done = torch.cuda.Event()
            self._h2d_done.record(self.stream)

    def h2d(self) -> None:
        """Copy the staged (pinned) inputs to the device again: the timed loop's H2D."""
        if self.device != "cuda":
            return
        torch = self._torch
        with torch.cuda.stream(self.stream):
            for n in self.input_names:
                if n in self._pinned:
                    self._buffers[n].copy_(self._pinned[n], non_blocking=True)

    def compute(self) -> None:
        handle = self.stream.cuda_stream if self.stream is not None else 0
        seq = self.logger.seq  # errors logged from here on are this call's (no listener in the timed loop)
        if not self.context.execute_async_v3(handle):
            lines = self.logger.errors_since(seq)
            alloc_err = getattr(self.output_allocator, "error", None)
            said = lines[-1] if lines else "no reason logged"
            if alloc_err:
                said += f" (output allocator: {alloc_err.strip().splitlines()[-1]})"
            raise TrtTuiError(f"TensorRT execute_async_v3 failed: {said}", detail="\n".join([*lines, alloc_err or ""]))

    def outputs(self) -> list[np.ndarray]:
        torch = self._torch
        dynamic = {n: self._dynamic_output(n) for n in self.dynamic_outputs}
        if self.device == "cuda":
            with torch.cuda.stream(self.stream):
                for n in self.output_names:
                    if n in dynamic:
                        dst = self._stage(n, dynamic[n])
                        dst.copy_(dynamic[n], non_blocking=True)
                        dynamic[n] = dst
                    elif n in self._pinned:
                        self._pinned[n].copy_(self._buffers[n], non_blocking=True)
            self.stream.synchronize()
            src = {**self._buffers, **self._pinned, **dynamic}
        else:
            src = {**self._buffers, **dynamic}
        if self.output_allocator is not None:
            self.output_allocator.retired.clear()  # synced: TensorRT is done with replaced buffers
        out = []
        for n in self.output_names:
            t = src[n]
            if t.dtype in (torch.bfloat16,) or "float8" in str(t.dtype):
                t = t.float()
            out.append(t.numpy().copy())
        return out

    def _stage(self, n: str, like: Any) -> Any:
        """Pinned host bytes for a data-dependent output, grown when a larger result arrives."""
        torch = self._torch
        nbytes = like.numel() * like.element_size()
        raw = self._staging.get(n)
        if raw is None or raw.numel() < nbytes:
            raw = self._staging[n] = torch.empty((max(nbytes, 1),), dtype=torch.uint8, pin_memory=True)
        return raw[:nbytes].view(like.dtype).view(like.shape)

    def close(self) -> None:
        """Release the TensorRT objects (context, engine, runtime, in that order) and the buffers."""
        if self.stream is not None:
            try:
                self.stream.synchronize()
            except Exception:  # noqa: BLE001 - closing: a failed sync must not stop the release
                pass
        self._buffers.clear()
        self._pinned.clear()
        self._staging.clear()
        self._h2d_done = None
        self.context = None
        self.output_allocator = None
        self.engine = None
        self.runtime = None
        self.stream = None

    def __enter__(self) -> TrtRunner:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- info ----------------------------------------------------------------------------------
    def _shape_of(self, n: str) -> list[int] | None:
        if n in self._buffers:
            return list(self._buffers[n].shape)
        notified = getattr(self.output_allocator, "shapes", {}).get(n)
        return list(notified) if notified is not None else None

    def engine_info(self) -> dict[str, Any]:
        """I/O names, shapes, dtypes; activation memory; plan size; how it was built (sidecar)."""
        e = self.engine
        if e is None:
            return {}
        io = []
        for n in [*self.input_names, *self.output_names]:
            io.append(
                {
                    "name": n,
                    "mode": "input" if n in self.input_names else "output",
                    "dtype": enum_name(e.get_tensor_dtype(n)),
                    "engine_shape": list(_dims(e.get_tensor_shape(n))),
                    "shape": self._shape_of(n),
                    "memory": "host" if n in self.host_io else ("allocator" if n in self.dynamic_outputs else "device"),
                }
            )
        mem = None
        for attr in (
            ("device_memory_size_v2", "device_memory_size")
            if self.features.has_device_memory_v2
            else ("device_memory_size",)
        ):
            if hasattr(e, attr):
                try:
                    mem = int(getattr(e, attr))
                    break
                except Exception:  # noqa: BLE001 - a memory attribute some versions lack or refuse: try the next
                    continue
        return {
            "plan_path": str(self.plan_path),
            "plan_bytes": self.plan_bytes,
            "trt_version": self.features.version_str,
            "flavour": self.features.flavour,
            "device_memory_bytes": mem,
            "num_layers": getattr(e, "num_layers", None),
            "num_optimization_profiles": getattr(e, "num_optimization_profiles", None),
            "io": io,
            "built": {k: self.sidecar.get(k) for k in ("precision", "mechanism", "tf32", "gpu")}
            if self.sidecar
            else None,
        }
