"""Harness fidelity on a CUDA GPU: trt-tui's PyTorch timings against independent references.

For each case, ``--repeat`` rounds, each measuring back to back on the same module and input:
- trt-tui GPU compute p50 (default method: L2 flushed, CPU launch hidden behind a GPU spin) and the
  same with the launch *not* hidden (do_bench's own method) vs ``triton.testing.do_bench`` (median);
- trt-tui GPU compute p50 with warm L2 vs ``triton.testing.do_bench_cudagraph`` (median): a CUDA
  graph replay, the GPU's time with no launch cost at all (and no L2 flush);
- trt-tui end-to-end latency p50 (perf_counter around H2D + compute + D2H) vs a bare synchronised loop.

Usage: python scripts/fidelity.py --out fidelity.json [--repeat 3] [--cases resnet50:32:fp16,cnn:1:fp32]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import torch

from trt_tui.core import bench, models

CASES = "resnet50:32:fp16,cnn:1:fp32,resnet50:256:fp16"


def bare_loop_ms(model: torch.nn.Module, x_host: torch.Tensor, x_dev: torch.Tensor, iters: int) -> list[float]:
    """The simplest honest loop: copy in, run, copy out, synchronise."""
    out = []
    with torch.inference_mode():
        for _ in range(iters):
            t0 = time.perf_counter()
            x_dev.copy_(x_host, non_blocking=True)
            y = model(x_dev)
            y.float().cpu()
            torch.cuda.synchronize()
            out.append((time.perf_counter() - t0) * 1e3)
    return out


def one_round(runner: bench.TorchRunner, host: np.ndarray, iters: int, warmup: int) -> dict:
    import triton.testing

    model, shape = runner.module, host.shape
    m = bench.measure(runner, host, warmup=warmup, iterations=iters)
    do_bench = triton.testing.do_bench(runner.compute, warmup=100, rep=1000, return_mode="median")
    m_exposed = bench.measure(runner, host, warmup=warmup, iterations=iters, hide_launch=False)
    m_warm = bench.measure(runner, host, warmup=warmup, iterations=iters, l2_flush=False)
    with torch.cuda.stream(torch.cuda.Stream()):  # do_bench_cudagraph refuses the default stream
        graph = triton.testing.do_bench_cudagraph(runner.compute, rep=200, return_mode="median")
    x_host = torch.from_numpy(host).pin_memory()
    x_dev = torch.empty(shape, dtype=runner.dtype, device="cuda")
    bare_loop_ms(model, x_host, x_dev, warmup)
    bare = statistics.median(bare_loop_ms(model, x_host, x_dev, iters))
    r = {
        "trt_tui_gpu_compute_p50_ms": m.gpu_compute_ms["p50"],
        "trt_tui_enqueue_p50_ms": m.enqueue_ms["p50"],
        "trt_tui_launch_exposed": m.launch_exposed,
        "do_bench_median_ms": do_bench,
        "trt_tui_gpu_compute_p50_ms_launch_exposed": m_exposed.gpu_compute_ms["p50"],
        "trt_tui_gpu_compute_p50_ms_warm_l2": m_warm.gpu_compute_ms["p50"],
        "do_bench_cudagraph_median_ms": graph,
        "trt_tui_latency_p50_ms": m.latency_ms["p50"],
        "bare_loop_p50_ms": bare,
    }
    r["ratio_gpu_vs_do_bench"] = r["trt_tui_gpu_compute_p50_ms"] / do_bench
    r["ratio_gpu_launch_exposed_vs_do_bench"] = r["trt_tui_gpu_compute_p50_ms_launch_exposed"] / do_bench
    r["ratio_gpu_warm_vs_cudagraph"] = r["trt_tui_gpu_compute_p50_ms_warm_l2"] / graph
    r["ratio_latency_vs_bare"] = r["trt_tui_latency_p50_ms"] / bare
    return r


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--cases", default=CASES, help="model:batch:precision,...")
    ap.add_argument("--iterations", type=int, default=300)
    ap.add_argument("--warmup", type=int, default=30)
    ap.add_argument("--repeat", type=int, default=3, help="rounds per case (run-to-run spread)")
    args = ap.parse_args()
    torch.backends.cudnn.benchmark = True
    report = {"torch": torch.__version__, "gpu": torch.cuda.get_device_name(0), "cases": []}
    for case in args.cases.split(","):
        name, batch, precision = case.split(":")
        loaded = models.load_model(name)
        shape = (int(batch), *loaded.input_shape)
        host = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
        runner = bench.TorchRunner(loaded.module, shape, device="cuda", half=precision == "fp16")
        rounds = [one_round(runner, host, args.iterations, args.warmup) for _ in range(args.repeat)]
        runner.close()
        summary = {k: statistics.median(r[k] for r in rounds) for k in rounds[0] if k.startswith("ratio_")}
        entry = {"model": name, "batch": int(batch), "precision": precision, "iterations": args.iterations,
                 "median_ratios": summary, "rounds": rounds}
        print(json.dumps({k: entry[k] for k in ("model", "batch", "precision", "median_ratios")}), flush=True)
        report["cases"].append(entry)
        with open(args.out, "w") as fh:  # after every case: a timeout keeps what ran
            json.dump(report, fh, indent=2)


if __name__ == "__main__":
    main()
