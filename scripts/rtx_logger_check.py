#!/usr/bin/env python
"""TensorRT's single logger, checked with a real TensorRT(-RTX): do a build's errors reach BuildFailed
while an earlier runner's Runtime is still alive?

TensorRT keeps one logger pointer while any Builder/Runtime lives and ignores a different one
(NVIDIA/TensorRT#1475); trt_tui gives every Builder/Runtime one process-wide logger that routes to the
listener of the moment (trt_tui/core/trt/logger.py). Steps, each recorded in the JSON at ``--out``
(rewritten after every step, so a native crash still leaves what ran):

1. ``first_build``: build a tiny MatMul+Relu plan; its log lines reach its listener.
2. ``keep_alive``: load that plan with TrtRunner (TensorRT-RTX refuses to run on CC 9.0; then keep
   what does load: a Runtime and, if it deserializes, the engine) and keep it alive.
3. ``broken_builds`` while that lives: an inconsistent optimization profile (min > opt), a profile
   whose volume overflows, and an op no parser knows; each must fail with TensorRT's own error lines
   in BuildFailed / OnnxParseError (``errors_reached``).
4. ``second_build``: a normal build; its lines reach the second listener and not the first.
5. ``foreign_logger``: a Runtime made with another logger while ours lives: whether TensorRT still
   warns "the existing value ... will be used instead" (what the fakes model) is recorded.

Exit status 0 whatever TensorRT did. Without TensorRT the JSON says so (``available: false``).

    python scripts/rtx_logger_check.py --out rtx-logger.json       # TRT_TUI_TENSORRT=rtx|tensorrt
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

FEATURES = 8


class Report:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, Any] = {"script": "rtx_logger_check", "in_progress": None, "steps": {}}

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(self.data, indent=2, default=str))
        os.replace(tmp, self.path)

    def step(self, name: str, rec: dict[str, Any] | None = None) -> dict[str, Any]:
        self.data["in_progress"] = name
        rec = rec if rec is not None else {}
        self.data["steps"][name] = rec
        self.save()
        return rec


def err(exc: BaseException) -> dict[str, Any]:
    return {"type": type(exc).__name__, "message": getattr(exc, "message", None) or str(exc),
            "detail": (getattr(exc, "detail", "") or traceback.format_exc())[:4000]}


def tiny_onnx(path: Path, *, dynamic: bool = False, op: str = "Relu") -> Path:
    """x[B, 8] @ W[8, 4] -> op; ``op='FancyOp'`` (custom domain) makes a graph no parser imports."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    batch: Any = "batch" if dynamic else 4
    w = numpy_helper.from_array(np.random.default_rng(0).standard_normal((FEATURES, 4)).astype(np.float32), "W")
    node = (helper.make_node(op, ["h"], ["y"], domain="trt_tui.test") if op != "Relu"
            else helper.make_node("Relu", ["h"], ["y"]))
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["h"]), node], "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, FEATURES])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 4])], [w])
    opsets = [helper.make_opsetid("", 17)] + ([helper.make_opsetid("trt_tui.test", 1)] if op != "Relu" else [])
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def build(trt: Any, features: Any, onnx_path: Path, plan_path: Path, batch_shape: Any) -> dict[str, Any]:
    """One build through trt_tui's builder, with its own listener; what reached it and how it ended."""
    from trt_tui.core.trt.adapter import precision_plan
    from trt_tui.core.trt.builder import BuildFailed, BuildOptions, OnnxParseError, build_engine

    lines: list[tuple[str, str]] = []
    rec: dict[str, Any] = {"onnx": onnx_path.name}
    t0 = time.perf_counter()
    try:
        res = build_engine(trt, features, onnx_path, plan_path, precision_plan(features, "fp32"),
                           BuildOptions(batch_shape=batch_shape, workspace_mib=256,
                                        on_log=lambda s, m: lines.append((s, m)), log_level="INFO"))
        rec.update(ok=True, plan_bytes=res.size_bytes, warnings=res.warnings[:20])
    except (BuildFailed, OnnxParseError) as exc:
        logged = getattr(exc, "log_errors", None) or [ln for s, ln in lines if s in ("ERROR", "INTERNAL_ERROR")]
        rec.update(ok=False, error=err(exc), reason=exc.message, log_errors=logged[:20],
                   parser_errors=getattr(exc, "errors", [])[:20])
    except Exception as exc:  # anything else is a finding too
        rec.update(ok=False, error=err(exc), reason=str(exc))
    rec["seconds"] = round(time.perf_counter() - t0, 3)
    rec["listener_lines"] = len(lines)
    rec["listener_errors"] = [m for s, m in lines if s in ("ERROR", "INTERNAL_ERROR")][:20]
    rec["listener_sample"] = [f"{s}: {m}" for s, m in lines if s != "INFO"][:20]
    rec["logger_warning_seen"] = any("will be used instead" in m for _, m in lines)
    return rec


def keep_alive(trt: Any, features: Any, plan_path: Path, rec: dict[str, Any]) -> list[Any]:
    """A TrtRunner for the plan if it loads; otherwise a Runtime (and engine if it deserializes)."""
    from trt_tui.core.trt.logger import listen, process_logger
    from trt_tui.core.trt.runner import TrtRunner

    alive: list[Any] = []
    try:
        alive.append(TrtRunner(trt, plan_path, (4, FEATURES), features=features))
        rec.update(runner_loaded=True)
        return alive
    except Exception as exc:
        rec.update(runner_loaded=False, runner_error=err(exc))
    with listen(trt, min_severity="INFO") as sink:
        runtime = trt.Runtime(process_logger(trt))
        alive.append(runtime)
        try:
            engine = runtime.deserialize_cuda_engine(plan_path.read_bytes())
        except Exception as exc:
            engine = None
            rec["deserialize_error"] = err(exc)
        if engine is not None:
            alive.append(engine)
    rec.update(kept=[type(o).__name__ for o in alive], load_log_errors=sink.error_lines()[:10])
    return alive


def run_checks(trt: Any, features: Any, work: Path, report: Report) -> None:
    from trt_tui.core.trt.logger import listen, process_logger

    plans = work / "plans"
    good = tiny_onnx(work / "tiny.onnx")
    report.step("first_build", build(trt, features, good, plans / "first.plan", (4, FEATURES)))

    rec = report.step("keep_alive")
    alive: list[Any] = []
    if (plans / "first.plan").is_file():
        alive = keep_alive(trt, features, plans / "first.plan", rec)
    rec["alive"] = [type(o).__name__ for o in alive]
    report.save()

    broken = report.step("broken_builds")
    dyn = tiny_onnx(work / "tiny_dynamic.onnx", dynamic=True)
    cases = {
        "profile_min_gt_opt": (dyn, ((4, FEATURES), (2, FEATURES), (8, FEATURES))),
        "profile_volume_overflow": (dyn, ((1, FEATURES), (1, FEATURES), (2**31 - 1, FEATURES))),
        "unknown_op": (tiny_onnx(work / "tiny_fancy.onnx", op="FancyOp"), (4, FEATURES)),
    }
    for name, (onnx_path, shape) in cases.items():
        r = build(trt, features, onnx_path, plans / f"{name}.plan", shape)
        r["errors_reached"] = (not r["ok"]) and bool(r.get("log_errors") or r.get("parser_errors"))
        broken[name] = r
        report.save()
    broken["alive_during"] = [type(o).__name__ for o in alive]

    second = report.step("second_build")
    r = build(trt, features, good, plans / "second.plan", (4, FEATURES))
    second.update(r)
    second["reached_second_listener"] = r["listener_lines"] > 0
    report.save()

    foreign = report.step("foreign_logger")
    try:
        with listen(trt, min_severity="INFO") as sink:
            other = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        foreign.update(made=True, warning_to_our_logger=[w for w in sink.warning_lines() if "logger" in w.lower()][:3])
        del other
    except Exception as exc:
        foreign.update(made=False, error=err(exc))
    del alive
    gc.collect()
    foreign["listeners_left"] = len(process_logger(trt).listeners)
    report.save()


def summary(data: dict[str, Any]) -> dict[str, Any]:
    steps = data.get("steps", {})
    broken = {k: v.get("errors_reached") for k, v in steps.get("broken_builds", {}).items() if isinstance(v, dict)}
    return {
        "first_build_ok": steps.get("first_build", {}).get("ok"),
        "alive_during_broken_builds": steps.get("broken_builds", {}).get("alive_during"),
        "broken_builds_errors_reached": broken,
        "second_build_ok": steps.get("second_build", {}).get("ok"),
        "second_build_reached_its_listener": steps.get("second_build", {}).get("reached_second_listener"),
        "foreign_logger_warning": bool(steps.get("foreign_logger", {}).get("warning_to_our_logger")),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, type=Path, help="JSON report path")
    ap.add_argument("--prefer", default="rtx", choices=["rtx", "tensorrt", "auto"],
                    help="which TensorRT to import (TRT_TUI_TENSORRT overrides)")
    ap.add_argument("--workdir", type=Path, help="where ONNX files and plans go (default: a temp folder)")
    args = ap.parse_args(argv)
    report = Report(args.out)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="rtx_logger_"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        from trt_tui.core.trt.adapter import Features, import_tensorrt

        try:
            trt, flavour = import_tensorrt(args.prefer)
        except Exception as exc:
            report.data["tensorrt"] = {"available": False, "error": err(exc)}
            report.data["in_progress"] = None
            report.save()
            print(f"TensorRT unavailable: {getattr(exc, 'message', exc)}")
            return 0
        features = Features.from_module(trt)
        report.data["tensorrt"] = {"available": True, "module": trt.__name__, "label": features.label}
        run_checks(trt, features, work, report)
    except Exception as exc:
        report.data["script_error"] = err(exc)
    report.data["in_progress"] = None
    report.data["summary"] = summary(report.data)
    report.save()
    print(json.dumps(report.data["summary"], indent=2))
    print(f"report: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
