"""TensorRT logger and progress monitor (fake base classes)."""

from __future__ import annotations

import threading

import pytest

from tests.trt.fakes import make_fake
from trt_tui.core.trt.logger import listen, make_progress_monitor, process_logger, severity_name


def test_listener_filters_and_keeps_errors(capsys: pytest.CaptureFixture[str]) -> None:
    trt = make_fake("10.13")
    seen: list[tuple[str, str]] = []
    log = process_logger(trt)
    assert isinstance(log, trt.ILogger) and log.base_inited
    S = trt.ILogger.Severity
    with listen(trt, lambda s, m: seen.append((s, m)), min_severity="WARNING", keep=2) as sink:
        log.log(S.VERBOSE, "tactic 1")
        log.log(S.INFO, "info")
        log.log(S.WARNING, "careful")
        for i in range(3):
            log.log(S.ERROR, f"bad {i}\n")
        log.log(S.INTERNAL_ERROR, "assertion")
    log.log(S.ERROR, "after the block")
    assert seen == [("WARNING", "careful"), ("ERROR", "bad 0"), ("ERROR", "bad 1"), ("ERROR", "bad 2"),
                    ("INTERNAL_ERROR", "assertion")]
    assert sink.error_lines() == ["bad 2", "assertion"]  # the last `keep`
    assert sink.warning_lines() == ["careful"]
    assert capsys.readouterr() == ("", "")  # never prints


def test_one_logger_per_module_routed_to_the_listeners_of_the_moment() -> None:
    trt, other = make_fake("10.13"), make_fake("10.13")
    assert process_logger(trt) is process_logger(trt) and process_logger(other) is not process_logger(trt)
    log, S = process_logger(trt), trt.ILogger.Severity
    with listen(trt) as outer:
        log.log(S.ERROR, "one")
        with listen(trt) as inner:
            log.log(S.ERROR, "two")
        log.log(S.ERROR, "three")
    assert outer.error_lines() == ["one", "two", "three"] and inner.error_lines() == ["two"]
    assert log.listeners == []
    seq = log.seq
    log.log(S.WARNING, "w")
    log.log(S.ERROR, "four")
    assert log.errors_since(seq) == ["four"] and log.errors_since(log.seq) == []


def test_fake_keeps_the_first_logger_like_tensorrt() -> None:
    """The trap the process logger avoids: a second logger while a Runtime lives is ignored."""
    trt = make_fake("8.6")
    first, second = make_logger_for_test(trt), make_logger_for_test(trt)
    runtime = trt.Runtime(first)
    builder = trt.Builder(second)
    assert builder.logger is first
    assert "the existing value, which can be retrieved with getLogger(), will be used instead" in first.lines[-1]
    del runtime, builder
    assert trt._state["live"] == 0
    assert trt.Builder(second).logger is second  # all destroyed: a new logger takes effect


def make_logger_for_test(trt):  # type: ignore[no-untyped-def]
    class L(trt.ILogger):
        def __init__(self) -> None:
            trt.ILogger.__init__(self)
            self.lines: list[str] = []

        def log(self, severity, msg):  # type: ignore[no-untyped-def]
            self.lines.append(msg)

    return L()


def test_logger_survives_callback_errors() -> None:
    trt = make_fake("8.6")

    def boom(s: str, m: str) -> None:
        raise RuntimeError("ui gone")

    with listen(trt, boom) as sink:
        process_logger(trt).log(trt.ILogger.ERROR, "x")  # must not raise into TensorRT
    assert sink.error_lines() == ["x"]


def test_severity_name_by_name_not_int() -> None:
    trt = make_fake("11.4")
    assert severity_name(trt.ILogger.Severity.ERROR) == "ERROR"
    assert severity_name("Severity.WARNING") == "WARNING"


def test_no_progress_monitor_on_86() -> None:
    assert make_progress_monitor(make_fake("8.6"), None) is None


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_progress_rate_limited_but_phases_always() -> None:
    trt = make_fake("10.13")
    got: list[tuple[str, str | None, int, int]] = []
    clock = Clock()
    mon = make_progress_monitor(trt, lambda *a: got.append(a), clock=clock)
    assert isinstance(mon, trt.IProgressMonitor) and mon.base_inited
    mon.phase_start("Build", None, 2)
    mon.phase_start("Tactics", "Build", 100)
    for s in range(100):
        clock.t += 0.01  # 100 steps in one second
        assert mon.step_complete("Tactics", s) is True
    mon.phase_finish("Tactics")
    mon.phase_finish("Build")
    steps = [g for g in got if g[0] == "Tactics" and 0 < g[2] < 100]
    assert 3 <= len(steps) <= 5  # ~4 Hz, not 100
    assert got[0] == ("Build", None, 0, 2) and got[1] == ("Tactics", "Build", 0, 100)
    assert got[-2] == ("Tactics", "Build", 100, 100) and got[-1] == ("Build", None, 2, 2)
    assert mon.phases == ["Build", "Tactics"] and mon.events == 104


def test_progress_cancel_and_exceptions() -> None:
    trt = make_fake("11.4")
    cancel = threading.Event()

    def boom(*a: object) -> None:
        raise ValueError("callback bug")

    mon = make_progress_monitor(trt, boom, cancel, min_interval=0)
    mon.phase_start("Build", None, 3)  # exceptions never escape
    assert mon.step_complete("Build", 0) is True  # a callback bug must not cancel the build
    cancel.set()
    assert mon.step_complete("Build", 1) is False
    mon.phase_finish("Build")


def test_progress_thread_safe() -> None:
    trt = make_fake("rtx-1.7")
    count = [0]
    lock = threading.Lock()

    def cb(*a: object) -> None:
        with lock:
            count[0] += 1

    mon = make_progress_monitor(trt, cb, min_interval=0)
    mon.phase_start("P", None, 4000)
    threads = [threading.Thread(target=lambda: [mon.step_complete("P", i) for i in range(1000)]) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert mon.events == 4001
