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
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

_ENV = ("TMPDIR", "TEMP", "TMP")


@contextmanager
def scratch_dir(prefix: str = "trt-tui-") -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=prefix))
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
