"""The inputs rows are measured on, the same for every row at one point (batch size, dim sizes): the
timing feeds and the eval set of the accuracy columns. Pure functions of the model's inputs and the
seed, so a stage that needs them (export's parity check, the per-layer view, the benchmark) makes them
itself and gets the same arrays."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from trt_tui.core.inputs import Feeds, ModelInputs, feed_rows, tile_feeds


def timing_feeds(inputs: ModelInputs, batch: int, seed: int, dims: Mapping[str, int]) -> Feeds:
    """The benchmark input: each input drawn by its generator (core/inputs.py) with a fixed seed."""
    return inputs.feeds(batch, seed, dims)


def eval_set(
    model: Any, inputs: ModelInputs, batch: int, samples: int, seed: int, dims: Mapping[str, int]
) -> tuple[Feeds, np.ndarray | None]:
    """Inputs (a whole number of batches) for the accuracy columns, and labels where the model has
    them (its ``data``: the digits model's held-out split); else ``samples`` drawn with ``seed + 1``."""
    data = getattr(model, "data", None)
    if data is not None:
        x: Feeds = {inputs.names[0]: np.asarray(data.x_test, np.float32)}
        y = np.asarray(data.y_test)
    else:
        x, y = inputs.feeds(samples, seed + 1, dims), None
    n = feed_rows(x)
    keep = batch if n < batch else (n // batch) * batch  # tile up to one batch, else whole batches
    x = tile_feeds(x, keep)
    if y is not None:
        y = np.concatenate([y] * -(-keep // n))[:keep]
    return x, y
