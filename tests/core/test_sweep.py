"""Batch sweeps: long-form files keyed by (row_id, batch_size), one export per size, plot.png."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from trt_tui.core import plot, results
from trt_tui.core.config import RunConfig, parse_sizes
from trt_tui.core.events import StageStarted
from trt_tui.core.pipeline import Pipeline

ROWS = ("pytorch-fp32", "pytorch-fp16", "pytorch-graph-fp32", "onnxruntime-fp32")


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep")
    events = []
    cfg = RunConfig(model="mlp", batch_sizes=(1, 4), rows=ROWS, exporter="torchscript", iterations=5, warmup=1,
                    device="cpu", out_dir=str(out))
    fin = Pipeline(cfg, events.append).run()
    return fin, events, out


def test_sweep_files_are_long_form_one_line_per_row_and_batch(sweep):
    fin, _, out = sweep
    assert fin.status == "ok"
    with open(out / "results.csv", newline="") as fh:
        lines = list(csv.DictReader(fh))
    assert [(r["row_id"], int(r["batch_size"])) for r in lines] == [(r, b) for b in (1, 4) for r in ROWS]
    data = json.loads((out / "results.json").read_text())
    assert [(r["row_id"], r["batch_size"]) for r in data["rows"]] == [(r["row_id"], int(r["batch_size"])) for r in lines]
    assert data["meta"]["batch_sizes"] == [1, 4] and data["meta"]["plot"] == "plot.png"
    assert set(data["best_by_batch"]) == {"1", "4"} and data["best"] == data["best_by_batch"]["1"]
    by = {(r["row_id"], r["batch_size"]): r for r in data["rows"]}
    for b in (1, 4):
        assert by[("pytorch-fp32", b)]["status"] == by[("onnxruntime-fp32", b)]["status"] == "ok"
        assert by[("pytorch-graph-fp32", b)]["status"] == "skipped"
        # speedups compare rows of the same batch size
        base = by[("pytorch-fp32", b)]["latency_p50_ms"]
        assert by[("onnxruntime-fp32", b)]["speedup_vs_pytorch"] == pytest.approx(
            base / by[("onnxruntime-fp32", b)]["latency_p50_ms"])
        assert by[("onnxruntime-fp32", b)]["images_per_s"] == pytest.approx(b * by[("onnxruntime-fp32", b)]["throughput_per_s"])
        assert by[("onnxruntime-fp32", b)]["artifact"].endswith(f"model_b{b}.onnx")
    # one export per batch size, named by it; no unbatched name in a sweep
    assert (out / "model_b1.onnx").is_file() and (out / "model_b4.onnx").is_file() and not (out / "model.onnx").exists()
    # reopened, the store keys the first batch's rows by row_id and the others by row_id@b<size>
    store = results.ResultsStore.load(out)
    assert list(store.rows) == list(ROWS) + [f"{r}@b4" for r in ROWS]
    assert store.rows["onnxruntime-fp32@b4"]["batch_size"] == 4


def test_sweep_runs_every_pytorch_row_at_every_size_before_the_first_export(sweep):
    _, events, _ = sweep
    export_start = next(i for i, e in enumerate(events) if isinstance(e, StageStarted) and e.stage == "export")
    ok_pytorch = {(e.row["row_id"], e.row["batch_size"]) for e in events[:export_start]
                  if type(e).__name__ == "RowEvent" and e.row.get("status") == "ok"}
    assert ok_pytorch == {(r, b) for r in ("pytorch-fp32", "pytorch-fp16") for b in (1, 4)}
    titles = [e.title for e in events if isinstance(e, StageStarted) and e.stage == "export"]
    assert titles == ["Export to ONNX — batch 1", "Export to ONNX — batch 4"]


def test_plot_png_is_a_picture_of_the_rows(sweep):
    _, _, out = sweep
    import matplotlib.image as mpimg
    from matplotlib.colors import to_rgb

    png = out / "plot.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = mpimg.imread(str(png))
    assert img.shape[:2] == (450, 1100)
    data = json.loads((out / "results.json").read_text())
    series = plot.sweep_series(data["rows"])
    assert set(series) == {"pytorch-fp32", "pytorch-fp16", "onnxruntime-fp32"}  # ok rows only
    for rid, points in series.items():
        assert [p[0] for p in points] == [1, 4]
    # the figure draws those points: per axis one line per row with the row's values
    fig = plot.figure(series, "mlp")
    lat_ax, ips_ax = fig.axes
    for ax, col in ((lat_ax, 1), (ips_ax, 2)):
        drawn = {line.get_label(): (list(line.get_xdata()), list(line.get_ydata())) for line in ax.get_lines()}
        assert drawn == {rid: ([p[0] for p in pts], [p[col] for p in pts]) for rid, pts in series.items()}
    # and the PNG has those lines' colours in it (not a blank canvas)
    rgb = (img[..., :3] * 255).round().astype(int)
    for line in lat_ax.get_lines():
        colour = np.array(to_rgb(line.get_color())) * 255
        assert (np.abs(rgb - colour).sum(axis=-1) < 30).sum() > 50, line.get_label()


def test_store_keys_rows_by_row_id_and_batch():
    store = results.ResultsStore(None)
    store.upsert({"row_id": "pytorch-fp32", "batch_size": 8, "status": "ok", "latency_p50_ms": 2.0})
    store.upsert({"row_id": "pytorch-fp32", "batch_size": 32, "status": "ok", "latency_p50_ms": 1.0})
    store.upsert({"row_id": "tensorrt-fp16", "batch_size": 32, "status": "ok", "latency_p50_ms": 0.5})
    store.upsert({"row_id": "pytorch-fp32", "status": "ok"})  # no batch: the base batch's row
    assert list(store.rows) == ["pytorch-fp32", "pytorch-fp32@b32", "tensorrt-fp16@b32"]
    assert store.base_batch == 8 and store.batch_sizes() == [8, 32]
    assert store.best_by_batch() == {"8": "pytorch-fp32", "32": "tensorrt-fp16"}
    assert store.best == "pytorch-fp32"  # the best is chosen among the main batch's rows, not the fastest anywhere
    assert results.row_key("x", 4, 4) == "x" and results.row_key("x", 4, 1) == "x@b4" and results.row_key("x", None, 1) == "x"


def test_single_batch_files_have_no_sweep_fields(tmp_path):
    store = results.ResultsStore(tmp_path)
    store.upsert({"row_id": "pytorch-fp32", "batch_size": 8, "status": "ok", "latency_p50_ms": 2.0})
    data = json.loads((tmp_path / "results.json").read_text())
    assert "best_by_batch" not in data and list(results.ResultsStore.load(tmp_path).rows) == ["pytorch-fp32"]


def test_batch_sizes_are_checked():
    assert parse_sizes("1,8, 32") == (1, 8, 32)
    for bad in ("1,x", " "):
        with pytest.raises(ValueError):
            parse_sizes(bad)
    assert RunConfig(batch_sizes=(8, 1)).batch_size == 8 and RunConfig(batch_sizes=(8, 1)).sizes() == (8, 1)
    assert "batch_sizes" in RunConfig(batch_sizes=(1, 1)).problems()
    assert "batch_sizes" in RunConfig(batch_sizes=(0, 4)).problems()
    assert RunConfig(batch_size=4).sizes() == (4,)
    assert RunConfig.from_json(RunConfig(batch_sizes=(1, 4)).to_json()).batch_sizes == (1, 4)


def test_sweep_over_a_dynamic_dim_one_set_of_files_every_size_measured(tmp_path):
    """An ONNX file with a dynamic 'seq' dim swept at 4 and 8: every row at both sizes from the same
    files; a row whose engine was never made (no TensorRT here) ends as it did at the first size."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    ids = helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"])
    out = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", "seq", 6])
    table = numpy_helper.from_array(np.random.default_rng(0).standard_normal((50, 6)).astype(np.float32), "table")
    graph = helper.make_graph([helper.make_node("Gather", ["table", "input_ids"], ["logits"])], "g", [ids], [out],
                              [table])
    path = tmp_path / "lm.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=10), path)
    cfg = RunConfig(model=str(path), batch_size=2, sweep={"seq": (4, 8)}, rows=("tensorrt-fp32", "onnxruntime-fp32"),
                    iterations=5, warmup=1, device="cpu", out_dir=str(tmp_path / "out"))
    assert cfg.problems() == {}
    events = []
    assert Pipeline(cfg, events.append).run().status == "ok"
    data = json.loads((tmp_path / "out" / "results.json").read_text())
    by = {(r["row_id"], r["dims"]): r for r in data["rows"]}
    assert set(by) == {(r, d) for r in cfg.rows for d in ("seq=4", "seq=8")}
    assert by[("onnxruntime-fp32", "seq=4")]["status"] == by[("onnxruntime-fp32", "seq=8")]["status"] == "ok"
    trt4, trt8 = by[("tensorrt-fp32", "seq=4")], by[("tensorrt-fp32", "seq=8")]
    assert trt4["status"] == trt8["status"] == "skipped" and trt4["reason"] == trt8["reason"]
    assert data["meta"]["inputs"]["specs"][0]["high"] == 49  # ids below the 50-row table
    assert sum(isinstance(e, StageStarted) and e.stage == "benchmark" for e in events) == 2  # no second export
