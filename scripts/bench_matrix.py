"""Run `trt-tui run` over models x batch sizes and write one markdown section per run.

Usage: python scripts/bench_matrix.py --out-dir DIR [--models mlp,cnn] [--batches 1,32,256] [-- extra run args]
Writes DIR/<model>-b<batch>/results.{json,csv} (the runs' own files) and DIR/BENCHMARKS.part.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

COLS = [("row_id", "row"), ("device", "device"), ("status", "status"), ("latency_p50_ms", "p50 ms"),
        ("latency_p99_ms", "p99 ms"), ("gpu_compute_p50_ms", "GPU p50 ms"), ("enqueue_p50_ms", "enqueue p50 ms"), ("images_per_s", "images/s"),
        ("speedup_vs_pytorch", "speedup"), ("size_bytes", "size B"), ("build_time_s", "build s"),
        ("max_abs_err", "max abs err"), ("top1_agreement", "top-1 agree"), ("label_accuracy", "label acc"),
        ("tf32", "TF32"), ("iterations", "iters"), ("reason", "reason")]


def cell(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v).replace("|", "/")


def section(cmd: list[str], data: dict, seconds: float) -> str:
    env = data.get("env", {})
    lines = [f"### {data['meta']['config']['model']} — batch {data['meta']['config']['batch_size']}", "",
             f"`{shlex.join(cmd)}`  ", f"{dt.date.today().isoformat()}, {seconds:.0f} s wall; "
             f"GPU {env.get('gpu')} (CC {env.get('compute_capability')}, driver {env.get('driver')}), "
             f"torch {env.get('torch')} (CUDA {env.get('torch_cuda')}), onnxruntime {env.get('onnxruntime')} "
             f"{env.get('onnxruntime_providers')}, TensorRT {env.get('tensorrt') or 'not installed'}, "
             f"TF32 matmul/cudnn {env.get('torch_tf32_matmul')}/{env.get('torch_tf32_cudnn')}", "",
             "| " + " | ".join(h for _, h in COLS) + " |", "|" + "---|" * len(COLS)]
    for r in data["rows"]:
        lines.append("| " + " | ".join(cell(r.get(c)) for c, _ in COLS) + " |")
    lines += ["", f"best: {data.get('best') or '—'} ({data.get('best_rule', '')})", ""]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--models", default="mlp,cnn,digits-cnn,resnet18,resnet50")
    ap.add_argument("--batches", default="1,32,256")
    ap.add_argument("--md", help="markdown output (default: OUT_DIR/BENCHMARKS.part.md)")
    ap.add_argument("extra", nargs="*", help="extra arguments for trt-tui run (after --)")
    args = ap.parse_args()
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    md = Path(args.md) if args.md else out / "BENCHMARKS.part.md"
    for model in args.models.split(","):
        for batch in args.batches.split(","):
            run_dir = out / f"{model}-b{batch}"
            cmd = [sys.executable, "-m", "trt_tui.cli", "run", "--model", model, "--batch-size", batch,
                   "--out", str(run_dir), *args.extra]
            t0 = time.time()
            proc = subprocess.run(cmd, capture_output=True, text=True)
            took = time.time() - t0
            (out / f"{model}-b{batch}.log").write_text(proc.stdout + proc.stderr)
            print(f"{model} b{batch}: exit {proc.returncode} in {took:.0f} s", flush=True)
            try:
                data = json.loads((run_dir / "results.json").read_text())
                with md.open("a") as fh:
                    fh.write(section(["trt-tui", *cmd[3:]], data, took) + "\n")
            except (OSError, ValueError, KeyError) as exc:
                with md.open("a") as fh:
                    fh.write(f"### {model} — batch {batch}\n\nrun failed (exit {proc.returncode}): {exc}\n\n")


if __name__ == "__main__":
    main()
