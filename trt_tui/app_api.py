"""What the screens and widgets ask of the App, as a Protocol: they type ``self.app`` with it instead of
importing ``trt_tui.app`` (which imports the screens), so the UI's imports have no cycle
(tests/test_code_shape.py checks the whole package)."""

from __future__ import annotations

from typing import Any, Protocol

from trt_tui.core.config import RunConfig
from trt_tui.screens.state import RunView


class TrtTuiAppApi(Protocol):
    state: RunView  # the run the screens show
    machine: dict[str, Any] | None  # child_job.probe_machine(), once known
    catalog: list[Any]  # core.models.ModelSpec list, once known
    form: tuple[RunConfig | None, dict[str, str]]  # the Model screen's fields between visits

    def mark_first_paint(self) -> None: ...

    def action_available(self, action: str) -> bool: ...
