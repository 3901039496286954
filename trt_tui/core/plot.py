"""A batch sweep as pictures: latency and throughput against batch size, one line per row.

``sweep_series`` is the data (used by the PNG here and the app's plot); ``write_plot`` draws it with
matplotlib's Agg backend (no display needed) beside the results as plot.png.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from trt_tui.core.results import parse_dims
from trt_tui.core.vocab import Status

Series = dict[str, list[tuple[int, float, float]]]  # row_id -> [(batch, latency p50 ms, images/s)] by batch


def x_axis(rows: Iterable[dict[str, Any]]) -> str:
    """What the sweep varies: 'batch size', or the dynamic dim ('seq') of a sweep at one batch size."""
    rows = list(rows)
    if len({r.get("batch_size") for r in rows}) <= 1 and any(r.get("dims") for r in rows):
        return next(iter(parse_dims(next(r["dims"] for r in rows if r.get("dims")))))
    return "batch size"


def sweep_series(rows: Iterable[dict[str, Any]]) -> Series:
    """The measured points of each row (status ok, latency and size known), in ascending order of the
    size the sweep varies (batch, or the first dynamic dim of a sweep at one batch size)."""
    rows = list(rows)
    by_dim = x_axis(rows) != "batch size"
    series: Series = {}
    for r in rows:
        lat, ips, bs = r.get("latency_p50_ms"), r.get("images_per_s"), r.get("batch_size")
        if r.get("status") != Status.OK or lat is None or ips is None or bs is None:
            continue
        x = next(iter(parse_dims(r["dims"]).values())) if by_dim and r.get("dims") else int(bs)
        series.setdefault(r["row_id"], []).append((x, float(lat), float(ips)))
    return {rid: sorted(points) for rid, points in series.items()}


def figure(series: Series, title: str = "", xlabel: str = "batch size") -> Any:
    """The matplotlib Figure: p50 latency (ms) and samples/s against batch size, log-log, one line per row."""
    from matplotlib.figure import Figure  # the object API: no pyplot, no display backend

    fig = Figure(figsize=(11, 4.5), layout="constrained")
    lat_ax, ips_ax = fig.subplots(1, 2)
    for rid, points in series.items():
        bs = [p[0] for p in points]
        lat_ax.plot(bs, [p[1] for p in points], marker="o", label=rid)
        ips_ax.plot(bs, [p[2] for p in points], marker="o", label=rid)
    sizes = sorted({p[0] for points in series.values() for p in points})
    for ax, ylabel in ((lat_ax, "p50 latency (ms, incl. copies)"), (ips_ax, "throughput (samples/s)")):
        ax.set_xscale("log", base=2)
        if sizes:  # ticks at the batch sizes measured, written as numbers (not 2^k)
            ax.set_xticks(sizes, [str(s) for s in sizes])
            ax.minorticks_off()
        ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
    if series:
        ips_ax.legend(fontsize="small", loc="best")
    what = "batch sweep" if xlabel == "batch size" else f"{xlabel} sweep"
    fig.suptitle(f"{title} — {what}" if title else what)
    return fig


def write_plot(rows: Iterable[dict[str, Any]], path: str | Path, *, title: str = "") -> Path:
    """Draw the rows' sweep into ``path`` (PNG), through a temporary file and a rename like the results."""
    from trt_tui.core import atomic

    path = Path(path)
    rows = list(rows)
    with atomic.replacing(path) as tmp:
        figure(sweep_series(rows), title, x_axis(rows)).savefig(tmp, format="png", dpi=100)
    return path
