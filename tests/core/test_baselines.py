"""The PyTorch rows a user would pick instead (CUDA graphs, torch.compile) and the run order that
gives the first numbers early: runner logic on the CPU, the pipeline's order and skip reasons."""

from __future__ import annotations

import json

import numpy as np
import pytest

from trt_tui.core import bench, models, results, torch_runners
from trt_tui.core.rows import get as row_of
from trt_tui.core.config import COMPILE_ROWS, RunConfig
from trt_tui.core.rows import ALL_IDS, DEFAULT_IDS
from trt_tui.core.errors import TrtTuiError
from trt_tui.core.events import Log, Progress, RowEvent, StageStarted
from trt_tui.core.pipeline import Pipeline

BASELINE_ROWS = ("pytorch-fp32", "pytorch-fp16", "pytorch-graph-fp32", "pytorch-graph-fp16",
                 "pytorch-compile-fp32", "pytorch-compile-fp16")


@pytest.fixture(scope="module")
def mlp():
    return models.load_model("mlp")


@pytest.mark.parametrize("row_id", ["pytorch-graph-fp32", "pytorch-graph-fp16", "pytorch-compile-fp32",
                                    "pytorch-compile-fp16"])
def test_graph_and_compile_rows_are_refused_on_the_cpu_with_the_reason(mlp, row_id):
    row = row_of(row_id)
    why = torch_runners.unavailable_reason(row, "cpu")
    assert ("CUDA graphs" if "graph" in row_id else "torch.compile") in why
    assert torch_runners.unavailable_reason(row, "cuda") == ""
    with pytest.raises(TrtTuiError) as err:
        torch_runners.make(row, mlp.module, (2, *mlp.input_shape), device="cpu", params=10)
    assert err.value.message == why


def test_eager_rows_run_anywhere(mlp):
    assert torch_runners.unavailable_reason(row_of("pytorch-fp16"), "cpu") == ""
    runner, fields = torch_runners.make(row_of("pytorch-fp16"), mlp.module, (2, *mlp.input_shape), device="cpu", params=10)
    assert type(runner) is bench.TorchRunner and runner.dtype.itemsize == 2
    assert fields["size_bytes"] == 20 and "eager" in fields["notes"]
    assert torch_runners.build_fields(runner) == {}


def test_compiled_runner_compiles_once_per_shape_and_matches_eager(mlp):
    """The runner's logic with dynamo's eager backend (inductor's code generation takes ~45 s on this CPU;
    the GPU suite runs the real thing): compile time measured, one graph per input shape, same outputs."""
    import torch

    x = models.sample_input(mlp.input_shape, 4)
    ref = bench.run_batches(bench.TorchRunner(mlp.module, x.shape, device="cpu"), x, 4)
    runner = torch_runners.CompiledRunner(mlp.module, x.shape, device="cpu", backend="eager")
    assert not runner.uses_graphs  # no CUDA-graph step marks off CUDA
    counters = torch._dynamo.utils.counters
    counters.clear()
    out = bench.run_batches(runner, x, 4)
    np.testing.assert_allclose(out[0], ref[0], rtol=1e-6, atol=1e-6)
    first = runner.compile_s
    assert first > 0 and counters["stats"]["unique_graphs"] == 1
    m = bench.measure(runner, x, warmup=2, iterations=10)  # same shape: no new compile
    assert runner.compile_s == first and counters["stats"]["unique_graphs"] == 1 and m.iterations == 10
    bench.run_batches(runner, x, 2)  # another batch size compiles its own static graph, timed too
    assert runner.compile_s > first and counters["stats"]["unique_graphs"] == 2
    assert torch_runners.build_fields(runner) == {"build_time_s": runner.compile_s}
    runner.close()


def test_speedups_compare_rows_of_the_same_batch_against_eager_and_the_best_pytorch():
    def new_row(rid: str, **values: object) -> dict:
        return {**{c: None for c in results.COLUMNS}, "row_id": rid, "backend": row_of(rid).backend,
                "precision": row_of(rid).precision, **values}

    rows = [new_row(rid, batch_size=bs, status="ok", latency_p50_ms=lat)
            for rid, bs, lat in (("pytorch-fp32", 1, 4.0), ("pytorch-graph-fp32", 1, 1.0), ("tensorrt-fp16", 1, 0.5),
                                 ("pytorch-fp32", 8, 10.0), ("pytorch-fp16", 8, 5.0), ("tensorrt-fp16", 8, 2.0))]
    rows.append(new_row("pytorch-graph-fp16", batch_size=8, status="failed",
                                latency_p50_ms=0.1))  # not ok: never the best PyTorch
    results.update_speedups(rows)
    got = {(r["row_id"], r["batch_size"]): (r["speedup_vs_pytorch"], r["speedup_vs_best_pytorch"]) for r in rows}
    assert got[("tensorrt-fp16", 1)] == (8.0, 2.0)
    assert got[("pytorch-graph-fp32", 1)] == (4.0, 1.0)
    assert got[("tensorrt-fp16", 8)] == (5.0, 2.5)
    assert got[("pytorch-fp32", 8)] == (1.0, 0.5)


def test_compile_rows_are_opt_in():
    from trt_tui.cli import build_parser, config_from_args

    assert set(COMPILE_ROWS) <= set(ALL_IDS) and not set(COMPILE_ROWS) & set(DEFAULT_IDS)
    assert RunConfig().rows == DEFAULT_IDS
    parse = lambda *a: config_from_args(build_parser().parse_args(["run", *a]))[0]  # noqa: E731
    assert parse().rows == DEFAULT_IDS
    cfg = parse("--compile", "--compile-mode", "max-autotune", "--rows", "pytorch-fp32,tensorrt-fp16")
    assert cfg.rows == ("pytorch-fp32", "pytorch-compile-fp32", "pytorch-compile-fp16", "tensorrt-fp16")
    assert cfg.compile_mode == "max-autotune" and not cfg.problems()
    assert "compile_mode" in RunConfig(compile_mode="fastest").problems()
    cfg, lines = config_from_args(build_parser().parse_args(["run", "--batch-sizes", "1,x"]))
    assert cfg is None and lines == ["trt-tui run: --batch-sizes 1,x: must be whole numbers separated by commas, e.g. 1,8,32,128"]
    cfg, lines = config_from_args(build_parser().parse_args(["run", "--batch-sizes", "8,0"]))
    assert cfg is None and lines[0].startswith("trt-tui run: --batch-sizes 8,0: batch sizes must be whole numbers >= 1")


def test_pytorch_rows_give_numbers_before_export_and_graph_rows_skip_on_the_cpu(tmp_path):
    """Run order: the PyTorch rows are measured right after the model loads (their first 'ok' comes
    before the export stage starts); graph and compile rows say why they cannot run on the CPU."""
    events = []
    out = tmp_path / "run"
    cfg = RunConfig(model="mlp", rows=BASELINE_ROWS + ("onnxruntime-fp32",), exporter="torchscript",
                    iterations=5, warmup=1, device="cpu", out_dir=str(out))
    fin = Pipeline(cfg, events.append).run()
    assert fin.status == "ok"
    kinds = [(type(e).__name__, getattr(e, "stage", ""), getattr(e, "row", {}).get("row_id"),
              getattr(e, "row", {}).get("status")) for e in events]
    first_ok = next(i for i, k in enumerate(kinds) if k[0] == "RowEvent" and k[3] == "ok")
    export_start = next(i for i, e in enumerate(events) if isinstance(e, StageStarted) and e.stage == "export")
    assert kinds[first_ok][2] == "pytorch-fp32" and first_ok < export_start
    # both PyTorch eager rows were done before export; onnxruntime after it
    ok_at = {k[2]: i for i, k in enumerate(kinds) if k[0] == "RowEvent" and k[3] == "ok"}
    assert ok_at["pytorch-fp16"] < export_start < ok_at["onnxruntime-fp32"]
    bench_starts = [e.title for e in events if isinstance(e, StageStarted) and e.stage == "benchmark"]
    assert len(bench_starts) == 2 and "PyTorch" in bench_starts[0]
    data = json.loads((out / "results.json").read_text())
    rows = {r["row_id"]: r for r in data["rows"]}
    for rid in BASELINE_ROWS[2:]:
        assert rows[rid]["status"] == "skipped"
        assert rows[rid]["reason"] == torch_runners.unavailable_reason(row_of(rid), "cpu") != ""
    assert rows["pytorch-fp16"]["speedup_vs_best_pytorch"] is not None
    best_pt = min(rows[r]["latency_p50_ms"] for r in ("pytorch-fp32", "pytorch-fp16"))
    assert rows["onnxruntime-fp32"]["speedup_vs_best_pytorch"] == pytest.approx(
        best_pt / rows["onnxruntime-fp32"]["latency_p50_ms"])
    first = data["meta"]["first_row"]
    assert first["row_id"] == "pytorch-fp32" and first["batch_size"] == 1
    assert 0 < first["seconds_since_pipeline_start"] <= first["seconds_since_process_start"]


def test_iobinding_runner_binds_buffers_and_matches_session_run(tmp_path, mlp):
    """The IOBinding runner's binding logic on the CPU provider (the CUDA path is the same code on
    device buffers and its own stream; only a GPU with onnxruntime's CUDA provider runs it)."""
    from trt_tui.core import export, ort_runners

    path = tmp_path / "mlp.onnx"
    export.export_onnx(mlp.module, tuple(mlp.input_shape), 4, path, exporter="torchscript")
    session = export.ort_session(path, prefer_cuda=False)
    x = models.sample_input(mlp.input_shape, 4)
    want = session.run(None, {session.get_inputs()[0].name: x})
    runner = ort_runners.OrtBoundRunner(session, x.shape, device="cpu")
    got = bench.run_batches(runner, x, 4)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-6, atol=1e-6)
    x2 = models.sample_input(mlp.input_shape, 4, seed=3)  # new data in the same bound buffer
    np.testing.assert_allclose(bench.run_batches(runner, x2, 4)[0],
                               session.run(None, {session.get_inputs()[0].name: x2})[0], rtol=1e-6, atol=1e-6)
    m = bench.measure(runner, x, warmup=1, iterations=5)
    assert m.iterations == 5 and m.gpu_compute_ms is None
    with pytest.raises(TrtTuiError, match="CUDA provider"):  # a CPU session is refused as a CUDA runner
        ort_runners.OrtBoundRunner(session, x.shape, device="cuda")


def test_the_first_row_is_timed_before_the_eval_set_and_its_reference(tmp_path, monkeypatch):
    """The number the user waits for comes first: the first row's running median and its latency
    reach the stream before the accuracy reference is computed; its accuracy follows on the same row."""
    monkeypatch.setattr(bench, "RUNNING_EVERY_S", 0.0)
    events = []
    cfg = RunConfig(model="mlp", rows=("pytorch-fp32", "pytorch-fp16"), iterations=30, warmup=1,
                    device="cpu", out_dir=str(tmp_path / "run"))
    assert Pipeline(cfg, events.append).run().status == "ok"
    running = next(i for i, e in enumerate(events) if isinstance(e, Progress) and e.p50_ms is not None)
    latency = next(i for i, e in enumerate(events) if isinstance(e, RowEvent)
                   and e.row["latency_p50_ms"] is not None)
    reference = next(i for i, e in enumerate(events) if isinstance(e, Log) and "accuracy reference" in e.message)
    assert events[running].task == events[latency].row["row_id"] == "pytorch-fp32"
    assert running < latency < reference
    assert events[latency].row["cosine_sim"] is None  # accuracy not yet known when the number shows
    ok = next(e.row for e in events if isinstance(e, RowEvent) and e.row["status"] == "ok")
    assert ok["row_id"] == "pytorch-fp32" and ok["cosine_sim"] == pytest.approx(1.0, abs=1e-6)


def test_an_fp16_row_that_meets_float32_the_model_makes_says_so():
    """model.half() with a .float() inside forward: PyTorch's dtype error, with the likely cause."""
    import torch

    from trt_tui.core.stages.benchmark import describe_failure

    class Mixes(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(4, 2)

        def forward(self, x):
            return self.fc(x.float())

    with pytest.raises(RuntimeError) as info:
        Mixes().half()(torch.ones(1, 4, dtype=torch.float16))
    said = describe_failure(info.value, 8, half=True)
    assert said.startswith("RuntimeError: ") and said.endswith("that meet its FP16 weights)")
    assert "FP16" not in describe_failure(info.value, 8)
    assert "FP16" not in describe_failure(RuntimeError("index 7 is out of bounds"), 8, half=True)
