"""The `?` help screen: the workflow in one paragraph and every key."""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.markup import escape
from textual.screen import ModalScreen
from textual.widgets import Static

from trt_tui.widgets.label_grid import LabelGrid

KEYS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (
        "Anywhere (in a text field these keys type: enter or esc leaves it)",
        (
            ("1 2 3 4", "Model · Export · Build · Benchmark screen"),
            ("r", "Run all: export → build → benchmark; the screens follow the run"),
            ("ctrl+r", "Run all, even from inside a text field"),
            ("x / b / m", "Run the export / build / benchmark step alone"),
            ("c", "Cancel the running job; the rows so far are kept"),
            ("e / j", "Save the results as CSV / JSON (asks for a path)"),
            ("o", "Reopen an earlier results folder"),
            ("ctrl+p", "Command palette: every action by name"),
            ("?", "This help (any key above also closes it and acts)"),
            ("ctrl+q", "Quit; a running job is cancelled first"),
        ),
    ),
    (
        "Model",
        (
            ("↑ ↓  enter", "Pick a built-in model; then r runs it"),
            ("tab / shift+tab", "Move between the settings; errors show beside each"),
            ("space", "In the rows list: toggle a row"),
            (
                "inputs",
                "Listed under Model: name [shape] dtype, values. The fields below take the CLI's syntax: "
                "input_ids:[128] · input_ids:int64 · input_ids:[0,999] · input_ids:1=seq · seq=64,128",
            ),
        ),
    ),
    ("Export", (("y", "Copy the full error message"),)),
    (
        "Build",
        (
            ("l", "Cycle the log level filter"),
            ("t", "Log or timeline: where the run's seconds went (the timeline shows once the run ends)"),
        ),
    ),
    (
        "Benchmark",
        (
            ("arrows", "Move the cursor; the line below describes the row"),
            ("s", "Sort by the column under the cursor (again: reverse)"),
            ("p", "Plot latency and samples/s against the swept size (batch sizes, or a dim: seq=64,128)"),
            ("a", "Every layer's error of the highlighted FP16/INT8 row (a run with per-layer accuracy: ctrl+p)"),
        ),
    ),
)

INTRO = (
    "[b]trt-tui[/] measures how much faster a PyTorch model runs under TensorRT at FP32, FP16 and INT8, "
    "and what each precision costs in accuracy. The pipeline runs in a separate process: the app only "
    "shows its events, so leaving a screen never stops a job and the numbers match a headless "
    "[b]trt-tui run[/]. Rows are saved to the results folder as they arrive."
)


def help_text() -> str:
    """The whole help as plain lines (what the screen shows, for logs and tests)."""
    lines = [INTRO, ""]
    for section, keys in KEYS:
        lines.append(section)
        lines += [f"  {key:<16} {what}" for key, what in keys]
        lines.append("")
    lines.append(CLOSE_HINT)
    return "\n".join(lines)


CLOSE_HINT = "escape or ? closes this help"


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,question_mark,q", "close", "Close", id="help.close"),
    ]

    def compose(self) -> ComposeResult:
        # Keys in a column of their own: a long description wraps beside its key, never under it.
        with VerticalScroll(id="help-box"):
            yield Static(INTRO, id="help-intro")
            for section, keys in KEYS:
                yield Static(f"[b $accent]{section}[/]", classes="help-section")
                yield LabelGrid(16, [(key, escape(what)) for key, what in keys], classes="help-keys")
            yield Static(f"[dim]{CLOSE_HINT}[/]", classes="help-section")

    def on_mount(self) -> None:
        box = self.query_one("#help-box")
        box.border_title = "Help"
        box.focus()

    def action_close(self) -> None:
        self.dismiss(None)

    def on_key(self, event: events.Key) -> None:
        """The app's keys work here too: help closes and the key acts (r runs, 2 shows Export, ...)."""
        if event.key in {k for b in self.BINDINGS for k in b.key.split(",")}:  # type: ignore[union-attr]  # BINDINGS here are all Binding objects
            return
        for binding in type(self.app).BINDINGS:
            if isinstance(binding, Binding) and event.key in binding.key.split(","):
                event.stop()
                self.dismiss(None)
                self.app.call_later(self.app.run_action, binding.action)
                return
