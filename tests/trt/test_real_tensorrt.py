"""Smoke tests against a real TensorRT / TensorRT-RTX module. They skip (never pass) without one.

The second test is marked gpu: it builds and runs FP32/FP16/INT8 engines of the built-in ``cnn``.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from trt_tui.core.errors import TensorRTUnavailable, TrtTuiError
from trt_tui.core.trt.adapter import Features, import_tensorrt, network_flags, precision_plan
from trt_tui.core.trt.logger import listen, make_progress_monitor, process_logger
from trt_tui.core.vocab import Precision

RTX_CCS = {"7.5", "8.0", "8.6", "8.9", "12.0", "12.1"}  # TensorRT-RTX support matrix


def real_trt() -> tuple[object, str]:
    try:
        return import_tensorrt()
    except TensorRTUnavailable as exc:
        first = exc.detail.splitlines()[0] if exc.detail else exc.message
        pytest.skip(f"tensorrt not installed ({first})")


def test_real_module_names_and_subclasses() -> None:
    trt, flavour = real_trt()
    f = Features.from_module(trt)
    assert f.flavour == flavour and f.version != (0,)
    assert f.has_build_serialized and f.has_onnx_parser and f.has_tf32_flag
    for precision in Precision:
        plan = precision_plan(f, precision, "qdq")
        assert all(hasattr(trt.BuilderFlag, n) for n in plan.flags)  # type: ignore[attr-defined]
        assert isinstance(network_flags(trt, f, plan.strongly_typed), int)
    got: list[tuple[str, str]] = []
    logger = process_logger(trt)
    assert isinstance(logger, trt.ILogger) and process_logger(trt) is logger  # type: ignore[attr-defined]
    with listen(trt, lambda s, m: got.append((s, m))) as sink:
        logger.log(trt.ILogger.Severity.ERROR, "probe")  # type: ignore[attr-defined]
    assert got == [("ERROR", "probe")] and sink.error_lines() == ["probe"]
    mon = make_progress_monitor(trt, None, threading.Event())
    assert (mon is not None) == f.has_progress_monitor


@pytest.mark.gpu
def test_real_build_and_run(tmp_path: Path) -> None:
    trt, flavour = real_trt()
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    from trt_tui.core.calib_batches import BatchSource
    from trt_tui.core.export import export_onnx
    from trt_tui.core.models import load_model
    from trt_tui.core.onnx_variants import convert_fp16, quantize_qdq
    from trt_tui.core.trt.builder import BuildOptions, build_engine
    from trt_tui.core.trt.int8_calibrators import make_calibrator
    from trt_tui.core.trt.runner import TrtRunner

    cc = "%d.%d" % torch.cuda.get_device_capability(0)
    f = Features.from_module(trt)
    model = load_model("cnn")
    batch = 4
    shape = (batch, *model.input_shape)
    onnx = {"fp32": tmp_path / "model.onnx"}
    export_onnx(model.module, model.input_shape, batch, onnx["fp32"])
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    with torch.no_grad():
        ref = model.module.cpu().eval()(torch.from_numpy(x)).numpy()
    min_cos = {"fp32": 0.9999, "fp16": 0.999, "int8": 0.9}
    for precision in Precision:
        plan = precision_plan(f, precision, "entropy")
        if plan.onnx == "fp16" and "fp16" not in onnx:
            onnx["fp16"] = Path(convert_fp16(onnx["fp32"], tmp_path / "model_fp16.onnx")["path"])
        if plan.onnx == "qdq" and "qdq" not in onnx:
            src = BatchSource.for_model(model, batch, max_samples=64)
            onnx["qdq"] = Path(quantize_qdq(onnx["fp32"], tmp_path / "model_qdq.onnx", src)["path"])
        calib = None
        if plan.calibrator:
            calib = make_calibrator(trt, plan.calibrator, BatchSource.for_model(model, batch, max_samples=64),
                                    tmp_path / "calib.cache")
        try:
            res = build_engine(trt, f, onnx[plan.onnx], tmp_path / f"m_{precision}.plan", plan,
                               BuildOptions(batch_shape=shape, tf32=False, calibrator=calib))
            with TrtRunner(trt, res.plan_path, shape) as r:
                r.set_input(x)
                r.compute()
                (out,) = r.outputs()
        except TrtTuiError as exc:
            if flavour == "tensorrt-rtx" and cc not in RTX_CCS:
                pytest.skip(f"TensorRT-RTX refused compute capability {cc} ({precision}): {exc.message}")
            raise
        a, b = out.astype(np.float64).ravel(), ref.astype(np.float64).ravel()
        cos = float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
        assert out.shape == ref.shape and cos >= min_cos[precision], (precision, plan.mechanism, cos)
