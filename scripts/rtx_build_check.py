#!/usr/bin/env python
"""What TensorRT (-RTX) does with trt-tui's own builder and runner on this machine.

For FP32 / FP16-converted / Q/DQ ONNX files it builds through ``trt_tui.core.trt`` (adapter plan,
builder, progress monitor) and then tries to load and run each plan with ``TrtRunner``. Every outcome
(parser errors, the builder's own reason, TensorRT's refusal at load time) is recorded in the JSON
written to ``--out``; the file is rewritten after every step, so even a native crash leaves what ran
and an ``in_progress`` marker. Exit status is 0 whatever TensorRT did (2 only for bad arguments).

    PYTHONPATH=/path/to/tensorrt_rtx_bindings/parent python scripts/rtx_build_check.py --out rtx.json
    python scripts/rtx_build_check.py --out rtx.json --onnx-fp32 m.onnx --onnx-fp16 m16.onnx --onnx-qdq mq.onnx
"""

from __future__ import annotations

import argparse
import json
import os
import platform
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

DETAIL_CHARS = 6000
PRECISION_OF_VARIANT = {"fp32": "fp32", "fp16": "fp16", "qdq": "int8"}


class Report:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, Any] = {"script": "rtx_build_check", "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
                                     "in_progress": None, "builds": []}

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(self.data, indent=2, default=str))
        os.replace(tmp, self.path)

    def step(self, what: str | None) -> None:
        self.data["in_progress"] = what
        self.save()


def err_record(exc: BaseException) -> dict[str, Any]:
    return {
        "type": type(exc).__name__,
        "message": getattr(exc, "message", None) or str(exc),
        "detail": (getattr(exc, "detail", "") or traceback.format_exc())[:DETAIL_CHARS],
    }


def environment() -> dict[str, Any]:
    env: dict[str, Any] = {"python": sys.version.split()[0], "platform": platform.platform(),
                           "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
                           "TRT_TUI_TENSORRT": os.environ.get("TRT_TUI_TENSORRT", "")}
    try:
        import torch

        env["torch"] = torch.__version__
        env["torch_cuda"] = torch.version.cuda
        env["cuda_available"] = torch.cuda.is_available()
        if torch.cuda.is_available():
            env["gpu"] = torch.cuda.get_device_name(0)
            env["compute_capability"] = "%d.%d" % torch.cuda.get_device_capability(0)
    except Exception as exc:
        env["torch_error"] = repr(exc)
    return env


def make_onnx(model: str, batch: int, work: Path, report: Report) -> dict[str, Path]:
    """FP32 / FP16 / Q/DQ ONNX of a built-in model through trt-tui's own export and quantize code."""
    files: dict[str, Path] = {}
    steps: dict[str, Any] = {}
    report.data["onnx_steps"] = steps
    try:
        from trt_tui.core.calib_batches import BatchSource
        from trt_tui.core.export import export_onnx
        from trt_tui.core.models import load_model
        from trt_tui.core.onnx_variants import convert_fp16, quantize_qdq

        loaded = load_model(model)
        report.data["input_shape"] = list(loaded.input_shape)
        fp32 = work / "model.onnx"
        steps["export"] = export_onnx(loaded.module, loaded.input_shape, batch, fp32)
        files["fp32"] = fp32
    except Exception as exc:
        steps["export_error"] = err_record(exc)
        return files
    for variant, fn in (
        ("fp16", lambda: convert_fp16(fp32, work / "model_fp16.onnx")),
        ("qdq", lambda: quantize_qdq(fp32, work / "model_int8_qdq.onnx",
                                     BatchSource.for_model(loaded, batch, max_samples=64 * batch))),
    ):
        try:
            steps[variant] = fn()
            files[variant] = Path(steps[variant]["path"])
        except Exception as exc:
            steps[f"{variant}_error"] = err_record(exc)
    return files


def input_shape_of(onnx_path: Path) -> list[int] | None:
    try:
        import onnx

        m = onnx.load(str(onnx_path), load_external_data=False)
        dims = m.graph.input[0].type.tensor_type.shape.dim
        return [d.dim_value if d.dim_value > 0 else -1 for d in dims]
    except Exception:
        return None


def cc_variants(trt: Any, wanted: list[str]) -> dict[str, Any]:
    """Compute-capability settings to try: 'default' (TensorRT's own) and, for TensorRT-RTX, 'current'."""
    out: dict[str, Any] = {}
    for name in wanted:
        if name == "default":
            out[name] = None
        elif name == "current" and hasattr(trt, "ComputeCapability") and hasattr(trt.ComputeCapability, "CURRENT"):

            def current(trt_mod: Any, config: Any) -> None:
                config.num_compute_capabilities = 1
                config.set_compute_capability(trt_mod.ComputeCapability.CURRENT, 0)

            out[name] = current
    return out


def check_one(trt: Any, features: Any, variant: str, onnx_path: Path, plan_dir: Path, batch: int,
              cc_name: str, configure: Any, report: Report) -> dict[str, Any]:
    from trt_tui.core.trt.adapter import precision_plan
    from trt_tui.core.trt.builder import BuildCancelled, BuildFailed, BuildOptions, OnnxParseError, build_engine
    from trt_tui.core.trt.runner import TrtRunner

    precision = PRECISION_OF_VARIANT[variant]
    rec: dict[str, Any] = {"variant": variant, "precision": precision, "onnx": str(onnx_path), "cc": cc_name}
    report.data["builds"].append(rec)
    try:
        plan = precision_plan(features, precision, "qdq")
        rec["plan"] = plan.to_dict()
        if plan.onnx != variant:
            rec["note"] = f"the adapter builds {precision} from the {plan.onnx} ONNX here, not {variant}"
    except Exception as exc:
        rec["plan_error"] = err_record(exc)
        return rec
    shape = input_shape_of(onnx_path) or [batch]
    batch_shape = [batch if d == -1 else d for d in shape]
    rec["batch_shape"] = batch_shape
    logs: list[tuple[str, str]] = []
    progress: list[tuple[Any, ...]] = []
    plan_path = plan_dir / f"model_{variant}_{cc_name}.plan"

    report.step(f"build {variant} ({cc_name})")
    t0 = time.perf_counter()
    try:
        res = build_engine(
            trt, features, onnx_path, plan_path, plan,
            BuildOptions(batch_shape=tuple(batch_shape), workspace_mib=2048, tf32=True,
                         on_log=lambda s, m: logs.append((s, m)), on_progress=lambda *a: progress.append(a),
                         cancel=threading.Event(), log_level="INFO", configure=configure),
        )
        rec.update(parser_ok=True, build_ok=True, plan_size=res.size_bytes, build_time_s=round(res.build_time_s, 3),
                   progress_callbacks=len(progress), monitor_events=res.progress_events, phases=res.phases,
                   tf32=res.tf32, warnings=res.warnings[:50])
    except OnnxParseError as exc:
        rec.update(parser_ok=False, build_ok=False, parser_errors=exc.errors, error=err_record(exc))
    except (BuildFailed, BuildCancelled) as exc:
        rec.update(parser_ok=True, build_ok=False, reason=exc.message, error=err_record(exc),
                   progress_callbacks=len(progress))
    except Exception as exc:
        rec.update(build_ok=False, reason=str(exc), error=err_record(exc), progress_callbacks=len(progress))
    rec["build_wall_s"] = round(time.perf_counter() - t0, 3)
    rec["phases_from_callbacks"] = sorted({p[0] for p in progress})
    rec["build_log"] = [f"{s}: {m}" for s, m in logs if s != "INFO"][-40:]
    rec["build_log_info_lines"] = sum(1 for s, _ in logs if s == "INFO")
    if not rec.get("build_ok"):
        return rec

    report.step(f"run {variant} ({cc_name})")
    run_logs: list[tuple[str, str]] = []
    t0 = time.perf_counter()
    runner = None
    try:
        import numpy as np

        runner = TrtRunner(trt, plan_path, tuple(batch_shape), features=features,
                           on_log=lambda s, m: run_logs.append((s, m)))
        rec["engine_info"] = runner.engine_info()
        x = np.random.default_rng(0).standard_normal(batch_shape).astype(np.float32)
        runner.set_input(x)
        runner.compute()
        outs = runner.outputs()
        rec["run"] = {"ok": True, "outputs": [{"shape": list(o.shape), "dtype": str(o.dtype),
                                               "finite": bool(np.isfinite(o.astype(np.float32)).all())} for o in outs]}
    except Exception as exc:
        rec["run"] = {"ok": False, "reason": getattr(exc, "message", None) or str(exc), "error": err_record(exc)}
    finally:
        if runner is not None:
            try:
                runner.close()
            except Exception:
                pass
    rec["run"]["seconds"] = round(time.perf_counter() - t0, 3)
    rec["run"]["log"] = [f"{s}: {m}" for s, m in run_logs][-40:]
    return rec


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, type=Path, help="JSON report path")
    ap.add_argument("--onnx-fp32", type=Path)
    ap.add_argument("--onnx-fp16", type=Path)
    ap.add_argument("--onnx-qdq", type=Path)
    ap.add_argument("--model", default="cnn", help="built-in model to export when no ONNX paths are given")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--prefer", default="rtx", choices=["rtx", "tensorrt", "auto"],
                    help="which TensorRT to import (TRT_TUI_TENSORRT overrides)")
    ap.add_argument("--cc", default="default,current",
                    help="TensorRT-RTX compute capability variants to try: default, current")
    ap.add_argument("--workdir", type=Path, help="where ONNX files and plans go (default: a temp folder)")
    args = ap.parse_args(argv)

    report = Report(args.out)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="rtx_check_"))
    work.mkdir(parents=True, exist_ok=True)
    report.data["workdir"] = str(work)
    try:
        report.data["env"] = environment()
        report.step("import tensorrt")
        from trt_tui.core.trt.adapter import Features, import_tensorrt

        try:
            trt, flavour = import_tensorrt(args.prefer)
        except Exception as exc:
            report.data["tensorrt"] = {"available": False, "error": err_record(exc)}
            report.step(None)
            print(f"TensorRT unavailable: {getattr(exc, 'message', exc)}")
            return 0
        features = Features.from_module(trt)
        report.data["tensorrt"] = {"available": True, "module": getattr(trt, "__name__", "?"),
                                   "file": getattr(trt, "__file__", None), "flavour": flavour,
                                   "features": features.to_dict()}

        report.step("make onnx")
        given = {"fp32": args.onnx_fp32, "fp16": args.onnx_fp16, "qdq": args.onnx_qdq}
        if any(given.values()):
            files = {k: v for k, v in given.items() if v is not None}
        else:
            files = make_onnx(args.model, args.batch, work, report)
        report.data["onnx_files"] = {k: str(v) for k, v in files.items()}

        variants = cc_variants(trt, [c.strip() for c in args.cc.split(",") if c.strip()])
        report.data["cc_variants"] = list(variants)
        for cc_name, configure in variants.items():
            for variant in ("fp32", "fp16", "qdq"):
                if variant not in files:
                    continue
                try:
                    check_one(trt, features, variant, files[variant], work / "plans", args.batch, cc_name,
                              configure, report)
                except Exception as exc:  # a bug here must not lose the other results
                    report.data["builds"].append({"variant": variant, "cc": cc_name, "script_error": err_record(exc)})
                report.save()
    except Exception as exc:
        report.data["script_error"] = err_record(exc)
    report.data["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    report.step(None)
    for b in report.data["builds"]:
        run = b.get("run") or {}
        print(f"{b.get('variant')}/{b.get('cc')}: parser_ok={b.get('parser_ok')} build_ok={b.get('build_ok')} "
              f"{b.get('reason') or ''} run_ok={run.get('ok')} {run.get('reason') or ''}")
    print(f"report: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
