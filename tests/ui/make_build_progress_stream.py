"""Derive ``trt_tui/demo/build_progress_synthetic.jsonl`` from the recorded CPU run ``trt_tui/demo/mlp_cpu.jsonl``.

This machine has no TensorRT, so the recorded run skips the build (and the FP16 ONNX it needs). The UI still has to show build
progress, TensorRT's log and engine rows, so this script replaces the skipped build with *synthetic*
TensorRT events (phases, log lines, plan files, engine rows), calibration progress of the Q/DQ step and
an FP16 convert step. Everything it adds says "synthetic";
the PyTorch/onnxruntime rows are the real recorded ones. Run: ``python tests/ui/make_build_progress_stream.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "trt_tui" / "demo"
SRC = DATA / "mlp_cpu.jsonl"
DST = DATA / "build_progress_synthetic.jsonl"
ENGINES = ("tensorrt-fp32", "tensorrt-fp16", "tensorrt-int8")
PHASES = ("Parsing ONNX", "Optimizing network", "Tactic selection", "Serializing engine")
MECHANISM = {
    "tensorrt-fp32": "weakly typed FP32 (TF32 on)",
    "tensorrt-fp16": "BuilderFlag.FP16",
    "tensorrt-int8": "BuilderFlag.INT8 + entropy calibrator",
}
# Synthetic engine numbers (not measured anywhere): plausible shapes only, for layout and sorting.
FAKE = {
    "tensorrt-fp32": dict(lat=0.031, gpu=0.009, size=1_012_220, build=6.4, err=3.1e-7, top1=1.0),
    "tensorrt-fp16": dict(lat=0.024, gpu=0.006, size=512_004, build=9.8, err=2.2e-4, top1=1.0),
    "tensorrt-int8": dict(lat=0.021, gpu=0.005, size=301_556, build=14.2, err=0.021, top1=0.984),
}


def main() -> None:
    events = [json.loads(line) for line in SRC.read_text().splitlines() if line.strip()]
    out: list[dict] = []
    t = events[0]["t"]

    def add(ev: dict) -> None:
        nonlocal t
        t += 0.05
        out.append({**ev, "t": round(t, 3)})

    in_build = False
    for ev in events:
        kind = ev["type"]
        if kind == "env":
            env = dict(ev["env"], gpu="NVIDIA H200 (synthetic)", tensorrt="10.13.3 (synthetic)", device="cuda")
            add({**ev, "env": env})
            continue
        if kind == "log" and ev["stage"] == "env" and "TensorRT" in ev["message"]:
            continue
        if kind == "step_finished" and ev["stage"] == "quantize" and ev["step"] == "int8-qdq":
            add_calibration(add)
            add(ev)
            add_fp16_convert(add)
            continue
        if kind == "stage_started" and ev["stage"] == "build":
            in_build = True
            add(ev)
            add({"type": "log", "stage": "build", "level": "warning", "source": "trt-tui",
                 "message": "synthetic stream: TensorRT events made by tests/ui/make_build_progress_stream.py"})
            for eng in ENGINES:
                add_build(add, eng)
            continue
        if in_build:
            if kind == "stage_finished" and ev["stage"] == "build":
                in_build = False
                add({**ev, "status": "ok", "reason": "", "seconds": sum(f["build"] for f in FAKE.values()),
                     "detail": {e: build_detail(e) for e in ENGINES}})
            continue  # drop the recorded 'skipped' rows
        if kind == "stage_finished" and ev["stage"] == "benchmark":
            for eng in ENGINES:
                add_bench(add, eng)
        if kind == "finished":
            ev = {**ev, "best": "tensorrt-fp16", "best_rule": ev.get("best_rule", "")}
        add(ev)
    DST.write_text("".join(json.dumps(e) + "\n" for e in out))
    print(f"wrote {DST} ({len(out)} events)")


CALIBRATION_BATCHES = 8


def add_calibration(add) -> None:
    """Calibration progress of the Q/DQ INT8 step, as the pipeline reports it (batches, seconds left)."""
    for i in range(1, CALIBRATION_BATCHES + 1):
        add({"type": "progress", "stage": "quantize", "task": "int8-qdq", "phase": "calibration", "step": i,
             "total": CALIBRATION_BATCHES, "eta_s": round(1.5 * (CALIBRATION_BATCHES - i), 1)})


def add_fp16_convert(add) -> None:
    add({"type": "progress", "stage": "quantize", "task": "fp16-convert", "phase": "convert", "step": 0, "total": 1})
    add({"type": "step_finished", "stage": "quantize", "step": "fp16-convert", "status": "ok", "seconds": 0.4,
         "reason": "", "detail": {"path": "trt-tui-results/mlp/model_fp16.onnx", "size_bytes": 470_112, "casts": 2}})


def build_detail(eng: str) -> dict:
    precision = eng.split("-")[1]
    return {"plan": f"trt-tui-results/mlp/model_{precision}.plan", "size_bytes": FAKE[eng]["size"],
            "build_time_s": FAKE[eng]["build"], "mechanism": MECHANISM[eng]}


def add_build(add, eng: str) -> None:
    add({"type": "row", "row": {"row_id": eng, "status": "running", "reason": "building", "notes": MECHANISM[eng]}})
    add({"type": "log", "stage": "build", "level": "info", "source": "tensorrt",
         "message": f"[MemUsageChange] Init CUDA: CPU +2, GPU +0, now: CPU 512, GPU 1021 (MiB) ({eng})"})
    add({"type": "log", "stage": "build", "level": "verbose", "source": "tensorrt",
         "message": "Original: 6 layers; After dead-layer removal: 6 layers"})
    for i, phase in enumerate(PHASES, start=1):
        add({"type": "progress", "stage": "build", "task": eng, "step": i, "total": len(PHASES), "phase": phase})
        if phase == "Tactic selection":
            add({"type": "log", "stage": "build", "level": "info", "source": "tensorrt",
                 "message": "Global timing cache in use. Profiling results in this builder pass will be stored."})
    if eng == "tensorrt-int8":
        add({"type": "log", "stage": "build", "level": "warning", "source": "tensorrt",
             "message": "Calibrator is deprecated; use explicit quantization (Q/DQ nodes) instead."})
    add({"type": "log", "stage": "build", "level": "info", "source": "tensorrt",
         "message": f"Engine generation completed in {FAKE[eng]['build']:.3f} seconds."})
    add({"type": "step_finished", "stage": "build", "step": eng, "status": "ok", "seconds": FAKE[eng]["build"],
         "reason": "", "detail": build_detail(eng)})
    precision = eng.split("-")[1]
    add({"type": "row", "row": {"row_id": eng, "backend": "tensorrt", "precision": precision,
                                "device": "cuda:0 (NVIDIA H200 (synthetic))", "batch_size": 1, "status": "pending",
                                "reason": "", "size_bytes": FAKE[eng]["size"], "build_time_s": FAKE[eng]["build"],
                                "artifact": f"trt-tui-results/mlp/model_{precision}.plan",
                                "tf32": "on" if precision == "fp32" else "n/a", "notes": MECHANISM[eng] + " (synthetic)"}})


def add_bench(add, eng: str) -> None:
    f = FAKE[eng]
    add({"type": "row", "row": {"row_id": eng, "status": "running", "reason": "measuring"}})
    add({"type": "progress", "stage": "benchmark", "task": eng, "step": 1, "total": 55, "phase": ""})
    add({"type": "progress", "stage": "benchmark", "task": eng, "step": 55, "total": 55, "phase": ""})
    add({"type": "row", "row": {
        "row_id": eng, "status": "ok", "reason": "", "latency_mean_ms": f["lat"] * 1.1, "latency_p50_ms": f["lat"],
        "latency_p90_ms": f["lat"] * 1.2, "latency_p99_ms": f["lat"] * 1.6, "latency_min_ms": f["lat"] * 0.9,
        "latency_max_ms": f["lat"] * 2.5, "gpu_compute_mean_ms": f["gpu"], "gpu_compute_p50_ms": f["gpu"],
        "gpu_compute_p99_ms": f["gpu"] * 1.3, "enqueue_p50_ms": f["gpu"] * 0.8, "throughput_per_s": 1000 / f["lat"], "images_per_s": 1000 / f["lat"],
        "max_abs_err": f["err"], "mean_abs_err": f["err"] / 5, "max_rel_err": f["err"] * 10, "cosine_sim": 1 - f["err"],
        "top1_agreement": f["top1"], "nan_count": 0, "inf_count": 0, "iterations": 50, "warmup": 5}})


if __name__ == "__main__":
    main()
