"""The run state the screens draw from, fed with the recorded streams (no Textual involved)."""

from __future__ import annotations

from trt_tui.core.config import RunConfig
from trt_tui.core.events import Finished, RowEvent, parse_line
from trt_tui.screens.state import RunView, table_rows

from .helpers import EXPORT_FAILURE, MLP, SYNTHETIC_BUILD


def replay(path, config: RunConfig | None = None) -> RunView:
    state = RunView(config or RunConfig(), clock=lambda: 100.0)
    state.begin(config or RunConfig())
    for line in path.read_text().splitlines():
        event = parse_line(line)
        assert event is not None, line
        state.apply(event)
    return state


def test_mlp_stream_fills_every_part_of_the_state():
    state = replay(MLP)
    assert state.finished is not None and state.finished.status == "ok"
    assert not state.running
    assert [s.status for s in state.export_steps.values()] == ["ok", "ok", "ok"]
    assert state.export_detail["opset"] == 18 and state.export_detail["nodes"] == 6
    # no TensorRT on the recording machine: the engines are skipped with the reason
    assert {e.status for e in state.engines.values()} == {"skipped"}
    assert "TensorRT is not installed" in state.engines["tensorrt-fp16"].reason
    rows = state.store.rows
    assert rows["pytorch-fp32"]["status"] == "ok" and rows["pytorch-fp32"]["latency_p50_ms"] > 0
    assert state.store.best == "onnxruntime-fp32"
    assert table_rows(state)[0] == "pytorch-fp32"
    assert state.status_line()[0] == "finished"


def test_synthetic_build_stream_gives_engine_progress_and_plans():
    state = replay(SYNTHETIC_BUILD)
    fp16 = state.engines["tensorrt-fp16"]
    assert fp16.status == "ok" and fp16.detail["plan"].endswith("model_fp16.plan")
    assert fp16.step == fp16.total == 4
    assert any(log.source == "tensorrt" for log in state.logs)
    assert state.store.best == "tensorrt-fp16"


def test_export_failure_keeps_the_full_message():
    state = replay(EXPORT_FAILURE)
    assert state.export_steps["export"].status == "failed"
    assert state.export_steps["checker"].status == "skipped"
    failure = state.export_failure()
    assert "GuardOnDataDependentSymNode" in failure
    assert "Traceback (most recent call last)" in failure  # the detail, not only the one line
    assert state.store.rows["onnxruntime-fp32"]["status"] == "failed"
    assert state.store.rows["pytorch-fp32"]["status"] == "ok"  # the PyTorch row still ran


def test_cancel_closes_the_rows_still_open_and_saves_them(tmp_path):
    state = RunView(RunConfig(), clock=lambda: 0.0)
    state.begin(RunConfig())
    state.apply(RowEvent(row={"row_id": "pytorch-fp32", "status": "ok", "latency_p50_ms": 1.0}))
    state.apply(RowEvent(row={"row_id": "onnxruntime-fp32", "status": "running"}))
    state.apply(Finished(status="cancelled", out_dir=str(tmp_path), message="cancelled by the user"))
    assert state.store.rows["onnxruntime-fp32"]["status"] == "cancelled"
    assert state.store.rows["pytorch-fp32"]["status"] == "ok"
    assert (tmp_path / "results.csv").is_file()  # the app, the only writer left, saved the rows


def test_a_step_run_alone_keeps_the_other_steps():
    state = replay(MLP)
    export_before = dict(state.export_detail)
    config = RunConfig(stages=("benchmark",))
    state.begin(config)
    assert state.running and state.export_detail == export_before
    assert state.store.rows["pytorch-fp32"]["status"] == "ok"  # merged into, not wiped
    state.begin(RunConfig(model="digits-cnn"))  # another model: afresh
    assert not state.store.rows


def test_row_detail_shows_gpu_and_enqueue_time_and_the_launch_note():
    from trt_tui.screens.benchmark import row_detail

    line = row_detail({"row_id": "pytorch-fp16", "device": "cuda:0 (NVIDIA H200)", "gpu_compute_p50_ms": 4.031,
                       "enqueue_p50_ms": 4.209, "notes": "eager; GPU compute includes CPU launch time in 40/500"})
    assert "[dim]GPU p50[/] 4.031 ms" in line and "[dim]enqueue p50[/] 4.209 ms" in line
    assert "CPU launch time in 40/500" in line
    assert "host-bound: launch 4.21 ms ≥ GPU 4.03 ms" in line  # enqueue >= GPU time
    gpu_bound = row_detail({"row_id": "pytorch-fp32", "gpu_compute_p50_ms": 5.3, "enqueue_p50_ms": 3.865})
    assert "host-bound" not in gpu_bound
    cpu = row_detail({"row_id": "onnxruntime-fp32", "device": "cpu", "enqueue_p50_ms": None})
    assert "enqueue" not in cpu  # no enqueue figure on the CPU, so no label either
    fewer = row_detail({"row_id": "tensorrt-fp16", "gpu_compute_p50_ms": 1.2, "iterations": 500,
                        "gpu_compute_iterations": 96, "latency_p50_ci_low_ms": 1.3, "latency_p50_ci_high_ms": 1.31})
    assert "[dim]GPU from[/] 96 of 500 iterations" in fewer
    assert "GPU from" not in row_detail({"row_id": "tensorrt-fp16", "iterations": 500, "gpu_compute_iterations": 500,
                                         "latency_p50_ci_low_ms": 1.3, "latency_p50_ci_high_ms": 1.31})


def test_a_running_row_shows_its_median_so_far_until_the_latency_arrives():
    """The first number on screen: while a row's timed loop runs, its p50 cell shows the median so far
    ('~', dim); the row's measured p50 replaces it; in a sweep it lands on the row at the size running."""
    from trt_tui.core.events import Progress
    from trt_tui.screens.benchmark import row_cells

    cfg = RunConfig(rows=("pytorch-fp32",), batch_sizes=(1, 8))
    state = RunView(cfg, clock=lambda: 100.0)
    state.begin(cfg)
    for batch in (1, 8):
        state.apply(RowEvent(row={"row_id": "pytorch-fp32", "batch_size": batch, "status": "pending"}))
    state.apply(RowEvent(row={"row_id": "pytorch-fp32", "batch_size": 8, "status": "running"}))
    state.apply(Progress(stage="benchmark", task="pytorch-fp32", phase="timed", step=90, total=500, p50_ms=5.708))
    state.apply(Progress(stage="benchmark", task="pytorch-fp32", phase="timed", step=91, total=500))
    key = state.store.key("pytorch-fp32", 8)
    assert key != "pytorch-fp32" and state.bench_progress[key].p50_ms == 5.708
    p50 = row_cells(state.store.rows[key], "PyTorch FP32 b8", False, state.bench_progress[key], ("latency_p50_ms",))[2]
    assert p50.plain == "~5.708" and p50.style == "dim"
    state.apply(RowEvent(row={"row_id": "pytorch-fp32", "batch_size": 8, "status": "running", "latency_p50_ms": 5.69}))
    p50 = row_cells(state.store.rows[key], "PyTorch FP32 b8", False, state.bench_progress[key], ("latency_p50_ms",))[2]
    assert p50.plain == "5.690"
