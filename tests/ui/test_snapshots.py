"""SVG snapshots of each screen (pytest-textual-snapshot), replayed from recorded streams.

Clock frozen, machine probe fixed, notifications cleared: the pictures are deterministic. A changed
picture fails until reviewed (``pytest --snapshot-update`` only after looking at snapshot_report.html).
The same scenarios make the README's screenshots (``trt_tui.screenshots``).
"""

from __future__ import annotations

import pytest

from trt_tui.screenshots import STREAMS_DIR as DATA
from trt_tui.screenshots import make_app, run_all_and_wait, scenarios, settle, wait_until

from .helpers import ASSET_STREAMS, EXPORT_FAILURE

SCENARIOS = scenarios(DATA)


def with_cleanup(steps):
    async def run_before(pilot):
        await steps(pilot)
        pilot.app.clear_notifications()
        await pilot.pause()

    return run_before


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_screen_100x30(snap_compare, name):
    factory, steps = SCENARIOS[name]
    assert snap_compare(factory(), run_before=with_cleanup(steps), terminal_size=(100, 30))


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_screen_80x24(snap_compare, name):
    factory, steps = SCENARIOS[name]
    assert snap_compare(factory(), run_before=with_cleanup(steps), terminal_size=(80, 24))


def test_export_failure_100x30(snap_compare):
    async def steps(pilot):
        app = pilot.app
        await settle(pilot)
        await pilot.press("r")
        await wait_until(pilot, lambda: app.job is None and app.state.finished is not None)
        await pilot.press("2")

    assert snap_compare(make_app(EXPORT_FAILURE), run_before=with_cleanup(steps), terminal_size=(100, 30))


def test_build_timeline_80x24(snap_compare):
    """The Build screen after a run: where the seconds went (a real CPU run's timeline)."""

    async def steps(pilot):
        await run_all_and_wait(pilot)
        await pilot.press("3")

    stream = ASSET_STREAMS / "mlp_timeline_cpu.jsonl"
    assert snap_compare(make_app(stream), run_before=with_cleanup(steps), terminal_size=(80, 24))


def test_invalid_model_field_100x30(snap_compare):
    async def steps(pilot):
        await settle(pilot)
        screen = pilot.app.screen
        screen.query_one("#batch_size").value = "0"
        screen.query_one("#input_shape").value = "3,a,224"
        await pilot.pause()

    assert snap_compare(make_app(None), run_before=with_cleanup(steps), terminal_size=(100, 30))


def test_save_dialog_with_error_100x30(snap_compare):
    factory, run_all = SCENARIOS["benchmark"]

    async def steps(pilot):
        await run_all(pilot)
        await pilot.press("e")
        pilot.app.screen.query_one("#save-path").value = "/proc/not-writable/results.csv"
        await pilot.press("enter")

    assert snap_compare(factory(), run_before=with_cleanup(steps), terminal_size=(100, 30))


def test_readme_screenshots_in_screens_folder_are_current(tmp_path):
    """screens/*.svg (shown in the README) are what `trt-tui screenshots` makes now."""
    from pathlib import Path

    from pytest_textual_snapshot import normalize_svg

    from trt_tui.screenshots import save_screenshots

    committed = Path(__file__).resolve().parents[2] / "screens"
    for path in save_screenshots(tmp_path / "screens", streams_dir=DATA):
        mine = committed / path.name
        assert mine.is_file(), f"{mine} missing: run `trt-tui screenshots`"
        assert normalize_svg(path.read_text()) == normalize_svg(mine.read_text()), (
            f"{mine} is out of date: review it, then run `trt-tui screenshots`")
