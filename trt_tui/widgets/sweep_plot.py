"""A batch sweep in the terminal: one metric (p50 latency or samples/s) against batch size, one line per row."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from textual_plotext import PlotextPlot

from trt_tui.core.plot import Series, sweep_series

METRICS = {"latency": (1, "p50 latency, ms (log)"), "throughput": (2, "samples/s (log)")}


class SweepPlot(PlotextPlot):
    """Draws ``sweep_series(rows)``; ``lines`` keeps what was drawn (label -> (batches, values))."""

    def __init__(self, metric: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.metric = metric
        self.lines: dict[str, tuple[list[int], list[float]]] = {}

    def show(self, rows: Iterable[dict[str, Any]], names: dict[str, str] | None = None) -> None:
        col, title = METRICS[self.metric]
        series: Series = {rid: [p for p in pts if p[col] > 0] for rid, pts in sweep_series(rows).items()}
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        self.lines = {}
        for rid, points in series.items():
            label = (names or {}).get(rid, rid)
            xs, ys = [p[0] for p in points], [p[col] for p in points]
            self.lines[label] = (xs, ys)
            # log-log drawn by hand (plotext's own log scale trips on its axis limits): log2 keeps
            # batch 1, 8, 32 evenly apart, log10 of the values with ticks at the decades
            plt.plot([math.log2(x) for x in xs], [math.log10(y) for y in ys if y > 0], label=label, marker="braille")
        if series:
            batches = sorted({x for xs, _ in self.lines.values() for x in xs})
            plt.xticks([math.log2(b) for b in batches], [str(b) for b in batches])
            values = [y for _, ys in self.lines.values() for y in ys if y > 0]
            lo, hi = math.floor(math.log10(min(values))), math.ceil(math.log10(max(values)))
            plt.yticks(list(range(lo, hi + 1)), [f"{10.0**k:g}" for k in range(lo, hi + 1)])
        plt.title(title)
        plt.xlabel("batch size")
        self.refresh()
