"""The TUI process itself: it never imports the GPU stack, and its first paint is measured."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from trt_tui.screenshots import measure_first_paint

from .helpers import MLP

HEAVY = {"torch", "tensorrt", "tensorrt_rtx", "onnx", "onnxruntime", "torchvision"}
ROOT = Path(__file__).resolve().parents[2]

# Start the real app (real machine probe, real model list) and replay a whole recorded run through it,
# visiting every screen; then report what the process has imported.
CHILD = r"""
import json, sys
from pathlib import Path
from trt_tui.app import TrtTuiApp
from trt_tui.child_job import ReplayJob

stream = Path(sys.argv[1])
app = TrtTuiApp(job_factory=lambda config: ReplayJob(stream))

async def auto_pilot(pilot):
    while app.machine is None:
        await pilot.pause(0.05)
    await pilot.press("r")
    while app.job is not None or app.state.finished is None:
        await pilot.pause(0.05)
    for key in ("1", "2", "3", "4", "question_mark", "escape", "e", "escape"):
        await pilot.press(key)
    app.exit(app.state.finished.status)

status = app.run(headless=True, auto_pilot=auto_pilot, size=(100, 30))
print(json.dumps({"status": status, "modules": sorted({m.split(".")[0] for m in sys.modules})}))
"""


def test_the_tui_process_never_imports_torch_tensorrt_or_onnx(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", CHILD, str(MLP)], capture_output=True, text=True, env=env,
                         cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    data = json.loads(out.stdout.strip().splitlines()[-1])
    assert data["status"] == "ok"
    assert not HEAVY & set(data["modules"]), HEAVY & set(data["modules"])


def test_first_paint_is_measured_and_light():
    """Seconds from process start to the first screen drawn. Recorded, not asserted (speed targets
    live in benchmarks): see `python -m trt_tui.screenshots --first-paint`."""
    result = measure_first_paint(runs=3)
    print(f"\nfirst paint: median {result['median_s']:.3f} s over {result['runs']}")
    assert 0 < result["median_s"] < 30
    assert not HEAVY & set(result["modules"])
