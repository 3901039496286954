"""What both front ends print: number formats and the results-table columns (plain functions, no
widgets, no textual/rich), so the CLI table and the app's DataTable show the same statistic under the
same label."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeGuard

from trt_tui.core import rows
from trt_tui.core.results import SPEEDUP_CI, contains_one
from trt_tui.core.vocab import Status


@dataclass(frozen=True)
class StatusLook:
    """How a status shows in both front ends."""

    icon: str  # before the status everywhere
    short: str  # the benchmark table's status column (a few cells)
    word: str  # the benchmark screen's list of rows that did not end ok
    style: str  # the Rich style of the status cell ('' = the default)


# The one display table of core.vocab.Status.
STATUS_LOOK: dict[str, StatusLook] = {
    Status.PENDING: StatusLook("·", "wait", "not run", "dim"),
    Status.RUNNING: StatusLook("▶", "running", "running", "bold yellow"),
    Status.BUILT: StatusLook("?", "built", "built", "cyan"),  # only with --stages lacking benchmark
    Status.OK: StatusLook("✔", "ok", "ok", "green"),
    Status.SKIPPED: StatusLook("–", "skip", "skipped", "dim"),
    Status.FAILED: StatusLook("✘", "fail", "failed", "bold red"),
    Status.CANCELLED: StatusLook("■", "stop", "cancelled", "yellow"),
    Status.CRASHED: StatusLook("✘", "crash", "crashed", "bold red"),
}


def status_look(status: str) -> StatusLook:
    """The look of ``status``; a word this version does not know (a newer child's) shows as itself."""
    return STATUS_LOOK.get(status) or StatusLook("?", status, status, "")


# The one table of step titles: the export stage's steps and the quantize stage's tasks (a TensorRT
# row's build step is titled by the row: ``step_title``).
STEP_TITLES: dict[str, str] = {
    "export": "torch.onnx.export",
    "checker": "onnx.checker",
    "parity": "onnxruntime parity",
    "int8-qdq": "INT8 Q/DQ ONNX",
    "fp16-convert": "FP16 ONNX",
}


def step_title(step: str, *, row_titles: bool = False) -> str:
    """A step's title; with ``row_titles`` a row id's (a build step) is the row's; else the name itself."""
    if row_titles and step in rows.BY_ID:
        return rows.title(step)
    return STEP_TITLES.get(step, step)


def is_num(value: Any) -> TypeGuard[float]:
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
    minutes, seconds = divmod(int(round(value)), 60)  # noqa: RUF046 - round() of a numpy float is a numpy float
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
    return f"{status_look(status).icon} {status}"


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


def fmt_speedup_ci(row: dict[str, Any], key: str, wide: bool) -> str:
    """A speedup with its 95 % CI where there is room, '1.42× (1.38–1.46)'; '≈' marks one whose
    interval contains 1.0 (no difference the data can tell from noise)."""
    value = row.get(key)
    text = fmt_speedup(value)
    lo, hi = (row.get(c) for c in SPEEDUP_CI[key])
    if not text:
        return ""
    if contains_one(lo, hi):
        text = "≈" + text
    if wide and isinstance(lo, (int, float)) and isinstance(hi, (int, float)) and is_num(lo) and is_num(hi):
        text += f" ({lo:.2f}–{hi:.2f})" if min(lo, hi) >= 0.095 else f" ({lo:.3f}–{hi:.3f})"
    return text


def fmt_p50_ci(row: dict[str, Any]) -> str:
    """The p50's 95 % CI as ± its half-width relative to the p50: '±0.4%'."""
    lo, hi, p50 = row.get("latency_p50_ci_low_ms"), row.get("latency_p50_ci_high_ms"), row.get("latency_p50_ms")
    if not (is_num(lo) and is_num(hi) and is_num(p50)) or float(p50) <= 0:
        return ""
    return f"±{(float(hi) - float(lo)) / 2 / float(p50):.1%}"


ACCURACY_KEYS = ("max_abs_err", "mean_abs_err", "max_rel_err", "cosine_sim", "top1_agreement")


@dataclass(frozen=True)
class Column:
    key: str  # the results.COLUMNS field it shows
    title: str  # the header, the same in the CLI and the app
    width: int  # cells in the app's table (numbers right-aligned, no padding)
    fmt: Callable[[Any], str]
    in_app: bool = True  # the app's table has room for it (the CLI shows every column)
    row_fmt: Callable[[dict[str, Any], bool], str] | None = None  # (row, wide) -> text, when one value is not enough

    def cell(self, row: dict[str, Any], wide: bool = False) -> str:
        """The cell's text for ``row``: 'n/a' in an accuracy column of a vacuous comparison; ``wide``
        (the CLI) adds a speedup's interval."""
        if self.key in ACCURACY_KEYS and row.get("accuracy_na"):
            return "n/a"
        return self.row_fmt(row, wide) if self.row_fmt else self.fmt(row.get(self.key))


# The results table, in order: latencies in ms (trtexec's statistics), GPU compute time (CUDA events,
# the launch hidden), throughput, speedups, size, accuracy against PyTorch FP32.
TABLE_COLUMNS: tuple[Column, ...] = (
    Column("latency_mean_ms", "mean", 7, fmt_ms),
    Column("latency_p50_ms", "p50", 7, fmt_ms),
    Column("latency_p99_ms", "p99", 7, fmt_ms),
    Column("gpu_compute_p50_ms", "GPU", 7, fmt_ms),  # the median, as trtexec reports GPU Compute Time
    Column("throughput_per_s", "thru/s", 7, fmt_rate),
    Column("latency_p50_ci", "p50 ±", 7, fmt_ms, in_app=False, row_fmt=lambda r, wide: fmt_p50_ci(r)),
    Column(
        "speedup_vs_pytorch",
        "speedup",
        8,
        fmt_speedup,
        row_fmt=lambda r, wide: fmt_speedup_ci(r, "speedup_vs_pytorch", wide),
    ),
    Column(
        "speedup_vs_best_pytorch",
        "vs best PT",
        10,
        fmt_speedup,
        in_app=False,
        row_fmt=lambda r, wide: fmt_speedup_ci(r, "speedup_vs_best_pytorch", wide),
    ),
    Column("size_bytes", "size", 8, fmt_bytes),
    Column("max_abs_err", "max|Δ|", 8, fmt_err),
    Column("top1_agreement", "top-1", 7, fmt_frac),
    Column("label_accuracy", "acc", 7, fmt_frac),
)
APP_COLUMNS: tuple[Column, ...] = tuple(c for c in TABLE_COLUMNS if c.in_app)


def row_warnings(row: dict[str, Any]) -> list[str]:
    """What makes a row's figures doubtful, one line each: its outputs (NaN/Inf, a vacuous accuracy
    comparison) and its timing (noise_warning)."""
    out = []
    if row.get("accuracy_na"):
        out.append(f"accuracy n/a: {row['accuracy_na']}")
    elif row.get("output_warning"):
        out.append(str(row["output_warning"]))
    if row.get("noise_warning"):
        out.append(str(row["noise_warning"]))
    return out


def output_banner(rows: Any) -> list[str]:
    """The output warnings that concern the whole table (the reference's NaN/Inf or zeros), once each,
    and a count of rows whose own outputs hold NaN/Inf: shown above the table."""
    lines: dict[str, None] = {}
    own = 0
    for r in rows:
        if r.get("accuracy_na"):
            lines[f"⚠ accuracy n/a: {r['accuracy_na']}"] = None
        elif r.get("output_warning"):
            own += 1
    if own:
        lines[f"⚠ {own} row{'s' if own > 1 else ''} output NaN/Inf where the reference has none"] = None
    return list(lines)


def _arrow(before: Any, after: Any, unit: str, fmt: str = "{}") -> str:
    if not is_num(before):
        return ""
    if is_num(after) and after != before:
        return f"{fmt.format(before)}→{fmt.format(after)}{unit}"
    return f"{fmt.format(before)}{unit}"


def gpu_words(before: dict[str, Any], after: dict[str, Any]) -> str:
    """'SM 1980/1980 MHz, mem 3201/3201 MHz, 34→41 °C, 700 W cap, persistence on, no other GPU process'."""
    if "nvml" in before:
        return f"GPU state not read: {before['nvml']}"
    bits = []
    for name, key in (("SM", "sm"), ("mem", "mem")):
        if is_num(before.get(f"{key}_mhz")) and is_num(before.get(f"{key}_max_mhz")):
            bits.append(f"{name} {before[f'{key}_mhz']}/{before[f'{key}_max_mhz']} MHz")
    if temp := _arrow(before.get("temp_c"), after.get("temp_c"), " °C"):
        bits.append(temp)
    if is_num(before.get("power_limit_w")):
        bits.append(f"{before['power_limit_w']:.0f} W cap")
    if before.get("persistence"):
        bits.append(f"persistence {before['persistence']}")
    procs = {p.get("pid") for r in (before, after) for p in (r.get("processes") or [])}
    if before.get("processes") is not None:
        bits.append(
            f"{len(procs)} other GPU process{'es' if len(procs) != 1 else ''}" if procs else "no other GPU process"
        )
    return ", ".join(bits)


def machine_words(env: dict[str, Any]) -> str:
    """The machine's state before (→ after) the run, for the environment line: GPU clocks, temperature,
    power cap, persistence, other GPU processes; CPU model, governor, load average. '' when not recorded."""
    before, after = env.get("machine_before") or {}, env.get("machine_after") or {}
    if not before:
        return ""
    bits = []
    if isinstance(before.get("gpu"), dict):
        bits.append(gpu_words(before["gpu"], after.get("gpu") or {}))
    cpu = str(before.get("cpu_model") or "CPU")
    if before.get("cpu_governor"):
        cpu += f" ({before['cpu_governor']})"
    load_b, load_a = (before.get("loadavg") or [None])[0], (after.get("loadavg") or [None])[0]
    if load := _arrow(load_b, load_a, f" of {before.get('cpu_count')} cores", "{:.2f}"):
        cpu += f", load {load}"
    bits.append(cpu)
    return "; ".join(b for b in bits if b)
