"""TensorRT logger and build progress monitor, defined lazily for the module we got at run time.

The logger is one per process (``process_logger``) and routes to listeners (``listen``); the progress
monitor is one per build. Both forward to plain callbacks and never print. TensorRT calls them from its own threads (with the
GIL taken), so they hold a lock around shared state and never let an exception escape: an exception in
``IProgressMonitor.step_complete`` would cancel the build.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from trt_tui.core.trt.interfaces import derive

SEVERITIES = ("INTERNAL_ERROR", "ERROR", "WARNING", "INFO", "VERBOSE")  # most severe first
ERROR_SEVERITIES = ("INTERNAL_ERROR", "ERROR")

LogCallback = Callable[[str, str], None]  # (severity name, message)
ProgressCallback = Callable[[str, "str | None", int, int], None]  # (phase, parent, step, total)


def severity_name(severity: Any) -> str:
    """Name of a ``trt.ILogger.Severity`` value ('ERROR', 'WARNING', ...), by name, not by integer."""
    name = getattr(severity, "name", None)
    if not isinstance(name, str):
        name = str(severity).rsplit(".", 1)[-1]
    return name.upper()


def _rank(name: str) -> int:
    return SEVERITIES.index(name) if name in SEVERITIES else len(SEVERITIES)


class Listener:
    """One receiver of TensorRT's log while it listens (a build, a runner loading a plan).

    Forwards (severity, message) at or above ``min_severity`` to ``callback``; always keeps the last
    ``keep`` error and warning lines (``error_lines()``, ``warning_lines()``)."""

    def __init__(self, callback: LogCallback | None = None, min_severity: str = "WARNING", keep: int = 50) -> None:
        self.callback = callback
        self.limit = _rank(min_severity.upper())
        self.errors: deque[str] = deque(maxlen=keep)
        self.warnings: deque[str] = deque(maxlen=keep)
        self._lock = threading.Lock()

    def receive(self, name: str, text: str) -> None:
        with self._lock:
            if name in ERROR_SEVERITIES:
                self.errors.append(text)
            elif name == "WARNING":
                self.warnings.append(text)
        if self.callback is not None and _rank(name) <= self.limit:
            try:
                self.callback(name, text)
            except Exception:  # noqa: BLE001 - a log callback must never raise into TensorRT
                pass

    def error_lines(self) -> list[str]:
        with self._lock:
            return list(self.errors)

    def warning_lines(self) -> list[str]:
        with self._lock:
            return list(self.warnings)

    def clear(self) -> None:
        with self._lock:
            self.errors.clear()
            self.warnings.clear()


class TrtTuiLogger:
    """The process-wide ``trt.ILogger`` (see process_logger): routes each message to the listeners
    active at the time and keeps the last error/warning lines with a sequence number."""

    _trt_base: Any = None

    def __init__(self, keep: int) -> None:
        self._trt_base.__init__(self)  # required: the binding segfaults without it
        self.seq = 0
        self.listeners: list[Listener] = []
        self.recent: deque[tuple[int, str, str]] = deque(maxlen=keep)
        self._lock = threading.Lock()

    def log(self, severity: Any, msg: str) -> None:
        try:  # log() is noexcept on the C++ side: nothing may escape
            name = severity_name(severity)
            text = str(msg).rstrip()
            with self._lock:
                self.seq += 1
                if name in ERROR_SEVERITIES or name == "WARNING":
                    self.recent.append((self.seq, name, text))
                targets = list(self.listeners)
            for listener in targets:
                listener.receive(name, text)
        except Exception:  # noqa: BLE001 - a log callback must never raise into TensorRT
            pass

    def add(self, listener: Listener) -> None:
        with self._lock:
            self.listeners.append(listener)

    def remove(self, listener: Listener) -> None:
        with self._lock:
            if listener in self.listeners:
                self.listeners.remove(listener)

    def errors_since(self, seq: int) -> list[str]:
        with self._lock:
            return [t for s, n, t in self.recent if s > seq and n in ERROR_SEVERITIES]


# one logger per TensorRT module (a process has one; the test fakes are many modules)
_LOGGERS: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
_LOGGERS_LOCK = threading.Lock()


def process_logger(trt: Any, keep: int = 50) -> Any:
    """The process-wide ``trt.ILogger`` instance, made on first use and then always the same object.

    TensorRT keeps a single logger while any Builder/Runtime/Refitter lives and ignores a different one
    ("the existing value ... will be used instead"), so every Builder and Runtime here gets this one,
    and it routes each message to the listeners active at the time (``listen``), as Polygraphy's
    ``get_trt_logger`` does. It also keeps the last ``keep`` error/warning lines with a sequence number,
    so a caller can ask for the errors logged since a point (``seq`` then ``errors_since``) without
    listening around every call (execute_async_v3 in a timed loop).
    """
    with _LOGGERS_LOCK:
        found = _LOGGERS.get(trt)
        if found is None:
            found = _LOGGERS[trt] = derive(trt.ILogger, TrtTuiLogger)(keep)
        return found


@contextmanager
def listen(
    trt: Any, callback: LogCallback | None = None, min_severity: str = "WARNING", keep: int = 50
) -> Iterator[Listener]:
    """Route the process logger's messages to a new Listener while the block runs.

    Listeners active at the same time (two builds in two threads) each get every message: TensorRT
    logs from its own threads, so a message cannot be told apart by who caused it."""
    logger = process_logger(trt)
    listener = Listener(callback, min_severity, keep)
    logger.add(listener)
    try:
        yield listener
    finally:
        logger.remove(listener)


class TrtTuiProgress:
    """A build's ``IProgressMonitor`` (see make_progress_monitor)."""

    _trt_base: Any = None

    def __init__(
        self,
        callback: ProgressCallback | None,
        cancel: threading.Event | None,
        min_interval: float,
        clock: Callable[[], float],
    ) -> None:
        self._trt_base.__init__(self)  # required: the binding segfaults without it
        self.callback = callback
        self.cancel = cancel
        self.min_interval = min_interval
        self.clock = clock
        self.events = 0
        self.phases: list[str] = []
        self._live: dict[str, tuple[str | None, int]] = {}  # phase -> (parent, total)
        self._last = float("-inf")
        self._lock = threading.Lock()

    def _emit(self, phase: str, parent: str | None, step: int, total: int) -> None:
        if self.callback is not None:
            self.callback(phase, parent, step, total)

    def _cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()

    def phase_start(self, phase_name: str, parent_phase: str | None, num_steps: int) -> None:
        try:
            with self._lock:
                self.events += 1
                self._live[phase_name] = (parent_phase, int(num_steps))
                if phase_name not in self.phases:
                    self.phases.append(phase_name)
            self._emit(phase_name, parent_phase, 0, int(num_steps))
        except Exception:  # noqa: BLE001 - a progress callback must never raise into TensorRT
            pass

    def step_complete(self, phase_name: str, step: int) -> bool:
        try:
            with self._lock:
                self.events += 1
                parent, total = self._live.get(phase_name, (None, 0))
                now = self.clock()
                due = now - self._last >= self.min_interval
                if due:
                    self._last = now
            if due:
                self._emit(phase_name, parent, int(step) + 1, total)
        except Exception:  # noqa: BLE001 - a progress callback must never raise into TensorRT
            pass
        return not self._cancelled()

    def phase_finish(self, phase_name: str) -> None:
        try:
            with self._lock:
                self.events += 1
                parent, total = self._live.pop(phase_name, (None, 0))
            self._emit(phase_name, parent, total, total)
        except Exception:  # noqa: BLE001 - a progress callback must never raise into TensorRT
            pass


def make_progress_monitor(
    trt: Any,
    callback: ProgressCallback | None,
    cancel: threading.Event | None = None,
    min_interval: float = 0.25,
    clock: Callable[[], float] = time.monotonic,
) -> Any | None:
    """An ``IProgressMonitor`` subclass instance, or None where TensorRT has none (8.6).

    Phase start/finish always reach ``callback``; steps at most every ``min_interval`` seconds
    (about 4 Hz). ``step_complete`` returns False (cancel the build) once ``cancel`` is set.
    Counters for diagnostics: ``.events`` (calls received), ``.phases`` (names in first-seen order).
    """
    base: Any = getattr(trt, "IProgressMonitor", None)
    if base is None:
        return None
    return derive(base, TrtTuiProgress)(callback, cancel, min_interval, clock)
