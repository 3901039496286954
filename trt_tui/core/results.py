"""The results model: rows keyed by ``row_id``, the source of truth for tables and exports.

A batch sweep holds one row per (row_id, batch_size): the rows of the first batch size a store sees
(its ``base_batch``, the run's main batch) keep ``row_id`` as their key, the others are keyed
``row_id@b<size>`` (``row_key``). A single-batch run therefore has exactly the keys and files it had
before sweeps existed; the files are long form (``row_id`` and ``batch_size`` columns) either way.

Rows are written to ``results.json`` and ``results.csv`` every time one changes, each through a
temporary file and an atomic rename, so an interrupted run leaves valid files of the rows so far.
Column names are stable and documented in README.md ("Result columns").
"""

from __future__ import annotations

import csv
import io
import json
import math
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from trt_tui.core import artifacts, atomic
from trt_tui.core.rows import BASELINE_ID, is_pytorch
from trt_tui.core.vocab import Status

SCHEMA_VERSION = 1

# The stable column set, in CSV order.
COLUMNS: tuple[str, ...] = (
    "row_id",  # e.g. pytorch-fp32, tensorrt-int8, onnxruntime-int8
    "backend",  # pytorch | tensorrt | onnxruntime
    "precision",  # fp32 | fp16 | int8
    "device",  # 'cuda:0 (NVIDIA H200)' or 'cpu'
    "batch_size",
    "dims",  # a sweep over dynamic dims: the sizes of this row, e.g. 'seq=128' (empty otherwise)
    "status",  # pending | running | built (plan made, not measured yet) | ok | skipped | failed | cancelled
    "reason",  # why skipped/failed (one line)
    "latency_mean_ms",  # end-to-end host latency incl. H2D/D2H (trtexec "Latency")
    "latency_p50_ms",
    "latency_p90_ms",
    "latency_p99_ms",
    "latency_min_ms",
    "latency_max_ms",
    "gpu_compute_mean_ms",  # CUDA-event time of the compute alone (trtexec "GPU Compute Time")
    "gpu_compute_p50_ms",
    "gpu_compute_p99_ms",
    "enqueue_p50_ms",  # CPU time of launching one compute (trtexec "Enqueue Time")
    "throughput_per_s",  # inferences (batches) per second of wall time
    "images_per_s",  # throughput_per_s * batch_size
    "speedup_vs_pytorch",  # pytorch-fp32 latency_p50_ms / this row's latency_p50_ms
    "speedup_vs_best_pytorch",  # the fastest ok pytorch-* row's latency_p50_ms / this row's (same batch size)
    "size_bytes",  # engine plan / ONNX file / PyTorch parameter bytes
    "build_time_s",
    "max_abs_err",  # vs PyTorch FP32 output on the same inputs, worst output
    "mean_abs_err",
    "max_rel_err",
    "cosine_sim",
    "top1_agreement",  # fraction of samples whose argmax equals PyTorch FP32's
    "nan_count",
    "inf_count",
    "label_accuracy",  # accuracy on the held-out labelled split (digits-cnn), else empty
    "tf32",  # on | off | n/a — TF32 math allowed for this row's FP32 work
    "iterations",
    "warmup",
    "artifact",  # path of the .plan / .onnx measured
    "notes",
    # -- the uncertainty of each figure (core/stats.py, core/noise.py); appended, the order above is kept
    "latency_p50_ci_low_ms",  # 95 % CI of the latency median (order statistics, distribution-free)
    "latency_p50_ci_high_ms",
    "latency_cov",  # coefficient of variation of the latency samples: std / mean
    "latency_iqr_ms",  # p75 - p25
    "gpu_compute_p50_ci_low_ms",
    "gpu_compute_p50_ci_high_ms",
    "gpu_compute_cov",
    "speedup_ci_low",  # 95 % bootstrap CI of speedup_vs_pytorch (ratio of medians)
    "speedup_ci_high",
    "speedup_best_ci_low",  # the same for speedup_vs_best_pytorch
    "speedup_best_ci_high",
    "stopped_by",  # what ended the timed loop: count | ci (--iterations auto) | time (--max-seconds)
    "other_cpu_cores",  # cores other processes kept busy during the row
    "noise_warning",  # why the timing may not be trusted, with what to do ('' when stable)
    "output_warning",  # NaN/Inf in the reference, or in this row where the reference has none
    "accuracy_na",  # why the accuracy columns are empty: a vacuous comparison ('' when they are valid)
    "gpu_compute_iterations",  # the GPU-compute loop's count: <= iterations, it ends once its p50 is as precise
)
SPEEDUP_CI = {
    "speedup_vs_pytorch": ("speedup_ci_low", "speedup_ci_high"),
    "speedup_vs_best_pytorch": ("speedup_best_ci_low", "speedup_best_ci_high"),
}

NUMERIC = {
    c
    for c in COLUMNS
    if c.endswith(("_ms", "_s", "_per_s", "_err", "_sim", "_agreement", "_accuracy", "_count", "_bytes"))
    or c in ("batch_size", "speedup_vs_pytorch", "speedup_vs_best_pytorch", "iterations", "warmup")
    or c.endswith(("_cov", "_ci_low", "_ci_high", "_cores", "_iterations"))
}


def row_key(
    row_id: str, batch_size: int | None, base_batch: int | None, dims: str | None = None, base_dims: str | None = None
) -> str:
    """The store key of a row: ``row_id`` at the base batch size (and dim sizes), ``row_id@b<size>`` at
    another batch size, ``…@seq=128`` at other dim sizes of a sweep over dynamic dims."""
    key = row_id
    if batch_size is not None and base_batch is not None and batch_size != base_batch:
        key += f"@b{batch_size}"
    if dims and base_dims is not None and dims != base_dims:
        key += f"@{dims}"
    return key


def dims_label(dims: dict[str, int]) -> str:
    """{'seq': 128} -> 'seq=128': the dims column (several dims: 'seq=128,img=224')."""
    return ",".join(f"{k}={v}" for k, v in dims.items())


def parse_dims(label: str | None) -> dict[str, int]:
    """The dims column back to sizes: 'seq=128' -> {'seq': 128}."""
    return {k: int(v) for k, v in (p.split("=") for p in (label or "").split(",") if p)}


def point_of(row: dict[str, Any]) -> tuple[Any, str]:
    """Which measured point a row belongs to: (batch size, dim sizes); rows compare within one point."""
    return row.get("batch_size"), row.get("dims") or ""


def clean(value: Any) -> Any:
    """JSON-safe scalar: NaN/Inf become None (JSON has no NaN), numpy scalars become Python ones."""
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def remove_stale_temps(folder: str | Path) -> list[Path]:
    """Delete the temporary files an interrupted writer left in ``folder``: every atomic write here
    (results, plans, sidecars, caches) goes through a hidden ``.<name>.<...>.tmp`` file, and every
    ONNX file (export, Q/DQ, FP16) through ``.<stem>.partial.onnx``, which a SIGKILL between create
    and rename leaves behind. Call only while no run writes to ``folder``."""
    removed: list[Path] = []
    try:
        candidates = [*Path(folder).glob(".*.tmp"), *Path(folder).glob(".*.partial.onnx")]
    except OSError:
        return removed
    for tmp in candidates:
        try:
            if tmp.is_file():
                tmp.unlink()
                removed.append(tmp)
        except OSError:
            pass
    for scratch in Path(folder).glob(".*.scratch"):  # core.scratch folders of a quantize killed mid-way
        if scratch.is_dir():
            shutil.rmtree(scratch, ignore_errors=True)
            removed.append(scratch)
    return removed


def rows_to_csv(rows: Iterable[dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(COLUMNS), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: "" if row.get(c) is None else row.get(c) for c in COLUMNS})
    return buf.getvalue()


def rows_from_csv(text: str) -> list[dict[str, Any]]:
    rows = []
    for raw in csv.DictReader(io.StringIO(text)):
        row: dict[str, Any] = {}
        for c in COLUMNS:
            v = raw.get(c, "")
            if v == "":
                row[c] = None
            elif c in NUMERIC:
                row[c] = float(v) if any(ch in v for ch in ".eEn") else int(v)
            else:
                row[c] = v
        rows.append(row)
    return rows


def host_bound(row: dict[str, Any]) -> str:
    """A one-line hint when launching a row's compute takes the CPU at least as long as the GPU needs to
    run it (eager PyTorch at small batch): the GPU waits on Python, not the other way round."""
    enq, gpu = row.get("enqueue_p50_ms"), row.get("gpu_compute_p50_ms")
    if not (isinstance(enq, (int, float)) and isinstance(gpu, (int, float))) or gpu <= 0 or enq < gpu:
        return ""
    return f"host-bound: launch {enq:.3g} ms ≥ GPU {gpu:.3g} ms"


def contains_one(lo: Any, hi: Any) -> bool:
    """Whether a speedup's interval includes 1.0 (no difference the data can tell from noise)."""
    return isinstance(lo, (int, float)) and isinstance(hi, (int, float)) and lo <= 1.0 <= hi


def overlap(a: tuple[Any, Any], b: tuple[Any, Any]) -> bool:
    """Whether two intervals (low, high) share a point; False when either is unknown."""
    if any(not isinstance(v, (int, float)) for v in (*a, *b)):
        return False
    return a[0] <= b[1] and b[0] <= a[1]


RatioCI = Callable[[str, str], "tuple[float, float] | None"]  # (reference key, row key) -> CI of the speedup


def update_speedups(
    rows: dict[str, dict[str, Any]] | Iterable[dict[str, Any]], ratio_ci: RatioCI | None = None
) -> None:
    """Fill both speedup columns, comparing rows of the same batch size only: against eager PyTorch
    FP32 and against the fastest ok PyTorch row (eager, CUDA graph or torch.compile, any precision).
    With ``rows`` keyed by store key and ``ratio_ci`` (the store's bootstrap over its samples) each
    speedup gets its 95 % CI; where no samples are held (a caller's copy fed by row events) a CI the
    row already carries is kept while its speedup is unchanged."""
    keyed = rows if isinstance(rows, dict) else {str(i): r for i, r in enumerate(rows)}
    groups: dict[Any, list[tuple[str, dict[str, Any]]]] = {}
    for key, r in keyed.items():
        groups.setdefault(point_of(r), []).append((key, r))
    for group in groups.values():
        ok = [(k, r) for k, r in group if r.get("status") == Status.OK and r.get("latency_p50_ms")]
        base = next(((k, r) for k, r in ok if r["row_id"] == BASELINE_ID), None)
        best = min(
            ((k, r) for k, r in ok if is_pytorch(str(r["row_id"]))),
            key=lambda kr: kr[1]["latency_p50_ms"],
            default=None,
        )
        for key, r in group:
            for col, ref in (("speedup_vs_pytorch", base), ("speedup_vs_best_pytorch", best)):
                set_speedup(r, key, col, ref, ratio_ci if isinstance(rows, dict) else None)


def set_speedup(
    r: dict[str, Any], key: str, col: str, ref: tuple[str, dict[str, Any]] | None, ratio_ci: RatioCI | None
) -> None:
    lat, (lo_col, hi_col) = r.get("latency_p50_ms"), SPEEDUP_CI[col]
    old = r.get(col)
    r[col] = ref[1]["latency_p50_ms"] / lat if ref and lat else None
    if r[col] is None or ref is None or ref[0] == key:  # the reference itself: 1.0 by definition
        r[lo_col] = r[hi_col] = None
        return
    ci = ratio_ci(ref[0], key) if ratio_ci else None
    if ci is not None:
        r[lo_col], r[hi_col] = ci
    elif not (isinstance(old, (int, float)) and math.isclose(old, r[col], rel_tol=1e-9)):
        r[lo_col] = r[hi_col] = None  # the reference moved and no samples here to say by how much


def qualifies(r: dict[str, Any], min_top1: float, base_acc: Any, max_label_drop: float) -> bool:
    """An ok row with a latency, accuracy within tolerance of PyTorch FP32 and no NaN/Inf."""
    if r.get("status") != Status.OK or r.get("latency_p50_ms") is None:
        return False
    agree = r.get("top1_agreement")
    if agree is not None and agree < min_top1:
        return False
    if base_acc is not None and r.get("label_accuracy") is not None and base_acc - r["label_accuracy"] > max_label_drop:
        return False
    return not ((r.get("nan_count") or 0) or (r.get("inf_count") or 0))


def main_batch(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """A sweep: the rows of the main (first) batch size; best_by_batch has the others."""
    rows = list(rows)
    return [r for r in rows if point_of(r) == point_of(rows[0])] if rows else rows


def pick_best(rows: Iterable[dict[str, Any]], min_top1: float = 0.99, max_label_drop: float = 0.01) -> tuple[str, str]:
    """The fastest ok row (lowest latency_p50_ms) whose accuracy stays within tolerance of PyTorch
    FP32: top-1 agreement >= ``min_top1`` and, where labels exist, accuracy drop <= ``max_label_drop``.
    Returns (row_id, rule) — row_id is '' when no row qualifies. Rows whose p50 CIs overlap the best's
    are a tie (``best_ties``); the rule says so."""
    rows = main_batch(rows)
    rule = f"fastest p50 latency with top-1 agreement >= {min_top1:.0%}"
    base = next((r for r in rows if r["row_id"] == BASELINE_ID), None)
    base_acc = base.get("label_accuracy") if base else None
    if base_acc is not None:
        rule += f" and label accuracy within {max_label_drop * 100:.0f} pt of PyTorch FP32"
    rule += "; rows whose p50 95% CIs overlap are a tie"
    best, best_lat = "", math.inf
    for r in rows:
        if qualifies(r, min_top1, base_acc, max_label_drop) and r["latency_p50_ms"] < best_lat:
            best, best_lat = r["row_id"], r["latency_p50_ms"]
    return best, rule


def point_label(row: dict[str, Any], batches: bool = True, dims: bool = True) -> str:
    """A row's point for titles: 'b32', 'seq=128', 'b32 seq=128' ('' when neither is asked)."""
    parts = [f"b{row['batch_size']}"] if batches and row.get("batch_size") else []
    parts += [str(row["dims"])] if dims and row.get("dims") else []
    return " ".join(parts)


def best_ties(
    rows: Iterable[dict[str, Any]], best: str, min_top1: float = 0.99, max_label_drop: float = 0.01
) -> list[str]:
    """The qualifying rows (same batch size as the best) whose p50 CI overlaps the best row's: the data
    cannot tell them apart from it."""
    rows = main_batch(rows)
    top = next((r for r in rows if r["row_id"] == best), None)
    if top is None:
        return []
    base = next((r for r in rows if r["row_id"] == BASELINE_ID), None)
    base_acc = base.get("label_accuracy") if base else None
    ci = (top.get("latency_p50_ci_low_ms"), top.get("latency_p50_ci_high_ms"))
    return [
        r["row_id"]
        for r in rows
        if r is not top
        and qualifies(r, min_top1, base_acc, max_label_drop)
        and overlap(ci, (r.get("latency_p50_ci_low_ms"), r.get("latency_p50_ci_high_ms")))
    ]


class ResultsStore:
    """Rows in arrival order, persisted on every change. Also holds the environment record."""

    def __init__(self, out_dir: str | Path | None = None, *, meta: dict[str, Any] | None = None) -> None:
        self.out_dir = Path(out_dir) if out_dir else None
        self.rows: dict[str, dict[str, Any]] = {}
        self.env: dict[str, Any] = {}
        self.meta: dict[str, Any] = dict(meta or {})
        self.best: str = ""
        self.best_rule: str = ""
        self.base_batch: int | None = None  # the first batch size seen: its rows are keyed by row_id alone
        self.base_dims: str | None = None  # likewise the first dim sizes of a sweep over dynamic dims
        self.samples: dict[str, dict[str, Any]] = {}  # store key -> {"latency_ms": [...], "gpu_compute_ms", "readings"}
        self._samples_dirty = False
        self._versions: dict[str, int] = {}  # store key -> how many times its samples were replaced
        self._ci_cache: dict[tuple[str, str, int, int], tuple[float, float] | None] = {}

    # -- updates -------------------------------------------------------------------------------
    def key(self, row_id: str, batch_size: int | None = None, dims: str | None = None) -> str:
        return row_key(row_id, batch_size, self.base_batch, dims, self.base_dims)

    def _see_base(self, row: dict[str, Any]) -> None:
        if self.base_batch is None and row.get("batch_size") is not None:
            self.base_batch = int(row["batch_size"])
        if self.base_dims is None and row.get("dims"):
            self.base_dims = str(row["dims"])

    def sweep_label(self, row: dict[str, Any]) -> str:
        """The part of a row's point that varies in this store (batch size and/or dim sizes), for titles."""
        points = self.points()
        return point_label(row, batches=len({p[0] for p in points}) > 1, dims=len({p[1] for p in points}) > 1)

    def points(self) -> list[tuple[Any, str]]:
        """The (batch size, dim sizes) of the rows held, in order of first appearance."""
        return list(dict.fromkeys(point_of(r) for r in self.rows.values() if r.get("batch_size") is not None))

    def batch_sizes(self) -> list[int]:
        """The batch sizes of the rows held, in order of first appearance."""
        return list(dict.fromkeys(r["batch_size"] for r in self.rows.values() if r.get("batch_size") is not None))

    def upsert(self, row: dict[str, Any]) -> dict[str, Any]:
        """Create or update the row of (row_id, batch_size); without a batch_size, the base batch's."""
        self._see_base(row)
        key = self.key(row["row_id"], row.get("batch_size"), row.get("dims"))
        current = self.rows.setdefault(key, {c: None for c in COLUMNS})
        current.update({k: clean(v) for k, v in row.items() if k in COLUMNS})
        if row.get("samples"):  # kept beside the row (artifacts.SAMPLES), never in the row or its events
            self.samples[key] = row["samples"]
            self._versions[key] = self._versions.get(key, 0) + 1
            self._samples_dirty = True
        self._update_speedups()
        self.best, self.best_rule = pick_best(self.rows.values())
        self.save()
        return current

    def set_env(self, env: dict[str, Any]) -> None:
        self.env = dict(env)
        self.save()

    def _update_speedups(self) -> None:
        update_speedups(self.rows, self.ratio_ci)

    def ratio_ci(self, ref_key: str, key: str) -> tuple[float, float] | None:
        """95 % CI of latency p50(ref) / p50(row) from the samples held (None without them); cached."""
        a, b = (self.samples.get(k, {}).get("latency_ms") for k in (ref_key, key))
        if not a or not b:
            return None
        tag = (ref_key, key, self._versions.get(ref_key, 0), self._versions.get(key, 0))
        if tag not in self._ci_cache:
            from trt_tui.core import stats  # numpy and scipy: only where samples are held

            self._ci_cache[tag] = stats.ratio_ci(a, b)
        return self._ci_cache[tag]

    def ties(self) -> list[str]:
        """Rows the data cannot tell from the best one (overlapping p50 CIs)."""
        return best_ties(self.rows.values(), self.best) if self.best else []

    # -- persistence ---------------------------------------------------------------------------
    def best_by_batch(self) -> dict[str, str]:
        """A sweep's best row at each batch size, or each (batch, dim sizes) (same rule as ``best``)."""
        out = {}
        for point in self.points():
            label = str(point[0]) + (f" {point[1]}" if point[1] else "")
            out[label] = pick_best([r for r in self.rows.values() if point_of(r) == point])[0]
        return out

    def to_json_dict(self) -> dict[str, Any]:
        sweep = len(self.points()) > 1
        return {
            "schema_version": SCHEMA_VERSION,
            "columns": list(COLUMNS),
            "meta": self.meta,
            "env": self.env,
            "best": self.best,
            "best_rule": self.best_rule,
            "best_ties": self.ties(),
            **({"best_by_batch": self.best_by_batch()} if sweep else {}),
            "rows": list(self.rows.values()),
        }

    def save(self) -> None:
        if self.out_dir is None:
            return
        if self._samples_dirty:
            self.save_samples(self.out_dir / artifacts.SAMPLES)
        self.export_json(self.out_dir / artifacts.RESULTS_JSON)
        self.export_csv(self.out_dir / artifacts.RESULTS_CSV)

    def save_samples(self, path: Path) -> None:
        import gzip

        data = {"schema_version": SCHEMA_VERSION, "rows": self.samples}
        atomic.write_bytes(path, gzip.compress(json.dumps(data, default=str).encode(), compresslevel=6, mtime=0))
        self._samples_dirty = False

    def load_samples(self, path: Path) -> None:
        """An earlier run's samples (absent in runs older than the file: the CIs stay as recorded)."""
        import gzip

        try:
            data = json.loads(gzip.decompress(path.read_bytes()))
        except (OSError, ValueError, EOFError):
            return
        self.samples = {k: v for k, v in data.get("rows", {}).items() if k in self.rows}
        self._versions = {k: 1 for k in self.samples}

    def export_csv(self, path: str | Path) -> Path:
        path = Path(path)
        atomic.write_text(path, rows_to_csv(self.rows.values()))
        return path

    def export_json(self, path: str | Path) -> Path:
        path = Path(path)
        atomic.write_text(path, json.dumps(self.to_json_dict(), indent=2, default=str))
        return path

    @classmethod
    def load(cls, out_dir: str | Path) -> ResultsStore:
        """Reopen an earlier run's folder (results.json)."""
        out_dir = Path(out_dir)
        data = json.loads((out_dir / artifacts.RESULTS_JSON).read_text(encoding="utf-8"))
        store = cls(None, meta=data.get("meta"))
        store.env = data.get("env", {})
        for row in data.get("rows", []):
            store._see_base(row)
            store.rows[store.key(row["row_id"], row.get("batch_size"), row.get("dims"))] = {
                c: row.get(c) for c in COLUMNS
            }
        store.best, store.best_rule = data.get("best", ""), data.get("best_rule", "")
        store.load_samples(out_dir / artifacts.SAMPLES)
        store.out_dir = out_dir
        return store
