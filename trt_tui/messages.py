"""Messages between the App's job worker and the UI.

The worker thread only ever posts these; handlers on the App own every state change.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from trt_tui.core.events import Event, Progress


@dataclass
class JobEvent(Message):
    """One event of the running job's stream, as read from the child process."""

    job_id: int
    event: Event

    def can_replace(self, message: Message) -> bool:
        # A newer progress report of the same task supersedes a queued older one.
        if isinstance(message, JobEvent) and isinstance(self.event, Progress) and isinstance(message.event, Progress):
            return (
                message.job_id == self.job_id
                and message.event.stage == self.event.stage
                and message.event.task == self.event.task
            )
        return False


@dataclass
class JobFailed(Message):
    """The worker itself failed (the job could not start or its stream broke)."""

    job_id: int
    message: str
    detail: str = ""


@dataclass
class MachineProbed(Message):
    """What this machine can do (GPU, TensorRT), from ``runner.probe_machine``."""

    info: dict


@dataclass
class StateChanged(Message):
    """Sent to the active screen when the run state moved on (coalesced: only the newest is kept)."""

    version: int

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, StateChanged)
