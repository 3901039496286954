"""Caches TensorRT reads back (INT8 calibration cache, timing cache), keyed to what produced them.

A calibration cache handed back to TensorRT makes it skip calibration, so one left in a results folder
by another model, calibration set, sample count, method or seed silently gives wrong INT8 scales; a
timing cache from another TensorRT version or GPU is useless or refused. Each cache gets a JSON record
next to it (``calibration_entropy.cache.json``) of the key it was made with; a cache whose record is
missing or differs is deleted before the build, so TensorRT starts afresh, and the row's notes say
which happened.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trt_tui.core import atomic
from trt_tui.core.provenance import file_sha256, fingerprint

NEW, REUSED, STALE = "new", "reused", "stale"


def key_path(path: str | os.PathLike[str]) -> Path:
    p = Path(path)
    return p.with_name(p.name + ".json")


@dataclass
class KeyedCache:
    path: Path
    key: dict[str, Any]
    status: str = NEW  # new | reused | stale
    changed: list[str] = field(default_factory=list)  # for stale: which parts of the key differ

    def record(self) -> None:
        """After a successful build: remember what the cache now on disk was made from."""
        if self.path.is_file():
            atomic.write_json(key_path(self.path), {**self.key, "fingerprint": fingerprint(**self.key)})


def open_keyed(path: str | os.PathLike[str], key: dict[str, Any]) -> KeyedCache:
    """Keep ``path`` only when its record matches ``key``; otherwise delete it (and its record)."""
    p, side = Path(path), key_path(path)
    if not p.is_file():
        side.unlink(missing_ok=True)
        return KeyedCache(p, key, NEW)
    try:
        old = json.loads(side.read_text())
        old = old if isinstance(old, dict) else None
    except (OSError, ValueError):
        old = None
    if old is not None and old.get("fingerprint") == fingerprint(**key):
        return KeyedCache(p, key, REUSED)
    if old is None:
        changed = ["no record of what made it"]
    else:
        changed = [k for k in key if old.get(k) != key[k]] or ["its record"]
    p.unlink(missing_ok=True)
    side.unlink(missing_ok=True)
    return KeyedCache(p, key, STALE, changed)


def calibration_key(
    onnx_path: str | os.PathLike[str],
    source: Any,
    *,
    method: str,
    samples: int,
    seed: int,
    calib_data: str | None,
    trt_label: str,
) -> dict[str, Any]:
    """What an INT8 calibration cache depends on: the model, the data (content hash of a user file), how
    many samples in which batches, the calibrator, the seed (random data), the TensorRT that wrote it."""
    return {
        "onnx_sha256": file_sha256(onnx_path),
        "calib_data": str(Path(calib_data).resolve()) if calib_data else getattr(source, "kind", None),
        "calib_data_sha256": file_sha256(calib_data) if calib_data else None,
        "calib_samples": int(samples),
        "samples_fed": getattr(source, "num_samples", None),
        "batch_size": getattr(source, "batch_size", None),
        "method": method,
        "seed": int(seed),
        "tensorrt": trt_label,
    }


def timing_key(trt_label: str, gpu: dict[str, Any]) -> dict[str, Any]:
    """A timing cache is specific to the TensorRT version and the GPU."""
    return {"tensorrt": trt_label, "gpu": gpu.get("name"), "compute_capability": gpu.get("compute_capability")}


def calibration_note(cache: KeyedCache, batches_fed: int | None) -> str:
    """For the row's notes: whether the calibration cache was reused or calibration ran (and why)."""
    n = batches_fed or 0
    if cache.status == REUSED:
        if n == 0:
            return "calibration cache reused (same model, calibration data, samples, method, seed)"
        return f"calibration cache not accepted by TensorRT; calibrated on {n} batches"
    if cache.status == STALE:
        return f"recalibrated on {n} batches: the old calibration cache differed in {', '.join(cache.changed)}"
    return f"calibrated on {n} batches (new calibration cache)"
