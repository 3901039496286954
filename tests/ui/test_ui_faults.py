"""The app when the pipeline's child process dies: a real child process that streams part of a
recorded run and then is killed (SIGKILL) — the app says so with the exit status, keeps the rows
measured so far (on screen and on disk) and can run again."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from textual.widgets import DataTable

from trt_tui.app import TrtTuiApp
from trt_tui.core.config import RunConfig
from trt_tui.core.events import parse_line
from trt_tui.child_job import JobProcess, ReplayJob
from trt_tui.screens.benchmark import BenchmarkScreen
from trt_tui.screenshots import RECORDED_MACHINE, settle, wait_until
from trt_tui.widgets.topbar import TopBar

from .helpers import MLP, run, static_text, table_text

CRASH = "the pipeline process stopped unexpectedly: killed by SIGKILL (exit status -9)"


class KilledMidRun(JobProcess):
    """A real child that writes the recorded events up to ``upto`` lines, then SIGKILLs itself (as the
    kernel's OOM killer, or a crash in native code, would end it)."""

    def __init__(self, config: RunConfig, upto: int) -> None:
        super().__init__(config)
        self.upto = upto

    def command(self) -> list[str]:
        script = ("import os, signal, sys\n"
                  f"lines = open({str(MLP)!r}, encoding='utf-8').read().splitlines()[:{self.upto}]\n"
                  "sys.stdout.write(''.join(line + '\\n' for line in lines)); sys.stdout.flush()\n"
                  "os.kill(os.getpid(), signal.SIGKILL)\n")
        return [sys.executable, "-c", script]


def lines_until_first_ok_row() -> int:
    """How many lines of the recorded stream reach pytorch-fp32 'ok' (the next rows are still open)."""
    for n, line in enumerate(MLP.read_text(encoding="utf-8").splitlines(), 1):
        ev = parse_line(line)
        row = getattr(ev, "row", None)
        if row and row["row_id"] == "pytorch-fp32" and row["status"] == "ok":
            return n
    raise AssertionError("no ok row in the recording")


def test_a_killed_child_is_reported_rows_kept_and_the_app_runs_again():
    async def scenario():
        jobs = []

        def factory(config):
            job = KilledMidRun(config, lines_until_first_ok_row()) if not jobs else ReplayJob(MLP)
            jobs.append(job)
            return job

        app = TrtTuiApp(job_factory=factory, probe=lambda: dict(RECORDED_MACHINE), clock=lambda: 0.0)
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            await pilot.press("r")
            await wait_until(pilot, lambda: app.job is None and app.state.finished is not None, timeout=30)
            fin = app.state.finished
            assert (fin.status, fin.exit_code, fin.message) == ("crashed", -9, CRASH)
            assert jobs[0].returncode == -9
            assert "crashed · the pipeline process stopped unexpect" in app.screen.query_one(TopBar).render().plain
            assert any(CRASH in n.message and n.severity == "error" for n in app._notifications)

            # the measured row is kept; the rows the child never finished say why
            rows = app.state.store.rows
            assert rows["pytorch-fp32"]["status"] == "ok" and rows["pytorch-fp32"]["latency_p50_ms"] > 0
            open_rows = [r for r in rows.values() if r["row_id"] != "pytorch-fp32" and r["status"] != "skipped"]
            assert open_rows and all(r["status"] == "failed" and r["reason"] == CRASH for r in open_rows)
            await pilot.press("4")
            assert isinstance(app.screen, BenchmarkScreen)
            table = app.screen.query_one("#bench", DataTable)
            names = [r[0].strip(" ★") for r in table_text(table)]
            shown = dict(zip(names, (r[1].strip() for r in table_text(table))))
            assert shown["PyTorch FP32"] == "✔ ok" and shown["ORT FP32"] == "✘ fail"
            table.move_cursor(row=names.index("ORT FP32"))  # the line under the table: why it failed
            await pilot.pause()
            assert CRASH in static_text(app.screen.query_one("#bench-detail"))
            # ... and on disk, where the app (the only writer left) saved them
            saved = json.loads((Path(fin.out_dir) / "results.json").read_text())
            assert {r["row_id"]: r["status"] for r in saved["rows"]} == {rid: r["status"] for rid, r in rows.items()}

            # the app is usable: the next run goes through
            await pilot.press("r")
            await wait_until(pilot, lambda: app.job is None and app.state.finished is not None
                             and app.state.finished.status == "ok", timeout=30)
            assert app.state.store.rows["onnxruntime-fp32"]["status"] == "ok"

    run(scenario)


def test_a_model_that_cannot_load_is_one_line_with_the_detail_and_the_app_stays_usable(tmp_path):
    """A real child: the user's model file has an import error. The app names the cause in one line,
    keeps the traceback for the export screen, and the next run goes through."""
    from textual.widgets import Input, TextArea

    from trt_tui.screens.export import ExportScreen

    bad = tmp_path / "net.py"
    bad.write_text("import torch\nimport not_a_real_module_xyz\n\n\ndef make():\n    return torch.nn.Identity()\n")  # the form accepts it (make is defined); the import fails in the child

    async def scenario():
        jobs = []

        def factory(config):
            job = JobProcess(config) if not jobs else ReplayJob(MLP)
            jobs.append(job)
            return job

        app = TrtTuiApp(job_factory=factory, probe=lambda: dict(RECORDED_MACHINE), clock=lambda: 0.0)
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            app.screen.query_one("#model", Input).value = f"{bad}:make"
            app.screen.query_one("#input_shape", Input).value = "3,2,2"
            await pilot.pause()
            assert app.form[0] is not None, app.form[1]
            await pilot.press("escape", "r")
            await wait_until(pilot, lambda: app.job is None and app.state.finished is not None, timeout=60)
            fin = app.state.finished
            cause = f"import failed in {bad}: ModuleNotFoundError: No module named 'not_a_real_module_xyz'"
            assert (fin.status, fin.message) == ("failed", cause)
            assert any(n.message.startswith(f"run failed: {cause}") for n in app._notifications)
            assert "Traceback (most recent call last)" in app.state.export_failure()  # the detail, on demand
            await pilot.press("2")
            assert isinstance(app.screen, ExportScreen)
            assert app.screen.query_one("#export-error-box").display
            shown = app.screen.query_one("#export-error", TextArea).text
            assert shown.splitlines()[0] == cause and "Traceback (most recent call last)" in shown
            await pilot.press("r")
            await wait_until(pilot, lambda: app.job is None and app.state.finished is not None
                             and app.state.finished.status == "ok", timeout=30)

    run(scenario)
