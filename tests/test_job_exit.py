"""The job process leaves without the interpreter's teardown once its last event is out (`exit_now`):
what matters at exit still happens — atexit handlers run, the results are on disk, the status is kept."""

from __future__ import annotations

import json

from trt_tui.child_job import JobProcess
from trt_tui.core.config import RunConfig
from trt_tui.core.events import Finished

MODEL = """
import atexit, pathlib
import torch

def _bye():
    pathlib.Path({marker!r}).write_text("ran")

def build():
    atexit.register(_bye)  # a user's model (or a library it imports) that tidies up at exit
    return torch.nn.Sequential(torch.nn.Linear(8, 4)).eval()

def example_inputs(batch_size):
    return torch.randn(batch_size, 8)
"""


def run(tmp_path, model: str, rows=("pytorch-fp32", "onnxruntime-fp32")):
    cfg = RunConfig(model=model, rows=rows, iterations=5, warmup=1, device="cpu", out_dir=str(tmp_path / "run"))
    job = JobProcess(cfg)
    events = list(job.events())
    return job, events


def test_atexit_handlers_run_and_the_results_are_whole(tmp_path):
    marker = tmp_path / "atexit.txt"
    (tmp_path / "m.py").write_text(MODEL.format(marker=str(marker)))
    job, events = run(tmp_path, f"{tmp_path / 'm.py'}:build")
    assert isinstance(events[-1], Finished) and events[-1].status == "ok" and job.returncode == 0
    assert marker.read_text() == "ran"
    data = json.loads((tmp_path / "run" / "results.json").read_text())
    assert {r["row_id"]: r["status"] for r in data["rows"]} == {"pytorch-fp32": "ok", "onnxruntime-fp32": "ok"}


def test_a_failed_run_still_exits_1(tmp_path):
    job, events = run(tmp_path, str(tmp_path / "missing.py") + ":build")
    assert isinstance(events[-1], Finished) and events[-1].status == "failed" and job.returncode == 1
