#!/usr/bin/env python
"""Does TensorRT (-RTX) build the FP32 / FP16 / INT8 ONNX that trt-tui writes, for each model family?

For every model (the families of ``trt_tui.core.families`` and torchvision models with random weights)
it exports the FP32 ONNX, makes the FP16 ONNX (``convert_fp16``) and the INT8 Q/DQ ONNX (``quantize_qdq``)
with trt-tui's own code, and builds each through trt-tui's builder (``trt_tui.core.trt.builder``),
recording per model/precision: ok or TensorRT's first error line, plan size, build time, and the
quantize/convert time with its tool and method. ``--timing`` also times the quantize stage alone (e.g.
resnet50 512 samples, vit_b_16 128 samples, both methods; the second method finds ModelOpt's placement
cached, so its line is the time of a repeated run). The JSON in ``--out`` is rewritten after every
step, so a call cut off by its time limit still leaves what ran. Without TensorRT the builds are recorded
as skipped (the ONNX side still runs). Exit status 0 whatever TensorRT did.

    python scripts/gpu_families.py --out families.json --models families --budget-s 480
    python scripts/gpu_families.py --out tv.json --models resnet50,vit_b_16 --precisions int8
    python scripts/gpu_families.py --out timing.json --models none --timing resnet50:512,vit_b_16:128
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TORCHVISION = ("resnet50", "mobilenet_v3_small", "efficientnet_b0", "convnext_tiny", "vit_b_16", "swin_t")
PRECISIONS = ("fp32", "fp16", "int8")


def first_line(text: str) -> str:
    for line in str(text).splitlines():
        if line.strip():
            return line.strip()[:400]
    return ""


class Report:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, Any] = {"script": "gpu_families", "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
                                     "models": {}, "timing": [], "in_progress": None}  # fmt: skip

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(self.data, indent=1, default=str))
        os.replace(tmp, self.path)


def model_and_shape(name: str) -> tuple[Any, tuple[int, ...]]:
    import torch

    from trt_tui.core import families

    if name in families.FAMILIES:
        return families.build(name), families.FAMILIES[name].input_shape
    import torchvision

    torch.manual_seed(0)
    return getattr(torchvision.models, name)(weights=None).eval(), (3, 224, 224)


def load_trt(prefer: str) -> tuple[Any, Any, str]:
    """(trt module, Features, '') or (None, None, why not)."""
    try:
        from trt_tui.core.trt.adapter import Features, import_tensorrt

        trt, flavour = import_tensorrt(prefer)
        return trt, Features.from_module(trt), ""
    except Exception as exc:  # noqa: BLE001 - no TensorRT here: the ONNX side still runs
        return None, None, f"TensorRT not importable: {first_line(getattr(exc, 'message', '') or exc)}"


def build(trt: Any, features: Any, precision: str, onnx_path: Path, plan_path: Path, batch_shape: tuple[int, ...]) -> dict:
    from trt_tui.core.trt.adapter import precision_plan
    from trt_tui.core.trt.builder import BuildOptions, build_engine

    plan = precision_plan(features, precision, "qdq")
    logs: list[str] = []
    t0 = time.perf_counter()
    try:
        res = build_engine(trt, features, onnx_path, plan_path, plan, BuildOptions(
            batch_shape=batch_shape, workspace_mib=4096, tf32=True, on_log=lambda s, m: logs.append(f"{s}: {m}"),
            on_progress=lambda *a: None, cancel=threading.Event()))  # fmt: skip
        return {"status": "ok", "plan_bytes": res.size_bytes, "build_s": round(res.build_time_s, 2),
                "mechanism": plan.mechanism}  # fmt: skip
    except Exception as exc:  # noqa: BLE001 - recorded: the reason line keeps TensorRT's node name
        errors = [line for line in logs if line.startswith(("ERROR", "INTERNAL_ERROR"))]
        return {"status": "error", "error": first_line(getattr(exc, "message", "") or exc),
                "first_trt_error": first_line(errors[0]) if errors else "", "build_s": round(time.perf_counter() - t0, 2),
                "mechanism": plan.mechanism}  # fmt: skip
    finally:
        plan_path.unlink(missing_ok=True)


def check_model(name: str, args: argparse.Namespace, trt: Any, features: Any, trt_reason: str, work: Path,
                report: Report) -> None:  # fmt: skip
    from trt_tui.core import onnx_variants
    from trt_tui.core.calib_batches import BatchSource
    from trt_tui.core.export import export_onnx

    rec: dict[str, Any] = report.data["models"].setdefault(name, {})
    folder = work / name
    folder.mkdir(parents=True, exist_ok=True)
    try:
        module, shape = model_and_shape(name)
        fp32 = folder / "model.onnx"
        t0 = time.perf_counter()
        export_onnx(module, shape, args.batch, fp32)
        rec["export_s"] = round(time.perf_counter() - t0, 2)
    except Exception as exc:  # noqa: BLE001
        rec["export_error"] = first_line(getattr(exc, "message", "") or exc)
        report.save()
        return
    onnx_of = {"fp32": fp32}
    for precision in args.precisions:
        try:
            if precision == "fp16":
                info = onnx_variants.convert_fp16(fp32, folder / "model_fp16.onnx", tool=args.tool)
                rec["fp16_convert"] = {k: info.get(k) for k in ("tool", "tool_version", "seconds", "mixed_nodes", "note")}
                onnx_of["fp16"] = Path(info["path"])
            elif precision == "int8":
                src = BatchSource.random(shape, args.batch, max_samples=args.calib_samples)
                info = onnx_variants.quantize_qdq(fp32, folder / "model_int8_qdq.onnx", src, method=args.method,
                                             tool=args.tool, device=args.device)  # fmt: skip
                rec["int8_quantize"] = {k: info.get(k) for k in ("tool", "tool_version", "method", "samples", "seconds",
                                                                  "phase_seconds", "placement_problems", "note")}  # fmt: skip
                onnx_of["int8"] = Path(info["path"])
        except Exception as exc:  # noqa: BLE001
            rec[precision] = {"status": "error", "error": first_line(getattr(exc, "message", "") or exc)}
        report.save()
    for precision in args.precisions:
        if precision not in onnx_of or rec.get(precision, {}).get("status") == "error":
            continue
        if trt is None:
            rec[precision] = {"status": "skipped", "error": trt_reason}
            continue
        from trt_tui.core.trt.adapter import precision_plan

        source = onnx_of[{"fp32": "fp32", "fp16": "fp16", "qdq": "int8"}[precision_plan(features, precision, "qdq").onnx]]
        report.data["in_progress"] = f"build {name} {precision}"
        report.save()
        rec[precision] = build(trt, features, precision, source, folder / f"{precision}.plan", (args.batch, *shape))
        report.save()
    print(name, {p: (rec.get(p) or {}).get("status") for p in args.precisions}, flush=True)


def time_quantize(spec: str, args: argparse.Namespace, work: Path, report: Report) -> None:
    """model:samples → quantize-stage seconds for both methods (the pipeline's own call, random data)."""
    from trt_tui.core import onnx_variants
    from trt_tui.core.calib_batches import BatchSource
    from trt_tui.core.export import export_onnx

    name, samples = spec.split(":")
    module, shape = model_and_shape(name)
    fp32 = work / f"timing-{name}.onnx"
    export_onnx(module, shape, args.timing_batch, fp32)
    for method in ("entropy", "minmax"):
        src = BatchSource.random(shape, args.timing_batch, max_samples=int(samples))
        row: dict[str, Any] = {"model": name, "samples": int(samples), "batch": args.timing_batch, "method": method}
        report.data["in_progress"] = f"timing {name} {method}"
        report.save()
        try:
            info = onnx_variants.quantize_qdq(fp32, work / f"timing-{name}-{method}.onnx", src, method=method,
                                              tool=args.tool, device=args.device,
                                              placement_cache=work / "placement")  # the 2nd method: placement cached
            row.update({k: info.get(k) for k in ("tool", "tool_version", "seconds", "phase_seconds", "calibrate_seconds", "placement",
                                                 "calibration_device", "stats_device", "tensors_calibrated",
                                                 "placement_problems")})  # fmt: skip
        except Exception as exc:  # noqa: BLE001
            row["error"] = first_line(getattr(exc, "message", "") or exc)
        report.data["timing"].append(row)
        report.save()
        print("timing", row, flush=True)
        phases = ", ".join(f"{k} {v:.1f}s" for k, v in (row.get("phase_seconds") or {}).items())
        calib = ", ".join(f"{k} {v:.1f}s" for k, v in (row.get("calibrate_seconds") or {}).items())
        print(f"TIMING {name} {samples} samples {method} ({row.get('tool')}, ranges on {row.get('calibration_device')}/"
              f"{row.get('stats_device')}): {row.get('seconds')} s = {phases} [calibration: {calib}]", flush=True)


def main(argv: list[str] | None = None) -> int:
    from trt_tui.core import families

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--models", default="families,torchvision",
                   help="comma list of names, or 'families', 'torchvision', 'none'")  # fmt: skip
    p.add_argument("--precisions", default="fp32,fp16,int8")
    p.add_argument("--tool", default="auto", choices=("auto", "modelopt", "onnxruntime"))
    p.add_argument("--method", default="entropy", choices=("entropy", "minmax"))
    p.add_argument("--calib-samples", type=int, default=32)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--timing", default="", help="model:samples,... e.g. resnet50:512,vit_b_16:128")
    p.add_argument("--timing-batch", type=int, default=32)
    p.add_argument("--device", default="auto", choices=("auto", "cuda", "cpu"))
    p.add_argument("--prefer", default="auto", help="TensorRT flavour for import_tensorrt (auto, tensorrt, rtx)")
    p.add_argument("--budget-s", type=float, default=540.0, help="stop starting new models after this long")
    args = p.parse_args(argv)
    args.precisions = [x for x in args.precisions.split(",") if x]
    if any(x not in PRECISIONS for x in args.precisions):
        p.error(f"precisions among {PRECISIONS}")
    if args.device == "auto":
        import torch

        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    names: list[str] = []
    for item in args.models.split(","):
        names += {"families": list(families.FAMILIES), "torchvision": list(TORCHVISION), "none": []}.get(item, [item])
    report = Report(args.out)
    trt, features, trt_reason = load_trt(args.prefer)
    report.data.update(tensorrt=getattr(features, "label", None) or trt_reason, device=args.device,
                       modelopt=__import__("trt_tui.core.onnx_variants", fromlist=["x"]).modelopt_version(),
                       args={k: v for k, v in vars(args).items() if k != "out"})  # fmt: skip
    report.save()
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="gpu-families-") as tmp:
        for spec in [s for s in args.timing.split(",") if s]:
            try:
                time_quantize(spec, args, Path(tmp), report)
            except Exception as exc:  # noqa: BLE001
                report.data["timing"].append({"spec": spec, "error": first_line(exc), "detail": traceback.format_exc()[-2000:]})
        for name in names:
            if time.monotonic() - t0 > args.budget_s:
                report.data["models"].setdefault(name, {})["skipped"] = f"budget of {args.budget_s:.0f} s spent"
                continue
            report.data["in_progress"] = name
            try:
                check_model(name, args, trt, features, trt_reason, Path(tmp), report)
            except Exception as exc:  # noqa: BLE001 - one model's failure never stops the others
                report.data["models"].setdefault(name, {})["error"] = first_line(exc)
            report.save()
    report.data["in_progress"] = None
    report.data["seconds"] = round(time.monotonic() - t0, 1)
    report.save()
    return 0


if __name__ == "__main__":
    sys.exit(main())
