"""Progress for library calls that run many batches (calibration) or none we can see (conversion).

``StepProgress`` counts steps reported by a hook (e.g. a calibration data reader handing out batch i of
N) and estimates the time left. A background thread re-sends the latest state every ``period`` seconds
while a library call gives no hook (histograms, Q/DQ placement, writing the file), so a watcher never
sees a gap of more than ``period`` seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

# on_progress(phase, step, total, eta_s)
OnProgress = Callable[[str, int, int, "float | None"], None]


class StepProgress:
    def __init__(self, on_progress: OnProgress | None, period: float = 1.0) -> None:
        self.on_progress = on_progress
        self.period = period
        self.phase, self.step, self.total = "", 0, 0
        self.eta_s: float | None = None
        self._t0 = time.monotonic()
        self.seconds: dict[str, float] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def set_phase(self, phase: str, total: int = 0) -> None:
        now = time.monotonic()
        if self.phase:  # seconds spent per phase, for the record (where the time goes)
            self.seconds[self.phase] = round(self.seconds.get(self.phase, 0.0) + now - self._t0, 3)
        with self._lock:
            self.phase, self.step, self.total, self.eta_s = phase, 0, total, None
            self._t0 = time.monotonic()
        self._send()

    def advance(self, step: int | None = None) -> None:
        with self._lock:
            self.step = self.step + 1 if step is None else step
            done, left = self.step, max(self.total - self.step, 0)
            elapsed = time.monotonic() - self._t0
            self.eta_s = round(elapsed / done * left, 1) if done and self.total else None
        self._send()

    def _send(self) -> None:
        if self.on_progress is not None:
            with self._lock:  # sent under the lock: a heartbeat never overtakes the next phase's first event
                self.on_progress(self.phase, self.step, self.total, self.eta_s)

    def _beat(self) -> None:
        while not self._stop.wait(self.period):
            self._send()

    def __enter__(self) -> StepProgress:
        if self.on_progress is not None:
            self._thread = threading.Thread(target=self._beat, name="trt-tui-heartbeat", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.set_phase("")
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
