"""One TensorRT engine's build: a progress bar fed by TensorRT's phases, elapsed time, the result."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, ProgressBar, Static

from trt_tui.core.runstate import StepState
from trt_tui.core.vocab import Status
from trt_tui.format import fmt_bytes, fmt_elapsed, fmt_seconds, status_text, step_title


class EnginePanel(Vertical):
    """Three lines: title, state, phase and elapsed time; the progress bar; the result.

    Attributes down: the screen calls ``show(step, elapsed)`` with the engine's state."""

    DEFAULT_CSS = """
    EnginePanel {
        height: auto;
        padding: 0 1;
        margin: 0 0 1 0;
        border-left: thick $primary-darken-2;
    }
    EnginePanel.-running { border-left: thick $accent; }
    EnginePanel.-ok { border-left: thick $success; }
    EnginePanel.-failed, EnginePanel.-cancelled { border-left: thick $error; }
    EnginePanel > Horizontal { height: 1; }
    EnginePanel .engine-title { width: 16; text-style: bold; }
    EnginePanel .engine-status { width: 12; }
    EnginePanel .engine-phase { width: 1fr; color: $text-muted; }
    EnginePanel .engine-elapsed { width: 10; text-align: right; }
    EnginePanel ProgressBar { width: 1fr; height: 1; }
    EnginePanel ProgressBar Bar { width: 1fr; }
    EnginePanel .engine-result { color: $text-muted; height: auto; }
    """

    def __init__(self, engine: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.engine = engine
        self._shown: tuple | None = None

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Label(step_title(self.engine, row_titles=True), classes="engine-title", markup=False)
            yield Label("· pending", classes="engine-status", markup=False)
            yield Label("", classes="engine-phase", markup=False)
            yield Label("", classes="engine-elapsed", markup=False)
        yield ProgressBar(total=1, show_eta=False, show_percentage=True)
        yield Static("", classes="engine-result", markup=False)

    def show(self, step: StepState, elapsed: float | None) -> None:
        live = step.status in (Status.PENDING, Status.RUNNING)
        shown_time = fmt_elapsed(elapsed) if live else fmt_seconds(step.seconds)
        result = self._result_text(step)
        key = (step.status, step.phase, step.step, step.total, step.eta_s, shown_time, result)
        if key == self._shown:
            return
        self._shown = key
        for cls in ("-pending", "-running", "-ok", "-failed", "-skipped", "-cancelled"):
            self.set_class(cls == f"-{step.status}", cls)
        self.query_one(".engine-status", Label).update(status_text(step.status))
        phase = ""
        if step.status == Status.RUNNING:
            phase = f"{step.phase} ({step.step}/{step.total})" if step.total and step.phase else step.phase
            if step.eta_s is not None:
                phase += f" · ~{fmt_elapsed(step.eta_s)} left"
        elif step.status == Status.PENDING:
            phase = "waits for the steps before it"
        self.query_one(".engine-phase", Label).update(phase)
        self.query_one(".engine-elapsed", Label).update(shown_time)
        bar = self.query_one(ProgressBar)
        bar.display = step.status == Status.RUNNING  # the status says the rest; a 0% bar for minutes reads as stuck
        if step.status == Status.OK:
            bar.update(total=1, progress=1)
        elif step.total:
            bar.update(total=step.total, progress=min(step.step, step.total))
        elif step.status == Status.RUNNING:
            bar.update(total=None)  # indeterminate until TensorRT reports its first phase
        else:
            bar.update(total=1, progress=0)
        result_widget = self.query_one(".engine-result", Static)
        result_widget.update(result)
        result_widget.display = bool(result)

    @staticmethod
    def _result_text(step: StepState) -> str:
        d = step.detail
        if step.status == Status.OK:
            parts = []
            if d.get("plan") or d.get("path"):
                parts.append(str(d.get("plan") or d.get("path")))
            if d.get("size_bytes") is not None:
                parts.append(fmt_bytes(d["size_bytes"]))
            build = d.get("build_time_s", step.seconds)
            if build is not None:
                parts.append(f"{'built' if d.get('plan') else 'written'} in {fmt_seconds(build)}")
            if d.get("mechanism"):
                parts.append(str(d["mechanism"]))
            return " · ".join(parts)
        if step.status in (Status.SKIPPED, Status.FAILED, Status.CANCELLED) and step.reason:
            return step.reason
        return ""
