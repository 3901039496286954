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
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from trt_tui.core.config import RunConfig
from trt_tui.core.events import ErrorEvent, Event, Finished, Log, parse_line
from trt_tui.core.trt.adapter import INSTALL_HINT, installed_distribution
from trt_tui.core.vocab import Status


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


def spawn(command: list[str], env: dict[str, str] | None, stdin: int) -> tuple[subprocess.Popen[str], deque[str]]:
    """A child of ``command`` in its own process group (cancel reaches grandchildren too), finding this
    package even from a source checkout; its stderr is drained into the returned tail."""
    env = dict(os.environ if env is None else env)
    env.setdefault("PYTHONUNBUFFERED", "1")
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    proc = subprocess.Popen(
        command,
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
        env=env,
        start_new_session=True,
    )
    tail: deque[str] = deque(maxlen=40)
    threading.Thread(target=_drain, args=(proc.stderr, tail), daemon=True).start()
    return proc, tail


def _drain(stream: IO[str] | None, tail: deque[str]) -> None:
    if stream is None:
        return
    for line in stream:
        tail.append(line.rstrip())


class Spare:
    """A child started before the user asks for a run: it imports torch and the pipeline, then waits
    for its config on stdin. ``r`` then skips interpreter start and those imports (seconds on a cold
    machine). It touches no GPU while it waits, and exits when its stdin closes (the app went away)."""

    def __init__(self, *, python: str = sys.executable, env: dict[str, str] | None = None) -> None:
        self.proc, self.tail = spawn([python, "-m", "trt_tui.jobs", "run", "--config", "-"], env, subprocess.PIPE)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def hand_over(self, config: RunConfig) -> bool:
        """Give the waiting child its run; False if it is no longer there to take it."""
        if not self.alive() or self.proc.stdin is None:
            return False
        try:
            self.proc.stdin.write(config.to_json() + "\n")
            self.proc.stdin.close()
            return True
        except (BrokenPipeError, OSError):
            return False

    def close(self) -> None:
        """End an unused spare at once (it holds nothing to save; quitting the app must not wait for
        its imports)."""
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        except OSError:
            pass
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


class JobProcess:
    """One run of the pipeline in a child process (a ``Spare`` one when given and still alive)."""

    def __init__(
        self,
        config: RunConfig,
        *,
        python: str = sys.executable,
        env: dict[str, str] | None = None,
        spare: Spare | None = None,
    ) -> None:
        self.config = config
        self.python = python
        self.env = env
        self.spare = spare
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
        if self.spare is not None and self.spare.hand_over(self.config):
            self.proc, self._stderr_tail = self.spare.proc, self.spare.tail
        else:
            if self.spare is not None:
                self.spare.close()
            self.proc, self._stderr_tail = spawn(self.command(), self.env, subprocess.DEVNULL)
        self.spare = None

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
                yield Finished(status=Status.CANCELLED, exit_code=code, message="cancelled by the user")
                return
            tail = "\n".join(self._stderr_tail)
            message = f"the pipeline process stopped unexpectedly: {describe_exit(code)}"
            yield ErrorEvent(stage="", message=message, detail=tail, fatal=True)
            yield Finished(
                status=Status.CRASHED, exit_code=code, message=message, out_dir=str(self.config.resolved_out_dir())
            )

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


class ChildJobs:
    """The app's job factory: every run in a child process, with one ``Spare`` kept ready."""

    def __init__(self, *, python: str = sys.executable) -> None:
        self.python = python
        self.spare: Spare | None = None
        self.closed = False
        self.lock = threading.Lock()  # warm() runs in a worker thread, close() on the app's

    def __call__(self, config: RunConfig) -> JobProcess:
        with self.lock:
            spare, self.spare = self.spare, None
        return JobProcess(config, python=self.python, spare=spare)

    def warm(self) -> None:
        """Start a spare child if none is waiting (after the first paint and after each run)."""
        with self.lock:
            if not self.closed and (self.spare is None or not self.spare.alive()):
                self.spare = Spare(python=self.python)

    def close(self) -> None:
        """No more runs: end the waiting spare, start none again."""
        with self.lock:
            self.closed, spare, self.spare = True, self.spare, None
        if spare is not None:
            spare.close()


class ReplayJob:
    """Replays a recorded event stream (.jsonl) through the JobProcess interface: tests, demos and
    screenshots. ``speed`` > 0 keeps the recorded pace (that many times faster); ``stop``: hold after
    the first event for which it is true, as a job still running would, until cancelled."""

    def __init__(self, path: str | Path, *, speed: float = 0.0, stop: Callable[[Event], bool] | None = None) -> None:
        self.path = Path(path)
        self.speed = speed
        self.stop = stop
        self.pid: int | None = None
        self.returncode: int | None = None
        self.cancelled = threading.Event()
        self.held = threading.Event()  # set once the stream is paused at ``stop``

    def start(self) -> None:
        pass

    def events(self) -> Iterator[Event]:
        last_t: float | None = None
        for line in self.path.read_text(encoding="utf-8").splitlines():
            event = parse_line(line)
            if event is None:
                continue
            if self.cancelled.is_set():
                break
            if self.speed > 0 and last_t is not None:
                self.cancelled.wait(max(0.0, min(event.t - last_t, 2.0)) / self.speed)
            last_t = event.t
            yield event
            if self.stop is not None and self.stop(event):
                self.held.set()
                self.cancelled.wait()
                break
        else:
            self.returncode = 0
            return
        yield Finished(status=Status.CANCELLED, message="cancelled by the user")

    def cancel(self, timeout: float = 5.0) -> None:
        self.cancelled.set()


def probe_machine() -> dict[str, str | None]:
    """What this machine can do, cheaply (no torch/tensorrt import): GPU name and TensorRT version."""
    gpu = None
    smi = shutil.which("nvidia-smi")
    if smi:
        try:
            out = subprocess.run(
                [smi, "--query-gpu=name", "--format=csv,noheader"], capture_output=True, text=True, timeout=5
            )
            gpu = out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else None
        except (OSError, subprocess.TimeoutExpired, IndexError):
            gpu = None
    trt_version, flavour = installed_distribution() or (None, None)
    return {"gpu": gpu, "tensorrt": trt_version, "tensorrt_flavour": flavour, "install_hint": INSTALL_HINT}
