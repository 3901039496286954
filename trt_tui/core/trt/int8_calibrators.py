"""INT8 calibrators (TensorRT 8.6 / 10.x only; deprecated in 10.1, removed in 11 and absent in RTX).

The batch source is ``trt_tui.core.calib_batches.BatchSource``-like: a rewindable iterable of float32
arrays shaped (batch, *input_shape) with ``.reset()``, ``.batch_size`` and ``.description``.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from trt_tui.core import atomic
from trt_tui.core.errors import TrtTuiError
from trt_tui.core.trt.interfaces import derive

CALIBRATOR_CLASSES = {"entropy": "IInt8EntropyCalibrator2", "minmax": "IInt8MinMaxCalibrator"}

# host array -> (object to keep alive, device pointer)
ToDevice = Callable[[np.ndarray], tuple[Any, int]]


class BatchSourceLike(Protocol):
    batch_size: int
    description: str

    def __iter__(self) -> Iterator[np.ndarray]: ...

    def reset(self) -> None: ...


def torch_to_device(array: np.ndarray) -> tuple[Any, int]:
    """Copy to a CUDA tensor (synchronously, so it is ready when TensorRT reads it)."""
    import torch

    t = torch.from_numpy(array).to("cuda")
    torch.cuda.current_stream().synchronize()
    return t, int(t.data_ptr())


class TrtTuiCalibrator:
    """Feeds a BatchSource to TensorRT (see make_calibrator). After the build: ``.batches_fed``, ``.error``."""

    _trt_base: Any = None

    def __init__(self, kind: str, source: BatchSourceLike, cache_path: Path | None, move: ToDevice) -> None:
        self._trt_base.__init__(self)  # required: the binding segfaults without it
        self.kind = kind
        self.source = source
        self.cache_path = cache_path
        self.move = move
        self.batches_fed = 0
        self.error: str | None = None
        self.note: str | None = None
        self._iter: Iterator[Any] | None = None
        self._alive: list[Any] = []  # device buffers of the last batch, alive until the next call
        self.int64 = True  # the engine takes INT64 inputs (else integer inputs are fed as int32)

    def get_batch_size(self) -> int:
        return int(self.source.batch_size)

    def _arrays(self, batch: Any, names: list[str]) -> list[np.ndarray]:
        if isinstance(batch, dict):
            return [batch[n] for n in names]
        if isinstance(batch, (list, tuple)):
            items = list(batch)
        else:
            items = [batch]
        if len(items) != len(names):
            raise TrtTuiError(f"calibration batch has {len(items)} arrays, the network has inputs {names}")
        return items

    def get_batch(self, names: list[str], *_: Any) -> list[int] | None:
        try:
            if self._iter is None:
                self.source.reset()
                self._iter = iter(self.source)
            batch = next(self._iter, None)
            self._alive = []
            if batch is None:
                return None
            # floats as float32 (the FP32 network's inputs); integer ids and masks keep an integer type,
            # int32 where this TensorRT has no INT64 I/O (8.6's parser makes int64 inputs INT32)
            arrays = [
                np.ascontiguousarray(
                    a,
                    dtype=np.float32
                    if np.issubdtype(a.dtype, np.floating)
                    else (a.dtype if self.int64 or a.dtype == np.bool_ else np.int32),
                )
                for a in self._arrays(batch, list(names))
            ]
            bs = self.get_batch_size()
            if any(a.shape[0] != bs for a in arrays):
                self.note = f"stopped at a partial batch of {arrays[0].shape[0]} (batch size {bs})"
                return None
            moved = [self.move(a) for a in arrays]
            self._alive = [m[0] for m in moved]
            self.batches_fed += 1
            return [int(m[1]) for m in moved]
        except Exception:  # noqa: BLE001 - TensorRT's callback: raised into TensorRT it reads as 'no more data'
            # TensorRT would treat a raised exception as "no more data" and print it; keep it instead
            self.error = traceback.format_exc()
            self._alive = []
            return None

    def read_calibration_cache(self) -> bytes | None:
        try:
            if self.cache_path is not None and self.cache_path.is_file():
                data = self.cache_path.read_bytes()
                return data or None
        except OSError:
            pass
        return None

    def write_calibration_cache(self, cache: Any) -> None:
        if self.cache_path is None:
            return
        try:
            atomic.write_bytes(self.cache_path, bytes(cache))
        except Exception:  # noqa: BLE001 - TensorRT's callback: never raise into TensorRT; kept for the build
            self.error = traceback.format_exc()

    def rewind(self) -> None:
        """Start the data again (a second build with the same calibrator)."""
        self._iter = None
        self._alive = []
        self.batches_fed = 0


def make_calibrator(
    trt: Any,
    kind: str,
    batch_source: BatchSourceLike,
    cache_path: str | os.PathLike[str] | None,
    *,
    to_device: ToDevice | None = None,
    int64: bool = True,
) -> Any:
    """A ``trt.IInt8EntropyCalibrator2`` (kind='entropy') or ``IInt8MinMaxCalibrator`` ('minmax')
    subclass instance feeding ``batch_source``. After the build: ``.batches_fed``, ``.error``."""
    cls_name = CALIBRATOR_CLASSES.get(kind)
    if cls_name is None:
        raise ValueError(f"calibrator must be one of {tuple(CALIBRATOR_CLASSES)}, not {kind!r}")
    base: Any = getattr(trt, cls_name, None)
    if base is None:
        raise TrtTuiError(
            f"this TensorRT has no {cls_name} (calibrators were removed in TensorRT 11 and are not in "
            "TensorRT-RTX); use Q/DQ INT8 instead"
        )
    cache = Path(cache_path) if cache_path else None
    calibrator = derive(base, TrtTuiCalibrator)(kind, batch_source, cache, to_device or torch_to_device)
    calibrator.int64 = int64
    return calibrator
