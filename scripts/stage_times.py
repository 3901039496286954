#!/usr/bin/env python
"""Seconds from launching a `trt-tui run --json` to each stage boundary and to the first numbers, and
the run's own stage timeline (results.json ``meta.timeline``: every stage and each row's phases).

    python3 scripts/stage_times.py [--summary FILE] [--stop-at first_ok_row] [--timeline] -- trt-tui run ... --json

Times are taken as the lines arrive (the clock starts before the process is spawned), so they include
interpreter start and imports. The summary: first event, first running median (a Progress with
p50_ms: the first number on screen), first row with a latency, first ok row, and every stage
boundary; then the timeline's summary as `trt-tui run` prints it (``--timeline``: every entry), from
the run's timeline events. ``--stop-at KEY`` interrupts the run as Ctrl-C would once KEY is known.
"""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

KEYS = ("first_event", "first_running_p50", "first_latency_row", "first_ok_row")


def time_run(cmd: list[str], stop_at: str | None = None, deadline_s: float | None = None,
             echo: bool = True) -> dict:
    """Launch ``cmd`` (a `trt-tui run --json`), read its events, return the times (s since launch)."""
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1)
    found: dict = {"command": cmd, "stages": [], "timeline": [], "timeline_origin": ""}

    def note(key: str, at: float, **what) -> None:
        if key not in found:
            found[key] = {"s": round(at, 2), **what}

    assert proc.stdout is not None
    for line in proc.stdout:
        at = time.monotonic() - t0
        if not line.startswith("{"):
            continue
        ev = json.loads(line)
        row = ev.get("row") or {}
        note("first_event", at, type=ev["type"])
        if ev["type"] == "progress" and ev.get("p50_ms") is not None:
            note("first_running_p50", at, task=ev["task"], step=ev["step"], p50_ms=ev["p50_ms"])
        if ev["type"] == "row" and row.get("latency_p50_ms") is not None:
            note("first_latency_row", at, row_id=row["row_id"], p50_ms=row["latency_p50_ms"])
        if ev["type"] == "row" and row.get("status") == "ok":
            note("first_ok_row", at, row_id=row["row_id"])
        if ev["type"] in ("stage_started", "stage_finished"):
            found["stages"].append([round(at, 2), ev["type"], ev["stage"]])
        if ev["type"] == "timeline":  # the run's own timeline (t = 0: the launch of trt-tui run)
            found["timeline"] += ev["entries"]
            found["timeline_origin"] = ev.get("origin", "")
        if echo and (ev["type"] in ("stage_started", "stage_finished", "finished")
                     or (ev["type"] == "row" and row.get("status") in ("ok", "failed", "skipped"))):
            print(f"{at:8.2f} {ev['type']} {ev.get('stage') or ''} {row.get('row_id', '')} {row.get('status', '')}",
                  flush=True)
        if (stop_at and stop_at in found) or (deadline_s and at > deadline_s):
            proc.send_signal(signal.SIGINT)  # what was asked for is in: cancel the rest of the run
            break
    try:
        proc.communicate(timeout=30)  # reads on, so the run never blocks on a full pipe while it stops
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
    found["rc"], found["launch_to_exit_s"] = proc.returncode, round(time.monotonic() - t0, 2)
    return found


def print_timeline(found: dict, every: bool) -> None:
    """The run's timeline as `trt-tui run` prints it (trt_tui from this checkout when not installed)."""
    if not found["timeline"]:
        return
    sys.path.append(str(Path(__file__).resolve().parent.parent))
    from trt_tui.core import timeline

    entries = sorted(found["timeline"], key=timeline.order)
    lines = (timeline.entry_lines(entries) if every else []) + timeline.summary_lines(entries, found["timeline_origin"])
    print("\n".join(lines))


def main(argv: list[str]) -> int:
    summary_path = stop_at = None
    every = False
    while argv and argv[0] != "--":
        if argv[0] == "--timeline":
            every, argv = True, argv[1:]
            continue
        flag, value, argv = argv[0], argv[1] if len(argv) > 1 else "", argv[2:]
        if flag == "--summary":
            summary_path = value
        elif flag == "--stop-at" and value in KEYS:
            stop_at = value
        else:
            print(f"unknown option {flag} {value} (--summary FILE, --stop-at {'|'.join(KEYS)}, --timeline)",
                  file=sys.stderr)
            return 2
    found = time_run(argv[1:], stop_at)
    print(json.dumps({k: found.get(k) for k in KEYS + ("rc", "launch_to_exit_s")}, indent=1))
    print_timeline(found, every)
    if summary_path:
        with open(summary_path, "w") as f:
            json.dump(found, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
