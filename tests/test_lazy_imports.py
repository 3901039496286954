"""Heavy packages are imported only where a run needs them (issue 22): a built-in model that is not a
torchvision one runs load, baselines, export and an onnxruntime row without torchvision, transformers,
ModelOpt, onnxruntime.quantization, matplotlib or scikit-learn; a spare child stops preloading once its
run is handed over, so the run imports what its own model needs and nothing more."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = str(Path(__file__).resolve().parent.parent)
HEAVY = ("torchvision", "transformers", "modelopt", "onnxruntime.quantization", "matplotlib", "sklearn")


def python(code: str, stdin: str | None = None) -> dict:
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], input=stdin, capture_output=True, text=True, check=False,
                         cwd=ROOT, env={**os.environ, "PYTHONPATH": ROOT}, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_non_torchvision_model_runs_without_the_heavy_packages(tmp_path):
    found = python(f"""
        import json, sys
        import trt_tui.cli  # what `trt-tui run` imports, then what its job process runs
        from trt_tui.core.config import RunConfig
        from trt_tui.core.pipeline import Pipeline
        cfg = RunConfig(model="cnn", rows=("pytorch-fp32", "onnxruntime-fp32"), iterations=3, warmup=1,
                        max_seconds=1, device="cpu", eval_samples=8, out_dir={str(tmp_path / "run")!r})
        done = Pipeline(cfg, lambda event: None).run()
        print(json.dumps({{"status": done.status, "loaded": [m for m in {HEAVY!r} if m in sys.modules],
                           "torch": "torch" in sys.modules, "onnx": "onnx" in sys.modules}}))
    """)
    assert found["status"] == "ok" and found["torch"] and found["onnx"]  # it did run, export included
    assert found["loaded"] == []


def test_a_torchvision_model_does_import_torchvision_but_not_dynamo_until_something_needs_it(tmp_path):
    found = python("""
        import json, sys
        import torch
        from trt_tui.core.models import load_model
        load_model("resnet18")
        before = {"torchvision": "torchvision" in sys.modules, "dynamo": "torch._dynamo" in sys.modules}
        from torchvision.ops import roi_align  # the one torchvision function that asks dynamo, at call time
        out = roi_align(torch.randn(1, 2, 8, 8), torch.tensor([[0.0, 0, 0, 4, 4]]), output_size=2)
        import torch._dynamo.utils  # the real one, once something needs it
        double = torch.compile(lambda x: x * 2, backend="eager")
        print(json.dumps({**before, "roi_align": list(out.shape), "real": hasattr(torch._dynamo.utils, "counters"),
                          "compiled": double(torch.ones(2)).tolist()}))
    """)
    assert found["torchvision"] and not found["dynamo"]
    assert found["roi_align"] == [1, 2, 2, 2] and found["real"] and found["compiled"] == [2.0, 2.0]


def test_a_torchvision_import_that_goes_wrong_falls_back_to_a_plain_one():
    found = python("""
        import builtins, json, sys, types
        import torch
        from trt_tui.core import models
        real_import = builtins.__import__
        calls = []
        def failing_once(name, *args, **kwargs):  # a torchvision whose import breaks against the stand-in
            if name == "torchvision" and not calls:
                calls.append(name)
                raise ImportError("cannot import name 'something' from 'torch._dynamo.utils'")
            return real_import(name, *args, **kwargs)
        builtins.__import__ = failing_once
        tv = models.import_torchvision()
        builtins.__import__ = real_import
        print(json.dumps({"calls": calls, "models": hasattr(tv, "models"),
                          "stand_in_gone": not isinstance(sys.modules.get("torch._dynamo.utils"), types.ModuleType)
                                           or hasattr(sys.modules["torch._dynamo.utils"], "counters")}))
    """)
    assert found == {"calls": ["torchvision"], "models": True, "stand_in_gone": True}


def test_a_spare_stops_preloading_once_its_run_is_handed_over():
    # the config is already waiting on stdin when the spare starts: nothing is preloaded
    found = python("""
        import json, sys
        from trt_tui.jobs.__main__ import preload
        done = preload()
        print(json.dumps({"done": done, "line": sys.stdin.readline().strip(), "torchvision": "torchvision" in sys.modules}))
    """, stdin='{"model": "mlp"}\n')
    assert found == {"done": [], "line": '{"model": "mlp"}', "torchvision": False}

    # handed over after the first import: the rest of the list is left to the run
    found = python("""
        import json, sys
        from trt_tui.jobs.__main__ import preload
        asked = []
        done = preload(("colorsys", "wave"), handed_over=lambda: asked.append(1) or len(asked) > 1)
        print(json.dumps({"done": done, "wave": "wave" in sys.modules}))
    """)
    assert found == {"done": ["colorsys"], "wave": False}


def test_an_idle_spare_preloads_the_whole_list():
    found = python("""
        import json, sys
        from trt_tui.jobs.__main__ import preload
        print(json.dumps({"done": preload(("colorsys", "wave"), handed_over=lambda: False)}))
    """)
    assert found == {"done": ["colorsys", "wave"]}
