"""TensorRT logger and build progress monitor, defined lazily for the module we got at run time.

Both forward to plain callbacks and never print. TensorRT calls them from its own threads (with the
GIL taken), so they hold a lock around shared state and never let an exception escape: an exception in
``IProgressMonitor.step_complete`` would cancel the build.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any, Callable

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


def make_logger(trt: Any, callback: LogCallback | None = None, min_severity: str = "WARNING", keep: int = 50) -> Any:
    """An ``ILogger`` subclass instance: forwards (severity, message) at or above ``min_severity`` to
    ``callback``; always keeps the last ``keep`` error and warning lines (``.errors``, ``.warnings``)."""
    base: Any = trt.ILogger
    limit = _rank(min_severity.upper())

    class TrtTuiLogger(base):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            base.__init__(self)
            self.callback = callback
            self.errors: deque[str] = deque(maxlen=keep)
            self.warnings: deque[str] = deque(maxlen=keep)
            self._lock = threading.Lock()

        def log(self, severity: Any, msg: str) -> None:
            try:
                name = severity_name(severity)
                text = str(msg).rstrip()
                with self._lock:
                    if name in ERROR_SEVERITIES:
                        self.errors.append(text)
                    elif name == "WARNING":
                        self.warnings.append(text)
                if self.callback is not None and _rank(name) <= limit:
                    self.callback(name, text)
            except Exception:
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

    return TrtTuiLogger()


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

    class TrtTuiProgress(base):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            base.__init__(self)
            self.callback = callback
            self.cancel = cancel
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
            except Exception:
                pass

        def step_complete(self, phase_name: str, step: int) -> bool:
            try:
                with self._lock:
                    self.events += 1
                    parent, total = self._live.get(phase_name, (None, 0))
                    now = clock()
                    due = now - self._last >= min_interval
                    if due:
                        self._last = now
                if due:
                    self._emit(phase_name, parent, int(step) + 1, total)
            except Exception:
                pass
            return not self._cancelled()

        def phase_finish(self, phase_name: str) -> None:
            try:
                with self._lock:
                    self.events += 1
                    parent, total = self._live.pop(phase_name, (None, 0))
                self._emit(phase_name, parent, total, total)
            except Exception:
                pass

    return TrtTuiProgress()
