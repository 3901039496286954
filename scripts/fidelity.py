"""Harness fidelity on a CUDA GPU: trt-tui's PyTorch timings against independent references.

- GPU compute median (trt-tui: CUDA events around each compute on its stream) vs
  ``triton.testing.do_bench(fn, return_mode="median")`` on the same model and input;
- end-to-end median (trt-tui: perf_counter around H2D + compute + D2H) vs a bare synchronised loop.

Usage: python scripts/fidelity.py --out fidelity.json   (cases: resnet50 b32 fp16, cnn b1 fp32)
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import torch

from trt_tui.core import bench, models

CASES = [("resnet50", 32, "fp16"), ("cnn", 1, "fp32")]


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


def run_case(name: str, batch: int, precision: str, iters: int, warmup: int) -> dict:
    import triton.testing

    loaded = models.load_model(name)
    shape = (batch, *loaded.input_shape)
    host = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    half = precision == "fp16"

    runner = bench.TorchRunner(loaded.module, shape, device="cuda", half=half)
    m = bench.measure(runner, host, warmup=warmup, iterations=iters)

    # The same module and input for the references (default stream, as do_bench expects).
    model = runner.module
    x_host = torch.from_numpy(host).pin_memory()
    x_dev = torch.empty(shape, dtype=torch.float16 if half else torch.float32, device="cuda")
    x_dev.copy_(x_host)
    with torch.inference_mode():
        do_bench_ms = triton.testing.do_bench(lambda: model(x_dev), warmup=100, rep=1000, return_mode="median")
    # The reference called exactly as the harness calls the model: only the timing method differs.
    do_bench_same_call = triton.testing.do_bench(runner.compute, warmup=100, rep=1000, return_mode="median")
    bare = bare_loop_ms(model, x_host, x_dev, warmup)  # warm
    bare = bare_loop_ms(model, x_host, x_dev, iters)
    bare_p50 = statistics.median(bare)
    # Diagnostics: the same two methods without the L2 flush, and the CPU cost of one launch.
    m_warm = bench.measure(runner, host, warmup=warmup, iterations=iters, l2_flush=False)
    driver = triton.runtime.driver.active
    saved = driver.clear_cache
    driver.clear_cache = lambda cache: None
    try:
        with torch.inference_mode():
            do_bench_warm = triton.testing.do_bench(lambda: model(x_dev), warmup=100, rep=1000, return_mode="median")
    finally:
        driver.clear_cache = saved
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(100):
        runner.compute()
    launch_ms = (time.perf_counter() - t0) * 10
    torch.cuda.synchronize()
    res = {
        "do_bench_same_call_median_ms": do_bench_same_call,
        "gpu_compute_ratio_same_call": m.gpu_compute_ms["p50"] / do_bench_same_call,
        "trt_tui_gpu_compute_p50_ms_no_flush": m_warm.gpu_compute_ms["p50"],
        "do_bench_median_ms_no_flush": do_bench_warm,
        "cpu_launch_ms_per_compute": launch_ms,
        "model": name, "batch": batch, "precision": precision, "iterations": iters,
        "trt_tui_gpu_compute_p50_ms": m.gpu_compute_ms["p50"],
        "do_bench_median_ms": do_bench_ms,
        "gpu_compute_ratio": m.gpu_compute_ms["p50"] / do_bench_ms,
        "trt_tui_latency_p50_ms": m.latency_ms["p50"],
        "bare_loop_p50_ms": bare_p50,
        "latency_ratio": m.latency_ms["p50"] / bare_p50,
    }
    res["gpu_compute_within_3pct"] = abs(res["gpu_compute_ratio"] - 1) <= 0.03
    res["latency_within_5pct"] = abs(res["latency_ratio"] - 1) <= 0.05
    runner.close()
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--iterations", type=int, default=500)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=1, help="run the cases this many times (run-to-run spread)")
    args = ap.parse_args()
    torch.backends.cudnn.benchmark = True
    results = {"torch": torch.__version__, "gpu": torch.cuda.get_device_name(0), "cases": []}
    for name, batch, precision in CASES * args.repeat:
        r = run_case(name, batch, precision, args.iterations, args.warmup)
        print(json.dumps(r), flush=True)
        results["cases"].append(r)
    with open(args.out, "w") as fh:
        json.dump(results, fh, indent=2)


if __name__ == "__main__":
    main()
