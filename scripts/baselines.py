"""The PyTorch baselines on a GPU: eager vs CUDA graphs vs torch.compile, a batch sweep with its plot,
and the time from launching `trt-tui run` to its first number. One device call (10 minutes at most).

Usage: python scripts/baselines.py --out DIR [--models cnn,resnet50] [--batches 1,32,256]
                                   [--compile-mode reduce-overhead] [--budget-s 540]
Writes DIR/first-row.json, DIR/<model>/results.{json,csv}, DIR/<model>/plot.png, DIR/baselines.md.
Each step gets what is left of the budget; a step that runs out is cancelled like Ctrl-C (its rows so
far stay in its results) and the next one runs.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROWS = "pytorch-fp32,pytorch-fp16,pytorch-graph-fp32,pytorch-graph-fp16"
COLS = [("row_id", "row"), ("batch_size", "batch"), ("status", "status"), ("latency_p50_ms", "p50 ms"),
        ("gpu_compute_p50_ms", "GPU p50 ms"), ("enqueue_p50_ms", "enqueue p50 ms"), ("images_per_s", "images/s"),
        ("speedup_vs_pytorch", "vs eager FP32"), ("speedup_vs_best_pytorch", "vs best PyTorch"),
        ("build_time_s", "build/compile s"), ("cosine_sim", "cosine"), ("reason", "reason")]


def cell(v: object) -> str:
    if v is None:
        return ""
    return f"{v:.4g}" if isinstance(v, float) else str(v).replace("|", "/")


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "trt_tui.cli", "run", *args]


def run_until(cmd: list[str], deadline: float, log: Path) -> tuple[int | None, float]:
    """Run ``cmd``; past ``deadline`` interrupt it as Ctrl-C would (the run saves what it has)."""
    t0 = time.monotonic()
    with log.open("w") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT)
        try:
            proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            fh.write("\n[baselines.py: out of time, interrupted]\n")
    return proc.returncode, time.monotonic() - t0


def first_row(model: str, batch: int, out: Path, deadline: float) -> dict:
    """Seconds from launching `trt-tui run` (default rows) to its first number (the running median of
    the first row's timed loop), its first latency row and first ok row; then cancel (stage_times.py)."""
    from stage_times import time_run  # scripts/ is this script's folder, on sys.path

    run_dir = out / "first-row-run"
    found = time_run(cli("--model", model, "--batch-size", str(batch), "--json", "--out", str(run_dir)),
                     stop_at="first_ok_row", deadline_s=max(1.0, deadline - time.monotonic()), echo=False)
    found.update(model=model, batch_size=batch)
    try:
        found["meta_first_row"] = json.loads((run_dir / "results.json").read_text())["meta"].get("first_row")
    except (OSError, ValueError, KeyError):
        pass
    return found


def table(data: dict) -> list[str]:
    lines = ["| " + " | ".join(h for _, h in COLS) + " |", "|" + "---|" * len(COLS)]
    for r in data.get("rows", []):
        lines.append("| " + " | ".join(cell(r.get(c)) for c, _ in COLS) + " |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--models", default="cnn,resnet50")
    ap.add_argument("--batches", default="1,32,256")
    ap.add_argument("--compile-mode", default="reduce-overhead")
    ap.add_argument("--first-row-model", default="resnet50")
    ap.add_argument("--first-row-batch", type=int, default=32)
    ap.add_argument("--budget-s", type=float, default=540, help="the whole script's wall-time budget")
    ap.add_argument("--max-seconds", default="3", help="per row: time budget of the timed loop")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + args.budget_s
    md = [f"## Baselines ({time.strftime('%Y-%m-%d')})", ""]

    fr = first_row(args.first_row_model, args.first_row_batch, out, min(deadline, time.monotonic() + 120))
    (out / "first-row.json").write_text(json.dumps(fr, indent=2))
    print(f"first row: {fr}", flush=True)
    secs = {k: (fr.get(k) or {}).get("s") for k in ("first_event", "first_running_p50", "first_latency_row", "first_ok_row")}
    md += [f"Time to the first number, `trt-tui run --model {fr['model']} --batch-size {fr['batch_size']}` "
           f"(default rows), seconds from launch: {secs}; stages: {fr.get('stages')}; "
           f"in results.json meta: {fr.get('meta_first_row')}", ""]

    for model in args.models.split(","):
        run_dir = Path("/tmp/baselines") / model
        shutil.rmtree(run_dir, ignore_errors=True)
        cmd = cli("--model", model, "--batch-sizes", args.batches, "--rows", ROWS, "--compile",
                  "--compile-mode", args.compile_mode, "--iterations", "300", "--warmup", "20",
                  "--max-seconds", args.max_seconds, "--out", str(run_dir))
        code, took = run_until(cmd, deadline, out / f"{model}.log")
        print(f"{model}: exit {code} in {took:.0f} s", flush=True)
        md += [f"### {model}, batch {args.batches}", "", f"`trt-tui {' '.join(cmd[3:])}` — exit {code}, {took:.0f} s", ""]
        try:
            data = json.loads((run_dir / "results.json").read_text())
        except (OSError, ValueError) as exc:
            md += [f"no results: {exc}", ""]
            continue
        dest = out / model
        dest.mkdir(exist_ok=True)
        for name in ("results.json", "results.csv", "plot.png"):
            if (run_dir / name).is_file():
                shutil.copy(run_dir / name, dest / name)
        env = data.get("env", {})
        md += [f"GPU {env.get('gpu')}, torch {env.get('torch')} (CUDA {env.get('torch_cuda')})", ""]
        md += table(data) + [""]
    (out / "baselines.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
