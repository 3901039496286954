"""INT8 calibrator batch feeding, exhaustion, rewind and cache round trip (fake base classes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest

from tests.trt.fakes import make_fake
from trt_tui.core.errors import TrtTuiError
from trt_tui.core.trt.int8_calibrators import make_calibrator


class Source:
    """Shaped like trt_tui.core.calib_batches.BatchSource."""

    def __init__(self, n: int, batch_size: int = 4, shape: tuple[int, ...] = (3, 2, 2), tail: int = 0) -> None:
        self.batch_size = batch_size
        self.description = f"{n} test batches"
        rng = np.random.default_rng(0)
        self.batches = [rng.standard_normal((batch_size, *shape)).astype(np.float64) for _ in range(n)]
        if tail:
            self.batches.append(np.zeros((tail, *shape), np.float32))
        self.resets = 0

    def reset(self) -> None:
        self.resets += 1

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter(self.batches)


class HostMemory:
    """Stands in for device memory: the 'pointer' is the numpy buffer address."""

    def __init__(self) -> None:
        self.by_ptr: dict[int, np.ndarray] = {}

    def __call__(self, a: np.ndarray) -> tuple[Any, int]:
        ptr = a.ctypes.data
        self.by_ptr[ptr] = a
        return a, ptr


@pytest.mark.parametrize("key, kind, base", [("8.6", "entropy", "IInt8EntropyCalibrator2"),
                                             ("10.13", "minmax", "IInt8MinMaxCalibrator")])
def test_feeds_batches_in_order_then_none(key: str, kind: str, base: str, tmp_path: Path) -> None:
    trt = make_fake(key)
    src, mem = Source(3), HostMemory()
    cal = make_calibrator(trt, kind, src, tmp_path / "calib.cache", to_device=mem)
    assert isinstance(cal, getattr(trt, base)) and cal.base_inited  # base __init__ was called
    assert cal.get_batch_size() == 4
    for expected in src.batches:
        ptrs = cal.get_batch(["input"])
        assert len(ptrs) == 1
        fed = mem.by_ptr[ptrs[0]]
        assert fed.dtype == np.float32 and fed.flags["C_CONTIGUOUS"]
        np.testing.assert_allclose(fed, expected.astype(np.float32))
        assert cal._alive[0] is fed  # kept alive until the next call
    assert cal.get_batch(["input"]) is None
    assert cal.get_batch(["input"]) is None  # stays exhausted
    assert cal.batches_fed == 3 and src.resets == 1 and cal.error is None
    cal.rewind()
    assert cal.get_batch(["input"]) is not None and src.resets == 2


def test_partial_last_batch_stops(tmp_path: Path) -> None:
    cal = make_calibrator(make_fake("10.13"), "entropy", Source(2, tail=3), None, to_device=HostMemory())
    assert cal.get_batch(["x"]) and cal.get_batch(["x"])
    assert cal.get_batch(["x"]) is None
    assert "partial batch of 3" in cal.note


def test_multi_input_dict_batches(tmp_path: Path) -> None:
    class Multi(Source):
        def __iter__(self) -> Iterator[Any]:
            return iter([{"a": np.ones((2, 1), np.float32), "b": np.zeros((2, 5), np.float32)}])

    mem = HostMemory()
    cal = make_calibrator(make_fake("10.13"), "entropy", Multi(0, batch_size=2), None, to_device=mem)
    pa, pb = cal.get_batch(["a", "b"])
    assert mem.by_ptr[pa].shape == (2, 1) and mem.by_ptr[pb].shape == (2, 5)


def test_errors_are_kept_not_raised(tmp_path: Path) -> None:
    def broken(a: np.ndarray) -> tuple[Any, int]:
        raise RuntimeError("CUDA out of memory")

    cal = make_calibrator(make_fake("8.6"), "entropy", Source(1), None, to_device=broken)
    assert cal.get_batch(["input"]) is None  # TensorRT sees "no more data"
    assert "CUDA out of memory" in cal.error


def test_cache_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "model.calib"
    cal = make_calibrator(make_fake("10.13"), "entropy", Source(1), path, to_device=HostMemory())
    assert cal.read_calibration_cache() is None
    cal.write_calibration_cache(memoryview(b"\x00scales\xff"))  # TensorRT passes a buffer
    assert path.read_bytes() == b"\x00scales\xff"
    again = make_calibrator(make_fake("10.13"), "entropy", Source(1), path, to_device=HostMemory())
    assert again.read_calibration_cache() == b"\x00scales\xff"
    assert not list(path.parent.glob("*.tmp"))


@pytest.mark.parametrize("key", ["11.4", "rtx-1.7"])
def test_no_calibrators_in_11_and_rtx(key: str) -> None:
    with pytest.raises(TrtTuiError, match="Q/DQ"):
        make_calibrator(make_fake(key), "entropy", Source(1), None)


def test_unknown_kind() -> None:
    with pytest.raises(ValueError):
        make_calibrator(make_fake("8.6"), "percentile", Source(1), None)
