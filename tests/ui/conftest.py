"""Fixtures for the UI tests: apps driven by recorded event streams, in a scratch folder."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def scratch_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every UI test runs in its own folder: the replayed runs' relative results folders land there."""
    monkeypatch.chdir(tmp_path)
    return tmp_path
