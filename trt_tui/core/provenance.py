"""What produced an artifact: content hashes and stable fingerprints of the settings behind it.

One place for "is this file still the one made from that input?": plans, Q/DQ and FP16 ONNX files,
calibration and timing caches record the fingerprint of what produced them, and are reused only when it
matches (a stale artifact silently reused gives wrong numbers).
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fingerprint(**parts: Any) -> str:
    """A short stable hash of named settings (JSON with sorted keys; paths and the like via str)."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
