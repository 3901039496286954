"""`trt-tui run` prints where the time went (the timeline's summary; --timeline: every entry), counted
from its own launch; real subprocesses on the CPU."""

from __future__ import annotations

import json
import subprocess
import sys
import time

FAST = ["--iterations", "20", "--warmup", "2", "--exporter", "torchscript"]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "trt_tui.cli", *args], capture_output=True, text=True, timeout=300)


def summary(stdout: str) -> list[str]:
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("timeline: "))
    return lines[start:]


def test_the_run_ends_with_a_one_screen_timeline_counted_from_the_launch(tmp_path):
    t0 = time.time()
    proc = run_cli("run", "--model", "mlp", "--rows", "pytorch-fp32,onnxruntime-fp32", "--out", str(tmp_path), *FAST)
    wall = time.time() - t0
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = summary(proc.stdout)
    assert lines[0].startswith("timeline: ") and lines[0].endswith(" s from the launch of trt-tui run")
    assert lines[-1] == "  every stage and phase: --timeline"
    assert len(lines) <= 23 and max(map(len, lines)) <= 80, "\n".join(lines)
    phases = next(i for i, line in enumerate(lines) if line.startswith("  phase (how many)"))
    stages = [line.split()[0] for line in lines[2:phases] if not line.startswith("  (")]
    assert stages == ["launch", "startup", "env", "model", "benchmark", "export", "benchmark"], lines
    summed = [line.split(" (")[0].strip() for line in lines[phases + 1:-1]]  # the phases summed over rows
    known = {"import", "load", "warm-up", "timed", "reference", "accuracy", "release", "export", "checker", "parity"}
    assert 3 <= len(summed) <= 6 and set(summed) <= known and "import" in summed, lines
    data = json.loads((tmp_path / "results.json").read_text())
    entries = data["meta"]["timeline"]
    assert data["meta"]["timeline_origin"] == "the launch of trt-tui run"
    launch = entries[0]
    assert (launch["name"], launch["start_s"]) == ("launch", 0.0) and launch["duration_s"] > 0
    span = max(e["start_s"] + e["duration_s"] for e in entries)
    assert 0.5 * wall < span <= wall, (span, wall)  # the whole run but the table's printing


def test_timeline_prints_every_entry_then_the_summary(tmp_path):
    proc = run_cli("run", "--model", "mlp", "--rows", "pytorch-fp32", "--stages", "benchmark", "--out", str(tmp_path),
                   "--timeline", *FAST)
    assert proc.returncode == 0, proc.stderr[-3000:]
    entries = json.loads((tmp_path / "results.json").read_text())["meta"]["timeline"]
    lines = proc.stdout.splitlines()
    head = lines.index(f"{'start s':>9}{'took s':>9}  entry")
    listed = lines[head + 1: head + 1 + len(entries)]
    assert len(listed) == len(entries)
    assert [float(line.split()[0]) for line in listed] == [e["start_s"] for e in entries]
    for phase in ("load · pytorch-fp32", "warm-up · pytorch-fp32", "timed · pytorch-fp32",
                  "reference · pytorch-fp32", "accuracy · pytorch-fp32"):
        assert any(line.endswith(phase) for line in listed), phase
    assert "every stage and phase: --timeline" not in proc.stdout
    assert summary(proc.stdout)[0].startswith("timeline: ")  # the summary after the list


def test_json_mode_streams_the_timeline_events(tmp_path):
    proc = run_cli("run", "--model", "mlp", "--rows", "pytorch-fp32", "--stages", "benchmark", "--out", str(tmp_path),
                   "--json", *FAST)
    assert proc.returncode == 0, proc.stderr[-3000:]
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    sent = [e for ev in events if ev["type"] == "timeline" for e in ev["entries"]]
    finished = [i for i, ev in enumerate(events) if ev["type"] == "stage_finished"]
    timelines = [i for i, ev in enumerate(events) if ev["type"] == "timeline"]
    assert timelines == [i + 1 for i in finished]  # right after each stage ends
    entries = json.loads((tmp_path / "results.json").read_text())["meta"]["timeline"]
    assert sorted(sent, key=lambda e: (e["start_s"], e["kind"] != "stage")) == entries
    assert not any(line.startswith("timeline:") for line in proc.stdout.splitlines())
