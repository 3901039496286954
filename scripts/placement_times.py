#!/usr/bin/env python
"""ModelOpt's Q/DQ placement, fresh then cached: export MODEL at BATCH, quantize it twice with
``quantize_qdq(..., tool="modelopt", placement_cache=...)`` on the same ONNX and SAMPLES random samples,
print one JSON line per run (placement new/cached, seconds, phase seconds) and whether the two INT8 files
are the same bytes. MODEL: a trt-tui model, or a torchvision classifier by name (vit_b_16). ``--profile
FILE``: the fresh run under cProfile, its 45 costliest calls (cumulative) written to FILE, to say where
ModelOpt's placement goes.

    python3 scripts/placement_times.py resnet18 8 32
    python3 scripts/placement_times.py vit_b_16 32 128 --profile vit-placement.txt
"""
from __future__ import annotations

import cProfile
import json
import pstats
import shutil
import sys
import tempfile
import time
from pathlib import Path


def load(name: str):  # -> LoadedModel
    from trt_tui.core.models import BUILTINS, load_model

    if name in BUILTINS or ":" in name or "." in name:
        return load_model(name)
    factory = Path(tempfile.mkdtemp(prefix="tv-")) / "tv.py"  # a torchvision classifier as a user's file
    factory.write_text(f"import torch, torchvision\ndef build():\n    torch.manual_seed(0)\n"
                       f"    return torchvision.models.{name}(weights=None)\n")
    return load_model(f"{factory}:build", input_shape=(3, 224, 224))


def main(name: str, batch: int, samples: int, profile: str | None = None) -> None:
    from trt_tui.core import onnx_variants as quantize
    from trt_tui.core.calib_batches import BatchSource
    from trt_tui.core.export import export_onnx

    work = Path(tempfile.mkdtemp(prefix="placement-"))
    try:
        model = load(name)
        onnx = work / "model.onnx"
        export_onnx(model.module, model.inputs, batch, onnx)
        src = BatchSource.for_model(model, batch_size=batch, max_samples=samples)
        for i in range(2):
            prof = cProfile.Profile() if profile and i == 0 else None
            t0 = time.perf_counter()
            if prof:
                prof.enable()
            info = quantize.quantize_qdq(onnx, work / f"int8_{i}.onnx", src, tool="modelopt",
                                         placement_cache=work / "placement")
            if prof:
                prof.disable()
                with open(profile, "w") as f:
                    pstats.Stats(prof, stream=f).sort_stats("cumulative").print_stats(45)
            print(json.dumps({"model": name, "batch": batch, "samples": samples, "run": i + 1,
                              "placement": info["placement"], "seconds": round(time.perf_counter() - t0, 2),
                              "phase_seconds": info["phase_seconds"]}), flush=True)
        print("same INT8 file:", (work / "int8_0.onnx").read_bytes() == (work / "int8_1.onnx").read_bytes())
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    args = sys.argv[1:]
    out = args[args.index("--profile") + 1] if "--profile" in args else None
    main(args[0], int(args[1]), int(args[2]), out)
