#!/usr/bin/env python
"""ModelOpt's Q/DQ placement, fresh then cached: export MODEL at BATCH, quantize it twice with
``quantize_qdq(..., tool="modelopt", placement_cache=...)`` on the same ONNX and SAMPLES random samples,
print one JSON line per run (placement new/cached, seconds, phase seconds) and whether the two INT8 files
are the same bytes.

    python3 scripts/placement_times.py resnet18 8 32
"""
from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from pathlib import Path


def main(name: str, batch: int, samples: int) -> None:
    from trt_tui.core import onnx_variants as quantize
    from trt_tui.core.calib_batches import BatchSource
    from trt_tui.core.export import export_onnx
    from trt_tui.core.models import load_model

    work = Path(tempfile.mkdtemp(prefix="placement-"))
    try:
        model = load_model(name)
        onnx = work / "model.onnx"
        export_onnx(model.module, model.inputs, batch, onnx)
        src = BatchSource.for_model(model, batch_size=batch, max_samples=samples)
        for i in range(2):
            t0 = time.perf_counter()
            info = quantize.quantize_qdq(onnx, work / f"int8_{i}.onnx", src, tool="modelopt",
                                         placement_cache=work / "placement")
            print(json.dumps({"model": name, "batch": batch, "samples": samples, "run": i + 1,
                              "placement": info["placement"], "seconds": round(time.perf_counter() - t0, 2),
                              "phase_seconds": info["phase_seconds"]}), flush=True)
        print("same INT8 file:", (work / "int8_0.onnx").read_bytes() == (work / "int8_1.onnx").read_bytes())
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
