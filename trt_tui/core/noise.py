"""Whether a row's timing can be trusted: one line naming each disturbance and what to do ('' when stable).

Thresholds and where they come from:
- GPU compute CoV (population std / mean) > 2.5 %: trtexec's "GPU compute time is unstable" warning
  (``kUNSTABLE_PERF_REPORTING_THRESHOLD``, 2.5 % since TensorRT 10.14, 1 % before).
- Host latency: CoV >= 10 % (pyperf: "the standard deviation is N% of the mean" from 10 %) or
  IQR / median >= 10 % (torch.utils.benchmark: "could indicate system fluctuation" from 0.10).
  Host latency includes Python and the copies, so trtexec's GPU threshold would flag every eager row.
- p99 / p50 >= 1.5: pyperf warns when the max is 50 % away from the mean; the p99 is a milder
  statistic than the max, so this fires only when over 1 % of iterations were disturbed by half a median.
- mean / median >= 1.10: the same 10 % as the spread rules; a mean pulled that far from the median
  says a minority of slow iterations dominate the throughput (which comes from the mean).
- Too few iterations: the p50's 95 % CI half-width above ``--ci-target`` (needs n >= 6 at all).
- CPU busy: other processes kept >= max(0.5, cores / 4) cores busy during the row (machine.RowWatch).
  Half a core is more than a daemon's background work; the benchmark thread needs a core of its own
  (PyTorch on the CPU uses all of them); on a large box a quarter of the cores is where shared memory
  bandwidth and turbo budget start to move a median (a judgement, not a measured anchor).
- GPU: a power/thermal/slowdown clock-event reason in a reading taken right after a timed loop; the SM
  clock under load below 90 % of its maximum; other compute processes; the temperature rising >= 5 °C
  through the row (TensorRT's docs: check ``nvidia-smi -q`` before and ``dmon`` during a run) **while the
  timing moved** (a spread rule fired, or the last quarter's median is >= 1 % — the default --ci-target —
  from the first quarter's): on an idle H100, rows rose 5-12 °C with clocks at their maximum and drifts of
  0.00-0.15 % (scripts/h200_proof.sh C, 2026-12-07); a rise alone changed no number there.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Union

import numpy as np

from trt_tui.core import machine, stats

Samples = Union[Sequence[float], np.ndarray]  # noqa: UP007 - a runtime alias
GPU_COV_MAX = 0.025
LAT_COV_MAX = 0.10
IQR_REL_MAX = 0.10
TAIL_MAX = 1.5
MEAN_REL_MAX = 1.10
CLOCK_FRACTION_MIN = 0.90
TEMP_RISE_MAX_C = 5
DRIFT_MIN = 0.01  # first quarter's median -> last quarter's: the row's timing moved


def cpu_busy_threshold(cpu_count: int) -> float:
    return max(0.5, cpu_count / 4)


def timing_problems(lat_ms: Samples, gpu_ms: Samples | None) -> list[str]:
    """The spread statistics beyond their thresholds, in a few words each."""
    bad = []
    s = stats.spread(lat_ms)
    if s and len(lat_ms) >= 10:
        if s["cov"] >= LAT_COV_MAX:
            bad.append(f"latency CoV {s['cov']:.0%}")
        if s["iqr_rel"] >= IQR_REL_MAX:
            bad.append(f"IQR {s['iqr_rel']:.0%} of p50")
        if s["tail"] >= TAIL_MAX:
            bad.append(f"p99 {s['tail']:.1f}× p50")
        if s["mean_rel"] >= MEAN_REL_MAX:
            bad.append(f"mean {s['mean_rel']:.2f}× median")
    if gpu_ms is not None and len(gpu_ms) >= 10:
        g = stats.spread(gpu_ms)
        if g["cov"] > GPU_COV_MAX:
            bad.append(f"GPU compute CoV {g['cov']:.1%} (trtexec: > 2.5 %)")
    return bad


def iterations_problem(lat_ms: Samples, ci_target: float | None, stopped_by: str) -> str:
    n = len(lat_ms)
    if n < 6:
        return f"too few iterations ({n}) for a 95 % CI of the p50 (6 at least): more --iterations"
    if not ci_target:
        return ""
    hw = stats.relative_halfwidth(lat_ms)
    if hw <= ci_target:
        return ""
    if stopped_by == "time":
        return (
            f"--max-seconds ended the loop at p50 ±{hw:.1%}, short of --ci-target ±{ci_target:.1%}: "
            "a longer --max-seconds"
        )
    return (
        f"p50 only ±{hw:.1%} at {n} iterations (--ci-target ±{ci_target:.1%}): more --iterations, or --iterations auto"
    )


def cpu_problem(readings: dict[str, Any]) -> str:
    others, cores = readings.get("other_cpu_cores"), int(readings.get("cpu_count") or 1)
    if others is None or others < cpu_busy_threshold(cores):
        return ""
    return (
        f"CPU busy: other processes kept {others:.1f} of {cores} cores busy during the row: stop them "
        "(top shows which) or measure on an idle machine"
    )


def process_words(p: dict[str, Any]) -> str:
    mib = f", {p['mib']} MiB" if p.get("mib") else ""
    return f"{p.get('name', '?')} (pid {p.get('pid')}{mib})"


def drift(samples: Samples | None) -> float:
    """Relative change from the median of the first quarter of ``samples`` to that of the last (0: < 20)."""
    x = np.asarray(samples if samples is not None else [], dtype=float)
    if len(x) < 20:
        return 0.0
    q = len(x) // 4
    first = float(np.median(x[:q]))
    return abs(float(np.median(x[-q:])) - first) / first if first > 0 else 0.0


def gpu_problems(readings: dict[str, Any], timing_moved: bool = True) -> list[str]:
    """Throttling, low clocks under load, other GPU processes, a rising temperature (named only when
    ``timing_moved``: a rise that changed no number is no reason to distrust one)."""
    gpu = [r for r in readings.get("gpu") or [] if "nvml" not in r]
    if not gpu:
        return []
    bad = []
    loaded = gpu[1:-1] or gpu[-1:]  # the readings right after the timed loops
    bits = 0
    for r in loaded:
        bits |= int(r.get("reasons") or 0)
    slow = [name for bit, name in machine.SLOWDOWN_BITS.items() if bits & bit]
    if slow:
        bad.append(
            f"GPU throttled ({', '.join(slow)}) during the row: check cooling and the power limit "
            "(nvidia-smi -q -d PERFORMANCE), or lock the clocks below it (nvidia-smi -lgc, root)"
        )
    busy = [
        r
        for r in loaded
        if not int(r.get("reasons") or 0) & machine.GPU_IDLE_BIT and r.get("sm_mhz") and r.get("sm_max_mhz")
    ]
    if not slow and busy and min(r["sm_mhz"] / r["sm_max_mhz"] for r in busy) < CLOCK_FRACTION_MIN:
        low = min(busy, key=lambda r: r["sm_mhz"] / r["sm_max_mhz"])
        bad.append(
            f"GPU SM clock {low['sm_mhz']}/{low['sm_max_mhz']} MHz under load: lock the clocks "
            "(nvidia-smi -lgc, root) so runs compare"
        )
    others = {p["pid"]: p for r in gpu for p in (r.get("processes") or [])}
    if others:
        names = ", ".join(process_words(p) for p in list(others.values())[:3])
        bad.append(
            f"{len(others)} other process{'es' if len(others) > 1 else ''} on the GPU: {names}: close "
            f"{'them' if len(others) > 1 else 'it'}"
        )
    temps = [r["temp_c"] for r in gpu if r.get("temp_c") is not None]
    if timing_moved and len(temps) >= 2 and temps[-1] - temps[0] >= TEMP_RISE_MAX_C:
        bad.append(f"GPU temperature rose {temps[0]}→{temps[-1]} °C during the row: a longer --warmup lets it settle")
    return bad


def noise_warning(
    lat_ms: Samples,
    gpu_ms: Samples | None,
    readings: dict[str, Any] | None = None,
    *,
    ci_target: float | None = None,
    stopped_by: str = "count",
    device: str = "cpu",
) -> str:
    """The one line for a row: each disturbance with its cause and what to do; '' when stable."""
    readings = readings or {}
    spread = timing_problems(lat_ms, gpu_ms)
    moved = bool(spread) or max(drift(lat_ms), drift(gpu_ms)) >= DRIFT_MIN
    causes = [c for c in (cpu_problem(readings),) if c] + gpu_problems(readings, moved)
    parts = []
    if spread:
        fix = (
            "see the causes named"
            if causes
            else "rerun on an idle machine; lock the GPU clocks (nvidia-smi -lgc, root) as trtexec advises"
            if device == "cuda"
            else "rerun on an idle machine (pin it with taskset)"
        )
        parts.append(f"unstable timing ({', '.join(spread)}): {fix}")
    parts += causes
    if few := iterations_problem(lat_ms, ci_target, stopped_by):
        parts.append(few)
    return "; ".join(parts)
