"""The spare child the app keeps ready (torch imported before `r`): it runs the config it is handed,
ends quietly when never used, and a dead one is replaced by a fresh child."""

from __future__ import annotations

import json
import time

from trt_tui.core.config import RunConfig
from trt_tui.core.events import Finished
from trt_tui.child_job import ChildJobs, JobProcess, Spare


def config(out) -> RunConfig:
    return RunConfig(model="mlp", rows=("pytorch-fp32",), iterations=5, warmup=1, device="cpu", out_dir=str(out))


def test_a_spare_child_runs_the_config_it_is_handed(tmp_path):
    spare = Spare()
    time.sleep(1.0)  # the user picks a model meanwhile
    job = JobProcess(config(tmp_path / "run"), spare=spare)
    handed = time.monotonic()
    events = list(job.events())
    took = time.monotonic() - handed
    assert job.pid == spare.proc.pid and job.returncode == 0
    assert isinstance(events[-1], Finished) and events[-1].status == "ok"
    meta = json.loads((tmp_path / "run" / "results.json").read_text())["meta"]
    first = meta["first_row"]
    # its clock starts at the hand-over, not when the spare was started ahead
    assert first["row_id"] == "pytorch-fp32" and first["seconds_since_process_start"] < took
    # so does its timeline, which holds none of the imports done while it waited
    assert meta["timeline_origin"] == "the hand-over of the run to the spare job process"
    entries = meta["timeline"]
    assert entries[0]["name"] == "startup" and entries[0]["start_s"] == 0.0
    assert 0 < max(e["start_s"] + e["duration_s"] for e in entries) < took
    assert "import torch" not in [e["name"] for e in entries]


def test_an_unused_spare_ends_without_a_word():
    spare = Spare()
    spare.close()
    assert spare.proc.poll() is not None
    assert spare.proc.stdout.read() == ""  # no event: nothing was run


def test_a_dead_spare_is_replaced_by_a_fresh_child(tmp_path):
    spare = Spare()
    spare.proc.kill()
    spare.proc.wait()
    job = JobProcess(config(tmp_path / "run"), spare=spare)
    events = list(job.events())
    assert job.pid != spare.proc.pid
    assert events[-1].status == "ok"


def test_the_factory_hands_each_spare_out_once_and_starts_none_after_close(tmp_path):
    jobs = ChildJobs()
    jobs.warm()
    first = jobs.spare
    job = jobs(config(tmp_path / "run"))
    assert job.spare is first and jobs.spare is None
    jobs.close()
    jobs.warm()
    assert jobs.spare is None
    first.close()
