"""`trt-tui run --explain-accuracy` end to end on the CPU: the real pipeline writes layers.json."""

from __future__ import annotations

import json
import subprocess
import sys


def test_explain_accuracy_writes_layers_json_and_prints_the_top(tmp_path):
    out = tmp_path / "mlp"
    proc = subprocess.run([sys.executable, "-m", "trt_tui.cli", "run", "--model", "mlp", "--out", str(out),
                           "--rows", "onnxruntime-fp32,onnxruntime-int8", "--explain-accuracy", "--iterations", "5",
                           "--warmup", "1", "--exporter", "torchscript"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads((out / "layers.json").read_text())
    # FP16 is made for the view although no TensorRT row needs it here; both compared on the same samples
    assert (out / "model_fp16.onnx").is_file() and data["samples"] == 1  # mlp's exported batch
    for name in ("fp16", "int8"):
        entry = data["variants"][name]
        assert entry["status"] == "ok" and entry["tensors_compared"] >= 5 and entry["tensors_unmatched_count"] == 0
        assert entry["top_growth"] and all(n["cosine"] > 0.9 for n in entry["nodes"])
    assert data["variants"]["int8"]["rows"] == ["tensorrt-int8", "onnxruntime-int8"]
    assert "TensorRT cannot mark every layer" in proc.stdout and "per-layer accuracy" in proc.stdout
    top = data["variants"]["int8"]["top_growth"][0]
    assert top in proc.stdout  # the top node is printed by name
