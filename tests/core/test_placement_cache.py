"""ModelOpt's placement kept for an ONNX it has seen (core/placement.py): the key, hit and miss on real files,
and a second quantize of the same model that reuses it (ModelOpt installed) with the same INT8 file."""

from __future__ import annotations

import json
import os

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from trt_tui.core import onnx_variants, placement
from trt_tui.core.calib_batches import BatchSource
from trt_tui.core.export import export_onnx
from trt_tui.core.provenance import fingerprint

HAS_MODELOPT = onnx_variants.modelopt_version() is not None


def tiny_onnx(path, k: float = 1.0):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    w = helper.make_tensor("w", TensorProto.FLOAT, [4, 4], list(np.eye(4, dtype=np.float32).ravel() * k))
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "g", [x], [y], [w])
    onnx.save(helper.make_model(graph), str(path))
    return path


def key(path, batch=None, **kw):
    batch = {"x": np.ones((1, 4), np.float32)} if batch is None else batch
    return placement.placement_key(path, batch, **{"calibration_eps": ["cpu"], "trt_python": False, **kw})


def test_key_follows_everything_the_placement_depends_on(tmp_path):
    a, b = tiny_onnx(tmp_path / "a.onnx"), tiny_onnx(tmp_path / "b.onnx", k=2.0)
    same = tiny_onnx(tmp_path / "same.onnx")  # same bytes, another name: the same key
    base = fingerprint(**key(a))
    assert fingerprint(**key(same)) == base
    others = [
        key(b),  # another model
        key(a, {"x": np.full((1, 4), 2, np.float32)}),  # other data
        key(a, {"x": np.ones((2, 4), np.float32)}),  # other shape
        key(a, {"x": np.ones((1, 4), np.float16)}),  # other dtype
        key(a, {"y": np.ones((1, 4), np.float32)}),  # another input name
        key(a, calibration_eps=["cuda:0", "cpu"]),
        key(a, trt_python=True),
        key(a, quantize_mode="fp8"),
        key(a, calibration_method="entropy"),
        key(a, op_types=["Conv"]),
        key(a, high_precision_dtype="fp16"),
    ]
    prints = {fingerprint(**k) for k in others}
    assert base not in prints and len(prints) == len(others)
    k = key(a)
    assert {"modelopt", "onnx", "onnxruntime", "recipe", "onnx_sha256"} <= set(k)


def test_store_then_hit_and_what_misses(tmp_path):
    src = tiny_onnx(tmp_path / "a.onnx")
    made = tiny_onnx(tmp_path / "placed.onnx", k=3.0)  # stands for ModelOpt's output
    folder = tmp_path / "cache"
    first = placement.open_cache(folder, key(src))
    assert first.hit() is None and first.status == placement.NOT_CACHED
    first.store(made)
    assert first.status == placement.NEW and first.path.read_bytes() == made.read_bytes()

    again = placement.open_cache(folder, key(src))
    assert again.hit() == again.path and again.status == placement.CACHED
    other = placement.open_cache(folder, key(src, calibration_eps=["cuda:0", "cpu"]))
    assert other.hit() is None  # another key: another entry

    record = json.loads(again.record.read_text())  # a record naming another key is not trusted
    record["key"]["modelopt"] = "0.0.1"
    again.record.write_text(json.dumps(record))
    assert placement.open_cache(folder, key(src)).hit() is None

    first.store(made)
    with open(first.path, "ab") as f:  # damaged after it was written: removed, not used
        f.write(b"x")
    assert placement.open_cache(folder, key(src)).hit() is None and not first.path.exists()
    assert placement.open_cache(None, key(src)) is None  # no folder: no cache


def test_external_data_is_kept_inlined(tmp_path):
    # ModelOpt writes its weights beside the graph: the cache keeps one self-contained file
    src = tiny_onnx(tmp_path / "a.onnx")
    made = tmp_path / "placed" / "modelopt.quant.onnx"
    made.parent.mkdir()
    model = onnx.load(str(tiny_onnx(tmp_path / "b.onnx", k=3.0)))
    model.graph.initializer[0].CopyFrom(onnx.numpy_helper.from_array(np.eye(4, dtype=np.float32) * 3, "w"))
    onnx.save(model, str(made), save_as_external_data=True, location="modelopt.quant.onnx_data", size_threshold=0)
    assert (made.parent / "modelopt.quant.onnx_data").is_file()
    c = placement.open_cache(tmp_path / "cache", key(src))
    c.store(made)
    assert c.status == placement.NEW
    (made.parent / "modelopt.quant.onnx_data").unlink()  # ModelOpt's scratch folder goes away
    hit = placement.open_cache(tmp_path / "cache", key(src)).hit()
    kept = onnx.load(str(hit))
    assert all(t.data_location == TensorProto.DEFAULT for t in kept.graph.initializer)
    assert np.array_equal(onnx.numpy_helper.to_array(kept.graph.initializer[0]), np.eye(4, dtype=np.float32) * 3)
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == sorted([c.path.name, c.record.name])


def test_prune_keeps_the_most_recently_used(tmp_path):
    folder = tmp_path / "cache"
    made = tiny_onnx(tmp_path / "placed.onnx")
    entries = []
    for i in range(4):
        c = placement.open_cache(folder, key(made, {"x": np.full((1, 4), i, np.float32)}))
        c.store(made)
        os.utime(c.record, (1000 + i, 1000 + i))
        entries.append(c)
    os.utime(entries[0].record, (5000, 5000))  # the oldest was used last
    removed = placement.prune(folder, keep=2)
    assert entries[1].path in removed and entries[2].path in removed
    assert entries[0].path.is_file() and entries[3].path.is_file()
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [entries[0].path.name, entries[0].record.name, entries[3].path.name, entries[3].record.name])


def test_unwritable_cache_folder_is_not_an_error(tmp_path):
    src = tiny_onnx(tmp_path / "a.onnx")
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    c = placement.open_cache(blocker / "cache", key(src))
    c.store(src)
    assert c.status == placement.NOT_CACHED and "cannot write" in c.why


@pytest.mark.skipif(not HAS_MODELOPT, reason="ModelOpt is not installed (pip install 'trt-tui[modelopt]')")
def test_second_quantize_reuses_the_placement(digits, tmp_path, monkeypatch):
    from modelopt.onnx import quantization as mo

    fp32 = tmp_path / "digits.onnx"
    export_onnx(digits.module, digits.input_shape, 8, fp32, exporter="dynamo")
    src = BatchSource.from_digits(digits.input_shape, batch_size=8, max_samples=64)
    cache = tmp_path / "placement"
    first = onnx_variants.quantize_qdq(fp32, tmp_path / "a.onnx", src, tool="modelopt", placement_cache=cache)
    assert first["placement"] == placement.NEW and "placement: cached" not in first["note"]
    assert len(list(cache.glob("*.onnx"))) == 1

    calls = []
    real = mo.quantize
    monkeypatch.setattr(mo, "quantize", lambda *a, **kw: calls.append(1) or real(*a, **kw))
    phases = []
    second = onnx_variants.quantize_qdq(fp32, tmp_path / "b.onnx", src, tool="modelopt", placement_cache=cache,
                                   on_progress=lambda phase, *rest: phases.append(phase))
    assert calls == [] and second["placement"] == placement.CACHED  # ModelOpt was not asked again
    assert placement.CACHED_PHASE in phases and "placement: cached" in second["note"]
    assert (tmp_path / "a.onnx").read_bytes() == (tmp_path / "b.onnx").read_bytes()  # the same INT8 file

    other = BatchSource.random(digits.input_shape, batch_size=8, max_samples=64, seed=1)  # another first batch
    third = onnx_variants.quantize_qdq(fp32, tmp_path / "c.onnx", other, tool="modelopt", placement_cache=cache)
    assert third["placement"] == placement.NEW and calls == [1]
    none = onnx_variants.quantize_qdq(fp32, tmp_path / "d.onnx", src, tool="modelopt")
    assert none["placement"] == placement.NOT_CACHED
