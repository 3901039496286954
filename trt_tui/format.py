"""What both front ends print: number formats and the results-table columns (plain functions, no
widgets, no textual/rich), so the CLI table and the app's DataTable show the same statistic under the
same label."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

STATUS_ICONS = {
    "pending": "·",
    "running": "▶",
    "ok": "✔",
    "skipped": "–",
    "failed": "✘",
    "cancelled": "■",
    "crashed": "✘",
}


def is_num(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def fmt_ms(value: Any) -> str:
    """Milliseconds in at most 6 characters: 0.0434, 23.970, 412.5, 1520."""
    if not is_num(value):
        return ""
    if value >= 1000:
        return f"{value:.0f}"
    if value >= 100:
        return f"{value:.1f}"
    if value >= 10:
        return f"{value:.2f}"
    if value >= 1:
        return f"{value:.3f}"
    return f"{value:.4f}"


def fmt_seconds(value: Any) -> str:
    if not is_num(value):
        return ""
    if value < 0.0995:
        return f"{value * 1000:.0f} ms" if value >= 0.0005 else "<1 ms"
    if value < 60:
        return f"{value:.1f} s"
    minutes, seconds = divmod(int(round(value)), 60)
    return f"{minutes}m{seconds:02d}s"


def fmt_bytes(value: Any) -> str:
    if not is_num(value):
        return ""
    size = float(value)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            if unit == "B" or size >= 100:
                return f"{size:.0f} {unit}"
            return f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


def fmt_count(value: Any) -> str:
    if not is_num(value):
        return ""
    value = float(value)
    if value >= 1e9:
        return f"{value / 1e9:.2f} G"
    if value >= 1e6:
        return f"{value / 1e6:.2f} M"
    if value >= 1e4:
        return f"{value / 1e3:.1f} k"
    return f"{value:.0f}"


def fmt_rate(value: Any) -> str:
    if not is_num(value):
        return ""
    if value >= 1e6:
        return f"{value / 1e6:.2f}M"
    if value >= 1e3:
        return f"{value:,.0f}"
    return f"{value:.1f}"


def fmt_speedup(value: Any) -> str:
    if not is_num(value):
        return ""
    return f"{value:.2f}×" if value >= 0.095 else f"{value:.3f}×"


def fmt_err(value: Any) -> str:
    if not is_num(value):
        return ""
    if value == 0:
        return "0"
    return f"{value:.1e}"


def fmt_frac(value: Any) -> str:
    """A fraction as a percentage: 0.9961 -> '99.6%'."""
    return f"{value * 100:.1f}%" if is_num(value) else ""


def status_text(status: str) -> str:
    return f"{STATUS_ICONS.get(status, '?')} {status}"


def ellipsize(text: str, width: int) -> str:
    """``text`` cut to ``width`` cells with an ellipsis (the full text lives elsewhere)."""
    if width <= 1 or len(text) <= width:
        return text if width > 1 else text[:1]
    return text[: width - 1] + "…"


def fmt_elapsed(value: Any) -> str:
    """A live elapsed time, whole seconds: '0 s', '42 s', '3m05s'."""
    if not is_num(value):
        return ""
    if value < 60:
        return f"{value:.0f} s"
    minutes, seconds = divmod(int(value), 60)
    return f"{minutes}m{seconds:02d}s"


@dataclass(frozen=True)
class Column:
    key: str  # the results.COLUMNS field it shows
    title: str  # the header, the same in the CLI and the app
    width: int  # cells in the app's table (numbers right-aligned, no padding)
    fmt: Callable[[Any], str]
    in_app: bool = True  # the app's table has room for it (the CLI shows every column)


# The results table, in order: latencies in ms (trtexec's statistics), GPU compute time (CUDA events,
# the launch hidden), throughput, speedups, size, accuracy against PyTorch FP32.
TABLE_COLUMNS: tuple[Column, ...] = (
    Column("latency_mean_ms", "mean", 7, fmt_ms),
    Column("latency_p50_ms", "p50", 7, fmt_ms),
    Column("latency_p99_ms", "p99", 7, fmt_ms),
    Column("gpu_compute_p50_ms", "GPU", 7, fmt_ms),  # the median, as trtexec reports GPU Compute Time
    Column("throughput_per_s", "thru/s", 7, fmt_rate),
    Column("speedup_vs_pytorch", "speedup", 8, fmt_speedup),
    Column("speedup_vs_best_pytorch", "vs best PT", 10, fmt_speedup, in_app=False),
    Column("size_bytes", "size", 8, fmt_bytes),
    Column("max_abs_err", "max|Δ|", 8, fmt_err),
    Column("top1_agreement", "top-1", 7, fmt_frac),
    Column("label_accuracy", "acc", 7, fmt_frac),
)
APP_COLUMNS: tuple[Column, ...] = tuple(c for c in TABLE_COLUMNS if c.in_app)
