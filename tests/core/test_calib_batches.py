from __future__ import annotations

import numpy as np
import pytest

from trt_tui.core.calib_batches import BatchSource
from trt_tui.core.errors import TrtTuiError


def check_batches(src: BatchSource, batch_size, shape):
    feeds = list(src)
    assert len(feeds) == len(src) == src.num_batches
    assert all(len(f) == 1 for f in feeds)  # a one-input model: one array per batch
    batches = [next(iter(f.values())) for f in feeds]
    for b in batches:
        assert b.shape == (batch_size, *shape) and b.dtype == np.float32 and b.flags.c_contiguous
    return batches


def test_digits_batches_rewind():
    src = BatchSource.from_digits((1, 8, 8), batch_size=32, max_samples=100)
    assert src.kind == "digits-train"
    assert src.description.startswith("96 samples from the digits training split") and "dropped" in src.description
    first = check_batches(src, 32, (1, 8, 8))
    assert len(first) == 3
    second = [f["input"] for f in src]
    assert all(np.array_equal(a, b) for a, b in zip(first, second))
    # cursor API (TensorRT calibrators): exhaust, reset, same data again
    got = []
    while (b := src.next_batch()) is not None:
        got.append(b)
    assert src.next_batch() is None
    src.reset()
    assert np.array_equal(src.next_batch()["input"], first[0]) and len(got) == 3


def test_npy_source(tmp_path):
    arr = np.arange(10 * 3 * 4 * 4, dtype=np.float64).reshape(10, 3, 4, 4)
    p = tmp_path / "calib.npy"
    np.save(p, arr)
    src = BatchSource.from_file(p, (3, 4, 4), batch_size=4, max_samples=512)
    assert src.kind == "npy" and src.num_samples == 8 and "calib.npy" in src.description
    batches = check_batches(src, 4, (3, 4, 4))
    assert np.array_equal(np.concatenate(batches), arr[:8].astype(np.float32))


def test_npy_max_samples(tmp_path):
    p = tmp_path / "calib.npy"
    np.save(p, np.zeros((100, 2, 2), np.float32))
    src = BatchSource.from_file(p, (2, 2), batch_size=5, max_samples=20)
    assert src.num_samples == 20 and len(src) == 4


def test_npz_source_key_named_like_input(tmp_path):
    p = tmp_path / "calib.npz"
    np.savez(p, other=np.zeros((4, 2)), images=np.ones((6, 1, 2, 2)))
    src = BatchSource.from_file(p, (1, 2, 2), batch_size=3, input_name="images")
    assert src.kind == "npz" and "'images'" in src.description
    assert all(b.min() == 1.0 for b in check_batches(src, 3, (1, 2, 2)))
    # without a matching name: the first array
    with pytest.raises(TrtTuiError, match=r"'other'.*samples have shape \(2,\)"):
        BatchSource.from_file(p, (1, 2, 2), batch_size=3, input_name="input")


def test_random_source_is_labelled_and_reproducible():
    src = BatchSource.random((3, 5, 5), batch_size=2, max_samples=6, seed=7)
    assert src.kind == "random" and "random" in src.description
    a = check_batches(src, 2, (3, 5, 5))
    b = [f["input"] for f in BatchSource.random((3, 5, 5), batch_size=2, max_samples=6, seed=7)]
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[0], a[1])


def test_shape_mismatch(tmp_path):
    p = tmp_path / "calib.npy"
    np.save(p, np.zeros((10, 3, 8, 8), np.float32))
    with pytest.raises(TrtTuiError, match=r"samples have shape \(3, 8, 8\).*model input is \(1, 8, 8\)"):
        BatchSource.from_file(p, (1, 8, 8), batch_size=2)


def test_too_few_samples_and_missing_file(tmp_path):
    p = tmp_path / "calib.npy"
    np.save(p, np.zeros((3, 2), np.float32))
    with pytest.raises(TrtTuiError, match="at least one full batch"):
        BatchSource.from_file(p, (2,), batch_size=4)
    with pytest.raises(TrtTuiError, match="not found"):
        BatchSource.from_file(tmp_path / "nope.npy", (2,), batch_size=1)
    (tmp_path / "bad.npy").write_text("garbage")
    with pytest.raises(TrtTuiError, match="cannot read calibration file"):
        BatchSource.from_file(tmp_path / "bad.npy", (2,), batch_size=1)


def test_ort_reader_rewinds():
    src = BatchSource.random((4,), batch_size=2, max_samples=4)
    reader = src.as_ort_reader("input")
    first = [reader.get_next() for _ in range(3)]
    assert first[2] is None and set(first[0]) == {"input"}
    reader.rewind()
    assert np.array_equal(reader.get_next()["input"], first[0]["input"])


def test_for_model_picks_source(tmp_path):
    from types import SimpleNamespace

    from trt_tui.core.models import digits_data

    from trt_tui.core.inputs import single

    with_data = SimpleNamespace(inputs=single((1, 8, 8)), data=digits_data())
    assert BatchSource.for_model(with_data, 8).kind == "digits-train"
    assert BatchSource.for_model(SimpleNamespace(inputs=single((2,)), data=None), 8).kind == "random"
    p = tmp_path / "c.npy"
    np.save(p, np.zeros((8, 1, 8, 8), np.float32))
    assert BatchSource.for_model(with_data, 8, calib_data=str(p)).kind == "npy"


def test_no_torch_needed():
    import subprocess
    import sys

    code = "import sys, trt_tui.core.calib_batches, trt_tui.core.accuracy, trt_tui.core.models; " \
           "print(any(m in sys.modules for m in ('torch', 'tensorrt')))"  # fmt: skip
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"
