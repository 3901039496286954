"""Start the pipeline in a child interpreter and read its events (used by the CLI and the TUI).

The child (`python -m trt_tui.jobs run --config JSON`) runs in its own process group and writes one
JSON event per line on stdout. This module imports neither torch nor tensorrt: the TUI stays light
and a crash in native code cannot take the caller down.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
from collections import deque
from pathlib import Path
from typing import IO, Any, Iterator

from trt_tui.core.config import RunConfig
from trt_tui.core.events import ErrorEvent, Event, Finished, Log, parse_line
from trt_tui.core.trt.adapter import INSTALL_HINT, installed_distribution

# Signal names for the exit status a crashed child leaves (negative returncode = killed by signal).
def describe_exit(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"killed by {name} (exit status {code})"
    return f"exit status {code}"


class JobProcess:
    """One run of the pipeline in a child process."""

    def __init__(self, config: RunConfig, *, python: str = sys.executable, env: dict[str, str] | None = None) -> None:
        self.config = config
        self.python = python
        self.env = env
        self.proc: subprocess.Popen[str] | None = None
        self.cancelled = False
        self._stderr_tail: deque[str] = deque(maxlen=40)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode if self.proc else None

    def command(self) -> list[str]:
        return [self.python, "-m", "trt_tui.jobs", "run", "--config", self.config.to_json()]

    def start(self) -> None:
        env = dict(os.environ if self.env is None else self.env)
        env.setdefault("PYTHONUNBUFFERED", "1")
        # The child must find this package even when it is run from a source checkout.
        root = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
        self.proc = subprocess.Popen(
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
            env=env,
            start_new_session=True,  # own process group: cancel reaches grandchildren too
        )
        threading.Thread(target=self._drain_stderr, args=(self.proc.stderr,), daemon=True).start()

    def _drain_stderr(self, stream: IO[str] | None) -> None:
        if stream is None:
            return
        for line in stream:
            self._stderr_tail.append(line.rstrip())

    def events(self) -> Iterator[Event]:
        """Events as the child writes them; ends with a Finished event in every case."""
        if self.proc is None:
            self.start()
        assert self.proc is not None and self.proc.stdout is not None
        finished = False
        for line in self.proc.stdout:
            event = parse_line(line)
            if event is None:
                if line.strip():
                    yield Log(stage="", level="info", message=line.rstrip(), source="child")
                continue
            finished = finished or isinstance(event, Finished)
            yield event
        code = self.proc.wait()
        if not finished:
            if self.cancelled:
                yield Finished(status="cancelled", exit_code=code, message="cancelled by the user")
                return
            tail = "\n".join(self._stderr_tail)
            message = f"the pipeline process stopped unexpectedly: {describe_exit(code)}"
            yield ErrorEvent(stage="", message=message, detail=tail, fatal=True)
            yield Finished(status="crashed", exit_code=code, message=message, out_dir=str(self.config.resolved_out_dir()))

    def cancel(self, timeout: float = 5.0) -> None:
        """SIGTERM to the child's process group, SIGKILL if it has not gone after ``timeout``."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.cancelled = True
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        except ProcessLookupError:
            pass


class ReplayJob:
    """Replays a recorded event stream (.jsonl) through the JobProcess interface: tests and demos."""

    def __init__(self, path: str | Path, *, speed: float = 0.0) -> None:
        self.path = Path(path)
        self.speed = speed
        self.pid: int | None = None
        self.returncode: int | None = None
        self.cancelled = threading.Event()

    def start(self) -> None:
        pass

    def events(self) -> Iterator[Event]:
        last_t: float | None = None
        for line in self.path.read_text(encoding="utf-8").splitlines():
            event = parse_line(line)
            if event is None:
                continue
            if self.cancelled.is_set():
                yield Finished(status="cancelled", message="cancelled by the user")
                return
            if self.speed > 0 and last_t is not None:
                self.cancelled.wait(max(0.0, min(event.t - last_t, 2.0)) / self.speed)
            last_t = event.t
            yield event
        self.returncode = 0

    def cancel(self, timeout: float = 5.0) -> None:
        self.cancelled.set()


def probe_machine() -> dict[str, str | None]:
    """What this machine can do, cheaply (no torch/tensorrt import): GPU name and TensorRT version."""
    gpu = None
    smi = shutil.which("nvidia-smi")
    if smi:
        try:
            out = subprocess.run([smi, "--query-gpu=name", "--format=csv,noheader"], capture_output=True, text=True, timeout=5)
            gpu = out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else None
        except (OSError, subprocess.TimeoutExpired, IndexError):
            gpu = None
    trt_version, flavour = installed_distribution() or (None, None)
    return {"gpu": gpu, "tensorrt": trt_version, "tensorrt_flavour": flavour, "install_hint": INSTALL_HINT}


def close_unfinished(store: Any, event: Finished) -> None:
    """After a run that did not finish ok the caller is the only writer left (CLI and TUI alike).

    The child saves each row before announcing it, so its ``results.json`` is at least as new as the
    events the caller saw: a row whose event was lost to a SIGKILL is taken from the disk. Rows still
    pending/running are then marked failed (cancelled after a cancel) with the reason, the files are
    saved again and the temporary files of an interrupted write are removed."""
    from trt_tui.core.results import ResultsStore, pick_best, remove_stale_temps

    out = Path(event.out_dir) if event.out_dir else None
    if out is not None and (store.rows or store.env):  # the child has written this run's files by now
        try:
            disk: ResultsStore | None = ResultsStore.load(out)
        except (OSError, ValueError, KeyError, TypeError):
            disk = None
        if disk is not None:
            for rid, row in disk.rows.items():
                mine = store.rows.get(rid)
                if mine is None or mine.get("status") in ("pending", "running"):
                    store.rows[rid] = dict(row)
            store.env = store.env or disk.env
            store.meta = {**disk.meta, **store.meta}
    reason = event.message or event.status
    changed = False
    for row in store.rows.values():
        if row.get("status") in ("pending", "running"):
            row["status"] = "cancelled" if event.status == "cancelled" else "failed"
            row["reason"] = reason
            changed = True
    store.best, store.best_rule = pick_best(store.rows.values())
    if out is None:
        return
    remove_stale_temps(out)
    if changed:
        try:
            store.out_dir = out
            store.save()
        except OSError:
            pass  # the child's own files (rows so far) stay as they were


class RunState:
    """The caller's view of a run, fed event by event (the CLI's; the TUI has screens.state.RunState).

    The child saves rows as it measures them; after a crash, cancel or failure ``close_unfinished``
    marks the rows still pending/running as failed with the reason and saves them."""

    def __init__(self) -> None:
        from trt_tui.core.results import ResultsStore

        self.store = ResultsStore(None)
        self.finished: Finished | None = None
        self.errors: list[ErrorEvent] = []

    def apply(self, event: Event) -> None:
        from trt_tui.core.events import EnvEvent, RowEvent

        if isinstance(event, RowEvent):
            self.store.upsert(event.row)
        elif isinstance(event, EnvEvent):
            self.store.env = dict(event.env)
        elif isinstance(event, ErrorEvent):
            self.errors.append(event)
        elif isinstance(event, Finished):
            self.finished = event
            if event.status != "ok":
                close_unfinished(self.store, event)
