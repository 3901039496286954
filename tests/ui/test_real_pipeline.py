"""The one real end-to-end UI test: the actual CPU pipeline (`mlp`) in a child process, driven through
the app with Pilot, then `e` exports CSV. About 15-30 s on the CI machine (2 cores, no GPU)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from textual.widgets import DataTable, Input, SelectionList

from trt_tui.app import TrtTuiApp
from trt_tui.core.results import rows_from_csv
from trt_tui.child_job import ChildJobs
from trt_tui.screens.benchmark import BenchmarkScreen
from trt_tui.screens.dialogs import SavePathScreen
from trt_tui.screens.sweep import SweepScreen
from trt_tui.widgets.sweep_plot import SweepPlot
from trt_tui.screenshots import RECORDED_MACHINE, settle, wait_until

from .helpers import run, table_text


class RecordingJobs(ChildJobs):
    """The app's own factory (a spare child kept ready), keeping each JobProcess it hands out."""

    def __init__(self) -> None:
        super().__init__()
        self.jobs: list = []
        self.spares: list = []

    def __call__(self, config):
        job = super().__call__(config)
        self.jobs.append(job)
        return job

    def warm(self) -> None:
        super().warm()
        if self.spare is not None and self.spare not in self.spares:
            self.spares.append(self.spare)


def app_with_real_jobs() -> tuple[TrtTuiApp, RecordingJobs]:
    """The app starting real child processes as it does for a user."""
    jobs = RecordingJobs()
    return TrtTuiApp(job_factory=jobs, probe=lambda: dict(RECORDED_MACHINE)), jobs


def test_real_mlp_pipeline_through_the_app_then_export_csv(tmp_path):
    async def scenario():
        app, factory = app_with_real_jobs()
        jobs = factory.jobs
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            await wait_until(pilot, lambda: factory.spare is not None, timeout=10)  # started after first paint
            spare_pid = factory.spare.proc.pid
            screen = app.screen
            screen.query_one("#iterations", Input).value = "20"
            screen.query_one("#warmup", Input).value = "2"
            await pilot.pause()
            assert app.form[0] is not None and app.form[0].iterations == 20
            await pilot.press("escape", "r")
            await wait_until(pilot, lambda: app.job is None and app.state.finished is not None, timeout=240)
            finished = app.state.finished
            assert finished.status == "ok", (finished.message, [e.message for e in app.state.errors])
            await wait_until(pilot, lambda: jobs[0].returncode is not None)
            assert jobs[0].returncode == 0
            assert jobs[0].pid == spare_pid  # `r` handed the run to the child kept ready
            await wait_until(pilot, lambda: factory.spare is not None and factory.spare.proc.pid != spare_pid)
            assert isinstance(app.screen, BenchmarkScreen)  # followed the run to the end

            rows = {r[0].strip(" ★"): r for r in table_text(app.screen.query_one("#bench", DataTable))}
            assert rows["PyTorch FP32"][1].strip() == "✔ ok"
            assert rows["ORT FP32"][1].strip() == "✔ ok"

            # the app shows exactly what the child measured and saved (the same numbers as headless)
            out_dir = Path(finished.out_dir)
            saved = json.loads((out_dir / "results.json").read_text())
            for row in saved["rows"]:
                assert app.state.store.rows[row["row_id"]]["latency_p50_ms"] == row["latency_p50_ms"]

            await pilot.press("e")
            assert isinstance(app.screen, SavePathScreen)
            default = app.screen.query_one("#save-path", Input).value
            await pilot.press("enter")  # accept the default path, in the results folder
            await pilot.pause()
            csv_path = Path(default)
            assert csv_path.parent == out_dir and csv_path.is_file()
            exported = rows_from_csv(csv_path.read_text())
            assert [r["row_id"] for r in exported] == [r["row_id"] for r in saved["rows"]]
            assert {r["row_id"]: r["status"] for r in exported}["pytorch-fp32"] == "ok"

    run(scenario)


def test_quitting_during_a_real_run_stops_the_child_process():
    async def scenario():
        app, factory = app_with_real_jobs()
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            await pilot.press("r")
            await wait_until(pilot, lambda: bool(app.state.stages), timeout=60)  # the child is running
            assert factory.jobs[0].proc.poll() is None
            await pilot.press("ctrl+q")
        return factory

    factory = run(scenario)
    job = factory.jobs[0]
    assert job.proc.poll() is not None  # stopped (SIGTERM to its process group), not left behind
    assert all(spare.proc.poll() is not None for spare in factory.spares)  # no spare child left waiting
    try:
        os.killpg(job.proc.pid, 0)
        group_alive = True
    except ProcessLookupError:
        group_alive = False
    assert not group_alive


def fill_form(screen, *, batch: str, rows: tuple[str, ...], model: str | None = None) -> None:
    """The Model screen's fields for a short real run: these rows only, 20 timed iterations."""
    if model:
        screen.query_one("#model", Input).value = model
    screen.query_one("#batch_size", Input).value = batch
    screen.query_one("#iterations", Input).value = "20"
    screen.query_one("#warmup", Input).value = "2"
    selection = screen.query_one("#rows", SelectionList)
    selection.deselect_all()
    for row in rows:
        selection.select(row)


def test_a_batch_sweep_typed_into_the_form_runs_and_plots(tmp_path):
    """'1,4' in the Batch size field: every row at each size in one real run, then `p` draws a line
    per row through both sizes."""
    async def scenario():
        app, factory = app_with_real_jobs()
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            fill_form(app.screen, batch="1,4", rows=("pytorch-fp32", "onnxruntime-fp32"))
            await pilot.pause()
            config = app.form[0]
            assert config is not None and config.batch_sizes == (1, 4) and config.batch_size == 1
            await pilot.press("escape", "r")
            await wait_until(pilot, lambda: app.job is None and app.state.finished is not None, timeout=240)
            assert app.state.finished.status == "ok", app.state.finished.message
            measured = {(r["row_id"], r["batch_size"]) for r in app.state.store.rows.values() if r["status"] == "ok"}
            assert measured == {(rid, b) for rid in ("pytorch-fp32", "onnxruntime-fp32") for b in (1, 4)}
            await pilot.press("p")
            await pilot.pause()
            assert isinstance(app.screen, SweepScreen)
            lines = app.screen.query_one("#sweep-latency", SweepPlot).lines
            assert {label: sizes for label, (sizes, _) in lines.items()} == {"PyTorch FP32": [1, 4], "ORT FP32": [1, 4]}
            assert (Path(app.state.finished.out_dir) / "plot.png").is_file()  # and the CLI's plot beside the results

    run(scenario)


def test_the_palette_runs_all_with_per_layer_accuracy_and_a_lists_the_layers(tmp_path):
    """ctrl+p 'Run all with per-layer accuracy': a real run writes layers.json, and `a` on the INT8 row
    opens every layer of it (before, only a CLI run could make the file)."""
    from trt_tui.screens.layers import LayersScreen

    async def scenario():
        app, factory = app_with_real_jobs()
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            fill_form(app.screen, model="digits-cnn", batch="32", rows=("onnxruntime-fp32", "onnxruntime-int8"))
            await pilot.pause()
            assert app.action_available("run_all(True)")
            await app.run_action("run_all(True)")
            assert factory.jobs[0].config.explain_accuracy
            await wait_until(pilot, lambda: app.job is None and app.state.finished is not None, timeout=300)
            assert app.state.finished.status == "ok", app.state.finished.message
            assert (Path(app.state.finished.out_dir) / "layers.json").is_file()
            assert isinstance(app.screen, BenchmarkScreen)
            table = app.screen.query_one("#bench", DataTable)
            keys = [k.value for k in table.rows]
            table.focus()
            table.move_cursor(row=keys.index("onnxruntime-int8"))
            await pilot.press("a")
            await pilot.pause()
            assert isinstance(app.screen, LayersScreen)

    run(scenario)
