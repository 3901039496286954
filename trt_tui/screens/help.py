"""The `?` help screen: the workflow in one paragraph and every key."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("Anywhere", (
        ("1 2 3 4", "Model · Export · Build · Benchmark screen"),
        ("r", "Run all: model → export → build → benchmark (the screens follow the run)"),
        ("c", "Cancel the running job (its process is stopped; rows so far are kept)"),
        ("e / j", "Export the results to CSV / JSON (asks for a path)"),
        ("o", "Reopen an earlier results folder in the Benchmark screen"),
        ("ctrl+p", "Command palette: every action by name"),
        ("?", "This help"),
        ("ctrl+q", "Quit (a running job is cancelled first)"),
    )),
    ("Model", (
        ("tab / shift+tab", "Move between fields; errors are shown beside each field"),
        ("enter", "In the built-in list: use that model"),
        ("space", "In the rows list: toggle a row"),
    )),
    ("Export", (("x", "Run the export step alone"), ("y", "Copy the full error message"))),
    ("Build", (("b", "Run the build step alone (reuses the exported ONNX)"), ("l", "Cycle the log level filter"))),
    ("Benchmark", (
        ("m", "Run the benchmark step alone (reuses the built engines)"),
        ("arrows", "Move the cursor; the line below the table describes the row"),
        ("s", "Sort by the column under the cursor (again: reverse)"),
        ("p", "Plot latency and images/s against batch size (a --batch-sizes sweep draws lines)"),
    )),
)

INTRO = (
    "[b]trt-tui[/] measures how much faster a PyTorch model runs under TensorRT at FP32, FP16 and INT8, "
    "and what each precision costs in accuracy. The pipeline runs in a separate process: the app only "
    "shows its events, so leaving a screen never stops a job and the numbers match a headless "
    "[b]trt-tui run[/]. Rows are saved to the results folder as they arrive."
)


def help_text() -> str:
    lines = [INTRO, ""]
    for section, keys in KEYS:
        lines.append(f"[b $accent]{section}[/]")
        for key, what in keys:
            lines.append(f"  [b]{key:<16}[/] {what}")
        lines.append("")
    lines.append("[dim]escape or ? closes this help[/]")
    return "\n".join(lines)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,question_mark,q", "close", "Close", id="help.close"),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static(help_text(), id="help-text")

    def on_mount(self) -> None:
        box = self.query_one("#help-box")
        box.border_title = "Help"
        box.focus()

    def action_close(self) -> None:
        self.dismiss(None)
