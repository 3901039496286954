"""What trt-tui does when things go wrong, end to end on the CPU with real subprocesses.

1. Bad input through `trt-tui run`: one line naming the cause, no traceback, a non-zero exit.
2. The results folder cannot be written (not a directory, full): a clear message, the rows saved so far stay.
3. Fault injection: the pipeline's child process is SIGKILLed at random points of a real run (seeded,
   a bounded number of kills), crashes with SIGSEGV mid-benchmark, or is cancelled (SIGTERM). After each:
   a ``crashed``/``cancelled`` Finished naming the signal, no row left open, valid results.json and
   results.csv holding every row measured before the kill with the same numbers, no temporary files,
   no process left in the child's group — and the next run in the same folder works.
4. `trt-tui run` itself when its child is killed: the exit status, the table of the rows so far.
"""

from __future__ import annotations

import csv
import errno
import json
import os
import random
import re
import resource
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from trt_tui.core.config import RunConfig
from trt_tui.core.events import ErrorEvent, Event, Finished, RowEvent, StageStarted
from trt_tui.core.results import COLUMNS, rows_from_csv
from trt_tui.core.runstate import RunState
from trt_tui.child_job import JobProcess

CPU_ROWS = ("pytorch-fp32", "pytorch-fp16", "onnxruntime-fp32", "onnxruntime-int8")
MEASURED = ("status", "latency_mean_ms", "latency_p50_ms", "latency_p99_ms", "latency_min_ms", "latency_max_ms",
            "throughput_per_s", "iterations", "max_abs_err", "top1_agreement", "size_bytes")
FAST = ["--iterations", "20", "--warmup", "2", "--exporter", "torchscript"]
NO_TRACEBACK = "Traceback (most recent call last)"
# each row measures for 2 s: the test acts the moment pytorch-fp32 is done, pytorch-fp16 is then measuring
SLOW_ROWS = ["--exporter", "torchscript", "--iterations", "10000000", "--warmup", "5", "--max-seconds", "5"]  # the second row must still run when a loaded machine gets round to the kill


def run_cli(*args: str, timeout: int = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "trt_tui.cli", *args], capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(autouse=True)
def no_core_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Children inherit a zero core-file limit and this scratch folder as their working directory:
    a SIGSEGV leaves no core file anywhere."""
    monkeypatch.chdir(tmp_path)
    soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
    resource.setrlimit(resource.RLIMIT_CORE, (0, hard))
    yield
    resource.setrlimit(resource.RLIMIT_CORE, (soft, hard))


# -- 1. bad input: one line, no traceback -------------------------------------------------------------
USER_MODELS = {
    "import_error.py": "import torch\nimport not_a_real_module_xyz\n\ndef make():\n    return torch.nn.Identity()\n",
    "factories.py": (
        "import torch\n"
        "def make():\n    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 5))\n"
        "def boom():\n    raise RuntimeError('boom in factory')\n"
        "def number():\n    return 42\n"
    ),
    "eigh.py": (
        "import torch\n"
        "class Eigh(torch.nn.Module):\n"
        "    def forward(self, x):\n        return torch.linalg.eigh(x @ x.transpose(-1, -2))[0]\n"
        "def make():\n    return Eigh()\n"
    ),
}


def make_onnx_inputs(folder: Path) -> dict[str, Path]:
    """A valid ONNX export, and three broken ones made from it: garbage, truncated, failing onnx.checker."""
    import onnx

    from trt_tui.core.export import export_onnx
    from trt_tui.core.models import load_model

    good = folder / "good.onnx"
    m = load_model("mlp")
    export_onnx(m.module, m.input_shape, 1, good, exporter="torchscript")
    data = good.read_bytes()
    garbage = folder / "garbage.onnx"
    garbage.write_text("this is not an ONNX file\n" * 20)
    truncated = folder / "truncated.onnx"
    truncated.write_bytes(data[: len(data) // 2])
    model = onnx.load(str(good))
    model.graph.node[0].input[0] = "no_such_tensor"  # a node reading a tensor nothing produces
    checker = folder / "checker.onnx"
    onnx.save(model, str(checker))
    return {"good": good, "garbage": garbage, "truncated": truncated, "checker": checker}


# case -> (extra args, exit code, pattern of the one line (regex)); a model that cannot load as given: 2
def bad_input_cases(d: Path, onnx_files: dict[str, Path]) -> dict[str, tuple[list[str], int, str]]:
    f = d / "factories.py"
    (d / "not_a_dir").write_text("a regular file: nothing can be created under it, not even by root\n")
    return {
        "factory-raises": ([f"--model={f}:boom", "--input-shape", "3,2,2"], 2,
                           r"boom\(\) in .*factories\.py raised RuntimeError: boom in factory"),
        "shape-mismatch": ([f"--model={f}:make", "--input-shape", "3,4,4"], 2,
                           r"forward with input shape \(1, 3, 4, 4\) failed: RuntimeError: .*cannot be multiplied"),
        "onnx-garbage": ([f"--model={onnx_files['garbage']}"], 2, r"garbage\.onnx is not a valid ONNX model: "),
        "onnx-truncated": ([f"--model={onnx_files['truncated']}"], 2, r"truncated\.onnx is not a valid ONNX model: "),
        "onnx-checker": ([f"--model={onnx_files['checker']}"], 2,
                         r"checker\.onnx is not a valid ONNX model: ValidationError: .*no_such_tensor"),
        # the export fails: the PyTorch row still runs, the onnxruntime row fails with the cause; the run
        # finished with a failed row: exit status 3, so a script sees it (README: Exit statuses)
        "export-fails": ([f"--model={d}/eigh.py:make", "--input-shape", "4,4", "--rows", "pytorch-fp32,onnxruntime-fp32"],
                         3, r"torchscript export failed: .*eigh"),
        "results-folder-unwritable": (["--model=mlp", "--rows", "pytorch-fp32", "--out", f"{d}/not_a_dir/results"], 1,
                                      r"cannot write results to .*not_a_dir/results: Not a directory"),
        "cuda-asked-no-gpu": (["--model=mlp", "--device", "cuda"], 1,
                              r"--device cuda was asked for but no CUDA GPU is visible to PyTorch$"),
        # the detail on demand
        # (also: an import error in the user's file; the other model-file errors are in tests/core/test_models.py)
        "verbose": ([f"--model={d}/import_error.py:make", "--input-shape", "3,2,2", "-v"], 2,
                    r"import failed in .*import_error\.py: ModuleNotFoundError: No module named 'not_a_real_module_xyz'"),
    }


@pytest.fixture(scope="module")
def bad_input_runs(tmp_path_factory) -> dict[str, tuple[subprocess.CompletedProcess, int, str]]:
    """Every bad-input case through `trt-tui run`, a few at a time (each child imports torch)."""
    d = tmp_path_factory.mktemp("bad-input")
    for name, text in USER_MODELS.items():
        (d / name).write_text(text)
    cases = bad_input_cases(d, make_onnx_inputs(d))

    def one(item: tuple[str, tuple[list[str], int, str]]) -> tuple[str, Any]:
        name, (args, code, pattern) = item
        extra = [] if any(a.startswith("--out") for a in args) else ["--out", str(d / "out" / name)]
        return name, (run_cli("run", *args, *extra, *FAST), code, pattern)

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(pool.map(one, cases.items()))


BAD_INPUT_NAMES = [
    "factory-raises", "shape-mismatch", "onnx-garbage", "onnx-truncated", "onnx-checker", "export-fails",
    "results-folder-unwritable", "cuda-asked-no-gpu",
]


@pytest.mark.parametrize("case", BAD_INPUT_NAMES)
def test_bad_input_is_one_line_without_traceback(bad_input_runs, case):
    proc, code, pattern = bad_input_runs[case]
    assert proc.returncode == code, proc.stderr[-3000:]
    assert NO_TRACEBACK not in proc.stderr and NO_TRACEBACK not in proc.stdout
    errors = [line[3:] for line in proc.stderr.splitlines() if line.startswith("!! ")]
    assert errors and re.search(pattern, errors[0]), proc.stderr[-3000:]
    if code == 1:  # the run failed: the last line of stdout says why, in the same words, on one line
        assert proc.stdout.strip().splitlines()[-1].startswith("run failed: "), proc.stdout[-2000:]
        assert re.search(pattern, proc.stdout.strip().splitlines()[-1]), proc.stdout[-2000:]
    if case == "factory-raises":  # the one line has a traceback behind it: how to see it
        assert "the full detail of each error: run again with -v (or --json for every event)" in proc.stdout
    announced = any(line.startswith("results: ") for line in proc.stdout.splitlines())
    assert announced == (case == "export-fails")  # only where rows were saved: not for a run that has none


def test_verbose_shows_the_detail_under_the_one_line(bad_input_runs):
    proc, code, pattern = bad_input_runs["verbose"]
    assert proc.returncode == code
    lines = proc.stderr.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("!! "))
    assert re.search(pattern, lines[at])
    detail = lines[at + 1:]
    assert detail[0] == "   | Traceback (most recent call last):"
    assert any("import not_a_real_module_xyz" in d for d in detail)
    assert "run again with -v" not in proc.stdout


def test_export_failure_keeps_the_pytorch_row(bad_input_runs, tmp_path_factory):
    proc, _, _ = bad_input_runs["export-fails"]
    assert re.search(r"pytorch-fp32\s.*ok", proc.stdout)
    assert re.search(r"onnxruntime-fp32: failed — ONNX export failed: torchscript export failed: .*eigh", proc.stdout)


# -- 2. a full results folder -------------------------------------------------------------------------
def test_full_disk_mid_run_keeps_the_rows_saved_so_far(tmp_path, monkeypatch):
    """ENOSPC from the first save after a row is measured: the run stops with the cause, and the
    last complete results files (written before) stay valid."""
    from trt_tui.core import atomic
    from trt_tui.core.pipeline import Pipeline

    out = tmp_path / "out"
    events: list[Event] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        if any(isinstance(e, RowEvent) and e.row["status"] == "ok" for e in events):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr(atomic.os, "fsync", fsync)  # the one atomic writer (core/atomic.py)
    cfg = RunConfig(model="mlp", rows=("pytorch-fp32", "pytorch-fp16"), iterations=5, warmup=1, out_dir=str(out))
    fin = Pipeline(cfg, events.append).run()
    assert fin.status == "failed"
    assert fin.message == f"cannot write results to {out}: No space left on device"
    assert any(isinstance(e, ErrorEvent) and e.fatal and e.message == fin.message for e in events)
    saved = {r["row_id"]: r for r in json.loads((out / "results.json").read_text())["rows"]}
    ok = [e.row for e in events if isinstance(e, RowEvent) and e.row["status"] == "ok"]
    assert [r["row_id"] for r in ok] == ["pytorch-fp32"]
    assert saved["pytorch-fp32"]["latency_p50_ms"] == ok[0]["latency_p50_ms"]
    assert [r["row_id"] for r in rows_from_csv((out / "results.csv").read_text())] == list(saved)
    assert not list(out.glob("*.tmp")) and not list(out.glob(".*.tmp"))


# -- 3. fault injection: the child killed, crashed, cancelled -------------------------------------------
def group_alive(pgid: int) -> bool:
    """Whether any process of group ``pgid`` is still running (a zombie waiting for init to reap it
    is not: an orphan's exit status goes to init, which may take a moment)."""
    if not Path("/proc/self/stat").exists():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        return True
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def run_job(cfg: RunConfig, trigger: Callable[[int, Event], bool] | None = None, act: Callable[[JobProcess], None] | None = None,
            at_seconds: float | None = None) -> tuple[JobProcess, list[Event], RunState]:
    """Run ``cfg`` in a real child; ``act(job)`` once ``trigger(index, event)`` holds, or ``at_seconds``
    after the start (before any event, e.g. while the child still imports torch)."""
    job = JobProcess(cfg)
    job.start()
    state, events = RunState(), []
    fired = threading.Event()
    if at_seconds is not None and act is not None:
        timer = threading.Timer(at_seconds, lambda: fired.is_set() or (fired.set(), act(job)))
        timer.start()
    for i, ev in enumerate(job.events()):
        events.append(ev)
        state.apply(ev)
        if trigger is not None and act is not None and not fired.is_set() and trigger(i, ev):
            fired.set()
            act(job)
    assert fired.is_set(), "the fault was never injected"
    return job, events, state


def sigkill_group(delay: float = 0.0) -> Callable[[JobProcess], None]:
    def act(job: JobProcess) -> None:
        time.sleep(delay)
        try:
            os.killpg(job.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return act


def last_rows(events: list[Event]) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for e in events:
        if isinstance(e, RowEvent):
            rows.setdefault(e.row["row_id"], {}).update(e.row)
    return rows


def check_folder(out: Path, events: list[Event], state: RunState) -> dict[str, dict[str, Any]]:
    """results.json and results.csv parse, agree, hold every row the events showed as measured (same
    numbers) and no open row; no temporary or half-written files."""
    leftovers = [p.name for p in out.rglob("*") if p.name.endswith((".tmp", ".partial.onnx"))]
    assert leftovers == []
    for plan in out.glob("*.plan"):  # a plan is only ever renamed into place, with its sidecar
        assert plan.with_name(plan.name + ".json").is_file()
    seen = last_rows(events)
    if not seen:
        return {}
    data = json.loads((out / "results.json").read_text())
    assert data["columns"] == list(COLUMNS)
    disk = {r["row_id"]: r for r in data["rows"]}
    with open(out / "results.csv", newline="") as fh:
        assert tuple(csv.DictReader(fh).fieldnames or ()) == COLUMNS
    from_csv = {r["row_id"]: r for r in rows_from_csv((out / "results.csv").read_text())}
    assert list(from_csv) == list(disk)
    for rid, row in disk.items():
        assert row["status"] not in ("pending", "running"), (rid, row["status"])
        assert from_csv[rid]["status"] == row["status"] and from_csv[rid]["latency_p50_ms"] == row["latency_p50_ms"]
    for rid, row in seen.items():
        if row["status"] == "ok":
            assert {k: disk[rid][k] for k in MEASURED} == {k: row[k] for k in MEASURED}, rid
    for rid, row in state.store.rows.items():  # the caller's view: nothing left open either
        assert row["status"] not in ("pending", "running"), (rid, row["status"])
        assert row["status"] == disk[rid]["status"]
    return disk


def fault_config(out: Path, **kw: Any) -> RunConfig:
    base = dict(model="mlp", rows=CPU_ROWS, exporter="torchscript", iterations=1500, warmup=20,
                calib_samples=64, eval_samples=64, out_dir=str(out))
    return RunConfig(**{**base, **kw})


def test_sigkill_at_random_points_keeps_the_results_folder_valid(tmp_path):
    """Seeded kills spread over a real run: during start-up, then after random events of each part of
    the stream (export, quantize, benchmark), each with a random extra delay. Then a clean run."""
    rng = random.Random(20261128)
    out = tmp_path / "mlp"
    cfg = fault_config(out)
    t_start = time.monotonic()
    # a full run of this config streams about 55 events; 3 trigger points, one per third of it
    triggers = [rng.randrange(q * 16, (q + 1) * 16) for q in range(3)]
    plan: list[dict[str, Any]] = [{"at_seconds": rng.uniform(0.2, 1.2)}]
    plan += [{"index": i, "delay": rng.uniform(0.0, 0.05)} for i in triggers]
    outcomes = []
    for kill in plan:
        if "index" in kill:
            job, events, state = run_job(cfg, trigger=lambda i, ev, n=kill["index"]: i >= n,
                                         act=sigkill_group(kill["delay"]))
        else:
            job, events, state = run_job(cfg, act=sigkill_group(), at_seconds=kill["at_seconds"])
        fin = events[-1]
        assert isinstance(fin, Finished)
        if fin.status == "ok":  # the kill came after the child had finished: nothing to check but the files
            outcomes.append("finished first")
        else:
            assert fin.status == "crashed" and fin.exit_code == -9, fin
            assert fin.message == "the pipeline process stopped unexpectedly: killed by SIGKILL (exit status -9)"
            assert isinstance(events[-2], ErrorEvent) and events[-2].fatal and events[-2].message == fin.message
            closed = [r for r in state.store.rows.values() if r["reason"] == fin.message]
            assert all(r["status"] == "failed" for r in closed)
            stage = next((e.stage for e in reversed(events) if isinstance(e, StageStarted)), "start-up")
            outcomes.append(f"killed after {len(events) - 2} events, in {stage}")
        assert job.returncode is not None and not group_alive(job.pid)
        check_folder(out, events, state)
    assert sum(o.startswith("killed") for o in outcomes) >= 3, outcomes
    # the same folder, a clean run: everything works again
    job, events, state = JobProcess(cfg), [], RunState()
    for ev in job.events():
        events.append(ev)
        state.apply(ev)
    assert events[-1].status == "ok" and job.returncode == 0
    disk = check_folder(out, events, state)
    assert {rid: r["status"] for rid, r in disk.items()} == {rid: "ok" for rid in CPU_ROWS}
    print("kills:", outcomes)
    assert time.monotonic() - t_start < 90, outcomes


def test_sigsegv_mid_benchmark(tmp_path):
    out = tmp_path / "mlp"

    def mid_benchmark(i: int, ev: Event) -> bool:
        return isinstance(ev, RowEvent) and ev.row["row_id"] == "onnxruntime-fp32" and ev.row["reason"] == "measuring"

    job, events, state = run_job(fault_config(out, rows=CPU_ROWS[:3]), trigger=mid_benchmark,
                                 act=lambda j: os.kill(j.pid, signal.SIGSEGV))
    fin = events[-1]
    assert fin.status == "crashed" and fin.exit_code == -11
    assert fin.message == "the pipeline process stopped unexpectedly: killed by SIGSEGV (exit status -11)"
    disk = check_folder(out, events, state)
    assert disk["pytorch-fp32"]["status"] == disk["pytorch-fp16"]["status"] == "ok"
    assert disk["onnxruntime-fp32"]["status"] == "failed" and disk["onnxruntime-fp32"]["reason"] == fin.message
    assert not group_alive(job.pid)


@pytest.mark.parametrize("when", ["start-up", "quantize", "benchmark"])
def test_cancel_stops_the_child_cleanly(tmp_path, when):
    out = tmp_path / "mlp"
    triggers = {
        "quantize": lambda i, ev: isinstance(ev, StageStarted) and ev.stage == "quantize",
        "benchmark": lambda i, ev: isinstance(ev, RowEvent) and ev.row["row_id"] == "pytorch-fp16"
        and ev.row["reason"] == "measuring",
    }
    cancel = lambda job: job.cancel(timeout=10)  # noqa: E731
    if when == "start-up":
        job, events, state = run_job(fault_config(out), act=cancel, at_seconds=0.3)
    else:
        rows = CPU_ROWS if when == "quantize" else CPU_ROWS[:2]
        job, events, state = run_job(fault_config(out, rows=rows), trigger=triggers[when], act=cancel)
    fin = events[-1]
    assert fin.status == "cancelled" and fin.message == "cancelled by the user"
    assert not group_alive(job.pid)
    if when != "start-up":  # the child saw SIGTERM and wound down itself: no SIGKILL was needed
        assert job.returncode == 1 and fin.out_dir == str(out)
        disk = check_folder(out, events, state)
        assert "cancelled" in {r["status"] for r in disk.values()}
        if when == "benchmark":
            assert disk["pytorch-fp32"]["status"] == "ok"


def test_after_a_crash_the_disk_wins_over_lost_events(tmp_path):
    """The child saves a row before announcing it: a SIGKILL between the two leaves the disk newer
    than the caller's events. The caller keeps the measured row, closes the open ones, removes the
    temporary file of an interrupted write, and keeps the run's metadata."""
    from trt_tui.core.events import EnvEvent
    from trt_tui.core.results import ResultsStore

    child = ResultsStore(tmp_path, meta={"config": {"model": "mlp"}})
    child.set_env({"device": "cpu"})
    child.upsert({"row_id": "pytorch-fp32", "status": "ok", "latency_p50_ms": 1.5})
    child.upsert({"row_id": "onnxruntime-fp32", "status": "running", "reason": "measuring"})
    (tmp_path / ".results.json.k2j4.tmp").write_text('{"half": ')  # killed between create and rename
    (tmp_path / ".model.partial.onnx").write_bytes(b"\x08")  # killed mid-export
    state = RunState()
    state.apply(EnvEvent(env={"device": "cpu"}))
    state.apply(RowEvent(row={"row_id": "pytorch-fp32", "status": "running", "reason": "measuring"}))
    state.apply(RowEvent(row={"row_id": "onnxruntime-fp32", "status": "pending"}))
    state.apply(Finished(status="crashed", exit_code=-9, out_dir=str(tmp_path), message="killed by SIGKILL"))
    rows = state.store.rows
    assert rows["pytorch-fp32"]["status"] == "ok" and rows["pytorch-fp32"]["latency_p50_ms"] == 1.5
    assert rows["onnxruntime-fp32"]["status"] == "failed" and rows["onnxruntime-fp32"]["reason"] == "killed by SIGKILL"
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["meta"] == {"config": {"model": "mlp"}} and data["best"] == "pytorch-fp32"
    assert [r["status"] for r in data["rows"]] == ["ok", "failed"]
    assert not list(tmp_path.glob(".*.tmp")) and not list(tmp_path.glob(".*.partial.onnx"))


class FaultyChild(JobProcess):
    """The real child job with a fault the pipeline does not foresee injected into one stage."""

    def __init__(self, config: RunConfig, stage: str) -> None:
        super().__init__(config)
        self.stage = stage

    def command(self) -> list[str]:
        script = ("import sys\nfrom trt_tui.core import pipeline\n"
                  "def boom(*args): raise KeyError('no such thing')\n"
                  f"pipeline.Pipeline.{self.stage} = boom\n"
                  "from trt_tui.jobs.__main__ import main\nsys.exit(main(sys.argv[1:]))\n")
        return [self.python, "-c", script, "run", "--config", self.config.to_json()]


def test_an_internal_error_is_one_line_and_closes_the_open_rows(tmp_path):
    out = tmp_path / "out"
    job = FaultyChild(RunConfig(model="mlp", rows=("pytorch-fp32",), out_dir=str(out)), "baselines")
    state, events = RunState(), []
    for ev in job.events():
        events.append(ev)
        state.apply(ev)
    message = "internal error: KeyError: 'no such thing'"
    fin = events[-1]
    assert (fin.status, fin.message, job.returncode) == ("failed", message, 1)
    (err,) = [e for e in events if isinstance(e, ErrorEvent)]
    assert err.fatal and err.message == message and "Traceback" in err.detail
    (row,) = json.loads((out / "results.json").read_text())["rows"]
    assert (row["status"], row["reason"]) == ("failed", message)  # not left pending


def test_a_crash_before_this_run_wrote_anything_leaves_the_earlier_results(tmp_path):
    """Killed while importing torch: the folder still holds the earlier run's files, untouched."""
    from trt_tui.core.results import ResultsStore

    earlier = ResultsStore(tmp_path)
    earlier.upsert({"row_id": "pytorch-fp32", "status": "ok", "latency_p50_ms": 2.0})
    before = (tmp_path / "results.json").read_text()
    state = RunState()
    state.apply(Finished(status="crashed", exit_code=-9, out_dir=str(tmp_path), message="killed"))
    assert state.store.rows == {} and (tmp_path / "results.json").read_text() == before


@contextmanager
def cli_at_first_row(out: Path, act: Callable[[subprocess.Popen, int], None],
                     inherit: dict[int, Any] | None = None) -> Iterator[tuple[subprocess.Popen, int, list[str]]]:
    """`trt-tui run` on two slow mlp rows; once pytorch-fp32 is measured, ``act(cli, child_pid)``.
    ``inherit``: signal dispositions the CLI starts with (SIGHUP and SIGINT default unless given, as in a
    terminal session, whatever this pytest inherited: nohup, `&`). Yields the process, the child's pid
    and the stderr lines read so far; kills the CLI if still alive."""
    dispositions = {signal.SIGHUP: signal.SIG_DFL, signal.SIGINT: signal.SIG_DFL, **(inherit or {})}
    cli = subprocess.Popen(
        [sys.executable, "-m", "trt_tui.cli", "run", "--model", "mlp", "--rows", ",".join(CPU_ROWS[:2]), "--out", str(out),
         *SLOW_ROWS],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: [signal.signal(sig, how) for sig, how in dispositions.items()])
    try:
        child = find_child(cli.pid)
        assert cli.stderr is not None
        progress = []
        for line in cli.stderr:  # plain progress lines: a row is printed once measured
            progress.append(line)
            if line.strip().startswith("pytorch-fp32: p50"):
                act(cli, child)
                break
        yield cli, child, progress
    finally:
        if cli.poll() is None:
            cli.kill()


def find_child(parent_pid: int, timeout: float = 30.0) -> int:
    """The pid of ``parent_pid``'s child (from /proc)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == parent_pid:
                return int(stat.parent.name)
        time.sleep(0.05)
    raise AssertionError(f"no child of {parent_pid}")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to find the child process")
def test_cli_reports_a_killed_child_with_its_exit_status_and_the_rows_so_far(tmp_path):
    out = tmp_path / "mlp"
    with cli_at_first_row(out, lambda cli, child: os.kill(child, signal.SIGKILL)) as (cli, child, progress):
        stdout, stderr = cli.communicate(timeout=60)
    stderr = "".join(progress) + stderr
    assert cli.returncode == 1
    msg = "the pipeline process stopped unexpectedly: killed by SIGKILL (exit status -9)"
    assert f"!! {msg}" in stderr and f"run crashed: {msg}" in stdout
    assert NO_TRACEBACK not in stderr + stdout
    table = {line.split()[1]: line for line in stdout.splitlines() if line.startswith("│ ")}
    assert "ok" in table["pytorch-fp32"].split("│")[3]
    assert "failed" in table["pytorch-fp16"].split("│")[3]
    assert f"pytorch-fp16: failed — {msg}" in stdout
    saved = {r["row_id"]: r for r in json.loads((out / "results.json").read_text())["rows"]}
    assert saved["pytorch-fp32"]["status"] == "ok" and saved["pytorch-fp16"]["status"] == "failed"
    assert not group_alive(child)


# -- 5. the environment: onnxruntime without CUDA --------------------------------------------------------
def relu_onnx(path: Path) -> Path:
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=10), str(path))
    return path


@pytest.mark.parametrize("case", ["cpu-only-onnxruntime", "no-cuda-driver", "cuda-provider-fails-to-load"])
def test_onnxruntime_without_cuda_runs_on_the_cpu_and_the_row_says_why(tmp_path, monkeypatch, case):
    """On a GPU machine (the run's device is cuda) whose onnxruntime cannot use CUDA, the onnxruntime
    rows still run, on the CPU, and say so: device 'cpu', the CPU provider and the reason in the notes."""
    import onnxruntime

    from trt_tui.core import export, rows
    from trt_tui.core.pipeline import Pipeline
    from trt_tui.core.stages.runners import make_runner

    if case == "cpu-only-onnxruntime":  # e.g. the H200 box: onnxruntime 1.30 from PyPI, CPU only
        monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: ["CPUExecutionProvider"])
        reason = f"this onnxruntime ({onnxruntime.__version__}) has no CUDA provider: pip install onnxruntime-gpu"
    elif case == "no-cuda-driver":
        monkeypatch.setattr(export, "_cuda_driver_present", lambda: False)
        reason = "no CUDA driver (libcuda) found"
    else:  # onnxruntime-gpu without its CUDA/cuDNN libraries: it warns and falls back to the CPU itself
        if "CUDAExecutionProvider" not in onnxruntime.get_available_providers() or export._cuda_driver_present():
            pytest.skip("needs onnxruntime-gpu on a machine without CUDA")
        monkeypatch.setattr(export, "_cuda_driver_present", lambda: True)
        reason = "onnxruntime's CUDA provider did not load (the CUDA/cuDNN libraries it needs are missing)"
    events: list[Event] = []
    pipe = Pipeline(RunConfig(model="mlp", out_dir=str(tmp_path / "out")), events.append)
    pipe.ctx.device, pipe.ctx.files.onnx = "cuda", relu_onnx(tmp_path / "relu.onnx")
    runner, fields = make_runner(pipe.ctx, rows.get("onnxruntime-fp32"))
    assert runner.device == "cpu" and runner.session.get_providers() == ["CPUExecutionProvider"]
    assert fields["device"] == "cpu"
    assert fields["notes"] == f"CPUExecutionProvider ({reason})"
    assert [e.message for e in events] == [f"onnxruntime-fp32 runs on the CPU: {reason}"]


# -- 6. out of GPU memory in one row: the others still run -------------------------------------------------
def test_out_of_memory_in_one_row_fails_it_and_the_others_run(tmp_path, monkeypatch):
    """PyTorch's own OutOfMemoryError (as --batch-size 1000000 gives on the H200: tests/gpu) in one row."""
    import torch

    from trt_tui.core import bench
    from trt_tui.core.pipeline import Pipeline

    real_init = bench.TorchRunner.__init__

    def init(self, module, shape, device="cpu", half=False, **kw):
        if half:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 11.44 GiB. GPU 0 has a total capacity "
                                         "of 139.81 GiB of which 2.06 GiB is free.")
        real_init(self, module, shape, device=device, half=half, **kw)

    monkeypatch.setattr(bench.TorchRunner, "__init__", init)
    events: list[Event] = []
    cfg = RunConfig(model="mlp", rows=("pytorch-fp32", "pytorch-fp16", "onnxruntime-fp32"), exporter="torchscript",
                    batch_size=8, iterations=5, warmup=1, out_dir=str(tmp_path / "out"))
    fin = Pipeline(cfg, events.append).run()
    assert fin.status == "ok"
    saved = {r["row_id"]: r for r in json.loads((tmp_path / "out" / "results.json").read_text())["rows"]}
    assert saved["pytorch-fp16"]["status"] == "failed"
    assert saved["pytorch-fp16"]["reason"] == "out of GPU memory at batch size 8: try a smaller --batch-size"
    assert saved["pytorch-fp32"]["status"] == saved["onnxruntime-fp32"]["status"] == "ok"
    (err,) = [e for e in events if isinstance(e, ErrorEvent)]
    assert err.message == "pytorch-fp16: " + saved["pytorch-fp16"]["reason"] and "Tried to allocate" in err.detail


@pytest.mark.parametrize("sig,inherit", [
    (signal.SIGINT, None), (signal.SIGINT, {signal.SIGINT: signal.SIG_IGN}), (signal.SIGHUP, None),
], ids=["SIGINT", "SIGINT-inherited-ignored", "SIGHUP"])
def test_ctrl_c_or_a_lost_ssh_session_cancels_the_run_and_shows_the_rows_so_far(tmp_path, sig, inherit):
    """Ctrl-C (SIGINT) or a dropped SSH session (SIGHUP) reaches `trt-tui run` only (the child has its own
    session): it cancels the child, which closes its rows, and prints the table of the rows so far. Also
    when started in the background (`trt-tui run &` in a script), which starts it with SIGINT ignored."""
    out = tmp_path / "mlp"
    with cli_at_first_row(out, lambda cli, child: cli.send_signal(sig), inherit) as (cli, child, progress):
        stdout, stderr = cli.communicate(timeout=60)
    stderr = "".join(progress) + stderr
    assert cli.returncode == 130, stderr[-2000:]
    assert "trt-tui: cancelling the run…" in stderr and NO_TRACEBACK not in stderr + stdout
    assert "pytorch-fp16: cancelled — cancelled" in stdout and "run cancelled: cancelled by the user" in stdout
    saved = {r["row_id"]: r["status"] for r in json.loads((out / "results.json").read_text())["rows"]}
    assert saved == {"pytorch-fp32": "ok", "pytorch-fp16": "cancelled"}
    assert not group_alive(child)


def test_under_nohup_a_lost_session_does_not_cancel_the_run(tmp_path):
    """`nohup trt-tui run ...` starts with SIGHUP ignored: the user asked for the run to outlive the
    session, so a SIGHUP leaves it measuring (a Ctrl-C still cancels it)."""
    out = tmp_path / "mlp"

    def hangup_then_interrupt(cli: subprocess.Popen, child: int) -> None:
        cli.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        assert cli.poll() is None and group_alive(child)  # still running
        cli.send_signal(signal.SIGINT)

    with cli_at_first_row(out, hangup_then_interrupt, {signal.SIGHUP: signal.SIG_IGN}) as (cli, child, progress):
        stdout, stderr = cli.communicate(timeout=60)
    assert cli.returncode == 130, stderr[-2000:]
    assert "run cancelled: cancelled by the user" in stdout


def test_the_child_winds_down_when_the_cli_itself_is_killed(tmp_path):
    """`trt-tui run` SIGKILLed (nothing it can catch): the child notices at its next event (a broken
    pipe), closes its open rows as cancelled, saves them and exits — no orphan left measuring."""
    out = tmp_path / "mlp"
    with cli_at_first_row(out, lambda cli, child: cli.kill()) as (cli, child, _):
        cli.wait(timeout=30)
        deadline = time.monotonic() + 30
        while group_alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)
    assert not group_alive(child)
    saved = {r["row_id"]: (r["status"], r["reason"]) for r in json.loads((out / "results.json").read_text())["rows"]}
    assert saved == {"pytorch-fp32": ("ok", ""), "pytorch-fp16": ("cancelled", "cancelled")}
    assert not list(out.glob(".*.tmp"))
