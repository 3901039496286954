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


# A PyTorch row of a model given as an ONNX file: the one wording (the row's skip reason, a runner's error).
NO_PYTORCH_MODULE = "the model is an ONNX file: there is no PyTorch module to run"

# What PyTorch (torch.cuda.OutOfMemoryError, "CUDA out of memory"), onnxruntime and TensorRT's log
# ("... could not be allocated", "OutOfMemory") say when the GPU ran out of memory.
OOM_WORDS = ("out of memory", "outofmemory", "could not be allocated")


def is_out_of_memory(error: BaseException | str) -> bool:
    """The one out-of-GPU-memory classifier: an exception (its type or text) or an error text."""
    if isinstance(error, BaseException) and type(error).__name__ == "OutOfMemoryError":
        return True
    low = str(error).lower()
    return any(k in low for k in OOM_WORDS)


def first_line(exc: BaseException) -> str:
    """'ValueError: the first line of its message' (the type alone for an empty message): one line for a user."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}".rstrip(": ")
