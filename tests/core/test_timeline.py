"""The stage timeline (core/timeline.py): how events and marks become entries, and a real CPU run's."""

from __future__ import annotations

import json
import sys
import time
import types

import pytest

from trt_tui.core import timeline
from trt_tui.core.config import RunConfig
from trt_tui.core.events import (Progress, RowEvent, StageFinished, StageStarted, StepFinished, TimelineEvent)
from trt_tui.core.pipeline import Pipeline
from trt_tui.core.results import ResultsStore


class Clock:
    """A perf_counter the test moves by hand."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    c = Clock()
    monkeypatch.setattr(timeline, "time", types.SimpleNamespace(perf_counter=c, time=time.time))
    monkeypatch.delenv(timeline.LAUNCH_ENV, raising=False)
    return c


def at(clock: Clock, t: float, tl: timeline.Timeline, event) -> None:
    clock.now = 1000.0 + t
    tl.observe(event)


def test_a_benchmark_row_gets_contiguous_phases_from_marks_and_progress(clock):
    tl = timeline.Timeline()
    at(clock, 0, tl, StageStarted(stage="benchmark"))
    clock.now = 1010.0
    tl.mark("pytorch-fp32", "load")
    clock.now = 1011.0
    tl.mark("pytorch-fp32", "warm-up")
    for t, phase, step in ((12, "warm-up", 1), (13, "warm-up", 2), (15, "timed", 1), (16, "timed", 3),
                           (20, "gpu-compute", 3)):
        at(clock, t, tl, Progress(stage="benchmark", task="pytorch-fp32", phase=phase, step=step, total=3))
    clock.now = 1021.0
    tl.mark("pytorch-fp32", "accuracy")
    at(clock, 22, tl, RowEvent(row={"row_id": "pytorch-fp32", "status": "ok"}))
    at(clock, 23, tl, StageFinished(stage="benchmark", seconds=23))
    rows = [e for e in tl.entries if e.get("row") == "pytorch-fp32"]
    got = [(e["name"], round(e["start_s"] - rows[0]["start_s"], 3), e["duration_s"]) for e in rows]
    # the first timed event comes one iteration late: warm-up ends at its own last event (13), not at 15
    assert got == [("load", 0, 1), ("warm-up", 1, 2), ("timed", 3, 3), ("gpu-compute", 6, 5), ("accuracy", 11, 1)]
    stage = next(e for e in tl.entries if e["name"] == "benchmark")
    assert stage["kind"] == "stage" and stage["duration_s"] == 23 and stage["status"] == "ok"
    startup = next(e for e in tl.entries if e["name"] == "startup")
    assert startup["start_s"] + startup["duration_s"] == pytest.approx(stage["start_s"])  # until the first stage


def test_quantize_phases_begin_at_their_step_zero_event_and_a_step_without_phases_gets_one_entry(clock):
    tl = timeline.Timeline()
    at(clock, 0, tl, StageStarted(stage="quantize"))
    for t, phase, step in ((1, "Q/DQ placement", 0), (2, "Q/DQ placement", 0), (3, "calibration", 0),
                           (4, "calibration", 1), (6, "calibration", 2), (7, "entropy thresholds", 0), (8, "", 0)):
        at(clock, t, tl, Progress(stage="quantize", task="int8-qdq", phase=phase, step=step))
    at(clock, 9, tl, StepFinished(stage="quantize", step="int8-qdq", seconds=9))
    at(clock, 12, tl, StepFinished(stage="export", step="checker", seconds=2.5))
    at(clock, 13, tl, Progress(stage="build", task="tensorrt-fp16", phase="Building engine", step=1))  # not a phase
    at(clock, 14, tl, StageFinished(stage="quantize", seconds=14))
    got = [(e["name"], e["duration_s"]) for e in tl.entries if e.get("row") == "int8-qdq"]
    assert got == [("Q/DQ placement", 2), ("calibration", 4), ("entropy thresholds", 1)]
    checker = next(e for e in tl.entries if e["name"] == "checker")
    assert checker["row"] == "export" and checker["duration_s"] == 2.5
    assert not any(e.get("row") in ("tensorrt-fp16", "quantize") for e in tl.entries)


def test_drain_sends_each_entry_once_and_the_snapshot_has_what_is_under_way(clock):
    tl = timeline.Timeline()
    at(clock, 1, tl, StageStarted(stage="env", title="Environment"))
    at(clock, 2, tl, StageFinished(stage="env", seconds=1))
    first = tl.drain()
    assert [e["name"] for e in first] == ["startup", "env"] and tl.drain() == []
    at(clock, 3, tl, StageStarted(stage="build", title="Build TensorRT engines"))
    clock.now = 1004.0
    tl.mark("tensorrt-fp16", "parse")
    clock.now = 1006.0
    snap = tl.snapshot()
    open_ = [e for e in snap if e.get("open")]
    assert [(e["kind"], e["name"], e["duration_s"]) for e in open_] == [("stage", "build", 3), ("phase", "parse", 2)]
    assert snap == sorted(snap, key=timeline.order) and tl.drain() == []


def test_a_sweep_names_the_batch_of_each_entry(clock):
    batch = {"now": 1}
    tl = timeline.Timeline(batch=lambda: batch["now"])
    at(clock, 0, tl, StageStarted(stage="model"))
    at(clock, 1, tl, StageFinished(stage="model", seconds=1))
    for b, t in ((1, 2), (4, 10)):
        batch["now"] = b
        at(clock, t, tl, StageStarted(stage="benchmark"))
        clock.now = 1000.0 + t + 1
        tl.mark("pytorch-fp32", "load")
        at(clock, t + 2, tl, RowEvent(row={"row_id": "pytorch-fp32", "batch_size": b, "status": "ok"}))
        at(clock, t + 3, tl, StageFinished(stage="benchmark", seconds=3))
    assert [(e["name"], e.get("batch")) for e in tl.entries if e["name"] in ("model", "benchmark", "load")] == [
        ("model", None), ("benchmark", 1), ("load", 1), ("benchmark", 4), ("load", 4)]


def test_a_sweep_over_a_dynamic_dim_names_the_size_of_each_entry(clock):
    """One batch size, seq at 32 then 64: the two benchmark stages and their rows' phases say which size,
    and a row settled at seq=32 does not close the phase of the same row at seq=64."""
    seq = {"now": "seq=32"}
    tl = timeline.Timeline(batch=lambda: 4, dims=lambda: seq["now"])
    for dims, t in (("seq=32", 0), ("seq=64", 10)):
        seq["now"] = dims
        at(clock, t, tl, StageStarted(stage="benchmark"))
        clock.now = 1000.0 + t + 1
        tl.mark("onnxruntime-fp32", "timed")
        at(clock, t + 2, tl, RowEvent(row={"row_id": "onnxruntime-fp32", "batch_size": 4, "dims": "seq=32",
                                           "status": "ok"}))
        at(clock, t + 3, tl, StageFinished(stage="benchmark", seconds=3))
    got = [(e["name"], e.get("dims"), e["duration_s"]) for e in tl.entries if e["name"] != "startup"]
    assert got == [("benchmark", "seq=32", 3.0), ("timed", "seq=32", 1.0), ("benchmark", "seq=64", 3.0),
                   ("timed", "seq=64", 2.0)]
    assert [label for label, _, _ in timeline.stage_rows(tl.entries)][1:] == ["benchmark b4 seq=32", "benchmark b4 seq=64"]


def test_recording_keeps_the_store_current_and_sends_a_timeline_event_after_each_stage(clock, tmp_path):
    store = ResultsStore(tmp_path)
    sent = []
    tl = timeline.Timeline()
    emit = tl.recording(sent.append, store)
    emit(StageStarted(stage="env"))
    assert store.meta["timeline"][-1]["open"] and store.meta["timeline_origin"] == tl.origin_note
    emit(Progress(stage="build", task="x", phase="Building", step=1))
    emit(StageFinished(stage="env"))
    assert [type(e).__name__ for e in sent] == ["StageStarted", "Progress", "StageFinished", "TimelineEvent"]
    assert [e["name"] for e in sent[-1].entries] == ["startup", "env"] and sent[-1].origin == tl.origin_note
    assert [e["name"] for e in store.meta["timeline"]] == ["startup", "env"]


def test_the_launch_of_trt_tui_run_is_t0_unless_the_value_is_stale(monkeypatch):
    from trt_tui.core import runclock

    assert timeline.launch_origin()[2] == "the start of the pipeline"  # not a job process: a test, a script
    monkeypatch.setattr(timeline, "JOB_PROCESS", True)
    age = runclock.process_age_s()
    if age is None:
        pytest.skip("no /proc: the process start is unknown here")
    monkeypatch.setenv(timeline.LAUNCH_ENV, repr(time.time() - age - 0.5))  # the CLI started 0.5 s before us
    origin, start, note = timeline.launch_origin()
    assert note == "the launch of trt-tui run" and start - origin == pytest.approx(0.5, abs=0.05)
    assert timeline.Timeline().entries[0]["name"] == "launch"
    monkeypatch.setenv(timeline.LAUNCH_ENV, repr(time.time() - age - 1000))  # not our launcher
    assert timeline.launch_origin()[2] == "the start of the job process"
    assert float(timeline.launch_env()[timeline.LAUNCH_ENV]) <= time.time()


def test_the_import_clock_times_the_outermost_import_of_a_slow_module(tmp_path, monkeypatch):
    (tmp_path / "tl_slow_outer.py").write_text("import time, tl_slow_inner\ntime.sleep(0.08)\n")
    (tmp_path / "tl_slow_inner.py").write_text("import time\ntime.sleep(0.06)\n")
    (tmp_path / "tl_fast.py").write_text("x = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(timeline, "IMPORTS", [])
    clock = timeline.ImportClock()
    sys.meta_path.insert(0, clock)
    try:
        import tl_fast  # noqa: F401
        import tl_slow_outer  # noqa: F401
    finally:
        sys.meta_path.remove(clock)
        for name in ("tl_fast", "tl_slow_outer", "tl_slow_inner"):
            sys.modules.pop(name, None)
    assert [name for name, _, _ in timeline.IMPORTS] == ["tl_slow_outer"]  # the inner one counts in it
    _, t0, t1 = timeline.IMPORTS[0]
    assert t1 - t0 >= 0.14


def synthetic_sweep() -> list[dict]:
    entries, t = [], 0.0
    for b in (1, 8, 32, 128):
        for name, took in (("export", 9.0), ("quantize", 40.0), ("build", 150.0), ("benchmark", 60.0)):
            entries.append({"name": name, "kind": "stage", "batch": b, "start_s": t, "duration_s": took})
            for row in ("tensorrt-fp32", "tensorrt-fp16", "tensorrt-int8"):
                entries.append({"name": "build" if name == "build" else "timed", "kind": "phase",
                                "row": f"{row}-with-a-long-name", "batch": b, "start_s": t, "duration_s": took / 3})
            t += took
    entries.append({"name": "import torchvision.models.detection", "kind": "phase", "row": "imports",
                    "start_s": 0.0, "duration_s": 5.5})
    return entries


def test_the_summary_fits_one_80x24_screen_and_the_full_list_has_every_entry():
    entries = synthetic_sweep()
    lines = timeline.summary_lines(entries, "the launch of trt-tui run")
    assert len(lines) <= 22 and max(map(len, lines)) <= 80, "\n".join(lines)
    assert lines[0] == "timeline: 1036.0 s from the launch of trt-tui run"
    assert any(line.strip().startswith("build ×4") for line in lines)  # a sweep's stages summed by name
    build = next(line for line in lines if line.strip().startswith("build (12)"))
    assert "600.0" in build and "57.9%" in build
    full = timeline.entry_lines(entries)
    assert len(full) == len(entries) + 1 and max(map(len, full)) <= 80
    assert timeline.summary_lines([]) == ["timeline: none recorded"]
    with_wall = timeline.summary_lines(entries, "the launch of trt-tui run", wall_s=1046.0)
    assert with_wall[0] == "timeline: 1046.0 s from the launch of trt-tui run"
    after = next(line for line in with_wall if "(after the last one)" in line)
    assert after.split()[-3:] == ["1036.0", "10.0", "1.0%"] and len(with_wall) == len(lines) + 1


def test_bar_is_drawn_in_eighths():
    assert timeline.bar(0.5, 4) == "██" and timeline.bar(1 / 32, 4) == "▏" and timeline.bar(2, 3) == "███"
    assert timeline.bar(0, 5) == ""


# -- a real run on the CPU ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def mlp_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("timeline")
    events: list = []
    cfg = RunConfig(model="mlp", exporter="torchscript", iterations=30, warmup=3, device="cpu", out_dir=str(out))
    fin = Pipeline(cfg, events.append).run()
    return fin, events, json.loads((out / "results.json").read_text())


def lanes(entries):
    by: dict = {}
    for e in entries:
        if e["kind"] == "phase":
            by.setdefault((e["row"], e.get("batch")), []).append(e)
    return by


def test_a_real_run_has_every_stage_in_order_and_they_cover_it(mlp_run):
    fin, events, data = mlp_run
    assert fin.status == "ok"
    entries = data["meta"]["timeline"]
    assert entries == sorted(entries, key=timeline.order) and not any(e.get("open") for e in entries)
    stages = [e for e in entries if e["kind"] == "stage"]
    assert [e["name"] for e in stages] == ["startup", "env", "model", "benchmark", "export", "quantize", "build",
                                           "benchmark"]
    assert [e["name"] for e in stages[1:]] == [e.stage for e in events if isinstance(e, StageFinished)]
    for a, b in zip(stages, stages[1:]):  # one after the other, no overlap
        assert a["start_s"] + a["duration_s"] <= b["start_s"] + 0.002
    span = timeline.span_s(entries)
    inside = sum(e["duration_s"] for e in stages[1:])
    assert inside <= span and inside >= 0.8 * (span - stages[1]["start_s"]), (inside, span)
    # the TimelineEvents carry the same entries as results.json
    sent = [e for ev in events if isinstance(ev, TimelineEvent) for e in ev.entries]
    assert sorted(sent, key=timeline.order) == entries


def test_each_ok_row_has_warm_up_timed_and_accuracy_phases_in_order_without_overlap(mlp_run):
    _, _, data = mlp_run
    entries = data["meta"]["timeline"]
    by = lanes(entries)
    ok = [r["row_id"] for r in data["rows"] if r["status"] == "ok"]
    assert ok == ["pytorch-fp32", "pytorch-fp16", "onnxruntime-fp32", "onnxruntime-int8"]
    bench = [e for e in entries if e["kind"] == "stage" and e["name"] == "benchmark"]
    for row in ok:
        names = [e["name"] for e in by[(row, None)]]
        assert names[:3] == ["load", "warm-up", "timed"] and names[-2:] == ["accuracy", "release"], (row, names)
        assert set(names) <= {"load", "warm-up", "timed", "reference", "accuracy", "release"}  # no GPU loop on a CPU
        lane = by[(row, None)]
        for a, b in zip(lane, lane[1:]):
            assert a["start_s"] + a["duration_s"] <= b["start_s"] + 0.002, (row, a, b)
        first, last = lane[0], lane[-1]
        assert any(s["start_s"] <= first["start_s"] and last["start_s"] + last["duration_s"]
                   <= s["start_s"] + s["duration_s"] + 0.002 for s in bench), row  # inside a benchmark stage
    assert [e["name"] for e in by[("pytorch-fp32", None)]].count("reference") == 1  # made once, for the first row
    assert "reference" not in [e["name"] for e in by[("onnxruntime-fp32", None)]]


def test_the_export_steps_and_the_quantize_phases_are_there(mlp_run):
    _, _, data = mlp_run
    by = lanes(data["meta"]["timeline"])
    assert [e["name"] for e in by[("export", None)]] == ["export", "checker", "parity"]
    quantize = [e["name"] for e in by[("int8-qdq", None)]]
    assert "calibration" in quantize and quantize[-1] == "checking", quantize
    assert data["meta"]["timeline_origin"]  # what t = 0 is


def test_the_run_keeps_its_long_lived_objects_out_of_each_rows_collect_and_gives_them_back(tmp_path):
    import gc

    frozen_at_rows: list[int] = []

    def emit(ev) -> None:
        if isinstance(ev, RowEvent) and ev.row.get("status") == "ok":
            frozen_at_rows.append(gc.get_freeze_count())

    cfg = RunConfig(model="mlp", exporter="torchscript", iterations=10, warmup=2, device="cpu", out_dir=str(tmp_path),
                    rows=["pytorch-fp32", "onnxruntime-fp32"])
    assert Pipeline(cfg, emit).run().status == "ok"
    assert len(frozen_at_rows) == 2 and min(frozen_at_rows) > 1000  # the imports and the model, at least
    assert gc.get_freeze_count() == 0  # a process running pipelines one after another frees their cycles
