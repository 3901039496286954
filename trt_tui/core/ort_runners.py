"""onnxruntime on CUDA measured like the TensorRT rows: device-resident input and outputs (IOBinding).

``session.run`` with numpy arrays copies the input to the GPU and the outputs back inside every call,
so its time is neither the GPU's nor comparable with a TensorRT row's. Here, as for the other CUDA
rows, the input is staged in pinned memory and copied into a device buffer (``h2d``), the session
runs on the runner's own CUDA stream (``user_compute_stream``) reading and writing bound device
buffers (``compute``, no sync), and ``outputs`` copies the results back: the harness's latency then
includes the copies and its CUDA events time the compute alone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from trt_tui.core.errors import TrtTuiError
from trt_tui.core.inputs import named_feeds

ORT_TYPES = {
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(int8)": np.int8,
    "tensor(uint8)": np.uint8,
    "tensor(bool)": np.bool_,
}


def cuda_session(path: str | Path, stream: Any) -> Any:
    """An InferenceSession whose CUDA provider runs on ``stream`` (a torch.cuda.Stream)."""
    import onnxruntime as ort
    import torch

    options = {"device_id": str(torch.cuda.current_device()), "user_compute_stream": str(stream.cuda_stream)}
    try:
        return ort.InferenceSession(str(path), providers=[("CUDAExecutionProvider", options), "CPUExecutionProvider"])
    except Exception as exc:
        raise TrtTuiError(
            f"onnxruntime cannot load {Path(path).name} on CUDA: {str(exc).strip().splitlines()[0]}"
        ) from exc


class OrtBoundRunner:
    """A session run through IOBinding on torch-allocated buffers. On CUDA (``cuda_session``) the
    buffers live on the GPU and everything is ordered on ``stream``; on the CPU the same binding logic
    runs on host tensors (what the CPU tests exercise)."""

    def __init__(
        self, session: Any, shapes: Mapping[str, tuple[int, ...]] | tuple[int, ...], *, device: str, stream: Any = None
    ) -> None:
        import onnxruntime as ort
        import torch

        self.torch, self.session, self.device, self.stream = torch, session, device, stream
        if device == "cuda" and session.get_providers()[0] != "CUDAExecutionProvider":
            raise TrtTuiError("onnxruntime's CUDA provider did not load for this session")
        self.device_id = torch.cuda.current_device() if device == "cuda" else 0
        self.inputs = {i.name: i for i in session.get_inputs()}
        self.output_names = [o.name for o in session.get_outputs()]
        self.binding = session.io_binding()
        self.run_options = ort.RunOptions()
        if device == "cuda":  # enqueue only: outputs() synchronises, as for the other CUDA rows
            self.run_options.add_run_config_entry("disable_synchronize_execution_providers", "1")
        self.x_host: dict[str, Any] = {}
        self.x_dev: dict[str, Any] = {}
        self.y: list[Any] = []
        if not isinstance(shapes, Mapping):  # one input's shape
            shapes = {next(iter(self.inputs)): tuple(shapes)}
        self._alloc({k: tuple(v) for k, v in shapes.items()})

    def _tensor(self, shape: tuple[int, ...], dtype: Any) -> Any:
        return self.torch.empty(shape, dtype=dtype, device=self.device)

    def _bind(self, name: str, tensor: Any, output: bool) -> None:
        bind = self.binding.bind_output if output else self.binding.bind_input
        bind(
            name,
            self.device,
            self.device_id,
            np.dtype(str(tensor.dtype).removeprefix("torch.")).type,
            tuple(tensor.shape),
            tensor.data_ptr(),
        )

    def _alloc(self, shapes: dict[str, tuple[int, ...]]) -> None:
        torch = self.torch
        self.binding.clear_binding_inputs()
        self.binding.clear_binding_outputs()
        for name, shape in shapes.items():
            dtype = torch.from_numpy(np.empty(0, ORT_TYPES.get(self.inputs[name].type, np.float32))).dtype
            self.x_host[name] = torch.empty(shape, dtype=dtype, pin_memory=self.device == "cuda")
            self.x_dev[name] = self._tensor(shape, dtype).zero_()
            self._bind(name, self.x_dev[name], output=False)
        # one run with outputs onnxruntime allocates tells their shapes; then bind buffers of our own
        for name in self.output_names:
            self.binding.bind_output(name, self.device, self.device_id)
        self.session.run_with_iobinding(self.binding)
        out_shapes = [tuple(v.shape()) for v in self.binding.get_outputs()]
        types = [ORT_TYPES.get(o.type, np.float32) for o in self.session.get_outputs()]
        self.binding.clear_binding_outputs()
        self.y = [self._tensor(s, torch.from_numpy(np.empty(0, t)).dtype) for s, t in zip(out_shapes, types)]
        for name, t in zip(self.output_names, self.y):
            self._bind(name, t, output=True)

    def _on_stream(self) -> Any:
        from contextlib import nullcontext

        return self.torch.cuda.stream(self.stream) if self.stream is not None else nullcontext()

    def set_input(self, host: Any) -> None:
        feeds = named_feeds(host, list(self.inputs))
        shapes = {k: tuple(v.shape) for k, v in feeds.items()}
        if shapes != {k: tuple(v.shape) for k, v in self.x_host.items()}:
            if self.stream is not None:
                self.stream.synchronize()
            self._alloc(shapes)
        for name, arr in feeds.items():  # cast to the session's input type (e.g. int64 ids given as int32)
            self.x_host[name].copy_(self.torch.from_numpy(np.ascontiguousarray(arr)))
        self.h2d()

    def h2d(self) -> None:
        with self._on_stream():
            for name, dev in self.x_dev.items():
                dev.copy_(self.x_host[name], non_blocking=self.device == "cuda")

    def compute(self) -> None:
        self.session.run_with_iobinding(self.binding, self.run_options)

    def outputs(self) -> list[np.ndarray]:
        with self._on_stream():
            out = [t.float().cpu().numpy() for t in self.y]  # .cpu() waits for the stream
        return out

    def close(self) -> None:
        self.binding = None
        self.session = None
        self.y = []


class CudaProviderMissing(TrtTuiError):
    """onnxruntime's CUDA provider (or PyTorch's CUDA) is not usable here: the CPU path says why."""


def cuda_runner(path: str | Path, shapes: Callable[[], Mapping[str, tuple[int, ...]]]) -> OrtBoundRunner:
    """onnxruntime on CUDA through IOBinding, on a stream of its own (``shapes``, of each input, are
    asked for once the session is known to run on CUDA)."""
    import torch

    if not torch.cuda.is_available():
        raise CudaProviderMissing("PyTorch sees no CUDA GPU")
    stream = torch.cuda.Stream()
    session = cuda_session(path, stream)
    if session.get_providers()[0] != "CUDAExecutionProvider":
        raise CudaProviderMissing("onnxruntime's CUDA provider did not load")
    return OrtBoundRunner(session, shapes(), device="cuda", stream=stream)
