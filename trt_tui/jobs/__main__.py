"""`python -m trt_tui.jobs run --config JSON|@file|-`: run the pipeline here, one JSON event per line on stdout.

``--config -`` is a spare child (``runner.Spare``): it imports torch and the pipeline first, then reads
its config as one line on stdin; an empty stdin (the app went away) ends it quietly.

stdout carries events only: the real stdout is kept for them and file descriptor 1 is pointed at
stderr, so whatever native code prints cannot corrupt the stream. SIGTERM cancels the run cleanly.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from trt_tui.core import runclock, timeline
from trt_tui.core.config import RunConfig
from trt_tui.core.errors import TrtTuiError
from trt_tui.core.events import ErrorEvent, Event, Finished
from trt_tui.core.vocab import Status


class EventWriter:
    """Thread-safe JSON-lines writer on a private duplicate of the original stdout."""

    def __init__(self) -> None:
        sys.stdout.flush()
        self.stream = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
        os.dup2(2, 1)  # anything else written to fd 1 (native libraries, print) goes to stderr
        sys.stdout = sys.stderr
        self.lock = threading.Lock()
        self.reader_gone = False

    def __call__(self, event: Event) -> None:
        line = event.to_json()
        with self.lock:
            if self.reader_gone:
                return
            try:
                self.stream.write(line + "\n")
                self.stream.flush()
            except BrokenPipeError:
                # The reader went away (the CLI or app was killed): wind the run down as a cancel, so the
                # rows still open are closed and saved, then exit. Nothing more is written.
                self.reader_gone = True
                os.kill(os.getpid(), signal.SIGTERM)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m trt_tui.jobs")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the pipeline and stream events")
    run.add_argument(
        "--config",
        required=True,
        help="RunConfig as JSON, @path to a JSON file, or - (preload, then one line on stdin)",
    )
    args = parser.parse_args(argv)
    timeline.job_process()  # meta.timeline counts from this launch and times the imports ('import torch', ...)

    emit = EventWriter()  # fd 1 guarded first: a spare's imports may print
    if args.config == "-":
        preload()
        text = sys.stdin.readline()
        if not text.strip():
            return 0
        runclock.handed_over()  # the user's wait starts now, not when this spare was started
    else:
        text = Path(args.config[1:]).read_text() if args.config.startswith("@") else args.config
    config = RunConfig.from_json(text)
    cancel = threading.Event()

    from trt_tui.core.pipeline import Cancelled, Pipeline

    def on_term(signum: int, frame: Any) -> None:
        cancel.set()  # a running TensorRT build sees this through its progress monitor
        raise Cancelled()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)  # also when inherited ignored: `kill -INT` on the child cancels too
    try:
        finished = Pipeline(config, emit, cancel).run()
    except Cancelled:
        finished = Finished(
            status=Status.CANCELLED, out_dir=str(config.resolved_out_dir()), message="cancelled by the user"
        )
    except Exception as exc:  # noqa: BLE001 - report, never a bare traceback on the event stream
        message = TrtTuiError(f"internal error: {type(exc).__name__}: {exc}").message  # one line
        emit(ErrorEvent(stage="", message=message, detail=traceback.format_exc(), fatal=True))
        finished = Finished(status=Status.FAILED, out_dir=str(config.resolved_out_dir()), message=message)
    emit(finished)
    return 0 if finished.status == Status.OK else 1


# What a spare imports while it waits, in the order a run needs them: torch and the pipeline before the
# first number; torchvision for torchvision models only; onnx and onnxruntime from the export on.
PRELOAD = (
    "torch",
    "trt_tui.core.pipeline",
    "trt_tui.core.models",
    "trt_tui.core.bench",
    "trt_tui.core.torch_runners",
    "torchvision",
    "onnx",
    "onnxruntime",
)


def preload(names: tuple[str, ...] = PRELOAD, handed_over: Callable[[], bool] | None = None) -> list[str]:
    """Import ``names`` while a spare child waits; returns those imported. CUDA is not initialised: a
    waiting child holds no GPU memory. Stops as soon as its run is handed over (a line waits on stdin) or
    the app has gone (stdin closed): the run then imports only what its model needs, as a fresh child
    would, instead of finishing the list first (torchvision alone is seconds on a cold machine)."""
    import importlib

    ready = handed_over or _stdin_ready
    done = []
    for name in names:
        if ready():
            break
        try:
            importlib.import_module(name)
            done.append(name)
        except Exception:  # noqa: BLE001 - the run imports it again and reports what is wrong
            pass
    return done


def _stdin_ready() -> bool:
    """Whether stdin has something to read (the run's config, or its end) without blocking."""
    import select

    try:
        return bool(select.select([sys.stdin], [], [], 0)[0])
    except (OSError, ValueError):  # no selectable stdin: preload everything, as before
        return False


def exit_now(code: int) -> None:
    """Leave without the interpreter's teardown: clearing the modules of torch, onnx, onnxruntime and
    ModelOpt took ~1.4 s after the run's last event (digits-cnn, CPU), time `trt-tui run` waited for.
    The atexit handlers still run (multiprocessing, torch.compile's workers, logging); every file the run
    writes was closed by then, and each event was flushed as it was written."""
    import atexit

    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    exit_now(main())
