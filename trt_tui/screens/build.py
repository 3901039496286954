"""Screen 3 — TensorRT engine builds: a panel per engine and TensorRT's log, or the run's timeline
(``t``; shown by itself once the run has ended): where the seconds went, stage by stage and phase by phase.

Builds run in the child process, driven by the App's job worker: leaving this screen does not stop
them, and ``c`` cancels the job (the child's process group gets SIGTERM).
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.markup import escape
from textual.widgets import RichLog, Static

from trt_tui.core import timeline
from trt_tui.core.events import Log as LogEvent
from trt_tui.core.vocab import Status
from trt_tui.format import fmt_elapsed
from trt_tui.screens.base import RunScreen
from trt_tui.screens.state import LOG_LEVELS, RunView, level_rank
from trt_tui.widgets.engine_panel import EnginePanel

LEVEL_TAGS = {0: "V", 1: "I", 2: "W", 3: "E"}


LEVEL_STYLES = {0: "dim", 1: "", 2: "yellow", 3: "bold red"}


def log_line(event: LogEvent) -> Text:
    rank = level_rank(event.level)
    source = event.source or "trt-tui"
    line = Text(f"{LEVEL_TAGS.get(rank, 'I')} ", style=LEVEL_STYLES.get(rank, ""))
    line.append(f"[{source}] ", style="dim" if source != "tensorrt" else "cyan")
    line.append(event.message, style=LEVEL_STYLES.get(rank, ""))
    return line


class BuildScreen(RunScreen):
    """One panel per engine with its progress, and the log pane with a level filter."""

    SCREEN_NAME = "build"
    TICK_WHILE_RUNNING = True
    AUTO_FOCUS = "#build-log"  # arrows scroll the log (the engine list may not be focusable yet)
    BINDINGS = [
        Binding("b", "app.run_stage('build')", "Run build", id="build.run"),
        Binding("l", "cycle_level", "Log level", id="build.log_level"),
        Binding("t", "toggle_timeline", "Timeline", id="build.timeline", show=False),
    ]

    def __init__(self) -> None:
        super().__init__(id="build-screen")
        self.min_level = 1  # info
        self._log_shown = 0  # state.log_total already written to the pane
        self._log_filter_shown = -1
        self.show_timeline: bool | None = None  # None: the log while a run goes on, the timeline after it
        self._timeline_shown: tuple[int, str] | None = None

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="engines"):
            yield Static("", id="build-summary")
        yield RichLog(
            id="build-log", max_lines=2000, min_width=20, auto_scroll=True, wrap=True, markup=False, highlight=False
        )
        with VerticalScroll(id="build-timeline-pane"):
            yield Static("", id="build-timeline", markup=False)

    def on_mount(self) -> None:
        self._update_log_title()

    def _update_log_title(self) -> None:
        log = self.query_one("#build-log", RichLog)
        log.border_title = f"Log (≥ {LOG_LEVELS[self.min_level]})"
        log.border_subtitle = "l: level · t: timeline"

    def on_resize(self) -> None:
        self._log_filter_shown = -1  # re-wrap the log to the new width on the next sync
        self.call_after_refresh(self._sync_all)

    def action_cycle_level(self) -> None:
        self.min_level = (self.min_level + 1) % len(LOG_LEVELS)
        self._update_log_title()
        self.sync(self.state)

    def action_toggle_timeline(self) -> None:
        self.show_timeline = not self.query_one("#build-timeline-pane").display
        self.sync(self.state)

    def sync(self, state: RunView) -> None:
        self._sync_engines(state)
        self._sync_log(state)
        self._sync_timeline(state)

    def _sync_timeline(self, state: RunView) -> None:
        """The timeline pane in place of the log: when asked for (t), or by itself once the run ended."""
        entries, origin = state.timeline_entries()
        show = self.show_timeline if self.show_timeline is not None else bool(entries) and not state.running
        pane = self.query_one("#build-timeline-pane", VerticalScroll)
        log = self.query_one("#build-log", RichLog)
        if pane.display != show and (self.focused is None or self.focused in (pane, log)):
            self.set_focus(pane if show else log)  # the arrows scroll what is shown
        pane.display, log.display = show, not show
        self.set_class(show, "-timeline")  # the engines give the timeline most of the screen
        if not show or self._timeline_shown == (len(entries), origin):
            return
        self._timeline_shown = (len(entries), origin)
        pane.border_title = f"Timeline · {timeline.span_s(entries):.1f} s" if entries else "Timeline"
        pane.border_subtitle = "t: log"
        if not entries:
            text = "no timeline yet: it fills in as the stages end"
        else:
            text = "\n".join([*timeline.summary_lines(entries, origin), "", *timeline.entry_lines(entries)])
        self.query_one("#build-timeline", Static).update(text)

    def _sync_engines(self, state: RunView) -> None:
        """A panel per ONNX preparation step (Q/DQ INT8, FP16) and per engine; a ticking line while the
        quantize stage runs a step that reports no progress."""
        box = self.query_one("#engines", VerticalScroll)
        summary = self.query_one("#build-summary", Static)
        stage = state.stages.get("build")
        quantize = state.stages.get("quantize")
        lines = []
        if (
            quantize is not None
            and quantize.status == Status.RUNNING
            and not any(s.status == Status.RUNNING for s in state.quantize_steps.values())
        ):
            since = state.elapsed(state.quantize_idle_since or quantize.started_at)
            lines.append(
                f"[b $accent]▶[/] {escape(quantize.title or 'quantize')} [dim]— running[/] {fmt_elapsed(since)}"
            )
        if stage is not None and stage.status == Status.SKIPPED:
            lines.append(f"[b $warning]build skipped[/]: {escape(stage.reason)}")
        elif not state.engines and not state.quantize_steps:
            lines.append("[dim]no TensorRT rows selected (choose them on the Model screen)[/]")
        summary.update("\n".join(lines))
        summary.display = bool(lines)
        wanted = [(f"prep-{n}", s) for n, s in state.quantize_steps.items()]
        wanted += [(f"engine-{n}", s) for n, s in state.engines.items()]
        panels = {p.id: p for p in self.query(EnginePanel)}
        for pid, step in wanted:
            if pid not in panels:
                panel = EnginePanel(step.name, id=pid)
                before = next((panels[w] for w, _ in wanted if w in panels and w.startswith("engine-")), None)
                if pid.startswith("prep-") and before is not None:
                    box.mount(panel, before=before)
                else:
                    box.mount(panel)
                panels[pid] = panel
        steps = dict(wanted)
        for panel_id, panel in panels.items():
            panel_step = steps.get(panel_id or "")
            if panel_step is None:
                panel.remove()
                continue
            if panel.is_mounted and panel.children:
                panel.show(panel_step, state.elapsed(panel_step.started_at))
            else:
                panel.call_after_refresh(lambda p=panel, s=panel_step: p.show(s, self.state.elapsed(s.started_at)))

    def _sync_log(self, state: RunView) -> None:
        log = self.query_one("#build-log", RichLog)
        if self._log_filter_shown != self.min_level or state.log_total < self._log_shown:
            log.clear()
            self._log_shown = state.log_total - len(state.logs)
            self._log_filter_shown = self.min_level
        new = state.log_total - self._log_shown
        if new <= 0:
            return
        recent = list(state.logs)[-new:] if new <= len(state.logs) else list(state.logs)
        lines = [log_line(e) for e in recent if level_rank(e.level) >= self.min_level]
        width = log.scrollable_content_region.width
        for line in lines:
            # wrap to the pane (the app console's width is not the pane's)
            log.write(line, width=width if width > 10 else None)
        self._log_shown = state.log_total
