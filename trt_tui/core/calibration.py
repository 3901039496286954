"""Calibration batches for INT8: TensorRT calibrators and onnxruntime's quantizer both consume them.

Plain numpy; no torch or tensorrt. Sources, best first: the digits training split (digits-cnn), a user
``.npy`` (N, *input_shape) or ``.npz`` (the array named like the model input, else the first one),
random standard-normal data as a clearly labelled last resort. User data must already be preprocessed
the way the model expects; it is only cast to float32.

Every batch is float32, C-contiguous, exactly (batch_size, *input_shape). The last partial batch is
dropped (never padded), so every sample fed is a real one; fewer samples than one batch is an error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from .errors import TrtTuiError

KINDS = ("digits-train", "npy", "npz", "random")


class BatchSource:
    """Rewindable batches. Iterate (each ``for`` starts from the first batch) or use the cursor:
    ``next_batch()`` until it returns None, then ``reset()``."""

    def __init__(
        self,
        get_batch: Callable[[int], np.ndarray],
        num_samples: int,
        input_shape: tuple[int, ...],
        batch_size: int,
        kind: str,
        origin: str,
    ) -> None:
        if batch_size < 1:
            raise TrtTuiError(f"calibration batch size must be >= 1, got {batch_size}")
        if num_samples < batch_size:
            raise TrtTuiError(f"calibration needs at least one full batch: {num_samples} samples < batch size {batch_size}")
        self._get = get_batch
        self.input_shape = tuple(input_shape)
        self.batch_size = batch_size
        self.num_batches = num_samples // batch_size
        self.num_samples = self.num_batches * batch_size  # samples actually fed
        self.kind = kind
        dropped = num_samples - self.num_samples
        self.description = f"{self.num_samples} samples from {origin}" + (
            f" (last {dropped} dropped: partial batch)" if dropped else ""
        )
        self._cursor = 0

    # -- constructors ------------------------------------------------------------------------------
    @classmethod
    def from_array(cls, samples: np.ndarray, input_shape, batch_size: int, max_samples: int | None = None,
                   kind: str = "npy", origin: str = "an array") -> "BatchSource":  # fmt: skip
        input_shape = tuple(int(d) for d in input_shape)
        if samples.ndim != len(input_shape) + 1 or tuple(samples.shape[1:]) != input_shape:
            raise TrtTuiError(
                f"calibration data from {origin}: samples have shape {tuple(samples.shape[1:])} "
                f"(array {tuple(samples.shape)}), the model input is {input_shape}"
            )
        if not np.issubdtype(samples.dtype, np.number) or np.iscomplexobj(samples):
            raise TrtTuiError(f"calibration data from {origin} is {samples.dtype}, not real numbers")
        n = len(samples) if max_samples is None else min(len(samples), max_samples)

        def get(i: int) -> np.ndarray:
            return np.ascontiguousarray(samples[i * batch_size : (i + 1) * batch_size], dtype=np.float32)

        return cls(get, n, input_shape, batch_size, kind, origin)

    @classmethod
    def from_digits(cls, input_shape, batch_size: int, max_samples: int | None = 512) -> "BatchSource":
        from .models import digits_data  # torch-free

        return cls.from_array(digits_data().x_train, input_shape, batch_size, max_samples,
                              kind="digits-train", origin="the digits training split")  # fmt: skip

    @classmethod
    def from_file(cls, path, input_shape, batch_size: int, max_samples: int | None = 512,
                  input_name: str = "input") -> "BatchSource":  # fmt: skip
        path = Path(path)
        if not path.is_file():
            raise TrtTuiError(f"calibration file not found: {path}")
        try:
            if path.suffix == ".npz":
                archive = np.load(path)
                if not archive.files:
                    raise TrtTuiError(f"calibration file {path} holds no arrays")
                key = input_name if input_name in archive.files else archive.files[0]
                return cls.from_array(archive[key], input_shape, batch_size, max_samples,
                                      kind="npz", origin=f"{path.name}[{key!r}]")  # fmt: skip
            arr = np.load(path, mmap_mode="r", allow_pickle=False)
        except TrtTuiError:
            raise
        except Exception as e:
            raise TrtTuiError(f"cannot read calibration file {path}: {e}", detail=repr(e)) from e
        return cls.from_array(arr, input_shape, batch_size, max_samples, kind="npy", origin=path.name)

    @classmethod
    def random(cls, input_shape, batch_size: int, max_samples: int = 512, seed: int = 0) -> "BatchSource":
        """Standard-normal noise, generated per batch (reproducible, no big array in memory)."""
        input_shape = tuple(int(d) for d in input_shape)

        def get(i: int) -> np.ndarray:
            return np.random.default_rng([seed, i]).standard_normal((batch_size, *input_shape), dtype=np.float32)

        return cls(get, max_samples, input_shape, batch_size, "random",
                   "random normal data (no real data: INT8 scales are a guess)")  # fmt: skip

    @classmethod
    def for_model(cls, loaded, batch_size: int, calib_data: str | None = None, max_samples: int = 512,
                  seed: int = 0, input_name: str = "input") -> "BatchSource":  # fmt: skip
        """The best source for a LoadedModel: the user's file, else its own training data, else random."""
        if calib_data:
            return cls.from_file(calib_data, loaded.input_shape, batch_size, max_samples, input_name)
        if loaded.data is not None:
            return cls.from_array(loaded.data.x_train, loaded.input_shape, batch_size, max_samples,
                                  kind="digits-train", origin="the digits training split")  # fmt: skip
        return cls.random(loaded.input_shape, batch_size, max_samples, seed)

    # -- consumption --------------------------------------------------------------------------------
    def batch(self, i: int) -> np.ndarray:
        b = self._get(i)
        assert b.shape == (self.batch_size, *self.input_shape) and b.dtype == np.float32 and b.flags.c_contiguous
        return b

    def __iter__(self) -> Iterator[np.ndarray]:
        return (self.batch(i) for i in range(self.num_batches))

    def __len__(self) -> int:
        return self.num_batches

    def next_batch(self) -> np.ndarray | None:
        """Cursor access for calibrators (TensorRT's get_batch): None when exhausted."""
        if self._cursor >= self.num_batches:
            return None
        self._cursor += 1
        return self.batch(self._cursor - 1)

    def reset(self) -> None:
        self._cursor = 0

    def as_ort_reader(self, input_name: str):
        """An ``onnxruntime.quantization.CalibrationDataReader`` over these batches (rewindable)."""
        from onnxruntime.quantization import CalibrationDataReader

        source = self

        class Reader(CalibrationDataReader):
            def __init__(self) -> None:
                self._it = iter(source)

            def get_next(self):
                b = next(self._it, None)
                return None if b is None else {input_name: b}

            def rewind(self) -> None:
                self._it = iter(source)

        return Reader()
