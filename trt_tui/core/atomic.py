"""The one atomic writer: a file is written whole under a temporary name beside it, then renamed onto its
name (``os.replace``), so a reader, or the next run after a kill, never finds half a file.

Temporary names are hidden and known to ``results.remove_stale_temps``: ``.<name>.<random>.tmp`` for
what trt-tui writes itself, ``.<stem>.partial.onnx`` for an ONNX file a library writes (the suffix
stays ``.onnx`` for the libraries that look at it).
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def create_beside(path: Path) -> tuple[int, Path]:
    """A new hidden temporary file beside ``path`` (opened for writing, mode as the umask allows)."""
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666), tmp
        except FileExistsError:
            continue


def write_bytes(path: Path, data: Any) -> int:
    """Write bytes-like ``data`` (bytes, a memoryview, TensorRT's IHostMemory) whole or not at all;
    returns the byte count."""
    view = memoryview(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = create_beside(path)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(view)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return view.nbytes


def write_text(path: Path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: Path, data: Any, indent: int = 2) -> None:
    """A JSON record (values JSON cannot hold written as their ``str``)."""
    write_text(path, json.dumps(data, indent=indent, default=str))


def partial_onnx(path: Path) -> Path:
    """The temporary name of an ONNX file a library writes: ``.<stem>.partial.onnx``."""
    return path.with_name(f".{path.stem}.partial.onnx")


@contextmanager
def replacing(path: Path, tmp: Path | None = None) -> Iterator[Path]:
    """For a writer that wants a file name (torch.save, torch.onnx.export, onnx.save): yields the
    temporary name (``tmp``, else ``.<name>.<random>.tmp``), renamed onto ``path`` when the block ends
    without an error, removed when it raises."""
    if tmp is None:
        fd, tmp = create_beside(path)
        os.close(fd)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
