"""A ``bench.Runner`` over a TensorRT plan: tensor-name API + execute_async_v3 on a torch stream.

I/O buffers are torch CUDA tensors allocated from the engine's own dtypes (FP16 I/O under strong
typing is possible), so PyTorch and TensorRT share the primary CUDA context. Before loading, the
plan's sidecar must name this TensorRT version and this GPU.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from trt_tui.core.errors import TensorRTUnavailable, TrtTuiError
from trt_tui.core.trt.adapter import Features
from trt_tui.core.trt.logger import LogCallback, make_logger
from trt_tui.core.trt.sidecar import gpu_identity, mismatch_reason, read_sidecar

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


def _is_oom(exc: BaseException) -> bool:
    return type(exc).__name__ == "OutOfMemoryError" or "out of memory" in str(exc).lower()


class TrtRunner:
    """Runs one plan. ``batch_shape``: the input shape (or {name: shape}); dynamic inputs default to
    the profile's opt shape. ``_device='cpu'`` is a test hook (fake engines, no CUDA)."""

    def __init__(
        self,
        trt: Any,
        plan_path: str | Path,
        batch_shape: Sequence[int] | Mapping[str, Sequence[int]] | None = None,
        *,
        features: Features | None = None,
        on_log: LogCallback | None = None,
        check_sidecar: bool = True,
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
        name = self.plan_path.name

        if check_sidecar:
            self.sidecar = read_sidecar(self.plan_path)
            if self.sidecar is not None:
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
                        "replaced since it was built; build it again", detail=str(self.sidecar))
            else:
                self.notes.append("no sidecar: TensorRT version and GPU not checked before loading")
        if not self.plan_path.is_file():
            raise TrtTuiError(f"plan not found: {self.plan_path}")
        self._torch = self._init_cuda(device_index)
        self.logger = make_logger(trt, on_log)
        data = self.plan_path.read_bytes()
        self.plan_bytes = len(data)

        self.runtime: tensorrt.Runtime = trt.Runtime(self.logger)
        engine: tensorrt.ICudaEngine | None = self._guard(lambda: self.runtime.deserialize_cuda_engine(data))
        if engine is None:
            self._refuse(f"TensorRT could not load {name}", "corrupt plan, or built by another TensorRT version")
        self.engine = engine
        context: tensorrt.IExecutionContext | None = self._guard(lambda: self.engine.create_execution_context())
        if context is None:
            self._refuse(f"TensorRT could not create an execution context for {name}", "no reason logged")
        self.context = context
        self._setup_io(batch_shape)

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
        except Exception as exc:  # some bindings raise instead of returning None
            self.logger.log("ERROR", f"{type(exc).__name__}: {exc}")
            return None

    def _refuse(self, what: str, fallback: str) -> None:
        lines = self.logger.error_lines()
        raise EngineLoadError(f"{what}: {lines[0] if lines else fallback}", detail="\n".join(lines) or fallback)

    def _alloc(self, shape: tuple[int, ...], dtype: Any, pinned: bool = False) -> Any:
        torch = self._torch
        try:
            if pinned:
                return torch.empty(shape, dtype=dtype, pin_memory=True)
            return torch.empty(shape, dtype=dtype, device=self.device)
        except Exception as exc:
            if _is_oom(exc):
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
        for n in self.input_names:
            engine_shape = _dims(engine.get_tensor_shape(n))
            want = batch_shape.get(n) if isinstance(batch_shape, Mapping) else batch_shape
            if -1 in engine_shape:
                if want is None:
                    want = _dims(engine.get_tensor_profile_shape(n, 0)[1])
                want = tuple(int(d) for d in want)
                if not ctx.set_input_shape(n, want):
                    self._refuse(f"input {n!r}: shape {list(want)} is outside the engine's profile", "rejected")
            elif want is not None and tuple(int(d) for d in want) != engine_shape:
                raise TrtTuiError(f"{self.plan_path.name} was built for {n} {list(engine_shape)}, not {list(want)}")
        missing = list(ctx.infer_shapes() or []) if hasattr(ctx, "infer_shapes") else []
        if missing:
            raise TrtTuiError(f"TensorRT cannot infer shapes of {missing}; set every dynamic input's shape")
        for n in names:
            shape = _dims(ctx.get_tensor_shape(n))
            dtype = torch_dtype(engine.get_tensor_dtype(n))
            buf = self._alloc(shape, dtype)
            self._buffers[n] = buf
            if self.device == "cuda":
                self._pinned[n] = self._alloc(shape, dtype, pinned=True)
            if not ctx.set_tensor_address(n, int(buf.data_ptr())):
                self._refuse(f"set_tensor_address({n!r}) failed", "rejected")
        if self.device == "cuda":
            self.stream = self._torch.cuda.Stream()  # non-default: the default stream adds syncs

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
            if self.device == "cuda":
                pinned = self._pinned[n]
                pinned.copy_(src)  # converts dtype (e.g. float32 host -> float16 engine input)
                with torch.cuda.stream(self.stream):
                    buf.copy_(pinned, non_blocking=True)
            else:
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
                self._buffers[n].copy_(self._pinned[n], non_blocking=True)

    def compute(self) -> None:
        handle = self.stream.cuda_stream if self.stream is not None else 0
        if not self.context.execute_async_v3(handle):
            lines = self.logger.error_lines()
            raise TrtTuiError(
                f"TensorRT execute_async_v3 failed: {lines[-1] if lines else 'no reason logged'}",
                detail="\n".join(lines),
            )

    def outputs(self) -> list[np.ndarray]:
        torch = self._torch
        if self.device == "cuda":
            with torch.cuda.stream(self.stream):
                for n in self.output_names:
                    self._pinned[n].copy_(self._buffers[n], non_blocking=True)
            self.stream.synchronize()
            src = self._pinned
        else:
            src = self._buffers
        out = []
        for n in self.output_names:
            t = src[n]
            if t.dtype in (torch.bfloat16,) or "float8" in str(t.dtype):
                t = t.float()
            out.append(t.numpy().copy())
        return out

    def close(self) -> None:
        if self.stream is not None:
            try:
                self.stream.synchronize()
            except Exception:
                pass
        self._buffers.clear()
        self._pinned.clear()
        self._h2d_done = None
        self.context = None
        self.engine = None
        self.stream = None

    def __enter__(self) -> "TrtRunner":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- info ----------------------------------------------------------------------------------
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
                    "shape": list(self._buffers[n].shape) if n in self._buffers else None,
                }
            )
        mem = None
        for attr in ("device_memory_size_v2", "device_memory_size") if self.features.has_device_memory_v2 else (
            "device_memory_size",
        ):
            if hasattr(e, attr):
                try:
                    mem = int(getattr(e, attr))
                    break
                except Exception:
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
            "built": {k: self.sidecar.get(k) for k in ("precision", "mechanism", "tf32", "gpu")} if self.sidecar else None,
        }
