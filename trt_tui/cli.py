"""`trt-tui`: no arguments opens the TUI; `run` is the same pipeline headless; `models` lists models.

The CLI starts the pipeline in a child process (trt_tui.child_job.JobProcess) and renders its events:
a live status line on a terminal, plain lines otherwise, raw JSON events with --json, and the
results table at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any, NoReturn, TextIO

from trt_tui.core import artifacts, inputs, layers, runclock, timeline
from trt_tui.core.bench import AUTO_MAX_SECONDS
from trt_tui.core.config import COMPILE_MODES, COMPILE_ROWS, EXPORTERS, RUN_STAGES, RunConfig, parse_sizes
from trt_tui.core.events import (
    EnvEvent,
    ErrorEvent,
    Event,
    Finished,
    Log,
    Progress,
    RowEvent,
    StageFinished,
    StageStarted,
    StepFinished,
)
from trt_tui.core.results import host_bound
from trt_tui.core.rows import ALL_IDS, DEFAULT_IDS
from trt_tui.core.validate import NUMBERS, opset_range, parse_names, parse_number, parse_shape, shown
from trt_tui.core.vocab import Calibration, Status
from trt_tui.format import TABLE_COLUMNS, fmt_ms, fmt_rate, machine_words, output_banner, row_warnings

# Exit statuses (README: "Exit statuses").
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_ROWS_FAILED, EXIT_REGRESSION, EXIT_CANCELLED = 0, 1, 2, 3, 4, 130


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (with where to look), exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def version_text() -> str:
    """trt-tui's version and the versions of what it measures with (read from metadata: no imports)."""
    from importlib import metadata

    from trt_tui import __version__
    from trt_tui.core.trt.adapter import installed_distribution

    def dist(*names: str) -> str:
        for name in names:
            try:
                return metadata.version(name)
            except metadata.PackageNotFoundError:
                continue
        return "not installed"

    return (
        f"trt-tui {__version__} (Python {sys.version.split()[0]}, torch {dist('torch')}, "
        f"onnxruntime {dist('onnxruntime', 'onnxruntime-gpu')}, "
        f"TensorRT {(installed_distribution() or ('not installed',))[0]})"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="trt-tui", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=version_text())
    sub = parser.add_subparsers(dest="command", parser_class=OneLineParser)
    run = sub.add_parser(
        "run",
        help="run the pipeline headless and print the table",
        description="Run the pipeline headless and print the table. Every setting is checked "
        "before anything starts; a bad one is one line and exit status 2.",
    )
    add_run_options(run)
    cmp = sub.add_parser(
        "compare",
        help="compare two runs row by row: faster / slower / same within noise",
        description="Compare two runs (results folders or results.json files) row by row and batch "
        "size: B's p50 latency against A's, with a 95% CI, and a verdict.",
    )
    cmp.add_argument("a", help="the earlier run (A): a results folder or results.json")
    cmp.add_argument("b", help="the later run (B)")
    add_compare_options(cmp)
    cmp.add_argument("--json", action="store_true", help="print the comparison as JSON (default: off)")
    sub.add_parser("models", help="list the built-in models")
    shots = sub.add_parser("screenshots", help="save an SVG screenshot of each screen")
    shots.add_argument("--out", default="screens", help="folder for the SVG files (default: screens)")
    return parser


# RunConfig field -> the `trt-tui run` option that sets it (how a problem is named).
OPTION = {
    "model": "--model",
    "input_shape": "--input-shape",
    "input_shapes": "--input-shapes",
    "input_dtypes": "--input-dtypes",
    "val_ranges": "--val-range",
    "dynamic_dims": "--dynamic",
    "sweep": "--sweep",
    "profile": "--profile",
    "batch_size": "--batch-size",
    "batch_sizes": "--batch-sizes",
    "rows": "--rows",
    "compile_mode": "--compile-mode",
    "stages": "--stages",
    "iterations": "--iterations",
    "ci_target": "--ci-target",
    "warmup": "--warmup",
    "max_seconds": "--max-seconds",
    "calibrator": "--calibrator",
    "calib_data": "--calib-data",
    "calib_samples": "--calib-samples",
    "precision_keep_fp32": "--precision-keep-fp32",
    "opset": "--opset",
    "exporter": "--exporter",
    "workspace_mib": "--workspace-mib",
    "device": "--device",
    "out_dir": "--out",
    "seed": "--seed",
}


def add_input_options(p: argparse.ArgumentParser) -> None:
    """The inputs by name (core/inputs.py), in Polygraphy's and trtexec's forms."""
    p.add_argument(
        "--input-shapes",
        metavar="NAME:[DIMS]",
        nargs="+",
        help="per-sample shape of each input by name, Polygraphy's form without the batch, e.g. "
        "'input_ids:[128],attention_mask:[128]' (default: the model's own: example_inputs, the ONNX graph)",
    )
    p.add_argument(
        "--input-dtypes",
        metavar="NAME:DTYPE,...",
        help="dtype of inputs by name: float32, float16, int64, int32, bool, e.g. input_ids:int64 "
        "(default: the model's own, else float32)",
    )
    p.add_argument(
        "--val-range",
        metavar="NAME:[LO,HI]",
        nargs="+",
        dest="val_ranges",
        help="value range of inputs by name, inclusive, as Polygraphy's --val-range, e.g. "
        "'input_ids:[0,999]' (default: floats normal, ids below their embedding table, masks ones)",
    )
    p.add_argument(
        "--dynamic",
        metavar="NAME:AXIS[=DIM],...",
        dest="dynamic_dims",
        help="mark input dims dynamic (axis counts the batch as 0); inputs marked with one DIM name share "
        "its size, e.g. input_ids:1=seq,attention_mask:1=seq (default: an ONNX file's own dim_params)",
    )
    p.add_argument(
        "--sweep",
        metavar="DIM=SIZES",
        help="measure every row at each size of a dynamic dim, from one engine per precision "
        "(a TensorRT optimization profile covering them), e.g. seq=64,128,256 (default: none)",
    )
    p.add_argument(
        "--profile",
        metavar="DIM=MIN:OPT:MAX,...",
        help="TensorRT optimization profile of dynamic dims, like trtexec's --minShapes/--optShapes/"
        "--maxShapes, e.g. seq=16:128:512 (default: the smallest/first/largest size asked for)",
    )


def add_run_options(p: argparse.ArgumentParser) -> None:
    """Values are read as text and checked by config_from_args (core/validate.py), one line per problem."""
    d = RunConfig()
    p.add_argument(
        "--model",
        "-m",
        help=f"built-in name (see `trt-tui models`), path/to/file.py:factory, or model.onnx (default: {d.model})",
    )
    p.add_argument(
        "--input-shape",
        help="per-sample input shape, positive integers separated by commas or x, "
        "e.g. 3,224,224 (default: the model's own; needed for file.py:factory)",
    )
    add_input_options(p)
    p.add_argument("--batch-size", "-b", help=f"batch size, >= 1 (default: {d.batch_size})")
    p.add_argument(
        "--batch-sizes",
        help="a sweep: every row at each size, e.g. 1,8,32,128 (one export and build "
        "per size; long-form results and plot.png) (default: --batch-size only)",
    )
    p.add_argument(
        "--rows", help=f"comma-separated rows among: {', '.join(ALL_IDS)} (default: all but the torch.compile rows)"
    )
    p.add_argument(
        "--compile",
        action="store_true",
        help="add the torch.compile rows (pytorch-compile-fp32/fp16; CUDA only; compiling takes a while) "
        "(default: off)",
    )
    p.add_argument(
        "--compile-mode", choices=COMPILE_MODES, help=f"torch.compile mode of those rows (default: {d.compile_mode})"
    )
    p.add_argument("--stages", help=f"comma-separated stages among: {', '.join(RUN_STAGES)} (default: all)")
    add_timing_options(p, d)
    add_build_options(p, d)
    p.add_argument("--device", choices=("auto", "cuda", "cpu"), help=f"where to run (default: {d.device})")
    p.add_argument("--out", "-o", help="results folder (default: ./trt-tui-results/<model>/)")
    p.add_argument("--seed", help=f"seed of the random inputs, >= 0 (default: {d.seed})")
    p.add_argument(
        "--explain-accuracy",
        action="store_true",
        help="per-layer FP16/INT8 errors against FP32 (onnxruntime, every tensor exposed): layers.json (default: off)",
    )
    p.add_argument(
        "--against",
        metavar="RESULTS",
        help="compare this run with an earlier one (results folder or results.json), row by row, at the "
        "end (see trt-tui compare) (default: none)",
    )
    add_compare_options(p)
    add_output_options(p)


def add_timing_options(p: argparse.ArgumentParser, d: RunConfig) -> None:
    """How each row is timed: iterations (or auto), the CI target, warm-up, the time budget."""
    p.add_argument(
        "--iterations",
        "-n",
        help=f"timed iterations per row, >= 1, or auto: until the p50's 95%% CI is "
        f"within --ci-target (or --max-seconds, {AUTO_MAX_SECONDS:.0f} s if not given, ends it) "
        f"(default: {d.iterations})",
    )
    p.add_argument(
        "--ci-target",
        help="the p50's 95%% CI half-width asked, in percent (e.g. 1%%): what "
        f"--iterations auto runs until, and beyond which a fixed count is called too few "
        f"(default: {d.ci_target * 100:.0f}%%)",
    )
    p.add_argument("--warmup", help=f"warm-up iterations per row, >= 0 (default: {d.warmup})")
    p.add_argument(
        "--max-seconds",
        help="time budget per row in seconds, > 0: stop the timed loop early (default: none, run every iteration)",
    )


def add_build_options(p: argparse.ArgumentParser, d: RunConfig) -> None:
    """How the ONNX files and engines are made: INT8 calibration, FP16, the exporter, TensorRT's workspace, TF32."""
    lo, hi = opset_range(d.exporter)
    p.add_argument(
        "--calibrator", choices=[c.value for c in Calibration], help=f"INT8 calibrator (default: {d.calibrator})"
    )
    p.add_argument(
        "--calib-data", help="calibration samples: .npy (N,C,H,W) or .npz (default: the model's own data, else random)"
    )
    p.add_argument("--calib-samples", help=f"calibration samples used, >= 1 (default: {d.calib_samples})")
    p.add_argument(
        "--precision-keep-fp32",
        metavar="OP,...",
        help="ONNX op types kept in FP32 in the FP16 model (strongly typed TensorRT), e.g. Softmax,Pow (default: none)",
    )
    p.add_argument(
        "--opset", help=f"ONNX opset, {lo} to {hi if hi else '…'} with the {d.exporter} exporter (default: {d.opset})"
    )
    p.add_argument("--exporter", choices=EXPORTERS, help=f"torch.onnx exporter (default: {d.exporter})")
    p.add_argument("--dynamic-batch", action="store_true", help="export with a dynamic batch axis (default: off)")
    p.add_argument("--workspace-mib", help=f"TensorRT builder workspace in MiB, >= 1 (default: {d.workspace_mib})")
    p.add_argument(
        "--no-tf32", action="store_true", help="strict FP32: no TF32 in PyTorch or TensorRT (default: TF32 allowed)"
    )


def add_output_options(p: argparse.ArgumentParser) -> None:
    """How the run is shown: the timeline's full list, raw events, each error's detail."""
    p.add_argument(
        "--timeline",
        action="store_true",
        help="print every stage and phase of the run's timeline at the end, then its summary "
        "(results.json meta.timeline has them all) (default: the summary only)",
    )
    p.add_argument(
        "--json", action="store_true", help="print the raw JSON events instead of progress and table (default: off)"
    )
    p.add_argument(
        "--verbose",
        "-v",
        action="store_true",
        help="print each error's full detail (traceback, parser errors, TensorRT log lines) under it (default: off)",
    )


def add_compare_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--min-change",
        default="2",
        help="percent: a p50 change whose 95%% CI stays within ±this is 'same within noise' (two runs of "
        "one engine differ by a little that no single run's CI shows) (default: 2)",
    )
    p.add_argument(
        "--fail-on-regression",
        action="store_true",
        help=f"exit status {EXIT_REGRESSION} (compare: 1) when a row is slower beyond noise: for CI "
        "scripts (default: off)",
    )


def parse_percent(text: str) -> float:
    """'1%', '1' or '0.5 %' -> 0.01, 0.01, 0.005; ValueError unless above 0 and below 100."""
    try:
        value = float(str(text).strip().rstrip("%").strip()) / 100
    except ValueError:
        raise ValueError("must be a percentage above 0 and below 100, e.g. 1%") from None
    if not 0 < value < 1:
        raise ValueError("must be a percentage above 0 and below 100, e.g. 1%")
    return value


def config_from_args(args: argparse.Namespace) -> tuple[RunConfig | None, list[str]]:
    """The RunConfig the options ask for, or None and one line per problem (option, value, why).
    Nothing is started and nothing is imported beyond the standard library and numpy."""
    values: dict[str, Any] = {}
    errors: dict[str, tuple[Any, str]] = {}  # field -> (the text given, the problem)

    def take(name: str, parse: Callable[[str], Any]) -> None:
        raw = getattr(args, name)
        if raw is None:
            return
        if isinstance(raw, list):  # nargs="+": Polygraphy's space-separated form
            raw = " ".join(raw)
        try:
            values[name] = parse(raw)
        except ValueError as exc:
            errors[name] = (raw, str(exc))

    take("input_shape", parse_shape)
    take("input_shapes", inputs.parse_input_shapes)
    take("input_dtypes", inputs.parse_dtypes)
    take("val_ranges", inputs.parse_val_ranges)
    take("dynamic_dims", inputs.parse_dynamic)
    take("sweep", inputs.parse_sweep)
    take("profile", inputs.parse_profile)
    if str(getattr(args, "iterations", None)).strip().lower() == "auto":
        values["auto_iterations"], args.iterations = True, None
    take("ci_target", parse_percent)
    for name in NUMBERS:
        if hasattr(args, name):
            take(name, partial(parse_number, name))
    take("opset", parse_whole)
    take("rows", partial(parse_names, allowed=ALL_IDS, what="rows"))
    take("batch_sizes", parse_sizes)
    if getattr(args, "compile", False):
        values["rows"] = with_compile_rows(values.get("rows", DEFAULT_IDS))
    take("stages", partial(parse_names, allowed=RUN_STAGES, what="stages"))
    for name in ("model", "calibrator", "calib_data", "exporter", "device", "compile_mode"):
        if getattr(args, name) is not None:
            values[name] = getattr(args, name)
    if args.out is not None:
        values["out_dir"] = args.out
    if getattr(args, "precision_keep_fp32", None):
        values["precision_keep_fp32"] = tuple(op.strip() for op in args.precision_keep_fp32.split(",") if op.strip())
    cfg = RunConfig(
        **values, dynamic_batch=args.dynamic_batch, tf32=not args.no_tf32, explain_accuracy=args.explain_accuracy
    )
    for name, problem in cfg.problems().items():
        if name not in errors:
            raw = {"out_dir": args.out}.get(name, getattr(args, name, None))
            raw = " ".join(raw) if isinstance(raw, list) else raw
            errors[name] = (raw, problem)
    lines = []
    for name in OPTION:  # in the order of --help
        if name in errors:
            raw, problem = errors[name]
            raw = " ".join(raw) if isinstance(raw, list) else raw
            given = f" {shown(raw)}" if raw is not None else ""
            lines.append(f"trt-tui run: {OPTION[name]}{given}: {problem}")
    return (None if lines else cfg), lines


def with_compile_rows(rows: tuple[str, ...]) -> tuple[str, ...]:
    """``--compile`` adds the torch.compile rows to the chosen ones (in table order)."""
    return tuple(r for r in ALL_IDS if r in rows or r in COMPILE_ROWS)


def parse_whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError("must be a whole number") from None


# -- rendering ------------------------------------------------------------------------------------
class ProgressPrinter:
    """Live status on a terminal (one rewritten line), plain lines otherwise."""

    def __init__(self, out: TextIO, verbose: bool = False) -> None:
        self.out = out
        self.verbose = verbose
        self.tty = out.isatty()
        self.last_plain: dict[str, float] = {}
        self.env_seen = False
        self.settled: set[tuple[Any, ...]] = set()  # rows said once: a later update (speedups) is not news

    def line(self, text: str) -> None:
        if self.tty:
            self.out.write("\r\033[K")
        self.out.write(text + "\n")
        self.out.flush()

    def status(self, key: str, text: str) -> None:
        if self.tty:
            self.out.write("\r\033[K" + text[:119])
            self.out.flush()
        elif time.monotonic() - self.last_plain.get(key, 0.0) >= 2.0:  # plain: at most every 2 s per task
            self.last_plain[key] = time.monotonic()
            self.line(text)

    def __call__(self, ev: Event) -> None:
        if isinstance(ev, StageStarted):
            self.line(f"== {ev.title or ev.stage}")
        elif isinstance(ev, StepFinished):
            extra = f" — {ev.reason}" if ev.reason else ""
            self.line(f"   {ev.step}: {ev.status} ({ev.seconds:.2f} s){extra}")
        elif isinstance(ev, StageFinished):
            extra = f" — {ev.reason}" if ev.reason else ""
            for line in (ev.detail or {}).get("inputs", []) if ev.stage == "model" else []:
                self.line(f"   input {line}")  # each input's generator, said once
            for line in (ev.detail or {}).get("notes", []) if ev.stage == "model" else []:
                self.line(f"   note {line}")
            self.line(f"   {ev.stage} {ev.status} in {ev.seconds:.1f} s{extra}")
        elif isinstance(ev, Progress):
            phase = f" [{ev.phase}]" if ev.phase else ""
            count = f" {ev.step}/{ev.total} {100 * ev.step / ev.total:3.0f}%" if ev.total else " …"
            eta = f" ETA {ev.eta_s:.0f} s" if ev.eta_s is not None and ev.step < ev.total else ""
            so_far = f" p50 so far {fmt_ms(ev.p50_ms)} ms" if ev.p50_ms is not None else ""
            self.status(ev.task, f"   {ev.task}{phase}{count}{eta}{so_far}")
        elif isinstance(ev, RowEvent) and ev.row.get("status") in (Status.OK, Status.FAILED, Status.SKIPPED):
            r = ev.row
            # a number per point; a skip or failure once per reason (the same at every point of a sweep)
            point = (r.get("batch_size"), r.get("dims")) if r["status"] == Status.OK else r.get("reason")
            key = (r.get("row_id"), r["status"], point)
            if key in self.settled:
                return
            self.settled.add(key)
            if r["status"] == Status.OK:
                self.line(
                    f"   {r['row_id']}: p50 {fmt_ms(r.get('latency_p50_ms'))} ms, "
                    f"{fmt_rate(r.get('throughput_per_s'))}/s"
                )
            else:
                self.line(f"   {r['row_id']}: {r['status']} — {r.get('reason')}")
        elif isinstance(ev, ErrorEvent):
            self.line(f"!! {ev.message}")
            if self.verbose and ev.detail.strip():
                self.line("\n".join("   | " + d for d in ev.detail.rstrip().splitlines()))
        elif isinstance(ev, Log) and ev.level in ("warning", "error") and ev.source != "tensorrt":
            self.line(f"   {ev.level}: {ev.message}")
        elif isinstance(ev, EnvEvent) and not self.env_seen:  # again at the end, with the machine's state after
            self.env_seen = True
            e = ev.env
            self.line(
                f"   device {e.get('device')} {e.get('gpu') or ''} | torch {e.get('torch')} | "
                f"onnxruntime {e.get('onnxruntime')} | TensorRT {e.get('tensorrt') or 'not installed'}"
            )
            if machine := machine_words(e):
                self.line(f"   machine {machine}")


def dash(text: str) -> str:
    return text or "—"


def results_table(store: Any) -> Any:
    """The results as a rich Table: the app's columns (format.TABLE_COLUMNS), every one of them."""
    from rich.table import Table

    table = Table(title="trt-tui results (times in ms)", header_style="bold")
    for title in ("row", "device", "status"):
        table.add_column(title)
    for col in TABLE_COLUMNS:
        table.add_column(col.title, justify="right")
    for key, r in store.rows.items():
        best = " *" if key == store.best else ""
        label = store.sweep_label(r)
        name = r["row_id"] + (f" {label}" if label else "") + best
        table.add_row(
            name,
            r.get("device") or "—",
            r.get("status") or "",
            *(dash(col.cell(r, wide=True)) for col in TABLE_COLUMNS),
        )
    return table


def cmd_run(args: argparse.Namespace) -> int:
    from trt_tui.child_job import JobProcess
    from trt_tui.core.runstate import RunState

    cfg, problems = config_from_args(args)
    if cfg is None:
        print("\n".join(problems), file=sys.stderr)
        return 2
    job = JobProcess(cfg, env={**os.environ, **timeline.launch_env()})  # the timeline counts from this launch
    state = RunState()
    interrupted = follow_run(job, state, args)
    fin = state.finished or Finished(
        status=Status.CANCELLED if interrupted else Status.FAILED,
        out_dir=str(cfg.resolved_out_dir()),
        message="no result",
    )
    if not args.json:
        print_summary(state, fin, verbose=args.verbose, explain=cfg.explain_accuracy, full_timeline=args.timeline)
    if interrupted:
        return EXIT_CANCELLED
    if fin.bad_input:
        return 2  # the model or an input as given cannot load: a usage error, like a bad option
    regression = against(args, fin) if args.against and fin.out_dir else False
    return run_status(fin.status, state.store.rows.values(), regression and args.fail_on_regression)


def run_status(status: str, rows: Any, regression: bool) -> int:
    """0 ok; 1 the run failed or crashed; 3 it finished but some rows failed; 4 a row slower than
    --against beyond noise (with --fail-on-regression); 130 cancelled (2: bad options, earlier)."""
    if status != Status.OK:
        return EXIT_CANCELLED if status == Status.CANCELLED else EXIT_FAILED
    if any(r.get("status") == Status.FAILED for r in rows):
        return EXIT_ROWS_FAILED
    return EXIT_REGRESSION if regression else EXIT_OK


def against(args: argparse.Namespace, fin: Finished) -> bool:
    """Print this run against ``--against``; whether a row got slower beyond noise."""
    from trt_tui.core import compare

    try:
        base, new = compare.load(args.against), compare.load(fin.out_dir)
        min_change = parse_percent(args.min_change)
    except (OSError, ValueError, KeyError) as exc:
        print(f"trt-tui run: --against {args.against}: cannot compare: {exc}", file=sys.stderr)
        return False
    changes = compare.compare(base, new, min_change)
    print_comparison(changes, args.against, fin.out_dir, min_change)
    return bool(compare.regressed(changes))


def follow_run(job: Any, state: Any, args: argparse.Namespace) -> bool:
    """Fold the child's events into ``state`` and print them until the run ends; a signal cancels
    the run and its last events are still read. Returns whether it was interrupted."""
    printer = None if args.json else ProgressPrinter(sys.stderr, verbose=args.verbose)

    def follow() -> None:
        for ev in job.events():
            state.apply(ev)
            if printer is None:
                print(ev.to_json(), flush=True)
            else:
                printer(ev)

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt  # Ctrl-C, SIGTERM, or SIGHUP (the SSH session went away): cancel the run

    # SIGINT unconditionally: a run started in the background (`cmd &` in a script) inherits it ignored,
    # and Ctrl-C / `kill -INT` must still cancel it. SIGHUP only where it is not ignored: under `nohup`
    # the user asked for the run to outlive the session.
    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    hup = getattr(signal, "SIGHUP", None)
    if hup is not None and signal.getsignal(hup) is not signal.SIG_IGN:
        signal.signal(hup, interrupt)
    try:
        follow()
    except KeyboardInterrupt:
        print("\ntrt-tui: cancelling the run…", file=sys.stderr)
        job.cancel()  # SIGTERM to the child's process group (SIGKILL after 5 s)
        try:
            if job.proc is not None:
                follow()  # its last events: the rows it closed, the end of the run
        except (KeyboardInterrupt, OSError, ValueError):
            pass
        return True
    return False


def print_summary(
    state: Any, fin: Finished, *, verbose: bool, explain: bool = False, full_timeline: bool = False
) -> None:
    """The table, each row's reason, the best row, the per-layer view, where the files are, where the
    time went (the timeline's summary, after every entry with ``full_timeline``)."""
    from rich.console import Console

    console = Console(width=None if sys.stdout.isatty() else 180)
    say = partial(console.print, markup=False, highlight=False, soft_wrap=True)  # one line each, unbroken
    store = state.store
    sweep = len(store.points()) > 1
    for line in output_banner(store.rows.values()):
        say(line, style="yellow")
    if store.rows:
        console.print(results_table(store))
        for line in dict.fromkeys(row_notes(store, sweep)):  # a sweep repeats a reason: once
            say(line)
    if store.best:
        ties = store.ties()
        tie = f"; a tie within noise with {', '.join(ties)}" if ties else ""
        say(f"best: {store.best}{tie} ({store.best_rule})")
    if machine := machine_words(store.env):
        say(f"machine (before→after): {machine}")
    if sweep:
        say("best at each point: " + ", ".join(f"{'b' + p} {rid or '—'}" for p, rid in store.best_by_batch().items()))
    if explain and fin.out_dir and (explained := layers.load(fin.out_dir)):
        for line in layers.summary_lines(explained):
            say(line)
        say(f"per-layer: {fin.out_dir}/{layers.FILE}")
    if store.rows and fin.out_dir and (Path(fin.out_dir) / artifacts.RESULTS_JSON).is_file():  # not for no rows
        say(f"results: {fin.out_dir}/{artifacts.RESULTS_CSV}, {fin.out_dir}/{artifacts.RESULTS_JSON}")
        if (Path(fin.out_dir) / artifacts.PLOT).is_file() and sweep:
            say(f"plot: {fin.out_dir}/{artifacts.PLOT} (latency and throughput against batch size)")
    entries, origin = state.timeline_entries()
    if entries:
        wall = runclock.process_age_s() if origin == timeline.LAUNCH_ORIGIN else None  # this process began at t = 0
        every = timeline.entry_lines(entries) if full_timeline else []
        hint = [] if full_timeline else ["  every stage and phase: --timeline"]
        say("\n".join(every + timeline.summary_lines(entries, origin, wall_s=wall) + hint))
    if not verbose and any(e.detail.strip() for e in state.errors):
        say("the full detail of each error: run again with -v (or --json for every event)")
    if fin.status != Status.OK:
        say(f"run {fin.status}: {fin.message}", style="red")


def row_notes(store: Any, sweep: bool) -> Iterator[str]:
    """A line per row that did not finish ok (its reason) or that the host's launches bound, and one
    per doubt about an ok row's figures (noise, NaN/Inf, accuracy n/a)."""
    for r in store.rows.values():
        label = store.sweep_label(r)
        at = f" {label}" if sweep and label else ""
        if r.get("status") != Status.OK and r.get("reason"):
            yield f"  {r['row_id']}: {r['status']} — {r['reason']}"
            continue
        if hint := host_bound(r):
            yield f"  {r['row_id']}{at}: {hint} (TensorRT or CUDA graphs remove most of the launch cost)"
        for warning in row_warnings(r):
            yield f"  ⚠ {r['row_id']}{at}: {warning}"


def print_comparison(changes: list[Any], a: Any, b: Any, min_change: float) -> None:
    """The compare table: per row and batch size, A's and B's p50, the change with its CI, the verdict."""
    from rich.console import Console
    from rich.table import Table

    from trt_tui.core import compare

    console = Console(width=None if sys.stdout.isatty() else 160)
    table = Table(
        title=f"B against A (p50 latency, ms; same within noise: CI within ±{min_change:.0%})", header_style="bold"
    )
    for title in ("row", "batch", "A p50", "B p50", "change (95% CI)", "verdict"):
        table.add_column(title, justify="left" if title in ("row", "verdict") else "right")
    style = {compare.SLOWER: "red", compare.FASTER: "green"}
    for c in changes:
        table.add_row(
            c.row_id,
            str(c.batch_size or ""),
            fmt_ms(c.a_p50),
            fmt_ms(c.b_p50),
            compare.fmt_change(c),
            c.verdict + (" ⚠" if c.noise else ""),
            style=style.get(c.verdict, ""),
        )
    console.print(f"A: {a}\nB: {b}", markup=False, highlight=False)
    console.print(table)
    for note in filter(None, map(compare.noise_note, changes)):
        console.print(f"  ⚠ {note}", markup=False, highlight=False)
    slower = compare.regressed(changes)
    console.print(
        f"{len(slower)} slower beyond noise: {', '.join(c.row_id for c in slower)}"
        if slower
        else f"no row slower beyond noise ({len(changes)} compared)",
        markup=False,
        highlight=False,
    )


def cmd_compare(args: argparse.Namespace) -> int:
    """0: no row slower beyond noise (or no --fail-on-regression); 1: one was, with --fail-on-regression;
    2: a results file that cannot be read, or a bad option."""
    from trt_tui.core import compare

    try:
        min_change = parse_percent(args.min_change)
    except ValueError as exc:
        print(f"trt-tui compare: --min-change {args.min_change}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    stores = []
    for path in (args.a, args.b):
        try:
            stores.append(compare.load(path))
        except (OSError, ValueError, KeyError) as exc:
            print(f"trt-tui compare: cannot read {path}: {exc}", file=sys.stderr)
            return EXIT_USAGE
    changes = compare.compare(stores[0], stores[1], min_change)
    if args.json:
        print(json.dumps([c.to_dict() for c in changes], indent=2))
    else:
        print_comparison(changes, args.a, args.b, min_change)
    return 1 if args.fail_on_regression and compare.regressed(changes) else EXIT_OK


def cmd_models() -> int:
    from trt_tui.core.models import list_models

    for spec in list_models():
        shape = "x".join(str(d) for d in spec.input_shape)
        print(f"{spec.name:<12} {shape:<10} {spec.description}")
    print("\nAlso: path/to/file.py:factory --input-shape C,H,W   or   path/to/model.onnx")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "run":
        return cmd_run(args)
    if args.command == "compare":
        return cmd_compare(args)
    if args.command == "models":
        return cmd_models()
    if args.command == "screenshots":
        from trt_tui.screenshots import save_screenshots

        for path in save_screenshots(args.out):
            print(path)
        return 0
    from trt_tui.app import TrtTuiApp

    TrtTuiApp().run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
