"""The per-layer view of a FP16/INT8 row: a line for the row detail, and the full list (a modal).

Reads ``layers.json`` (core/layers.py, written by ``--explain-accuracy``) from the results folder;
the numbers are onnxruntime's on the same ONNX files TensorRT builds from.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from trt_tui.core import layers
from trt_tui.core.vocab import Status
from trt_tui.widgets.markup import pack_markup

_cache: dict[Path, tuple[float, dict[str, Any] | None]] = {}
ROWS = {r for rows in layers.VARIANT_ROWS.values() for r in rows}


def load_cached(out_dir: Path | None) -> dict[str, Any] | None:
    """layers.json of a results folder, read again only when the file changed."""
    if out_dir is None:
        return None
    path = Path(out_dir) / layers.FILE
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return None
    if path not in _cache or _cache[path][0] != mtime:
        _cache[path] = (mtime, layers.load(out_dir))
    return _cache[path][1]


def detail_line(data: dict[str, Any] | None, row_id: str, width: int = 200) -> str:
    """Markup for the row detail of a FP16/INT8 row, packed into lines of ``width`` cells ('' for the
    other rows or without layers.json): overflow first, then the node that added most, the first jump."""
    found = layers.rows_view(data, row_id)
    if not found:
        return ""
    name, entry = found
    bits = [f"[b]{name.upper()} per layer[/] [dim](onnxruntime)[/]"]
    if entry.get("status") != Status.OK:
        bits.append(escape(str(entry.get("reason") or entry.get("status"))))
        return pack_markup(bits, width)
    nodes = layers.by_node(entry)
    if entry.get("overflow"):
        o = entry["overflow"][0]
        bits.append(f"[$error]{escape(layers.where_of(o))}: {escape(o['problem'])}[/]")
    top = nodes[entry["top_growth"][0]] if entry.get("top_growth") else None
    if top:
        bits.append(f"[dim]most added[/] {escape(layers.where_of(top))} +{top['growth']:.2g}")
    jump = entry["first_jumps"][0] if entry.get("first_jumps") else None
    if jump and (top is None or jump != top["node"]):
        bits.append(f"[dim]first jump[/] {escape(jump)}")
    bits.append("[dim]a: all layers[/]")
    return pack_markup(bits, width)


def layers_line(out_dir: Path | None, row_id: str, width: int = 200) -> str:
    """The per-layer lines of a row from its results folder's layers.json ('' when none)."""
    if row_id not in ROWS:
        return ""  # no file read for the rows the view does not explain
    return detail_line(load_cached(out_dir), row_id, width)


def open_list(screen: Any, out_dir: Path | None, row_id: str | None) -> None:
    """Open every layer of the highlighted FP16/INT8 row, or say in one line why there is none."""
    data = load_cached(out_dir)
    found = layers.rows_view(data, row_id or "")
    if row_id not in ROWS:
        screen.notify("per layer: highlight an FP16 or INT8 row (tensorrt-fp16, tensorrt-int8, onnxruntime-int8)")
    elif not found:
        screen.notify(
            "no per-layer view in this results folder: ctrl+p → Run all with per-layer accuracy "
            "(or `trt-tui run … --explain-accuracy`, then reopen the folder with o)",
            severity="warning",
        )
    elif found[1].get("status") != Status.OK:
        screen.notify(
            f"per layer ({found[0].upper()}): {found[1].get('reason') or found[1].get('status')}", severity="warning"
        )
    else:
        screen.app.push_screen(LayersScreen(found[0], found[1]))


def _num(v: Any, spec: str) -> Text:
    return Text("—" if v is None else format(v, spec), justify="right")


class LayersScreen(ModalScreen[None]):
    """Every compared node of one variant: the largest growth first."""

    BINDINGS = [Binding("escape,q,a", "dismiss", "Close", id="layers.close")]
    DEFAULT_CSS = """
    LayersScreen { align: center middle; }
    LayersScreen #layers-box { width: 95%; max-width: 140; height: 90%; border: thick $primary;
                               background: $surface; padding: 0 1; }
    LayersScreen #layers-table { height: 1fr; }
    LayersScreen .dialog-title, LayersScreen .dialog-hint { height: auto; }
    """

    def __init__(self, name: str, entry: dict[str, Any]) -> None:
        super().__init__(id="layers-dialog")
        self.variant, self.entry = name, entry

    def compose(self) -> ComposeResult:
        e = self.entry
        with Vertical(id="layers-box"):
            yield Static(
                f"[b]Per layer: {self.variant.upper()} against FP32[/]  [dim]{e.get('tensors_compared')} "
                f"tensors, output rel. error {layers._g(e.get('output_loss'))}[/]",
                classes="dialog-title",
            )
            table: DataTable[Any] = DataTable(id="layers-table", cursor_type="row", zebra_stripes=True)
            yield table
            yield Static(
                "[dim]onnxruntime's view of the ONNX file (TensorRT cannot mark every layer cheaply) · "
                "added = relative error over the node's inputs' · escape closes[/]",
                classes="dialog-hint",
            )

    def on_mount(self) -> None:
        table = self.query_one("#layers-table", DataTable)
        for title, key in (
            ("node [module]", "node"),
            ("op", "op"),
            ("added", "growth"),
            ("rel err", "loss"),
            ("cosine", "cosine"),
            ("max |Δ|", "max"),
            ("note", "note"),
        ):
            table.add_column(title, key=key)
        nodes = [n for n in self.entry.get("nodes", []) if "growth" in n]
        for n in sorted(nodes, key=lambda n: n["growth"], reverse=True):
            note = n.get("problem") or (f"reads INT8 {', '.join(n['int8_inputs'][:2])}" if n.get("int8_inputs") else "")
            table.add_row(
                Text(layers.where_of(n)),
                n["op"],
                _num(n["growth"], "+.3g"),
                _num(n["loss"], ".3g"),
                _num(n["cosine"], ".4f"),
                _num(n.get("max_abs_err"), ".3g"),
                Text(note, style="bold red" if n.get("problem") else "dim"),
            )
        table.focus()
