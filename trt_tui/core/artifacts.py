"""The names of every file a run writes in its results folder, in one place (README "Files" lists them).

In a batch sweep the per-size files carry the batch size (``model_fp16_b32.plan``: RunContext.artifact).
"""

from __future__ import annotations

from trt_tui.core.vocab import OnnxVariant

RESULTS_JSON = "results.json"
RESULTS_CSV = "results.csv"
SAMPLES = "samples.json.gz"  # per-iteration latencies and GPU compute times, by store key
PLOT = "plot.png"  # a batch sweep's latency and throughput against batch size
LAYERS = "layers.json"  # --explain-accuracy
TIMING_CACHE = "timing.cache"  # TensorRT's, beside the results folder (shared by runs)

# the ONNX files: as exported, and the explicit-precision variants core/onnx_variants.py makes
ONNX: dict[str, str] = {
    OnnxVariant.FP32: "model.onnx",
    OnnxVariant.FP16: "model_fp16.onnx",
    OnnxVariant.QDQ: "model_int8_qdq.onnx",
}
MODEL_ONNX = ONNX[OnnxVariant.FP32]


def plan(precision: str) -> str:
    """A TensorRT engine: model_fp32.plan, model_fp16.plan, model_int8.plan."""
    return f"model_{precision}.plan"


def calibration_cache(method: str) -> str:
    """TensorRT's INT8 calibration cache of one method: calibration_entropy.cache."""
    return f"calibration_{method}.cache"
