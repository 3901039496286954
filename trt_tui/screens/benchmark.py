"""Screen 4 — the live benchmark table, fed by the results model (keyed, batched updates).

Rows fill in and update while measurements stream; each update touches only the cells that changed
(by row and column key). ``s`` sorts by the column under the cursor; ``e``/``j`` export the results
model (never the widget) to CSV/JSON.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.markup import escape
from textual.widgets import DataTable, Static
from textual.widgets.data_table import ColumnKey

from trt_tui.core.results import host_bound
from trt_tui.core.rows import SHORT as ROW_SHORT
from trt_tui.core.vocab import Status
from trt_tui.format import (
    APP_COLUMNS,
    ellipsize,
    fmt_ms,
    fmt_rate,
    fmt_seconds,
    fmt_speedup_ci,
    is_num,
    machine_words,
    output_banner,
    row_warnings,
    status_look,
)
from trt_tui.screens.base import RunScreen
from trt_tui.screens.layers import layers_line
from trt_tui.screens.state import BenchProgress, RunView, row_title, table_rows
from trt_tui.widgets.keyed_table import upsert_row
from trt_tui.widgets.markup import pack_markup
from trt_tui.widgets.sortable import SortableText, sort_key, sort_key_descending
from trt_tui.widgets.speedup_chart import SpeedupChart

# The metric columns are format.APP_COLUMNS (the CLI table shows the same ones, same titles and
# statistics); cell padding is 0, numbers right-aligned.
APP_KEYS = tuple(c.key for c in APP_COLUMNS)
ROW_WIDTH, STATUS_WIDTH = 15, 8  # 15 + 8 + 71 = 94 cells: every column fits a 100-column terminal
# On a narrower terminal the columns that fit are taken in this order (shown in APP_COLUMNS order), so
# that at 80 columns latency, speedup, size and both accuracy columns stay without scrolling.
COLUMN_PRIORITY = (
    "latency_p50_ms",
    "speedup_vs_pytorch",
    "size_bytes",
    "max_abs_err",
    "top1_agreement",
    "label_accuracy",
    "throughput_per_s",
    "gpu_compute_p50_ms",
    "latency_p99_ms",
    "latency_mean_ms",
)


def columns_for(width: int, row_width: int = ROW_WIDTH) -> tuple[str, ...]:
    """The metric columns that fit ``width`` cells beside the row and status columns."""
    room = width - row_width - STATUS_WIDTH
    widths = {c.key: c.width for c in APP_COLUMNS}
    chosen: set[str] = set()
    for key in COLUMN_PRIORITY:
        if widths[key] <= room:
            chosen.add(key)
            room -= widths[key]
    return tuple(c.key for c in APP_COLUMNS if c.key in chosen)


def reason_groups(rows: list[tuple[str, dict[str, Any]]], width: int = 200, max_lines: int = 2) -> list[str]:
    """Every row that did not end ok with its reason, rows with the same status and reason in one
    group: 'TensorRT FP32, TensorRT FP16: skipped — TensorRT is not installed …' (``rows``: (title, row)).
    A group takes at most ``max_lines`` lines of ``width`` cells (the row's detail line and results.json
    keep it whole)."""
    groups: dict[tuple[str, str], list[str]] = {}
    for title, row in rows:
        status = row.get("status") or Status.PENDING
        if status in (Status.OK, Status.RUNNING, Status.PENDING, Status.BUILT) or not row.get("reason"):
            continue
        groups.setdefault((status, str(row["reason"])), []).append(title)
    lines = warning_groups(rows, width, max_lines)
    for (status, reason), names in groups.items():
        look = status_look(status)
        icon = look.icon
        style = (
            "$text-error"
            if status in (Status.FAILED, Status.CRASHED)
            else "$text-warning"
            if status == Status.CANCELLED
            else "$text-muted"
        )
        head = f"{icon} {', '.join(names)}: {look.word} — "
        reason = ellipsize(reason, max(20, max_lines * width - len(head) - 2))
        lines.append(f"[{style}]{icon} [b]{escape(', '.join(names))}[/b]: {look.word}[/] — {escape(reason)}")
    return lines


def warning_groups(rows: list[tuple[str, dict[str, Any]]], width: int = 200, max_lines: int = 2) -> list[str]:
    """The doubts about ok rows' figures (format.row_warnings: noise, NaN/Inf, accuracy n/a), rows with
    the same warning in one group: '⚠ PT FP32, ORT FP32: unstable timing (…): …'."""
    groups: dict[str, list[str]] = {}
    for title, row in rows:
        if row.get("status") == Status.OK:
            for warning in row_warnings(row):
                groups.setdefault(warning, []).append(title)
    lines = []
    for warning, names in groups.items():
        head = f"⚠ {', '.join(names)}: "
        text = ellipsize(warning, max(20, max_lines * width - len(head) - 2))
        lines.append(f"[$text-warning]⚠ [b]{escape(', '.join(names))}[/b][/]: {escape(text)}")
    return lines


def row_cells(
    row: dict[str, Any], title: str, is_best: bool, progress: BenchProgress | None, shown: tuple[str, ...] = APP_KEYS
) -> tuple[SortableText, ...]:
    rid = row["row_id"]
    status = row.get("status") or Status.PENDING
    is_best = is_best and status == Status.OK
    name = ("★ " if is_best else "  ") + title
    cells = [SortableText(name, rid, style="bold green" if is_best else "")]
    if status == Status.RUNNING and progress and progress.total:
        label = f"▶ {100 * progress.step // progress.total:>3d}%"
    elif status == Status.RUNNING:
        label = "▶ run"
    else:
        label = f"{status_look(status).icon} {status_look(status).short}"
    cells.append(SortableText(" " + label[: STATUS_WIDTH - 1], status, style=status_look(status).style))
    for col in APP_COLUMNS:
        if col.key not in shown:
            continue
        value = row.get(col.key)
        style = "bold green" if is_best and col.key in ("latency_p50_ms", "speedup_vs_pytorch") else ""
        text = col.cell(row)
        if value is None and col.key == "latency_p50_ms" and status == Status.RUNNING and progress and progress.p50_ms:
            value, text, style = progress.p50_ms, "~" + col.fmt(progress.p50_ms), "dim"  # so far: provisional
        cells.append(SortableText(text, value, style=style, justify="right"))
    return tuple(cells)


def row_detail(row: dict[str, Any] | None, width: int = 200) -> str:
    """The lines under the table about the highlighted row: 'title value' pairs packed into lines
    of ``width`` cells, a pair never split across lines."""
    if not row:
        return ""
    bits = [f"[b]{escape(str(row['row_id']))}[/]"]
    if row.get("reason"):
        bits.append(f"[$warning]{escape(str(row['reason']))}[/]")
    elif hint := host_bound(row):
        bits.append(f"[$warning]{escape(hint)}[/]")
    bits += uncertainty_bits(row)
    for key, title in (
        ("device", "device"),
        ("tf32", "TF32"),
        ("batch_size", "batch"),
        ("iterations", "iters"),
        ("images_per_s", "samples/s"),
        ("latency_p90_ms", "p90"),
        ("gpu_compute_p50_ms", "GPU p50"),
        ("enqueue_p50_ms", "enqueue p50"),
        ("cosine_sim", "cosine"),
        ("build_time_s", "build"),
        ("notes", ""),
        ("artifact", ""),
    ):
        value = row.get(key)
        if value in (None, ""):
            continue
        if key == "build_time_s":
            value = fmt_seconds(value)
        elif key == "images_per_s":
            value = fmt_rate(value)
        elif key.endswith("_ms"):
            value = fmt_ms(value) + " ms"
        elif key == "cosine_sim" and is_num(value):
            value = f"{value:.6f}"
        value = escape(str(value))
        bits.append(f"[dim]{title}[/] {value}" if title else f"[dim]{value}[/]")
    return pack_markup(bits, width)


def uncertainty_bits(row: dict[str, Any]) -> list[str]:
    """'p50 CI 5.91–5.98 ms', 'CoV 1.2%', 'speedup 1.42× (1.38–1.46)' for the row detail."""
    bits = []
    lo, hi = row.get("latency_p50_ci_low_ms"), row.get("latency_p50_ci_high_ms")
    if is_num(lo) and is_num(hi):
        bits.append(f"[dim]p50 CI[/] {fmt_ms(lo)}–{fmt_ms(hi)} ms")
    if is_num(row.get("latency_cov")):
        bits.append(f"[dim]CoV[/] {row['latency_cov']:.1%}")
    if is_num(row.get("speedup_ci_low")):
        bits.append(f"[dim]speedup[/] {escape(fmt_speedup_ci(row, 'speedup_vs_pytorch', True))}")
    if row.get("stopped_by") in ("ci", "time"):
        bits.append(f"[dim]stopped by[/] {'the CI target' if row['stopped_by'] == 'ci' else '--max-seconds'}")
    n_gpu, n = row.get("gpu_compute_iterations"), row.get("iterations")
    if is_num(n_gpu) and is_num(n) and n_gpu < n:  # the GPU-compute loop stopped once as precise as the latency
        bits.append(f"[dim]GPU from[/] {n_gpu:,} of {n:,} iterations")
    return bits


class BenchmarkScreen(RunScreen):
    """Latency, throughput, speedup and accuracy per row, live."""

    SCREEN_NAME = "benchmark"
    BINDINGS = [
        Binding("m", "app.run_stage('benchmark')", "Run benchmark", id="benchmark.run"),
        Binding("s", "sort_column", "Sort", id="benchmark.sort"),
        Binding("p", "sweep_plot", "Plot", show=False, id="benchmark.plot"),
        Binding("a", "layers", "Per layer", show=False, id="benchmark.layers"),
    ]

    def __init__(self) -> None:
        super().__init__(id="benchmark-screen")
        self.sort_by: str | None = None
        self.sort_reverse = False
        self.shown: tuple[str, ...] = ()  # the metric columns on screen (columns_for the width)
        self.row_width = ROW_WIDTH  # wider in a sweep: the titles carry the point (batch size, dim sizes)
        self._order_dirty = False

    def compose_body(self) -> ComposeResult:
        yield Static("", id="bench-env")
        yield Static("", id="bench-warn")  # outputs that cannot be trusted (NaN reference, ...): above the table
        table: DataTable[Any] = DataTable(
            id="bench", cursor_type="cell", zebra_stripes=True, fixed_columns=1, cell_padding=0
        )
        table.border_title = "Benchmark (latency: host end-to-end, GPU: compute only, ms)"
        yield table
        with Vertical(id="bench-bottom"):
            yield Static("", id="bench-reasons")  # why each row that is not ok is not, all at once
            yield Static("", id="bench-detail")
            yield Static("", id="bench-best")
            chart = SpeedupChart(id="speedups")  # last: on a short terminal it is what gets cut
            chart.border_title = "Speedup vs PyTorch FP32 (p50 latency)"
            yield chart

    def on_mount(self) -> None:
        self._set_columns(columns_for(ROW_WIDTH + STATUS_WIDTH + sum(c.width for c in APP_COLUMNS)))

    def _set_columns(self, shown: tuple[str, ...]) -> None:
        """(Re)make the table's columns; rows are re-added by the next sync."""
        table = self.query_one("#bench", DataTable)
        self.shown = shown
        table.clear(columns=True)
        table.add_column("  Row", key="row", width=self.row_width)
        table.add_column(" Status", key="status", width=STATUS_WIDTH)
        for col in APP_COLUMNS:
            if col.key in shown:
                table.add_column(Text(col.title, justify="right"), key=col.key, width=col.width)
        if self.sort_by not in ("row", "status") + shown:
            self.sort_by, self.sort_reverse = None, False

    def on_resize(self) -> None:
        self.call_after_refresh(self._sync_all)

    def action_layers(self) -> None:
        from trt_tui.screens import layers

        layers.open_list(self, self.state.out_dir, self._cursor_row_id())

    def action_sweep_plot(self) -> None:
        from trt_tui.screens.sweep import SweepScreen

        self.app.push_screen(SweepScreen(self.state.store, ROW_SHORT))

    # -- sync ----------------------------------------------------------------------------------
    def sync(self, state: RunView) -> None:
        store = state.store
        table = self.query_one("#bench", DataTable)
        room = table.scrollable_content_region.width
        # the titles carry the point of a sweep (row_title: ' b32', ' seq=128'): the column widens by it
        row_width = ROW_WIDTH + max(
            (len(label) + 1 for r in store.rows.values() if (label := store.sweep_label(r))), default=0
        )
        if room > 0 and (columns_for(room, row_width) != self.shown or row_width != self.row_width):
            self.row_width = row_width  # the columns that fit without scrolling
            self._set_columns(columns_for(room, row_width))
        best = store.best
        added = False
        wanted = table_rows(state)
        for key in list(table.rows):
            if key.value not in wanted:
                table.remove_row(key)
        for rid in wanted:
            row = store.rows.get(rid) or {"row_id": rid, "status": Status.PENDING}
            cells = row_cells(row, row_title(store, rid), rid == best, state.bench_progress.get(rid), self.shown)
            before = _sort_value(table, rid, self.sort_by)
            added |= upsert_row(table, rid, ("row", "status") + self.shown, cells)
            if self.sort_by and before != _sort_value(table, rid, self.sort_by):
                self._order_dirty = True
        if self.sort_by and (added or self._order_dirty):
            self._apply_sort()
        self.query_one("#bench-env", Static).update(env_line(state))
        warn = self.query_one("#bench-warn", Static)
        banner = output_banner(store.rows.values())
        warn.update("\n".join(f"[$text-warning]{escape(line)}[/]" for line in banner))
        warn.display = bool(banner)
        box = self.query_one("#bench-reasons", Static)
        reasons = reason_groups(
            [(row_title(store, r), store.rows[r]) for r in wanted if r in store.rows],
            (box.size.width or self.size.width) - 2,
        )
        box.update("\n".join(reasons))
        box.display = bool(reasons)
        self._sync_bottom(state)
        title = "Benchmark (latency: host end-to-end, GPU: compute only, ms)"
        if self.sort_by:
            title += (
                f" — sorted by {table.columns[ColumnKey(self.sort_by)].label.plain} {'↓' if self.sort_reverse else '↑'}"
            )
        table.border_title = title

    def _sync_bottom(self, state: RunView) -> None:
        store = state.store
        chart_rows = [
            (row_title(store, rid), store.rows[rid].get("speedup_vs_pytorch"))
            for rid in table_rows(state)
            if rid in store.rows and store.rows[rid].get("status") == Status.OK
        ]
        best_title = row_title(store, store.best)
        self.query_one(SpeedupChart).show(chart_rows if any(is_num(v) for _, v in chart_rows) else [], best_title)
        best = store.best
        if best:
            ties = store.ties()
            tie = (
                f" [$warning]a tie within noise with {escape(', '.join(row_title(store, t) for t in ties))}[/]"
                if ties
                else ""
            )
            text = f"[b $success]★ best: {escape(row_title(store, best))}[/]{tie} [dim]{escape(store.best_rule)}[/]"
        elif state.finished is not None or not state.running:
            text = f"[dim]no best row yet{f' ({escape(store.best_rule)})' if store.best_rule else ''}[/]"
        else:
            text = ""
        self.query_one("#bench-best", Static).update(text)
        self._sync_detail()

    def _sync_detail(self) -> None:
        table = self.query_one("#bench", DataTable)
        row = None
        if table.row_count:
            try:
                key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
                row = self.state.store.rows.get(str(key))
            except Exception:  # noqa: BLE001 - cursor outside the table while it fills
                row = None
        detail = self.query_one("#bench-detail", Static)
        width = (detail.size.width or self.size.width - 4) - 2
        text = row_detail(row, width)
        if row and (per_layer := layers_line(self.state.out_dir, str(row["row_id"]), width)):
            text = per_layer + "\n" + text  # first: the detail's last lines are the ones cut
        detail.update(text)

    def _cursor_row_id(self) -> str | None:
        table = self.query_one("#bench", DataTable)
        try:
            return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        except Exception:  # noqa: BLE001 - an empty table
            return None

    @on(DataTable.CellHighlighted, "#bench")
    def _highlighted(self) -> None:
        self._sync_detail()

    # -- sorting -------------------------------------------------------------------------------
    def action_sort_column(self) -> None:
        table = self.query_one("#bench", DataTable)
        if not table.row_count:
            return
        column = str(table.coordinate_to_cell_key(table.cursor_coordinate).column_key.value)
        if column == self.sort_by:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_by, self.sort_reverse = column, False
        self._apply_sort()
        self.sync(self.state)

    def _apply_sort(self) -> None:
        table = self.query_one("#bench", DataTable)
        if self.sort_by:
            cursor_key = table.coordinate_to_cell_key(table.cursor_coordinate) if table.row_count else None
            table.sort(self.sort_by, key=sort_key_descending if self.sort_reverse else sort_key)
            if cursor_key is not None:
                row = table.get_row_index(cursor_key.row_key)
                table.move_cursor(row=row, animate=False)
        self._order_dirty = False


def _sort_value(table: DataTable, row_key: str, column: str | None) -> Any:
    if column is None or row_key not in table.rows:
        return None
    return sort_key(table.get_cell(row_key, column))


def env_line(state: RunView) -> str:
    env = state.store.env
    cfg = state.config
    bits: list[tuple[str, Any]] = []
    if env:
        bits.append(("device", env.get("gpu") or env.get("device")))
        bits.append(("torch", env.get("torch")))
        bits.append(("TensorRT", env.get("tensorrt") or "not installed"))
        bits.append(("onnxruntime", env.get("onnxruntime")))
    if state.store.rows:
        bits.append(("model", cfg.model))
        bits.append(("batch", ",".join(map(str, state.store.batch_sizes() or cfg.sizes()))))
    if env and (machine := machine_words(env)):
        bits.append(("machine", machine))
    if state.source.startswith("reopened"):
        bits.append(("", state.source))
    text = "  ".join(
        f"[dim]{k}[/] {escape(str(v))}" if k else f"[dim]{escape(str(v))}[/]" for k, v in bits if v not in (None, "")
    )
    return text or "[dim]no results yet: press r to run all, o to reopen earlier results[/]"
