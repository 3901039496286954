"""Shared fixtures: one trained digits-cnn per test session, in a temporary cache folder."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("trt-tui-cache")


@pytest.fixture(scope="session")
def digits(model_cache):
    from trt_tui.core.models import load_model

    return load_model("digits-cnn", cache_dir=model_cache)
