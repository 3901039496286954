"""Pilot tests of every screen and the run-all flow, driven by recorded event streams.

They assert on what the screens show (table cells, labels, log lines), not on internals where a
visible effect exists.
"""

from __future__ import annotations

import json
from pathlib import Path

from textual.command import CommandPalette
from textual.widgets import DataTable, Input, ProgressBar, RichLog, TextArea

from trt_tui.core.events import parse_line
from trt_tui.core.results import ResultsStore, rows_from_csv
from trt_tui.screens.benchmark import BenchmarkScreen
from trt_tui.screens.build import BuildScreen
from trt_tui.screens.dialogs import OpenResultsScreen, SavePathScreen
from trt_tui.screens.export import ExportScreen
from trt_tui.screens.help import HelpScreen
from trt_tui.screens.model import ModelScreen
from trt_tui.child_job import ReplayJob
from trt_tui.screenshots import make_app, run_all_and_wait, settle, wait_until
from trt_tui.widgets.engine_panel import EnginePanel
from trt_tui.widgets.topbar import TopBar

from .helpers import DIGITS, EXPORT_FAILURE, MLP, SYNTHETIC_BUILD, run, static_text, table_text

SIZE = (100, 30)


def mid_build(event) -> bool:
    from trt_tui.core.events import Progress

    return isinstance(event, Progress) and event.task == "tensorrt-fp16" and event.step == 2


def top_bar(app) -> str:
    return app.screen.query_one(TopBar).render().plain


def log_lines(log: RichLog) -> list[str]:
    return ["".join(seg.text for seg in strip).rstrip() for strip in log.lines]


# -- 1. model selection ------------------------------------------------------------------------
def test_model_screen_lists_models_machine_and_marks_invalid_fields():
    async def scenario():
        app = make_app(MLP)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            screen = app.screen
            assert isinstance(screen, ModelScreen)
            models = table_text(screen.query_one("#builtin-models", DataTable))
            assert ["mlp", "1×28×28"] == models[0][:2]
            assert {"digits-cnn", "resnet18"} <= {row[0] for row in models}
            machine = screen.query_one("#machine").plain
            assert "no CUDA GPU" in machine
            assert 'not installed — pip install "trt-tui[tensorrt]"' in machine

            # typing a bad batch size marks the field beside it; nothing is raised
            batch = screen.query_one("#batch_size", Input)
            batch.focus()
            await pilot.press("end", "backspace", "x")
            error = screen.query_one("#batch_size-error")
            assert error.has_class("-shown") and "whole number" in static_text(error)
            assert batch.has_class("-invalid")
            # run all is refused while the form is invalid
            await pilot.press("escape", "r")
            await pilot.pause()
            assert app.job is None and isinstance(app.screen, ModelScreen)
            batch.value = "8"
            await pilot.pause()
            assert not error.has_class("-shown")
            assert app.form[0] is not None and app.form[0].batch_size == 8

            model = screen.query_one("#model", Input)
            model.value = "missing.py:build"
            await pilot.pause()
            assert "no such file: missing.py" in static_text(screen.query_one("#model-error"))
            Path("my_model.py").write_text("def build():\n    pass\n")
            model.value = "my_model.py:build"
            await pilot.pause()
            assert "needs its input shape" in static_text(screen.query_one("#input_shape-error"))
            screen.query_one("#input_shape", Input).value = "3,32,32"
            await pilot.pause()
            assert app.form[0] is not None and app.form[0].input_shape == (3, 32, 32)

            # no rows selected is an error too
            rows = screen.query_one("#rows")
            rows.deselect_all()
            await pilot.pause()
            assert "select at least one row" in static_text(screen.query_one("#rows-error"))
            rows.select_all()

            # enter on a built-in puts it in the model field
            table = screen.query_one("#builtin-models", DataTable)
            table.focus()
            table.move_cursor(row=[r[0] for r in models].index("digits-cnn"))
            await pilot.press("enter")
            assert model.value == "digits-cnn"
            assert not screen.query_one("#model-error").has_class("-shown")

    run(scenario)


# -- the full run-all flow ----------------------------------------------------------------------
def test_run_all_follows_export_build_benchmark_without_more_keys():
    async def scenario():
        app = make_app(MLP)
        visited: list[str] = []
        original = app.switch_mode

        def spy(mode: str):
            visited.append(mode)
            return original(mode)

        app.switch_mode = spy  # type: ignore[method-assign]
        async with app.run_test(size=SIZE) as pilot:
            await run_all_and_wait(pilot)
            assert visited == ["export", "build", "benchmark"]
            assert isinstance(app.screen, BenchmarkScreen)
            assert "finished" in top_bar(app)
            rows = table_text(app.screen.query_one("#bench", DataTable))
            names = [r[0].strip() for r in rows]
            assert names == ["PyTorch FP32", "PyTorch FP16", "TensorRT FP32", "TensorRT FP16",
                             "TensorRT INT8", "★ ORT FP32", "ORT INT8"]
            by_name = {r[0].strip(" ★"): r for r in rows}
            assert by_name["PyTorch FP32"][1].strip() == "✔ ok"
            assert by_name["TensorRT FP16"][1].strip() == "– skip"
            assert by_name["PyTorch FP32"][7].strip() == "1.00×"  # speedup column
            assert "★ best: ORT FP32" in static_text(app.screen.query_one("#bench-best"))

    run(scenario)


# -- 2. export -----------------------------------------------------------------------------------
def test_export_screen_shows_steps_onnx_report_and_parity():
    async def scenario():
        app = make_app(MLP)
        async with app.run_test(size=SIZE) as pilot:
            await run_all_and_wait(pilot)
            await pilot.press("2")
            screen = app.screen
            assert isinstance(screen, ExportScreen)
            steps = table_text(screen.query_one("#export-steps", DataTable))
            assert [r[0] for r in steps] == ["torch.onnx.export", "onnx.checker", "onnxruntime parity"]
            assert all(r[1] == "✔ ok" for r in steps)
            assert steps[0][2] == "4.7 s"
            assert "trt-tui-results/mlp/model.onnx" in steps[0][3] and "926 KB" in steps[0][3]
            info = static_text(screen.query_one("#onnx-info"))
            for text in ("size 926 KB", "nodes 6", "parameters 235.1 k", "opset 18", "exporter dynamo",
                         "input[1×1×28×28]"):
                assert text in info
            parity = table_text(screen.query_one("#parity", DataTable))
            assert parity == [["output [1×10]", "6.7e-08", "4.1e-08", "4.5e-06", "1.000000", "✔ yes"]]
            assert not screen.query_one("#export-error-box").display

    run(scenario)


def test_export_failure_shows_the_full_message_selectable_and_copyable():
    async def scenario():
        app = make_app(EXPORT_FAILURE)
        async with app.run_test(size=SIZE) as pilot:
            await run_all_and_wait(pilot)
            await pilot.press("2")
            screen = app.screen
            steps = table_text(screen.query_one("#export-steps", DataTable))
            assert steps[0][1] == "✘ failed" and "GuardOnDataDependentSym" in steps[0][3]
            assert steps[1][1] == "– skipped" and steps[1][3] == "not run"
            assert screen.query_one("#export-error-box").display
            area = screen.query_one("#export-error", TextArea)
            assert area.read_only
            assert "Traceback (most recent call last)" in area.text
            assert "GuardOnDataDependentSymNode" in area.text.splitlines()[0]
            area.focus()
            area.select_all()
            assert area.selected_text == area.text  # selectable
            await pilot.press("escape")
            screen.focus_next()
            await pilot.press("y")
            assert app.clipboard == area.text  # copyable (OSC 52 in a terminal)
            # the PyTorch row still ran; the ONNX row failed with the reason
            await pilot.press("4")
            rows = {r[0].strip(" ★"): r for r in table_text(app.screen.query_one("#bench", DataTable))}
            assert rows["PyTorch FP32"][1].strip() == "✔ ok"
            assert rows["ORT FP32"][1].strip() == "✘ fail"

    run(scenario)


# -- 3. build ------------------------------------------------------------------------------------
def test_build_screen_progress_log_filter_and_cancel_keep_everything_else():
    async def scenario():
        app = make_app(SYNTHETIC_BUILD, stop=mid_build)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("r")
            await wait_until(pilot, lambda: app.state.engines["tensorrt-fp16"].step == 2)
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, BuildScreen)  # followed the run there
            panels = {p.engine: p for p in screen.query(EnginePanel) if p.id.startswith("engine-")}
            assert list(panels) == ["tensorrt-fp32", "tensorrt-fp16", "tensorrt-int8"]
            prepared = [p for p in screen.query(EnginePanel) if p.id.startswith("prep-")]
            assert [static_text(p.query_one(".engine-status")) for p in prepared] == ["✔ ok", "✔ ok"]
            fp32, fp16, int8 = panels.values()
            assert static_text(fp32.query_one(".engine-status")) == "✔ ok"
            assert "trt-tui-results/mlp/model_fp32.plan · 988 KB · built in 6.4 s" in static_text(
                fp32.query_one(".engine-result"))
            assert static_text(fp16.query_one(".engine-status")) == "▶ running"
            assert static_text(fp16.query_one(".engine-phase")) == "Optimizing network (2/4)"
            bar = fp16.query_one(ProgressBar)
            assert (bar.progress, bar.total) == (2, 4)
            assert static_text(int8.query_one(".engine-status")) == "· pending"

            log = screen.query_one("#build-log", RichLog)
            lines = log_lines(log)
            assert any(line.startswith("I [tensorrt] [MemUsageChange]") for line in lines)
            assert not any("dead-layer removal" in line for line in lines)  # verbose is filtered out
            await pilot.press("l")  # warning and up
            lines = log_lines(log)
            assert any(line.startswith("W [trt-tui] synthetic stream") for line in lines)
            assert not any(line.startswith("I ") for line in lines)
            await pilot.press("l", "l")  # verbose
            assert any("dead-layer removal" in line for line in log_lines(log))

            # leaving the screen does not stop the build
            await pilot.press("1")
            assert isinstance(app.screen, ModelScreen)
            await pilot.pause(0.1)
            assert app.job is not None and app.state.running
            await pilot.press("3")

            # cancel: the job stops; what was built and measured stays
            job = app.job
            await pilot.press("c")
            await wait_until(pilot, lambda: app.job is None)
            assert job.cancelled.is_set()
            assert app.state.finished.status == "cancelled"
            assert "cancelled" in top_bar(app)
            panels = {p.engine: p for p in app.screen.query(EnginePanel)}
            assert static_text(panels["tensorrt-fp32"].query_one(".engine-status")) == "✔ ok"
            assert static_text(panels["tensorrt-fp16"].query_one(".engine-status")) == "■ cancelled"
            assert app.state.store.rows["tensorrt-fp32"]["build_time_s"] == 6.4
            assert app.state.store.rows["tensorrt-int8"]["status"] == "cancelled"

    run(scenario)


# -- 4. benchmark ----------------------------------------------------------------------------------
def test_benchmark_rows_fill_in_live_and_update_by_key():
    """Row updates reach the table as keyed cell updates: the row keys never change."""

    async def scenario():
        app = make_app(SYNTHETIC_BUILD)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("4")
            table = app.screen.query_one("#bench", DataTable)
            seen_keys: list[list[str]] = []
            original = table.add_row
            added: list[str] = []

            def add_row(*cells, key=None, **kw):
                added.append(key)
                return original(*cells, key=key, **kw)

            table.add_row = add_row  # type: ignore[method-assign]
            await pilot.press("r")
            await wait_until(pilot, lambda: app.job is None)
            seen_keys.append([k.value for k in table.rows])
            # each row added once, then updated in place (the default rows the recorded stream predates,
            # CUDA-graph ones, show pending while it runs and leave with it)
            assert len(added) == len(set(added)) and len(table.rows) == 7 and set(seen_keys[0]) <= set(added)
            assert seen_keys[0][3] == "tensorrt-fp16"
            rows = table_text(table)
            assert rows[3][0] == "★ TensorRT FP16"
            assert rows[3][7].strip() == "4.34×"

    run(scenario)


def test_benchmark_sort_by_any_column_and_digits_accuracy():
    async def scenario():
        app = make_app(DIGITS)
        async with app.run_test(size=SIZE) as pilot:
            await run_all_and_wait(pilot)
            screen = app.screen
            table = screen.query_one("#bench", DataTable)
            columns = [c.value for c in table.columns]
            table.focus()
            table.move_cursor(row=0, column=columns.index("latency_p50_ms"))
            await pilot.press("s")
            keys = [table.coordinate_to_cell_key((i, 0)).row_key.value for i in range(table.row_count)]
            values = [app.state.store.rows[k]["latency_p50_ms"] for k in keys]
            measured = [v for v in values if v is not None]
            assert measured == sorted(measured) and values[: len(measured)] == measured  # empty cells last
            assert "sorted by p50 ↑" in table.border_title
            await pilot.press("s")
            keys = [table.coordinate_to_cell_key((i, 0)).row_key.value for i in range(table.row_count)]
            values = [app.state.store.rows[k]["latency_p50_ms"] for k in keys]
            measured = [v for v in values if v is not None]
            assert measured == sorted(measured, reverse=True) and values[: len(measured)] == measured
            # digits-cnn has real labels: the accuracy column is filled
            acc = {r[0].strip(" ★"): r[-1].strip() for r in table_text(table)}
            assert acc["PyTorch FP32"].endswith("%")

    run(scenario)


def test_export_csv_and_json_from_the_results_model_and_unwritable_path():
    async def scenario():
        app = make_app(MLP)
        async with app.run_test(size=SIZE) as pilot:
            await run_all_and_wait(pilot)
            await pilot.press("e")
            dialog = app.screen
            assert isinstance(dialog, SavePathScreen)
            field = dialog.query_one("#save-path", Input)
            assert field.value == "trt-tui-results/mlp/mlp-results.csv"  # default: the results folder

            # an unwritable path: the error is shown, the dialog stays, nothing is lost
            field.value = "/proc/trt-tui-cannot-write/results.csv"
            await pilot.press("enter")
            assert app.screen is dialog
            assert "could not write" in static_text(dialog.query_one("#save-error"))
            field.value = "trt-tui-results/mlp/mlp-results.csv"
            await pilot.press("enter")
            assert not isinstance(app.screen, SavePathScreen)
            saved = rows_from_csv(Path("trt-tui-results/mlp/mlp-results.csv").read_text())
            store = app.state.store.rows
            assert [r["row_id"] for r in saved] == list(store)
            assert saved[0]["latency_p50_ms"] == store["pytorch-fp32"]["latency_p50_ms"]

            await pilot.press("j")
            assert app.screen.query_one("#save-path", Input).value.endswith("mlp-results.json")
            await pilot.press("enter")
            data = json.loads(Path("trt-tui-results/mlp/mlp-results.json").read_text())
            assert data["best"] == "onnxruntime-fp32" and len(data["rows"]) == 7

            await pilot.press("e", "escape")  # cancel writes nothing new
            assert not isinstance(app.screen, SavePathScreen)

    run(scenario)


def test_reopen_an_earlier_results_folder_in_the_benchmark_screen():
    async def scenario():
        old = ResultsStore(Path("trt-tui-results/earlier-mlp"))
        for line in MLP.read_text().splitlines():
            event = parse_line(line)
            if event.type == "row":
                old.upsert(event.row)
        app = make_app(MLP)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("o")
            assert isinstance(app.screen, OpenResultsScreen)
            await pilot.press("enter")  # the first (only) folder found
            await pilot.pause()
            assert isinstance(app.screen, BenchmarkScreen)
            rows = table_text(app.screen.query_one("#bench", DataTable))
            assert len(rows) == 7 and rows[0][1].strip() == "✔ ok"
            assert "reopened trt-tui-results/earlier-mlp" in static_text(app.screen.query_one("#bench-env"))
            assert "reopened" in top_bar(app)

    run(scenario)


# -- keys, help, palette, quitting ------------------------------------------------------------------
def test_help_screen_and_screen_keys():
    async def scenario():
        app = make_app(MLP)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("question_mark")
            assert isinstance(app.screen, HelpScreen)
            text = "\n".join(static_text(w) for w in app.screen.query(".value"))
            assert "Run all" in text and "Cancel the running job" in text
            await pilot.press("escape")
            for key, cls in (("2", ExportScreen), ("3", BuildScreen), ("4", BenchmarkScreen), ("1", ModelScreen)):
                await pilot.press(key)
                assert isinstance(app.screen, cls)
            # bindings have ids (for keymaps) and the footer shows them
            ids = {b.id for b in app.BINDINGS}
            assert {"run_all", "cancel", "export_csv", "export_json", "help"} <= ids

    run(scenario)


def test_command_palette_lists_the_actions_and_runs_them():
    async def scenario():
        app = make_app(MLP)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("ctrl+p")
            assert isinstance(app.screen, CommandPalette)
            await pilot.press(*"run all")
            await pilot.pause(0.3)
            await pilot.press("enter")
            await wait_until(pilot, lambda: app.state.finished is not None and app.job is None, timeout=20)
            assert app.state.finished.status == "ok"
            titles = [t for t, a, _ in __import__("trt_tui.widgets.palette", fromlist=["x"]).PALETTE_ACTIONS
                      if app.action_available(a)]
            for title in ("Run all", "Export", "Build", "Benchmark", "Export CSV", "Export JSON",
                          "Open results folder", "Help"):
                assert title in titles
            assert "Cancel" not in titles  # nothing to cancel now

    run(scenario)


def test_quitting_while_a_job_runs_cancels_it():
    async def scenario():
        app = make_app(SYNTHETIC_BUILD, stop=mid_build)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("r")
            await wait_until(pilot, lambda: app.state.engines["tensorrt-fp16"].step == 2)
            job = app.job
            assert isinstance(job, ReplayJob) and not job.cancelled.is_set()
            await pilot.press("ctrl+q")
        assert job.cancelled.is_set()

    run(scenario)


def test_usable_at_80x24():
    async def scenario():
        app = make_app(MLP)
        async with app.run_test(size=(80, 24)) as pilot:
            await run_all_and_wait(pilot)
            table = app.screen.query_one("#bench", DataTable)
            assert table.fixed_columns == 1  # row names stay put while the numbers scroll
            assert table.region.height >= 8  # header + 7 rows visible
            await pilot.press("1")
            assert app.screen.query_one("#model", Input).region.height == 1

    run(scenario)


def test_recorded_streams_are_valid():
    for path in (MLP, DIGITS, SYNTHETIC_BUILD, EXPORT_FAILURE):
        events = [parse_line(line) for line in path.read_text().splitlines() if line.strip()]
        assert all(events) and events[-1].type == "finished", path


def test_the_batch_size_field_takes_one_size_or_a_sweep():
    async def scenario():
        app = make_app(MLP)
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            batch = app.screen.query_one("#batch_size", Input)
            error = app.screen.query_one("#batch_size-error")
            for text, sizes, problem in (("32", (), ""), ("1, 8,32", (1, 8, 32), ""), ("1,1", None, "differ"),
                                         ("1,x", None, "whole numbers"), ("0,8", None, ">= 1"), ("", None, "enter")):
                batch.value = text
                await pilot.pause()
                config, bad = app.form
                if problem:
                    assert config is None and problem in bad["batch_size"] and error.has_class("-shown"), text
                else:
                    assert config is not None and config.batch_sizes == sizes and not error.has_class("-shown")
            assert app.form[1] and "batch_sizes" not in app.form[1]  # reported on the one field

    run(scenario)


def test_the_iterations_field_takes_a_count_or_auto():
    """As --iterations auto: the run times until the p50's CI is within --ci-target (or max-seconds)."""
    async def scenario():
        app = make_app(MLP)
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            field = app.screen.query_one("#iterations", Input)
            for text, auto, count in (("AUTO", True, None), ("300", False, 300), ("many", None, None)):
                field.value = text
                await pilot.pause()
                config, bad = app.form
                if auto is None:
                    assert config is None and "a whole number, or auto" in bad["iterations"]
                else:
                    assert config is not None and config.auto_iterations is auto, text
                    assert count is None or config.iterations == count

    run(scenario)
