"""The app's compare view: another run opened beside the one shown (palette), the same verdicts as
`trt-tui compare`; and the noise/output warnings on the Benchmark screen."""

from __future__ import annotations

from textual.widgets import DataTable

from tests.core.test_compare import write_run
from trt_tui.core import compare
from trt_tui.screens.benchmark import BenchmarkScreen
from trt_tui.screens.compare import CompareScreen
from trt_tui.screens.dialogs import OpenResultsScreen
from trt_tui.screenshots import make_app, settle

from .helpers import MLP, run, static_text, table_text

SIZE = (100, 30)


def test_compare_another_run_from_the_palette(tmp_path):
    a = tmp_path / "a"
    write_run(a, {"pytorch-fp32": 2.0, "onnxruntime-fp32": 1.0, "onnxruntime-int8": 0.8}, seed=10)
    b = write_run(tmp_path / "b", {"pytorch-fp32": 2.0, "onnxruntime-fp32": 0.8, "onnxruntime-int8": 0.96}, seed=20)
    b.upsert({**b.rows["onnxruntime-fp32"], "noise_warning": "CPU busy: 1.5 of 2 cores used by other processes"})
    expected = {c.row_id: c for c in compare.compare(compare.load(a), compare.load(tmp_path / "b"))}

    async def scenario():
        app = make_app(MLP, results_root=tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            app.reopen(tmp_path / "b")
            await pilot.pause()
            await pilot.press("ctrl+p")
            await pilot.press(*"compare with")
            await pilot.pause(0.3)
            await pilot.press("enter")
            await pilot.pause()
            assert isinstance(app.screen, OpenResultsScreen)
            app.screen.query_one("#open-path").focus()
            await pilot.press(*str(a), "enter")
            await pilot.pause()
            assert isinstance(app.screen, CompareScreen)
            rows = {r[0].strip(): r for r in table_text(app.screen.query_one("#cmp", DataTable))}
            assert rows["ORT FP32"][5].strip() == "faster ⚠" and rows["ORT INT8"][5].strip() == "slower"
            assert rows["PyTorch FP32"][5].strip() == "≈ same" and rows["PyTorch FP32"][1].strip() == "1"
            assert rows["ORT INT8"][4].strip() == compare.fmt_change(expected["onnxruntime-int8"])
            said = static_text(app.screen.query_one("#cmp-summary"))
            assert "1 slower beyond noise" in said and "⚠ ORT FP32 b1: CPU busy in B: the verdict may be" in said
            assert str(a) in static_text(app.screen.query_one("#cmp-head"))
            await pilot.press("escape")
            assert isinstance(app.screen, BenchmarkScreen)

    run(scenario)


def test_the_benchmark_screen_says_which_figures_to_doubt(tmp_path):
    store = write_run(tmp_path / "r", {"pytorch-fp32": 2.0, "onnxruntime-fp32": 1.0, "onnxruntime-int8": 1.0005},
                      seed=3)
    noisy = {**store.rows["pytorch-fp32"], "noise_warning": "CPU busy: other processes kept 1.9 of 2 cores busy"}
    bad = {**store.rows["onnxruntime-fp32"], "accuracy_na": "the PyTorch FP32 reference outputs hold 3 NaN and 0 Inf: "
           "nothing to compare against", "top1_agreement": None}
    store.upsert(noisy)
    store.upsert(bad)

    async def scenario():
        app = make_app(MLP, results_root=tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            app.reopen(tmp_path / "r")
            await pilot.pause()
            screen = app.screen
            warn = static_text(screen.query_one("#bench-warn"))
            assert warn.startswith("⚠ accuracy n/a: the PyTorch FP32 reference outputs hold 3 NaN")
            assert screen.query_one("#bench-warn").region.bottom <= screen.query_one("#bench").region.y
            reasons = static_text(screen.query_one("#bench-reasons"))
            assert "⚠ PyTorch FP32: CPU busy: other processes kept 1.9 of 2 cores busy" in reasons
            rows = {r[0].strip(" ★"): r for r in table_text(screen.query_one("#bench", DataTable))}
            titles = [c.label.plain.strip() for c in screen.query_one("#bench", DataTable).columns.values()]
            assert rows["ORT FP32"][titles.index("top-1")].strip() == "n/a"
            best = static_text(screen.query_one("#bench-best"))
            assert "a tie within noise with" in best

    run(scenario)
