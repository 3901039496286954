"""The command palette's trt-tui actions (Run all, Export, Build, Benchmark, Export CSV, ...)."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from trt_tui.app_api import TrtTuiAppApi

# (title, action on the App, help)
PALETTE_ACTIONS: tuple[tuple[str, str, str], ...] = (
    ("Run all", "run_all", "Model → export → build → benchmark, following each screen"),
    (
        "Run all with per-layer accuracy",
        "run_all(True)",
        "Run all, then find the layers where FP16 and INT8 diverge (a on the Benchmark screen lists them)",
    ),
    ("Export", "run_stage('export')", "Run the ONNX export step alone (export, checker, parity)"),
    ("Build", "run_stage('build')", "Build the TensorRT engines alone (reuses the exported ONNX)"),
    ("Benchmark", "run_stage('benchmark')", "Run the benchmark alone (reuses the built engines)"),
    ("Cancel", "cancel", "Stop the running job (its process group gets SIGTERM)"),
    ("Export CSV", "export_csv", "Save the results as CSV (asks for a path)"),
    ("Export JSON", "export_json", "Save the results as JSON (asks for a path)"),
    ("Open results folder", "open_results", "Reopen an earlier run's results in the Benchmark screen"),
    (
        "Compare with another run",
        "compare_runs",
        "Open an earlier run beside this one: per row the change in p50 with its CI, faster / slower / same within noise",
    ),
    ("Show model screen", "show('model')", "Model selection and settings"),
    ("Show export screen", "show('export')", "The ONNX export steps"),
    ("Show build screen", "show('build')", "The TensorRT engine builds and log"),
    ("Show benchmark screen", "show('benchmark')", "The results table"),
    ("Help", "help", "Keys and how trt-tui works"),
)


class TrtTuiCommands(Provider):
    """Every action of the app by name; actions not possible now are left out."""

    def _commands(self) -> list[tuple[str, str, str]]:
        app = cast("TrtTuiAppApi", self.app)
        return [(t, a, h) for t, a, h in PALETTE_ACTIONS if app.action_available(a)]

    async def discover(self) -> Hits:
        for title, action, help_text in self._commands():
            yield DiscoveryHit(title, partial(self.app.run_action, action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, action, help_text in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), partial(self.app.run_action, action), help=help_text)
