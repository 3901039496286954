"""Does the live app perturb the measurement? The same PyTorch benchmark started from the TUI
(driven headlessly by Pilot) and from `trt-tui run`, interleaved (default H A A H H A A H: four of
each, so a drift of the machine falls on both sides alike); the ratio is app median / headless median.

Usage: python scripts/perturbation.py --out perturbation.json [--pattern HAAHHAAH] [--cases cnn:1,resnet50:32]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from trt_tui.core.config import RunConfig

CASES = [("cnn", 1), ("resnet50", 32)]
ROWS = ("pytorch-fp32", "pytorch-fp16")
METRICS = ("latency_p50_ms", "gpu_compute_p50_ms", "enqueue_p50_ms")


def headless(cfg: RunConfig) -> dict[str, dict]:
    cmd = [sys.executable, "-m", "trt_tui.cli", "run", "--model", cfg.model, "--batch-size", str(cfg.batch_size),
           "--rows", ",".join(cfg.rows), "--iterations", str(cfg.iterations), "--warmup", str(cfg.warmup),
           "--out", str(cfg.out_dir)]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    data = json.loads((Path(cfg.out_dir) / "results.json").read_text())
    return {r["row_id"]: r for r in data["rows"]}


async def in_app(cfg: RunConfig) -> dict[str, dict]:
    from trt_tui.app import TrtTuiApp

    app = TrtTuiApp(config=cfg)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert app.start_job(cfg)
        while app.state.finished is None or app.job is not None:
            await pilot.pause(0.5)
        assert app.state.finished.status == "ok", app.state.finished
        return {rid: dict(r) for rid, r in app.state.store.rows.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--iterations", type=int, default=500)
    ap.add_argument("--cases", default=",".join(f"{m}:{b}" for m, b in CASES), help="model:batch,...")
    ap.add_argument("--pattern", default="HAAHHAAH", help="run order, H = headless, A = app")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    report = {"cases": []}
    for model, batch in ((c.split(":")[0], int(c.split(":")[1])) for c in args.cases.split(",")):
        runs: dict[str, list[dict]] = {"headless": [], "app": []}
        for i, mode in enumerate("headless" if c == "H" else "app" for c in args.pattern.upper()):
            cfg = RunConfig(model=model, batch_size=batch, rows=ROWS, iterations=args.iterations, warmup=50,
                            out_dir=str(tmp / f"{model}-{i}"))
            runs[mode].append(headless(cfg) if mode == "headless" else asyncio.run(in_app(cfg)))
        case = {"model": model, "batch": batch, "rows": {}}
        for rid in ROWS:
            for metric in METRICS:
                if any(r[rid][metric] is None for r in runs["headless"] + runs["app"]):
                    continue  # e.g. no GPU compute time on the CPU
                h = statistics.median(r[rid][metric] for r in runs["headless"])
                a = statistics.median(r[rid][metric] for r in runs["app"])
                case["rows"].setdefault(rid, {})[metric] = {
                    "headless": h, "app": a, "ratio": a / h, "within_2pct": abs(a / h - 1) <= 0.02,
                    "runs_headless": [r[rid][metric] for r in runs["headless"]],
                    "runs_app": [r[rid][metric] for r in runs["app"]]}
        print(json.dumps(case), flush=True)
        report["cases"].append(case)
        Path(args.out).write_text(json.dumps(report, indent=2))  # after every case: a timeout keeps what ran


if __name__ == "__main__":
    main()
