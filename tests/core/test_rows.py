"""The row vocabulary (core/rows.py): one definition, table order, no id parsing."""

from __future__ import annotations

import pytest

from trt_tui.core import rows
from trt_tui.core.vocab import Backend, Precision


def test_table_order_pytorch_first_then_engines_then_onnxruntime() -> None:
    order = [r.backend for r in rows.ROWS]
    assert order == sorted(order, key=list(Backend).index)
    assert rows.ALL_IDS[0] == rows.BASELINE_ID == "pytorch-fp32"


def test_ids_titles_and_short_labels_are_unique_and_fit_the_table() -> None:
    for field in ("id", "title", "short"):
        values = [getattr(r, field) for r in rows.ROWS]
        assert len(set(values)) == len(values), field
    # the benchmark table's first column is 15 wide and starts with "★ " on the best row
    assert max(len(r.short) for r in rows.ROWS) <= 13
    assert all(r.precision in set(Precision) and r.backend in set(Backend) for r in rows.ROWS)


def test_what_each_backend_needs() -> None:
    ort = {r.precision: r.onnx for r in rows.ROWS if r.is_onnxruntime}
    assert ort == {"fp32": "fp32", "int8": "qdq"}
    assert all(not r.needs_onnx and not r.onnx for r in rows.ROWS if r.is_pytorch)
    assert all(r.needs_onnx and r.cuda_only for r in rows.ROWS if r.is_tensorrt)
    assert [r.id for r in rows.ROWS if r.is_tensorrt] == ["tensorrt-fp32", "tensorrt-fp16", "tensorrt-int8"]
    assert [r.id for r in rows.ROWS if r.is_baseline] == ["pytorch-fp32"]


def test_opt_in_rows_are_not_in_the_default_selection() -> None:
    opt_in = {r.id for r in rows.ROWS if r.opt_in}
    assert opt_in == {"pytorch-compile-fp32", "pytorch-compile-fp16"}
    assert set(rows.DEFAULT_IDS) == set(rows.ALL_IDS) - opt_in
    assert list(rows.DEFAULT_IDS) == [i for i in rows.ALL_IDS if i not in opt_in]  # still table order


def test_precision_and_mode_are_fields_not_parsed() -> None:
    graph16 = rows.get("pytorch-graph-fp16")
    assert (graph16.backend, graph16.mode, graph16.precision) == ("pytorch", "graph", "fp16")
    assert rows.get("onnxruntime-int8").precision == "int8"


def test_lookups() -> None:
    with pytest.raises(KeyError, match="'tensorrt-fp64' is not a row .*tensorrt-int8"):
        rows.get("tensorrt-fp64")
    assert rows.title("onnxruntime-int8") == "onnxruntime INT8 Q/DQ" and rows.short("onnxruntime-int8") == "ORT INT8"
    assert rows.title("from-a-newer-version") == "from-a-newer-version"  # shown as itself, not an error
    chosen = ["onnxruntime-fp32", "tensorrt-int8", "nonsense", "pytorch-fp16", "tensorrt-fp32"]
    assert [r.id for r in rows.select(chosen)] == ["onnxruntime-fp32", "tensorrt-int8", "pytorch-fp16", "tensorrt-fp32"]
    assert [r.id for r in rows.select(chosen, backend=Backend.TENSORRT)] == ["tensorrt-int8", "tensorrt-fp32"]
    assert rows.is_tensorrt("tensorrt-fp16") and not rows.is_tensorrt("pytorch-fp16") and not rows.is_tensorrt("x")
