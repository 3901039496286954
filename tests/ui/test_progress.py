"""Long stages as the user follows them: every one shows live progress, or at least a ticking
elapsed time, and the top bar never loses the stage name and its elapsed time."""

from __future__ import annotations

from textual.widgets import ProgressBar

from trt_tui.screens.build import BuildScreen
from trt_tui.screenshots import FROZEN_CLOCK, make_app, settle, wait_until
from trt_tui.widgets.engine_panel import EnginePanel
from trt_tui.widgets.topbar import TopBar

from .helpers import MLP, SYNTHETIC_BUILD, run, static_text

SIZE = (80, 24)


def top_bar(app) -> str:
    return app.screen.query_one(TopBar).render().plain


def test_calibration_progress_on_the_build_screen_with_time_left():
    async def scenario():
        step = {"n": 3}
        app = make_app(SYNTHETIC_BUILD, stop=lambda e: e.type == "progress" and e.task == "int8-qdq" and e.step == step["n"])
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("r")
            await wait_until(pilot, lambda: app.state.quantize_steps.get("int8-qdq") is not None)
            await wait_until(pilot, lambda: isinstance(app.screen, BuildScreen))  # followed the quantize stage
            app.state.clock = lambda: FROZEN_CLOCK + 75.0
            await pilot.pause(0.7)  # one tick
            panel = app.screen.query_one("#prep-int8-qdq", EnginePanel)
            assert static_text(panel.query_one(".engine-title")) == "INT8 Q/DQ ONNX"
            assert static_text(panel.query_one(".engine-phase")) == "calibration (3/8) · ~8 s left"
            assert static_text(panel.query_one(".engine-elapsed")) == "1m15s"
            bar = panel.query_one(ProgressBar)
            assert bar.display and (bar.progress, bar.total) == (3, 8)
            # the engines wait: no 0% bars
            engine = app.screen.query_one("#engine-tensorrt-fp32", EnginePanel)
            assert not engine.query_one(ProgressBar).display
            assert static_text(engine.query_one(".engine-phase")) == "waits for the steps before it"
            assert "quantize 1m15s · calibration" in top_bar(app)
            await pilot.resize_terminal(100, 30)
            await pilot.pause()
            assert "quantize 1m15s · calibration 3/8 ~8 s left · INT8" in top_bar(app)

    run(scenario)


def test_a_stage_without_progress_events_shows_a_ticking_elapsed_time():
    """The recorded CPU run reports no calibration progress: the screen still moves every second."""

    async def scenario():
        app = make_app(MLP, stop=lambda e: e.type == "stage_started" and e.stage == "quantize")
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("r")
            await wait_until(pilot, lambda: "quantize" in app.state.stages and isinstance(app.screen, BuildScreen))
            seen = []
            for seconds in (12, 13, 95):
                app.state.clock = lambda s=seconds: FROZEN_CLOCK + s
                await pilot.pause(0.7)
                seen.append((static_text(app.screen.query_one("#build-summary")), top_bar(app)))
            assert "— running 12 s" in seen[0][0] and "— running 13 s" in seen[1][0] and "1m35s" in seen[2][0]
            assert "quantize 12 s" in seen[0][1] and "quantize 1m35s" in seen[2][1]

    run(scenario)


def test_the_status_keeps_stage_and_time_and_cuts_the_detail_first():
    async def scenario():
        app = make_app(MLP)
        async with app.run_test(size=(60, 10)) as pilot:
            await settle(pilot)
            bar = app.screen.query_one(TopBar)
            bar.status, bar.detail, bar.running = "quantize 1m12s", "Quantize (Q/DQ INT8) and convert (FP16) " * 3, True
            await pilot.pause()
            text = bar.render().plain
            assert "● quantize 1m12s" in text and len(text) <= 60
            bar.status = "benchmark 12m05s cancelling…"
            await pilot.pause()
            assert "benchmark 12m05s cancelling…" in bar.render().plain

    run(scenario)


def test_export_benchmark_and_build_stages_show_their_elapsed_time_while_running():
    async def scenario():
        stop = {"stage": "export"}
        app = make_app(MLP, stop=lambda e: e.type == "stage_started" and e.stage == stop["stage"])
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("r")
            await wait_until(pilot, lambda: "export" in app.state.stages)
            app.state.clock = lambda: FROZEN_CLOCK + 42
            await pilot.pause(0.7)
            assert "export 42 s" in top_bar(app)
            steps = app.screen.query_one("#export-steps")
            assert "42 s" in [str(c) for c in steps.get_row_at(0)]  # the running step's time ticks

    run(scenario)
