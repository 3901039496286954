"""file_sha256 reads a file once per version of it in a process: a run asks for the same ONNX's hash many
times; a file replaced (trt-tui's atomic writes) or edited in place is read again."""

from __future__ import annotations

import hashlib
import os

from trt_tui.core import atomic, provenance


def test_a_file_is_read_once_until_it_changes(tmp_path, monkeypatch):
    path = tmp_path / "model.onnx"
    path.write_bytes(b"a" * 4096)
    opened = []
    real_open = open
    monkeypatch.setattr(provenance, "open", lambda p, mode="r": opened.append(p) or real_open(p, mode), raising=False)
    first = provenance.file_sha256(path)
    assert first == hashlib.sha256(b"a" * 4096).hexdigest()
    assert provenance.file_sha256(str(path)) == first and len(opened) == 1  # the same version: not read again
    atomic.write_bytes(path, b"b" * 4096)  # same size, a new inode
    assert provenance.file_sha256(path) == hashlib.sha256(b"b" * 4096).hexdigest() and len(opened) == 2
    with real_open(path, "r+b") as f:  # edited in place, same size: mtime/ctime move
        f.write(b"c")
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert provenance.file_sha256(path) == hashlib.sha256(b"c" + b"b" * 4095).hexdigest() and len(opened) == 3
