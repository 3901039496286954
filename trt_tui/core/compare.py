"""Two runs side by side: per row and batch size, the change in p50 latency with its 95 % CI and a
verdict, faster / slower / same within noise (``trt-tui compare A B``, ``run --against``, the app).

The change is median(B) / median(A) of the latency samples (bootstrap, core/stats.ratio_ci). B is
*slower* when the whole interval lies above 1 + ``min_change``, *faster* when it lies below
1 - ``min_change``, else the same within noise. ``min_change`` (default 2 %) stands for what the
within-run CI cannot see: two runs of the same engine differ by a little (clocks, temperature, what
else the machine did), like pyperf's ``--min-speed``. A run without samples (older results.json) is
compared on its recorded p50 CIs (B's interval over A's, the widest ratio they allow); without those
only the change is given. A verdict on a row whose timing either run flagged as noisy (its noise_warning)
carries those warnings (``noise``): a host-bound row on a busy CPU can move 6 % between two runs with a
tight CI in each (H100, eager FP16 resnet50 b32, CoV 12-16 % in both), so its verdict may be the machine's.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trt_tui.core import artifacts
from trt_tui.core.results import ResultsStore
from trt_tui.core.vocab import Status

MIN_CHANGE = 0.02
FASTER, SLOWER, SAME, UNKNOWN = "faster", "slower", "same within noise", "no samples"


@dataclass
class RowChange:
    row_id: str
    batch_size: int | None
    a_p50: float
    b_p50: float
    ratio: float  # b / a: above 1 is slower
    low: float | None
    high: float | None
    verdict: str
    noise: dict[str, str] = field(default_factory=dict)  # "A"/"B": that run's noise_warning on this row

    @property
    def change(self) -> float:
        return self.ratio - 1.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "row_id": self.row_id,
            "batch_size": self.batch_size,
            "a_p50_ms": self.a_p50,
            "b_p50_ms": self.b_p50,
            "change": self.change,
            "change_ci_low": None if self.low is None else self.low - 1,
            "change_ci_high": None if self.high is None else self.high - 1,
            "verdict": self.verdict,
            "noise_warnings": self.noise,
        }


def load(path: str | Path) -> ResultsStore:
    """A results folder, or a results.json file (its samples.json.gz beside it when there is one)."""
    path = Path(path)
    if path.is_dir():
        return ResultsStore.load(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    store = ResultsStore(None, meta=data.get("meta"))
    store.env = data.get("env", {})
    for row in data.get("rows", []):
        store.upsert(row)
    store.load_samples(path.parent / artifacts.SAMPLES) if path.name == artifacts.RESULTS_JSON else None
    return store


def verdict(low: float | None, high: float | None, min_change: float) -> str:
    if low is None or high is None:
        return UNKNOWN
    if low > 1 + min_change:
        return SLOWER
    if high < 1 - min_change:
        return FASTER
    return SAME


def interval(a: ResultsStore, ka: str, b: ResultsStore, kb: str) -> tuple[float | None, float | None]:
    """95 % CI of p50(B) / p50(A): bootstrap of the samples, else from the recorded p50 CIs."""
    from trt_tui.core import stats

    sa, sb = a.samples.get(ka, {}).get("latency_ms"), b.samples.get(kb, {}).get("latency_ms")
    if sa and sb and (ci := stats.ratio_ci(sb, sa)) is not None:
        return ci
    ra, rb = a.rows[ka], b.rows[kb]
    lo_a, hi_a, lo_b, hi_b = (
        r.get(c)
        for r, c in (
            (ra, "latency_p50_ci_low_ms"),
            (ra, "latency_p50_ci_high_ms"),
            (rb, "latency_p50_ci_low_ms"),
            (rb, "latency_p50_ci_high_ms"),
        )
    )
    if all(isinstance(v, (int, float)) and v > 0 for v in (lo_a, hi_a, lo_b, hi_b)):
        return float(lo_b) / float(hi_a), float(hi_b) / float(lo_a)  # type: ignore[arg-type]  # numbers: all() above checked (mypy does not narrow through all())
    return None, None


def compare(a: ResultsStore, b: ResultsStore, min_change: float = MIN_CHANGE) -> list[RowChange]:
    """Rows measured ok in both runs, matched by (row_id, batch size), in B's order."""
    index = {(r["row_id"], r.get("batch_size"), r.get("dims") or ""): k for k, r in a.rows.items()}
    out = []
    for kb, rb in b.rows.items():
        ka = index.get((rb["row_id"], rb.get("batch_size"), rb.get("dims") or ""))
        if ka is None:
            continue
        ra = a.rows[ka]
        pa, pb = ra.get("latency_p50_ms"), rb.get("latency_p50_ms")
        if ra.get("status") != Status.OK or rb.get("status") != Status.OK or not pa or not pb:
            continue
        low, high = interval(a, ka, b, kb)
        noise = {side: str(r["noise_warning"]) for side, r in (("A", ra), ("B", rb)) if r.get("noise_warning")}
        out.append(
            RowChange(
                rb["row_id"], rb.get("batch_size"), pa, pb, pb / pa, low, high, verdict(low, high, min_change), noise
            )
        )
    return out


def noise_note(c: RowChange, name: Callable[[str], str] = str) -> str:
    """'pytorch-fp16 b32: unstable timing in A and B: the verdict may be the machine's, not the change's'
    (the first cause of the first run's noise warning; '' when neither run flagged the row); ``name``: how
    the row is named (the app: its short title)."""
    if not c.noise:
        return ""
    cause = next(iter(c.noise.values())).split(":")[0].split(" (")[0]  # 'unstable timing', 'CPU busy', ...
    size = f" b{c.batch_size}" if c.batch_size else ""
    return f"{name(c.row_id)}{size}: {cause} in {' and '.join(c.noise)}: the verdict may be the machine's, not the change's"


def regressed(changes: list[RowChange]) -> list[RowChange]:
    return [c for c in changes if c.verdict == SLOWER]


def fmt_change(c: RowChange) -> str:
    """'+3.2% (+2.9–+3.6%)' ('−' for faster)."""

    def pct(v: float) -> str:
        return f"{v * 100:+.1f}%".replace("-", "−")

    ci = f" ({pct(c.low - 1)}…{pct(c.high - 1)})" if c.low is not None and c.high is not None else ""
    return pct(c.change) + ci
