"""Screen 1 — model selection and run settings, with what this machine can do."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.markup import escape
from textual.widgets import DataTable, Input, Label, Select, SelectionList, Static
from textual.widgets.selection_list import Selection

from trt_tui.core import inputs as inp
from trt_tui.core.config import RunConfig, parse_shape, parse_sizes
from trt_tui.core.rows import ALL_IDS, ROWS
from trt_tui.core.trt.adapter import INSTALL_HINT
from trt_tui.core.vocab import Calibration
from trt_tui.format import ellipsize
from trt_tui.screens.base import RunScreen
from trt_tui.screens.state import RunView
from trt_tui.widgets.inputs_list import InputRow, InputsList
from trt_tui.widgets.label_grid import LabelGrid
from trt_tui.widgets.markup import fit_markup

CALIBRATOR_TITLES = {Calibration.ENTROPY: "entropy", Calibration.MINMAX: "min-max"}

# Fields in the order they are checked and shown; the error label under each is '#<field>-error'.
FIELDS = (
    "model",
    "input_shape",
    "input_shapes",
    "input_dtypes",
    "val_ranges",
    "dynamic_dims",
    "sweep",
    "profile",
    "batch_size",
    "rows",
    "calibrator",
    "calib_data",
    "iterations",
    "warmup",
)
# The inputs' fields: RunConfig field -> (title, placeholder, the CLI's parser, RunConfig value -> the text).
INPUT_FIELDS: dict[str, tuple[str, str, Callable[[str], Any], Callable[[Any], str]]] = {
    "input_shapes": (
        "Input shapes",
        "e.g. input_ids:[128]",
        inp.parse_input_shapes,
        lambda v: ",".join(f"{n}:[{','.join(map(str, d))}]" for n, d in v.items()),
    ),
    "input_dtypes": (
        "Input dtypes",
        "e.g. input_ids:int64",
        inp.parse_dtypes,
        lambda v: ",".join(f"{n}:{d}" for n, d in v.items()),
    ),
    "val_ranges": (
        "Value ranges",
        "e.g. input_ids:[0,999]",
        inp.parse_val_ranges,
        lambda v: ",".join(f"{n}:[{lo:g},{hi:g}]" for n, (lo, hi) in v.items()),
    ),
    "dynamic_dims": (
        "Dynamic dims",
        "e.g. input_ids:1=seq",
        inp.parse_dynamic,
        lambda v: ",".join(f"{n}:{a}={d}" for n, a, d in v),
    ),
    "sweep": (
        "Sweep",
        "e.g. seq=64,128,256",
        inp.parse_sweep,
        lambda v: ";".join(f"{d}={','.join(map(str, s))}" for d, s in v.items()),
    ),
    "profile": (
        "TRT profile",
        "e.g. seq=16:128:512 (min:opt:max)",
        inp.parse_profile,
        lambda v: ",".join(f"{d}={lo}:{opt}:{hi}" for d, (lo, opt, hi) in v.items()),
    ),
}
# A problem of a RunConfig field without a field of its own is shown under this one.
SHOWN_UNDER = {"batch_sizes": "batch_size"}


def machine_rows(info: dict[str, Any] | None) -> list[tuple[str, str]]:
    """What this machine can do: GPU name or 'no CUDA GPU', TensorRT version or how to install it."""
    if info is None:
        return [("GPU", "[dim]checking this machine…[/]")]
    gpu = info.get("gpu")
    trt = info.get("tensorrt")
    if gpu:
        gpu_line = f"[b]{escape(gpu)}[/]"
    else:
        gpu_line = "[b $warning]no CUDA GPU[/] — PyTorch and onnxruntime rows run on the CPU"
    if trt:
        flavour = info.get("tensorrt_flavour") or "tensorrt"
        trt_line = f"[b]{escape(trt)}[/] [dim]({escape(flavour)})[/]"
    else:
        hint = escape(info.get("install_hint") or INSTALL_HINT)
        trt_line = f"[b $warning]not installed[/] — {hint}"
    return [("GPU", gpu_line), ("TensorRT", trt_line)]


class ModelScreen(RunScreen):
    """Pick a model and the rows to run; invalid input is marked beside its field."""

    SCREEN_NAME = "model"
    # The model list has the focus from the start, and gets it back whenever a field is left: the
    # single-letter keys (r, 1-4, ...) act there. A text field only takes the focus when the user moves
    # into it (tab, a click) and then takes every printable key, so a path with an 'r' in it types.
    AUTO_FOCUS = "#builtin-models"
    BINDINGS = [
        Binding("escape", "leave_field", "Leave field", show=False, id="model.leave_field"),
    ]

    def __init__(self) -> None:
        super().__init__(id="model-screen")
        self._catalog_shown: list[Any] | None = None
        self._catalog_width = -1
        self.draft: RunConfig | None = None  # the form read as far as it parses (read_config)

    # -- layout --------------------------------------------------------------------------------
    def compose_body(self) -> ComposeResult:
        cfg = self.state.config
        with VerticalScroll(id="model-body", can_focus=False):
            table: DataTable[str] = DataTable(id="builtin-models", cursor_type="row", zebra_stripes=True)
            table.border_title = "Built-in models (enter = use)"
            yield table
            with Horizontal(id="model-middle"):
                with Vertical(id="form"):
                    yield from self._fields(cfg)
                with Vertical(id="rows-box"):
                    rows = SelectionList[str](
                        *[Selection(r.title, r.id, r.id in cfg.rows) for r in ROWS], id="rows", compact=True
                    )
                    rows.border_title = "Rows to run (space)"
                    yield rows
                    yield Label("", id="rows-error", classes="field-error")
        # below the scrolling form, always in view: what this machine can do and the next step
        yield LabelGrid(10, id="machine")
        yield Static("", id="model-hint")

    def _fields(self, cfg: RunConfig) -> ComposeResult:
        """The form, top down: the model and batch, its inputs (listed, then edited in the CLI's syntax),
        then timing and INT8 settings."""
        yield from self._field(
            "model",
            "Model",
            Input(cfg.model, placeholder="name, file.py:factory, .onnx, .pt or .pt2", id="model", compact=True),
        )
        yield from self._field(
            "batch_size",
            "Batch size",
            Input(
                ",".join(map(str, cfg.sizes())), placeholder="32, or 1,8,32 for a sweep", id="batch_size", compact=True
            ),
        )
        yield Label("Inputs", classes="field-label")
        yield InputsList(id="inputs-list")
        yield from self._field(
            "input_shape",
            "Input shape",
            Input(
                ",".join(map(str, cfg.input_shape)) if cfg.input_shape else "",
                placeholder="one input, e.g. 3,224,224",
                id="input_shape",
                compact=True,
            ),
        )
        for name, (title, placeholder, _, text) in INPUT_FIELDS.items():
            yield from self._field(
                name, title, Input(text(getattr(cfg, name)), placeholder=placeholder, id=name, compact=True)
            )
        yield from self._field(
            "iterations",
            "Iterations",
            Input("auto" if cfg.auto_iterations else str(cfg.iterations), id="iterations", compact=True),
        )
        yield from self._field("warmup", "Warm-up", Input(str(cfg.warmup), id="warmup", compact=True))
        yield from self._field(
            "calibrator",
            "INT8 calibrator",
            Select(
                [(CALIBRATOR_TITLES[c], c) for c in Calibration],
                value=cfg.calibrator,
                allow_blank=False,
                id="calibrator",
                compact=True,
            ),
        )
        yield from self._field(
            "calib_data",
            "Calib. data",
            Input(cfg.calib_data or "", placeholder=".npy/.npz (or empty)", id="calib_data", compact=True),
        )

    def _field(self, name: str, title: str, widget: Any) -> ComposeResult:
        # two cells of the #form grid: the label, then the widget with its error under it (hidden while none)
        yield Label(title, classes="field-label")
        with Vertical(classes="field"):
            yield widget
            yield Label("", id=f"{name}-error", classes="field-error")

    def action_leave_field(self) -> None:
        """Escape from a field: the focus goes back to the model list, where r runs."""
        self.query_one("#builtin-models", DataTable).focus()

    @on(Input.Submitted)
    def _field_done(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_leave_field()

    def on_screen_resume(self) -> None:
        # Back on this screen (1, or after a run): never land in a text field by surprise.
        if isinstance(self.focused, Input) or self.focused is None:
            self.action_leave_field()

    def on_descendant_focus(self) -> None:
        self._show_hint()

    def on_descendant_blur(self) -> None:
        self.call_after_refresh(self._show_hint)

    def _show_hint(self) -> None:
        """The next step, in one line: it depends on where the focus is and whether the form is valid."""
        if not self.is_mounted:
            return
        hint = self.query_one("#model-hint", Static)
        width = hint.size.width or self.size.width or 100
        hint.update(next_step_hint(self.focused, self.trt_app.form, self.state.running, width - 2))

    def on_mount(self) -> None:
        table = self.query_one("#builtin-models", DataTable)
        table.add_column("Model", key="name")
        table.add_column("Input", key="shape")
        table.add_column("Description", key="description")
        self.call_after_refresh(self.validate)  # after the first paint; the initial settings are valid

    # -- state ---------------------------------------------------------------------------------
    def sync(self, state: RunView) -> None:
        self._show_hint()
        if self.draft is not None:
            self._show_inputs()  # a run's model stage may just have said what a model file's inputs are
        self.query_one("#machine", LabelGrid).show(machine_rows(self.trt_app.machine))
        table = self.query_one("#builtin-models", DataTable)
        catalog = self.trt_app.catalog
        width = table.scrollable_content_region.width
        if (catalog, width) != (self._catalog_shown, self._catalog_width):
            self._catalog_shown, self._catalog_width = list(catalog), width
            cursor = table.cursor_row
            shapes = ["×".join(map(str, spec.input_shape)) for spec in catalog]
            name_w = max([5] + [len(spec.name) for spec in catalog])
            shape_w = max([5] + [len(s) for s in shapes])
            room = max(12, width - name_w - shape_w - 6) if width else 200
            # fixed column widths: auto widths left the header drawn at stale widths now and then
            table.clear(columns=True)
            table.add_column("Model", key="name", width=name_w)
            table.add_column("Input", key="shape", width=shape_w)
            table.add_column("Description", key="description", width=room)
            for spec, shape in zip(catalog, shapes):
                table.add_row(Text(spec.name), Text(shape), Text(ellipsize(spec.description, room)), key=spec.name)
            if catalog:
                table.move_cursor(row=min(cursor, len(catalog) - 1))
            self.validate()

    def on_resize(self) -> None:
        self.call_after_refresh(self._sync_all)

    @on(DataTable.RowSelected, "#builtin-models")
    def _use_builtin(self, event: DataTable.RowSelected) -> None:
        """Enter on a model: it fills the Model field; the focus stays on the list, where r runs it."""
        name = str(event.row_key.value)
        self.query_one("#model", Input).value = name
        self.query_one("#input_shape", Input).value = ""
        self.validate()

    @on(Input.Changed)
    @on(Select.Changed)
    @on(SelectionList.SelectedChanged)
    def _changed(self) -> None:
        self.validate()

    # -- validation ----------------------------------------------------------------------------
    def read_config(self) -> tuple[RunConfig | None, dict[str, str]]:
        """The form as a RunConfig, or None and field -> problem."""
        bad: dict[str, str] = {}
        values: dict[str, Any] = {}
        get = lambda wid: self.query_one(f"#{wid}", Input).value.strip()  # noqa: E731 - a one-line local reader, read beside its uses
        model = get("model")
        values["model"] = model
        builtins = {spec.name for spec in self.trt_app.catalog}
        shape_text = get("input_shape")
        if shape_text:
            try:
                values["input_shape"] = parse_shape(shape_text)
            except ValueError:
                bad["input_shape"] = "positive whole numbers, e.g. 3,224,224"
        if model and (problem := model_problem(model, builtins)):
            bad["model"] = problem
        for name, (_, _, parse, _) in INPUT_FIELDS.items():  # the CLI's parsers, so the CLI's words
            if text := get(name):
                try:
                    values[name] = parse(text)
                except ValueError as exc:
                    bad[name] = str(exc)
            else:
                values[name] = type(getattr(RunConfig(), name))()
        try:  # one size, or several for a sweep (every row at each size, a plot with `p`)
            sizes = parse_sizes(get("batch_size"))
            values.update(batch_size=sizes[0], batch_sizes=sizes if len(sizes) > 1 else ())
        except ValueError:
            bad["batch_size"] = (
                "whole numbers: 32, or 1,8,32 for a sweep" if get("batch_size") else "enter the batch size"
            )
        values["auto_iterations"] = get("iterations").lower() == "auto"  # as --iterations auto
        for name, title in (("iterations", "iterations"), ("warmup", "warm-up")):
            text = get(name)
            if name == "iterations" and values["auto_iterations"]:
                continue
            try:
                values[name] = int(text)
            except ValueError:
                whole = (
                    "a whole number, or auto (until the p50's CI is tight)"
                    if name == "iterations"
                    else "a whole number"
                )
                bad[name] = f"{title} must be {whole}" if text else f"enter the {title}"
        values["rows"] = tuple(r for r in ALL_IDS if r in self.query_one("#rows", SelectionList).selected)
        calibrator = self.query_one("#calibrator", Select).value
        values["calibrator"] = calibrator if isinstance(calibrator, str) else ""
        values["calib_data"] = get("calib_data") or None
        base = self.state.config.to_dict()
        base.update({k: v for k, v in values.items() if k not in bad})
        try:
            config = RunConfig.from_dict(base)
        except (TypeError, ValueError) as exc:  # pragma: no cover - from_dict is lenient
            return None, {"model": str(exc)}
        self.draft = config  # what the form says so far, invalid fields left out: the inputs list shows it
        for name, problem in config.problems().items():
            bad.setdefault(SHOWN_UNDER.get(name, name), problem)  # a field shows its neighbours' problems too
        return (None if bad else config), bad

    def validate(self) -> tuple[RunConfig | None, dict[str, str]]:
        config, bad = self.read_config()
        for name in FIELDS:
            label = self.query_one(f"#{name}-error", Label)
            label.update(f"✘ {bad[name]}" if name in bad else "")
            label.set_class(name in bad, "-shown")
            try:
                self.query_one(f"#{name}").set_class(name in bad, "-invalid")
            except Exception:  # noqa: BLE001 - every field has a widget; be lenient for custom layouts
                pass
        self.trt_app.form = (config, bad)
        self._show_inputs()
        self._show_hint()
        return config, bad

    def _show_inputs(self) -> None:
        """The model's inputs as the form would run them: read from the ONNX graph or the built-in's
        spec now, from the last run of this model when the file's own code says what they are."""
        rows, note = inputs_view(self.draft, self.trt_app.catalog, reported_inputs(self.state))
        self.query_one("#inputs-list", InputsList).show(rows, note)


FIELD_TITLES = {
    "model": "Model",
    "input_shape": "Input shape",
    "batch_size": "Batch size",
    "rows": "Rows",
    "calibrator": "INT8 calibrator",
    "calib_data": "Calib. data",
    "iterations": "Iterations",
    "warmup": "Warm-up",
} | {name: title for name, (title, *_) in INPUT_FIELDS.items()}


def next_step_hint(focused: Any, form: tuple[RunConfig | None, dict[str, str]], running: bool, width: int) -> str:
    """One line under the form saying what to do next (markup; the longest variant that fits ``width``)."""
    config, bad = form
    if isinstance(focused, Input) and focused.id in FIELD_TITLES:
        variants = [
            f"editing [b]{FIELD_TITLES[focused.id]}[/]: [b]enter[/] or [b]esc[/] when done, then [b]r[/] runs "
            "· [b]ctrl+r[/] runs now",
            "[b]enter[/]/[b]esc[/]: done editing · [b]ctrl+r[/]: run now",
        ]
    elif running:
        variants = ["a run is going: [b]2 3 4[/] show its steps · [b]c[/] cancels it"]
    elif config is None:
        name, problem = next(iter(bad.items()), ("model", "invalid settings"))
        variants = [f"[$text-error]✘ fix [b]{FIELD_TITLES.get(name, name)}[/b] first: {escape(problem)}[/]"]
    else:
        model = escape(config.model)
        variants = [
            f"[b]r[/] runs [b]{model}[/] (export → build → benchmark) · [b]↑↓ enter[/] picks a model "
            "· [b]tab[/] edits the settings",
            f"[b]r[/] runs [b]{model}[/] · [b]↑↓ enter[/] picks a model · [b]tab[/] edits the settings",
            f"[b]r[/] runs [b]{model}[/] · [b]enter[/] picks a model",
        ]
    return fit_markup(variants, width)


def model_problem(model: str, builtins: set[str]) -> str:
    """Why the model field cannot be used ('' when it can)."""
    if model.lower().endswith((".onnx", ".pt", ".pt2")):
        return "" if Path(os.path.expanduser(model)).is_file() else f"no such file: {model}"
    if ":" in model:
        path, _, factory = model.rpartition(":")
        if not path.endswith(".py"):
            return "a user model is written file.py:factory"
        if not factory.isidentifier():
            return f"{factory!r} is not a function name"
        return "" if Path(path).is_file() else f"no such file: {path}"
    if builtins and model not in builtins:
        return f"unknown model {model!r}: pick a built-in, file.py:factory or a .onnx"
    return ""


# -- the inputs list ---------------------------------------------------------------------------------
@functools.lru_cache(maxsize=16)
def _onnx_inputs(path: str, stamp: tuple[int, int]) -> tuple[inp.ModelInputs | None, str]:
    """An ONNX file's graph inputs (onnx only, weights not loaded), or None and why; per file version."""
    try:
        import onnx

        from trt_tui.core.onnx_inputs import read_inputs

        return read_inputs(onnx.load(path, load_external_data=False), Path(path).name)[0], ""
    except Exception as exc:  # noqa: BLE001 - a file onnx cannot read: said in the list, the run reports it
        return (
            None,
            f"cannot read the inputs of {Path(path).name}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
        )


def onnx_inputs(model: str) -> tuple[inp.ModelInputs | None, str]:
    path = Path(os.path.expanduser(model))
    try:
        st = path.stat()
    except OSError:
        return None, ""
    return _onnx_inputs(str(path), (st.st_mtime_ns, st.st_size))


def reported_inputs(state: RunView) -> tuple[str, list[str]]:
    """(model, description lines of its inputs) as the last run (or a reopened one) read them."""
    stage = state.stages.get("model")
    lines = list(stage.detail.get("inputs") or []) if stage is not None else []
    meta = state.store.meta.get("inputs")
    if not lines and isinstance(meta, dict):
        try:
            lines = inp.ModelInputs.from_dict(meta).describe()
        except (KeyError, TypeError, ValueError):
            lines = []
    return state.config.model, lines


def input_rows(inputs: inp.ModelInputs) -> list[InputRow]:
    rows = []
    for s in inputs.specs:
        dims = [(f"{sym}={d}" if d >= 1 else f"{sym}=?") if sym else str(d) for d, sym in zip(s.shape, s.dims)]
        values = s.generator_text() + (f" ({s.note})" if s.note else "")
        rows.append(InputRow(s.name, "[" + ",".join(["B", *dims]) + "]", s.dtype, values, any(d < 1 for d in s.shape)))
    return rows


def described_rows(lines: list[str]) -> list[InputRow]:
    """InputSpec.describe() lines ('ids int64 [B,seq=128] randint [0, 9] (note)') as rows."""
    rows = []
    for line in lines:
        name, dtype, shape, values = (line.split(" ", 3) + ["", "", ""])[:4]
        rows.append(InputRow(name, shape, dtype, values))
    return rows


def with_overrides(inputs: inp.ModelInputs, cfg: RunConfig) -> inp.ModelInputs:
    """``inputs`` as the form's fields change them (unchanged where they do not apply: the field says why)."""
    ov = cfg.overrides()
    if cfg.input_shape is not None and len(inputs) == 1 and not cfg.input_shapes:
        ov = inp.Overrides({inputs.names[0]: cfg.input_shape}, ov.dtypes, ov.ranges, ov.dynamic, ov.sizes)
    try:
        return inp.apply(inputs, ov)
    except (inp.InputError, ValueError, KeyError):
        return inputs


def inputs_view(
    cfg: RunConfig | None, catalog: list[Any], reported: tuple[str, list[str]]
) -> tuple[list[InputRow], str]:
    """What the Inputs list shows for the form's model: rows and a note (markup)."""
    model = cfg.model.strip() if cfg is not None else ""
    if cfg is None or not model:
        return [], "[dim]choose a model[/]"
    if model.lower().endswith(".onnx"):
        found, why = onnx_inputs(model)
        if found is None:
            return [], f"[$text-error]{escape(why)}[/]" if why else ""
        return input_rows(with_overrides(found, cfg)), ""
    spec = next((s for s in catalog if s.name == model), None)
    if spec is not None:
        return input_rows(with_overrides(inp.single(cfg.input_shape or spec.input_shape), cfg)), ""
    run_model, lines = reported
    if lines and run_model.strip() == model:
        return described_rows(lines), "[dim]as the last run of this model read them[/]"
    return file_inputs(model, cfg)


def file_inputs(model: str, cfg: RunConfig) -> tuple[list[InputRow], str]:
    """A .py/.pt/.pt2 model not run yet: its own code says what its inputs are, or the fields do."""
    from trt_tui.core.validate import defines, is_user_model

    file = model.rsplit(":", 1)[0] if is_user_model(model) else model
    own = model.lower().endswith(".pt2") or (
        is_user_model(model) and defines(os.path.expanduser(file), "example_inputs")
    )
    if own and not (cfg.input_shape or cfg.input_shapes):
        source = "its example_inputs" if is_user_model(model) else "the exported program"
        return [], f"[dim]read from {escape(Path(file).name)} ({source}) when the run starts[/]"
    if cfg.input_shape is not None:
        return input_rows(with_overrides(inp.single(cfg.input_shape, "--input-shape"), cfg)), ""
    if cfg.input_shapes:
        named = inp.ModelInputs(
            tuple(
                inp.default_generator(inp.InputSpec(n, d, cfg.input_dtypes.get(n, "float32")))
                for n, d in cfg.input_shapes.items()
            )
        )
        return input_rows(with_overrides(named, cfg)), "[dim]as the fields give them; the model may say more[/]"
    return [], "[dim]give Input shape (one input) or Input shapes (by name)[/]"
