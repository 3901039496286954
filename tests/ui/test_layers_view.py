"""The per-layer view in the app: the row-detail line and the full list, from a real layers.json
(digits-cnn INT8/FP16 by `trt-tui run --explain-accuracy`, recorded in benchmarks/cpu-layers/)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from textual.app import App
from textual.widgets import DataTable

from trt_tui.core import layers
from trt_tui.screens.layers import LayersScreen, detail_line, load_cached

from .helpers import run

RECORDED = Path(__file__).resolve().parents[2] / "benchmarks" / "cpu-layers" / "digits-cnn-b32-layers.json"


def _folder(tmp_path: Path) -> Path:
    shutil.copy(RECORDED, tmp_path / layers.FILE)
    return tmp_path


def test_detail_line_names_where_int8_loses_only_on_its_rows(tmp_path):
    data = load_cached(_folder(tmp_path))
    entry = data["variants"]["int8"]
    top = layers.by_node(entry)[entry["top_growth"][0]]
    for row in ("onnxruntime-int8", "tensorrt-int8"):
        line = detail_line(data, row)
        assert "INT8" in line and top["node"] in line and "a: all layers" in line
    assert "FP16" in detail_line(data, "tensorrt-fp16")
    assert detail_line(data, "pytorch-fp32") == "" and detail_line(data, "onnxruntime-fp32") == ""
    assert detail_line(None, "tensorrt-int8") == "" and load_cached(tmp_path / "none") is None


def test_detail_line_says_why_a_variant_is_missing_and_shows_overflow_first(tmp_path):
    data = json.loads(RECORDED.read_text())
    data["variants"]["fp16"] = {"rows": ["tensorrt-fp16"], "status": "skipped", "reason": "no model_fp16.onnx to compare"}
    entry = data["variants"]["int8"]
    first = entry["nodes"][0]
    entry["overflow"] = [{"node": first["node"], "module": "big", "module_class": "Linear",
                          "problem": "overflow: 3 inf, 0 NaN where FP32 is finite"}]
    assert "no model_fp16.onnx" in detail_line(data, "tensorrt-fp16")
    line = detail_line(data, "tensorrt-int8")
    assert line.index("overflow") < line.index("most added")
    narrow = detail_line(data, "tensorrt-int8", width=40)
    assert narrow.count("\n") >= 2 and "most added" in narrow  # packed, each piece whole on its line


def test_full_list_puts_the_largest_growth_first(tmp_path):
    data = load_cached(_folder(tmp_path))
    entry = data["variants"]["int8"]

    class Host(App):
        def on_mount(self) -> None:
            self.push_screen(LayersScreen("int8", entry))

    async def scenario():
        app = Host()
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            table = app.screen.query_one("#layers-table", DataTable)
            compared = [n for n in entry["nodes"] if "growth" in n]
            assert table.row_count == len(compared)
            first = [str(c) for c in table.get_row_at(0)]
            assert first[0].startswith(entry["top_growth"][0]) and first[2].startswith("+")
            await pilot.press("escape")
            await pilot.pause()
            assert not isinstance(app.screen, LayersScreen)

    run(scenario)
