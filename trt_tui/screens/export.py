"""Screen 2 — export to ONNX: each step with its state, time and result; the ONNX report; parity."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.markup import escape
from textual.widgets import DataTable, Static, TextArea

from trt_tui.core.vocab import Status
from trt_tui.format import (
    ellipsize,
    fmt_bytes,
    fmt_count,
    fmt_elapsed,
    fmt_err,
    fmt_seconds,
    is_num,
    status_look,
    status_text,
    step_title,
)
from trt_tui.screens.base import RunScreen
from trt_tui.screens.state import RunView, StepState
from trt_tui.widgets.keyed_table import upsert_row
from trt_tui.widgets.markup import pack_markup


def step_result(step: StepState) -> str:
    """One line saying what a step produced."""
    d = step.detail
    if step.status == Status.FAILED:
        return step.reason
    if step.status in (Status.SKIPPED, Status.CANCELLED):
        return "not run" + (f" ({step.reason})" if step.reason and step.name == "export" else "")
    if step.status != Status.OK:
        return ""
    if step.name == "export":
        bits = [str(d["path"]) if d.get("path") else "", fmt_bytes(d.get("size_bytes"))]
        if d.get("exporter"):
            bits.append(f"{d['exporter']} exporter")
        return " · ".join(b for b in bits if b) or "ok"
    if step.name == "checker":
        return "model is valid" + (f" (IR {d['ir_version']})" if d.get("ir_version") else "")
    if step.name == "parity":
        outputs = parity_outputs(d)
        if outputs:
            worst = max((o.get("max_abs_err") or 0.0) for o in outputs)
            return f"{len(outputs)} output(s), worst max |Δ| {fmt_err(worst)}"
        return "matches PyTorch"
    return ""


def parity_outputs(detail: dict[str, Any]) -> list[dict[str, Any]]:
    """Per-output parity records, wherever the detail keeps them."""
    for candidate in (
        detail.get("outputs"),
        (detail.get("parity") or {}).get("outputs") if isinstance(detail.get("parity"), dict) else None,
    ):
        if isinstance(candidate, list):
            return [o for o in candidate if isinstance(o, dict)]
    return []


def onnx_summary(d: dict[str, Any], width: int = 200) -> str:
    """The ONNX report as 'title value' pairs packed into lines of ``width`` cells (a pair is never
    split across lines)."""
    if not d:
        return "[dim]the ONNX report appears once the model is exported[/]"
    ops = d.get("ops")
    ops_text = (
        " ".join(f"{k}×{v}" for k, v in sorted(ops.items(), key=lambda kv: -kv[1])[:6]) if isinstance(ops, dict) else ""
    )
    items = [
        ("file", d.get("path")),
        ("size", fmt_bytes(d.get("size_bytes"))),
        ("nodes", fmt_count(d.get("nodes"))),
        ("parameters", fmt_count(d.get("parameters"))),
        ("opset", d.get("opset")),
        ("exporter", d.get("exporter")),
        ("IR", d.get("ir_version")),
        ("inputs", _io(d.get("inputs"))),
        ("outputs", _io(d.get("outputs")) if _is_io(d.get("outputs")) else ""),
        ("ops", ops_text),
    ]
    text = pack_markup([f"[dim]{k}[/] [b]{escape(str(v))}[/]" for k, v in items if v not in (None, "")], width)
    return text or "[dim]no ONNX model: the export did not finish[/]"


def _is_io(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, dict) and "shape" in v for v in value)


def _io(value: Any) -> str:
    if not isinstance(value, list):
        return ""
    parts = []
    for v in value:
        if isinstance(v, dict):
            shape = "×".join(str(x) for x in v.get("shape", []))
            parts.append(f"{v.get('name', '?')}[{shape}]")
        else:
            parts.append(str(v))
    return ", ".join(parts)


class ExportScreen(RunScreen):
    """The ONNX export and its checks. On failure the full message is shown, selectable."""

    SCREEN_NAME = "export"
    TICK_WHILE_RUNNING = True
    BINDINGS = [
        Binding("x", "app.run_stage('export')", "Run export", id="export.run"),
        Binding("y", "copy_error", "Copy error", id="export.copy_error"),
    ]

    def __init__(self) -> None:
        super().__init__(id="export-screen")
        self._shown_error = ""

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="export-body"):
            steps: DataTable[Any] = DataTable(id="export-steps", cursor_type="row", show_cursor=False)
            steps.border_title = "Steps"
            yield steps
            yield Static("", id="onnx-info")
            parity: DataTable[Any] = DataTable(id="parity", cursor_type="row", show_cursor=False)
            parity.border_title = "onnxruntime vs PyTorch, per output"
            yield parity
            with Vertical(id="export-error-box"):
                yield Static("", id="export-error-title")
                yield TextArea("", id="export-error", read_only=True, soft_wrap=True, show_line_numbers=False)

    def on_mount(self) -> None:
        steps = self.query_one("#export-steps", DataTable)
        steps.add_column("Step", key="step", width=20)
        steps.add_column("State", key="state", width=11)
        steps.add_column("Time", key="time", width=8)
        steps.add_column("Result", key="result")
        parity = self.query_one("#parity", DataTable)
        for key, title in (
            ("name", "Output"),
            ("max_abs_err", "max |Δ|"),
            ("mean_abs_err", "mean |Δ|"),
            ("max_rel_err", "max rel"),
            ("cosine_sim", "cosine"),
            ("verdict", "within tol."),
        ):
            parity.add_column(title, key=key)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "copy_error":
            return bool(self._shown_error)  # hidden until there is an error to copy
        return True

    def sync(self, state: RunView) -> None:
        steps = self.query_one("#export-steps", DataTable)
        room = max(20, steps.scrollable_content_region.width - 47)  # the Result column takes what is left
        for name, step in state.export_steps.items():
            if step.status == Status.RUNNING:
                shown_time = fmt_elapsed(state.elapsed(step.started_at))
            else:
                shown_time = fmt_seconds(step.seconds)
            cells = (
                Text(step_title(name)),
                Text(status_text(step.status), style=status_look(step.status).style),
                Text(shown_time),
                Text(ellipsize(step_result(step), room)),
            )
            upsert_row(steps, name, ("step", "state", "time", "result"), cells)
        info = self.query_one("#onnx-info", Static)
        info.update(onnx_summary(state.export_detail, (info.size.width or self.size.width - 4) - 2))
        self._sync_parity(state)
        self._sync_error(state)

    def _sync_parity(self, state: RunView) -> None:
        """The parity table: each output against PyTorch through onnxruntime."""
        parity = self.query_one("#parity", DataTable)
        parity_detail = state.export_steps["parity"].detail or state.export_detail.get("parity") or {}
        outputs = parity_outputs(parity_detail)
        names = state.export_detail.get("output_names") or []
        parity.display = bool(outputs)
        passed = parity_detail.get("passed")
        for i, out in enumerate(outputs):
            ok = out.get("passed", out.get("ok", passed if len(outputs) == 1 else None))
            verdict = (
                Text("✔ yes", style="green")
                if ok is True
                else Text("✘ no", style="bold red")
                if ok is False
                else Text("")
            )
            name = out.get("name") or (names[i] if i < len(names) else f"output {i}")
            shape = "×".join(map(str, out.get("shape") or []))
            out_cells = (
                Text(f"{name} [{shape}]" if shape else str(name)),
                Text(fmt_err(out.get("max_abs_err"))),
                Text(fmt_err(out.get("mean_abs_err"))),
                Text(fmt_err(out.get("max_rel_err"))),
                Text(f"{out['cosine_sim']:.6f}" if is_num(out.get("cosine_sim")) else ""),
                verdict,
            )
            upsert_row(
                parity,
                f"out{i}",
                ("name", "max_abs_err", "mean_abs_err", "max_rel_err", "cosine_sim", "verdict"),
                out_cells,
            )
        tolerance = parity_detail.get("tolerance")
        parity.border_subtitle = f"{parity_detail.get('provider', '')}  tol. {tolerance}" if tolerance else ""

    def _sync_error(self, state: RunView) -> None:
        error = state.export_failure()
        box = self.query_one("#export-error-box")
        box.display = bool(error)
        if error != self._shown_error:
            self._shown_error = error
            self.query_one("#export-error-title", Static).update(
                "[b $error]Export failed[/] — the full message (select with shift+arrows, [b]y[/] copies it all)"
            )
            self.query_one("#export-error", TextArea).load_text(error)
            self.refresh_bindings()

    def on_resize(self) -> None:
        self.call_after_refresh(self._sync_all)

    def action_copy_error(self) -> None:
        if self._shown_error:
            self.app.copy_to_clipboard(self._shown_error)
            self.notify("error message copied to the clipboard (OSC 52)", timeout=3)
