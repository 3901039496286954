"""The quantizers' scratch folder: removed on every path, and what a SIGKILL leaves is cleared by the
next run in the same results folder (nothing is left in the system's temp folder)."""

from __future__ import annotations

import os
import tempfile

import pytest

from trt_tui.core.results import remove_stale_temps
from trt_tui.core.scratch import scratch_dir


def test_scratch_in_a_results_folder_is_hidden_redirects_tempfile_and_goes_on_error(tmp_path):
    before = set(os.listdir(tempfile.gettempdir()))
    with pytest.raises(RuntimeError):
        with scratch_dir("trt-tui-quant-", parent=tmp_path) as tmp:
            assert tmp.parent == tmp_path and tmp.name.startswith(".trt-tui-quant-") and tmp.name.endswith(".scratch")
            assert tempfile.gettempdir() == str(tmp) and os.environ["TMPDIR"] == str(tmp)
            (tmp / "pre.quant.x").write_text("library litter")
            raise RuntimeError("quantizer failed")
    assert list(tmp_path.iterdir()) == []
    assert set(os.listdir(tempfile.gettempdir())) == before


def test_a_scratch_folder_left_by_a_killed_run_is_removed_by_the_next_run(tmp_path):
    left = tmp_path / ".trt-tui-quant-abc123.scratch"
    left.mkdir()
    (left / "model_opset19.onnx").write_bytes(b"x" * 10)
    kept = tmp_path / "model.onnx"
    kept.write_bytes(b"onnx")
    removed = remove_stale_temps(tmp_path)
    assert left in removed and not left.exists() and kept.exists()
