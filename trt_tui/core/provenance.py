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

# Digests of files read in this process, keyed by what a change to the file changes: a run asks for the
# same ONNX's hash a dozen times (export, quantize keys, placement cache, build sidecars, runner checks),
# several seconds of reading for a large model. Every file trt-tui writes is renamed into place (a new
# inode); an edit in place changes size or mtime/ctime.
_DIGESTS: dict[tuple[Any, ...], str] = {}


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB chunks (once per version of the file in a process)."""
    st = os.stat(path)
    key = (os.path.realpath(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    if key in _DIGESTS:
        return _DIGESTS[key]
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    if len(_DIGESTS) > 256:  # a long-lived process (the app's tests) hashing many files
        _DIGESTS.clear()
    _DIGESTS[key] = h.hexdigest()
    return _DIGESTS[key]


def fingerprint(**parts: Any) -> str:
    """A short stable hash of named settings (JSON with sorted keys; paths and the like via str)."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
