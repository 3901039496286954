"""80×24 and 100×30: what must stay in view without scrolling, and nothing cut mid-value."""

from __future__ import annotations

from textual.widgets import DataTable
from textual.widgets._footer import FooterKey

from trt_tui.screens.benchmark import BenchmarkScreen
from trt_tui.screenshots import make_app, run_all_and_wait, settle

from .helpers import MLP, SYNTHETIC_BUILD, run, static_text, table_text

SMALL, USUAL = (80, 24), (100, 30)


def visible_lines(widget) -> list[str]:
    return [line.text.rstrip() for line in widget.render_lines(widget.region.reset_offset)]


def test_benchmark_at_80x24_shows_the_compact_columns_without_scrolling_and_all_reasons():
    async def scenario():
        app = make_app(MLP)
        async with app.run_test(size=SMALL) as pilot:
            await run_all_and_wait(pilot)
            screen = app.screen
            assert isinstance(screen, BenchmarkScreen)
            table = screen.query_one("#bench", DataTable)
            titles = [c.label.plain.strip() for c in table.columns.values()]
            for title in ("Row", "Status", "p50", "speedup", "size", "max|Δ|", "top-1"):
                assert title in titles
            assert table.virtual_size.width <= table.scrollable_content_region.width  # no horizontal scroll
            assert table.max_scroll_x == 0
            rows = {r[0].strip(" ★"): r for r in table_text(table)}
            assert rows["ORT INT8"][titles.index("top-1")].strip() == "70.3%"
            # the skipped rows' reason, once for the three, without moving the cursor
            reasons = static_text(screen.query_one("#bench-reasons"))
            assert reasons.startswith("– TensorRT FP32, TensorRT FP16, TensorRT INT8: skipped — TensorRT is not installed")
            assert table.cursor_coordinate.row == 0
            assert screen.query_one("#bench-reasons").region.bottom <= screen.query_one("#bench-best").region.y
            assert screen.query_one("#bench-best").region.bottom <= SMALL[1] - 1  # above the footer

    run(scenario)


def test_wider_terminals_get_every_column_and_the_row_detail_keeps_each_value_whole():
    async def scenario():
        app = make_app(SYNTHETIC_BUILD)
        async with app.run_test(size=USUAL) as pilot:
            await run_all_and_wait(pilot)
            await pilot.press("4")
            table = app.screen.query_one("#bench", DataTable)
            assert len(table.columns) == 12 and table.max_scroll_x == 0
            table.focus()
            table.move_cursor(row=[k.value for k in table.rows].index("tensorrt-fp16"))
            await pilot.pause()
            detail = app.screen.query_one("#bench-detail")
            lines = visible_lines(detail)
            text = " ".join(lines)
            for pair in ("enqueue p50 0.0048 ms", "GPU p50 0.0060 ms", "p90 0.0288 ms", "batch 1"):
                assert pair in text, (pair, lines)
                assert any(pair in line for line in lines), pair  # never split across lines
            assert all(len(line) <= USUAL[0] for line in lines)
            await pilot.resize_terminal(*SMALL)
            await pilot.pause()
            assert 7 <= len(table.columns) < 12 and table.max_scroll_x == 0

    run(scenario)


def test_the_finished_message_does_not_cover_the_results():
    async def scenario():
        for size in (SMALL, USUAL):
            app = make_app(MLP)
            async with app.run_test(size=size, notifications=True) as pilot:
                await run_all_and_wait(pilot)
                await pilot.pause(0.3)
                toasts = list(app.screen.query("Toast"))
                assert toasts and any("run finished" in str(t._notification.message) for t in toasts)
                screen = app.screen
                for toast in toasts:
                    for wid in ("#bench", "#bench-reasons", "#bench-detail", "#bench-best"):
                        region = screen.query_one(wid).region
                        assert not toast.region.overlaps(region), (size, wid, toast.region, region)

    run(scenario)


def test_export_help_and_footer_fit_80_columns_without_cutting_a_value():
    async def scenario():
        app = make_app(MLP)
        async with app.run_test(size=SMALL) as pilot:
            await run_all_and_wait(pilot)
            for digit in "1234":
                await pilot.press(digit)
                await pilot.pause()
                keys = list(app.screen.query(FooterKey))
                assert keys and all(k.region.right <= SMALL[0] and k.region.width > 0 for k in keys), digit
            await pilot.press("2")
            info = app.screen.query_one("#onnx-info")
            lines = visible_lines(info)
            assert any("parameters 235.1 k" in line for line in lines), lines
            assert all(len(line) <= SMALL[0] for line in lines)
            await pilot.press("question_mark")
            await pilot.pause()
            values = list(app.screen.query(".value"))
            assert len({v.region.x for v in values}) == 1  # descriptions wrap beside their key
            assert all(v.region.right <= SMALL[0] for v in values)

    run(scenario)


def test_the_model_screen_fits_80x24_with_its_next_step():
    async def scenario():
        app = make_app(MLP)
        async with app.run_test(size=SMALL) as pilot:
            await settle(pilot)
            hint = app.screen.query_one("#model-hint")
            assert static_text(hint).startswith("r runs mlp")
            assert hint.region.bottom <= SMALL[1] - 1 and hint.region.height == 1
            machine = app.screen.query_one("#machine")
            assert machine.region.bottom <= hint.region.y

    run(scenario)
