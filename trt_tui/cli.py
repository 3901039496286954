"""`trt-tui`: no arguments opens the TUI; `run` is the same pipeline headless; `models` lists models.

The CLI starts the pipeline in a child process (trt_tui.runner.JobProcess) and renders its events:
a live status line on a terminal, plain lines otherwise, raw JSON events with --json, and the
results table at the end.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any, TextIO

from trt_tui.core.config import ALL_ROWS, CALIBRATORS, EXPORTERS, RUN_STAGES, RunConfig, parse_shape
from trt_tui.core.results import host_bound
from trt_tui.widgets.format import fmt_bytes, fmt_err, fmt_frac, fmt_ms, fmt_rate, fmt_speedup
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="trt-tui", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser("run", help="run the pipeline headless and print the table")
    add_run_options(run)
    sub.add_parser("models", help="list the built-in models")
    shots = sub.add_parser("screenshots", help="save an SVG screenshot of each screen")
    shots.add_argument("--out", default="screens", help="folder for the SVG files (default: screens)")
    return parser


def add_run_options(p: argparse.ArgumentParser) -> None:
    d = RunConfig()
    p.add_argument("--model", "-m", default=d.model,
                   help="built-in name (see `trt-tui models`), path/to/file.py:factory, or model.onnx")
    p.add_argument("--input-shape", help="per-sample input shape, e.g. 3,224,224 (needed for file.py:factory)")
    p.add_argument("--batch-size", "-b", type=int, default=d.batch_size)
    p.add_argument("--rows", default=",".join(ALL_ROWS), help=f"comma-separated rows among: {', '.join(ALL_ROWS)}")
    p.add_argument("--stages", default=",".join(RUN_STAGES), help=f"comma-separated stages among: {', '.join(RUN_STAGES)}")
    p.add_argument("--iterations", "-n", type=int, default=d.iterations, help="timed iterations per row")
    p.add_argument("--warmup", type=int, default=d.warmup, help="warm-up iterations per row")
    p.add_argument("--max-seconds", type=float, help="time budget per row: stop the timed loop early")
    p.add_argument("--calibrator", choices=CALIBRATORS, default=d.calibrator)
    p.add_argument("--calib-data", help="calibration samples: .npy (N,C,H,W) or .npz")
    p.add_argument("--calib-samples", type=int, default=d.calib_samples)
    p.add_argument("--opset", type=int, default=d.opset)
    p.add_argument("--exporter", choices=EXPORTERS, default=d.exporter)
    p.add_argument("--dynamic-batch", action="store_true", help="export with a dynamic batch axis")
    p.add_argument("--workspace-mib", type=int, default=d.workspace_mib)
    p.add_argument("--no-tf32", action="store_true", help="strict FP32: no TF32 in PyTorch or TensorRT")
    p.add_argument("--device", choices=("auto", "cuda", "cpu"), default=d.device)
    p.add_argument("--out", "-o", help="results folder (default: ./trt-tui-results/<model>/)")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--json", action="store_true", help="print the raw JSON events instead of progress and table")
    p.add_argument("--verbose", "-v", action="store_true",
                   help="print each error's full detail (traceback, parser errors, TensorRT log lines) under it")


def config_from_args(args: argparse.Namespace) -> RunConfig:
    cfg = RunConfig(
        model=args.model,
        input_shape=parse_shape(args.input_shape) if args.input_shape else None,
        batch_size=args.batch_size,
        rows=tuple(r.strip() for r in args.rows.split(",") if r.strip()),
        stages=tuple(s.strip() for s in args.stages.split(",") if s.strip()),
        iterations=args.iterations,
        warmup=args.warmup,
        max_seconds=args.max_seconds,
        calibrator=args.calibrator,
        calib_data=args.calib_data,
        calib_samples=args.calib_samples,
        opset=args.opset,
        exporter=args.exporter,
        dynamic_batch=args.dynamic_batch,
        workspace_mib=args.workspace_mib,
        tf32=not args.no_tf32,
        device=args.device,
        out_dir=args.out,
        seed=args.seed,
    )
    return cfg


# -- rendering ------------------------------------------------------------------------------------
class ProgressPrinter:
    """Live status on a terminal (one rewritten line), plain lines otherwise."""

    def __init__(self, out: TextIO, verbose: bool = False) -> None:
        self.out = out
        self.verbose = verbose
        self.tty = out.isatty()
        self.last_plain: dict[str, float] = {}

    def line(self, text: str) -> None:
        if self.tty:
            self.out.write("\r\033[K")
        self.out.write(text + "\n")
        self.out.flush()

    def status(self, key: str, text: str) -> None:
        if self.tty:
            self.out.write("\r\033[K" + text[: 119])
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
            self.line(f"   {ev.stage} {ev.status} in {ev.seconds:.1f} s{extra}")
        elif isinstance(ev, Progress):
            pct = f"{100 * ev.step / ev.total:3.0f}%" if ev.total else ""
            phase = f" [{ev.phase}]" if ev.phase else ""
            self.status(ev.task, f"   {ev.task}{phase} {ev.step}/{ev.total} {pct}")
        elif isinstance(ev, RowEvent) and ev.row.get("status") in ("ok", "failed", "skipped"):
            r = ev.row
            if r["status"] == "ok":
                self.line(f"   {r['row_id']}: p50 {fmt_ms(r.get('latency_p50_ms'))} ms, "
                          f"{fmt_rate(r.get('throughput_per_s'))}/s")
            else:
                self.line(f"   {r['row_id']}: {r['status']} — {r.get('reason')}")
        elif isinstance(ev, ErrorEvent):
            self.line(f"!! {ev.message}")
            if self.verbose and ev.detail.strip():
                self.line("\n".join("   | " + d for d in ev.detail.rstrip().splitlines()))
        elif isinstance(ev, Log) and ev.level in ("warning", "error") and ev.source != "tensorrt":
            self.line(f"   {ev.level}: {ev.message}")
        elif isinstance(ev, EnvEvent):
            e = ev.env
            self.line(f"   device {e.get('device')} {e.get('gpu') or ''} | torch {e.get('torch')} | "
                      f"onnxruntime {e.get('onnxruntime')} | TensorRT {e.get('tensorrt') or 'not installed'}")


def dash(text: str) -> str:
    return text or "—"


def results_table(store: Any) -> Any:
    from rich.table import Table

    table = Table(title="trt-tui results", header_style="bold")
    for col, justify in (("row", "left"), ("device", "left"), ("status", "left"), ("p50 ms", "right"),
                         ("mean ms", "right"), ("p99 ms", "right"), ("GPU ms", "right"), ("thrpt/s", "right"),
                         ("speedup", "right"), ("size", "right"), ("max abs err", "right"), ("top-1", "right"),
                         ("acc", "right")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for r in store.rows.values():
        status = r.get("status") or ""
        best = " *" if r["row_id"] == store.best else ""
        table.add_row(
            r["row_id"] + best, r.get("device") or "—", status,
            *(dash(fmt_ms(r.get(c))) for c in ("latency_p50_ms", "latency_mean_ms", "latency_p99_ms",
                                                "gpu_compute_p50_ms")),
            dash(fmt_rate(r.get("throughput_per_s"))), dash(fmt_speedup(r.get("speedup_vs_pytorch"))),
            dash(fmt_bytes(r.get("size_bytes"))), dash(fmt_err(r.get("max_abs_err"))),
            dash(fmt_frac(r.get("top1_agreement"))), dash(fmt_frac(r.get("label_accuracy"))),
        )
    return table


def cmd_run(args: argparse.Namespace) -> int:
    from trt_tui.runner import JobProcess, RunState

    try:
        cfg = config_from_args(args)
    except ValueError as exc:
        print(f"trt-tui: {exc}", file=sys.stderr)
        return 2
    problems = cfg.problems()
    if problems:
        for field_name, msg in problems.items():
            print(f"trt-tui: --{field_name.replace('_', '-')}: {msg}", file=sys.stderr)
        return 2
    job = JobProcess(cfg)
    state = RunState()
    printer = None if args.json else ProgressPrinter(sys.stderr, verbose=args.verbose)

    def follow() -> None:
        for ev in job.events():
            state.apply(ev)
            if args.json:
                print(ev.to_json(), flush=True)
            else:
                assert printer is not None
                printer(ev)

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt  # SIGTERM, or SIGHUP (the SSH session went away): cancel as Ctrl-C does

    for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if sig is not None:
            signal.signal(sig, interrupt)
    interrupted = False
    try:
        follow()
    except KeyboardInterrupt:
        interrupted = True
        print("\ntrt-tui: cancelling the run…", file=sys.stderr)
        job.cancel()  # SIGTERM to the child's process group (SIGKILL after 5 s)
        try:
            if job.proc is not None:
                follow()  # its last events: the rows it closed, the end of the run
        except (KeyboardInterrupt, OSError, ValueError):
            pass
    fin = state.finished or Finished(status="cancelled" if interrupted else "failed",
                                     out_dir=str(cfg.resolved_out_dir()), message="no result")
    if not args.json:
        from rich.console import Console

        console = Console(width=None if sys.stdout.isatty() else 180)
        say = partial(console.print, markup=False, highlight=False, soft_wrap=True)  # one line each, unbroken
        if state.store.rows:
            console.print(results_table(state.store))
            for r in state.store.rows.values():
                if r.get("status") != "ok" and r.get("reason"):
                    say(f"  {r['row_id']}: {r['status']} — {r['reason']}")
                elif hint := host_bound(r):
                    say(f"  {r['row_id']}: {hint} (TensorRT or CUDA graphs remove most of the launch cost)")
        if state.store.best:
            say(f"best: {state.store.best} ({state.store.best_rule})")
        if fin.out_dir and (Path(fin.out_dir) / "results.json").is_file():
            say(f"results: {fin.out_dir}/results.csv, {fin.out_dir}/results.json")
        if not args.verbose and any(e.detail.strip() for e in state.errors):
            say("the full detail of each error: run again with -v (or --json for every event)")
        if fin.status != "ok":
            say(f"run {fin.status}: {fin.message}", style="red")
    if interrupted:
        return 130
    return 0 if fin.status == "ok" else 1


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
