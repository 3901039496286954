"""Buffers for TensorRT I/O: 256-byte aligned torch tensors, and an IOutputAllocator for outputs whose
shape depends on the data (NonZero-style: -1 dims even after every input shape is set).

TensorRT wants every tensor address 256-byte aligned (``IExecutionContext::setTensorAddress``). An
output with a data-dependent shape has no size before ``execute_async_v3``: TensorRT asks an
``IOutputAllocator`` for memory during the call (``reallocate_output``) and reports the real shape
(``notify_shape``), as Polygraphy's ``OutputAllocator`` and Torch-TensorRT's runtime do.
``IOutputAllocator`` is bound in 8.6, 10.x and 11.x (pyCore.cpp); where a module lacks it,
``make_output_allocator`` returns None and the caller fails that engine with one line.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from typing import Any

from trt_tui.core.trt.interfaces import derive

ALIGNMENT = 256  # bytes; what setTensorAddress requires

# (nbytes, alignment) -> an object with .data_ptr() owning at least nbytes at an aligned address
RawAlloc = Callable[[int, int], Any]


def aligned_empty(
    torch: Any, shape: tuple[int, ...], dtype: Any, device: str, pin_memory: bool = False, alignment: int = ALIGNMENT
) -> Any:
    """``torch.empty`` whose data pointer is ``alignment``-aligned (CUDA's caching allocator already
    is; CPU tensors, used with fake engines and for host-resident shape tensors, may not be)."""
    t = torch.empty(shape, dtype=dtype, device=device, pin_memory=pin_memory)
    if int(t.data_ptr()) % alignment == 0:
        return t
    del t
    itemsize = torch.empty((), dtype=dtype).element_size()
    count = 1
    for d in shape:
        count *= int(d)
    nbytes = count * itemsize
    raw = torch.empty(nbytes + alignment, dtype=torch.uint8, device=device, pin_memory=pin_memory)
    off = (-int(raw.data_ptr())) % alignment
    return raw[off : off + nbytes].view(dtype).view(shape)


class TrtTuiOutputAllocator:
    """The ``IOutputAllocator`` of make_output_allocator."""

    _trt_base: Any = None

    def __init__(self, alloc: RawAlloc) -> None:
        self._trt_base.__init__(self)  # required by the pybind11 trampoline
        self.alloc = alloc
        self.buffers: dict[str, Any] = {}
        self.sizes: dict[str, int] = {}
        self.shapes: dict[str, tuple[int, ...]] = {}
        self.retired: list[Any] = []
        self.error: str | None = None
        self._lock = threading.Lock()

    def reallocate_output(self, tensor_name: str, memory: int, size: int, alignment: int) -> int:
        try:
            size = max(int(size), 1)
            align = max(int(alignment or 1), ALIGNMENT)
            with self._lock:
                buf = self.buffers.get(tensor_name)
                if buf is None or self.sizes[tensor_name] < size or int(buf.data_ptr()) % align:
                    if buf is not None:
                        self.retired.append(buf)
                    buf = self.alloc(size, align)
                    self.buffers[tensor_name] = buf
                    self.sizes[tensor_name] = size
                return int(buf.data_ptr())
        except Exception:  # noqa: BLE001 - TensorRT's allocator callback: never raise into TensorRT; kept for the runner
            self.error = self.error or traceback.format_exc()
            return 0

    def notify_shape(self, tensor_name: str, shape: Any) -> None:
        try:
            self.shapes[tensor_name] = tuple(int(shape[i]) for i in range(len(shape)))
        except Exception:  # noqa: BLE001 - TensorRT's allocator callback: never raise into TensorRT; kept for the runner
            self.error = self.error or traceback.format_exc()


def make_output_allocator(trt: Any, alloc: RawAlloc) -> Any | None:
    """A ``trt.IOutputAllocator`` subclass instance, or None where the module has none.

    ``reallocate_output`` keeps a tensor's buffer while it is big enough (the timed loop then allocates
    nothing) and otherwise replaces it; replaced buffers stay in ``retired`` until the caller has synced
    its stream (TensorRT may still write the old one). ``shapes`` has the last notified shape per tensor.
    Exceptions never reach TensorRT (the binding would print them and get a null pointer): the first is
    kept in ``error``.
    """
    base: Any = getattr(trt, "IOutputAllocator", None)
    if base is None:
        return None
    return derive(base, TrtTuiOutputAllocator)(alloc)
