"""Calibration batches for INT8: TensorRT calibrators and trt-tui's calibration pass consume them.

Plain numpy; no torch or tensorrt. A batch is the model's feeds: input name -> array (batch first).
Sources, best first: a user ``.npz`` with one array per input name (a one-input model: the array named
like the input, else the only/first one) or ``.npy`` (a one-input model), the digits training split
(digits-cnn), or synthetic data drawn by each input's generator (core/inputs.py: token ids below
their embedding table, masks ones), labelled as such. User data must already be preprocessed the way
the model expects; float arrays are cast to float32, integer arrays keep their integer type.

Every batch has exactly ``batch_size`` samples per input, C-contiguous. The last partial batch is
dropped (never padded), so every sample fed is a real one; fewer samples than one batch is an error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .errors import TrtTuiError
from .inputs import Feeds, ModelInputs, named_feeds, single

KINDS = ("digits-train", "npy", "npz", "random")


def _as_inputs(inputs: ModelInputs | tuple[int, ...] | list[int], name: str = "input") -> ModelInputs:
    return inputs if isinstance(inputs, ModelInputs) else single(tuple(int(d) for d in inputs), name=name)


class BatchSource:
    """Rewindable batches of feeds. Iterate (each ``for`` starts from the first batch) or use the
    cursor: ``next_batch()`` until it returns None, then ``reset()``."""

    def __init__(
        self,
        get_batch: Callable[[int], Feeds],
        num_samples: int,
        inputs: ModelInputs | tuple[int, ...],
        batch_size: int,
        kind: str,
        origin: str,
    ) -> None:
        if batch_size < 1:
            raise TrtTuiError(f"calibration batch size must be >= 1, got {batch_size}")
        if num_samples < batch_size:
            raise TrtTuiError(
                f"calibration needs at least one full batch: {num_samples} samples < batch size {batch_size}"
            )
        self._get = get_batch
        self.inputs = _as_inputs(inputs)
        self.input_shape = self.inputs.specs[0].shape  # the first input's (one-input callers)
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
    def from_arrays(
        cls,
        arrays: Mapping[str, np.ndarray],
        inputs: ModelInputs,
        batch_size: int,
        max_samples: int | None = None,
        kind: str = "npz",
        origin: str = "arrays",
        sizes: Mapping[str, int] | None = None,
    ) -> BatchSource:
        """One array per input name, all with the same number of samples."""
        missing = [n for n in inputs.names if n not in arrays]
        if missing:
            raise TrtTuiError(
                f"calibration data from {origin} has no array for input {missing[0]!r} "
                f"(arrays: {', '.join(arrays) or 'none'}; inputs: {', '.join(inputs.names)})"
            )
        counts = set()
        for spec in inputs:
            a = arrays[spec.name]
            want = spec.shape_at(sizes)
            if a.ndim != len(want) + 1 or tuple(a.shape[1:]) != want:
                raise TrtTuiError(
                    f"calibration data from {origin}: input {spec.name!r} samples have shape "
                    f"{tuple(a.shape[1:])} (array {tuple(a.shape)}), the model input is {want}"
                )
            if not (np.issubdtype(a.dtype, np.number) or a.dtype == np.bool_) or np.iscomplexobj(a):
                raise TrtTuiError(f"calibration data from {origin}: input {spec.name!r} is {a.dtype}, not real numbers")
            counts.add(len(a))
        if len(counts) > 1:
            raise TrtTuiError(
                f"calibration data from {origin}: the inputs have different sample counts {sorted(counts)}"
            )
        n = counts.pop() if max_samples is None else min(counts.pop(), max_samples)
        dtypes = {s.name: np.float32 if s.is_float else np.dtype(s.dtype) for s in inputs}

        def get(i: int) -> Feeds:
            return {
                name: np.ascontiguousarray(arrays[name][i * batch_size : (i + 1) * batch_size], dtype=dtypes[name])
                for name in inputs.names
            }

        return cls(get, n, inputs, batch_size, kind, origin)

    @classmethod
    def from_array(
        cls,
        samples: np.ndarray,
        input_shape: Any,
        batch_size: int,
        max_samples: int | None = None,
        kind: str = "npy",
        origin: str = "an array",
    ) -> BatchSource:
        """A one-input model's samples (N, *input_shape)."""
        inputs = _as_inputs(input_shape)
        return cls.from_arrays({inputs.names[0]: samples}, inputs, batch_size, max_samples, kind, origin)

    @classmethod
    def from_digits(cls, input_shape: Any, batch_size: int, max_samples: int | None = 512) -> BatchSource:
        from .models import digits_data  # torch-free

        return cls.from_array(
            digits_data().x_train,
            input_shape,
            batch_size,
            max_samples,
            kind="digits-train",
            origin="the digits training split",
        )

    @classmethod
    def from_file(
        cls,
        path: Any,
        inputs: Any,
        batch_size: int,
        max_samples: int | None = 512,
        input_name: str | None = None,
        sizes: Mapping[str, int] | None = None,
    ) -> BatchSource:
        inputs = _as_inputs(inputs, input_name or "input")
        path = Path(path)
        if not path.is_file():
            raise TrtTuiError(f"calibration file not found: {path}")
        try:
            if path.suffix == ".npz":
                with np.load(path) as archive:
                    arrays = {k: archive[k] for k in archive.files}
                if not arrays:
                    raise TrtTuiError(f"calibration file {path} holds no arrays")
                if len(inputs) == 1 and inputs.names[0] not in arrays:  # a one-input model: the first array
                    key = next(iter(arrays))
                    return cls.from_arrays(
                        {inputs.names[0]: arrays[key]},
                        inputs,
                        batch_size,
                        max_samples,
                        "npz",
                        f"{path.name}[{key!r}]",
                        sizes,
                    )
                names = ", ".join(repr(n) for n in inputs.names)
                return cls.from_arrays(arrays, inputs, batch_size, max_samples, "npz", f"{path.name}[{names}]", sizes)
            if len(inputs) > 1:
                raise TrtTuiError(
                    f"calibration file {path.name}: a model with {len(inputs)} inputs needs an .npz "
                    f"with one array per input ({', '.join(inputs.names)})"
                )
            arr = np.load(path, mmap_mode="r", allow_pickle=False)
        except TrtTuiError:
            raise
        except Exception as e:
            raise TrtTuiError(f"cannot read calibration file {path}: {e}", detail=repr(e)) from e
        return cls.from_arrays({inputs.names[0]: arr}, inputs, batch_size, max_samples, "npy", path.name, sizes)

    @classmethod
    def random(
        cls, inputs: Any, batch_size: int, max_samples: int = 512, seed: int = 0, sizes: Mapping[str, int] | None = None
    ) -> BatchSource:
        """Each input drawn by its generator, per batch (reproducible, no big array in memory)."""
        inputs = _as_inputs(inputs)

        def get(i: int) -> Feeds:
            return inputs.feeds(batch_size, seed=[seed, i], sizes=sizes)

        what = "random normal data" if inputs.single_float else "synthetic inputs by their generators"
        return cls(get, max_samples, inputs, batch_size, "random", f"{what} (no real data: INT8 scales are a guess)")

    @classmethod
    def for_model(
        cls,
        loaded: Any,
        batch_size: int,
        calib_data: str | None = None,
        max_samples: int = 512,
        seed: int = 0,
        sizes: Mapping[str, int] | None = None,
    ) -> BatchSource:
        """The best source for a LoadedModel: the user's file, else its own training data, else synthetic."""
        inputs = loaded.inputs
        if calib_data:
            return cls.from_file(calib_data, inputs, batch_size, max_samples, sizes=sizes)
        if loaded.data is not None:
            return cls.from_arrays(
                {inputs.names[0]: loaded.data.x_train},
                inputs,
                batch_size,
                max_samples,
                kind="digits-train",
                origin="the digits training split",
            )
        return cls.random(inputs, batch_size, max_samples, seed, sizes)

    # -- consumption --------------------------------------------------------------------------------
    def batch(self, i: int) -> Feeds:
        b = self._get(i)
        if isinstance(b, np.ndarray):  # a one-input source built from a plain array getter
            b = {self.inputs.names[0]: np.ascontiguousarray(b, dtype=np.float32)}
        assert all(len(a) == self.batch_size and a.flags.c_contiguous for a in b.values())
        return b

    def __iter__(self) -> Iterator[Feeds]:
        return (self.batch(i) for i in range(self.num_batches))

    def __len__(self) -> int:
        return self.num_batches

    def next_batch(self) -> Feeds | None:
        """Cursor access for calibrators (TensorRT's get_batch): None when exhausted."""
        if self._cursor >= self.num_batches:
            return None
        self._cursor += 1
        return self.batch(self._cursor - 1)

    def reset(self) -> None:
        self._cursor = 0

    def as_ort_reader(self, names: list[str] | None = None) -> Any:
        """An ``onnxruntime.quantization.CalibrationDataReader`` over these batches (rewindable), keyed
        by the ONNX input names ``names`` (a one-input model's single name may differ from ours)."""
        from onnxruntime.quantization import CalibrationDataReader

        source = self

        class Reader(CalibrationDataReader):  # type: ignore[misc]  # onnxruntime's class is untyped (Any)
            def __init__(self) -> None:
                self._it = iter(source)

            def get_next(self) -> Feeds | None:
                b = next(self._it, None)
                return None if b is None else named_feeds(b, names)

            def rewind(self) -> None:
                self._it = iter(source)

        return Reader()
