"""Errors a user can cause: one line naming the cause, plus the detail on demand."""

from __future__ import annotations


class TrtTuiError(Exception):
    """``message`` is one line for the table/status bar; ``detail`` is the full story (traceback,
    parser errors, TensorRT log lines) shown on demand."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.message = message.strip().splitlines()[0] if message.strip() else "unknown error"
        self.detail = detail

    def __str__(self) -> str:
        return self.message


class ModelError(TrtTuiError):
    """The model could not be loaded, run or exported."""


class TensorRTUnavailable(TrtTuiError):
    """TensorRT (or a CUDA GPU for it) is missing: the TensorRT rows are skipped with this reason."""
