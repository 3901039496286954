"""`p` on the Benchmark screen: a sweep's latency and throughput against batch size, drawn per row."""

from __future__ import annotations

from trt_tui.core.results import ResultsStore
from trt_tui.core.rows import SHORT as ROW_SHORT
from trt_tui.screens.benchmark import BenchmarkScreen
from trt_tui.screens.sweep import SweepScreen
from trt_tui.screenshots import make_app, settle
from trt_tui.widgets.sweep_plot import SweepPlot

from .helpers import MLP, run


def sweep_store() -> ResultsStore:
    store = ResultsStore(None)
    for bs in (1, 8, 32):
        for rid, lat in (("pytorch-fp32", 1.0 + bs / 8), ("onnxruntime-fp32", 0.5 + bs / 16)):
            store.upsert({"row_id": rid, "batch_size": bs, "status": "ok", "latency_p50_ms": lat,
                          "images_per_s": bs * 1e3 / lat})
        store.upsert({"row_id": "pytorch-graph-fp32", "batch_size": bs, "status": "skipped", "reason": "no CUDA"})
    return store


def test_p_opens_the_sweep_plot_with_one_line_per_measured_row():
    async def scenario():
        store = sweep_store()
        app = make_app(MLP)
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            app.state.reopen(store)
            await pilot.press("4")
            await pilot.pause()
            assert isinstance(app.screen, BenchmarkScreen)
            await pilot.press("p")
            await pilot.pause()
            assert isinstance(app.screen, SweepScreen)
            lat = app.screen.query_one("#sweep-latency", SweepPlot)
            ips = app.screen.query_one("#sweep-throughput", SweepPlot)
            want = {ROW_SHORT[rid]: [r for r in store.rows.values() if r["row_id"] == rid]
                    for rid in ("pytorch-fp32", "onnxruntime-fp32")}  # the skipped row has no line
            assert set(lat.lines) == set(ips.lines) == set(want)
            for label, rows in want.items():
                assert lat.lines[label] == ([1, 8, 32], [r["latency_p50_ms"] for r in rows])
                assert ips.lines[label] == ([1, 8, 32], [r["images_per_s"] for r in rows])
            drawn = lat.render().plain if hasattr(lat.render(), "plain") else str(lat.render())
            assert "PyTorch FP32" in drawn and "ORT FP32" in drawn  # the legend is on screen
            assert "batch sizes 1, 8, 32" in str(app.screen.query_one("#sweep-note").render())
            await pilot.press("escape")
            await pilot.pause()
            assert isinstance(app.screen, BenchmarkScreen)

    run(scenario)


def test_a_sweep_in_the_table_names_each_row_with_its_batch_size():
    """Every (row, batch) is its own line, titled with the batch size; the best star on one line only;
    the reasons and the environment line say which sizes."""
    from textual.widgets import DataTable, Static

    from .helpers import table_text

    async def scenario():
        store = sweep_store()
        store.best = store.key("onnxruntime-fp32", 1)
        app = make_app(MLP)
        async with app.run_test(size=(110, 36)) as pilot:
            await settle(pilot)
            app.state.reopen(store)
            await pilot.press("4")
            await pilot.pause()
            names = [row[0].strip() for row in table_text(app.screen.query_one("#bench", DataTable))]
            assert {"PyTorch FP32 b1", "PyTorch FP32 b8", "PyTorch FP32 b32", "★ ORT FP32 b1", "ORT FP32 b32"} <= set(names)
            assert sum(n.startswith("★") for n in names) == 1
            reasons = str(app.screen.query_one("#bench-reasons", Static).render())
            assert "PT graph FP32 b1, PT graph FP32 b8, PT graph FP32 b32: skipped" in reasons
            assert "batch 1,8,32" in str(app.screen.query_one("#bench-env", Static).render())

    run(scenario)
