"""Two runs side by side (palette → Compare with another run): per row and batch size, A's and B's
p50 latency, the change with its 95 % CI and the verdict — the same as ``trt-tui compare A B``."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.markup import escape
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from trt_tui.core import compare
from trt_tui.core.rows import short
from trt_tui.format import fmt_ms

VERDICT_STYLE = {compare.SLOWER: "bold red", compare.FASTER: "bold green", compare.SAME: "", compare.UNKNOWN: "dim"}
VERDICT_SHORT = {compare.SLOWER: "slower", compare.FASTER: "faster", compare.SAME: "≈ same", compare.UNKNOWN: "no data"}


def summary(changes: list[compare.RowChange]) -> str:
    slower = compare.regressed(changes)
    if not changes:
        return "[$warning]no row measured ok in both runs[/]"
    notes = "".join(f"\n[$warning]⚠[/] {escape(n)}" for c in changes if (n := compare.noise_note(c, short)))
    if slower:
        names = ", ".join(short(c.row_id) + (f" b{c.batch_size}" if c.batch_size else "") for c in slower)
        return f"[b $error]{len(slower)} slower beyond noise:[/] {escape(names)}{notes}"
    return f"[$success]no row slower beyond noise[/] [dim]({len(changes)} compared)[/]{notes}"


class CompareScreen(Screen[None]):
    """B (the run shown) against A (the one picked), row by row."""

    DEFAULT_CSS = """
    CompareScreen #cmp-head { height: auto; padding: 0 1; }
    CompareScreen #cmp { height: auto; max-height: 1fr; margin: 0 1; border: round $primary-darken-2; }
    CompareScreen #cmp-summary { height: auto; padding: 0 1; }
    """
    BINDINGS = [Binding("escape,q", "close", "Back", id="compare.close")]

    def __init__(
        self, changes: list[compare.RowChange], a: str, b: str, min_change: float = compare.MIN_CHANGE
    ) -> None:
        super().__init__(id="compare-screen")
        self.changes, self.a, self.b, self.min_change = changes, a, b, min_change

    def compose(self) -> ComposeResult:
        yield Static(f"[dim]A[/] {escape(self.a)}\n[dim]B[/] {escape(self.b)}", id="cmp-head")
        table: DataTable[Any] = DataTable(id="cmp", cursor_type="row", zebra_stripes=True, cell_padding=1)
        table.border_title = f"B against A: p50 latency (ms), same within noise = CI within ±{self.min_change:.0%}"
        yield table
        yield Static(summary(self.changes), id="cmp-summary")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#cmp", DataTable)
        table.add_column("Row", key="row")
        for key, title in (("batch", "batch"), ("a", "A p50"), ("b", "B p50"), ("change", "change (95% CI)")):
            table.add_column(Text(title, justify="right"), key=key)
        table.add_column("verdict", key="verdict")
        for c in self.changes:
            table.add_row(
                short(c.row_id),
                Text(str(c.batch_size or ""), justify="right"),
                Text(fmt_ms(c.a_p50), justify="right"),
                Text(fmt_ms(c.b_p50), justify="right"),
                Text(compare.fmt_change(c), justify="right"),
                Text(VERDICT_SHORT[c.verdict] + (" ⚠" if c.noise else ""), style=VERDICT_STYLE[c.verdict]),
                key=f"{c.row_id}@{c.batch_size}",
            )
        table.focus()

    def action_close(self) -> None:
        self.dismiss(None)
