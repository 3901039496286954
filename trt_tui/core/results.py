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
import os
import shutil
import secrets
from pathlib import Path
from typing import Any, Iterable

from trt_tui.core.rows import BASELINE_ID, is_pytorch

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
)

NUMERIC = {
    c
    for c in COLUMNS
    if c.endswith(("_ms", "_s", "_per_s", "_err", "_sim", "_agreement", "_accuracy", "_count", "_bytes"))
    or c in ("batch_size", "speedup_vs_pytorch", "speedup_vs_best_pytorch", "iterations", "warmup")
}

BASELINE_ROW = BASELINE_ID


def row_key(row_id: str, batch_size: int | None, base_batch: int | None, dims: str | None = None,
            base_dims: str | None = None) -> str:
    """The store key of a row: ``row_id`` at the base batch size (and dim sizes), ``row_id@b<size>`` at
    another batch size, ``…@seq=128`` at other dim sizes of a sweep over dynamic dims."""
    key = row_id
    if batch_size is not None and base_batch is not None and batch_size != base_batch:
        key += f"@b{batch_size}"
    if dims and base_dims is not None and dims != base_dims:
        key += f"@{dims}"
    return key


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


def create_beside(path: Path) -> tuple[int, Path]:
    """A new hidden ``.<name>.<random>.tmp`` file beside ``path``, opened for writing. Created with mode
    0666 less the user's umask, as open() creates files (mkstemp's 0600 would hide the results from a
    teammate on the same box once renamed)."""
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666), tmp
        except FileExistsError:
            continue


def atomic_write_text(path: Path, text: str) -> None:
    """Write through a temporary file in the same folder and rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = create_beside(path)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def remove_stale_temps(folder: str | Path) -> list[Path]:
    """Delete the temporary files an interrupted writer left in ``folder``: every atomic write here
    (results, plans, sidecars, caches) goes through a hidden ``.<name>.<...>.tmp`` file, and every
    ONNX file (export, Q/DQ, FP16) through ``.<stem>.partial.onnx``, which a SIGKILL between create
    and rename leaves behind. Call only while no run writes to ``folder``."""
    removed = []
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


def update_speedups(rows: Iterable[dict[str, Any]]) -> None:
    """Fill both speedup columns, comparing rows of the same batch size only: against eager PyTorch
    FP32 and against the fastest ok PyTorch row (eager, CUDA graph or torch.compile, any precision)."""
    groups: dict[Any, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(point_of(r), []).append(r)
    for group in groups.values():
        ok = [r for r in group if r.get("status") == "ok" and r.get("latency_p50_ms")]
        base_lat = next((r["latency_p50_ms"] for r in ok if r["row_id"] == BASELINE_ROW), None)
        best_lat = min((r["latency_p50_ms"] for r in ok if is_pytorch(str(r["row_id"]))), default=None)
        for r in group:
            lat = r.get("latency_p50_ms")
            r["speedup_vs_pytorch"] = base_lat / lat if base_lat and lat else None
            r["speedup_vs_best_pytorch"] = best_lat / lat if best_lat and lat else None


def pick_best(rows: Iterable[dict[str, Any]], min_top1: float = 0.99, max_label_drop: float = 0.01) -> tuple[str, str]:
    """The fastest ok row (lowest latency_p50_ms) whose accuracy stays within tolerance of PyTorch
    FP32: top-1 agreement >= ``min_top1`` and, where labels exist, accuracy drop <= ``max_label_drop``.
    Returns (row_id, rule) — row_id is '' when no row qualifies."""
    rows = list(rows)
    if rows:  # a sweep: the best among the rows of the main (first) batch size; best_by_batch has the others
        rows = [r for r in rows if point_of(r) == point_of(rows[0])]
    rule = f"fastest p50 latency with top-1 agreement >= {min_top1:.0%}"
    base = next((r for r in rows if r["row_id"] == BASELINE_ROW), None)
    base_acc = base.get("label_accuracy") if base else None
    if base_acc is not None:
        rule += f" and label accuracy within {max_label_drop * 100:.0f} pt of PyTorch FP32"
    best, best_lat = "", math.inf
    for r in rows:
        lat = r.get("latency_p50_ms")
        if r.get("status") != "ok" or lat is None:
            continue
        agree = r.get("top1_agreement")
        if agree is not None and agree < min_top1:
            continue
        if base_acc is not None and r.get("label_accuracy") is not None and base_acc - r["label_accuracy"] > max_label_drop:
            continue
        if (r.get("nan_count") or 0) or (r.get("inf_count") or 0):
            continue
        if lat < best_lat:
            best, best_lat = r["row_id"], lat
    return best, rule


def point_label(row: dict[str, Any], batches: bool = True, dims: bool = True) -> str:
    """A row's point for titles: 'b32', 'seq=128', 'b32 seq=128' ('' when neither is asked)."""
    parts = [f"b{row['batch_size']}"] if batches and row.get("batch_size") else []
    parts += [str(row["dims"])] if dims and row.get("dims") else []
    return " ".join(parts)


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
        current = self.rows.setdefault(self.key(row["row_id"], row.get("batch_size"), row.get("dims")),
                                       {c: None for c in COLUMNS})
        current.update({k: clean(v) for k, v in row.items() if k in COLUMNS})
        self._update_speedups()
        self.best, self.best_rule = pick_best(self.rows.values())
        self.save()
        return current

    def set_env(self, env: dict[str, Any]) -> None:
        self.env = dict(env)
        self.save()

    def _update_speedups(self) -> None:
        update_speedups(self.rows.values())

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
            **({"best_by_batch": self.best_by_batch()} if sweep else {}),
            "rows": list(self.rows.values()),
        }

    def save(self) -> None:
        if self.out_dir is None:
            return
        self.export_json(self.out_dir / "results.json")
        self.export_csv(self.out_dir / "results.csv")

    def export_csv(self, path: str | Path) -> Path:
        path = Path(path)
        atomic_write_text(path, rows_to_csv(self.rows.values()))
        return path

    def export_json(self, path: str | Path) -> Path:
        path = Path(path)
        atomic_write_text(path, json.dumps(self.to_json_dict(), indent=2, default=str))
        return path

    @classmethod
    def load(cls, out_dir: str | Path) -> "ResultsStore":
        """Reopen an earlier run's folder (results.json)."""
        out_dir = Path(out_dir)
        data = json.loads((out_dir / "results.json").read_text(encoding="utf-8"))
        store = cls(None, meta=data.get("meta"))
        store.env = data.get("env", {})
        for row in data.get("rows", []):
            store._see_base(row)
            store.rows[store.key(row["row_id"], row.get("batch_size"), row.get("dims"))] = {c: row.get(c) for c in COLUMNS}
        store.best, store.best_rule = data.get("best", ""), data.get("best_rule", "")
        store.out_dir = out_dir
        return store
