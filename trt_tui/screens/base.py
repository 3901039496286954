"""What the four main screens share: the top bar, the footer, and rendering from the run state."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer

from trt_tui.messages import StateChanged
from trt_tui.screens.state import RunView
from trt_tui.widgets.topbar import TopBar

if TYPE_CHECKING:
    from trt_tui.app_api import TrtTuiAppApi


class RunScreen(Screen):
    """A main screen. Subclasses compose their body and implement ``sync`` (idempotent: draws
    the current ``RunView``; called on resume and whenever the state moves on)."""

    SCREEN_NAME: ClassVar[str] = ""
    TICK_WHILE_RUNNING: ClassVar[bool] = False  # re-draw twice a second while a job runs (elapsed times)

    @property
    def trt_app(self) -> TrtTuiAppApi:
        return cast("TrtTuiAppApi", self.app)

    @property
    def state(self) -> RunView:
        return self.trt_app.state

    def compose(self) -> ComposeResult:
        yield TopBar(self.SCREEN_NAME)
        yield from self.compose_body()
        yield Footer(compact=True)

    def compose_body(self) -> ComposeResult:
        yield from ()

    def on_mount(self) -> None:
        self.call_after_refresh(self.trt_app.mark_first_paint)
        self.set_interval(0.5, self._tick)

    def on_screen_resume(self) -> None:
        self._sync_all()

    def on_state_changed(self, message: StateChanged) -> None:
        self._sync_all()

    def _tick(self) -> None:
        """While a job runs, elapsed times move: the top bar always, the whole screen if it shows them."""
        if not (self.state.running and self.is_current):
            return
        if self.TICK_WHILE_RUNNING:
            self._sync_all()
        else:
            bar = self.query_one(TopBar)
            bar.status, bar.detail = self.state.status_line()

    def _sync_all(self) -> None:
        if not self.is_mounted:
            return
        bar = self.query_one(TopBar)
        bar.status, bar.detail = self.state.status_line()
        bar.running = self.state.running
        with self.app.batch_update():
            self.sync(self.state)

    def sync(self, state: RunView) -> None:
        raise NotImplementedError
