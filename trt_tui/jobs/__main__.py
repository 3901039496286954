"""`python -m trt_tui.jobs run --config JSON|@file`: run the pipeline here, one JSON event per line on stdout.

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
from pathlib import Path
from typing import Any

from trt_tui.core.config import RunConfig
from trt_tui.core.errors import TrtTuiError
from trt_tui.core.events import ErrorEvent, Event, Finished


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
    run.add_argument("--config", required=True, help="RunConfig as JSON, or @path to a JSON file")
    args = parser.parse_args(argv)

    text = Path(args.config[1:]).read_text() if args.config.startswith("@") else args.config
    config = RunConfig.from_json(text)
    emit = EventWriter()
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
        finished = Finished(status="cancelled", out_dir=str(config.resolved_out_dir()), message="cancelled by the user")
    except Exception as exc:  # noqa: BLE001 - report, never a bare traceback on the event stream
        message = TrtTuiError(f"internal error: {type(exc).__name__}: {exc}").message  # one line
        emit(ErrorEvent(stage="", message=message, detail=traceback.format_exc(), fatal=True))
        finished = Finished(status="failed", out_dir=str(config.resolved_out_dir()), message=message)
    emit(finished)
    return 0 if finished.status == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
