"""The Textual app: owns the job, routes its events into the run state, and switches screens.

The pipeline runs in a child process (``trt_tui.child_job.JobProcess``); a thread worker reads its
events and only posts messages. Handlers here update the ``RunView`` (rows live in the core
``ResultsStore``) and tell the active screen to redraw. This module imports neither torch nor
tensorrt: first paint stays fast and the measuring process is never the UI's.
"""

from __future__ import annotations

import asyncio
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path, PurePath
from typing import Any, ClassVar, Protocol, cast

from textual import on, work
from textual.app import App
from textual.binding import Binding
from textual.notifications import SeverityLevel
from textual.screen import ModalScreen, Screen

from trt_tui.core.config import RUN_STAGES, RunConfig
from trt_tui.core.events import Event, Finished, StageStarted
from trt_tui.core.vocab import Status
from trt_tui.messages import JobEvent, JobFailed, MachineProbed, StateChanged
from trt_tui.screens.model import ModelScreen
from trt_tui.screens.state import RunView
from trt_tui.widgets.palette import TrtTuiCommands


class Job(Protocol):
    """What the app needs of a job: ``runner.JobProcess`` and ``runner.ReplayJob`` both fit."""

    def start(self) -> None: ...
    def events(self) -> Iterator[Event]: ...
    def cancel(self, timeout: float = 5.0) -> None: ...


JobFactory = Callable[[RunConfig], Job]

# Which screen shows each pipeline stage while "Run all" is followed.
STAGE_SCREENS = {"export": "export", "quantize": "build", "build": "build", "benchmark": "benchmark"}
# What "run this step alone" asks of the pipeline.
STEP_STAGES = {"export": ("export",), "build": ("quantize", "build"), "benchmark": ("benchmark",)}


def default_job_factory() -> JobFactory:
    """Runs in child processes, one spare child kept ready (``runner.ChildJobs``)."""
    from trt_tui.child_job import ChildJobs

    return ChildJobs()


def default_probe() -> dict[str, Any]:
    from trt_tui.child_job import probe_machine

    return probe_machine()


# The first screen is imported with the app; the others (and their widgets: TextArea, RichLog, ...)
# only when first shown, which keeps the first paint fast.
def _export_screen() -> Screen:
    from trt_tui.screens.export import ExportScreen

    return ExportScreen()


def _build_screen() -> Screen:
    from trt_tui.screens.build import BuildScreen

    return BuildScreen()


def _benchmark_screen() -> Screen:
    from trt_tui.screens.benchmark import BenchmarkScreen

    return BenchmarkScreen()


def default_catalog() -> list[Any]:
    from trt_tui.core.models import list_models  # cheap: torch is imported inside its functions

    return list_models()


class TrtTuiApp(App[None]):
    """trt-tui: export → build → benchmark, live."""

    TITLE = "trt-tui"
    # One stylesheet per screen, beside its module; loaded once here so that switching screens does not
    # re-apply CSS (a screen's own CSS_PATH costs ~0.2 s per switch).
    CSS_PATH: ClassVar[list[str | PurePath]] = [
        "app.tcss",
        *(f"screens/{name}.tcss" for name in ("model", "export", "build", "benchmark", "dialogs", "help")),
    ]
    COMMANDS = App.COMMANDS | {TrtTuiCommands}
    MODES = {"model": ModelScreen, "export": _export_screen, "build": _build_screen, "benchmark": _benchmark_screen}
    DEFAULT_MODE = "model"
    BINDINGS = [
        Binding("1", "show('model')", "Model", show=False, id="screen.model"),
        Binding("2", "show('export')", "Export", show=False, id="screen.export"),
        Binding("3", "show('build')", "Build", show=False, id="screen.build"),
        Binding("4", "show('benchmark')", "Benchmark", show=False, id="screen.benchmark"),
        Binding("r", "run_all", "Run all", id="run_all"),
        Binding("ctrl+r", "run_all", "Run all", show=False, priority=True, id="run_all_anywhere"),  # even in a field
        # Each step alone, from any screen (the step's own screen shows its key in the footer).
        Binding("x", "run_stage('export')", "Run export", show=False, id="run_export"),
        Binding("b", "run_stage('build')", "Run build", show=False, id="run_build"),
        Binding("m", "run_stage('benchmark')", "Run benchmark", show=False, id="run_benchmark"),
        Binding("c", "cancel", "Cancel", id="cancel"),
        Binding("e", "export_csv", "CSV", id="export_csv"),
        Binding("j", "export_json", "JSON", id="export_json"),
        Binding("o", "open_results", "Open results", show=False, id="open_results"),
        Binding("question_mark", "help", "Help", id="help"),
        # Keys of one screen pressed on another say where they work instead of doing nothing.
        Binding("s", "elsewhere('s', 'sorts the benchmark table', 4)", show=False, id="hint.sort"),
        Binding("l", "elsewhere('l', 'sets the build log level', 3)", show=False, id="hint.log_level"),
    ]

    def __init__(
        self,
        *,
        job_factory: JobFactory | None = None,
        config: RunConfig | None = None,
        results_root: str | Path = "trt-tui-results",
        probe: Callable[[], dict[str, Any]] | None = None,
        catalog: Callable[[], list[Any]] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        super().__init__()
        self.job_factory: JobFactory = job_factory or default_job_factory()
        self.results_root = Path(results_root)
        self._probe = probe or default_probe
        self._load_catalog = catalog or default_catalog
        self.state = RunView(config or RunConfig(), clock=clock)
        self.machine: dict[str, Any] | None = None  # runner.probe_machine(), once known
        self.catalog: list[Any] = []  # core.models.ModelSpec list, once known
        self.form: tuple[RunConfig | None, dict[str, str]] = (self.state.config, {})  # the Model screen's
        self.job: Job | None = None
        self.job_id = 0
        self.follow = True  # screens follow the running stage until the user switches by hand
        self.first_paint: float | None = None

    # -- startup -------------------------------------------------------------------------------
    def mark_first_paint(self) -> None:
        """Called once the first screen has been drawn (``first_paint`` = wall-clock time). Only
        then the machine is probed and the model list loaded (numpy), so they do not delay it."""
        if self.first_paint is None:
            self.first_paint = time.time()
            self._probe_machine()
            self._warm_jobs()

    @work(thread=True, group="spare", exit_on_error=False, description="start a spare child")
    def _warm_jobs(self) -> None:
        """A factory that keeps a child ready (``ChildJobs.warm``) starts one: after the first paint and
        after each run, so `r` finds torch already imported."""
        warm = getattr(self.job_factory, "warm", None)
        if callable(warm) and self.job is None:
            warm()

    @work(thread=True, exclusive=True, group="probe", exit_on_error=False, description="probe machine")
    def _probe_machine(self) -> None:
        try:
            catalog = list(self._load_catalog())
        except Exception:  # noqa: BLE001 - the form still works with names typed by hand
            catalog = []
        try:
            info = dict(self._probe())
        except Exception as exc:  # noqa: BLE001 - a probe failure is shown, never fatal to the app
            info = {"gpu": None, "tensorrt": None, "install_hint": f"(could not probe: {exc})"}
        self.post_message(MachineProbed({"machine": info, "catalog": catalog}))

    def on_machine_probed(self, message: MachineProbed) -> None:
        self.machine = message.info["machine"]
        self.catalog = message.info["catalog"]
        self._redraw()

    # -- jobs ----------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.job is not None

    def start_job(self, config: RunConfig) -> bool:
        """Start a job for ``config`` (one at a time). Returns False if one is already running."""
        if self.job is not None:
            self.notify("a job is already running: cancel it first (c)", severity="warning")
            return False
        self.job_id += 1
        self.state.begin(config)
        self.job = self.job_factory(config)
        self.follow = True
        if isinstance(self.screen, ModelScreen):
            self.screen.action_leave_field()  # started by ctrl+r in a field: c must cancel, not type
        self._run_job(self.job, self.job_id)
        self.refresh_bindings()
        self._redraw()
        return True

    @work(thread=True, exclusive=True, group="job", exit_on_error=False, description="pipeline job")
    def _run_job(self, job: Job, job_id: int) -> None:
        """Read the child's events and post them; never touches a widget."""
        try:
            job.start()
            for event in job.events():
                self.post_message(JobEvent(job_id, event))
        except Exception as exc:  # noqa: BLE001 - the run ends; the app goes on
            self.post_message(JobFailed(job_id, f"{type(exc).__name__}: {exc}", traceback.format_exc()))

    @on(JobEvent)
    def _job_event(self, message: JobEvent) -> None:
        if message.job_id != self.job_id:
            return
        event = message.event
        self.state.apply(event)
        if isinstance(event, StageStarted) and self.follow:
            target = STAGE_SCREENS.get(event.stage)
            if target and target != self.current_mode and not isinstance(self.screen, ModalScreen):
                self.switch_mode(target)
        if isinstance(event, Finished):
            self._job_ended(event)
        self._redraw()

    @on(JobFailed)
    def _job_failed(self, message: JobFailed) -> None:
        if message.job_id != self.job_id:
            return
        self.state.apply(Finished(status=Status.CRASHED, message=message.message))
        self._job_ended(self.state.finished or Finished(status=Status.CRASHED, message=message.message))
        self._redraw()

    def _job_ended(self, finished: Finished) -> None:
        self.job = None
        self.refresh_bindings()
        self._warm_jobs()
        severity = (
            "information"
            if finished.status == Status.OK
            else "warning"
            if finished.status == Status.CANCELLED
            else "error"
        )
        text = {Status.OK: "run finished", Status.CANCELLED: "run cancelled"}.get(
            finished.status, f"run {finished.status}"
        )
        if finished.message and finished.status != Status.OK:
            text += f": {finished.message}"
        if finished.out_dir:
            text += f" — results in {finished.out_dir}"
        self.notify(text, severity=cast(SeverityLevel, severity), timeout=6)

    def _redraw(self) -> None:
        """Tell the active screen the state moved on (coalesced: only the newest message is kept)."""
        self.screen.post_message(StateChanged(self.state.version))

    # -- actions -------------------------------------------------------------------------------
    def action_available(self, action: str) -> bool:
        """Whether an action makes sense now (the palette lists only these)."""
        name = action.split("(")[0]
        if name in ("run_all", "run_stage", "open_results"):
            return self.job is None
        if name == "cancel":
            return self.job is not None
        if name in ("export_csv", "export_json", "compare_runs"):
            return bool(self.state.store.rows)
        return True

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Every key stays live whatever the state: an action that cannot act now says why (a dimmed,
        # silent key reads as a broken one). The palette lists only what is possible (action_available).
        return True

    def action_show(self, name: str) -> None:
        self.follow = False
        if name != self.current_mode:
            self.switch_mode(name)

    def action_elsewhere(self, key: str, what: str, screen: int) -> None:
        self.notify(f"{key} {what}: press {screen} to go there", timeout=3)

    def _form_config(self) -> RunConfig | None:
        config, problems = self.form
        if config is None:
            first = next(iter(problems.items()), ("", "invalid settings"))
            self.notify(f"fix the settings first — {first[0]}: {first[1]}", severity="error", timeout=6)
            self.action_show("model")
            return None
        return config

    def action_run_all(self, explain: bool = False) -> None:
        """Run all; ``explain``: also the per-layer FP16/INT8 errors (layers.json, `a` on the Benchmark screen)."""
        config = self._form_config()
        if config is not None:
            self.start_job(replace(config, stages=RUN_STAGES, explain_accuracy=explain))

    def action_run_stage(self, step: str) -> None:
        config = self._form_config()
        if config is not None:
            self.start_job(replace(config, stages=STEP_STAGES[step]))

    def action_cancel(self) -> None:
        job = self.job
        if job is None:
            self.notify("nothing to cancel: no job is running", timeout=3)
            return
        self.state.cancel_requested = True
        self.state.version += 1
        self._cancel_job(job)
        self.notify("cancelling the job…", timeout=3)
        self._redraw()

    @work(thread=True, group="cancel", exit_on_error=False, description="cancel job")
    def _cancel_job(self, job: Job) -> None:
        job.cancel()  # SIGTERM to the child's group, SIGKILL after the timeout; events() then ends

    async def action_quit(self) -> None:
        job = self.job
        if job is not None:
            self.notify("cancelling the running job before quitting…", timeout=3)
            await asyncio.to_thread(job.cancel, 3.0)
        self.exit()

    def on_unmount(self) -> None:
        if self.job is not None:  # the app went away by another route: never leave the child behind
            self.job.cancel(2.0)
        close = getattr(self.job_factory, "close", None)
        if callable(close):
            close()  # the spare child, if one waits

    def action_help(self) -> None:
        from trt_tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def default_export_path(self, kind: str) -> Path:
        folder = self.state.out_dir or self.state.config.resolved_out_dir()
        return folder / f"{self.state.config.model_slug()}-results.{kind}"

    def action_export_csv(self) -> None:
        self._export("csv")

    def action_export_json(self) -> None:
        self._export("json")

    def _export(self, kind: str) -> None:
        from trt_tui.screens.dialogs import SavePathScreen

        store = self.state.store
        if not store.rows:
            self.notify("no rows to export yet", severity="warning")
            return

        def save(path: Path) -> Path:
            return store.export_csv(path) if kind == "csv" else store.export_json(path)

        def done(path: Path | None) -> None:
            if path is not None:
                self.notify(f"saved {len(store.rows)} rows to {path}", timeout=6)

        self.push_screen(
            SavePathScreen(f"Export the results as {kind.upper()}", self.default_export_path(kind), save), done
        )

    def action_open_results(self) -> None:
        from trt_tui.screens.dialogs import OpenResultsScreen

        if self.job is not None:
            self.notify("a job is running: cancel it (c) before reopening other results", severity="warning")
            return
        roots = [self.results_root]
        if self.state.out_dir and self.state.out_dir.parent not in roots:
            roots.append(self.state.out_dir.parent)
        self.push_screen(OpenResultsScreen(roots), self.reopen)

    def action_compare_runs(self) -> None:
        """Pick another run (A) to compare the one shown (B) with, row by row (screens/compare.py)."""
        from trt_tui.screens.dialogs import OpenResultsScreen

        if not self.state.store.rows:
            self.notify("no results to compare yet: run (r) or reopen (o) one first", severity="warning")
            return
        roots = [self.results_root] + ([self.state.out_dir.parent] if self.state.out_dir else [])
        self.push_screen(
            OpenResultsScreen(list(dict.fromkeys(roots)), "Compare with another run (A; this run is B)"),
            self.compare_with,
        )

    def compare_with(self, folder: Path | None) -> None:
        if folder is None:
            return
        from trt_tui.core import compare
        from trt_tui.screens.compare import CompareScreen

        if (other := self.read_results(compare.load, folder)) is None:
            return
        mine = self.state.store
        if self.state.out_dir and mine.out_dir is None and not mine.samples:  # a live run: its samples are on disk
            try:
                mine = compare.load(self.state.out_dir)
            except (OSError, ValueError, KeyError):
                pass
        self.push_screen(
            CompareScreen(compare.compare(other, mine), str(folder), str(self.state.out_dir or "this run"))
        )

    def read_results(self, load: Any, folder: Path) -> Any:
        """``load(folder)`` (a results folder's store), or None after saying why it cannot be read."""
        try:
            return load(folder)
        except (OSError, ValueError, KeyError) as exc:
            self.notify(f"cannot read {folder}/results.json: {exc}", severity="error", timeout=8)
            return None

    def reopen(self, folder: Path | None) -> None:
        """Show an earlier run's results folder in the Benchmark screen."""
        if folder is None:
            return
        from trt_tui.core.results import ResultsStore

        if (store := self.read_results(ResultsStore.load, folder)) is None:
            return
        self.state.reopen(store)
        self.follow = False
        if self.current_mode != "benchmark":
            self.switch_mode("benchmark")
        self.refresh_bindings()
        self._redraw()
        self.notify(f"reopened {folder} ({len(store.rows)} rows)", timeout=4)
