#!/usr/bin/env python
"""Seconds from pressing `r` in the app to the first number on its Benchmark table (headless, Pilot).

    python3 scripts/app_first_number.py [--model resnet50] [--batch 32] [--pick-s 5] [--no-spare] [--out FILE]

The app starts as a user starts it (`trt-tui`: a spare child is started after the first paint);
``--pick-s`` is how long the user takes to pick the model before `r` (the spare imports meanwhile);
``--no-spare`` starts each run in a fresh child instead (what `r` cost before the spare). The first
number is the first p50 the table shows: the running median of the first row's timed loop ("~"),
or a measured p50. The run is cancelled once the first row is ok.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import time

from textual.widgets import Input

from trt_tui.app import TrtTuiApp
from trt_tui.child_job import JobProcess
from trt_tui.screenshots import settle, wait_until


def first_shown(app: TrtTuiApp) -> str | None:
    """The row whose p50 the table shows first: measured, or the median so far."""
    state = app.state
    for key, row in state.store.rows.items():
        progress = state.bench_progress.get(key)
        if row.get("latency_p50_ms") is not None or (progress and progress.p50_ms):
            return key
    return None


async def measure(args: argparse.Namespace) -> dict:
    factory = (lambda config: JobProcess(config)) if args.no_spare else None
    app = TrtTuiApp(job_factory=factory)
    found: dict = {"model": args.model, "batch_size": args.batch, "spare": not args.no_spare, "pick_s": args.pick_s}
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        app.screen.query_one("#model", Input).value = args.model
        app.screen.query_one("#batch_size", Input).value = str(args.batch)
        await pilot.pause(args.pick_s)
        t0 = time.monotonic()
        await pilot.press("escape", "r")
        await wait_until(pilot, lambda: first_shown(app) is not None, timeout=args.timeout)
        found["r_to_first_number_s"] = round(time.monotonic() - t0, 2)
        found["first_number_row"] = first_shown(app)
        await wait_until(pilot, lambda: any(r.get("status") == "ok" for r in app.state.store.rows.values()),
                         timeout=args.timeout)
        found["r_to_first_ok_row_s"] = round(time.monotonic() - t0, 2)
        await pilot.press("ctrl+q")
    return found


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="resnet50")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--pick-s", type=float, default=5.0)
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--no-spare", action="store_true")
    ap.add_argument("--out")
    args = ap.parse_args()
    found = asyncio.run(measure(args))
    print(json.dumps(found), flush=True)
    if args.out:
        with open(args.out, "a") as f:
            f.write(json.dumps(found) + "\n")


if __name__ == "__main__":
    main()
