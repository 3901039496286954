"""ModelOpt's Q/DQ placement, kept for an ONNX it has already seen (issue 22).

ModelOpt's ONNX PTQ pass (``onnx_variants._modelopt_placement``) spends most of an INT8 quantize on its placement
(34-45 s of ViT-B/16's 46.6 s on the H200); its output depends only on what is fed to it. That output
is kept in the trt-tui cache folder ($TRT_TUI_CACHE, else ~/.cache/trt-tui) under ``placement/``, named
by the fingerprint of everything it depends on: the ONNX's bytes (sha256), the one batch ModelOpt is fed
(its arrays' bytes, shapes and dtypes), the settings of the call (mode, method, execution providers,
precision outside Q/DQ, op types), whether ModelOpt sees a TensorRT, and the versions of ModelOpt, onnx
and onnxruntime. A second run of the same model reuses it; trt-tui's own calibration then sets the
activation scales as on a fresh placement, so the INT8 file is the same either way.

A cached file is used only when its record names the same key and its sha256 still matches; written
whole or not at all (temporary file + rename), so a killed run leaves no half file. The newest
``KEEP`` entries stay; older ones are removed when a new one is written.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import atomic
from .provenance import file_sha256, fingerprint

CACHED, NEW, NOT_CACHED = "cached", "new", "not cached"
CACHED_PHASE = "Q/DQ placement (cached)"  # the quantize phase on a hit: the timeline and the log say so
RECIPE = 1  # bump when onnx_variants._modelopt_placement asks ModelOpt for something its key does not name
KEEP = 8  # entries kept (a resnet50 placement is ~100 MB, a ViT-B/16 one ~350 MB)


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def feeds_sha256(feeds: Mapping[str, Any]) -> str:
    """SHA-256 over named arrays: each name, dtype, shape and bytes, in name order."""
    import numpy as np

    h = hashlib.sha256()
    for name in sorted(feeds):
        arr = np.ascontiguousarray(feeds[name])
        h.update(f"{name}|{arr.dtype.str}|{arr.shape}|".encode())
        h.update(arr.tobytes())
    return h.hexdigest()


def placement_key(
    onnx_path: str | os.PathLike[str],
    first_batch: Mapping[str, Any],
    *,
    calibration_eps: list[str],
    trt_python: bool,
    quantize_mode: str = "int8",
    calibration_method: str = "max",
    high_precision_dtype: str = "fp32",
    op_types: list[str] | None = None,
) -> dict[str, Any]:
    """Everything ModelOpt's output depends on (``op_types`` None: ModelOpt's own default set)."""
    return {
        "onnx_sha256": file_sha256(onnx_path),
        "first_batch_sha256": feeds_sha256(first_batch),
        "quantize_mode": quantize_mode,
        "calibration_method": calibration_method,
        "calibration_eps": list(calibration_eps),
        "high_precision_dtype": high_precision_dtype,
        "op_types_to_quantize": op_types,
        "tensorrt_seen_by_modelopt": bool(trt_python),
        "modelopt": _version("nvidia-modelopt"),
        "onnx": _version("onnx"),
        "onnxruntime": _version("onnxruntime") or _version("onnxruntime-gpu"),
        "recipe": RECIPE,
    }


class PlacementCache:
    """One key's entry in ``folder``: ``<fingerprint>.onnx`` and its record ``<fingerprint>.onnx.json``."""

    def __init__(self, folder: Path, key: dict[str, Any]) -> None:
        self.folder = folder
        self.key = key
        self.id = fingerprint(**key)
        self.path = folder / f"{self.id}.onnx"
        self.record = folder / f"{self.id}.onnx.json"
        self.status = NOT_CACHED
        self.why = ""  # for NOT_CACHED: why nothing was kept

    def hit(self) -> Path | None:
        """The cached placement when its record matches the key and the file is intact, else None."""
        try:
            record = json.loads(self.record.read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict) or record.get("key") != self.key or not self.path.is_file():
            return None
        if file_sha256(self.path) != record.get("sha256"):
            self.path.unlink(missing_ok=True)  # damaged: placed afresh and written again
            return None
        os.utime(self.record)  # newest use: kept longest
        self.status = CACHED
        return self.path

    def store(self, made: Path) -> None:
        """Keep ModelOpt's output as one self-contained ONNX (its external data inlined; a model over
        protobuf's 2 GB, which cannot be one file, is not kept)."""
        from .export import _external_files

        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with atomic.replacing(self.path) as tmp:
                if _external_files(made):
                    _inline(made, tmp)
                else:
                    shutil.copyfile(made, tmp)
            atomic.write_json(self.record, {"key": self.key, "sha256": file_sha256(self.path)})
            self.status = NEW
            prune(self.folder)
        except OSError as exc:  # a read-only or full cache folder: the run goes on without it
            self.why = f"cannot write {self.folder}: {exc.strerror or exc}"
        except ValueError as exc:  # onnx: the model exceeds 2 GB as one protobuf
            self.why = f"not kept as one file: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"


def _inline(made: Path, dest: Path) -> None:
    import onnx

    model = onnx.load(str(made))  # reads the external data into the tensors (and clears their locations)
    onnx.save(model, str(dest))


def open_cache(folder: str | os.PathLike[str] | None, key: dict[str, Any]) -> PlacementCache | None:
    return PlacementCache(Path(folder), key) if folder else None


def prune(folder: Path, keep: int = KEEP) -> list[Path]:
    """Remove all but the ``keep`` most recently used entries; returns the removed files."""
    records = sorted(folder.glob("*.onnx.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    removed = []
    for record in records[keep:]:
        model = record.with_name(record.name[: -len(".json")])
        for p in (model, record):
            p.unlink(missing_ok=True)
            removed.append(p)
    return removed
