"""Our implementations of TensorRT's callback interfaces (ILogger, IProgressMonitor, the INT8
calibrators, IOutputAllocator).

Those interfaces are pybind11 classes of whichever module we import at run time, so each
implementation is written here as a plain class and ``derive`` makes it a direct subclass of that
module's class when it is needed.
"""

from __future__ import annotations

from typing import Any

_NOT_COPIED = ("__dict__", "__weakref__")


def derive(base: Any, body: type) -> type:
    """A direct subclass of ``base`` (e.g. ``trt.ILogger``) with ``body``'s methods and attributes.

    Direct, not a mixin: TensorRT's trampoline finds the overrides exactly as for ``class X(base)``.
    ``body.__init__`` must call ``self._trt_base.__init__(self)`` first: the binding segfaults
    without it."""
    namespace = {k: v for k, v in vars(body).items() if k not in _NOT_COPIED}
    namespace["_trt_base"] = base
    return type(body.__name__, (base,), namespace)
