"""SVG screenshots of each screen, made by the app itself from recorded event streams.

``trt-tui screenshots [--out screens]`` calls :func:`save_screenshots`. The app is driven headless
by a replayed stream (``runner.ReplayJob``) with a frozen clock and a fixed machine probe, so the
pictures are deterministic. The streams ship in ``trt_tui/demo``: ``mlp_cpu.jsonl`` (a real CPU run)
and ``build_progress_synthetic.jsonl`` (the same run with synthetic TensorRT build events and
calibration progress, since the recording machine has no TensorRT).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from trt_tui.child_job import ReplayJob
from trt_tui.core.config import RunConfig
from trt_tui.core.events import Event
from trt_tui.core.trt.adapter import INSTALL_HINT

STREAMS_DIR = Path(__file__).resolve().parent / "demo"
FROZEN_CLOCK = 1_750_000_000.0
# The machine the streams were recorded on (a CPU box): what the Model screen's status line shows.
RECORDED_MACHINE: dict[str, Any] = {
    "gpu": None,
    "tensorrt": None,
    "tensorrt_flavour": None,
    "install_hint": INSTALL_HINT,
}


def make_app(
    stream: str | Path | None = None,
    *,
    stop: Callable[[Event], bool] | None = None,
    config: RunConfig | None = None,
    machine: dict[str, Any] | None = None,
    **kwargs: Any,
) -> Any:
    """A TrtTuiApp whose jobs replay ``stream`` (frozen clock, fixed machine probe)."""
    from trt_tui.app import TrtTuiApp

    def factory(_config: RunConfig) -> ReplayJob:
        if stream is None:
            raise RuntimeError("no recorded stream given to replay")
        return ReplayJob(stream, stop=stop)

    info = dict(machine or RECORDED_MACHINE)
    kwargs.setdefault("clock", lambda: FROZEN_CLOCK)
    app = TrtTuiApp(job_factory=factory, config=config, probe=lambda: info, **kwargs)
    app.animation_level = "none"  # progress bars drawn at their value, not mid-animation
    return app


async def wait_until(pilot: Any, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Let the app run until ``predicate()`` holds (raises TimeoutError after ``timeout`` s)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise TimeoutError("the app did not reach the expected state in time")
        await pilot.pause(0.02)
    await pilot.pause()


async def settle(pilot: Any) -> None:
    """Wait for the machine probe and let pending messages and redraws go through."""
    app = pilot.app
    await wait_until(pilot, lambda: app.machine is not None)
    await pilot.pause()
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()


async def run_all_and_wait(pilot: Any) -> None:
    """Press r (Run all) and wait for the job to finish."""
    app = pilot.app
    await settle(pilot)
    await pilot.press("r")
    await wait_until(pilot, lambda: app.job is None and app.state.finished is not None, timeout=30)


def _is_mid_build(event: Event) -> bool:
    from trt_tui.core.events import Progress

    return isinstance(event, Progress) and event.task == "tensorrt-fp16" and event.step == 2


def _is_mid_calibration(event: Event) -> bool:
    from trt_tui.core.events import Progress

    return isinstance(event, Progress) and event.task == "int8-qdq" and event.step == 5


async def _shot(app: Any, size: tuple[int, int], steps: Callable[[Any], Any]) -> str:
    async with app.run_test(size=size) as pilot:
        await steps(pilot)
        app.clear_notifications()
        await pilot.pause()
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()
        return app.export_screenshot(title="trt-tui")


async def _model(pilot: Any) -> None:
    await settle(pilot)


async def _export(pilot: Any) -> None:
    await run_all_and_wait(pilot)
    await pilot.press("2")


async def _build(pilot: Any) -> None:
    app = pilot.app
    await settle(pilot)
    await pilot.press("r")
    await wait_until(
        pilot,
        lambda: app.state.engines.get("tensorrt-fp16") is not None and app.state.engines["tensorrt-fp16"].step == 2,
    )
    app.state.clock = lambda: FROZEN_CLOCK + 4.2  # the FP16 build has been running for 4 s
    await pilot.press("3")
    app._redraw()  # the screen may have followed the run here already, drawn at 0 s
    await pilot.pause()
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()


async def _quantize(pilot: Any) -> None:
    app = pilot.app
    await settle(pilot)
    await pilot.press("r")
    await wait_until(
        pilot, lambda: "int8-qdq" in app.state.quantize_steps and app.state.quantize_steps["int8-qdq"].step == 5
    )
    app.state.clock = lambda: FROZEN_CLOCK + 37.0  # calibrating for 37 s
    app._redraw()
    await pilot.pause()
    await pilot.wait_for_scheduled_animations()  # the progress bar's fill
    await pilot.pause()


async def _benchmark(pilot: Any) -> None:
    await run_all_and_wait(pilot)
    await pilot.press("4")


async def _benchmark_layers(pilot: Any, streams: Path) -> None:
    """The per-layer line of the INT8 row (--explain-accuracy)."""
    app = pilot.app
    await run_all_and_wait(pilot)
    app.state.out_dir = streams / "layers"  # a results folder with the digits-cnn run's layers.json
    await pilot.press("4")
    table = app.screen.query_one("#bench")
    table.move_cursor(row=table.get_row_index("onnxruntime-int8"), column=2)
    await pilot.pause()


async def _layers_list(pilot: Any, streams: Path) -> None:
    await _benchmark_layers(pilot, streams)
    await pilot.press("a")
    await pilot.pause()


async def _help_screen(pilot: Any) -> None:
    await settle(pilot)
    await pilot.press("question_mark")


def scenarios(streams: Path) -> dict[str, tuple[Callable[[], Any], Callable[[Any], Any]]]:
    """name -> (app factory, async steps with the pilot)."""
    mlp = streams / "mlp_cpu.jsonl"
    synthetic = streams / "build_progress_synthetic.jsonl"
    digits = streams / "digits_cnn_cpu.jsonl"
    return {
        "model": (lambda: make_app(mlp), _model),
        "export": (lambda: make_app(mlp), _export),
        "build": (lambda: make_app(synthetic, stop=_is_mid_build), _build),
        "build_quantize": (lambda: make_app(synthetic, stop=_is_mid_calibration), _quantize),
        "benchmark": (lambda: make_app(mlp), _benchmark),
        "benchmark_synthetic_tensorrt": (lambda: make_app(synthetic), _benchmark),
        "benchmark_layers": (lambda: make_app(digits), partial(_benchmark_layers, streams=streams)),
        "layers_list": (lambda: make_app(digits), partial(_layers_list, streams=streams)),
        "help": (lambda: make_app(mlp), _help_screen),
    }


# (size, file name suffix): the size the README shows, and the smallest terminal the app is made for
SIZES: tuple[tuple[tuple[int, int], str], ...] = (((100, 30), ""), ((80, 24), "-80x24"))


def save_screenshots(
    out_dir: str | Path = "screens",
    *,
    sizes: tuple[tuple[tuple[int, int], str], ...] = SIZES,
    streams_dir: str | Path | None = None,
) -> list[Path]:
    """Save one SVG per screen and size into ``out_dir`` (``model.svg``, ``model-80x24.svg``, ...);
    returns the paths written."""
    import os
    import tempfile

    streams = Path(streams_dir) if streams_dir else STREAMS_DIR
    if not (streams / "mlp_cpu.jsonl").is_file():
        raise FileNotFoundError(f"recorded streams not found in {streams}")
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="trt-tui-shots-") as tmp:
        os.chdir(tmp)  # the replayed runs' relative results folders land here, not in the caller's tree
        try:
            for size, suffix in sizes:
                for name, (factory, steps) in scenarios(streams).items():
                    svg = asyncio.run(_shot(factory(), size, steps))
                    path = out / f"{name}{suffix}.svg"
                    path.write_text(svg, encoding="utf-8")
                    written.append(path)
        finally:
            os.chdir(cwd)
    return written


_FIRST_PAINT_CHILD = """
import json, sys
from trt_tui.app import TrtTuiApp
app = TrtTuiApp()
async def auto_pilot(pilot):
    await pilot.pause()
    app.exit(app.first_paint)
first_paint = app.run(headless=True, auto_pilot=auto_pilot, size=(100, 30))
print(json.dumps({"first_paint": first_paint, "modules": sorted(sys.modules)}))
"""


def measure_first_paint(runs: int = 5, python: str = sys.executable) -> dict[str, Any]:
    """Seconds from starting a fresh ``python`` process to the first screen drawn (headless,
    100x30), over ``runs`` runs, and the top-level modules that process had loaded."""
    import json
    import os
    import subprocess
    import time

    times: list[float] = []
    modules: set[str] = set()
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    for _ in range(runs):
        start = time.time()
        out = subprocess.run(
            [python, "-c", _FIRST_PAINT_CHILD], capture_output=True, text=True, env=env, check=True, timeout=120
        )
        data = json.loads(out.stdout.strip().splitlines()[-1])
        times.append(data["first_paint"] - start)
        modules |= {m.split(".")[0] for m in data["modules"]}
    times.sort()
    return {"runs": times, "median_s": times[len(times) // 2], "min_s": times[0], "modules": sorted(modules)}


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m trt_tui.screenshots")
    parser.add_argument("--out", default="screens")
    parser.add_argument(
        "--first-paint", action="store_true", help="measure the time from process start to the first screen instead"
    )
    args = parser.parse_args(argv)
    if args.first_paint:
        result = measure_first_paint()
        print(
            f"first paint: median {result['median_s']:.3f} s, min {result['min_s']:.3f} s "
            f"over {len(result['runs'])} runs: {', '.join(f'{t:.3f}' for t in result['runs'])}"
        )
        return 0
    for path in save_screenshots(args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
