"""One private temporary folder for library calls that scatter their own temporaries.

onnxruntime's ``quant_pre_process`` and quantizer, and ModelOpt, create files and folders through
``tempfile`` (``/tmp/pre.quant.*``, ``ort.quant.*``, ``tmp*.onnx``) and not all of them are removed.
Inside ``scratch_dir`` every ``tempfile`` default (and ``TMPDIR`` for child code) points into one folder
that is removed on every path, success, error or cancel.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_ENV = ("TMPDIR", "TEMP", "TMP")


SUFFIX = ".scratch"  # results.remove_stale_temps deletes hidden ``.*.scratch`` folders a SIGKILL left


@contextmanager
def scratch_dir(prefix: str = "trt-tui-", parent: str | Path | None = None) -> Iterator[Path]:
    """``parent``: where the folder goes (hidden, ``.<prefix>…scratch``); a results folder there means a
    process killed mid-quantize (SIGKILL cannot be caught) leaves nothing in /tmp, and the next run in
    that folder removes what it left. None: the system's temp folder."""
    hidden = parent is not None
    path = Path(
        tempfile.mkdtemp(prefix=f".{prefix}" if hidden else prefix, suffix=SUFFIX if hidden else "", dir=parent)
    )
    saved_default, saved_env = tempfile.tempdir, {k: os.environ.get(k) for k in _ENV}
    tempfile.tempdir = str(path)
    for k in _ENV:
        os.environ[k] = str(path)
    try:
        yield path
    finally:
        tempfile.tempdir = saved_default
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        shutil.rmtree(path, ignore_errors=True)
