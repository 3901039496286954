"""The one event vocabulary shared by the child job, the CLI and the TUI.

Every event is a small dataclass serialised as one JSON object per line with a ``type`` field.
The child process (``python -m trt_tui.jobs``) writes them on stdout; ``trt-tui run`` prints them;
the TUI turns them into Textual messages. Nothing here imports torch, tensorrt or textual.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar

from trt_tui.core.vocab import Status


@dataclass
class Event:
    type: ClassVar[str] = "event"
    t: float = field(default_factory=time.time, kw_only=True)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, **asdict(self)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), default=str, allow_nan=True)


@dataclass
class StageStarted(Event):
    type: ClassVar[str] = "stage_started"
    stage: str
    title: str = ""


@dataclass
class StageFinished(Event):
    """A stage ended. ``status`` is ok | skipped | failed; ``detail`` carries stage results
    (e.g. the export report: onnx size, nodes, parameters, opset, exporter, parity per output)."""

    type: ClassVar[str] = "stage_finished"
    stage: str
    status: Status = Status.OK
    seconds: float = 0.0
    reason: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class StepFinished(Event):
    """One named step inside a stage (export: 'export', 'checker', 'parity';
    build: 'tensorrt-fp16'), with its own state, time and result."""

    type: ClassVar[str] = "step_finished"
    stage: str
    step: str
    status: Status = Status.OK
    seconds: float = 0.0
    reason: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class Progress(Event):
    """Progress of one task (``task`` e.g. 'tensorrt-fp16' during build, 'pytorch-fp32' during
    benchmark, 'int8-qdq' / 'fp16-convert' during quantize). ``phase`` names the part of the task
    ('calibration', 'warm-up', TensorRT's phase name). ``eta_s``: seconds left where the producer can
    estimate them. ``p50_ms``: during a row's timed loop, the median latency of the ``step``
    iterations so far (provisional: the row event that follows has the figures). Rate-limited at the
    source."""

    type: ClassVar[str] = "progress"
    stage: str
    task: str
    step: int = 0
    total: int = 0
    phase: str = ""
    eta_s: float | None = None
    p50_ms: float | None = None


@dataclass
class Log(Event):
    """A log line. ``source`` is 'tensorrt' for TensorRT's own logger, else 'trt-tui'."""

    type: ClassVar[str] = "log"
    stage: str
    level: str
    message: str
    source: str = "trt-tui"


@dataclass
class RowEvent(Event):
    """A result row (see ``results.COLUMNS``), sent when it is created and again as it fills in."""

    type: ClassVar[str] = "row"
    row: dict[str, Any] = field(default_factory=dict)


@dataclass
class ErrorEvent(Event):
    """A failure: a one-line ``message`` naming the cause and the full ``detail`` on demand."""

    type: ClassVar[str] = "error"
    stage: str
    message: str
    detail: str = ""
    fatal: bool = False


@dataclass
class EnvEvent(Event):
    """What this machine has: GPU, driver, CUDA, TensorRT, torch, onnxruntime, TF32 settings."""

    type: ClassVar[str] = "env"
    env: dict[str, Any] = field(default_factory=dict)


@dataclass
class Finished(Event):
    """The run ended. ``status`` is ok | failed | cancelled | crashed (crashed = child exit)."""

    type: ClassVar[str] = "finished"
    status: Status = Status.OK
    out_dir: str = ""
    best: str = ""
    best_rule: str = ""
    exit_code: int | None = None
    message: str = ""
    bad_input: bool = False  # the model or its inputs could not be loaded as given: the CLI exits with 2


@dataclass
class TimelineEvent(Event):
    """Entries of the stage timeline (``core.timeline``) closed since the last one, sent after each
    StageFinished; results.json ``meta.timeline`` has them all."""

    type: ClassVar[str] = "timeline"
    entries: list[dict[str, Any]] = field(default_factory=list)
    origin: str = ""  # what t = 0 is (`trt-tui run` started, the job process started, ...)


EVENT_TYPES: dict[str, type[Event]] = {
    cls.type: cls
    for cls in (
        StageStarted,
        StageFinished,
        StepFinished,
        Progress,
        Log,
        RowEvent,
        ErrorEvent,
        EnvEvent,
        Finished,
        TimelineEvent,
    )
}

Emit = Callable[[Event], None]
STATUSES = frozenset(s.value for s in Status)


def from_dict(data: dict[str, Any]) -> Event:
    """Rebuild an event from its dict; unknown keys are dropped so newer children stay readable."""
    cls = EVENT_TYPES.get(data.get("type", ""))
    if cls is None:
        raise ValueError(f"unknown event type: {data.get('type')!r}")
    names = {f.name for f in fields(cls)}
    kwargs = {k: v for k, v in data.items() if k in names}
    if kwargs.get("status") in STATUSES:  # the one string field with a type; an unknown word stays as sent
        kwargs["status"] = Status(kwargs["status"])
    return cls(**kwargs)


def from_json(line: str) -> Event:
    return from_dict(json.loads(line))


def parse_line(line: str) -> Event | None:
    """Parse one line of a child's stdout; a line that is not an event (native noise) gives None."""
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        return from_json(line)
    except (ValueError, TypeError):
        return None
