"""The timeline on the Build screen: the log while a run goes on, the timeline by itself once it ended,
``t`` between the two; replayed from a real CPU run's stream (assets/streams/mlp_timeline_cpu.jsonl)."""

from __future__ import annotations

import json

from textual.widgets import RichLog

from trt_tui.core import timeline
from trt_tui.core.events import TimelineEvent
from trt_tui.core.results import ResultsStore
from trt_tui.screens.build import BuildScreen
from trt_tui.screenshots import make_app, run_all_and_wait, settle, wait_until

from .helpers import ASSET_STREAMS, MLP, run, static_text

STREAM = ASSET_STREAMS / "mlp_timeline_cpu.jsonl"


def recorded_entries() -> list[dict]:
    events = [json.loads(line) for line in STREAM.read_text().splitlines()]
    return [e for ev in events if ev["type"] == "timeline" for e in ev["entries"]]


def panes(app) -> tuple[bool, bool, str]:
    """(timeline shown, log shown, the timeline's text)."""
    screen = app.screen
    pane = screen.query_one("#build-timeline-pane")
    return pane.display, screen.query_one("#build-log", RichLog).display, static_text(screen.query_one("#build-timeline"))


def test_the_build_screen_shows_the_timeline_once_the_run_ended_and_t_switches_to_the_log():
    async def scenario():
        app = make_app(STREAM)
        async with app.run_test(size=(80, 24)) as pilot:
            await run_all_and_wait(pilot)
            await pilot.press("3")
            assert isinstance(app.screen, BuildScreen)
            shown, log, text = panes(app)
            assert shown and not log
            entries = recorded_entries()
            assert app.state.timeline == entries
            assert text.startswith(f"timeline: {timeline.span_s(entries):.1f} s from the launch of trt-tui run")
            for stage in ("startup", "env", "model", "benchmark", "export", "quantize", "build (skipped)"):
                assert f"\n  {stage} " in text, stage
            assert "calibration · int8-qdq" in text and "timed · pytorch-fp32" in text  # every entry below
            title = app.screen.query_one("#build-timeline-pane").border_title
            assert title == f"Timeline · {timeline.span_s(entries):.1f} s"
            await pilot.press("t")
            assert panes(app)[:2] == (False, True)
            assert "t: timeline" in app.screen.query_one("#build-log", RichLog).border_subtitle
            await pilot.press("t")
            assert panes(app)[:2] == (True, False)

    run(scenario)


def test_during_a_run_the_log_shows_and_t_brings_the_stages_so_far():
    def before_quantize_ends(event) -> bool:
        return isinstance(event, TimelineEvent) and any(e["name"] == "export" and e["kind"] == "stage"
                                                        for e in event.entries)

    async def scenario():
        app = make_app(STREAM, stop=before_quantize_ends)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("r")
            await wait_until(pilot, lambda: any(e["name"] == "export" for e in app.state.timeline))
            await pilot.press("3")
            assert panes(app)[:2] == (False, True)  # a run under way: the log
            await pilot.press("t")
            shown, _, text = panes(app)
            assert shown and "\n  export " in text and "\n  quantize " not in text
            await pilot.press("c")
            await wait_until(pilot, lambda: app.job is None)

    run(scenario)


def test_a_stream_without_timeline_events_keeps_the_log():
    async def scenario():
        app = make_app(MLP)  # recorded before the timeline existed
        async with app.run_test(size=(100, 30)) as pilot:
            await run_all_and_wait(pilot)
            await pilot.press("3")
            assert panes(app)[:2] == (False, True)
            await pilot.press("t")
            shown, _, text = panes(app)
            assert shown and text == "no timeline yet: it fills in as the stages end"

    run(scenario)


def test_a_reopened_results_folder_shows_its_timeline(tmp_path):
    store = ResultsStore(tmp_path, meta={"config": {"model": "mlp"}, "timeline": recorded_entries(),
                                         "timeline_origin": "the launch of trt-tui run"})
    store.save()

    async def scenario():
        app = make_app(MLP)
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            app.state.reopen(ResultsStore.load(tmp_path))
            app._redraw()
            await pilot.press("3")
            shown, _, text = panes(app)
            assert shown and text.startswith("timeline: ") and "quantize" in text

    run(scenario)
