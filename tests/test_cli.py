"""The headless CLI and the child job, end to end on the CPU (real subprocesses, real pipeline)."""

from __future__ import annotations

import csv
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from trt_tui.core.rows import DEFAULT_IDS
from trt_tui.core.results import COLUMNS

FAST = ["--iterations", "20", "--warmup", "2", "--exporter", "torchscript"]


def run_cli(*args: str, timeout: int = 300, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "trt_tui.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


@pytest.fixture(scope="module")
def mlp_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("mlp")
    proc = run_cli("run", "--model", "mlp", "--out", str(out), *FAST)
    return proc, out


def test_run_mlp_end_to_end(mlp_run):
    proc, out = mlp_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "trt-tui results" in proc.stdout
    data = json.loads((out / "results.json").read_text())
    rows = {r["row_id"]: r for r in data["rows"]}
    assert list(rows) == list(DEFAULT_IDS)
    assert data["meta"]["config"]["model"] == "mlp" and "launch hidden" in data["meta"]["timing"]["gpu_compute"]
    for rid in ("pytorch-fp32", "pytorch-fp16", "onnxruntime-fp32", "onnxruntime-int8"):
        r = rows[rid]
        assert r["status"] == "ok", r
        assert r["device"] == "cpu" and r["iterations"] == 20
        assert r["gpu_compute_p50_ms"] is None and r["enqueue_p50_ms"] is None  # CUDA-only figures
        assert r["latency_min_ms"] <= r["latency_p50_ms"] <= r["latency_p99_ms"] <= r["latency_max_ms"]
        assert r["throughput_per_s"] > 0 and r["size_bytes"] > 0
        assert r["speedup_vs_pytorch"] == pytest.approx(rows["pytorch-fp32"]["latency_p50_ms"] / r["latency_p50_ms"], rel=1e-2)
    assert rows["onnxruntime-fp32"]["max_abs_err"] < 1e-4
    assert rows["pytorch-fp32"]["max_abs_err"] == 0.0
    # No TensorRT here: skipped with the reason and the install command, never "ok".
    for rid in ("tensorrt-fp32", "tensorrt-fp16", "tensorrt-int8"):
        assert rows[rid]["status"] == "skipped"
        assert "not installed" in rows[rid]["reason"] and "pip install" in rows[rid]["reason"]
    assert data["best"] in rows and rows[data["best"]]["status"] == "ok"
    assert data["env"]["torch"] and data["env"]["onnxruntime"] and data["env"]["device"] == "cpu"
    assert (out / "model.onnx").is_file() and (out / "model_int8_qdq.onnx").is_file()


def test_csv_schema_is_stable(mlp_run):
    _, out = mlp_run
    with open(out / "results.csv", newline="") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames or ()) == COLUMNS
        rows = list(reader)
    assert [r["row_id"] for r in rows] == list(DEFAULT_IDS)
    required = {"backend", "precision", "device", "batch_size", "latency_mean_ms", "latency_p50_ms", "latency_p99_ms",
                "throughput_per_s", "speedup_vs_pytorch", "size_bytes", "max_abs_err", "status", "reason"}
    assert required <= set(COLUMNS)
    assert float(rows[0]["latency_p50_ms"]) > 0


def test_json_mode_passes_events_through(tmp_path):
    proc = run_cli("run", "--model", "mlp", "--rows", "pytorch-fp32", "--out", str(tmp_path), "--json", *FAST)
    assert proc.returncode == 0, proc.stderr[-2000:]
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    types = [e["type"] for e in events]
    assert types[0] == "stage_started" and types[-1] == "finished"
    assert {"env", "row", "progress", "stage_finished"} <= set(types)
    assert events[-1]["status"] == "ok"
    # Only PyTorch rows: nothing is exported.
    assert not (tmp_path / "model.onnx").exists()


def test_bad_model_is_one_clear_line(tmp_path):
    bad = tmp_path / "net.py"
    bad.write_text("def build(:\n")
    proc = run_cli("run", "--model", f"{bad}:build", "--input-shape", "3,8,8", "--out", str(tmp_path / "o"), *FAST)
    assert proc.returncode == 2  # found by the caller: no process started, nothing written
    assert proc.stderr == f"trt-tui run: --model {bad}:build: syntax error in {bad} line 1: invalid syntax\n"
    assert not (tmp_path / "o").exists()


def test_invalid_arguments_are_named(tmp_path):
    proc = run_cli("run", "--model", "mlp", "--batch-size", "0", "--rows", "pytorch-fp99")
    assert proc.returncode == 2
    assert "--batch-size" in proc.stderr and "--rows" in proc.stderr
    assert "trt-tui run: --batch-size 0: must be a whole number >= 1" in proc.stderr.splitlines()
    proc = run_cli("run", "--model", "x.py:f", "--input-shape", "3,a,4")
    assert proc.returncode == 2 and proc.stderr.splitlines() == [
        "trt-tui run: --model x.py:f: model file not found: x.py",
        "trt-tui run: --input-shape 3,a,4: must be positive integers separated by commas (or x), e.g. 3,224,224"]
    assert proc.stdout == ""


def test_models_lists_builtins():
    proc = run_cli("models")
    assert proc.returncode == 0
    for name in ("mlp", "cnn", "digits-cnn", "resnet18", "resnet50"):
        assert name in proc.stdout
    assert "3x224x224" in proc.stdout


def test_step_alone_keeps_earlier_rows(tmp_path):
    """A step run alone in a results folder leaves the rows it does not recompute as they were."""
    rows_arg = ["--rows", "pytorch-fp32,onnxruntime-fp32", "--out", str(tmp_path)]
    assert run_cli("run", "--model", "mlp", *rows_arg, *FAST).returncode == 0
    before = {r["row_id"]: r for r in json.loads((tmp_path / "results.json").read_text())["rows"]}
    proc = run_cli("run", "--model", "mlp", *rows_arg, "--stages", "export", *FAST)
    assert proc.returncode == 0, proc.stderr[-2000:]
    after = {r["row_id"]: r for r in json.loads((tmp_path / "results.json").read_text())["rows"]}
    assert after == before
    proc = run_cli("run", "--model", "mlp", *rows_arg, "--stages", "benchmark", *FAST)
    assert proc.returncode == 0, proc.stderr[-2000:]
    again = {r["row_id"]: r for r in json.loads((tmp_path / "results.json").read_text())["rows"]}
    assert all(r["status"] == "ok" for r in again.values())
    assert again["onnxruntime-fp32"]["latency_p50_ms"] != before["onnxruntime-fp32"]["latency_p50_ms"]
    assert again["onnxruntime-fp32"]["tf32"] == "n/a"


def test_existing_onnx_model(tmp_path):
    """An .onnx file: export skipped, its fixed batch used, PyTorch rows skipped, onnxruntime rows measured
    against onnxruntime FP32."""
    import torch

    from trt_tui.core.export import export_onnx

    model = tmp_path / "m.onnx"
    export_onnx(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 4)), (3, 4), 8, model, exporter="torchscript")
    proc = run_cli("run", "--model", str(model), "--rows", "pytorch-fp32,onnxruntime-fp32,onnxruntime-int8",
                   "--out", str(tmp_path / "o"), *FAST)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "fixed batch size of 8" in proc.stderr
    saved = json.loads((tmp_path / "o" / "results.json").read_text())
    assert saved["meta"]["config"]["batch_size"] == 1  # the config says what was asked, never rewritten
    assert saved["meta"]["effective_batch_size"] == 8  # what was measured, reported beside it
    rows = {r["row_id"]: r for r in saved["rows"]}
    assert rows["pytorch-fp32"]["status"] == "skipped" and "ONNX file" in rows["pytorch-fp32"]["reason"]
    for rid in ("onnxruntime-fp32", "onnxruntime-int8"):
        assert rows[rid]["status"] == "ok" and rows[rid]["batch_size"] == 8
    assert rows["onnxruntime-fp32"]["max_abs_err"] == 0.0


def test_a_model_that_gives_one_class_for_everything_is_flagged(tmp_path):
    """Top-1 agreement is vacuous when the reference predicts one class for every input: the run says so."""
    (tmp_path / "const.py").write_text(
        "import torch\n"
        "def make():\n"
        "    m = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 5))\n"
        "    with torch.no_grad():\n"
        "        m[1].bias[:] = torch.tensor([0.0, 0.0, 50.0, 0.0, 0.0])\n"
        "    return m\n")
    out = tmp_path / "o"
    proc = run_cli("run", "--model", f"{tmp_path / 'const.py'}:make", "--input-shape", "3,2,2",
                   "--rows", "pytorch-fp32,onnxruntime-fp32", "--out", str(out), *FAST)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "the reference gives class 2 for all" in proc.stderr and "top-1 agreement says little" in proc.stderr


def test_a_model_torch_export_cannot_trace_is_exported_by_torchscript_and_said_so(tmp_path):
    (tmp_path / "branch.py").write_text(
        "import torch\n"
        "class Net(torch.nn.Module):\n"
        "    def forward(self, x):\n"
        "        return x * 2 if x.abs().sum() >= 0 else -x\n")  # always the first branch; torch.export cannot know

    out = tmp_path / "o"
    proc = run_cli("run", "--model", f"{tmp_path / 'branch.py'}:Net", "--input-shape", "4",
                   "--rows", "onnxruntime-fp32", "--out", str(out), "--iterations", "20", "--warmup", "2")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "warning: dynamo export failed: " in proc.stderr
    assert "; exported with the TorchScript exporter instead" in proc.stderr
    row = json.loads((out / "results.json").read_text())["rows"][0]
    assert row["row_id"] == "onnxruntime-fp32" and row["status"] == "ok" and row["max_abs_err"] == 0.0


def test_kept_files_follow_the_umask(tmp_path):
    """results.json/csv and an exported CSV/JSON get the user's umask, as the ONNX files do (not 0600)."""
    from trt_tui.core.results import ResultsStore

    old = os.umask(0o027)
    try:
        store = ResultsStore(tmp_path / "out")
        store.upsert({"row_id": "pytorch-fp32", "backend": "pytorch", "precision": "fp32", "status": "ok"})
        store.save()
        kept = [tmp_path / "out" / "results.json", tmp_path / "out" / "results.csv",
                store.export_csv(tmp_path / "export.csv"), store.export_json(tmp_path / "export.json")]
    finally:
        os.umask(old)
    assert {oct(stat.S_IMODE(p.stat().st_mode)) for p in kept} == {oct(0o640)}
    assert not list((tmp_path / "out").glob(".*.tmp"))


def test_results_files_have_the_mode_of_the_onnx_files(mlp_run):
    _, out = mlp_run
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (out / "results.json", out / "results.csv", out / "model.onnx")}
    assert len(set(modes.values())) == 1, modes


def test_a_run_leaves_the_temp_dir_as_it_found_it(tmp_path):
    """Every CPU row, the quantizer included, with a private TMPDIR: nothing left in it."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    proc = run_cli("run", "--model", "mlp", "--out", str(tmp_path / "out"), *FAST,
                   env={**os.environ, "TMPDIR": str(tmp)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    # ".ses": onnxruntime's telemetry session record, written by `import onnxruntime` and kept across runs
    # (not a temporary; it is already in /tmp on any machine that ran onnxruntime once)
    assert sorted(p.name for p in tmp.iterdir() if p.name != ".ses") == []


def test_the_progress_line_shows_the_median_so_far():
    """Headless too, the first number comes during the timed loop: '[timed] 90/500 … p50 so far'."""
    import io

    from trt_tui.cli import ProgressPrinter
    from trt_tui.core.events import Progress

    out = io.StringIO()
    ProgressPrinter(out)(Progress(stage="benchmark", task="pytorch-fp32", phase="timed", step=90, total=500,
                                  p50_ms=5.708))
    assert out.getvalue().strip() == "pytorch-fp32 [timed] 90/500  18% p50 so far 5.708 ms"


def test_a_row_is_said_once_when_it_settles_and_again_at_another_point():
    """A settled row's later updates (its speedup once the best PyTorch row is known) are not printed again;
    the same row at another sweep point is."""
    import io

    from trt_tui.cli import ProgressPrinter
    from trt_tui.core.events import RowEvent

    out = io.StringIO()
    say = ProgressPrinter(out)
    row = {"row_id": "pytorch-fp32", "batch_size": 2, "dims": "seq=32", "status": "ok", "latency_p50_ms": 1.5,
           "throughput_per_s": 600.0}
    skip = {"row_id": "pytorch-graph-fp32", "status": "skipped", "reason": "CUDA graphs need a CUDA GPU"}
    for r in (row, {**row, "speedup_vs_pytorch": 1.0}, {**row, "dims": "seq=64"}, skip, {**skip, "dims": "seq=64"}):
        say(RowEvent(row=r))
    assert out.getvalue().count("pytorch-fp32: p50 1.500 ms") == 2
    assert out.getvalue().count("pytorch-graph-fp32: skipped — CUDA graphs need a CUDA GPU") == 1
