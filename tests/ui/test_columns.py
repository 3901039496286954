"""One column spec (trt_tui/format.py) for the CLI table and the app's DataTable: the same statistic
under the same title in both, cells formatted by the same function."""

from __future__ import annotations

from textual.widgets import DataTable

from trt_tui.cli import results_table
from trt_tui.core.results import ResultsStore
from trt_tui.format import APP_COLUMNS, TABLE_COLUMNS
from trt_tui.screenshots import make_app, run_all_and_wait

from .helpers import SYNTHETIC_BUILD, run


def test_cli_and_app_show_the_same_columns_under_the_same_titles():
    gpu = [c for c in TABLE_COLUMNS if c.title == "GPU"]
    assert [c.key for c in gpu] == ["gpu_compute_p50_ms"]  # the median GPU compute time, in both

    store = ResultsStore(None)
    store.upsert({"row_id": "tensorrt-fp16", "status": "ok", "gpu_compute_p50_ms": 0.006, "gpu_compute_mean_ms": 0.5})
    cli = results_table(store)
    cli_titles = {str(c.header): c for c in cli.columns}
    assert [str(c.header) for c in cli.columns][3:] == [c.title for c in TABLE_COLUMNS]
    assert list(cli_titles["GPU"].cells) == ["0.0060"]  # p50, not the mean

    async def scenario() -> None:
        app = make_app(SYNTHETIC_BUILD)
        async with app.run_test(size=(100, 30)) as pilot:
            await run_all_and_wait(pilot)
            table = app.screen.query_one("#bench", DataTable)
            shown = [(c.key.value, str(c.label).strip()) for c in table.columns.values()][2:]
            assert shown == [(c.key, c.title) for c in APP_COLUMNS]
            row = app.state.store.rows["tensorrt-fp16"]
            cell = table.get_cell("tensorrt-fp16", "gpu_compute_p50_ms")
            assert str(cell) == next(c for c in APP_COLUMNS if c.title == "GPU").fmt(row["gpu_compute_p50_ms"])

    run(scenario)
