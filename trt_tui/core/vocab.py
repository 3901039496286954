"""The run's words as types: one enum per concept, strings only at the JSON/CSV boundary.

Each is a ``StrEnum``: a member *is* its string (``Status.OK == "ok"``, ``json.dumps`` and the CSV
writer print ``ok``), so a value read back from results.json or an event line compares equal to the
member without conversion, and files, events and the CLI keep their words.
"""

from __future__ import annotations

import sys
from enum import Enum

if sys.version_info >= (3, 11):
    from enum import StrEnum
else:  # pragma: no cover - Python 3.10: the same behaviour, spelled out

    class StrEnum(str, Enum):
        def __str__(self) -> str:
            return str(self.value)

        def __format__(self, spec: str) -> str:
            return str(self.value).__format__(spec)


class Status(StrEnum):
    """The state of a row, a stage, a step or a whole run (not every one takes every value)."""

    PENDING = "pending"  # a row not started
    RUNNING = "running"
    BUILT = "built"  # a TensorRT row: engine made, not measured yet
    OK = "ok"
    SKIPPED = "skipped"  # cannot run here (the reason says why)
    FAILED = "failed"
    CANCELLED = "cancelled"
    CRASHED = "crashed"  # the child process died (the app's and CLI's view, never the child's)


# a row not yet settled (None: a row the store does not have yet)
OPEN: tuple[Status | None, ...] = (Status.PENDING, Status.RUNNING, None)
# a row the benchmark stage may still measure
READY: tuple[Status, ...] = (Status.PENDING, Status.BUILT)


class Backend(StrEnum):
    PYTORCH = "pytorch"
    TENSORRT = "tensorrt"
    ONNXRUNTIME = "onnxruntime"


class Precision(StrEnum):
    FP32 = "fp32"
    FP16 = "fp16"
    INT8 = "int8"


class Calibration(StrEnum):
    """How INT8 scales are found (``--calibrator``): TensorRT's calibrator of that name where the
    version has calibrators, else the same method in the Q/DQ ONNX's calibration."""

    ENTROPY = "entropy"
    MINMAX = "minmax"


class OnnxVariant(StrEnum):
    """Which ONNX file a row runs or an engine is built from."""

    FP32 = "fp32"  # model.onnx as exported (or the user's)
    FP16 = "fp16"  # converted to FP16 (strongly typed TensorRT)
    QDQ = "qdq"  # INT8 Q/DQ nodes


class Stage(StrEnum):
    """The pipeline's stages, as named in events (StageStarted.stage) and ``--stages``."""

    ENV = "env"
    MODEL = "model"
    EXPORT = "export"
    QUANTIZE = "quantize"
    BUILD = "build"
    BENCHMARK = "benchmark"
    LAYERS = "layers"
