"""`p` on the Benchmark screen: a batch sweep's latency and throughput against batch size."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from trt_tui.widgets.sweep_plot import SweepPlot


class SweepScreen(ModalScreen[None]):
    """Both plots of the rows in ``store`` (one line per row; a single batch size gives points)."""

    DEFAULT_CSS = """
    SweepScreen { align: center middle; }
    #sweep-box { width: 96%; height: 94%; border: thick $primary; background: $surface; }
    #sweep-box SweepPlot { height: 1fr; }
    #sweep-note { height: 1; color: $text-muted; }
    """
    BINDINGS = [Binding("escape,p,q", "close", "Close", id="sweep.close")]

    def __init__(self, store, names: dict[str, str] | None = None) -> None:
        super().__init__()
        self.store, self.names = store, names or {}

    def compose(self) -> ComposeResult:
        with Vertical(id="sweep-box") as box:
            box.border_title = "Batch sweep — p50 latency and throughput per row"
            yield SweepPlot("latency", id="sweep-latency")
            yield SweepPlot("throughput", id="sweep-throughput")
            sizes = self.store.batch_sizes()
            note = (
                f"batch sizes {', '.join(map(str, sizes))}"
                if len(sizes) > 1
                else "one batch size in this run: 1,8,32 in the Model screen's Batch size (or trt-tui run "
                "--batch-sizes 1,8,32) draws lines"
            )
            yield Static(note + " · escape closes", id="sweep-note")

    def on_mount(self) -> None:
        for plot in self.query(SweepPlot):
            plot.show(self.store.rows.values(), self.names)

    def action_close(self) -> None:
        self.dismiss(None)
