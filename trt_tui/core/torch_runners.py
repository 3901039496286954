"""The PyTorch rows a user would pick instead of TensorRT: CUDA-graph replay and torch.compile.

Both fit the ``bench.Runner`` protocol and are timed by ``bench.measure`` like every other row: the
input is staged in pinned memory and copied into one static device buffer, ``compute()`` enqueues
the forward, ``outputs()`` copies the results back.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from trt_tui.core.bench import TorchRunner
from trt_tui.core.errors import TrtTuiError
from trt_tui.core.inputs import Feeds, ModelInputs
from trt_tui.core.rows import Row
from trt_tui.core.user_models import flatten_named

GRAPH_WARMUP = 3  # forwards on a side stream before capture (cudnn.benchmark picks its kernels there)


WHY_CUDA = {
    "graph": "CUDA graphs need a CUDA GPU",
    "compile": "torch.compile rows run on a CUDA GPU only (on the CPU they would only make the run slower)",
}


def unavailable_reason(row: Row, device: str) -> str:
    """Why a graph/compile row cannot run on ``device`` ('' when it can)."""
    if device == "cuda" or not row.cuda_only:
        return ""
    return WHY_CUDA.get(row.mode, f"{row.title} needs a CUDA GPU")


class GraphRunner(TorchRunner):
    """The forward captured once as a CUDA graph and replayed (torch.cuda.graphs, PyTorch's recipe:
    static input buffer, warm-up on a side stream, capture, ``replay()`` per inference). The graph is
    (re)captured for each input shape in ``set_input``; ``capture_s`` is the time that took."""

    def __init__(self, module: Any, inputs: ModelInputs | tuple[int, ...], *, device: str, half: bool = False) -> None:
        if device != "cuda":
            raise TrtTuiError(WHY_CUDA["graph"])
        super().__init__(module, inputs, device=device, half=half)
        self.graph: Any = None
        self.graph_shape: Any = None
        self.capture_s = 0.0

    def set_input(self, host: Feeds | np.ndarray) -> None:
        super().set_input(host)
        if self.graph_shape != self.shapes():
            self.capture()

    def capture(self) -> None:
        torch = self.torch
        t0 = time.perf_counter()
        self.graph, self.y = None, None  # free the old graph's pool first
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(GRAPH_WARMUP):
                self.forward(self.module)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            self.y = self.forward(self.module)  # static outputs: replay() rewrites them in place
        torch.cuda.synchronize()
        self.graph, self.graph_shape = graph, self.shapes()
        self.capture_s += time.perf_counter() - t0

    def _alloc(self, feeds: Any) -> None:
        super()._alloc(feeds)
        self.graph_shape = None  # the captured graph reads the old buffer: capture again

    def compute(self) -> None:
        self.graph.replay()  # on the current stream, as TorchRunner's eager forward

    def outputs(self) -> list[np.ndarray]:
        return [t.float().cpu().numpy() for _, t in flatten_named(self.y)]

    def close(self) -> None:
        self.graph = None
        super().close()


class CompiledRunner(TorchRunner):
    """``torch.compile(module, mode=...)``. Compiling happens in ``set_input`` for each new input
    shape (the first forwards; with a CUDA-graph mode also its recording) and is timed as
    ``compile_s``, reported like a TensorRT build time. Dynamo's caches are reset first, so each
    row compiles from scratch and a sweep's many shapes never reach its recompile limit."""

    COMPILE_CALLS = 3  # cudagraph trees warm up, record, then replay: the third call is a steady one

    def __init__(
        self,
        module: Any,
        inputs: ModelInputs | tuple[int, ...],
        *,
        device: str,
        half: bool = False,
        mode: str = "default",
        backend: str = "inductor",
    ) -> None:
        super().__init__(module, inputs, device=device, half=half)
        import torch

        torch._dynamo.reset()
        self.mode = mode
        self.uses_graphs = device == "cuda" and backend == "inductor" and mode in ("reduce-overhead", "max-autotune")
        # dynamic=False: one static specialisation per batch size, like an engine built per batch.
        # ``backend`` other than inductor: for tests of this runner's logic without code generation.
        opts = {"mode": mode} if backend == "inductor" else {}
        self.compiled = torch.compile(self.module, backend=backend, dynamic=False, **opts)  # type: ignore[call-overload]  # mode via **opts: torch's overloads take it as a keyword only
        self.compiled_shape: Any = None
        self.compile_s = 0.0

    def set_input(self, host: Feeds | np.ndarray) -> None:
        super().set_input(host)
        if self.compiled_shape != self.shapes():
            t0 = time.perf_counter()
            for _ in range(self.COMPILE_CALLS):
                self.compute()
                self.outputs()
            self.compile_s += time.perf_counter() - t0
            self.compiled_shape = self.shapes()

    def compute(self) -> None:
        if self.uses_graphs:
            # one inference = one step: the previous outputs may be overwritten (they were read)
            self.torch.compiler.cudagraph_mark_step_begin()
        self.y = self.forward(self.compiled)

    def close(self) -> None:
        self.compiled = None
        super().close()
        try:
            self.torch._dynamo.reset()  # drop the compiled code and its CUDA graphs
        except Exception:  # noqa: BLE001 - freeing is best effort
            pass


def make(
    row: Row,
    module: Any,
    inputs: ModelInputs | tuple[int, ...],
    *,
    device: str,
    params: int,
    compile_mode: str = "default",
) -> tuple[TorchRunner, dict[str, Any]]:
    """The runner for a PyTorch row and the row fields it fixes (size, notes)."""
    half = row.precision == "fp16"
    fields: dict[str, Any] = {"size_bytes": params * (2 if half else 4)}
    if row.mode == "graph":
        runner: TorchRunner = GraphRunner(module, inputs, device=device, half=half)
        fields["notes"] = "CUDA graph replay of the forward; build time = warm-up + capture; size = parameter bytes"
    elif row.mode == "compile":
        if why := unavailable_reason(row, device):
            raise TrtTuiError(why)
        runner = CompiledRunner(module, inputs, device=device, half=half, mode=compile_mode)
        fields["notes"] = f"torch.compile mode={compile_mode}; build time = compile; size = parameter bytes"
    else:
        runner = TorchRunner(module, inputs, device=device, half=half)
        fields["notes"] = "eager; size = parameter bytes"
    return runner, fields


def build_fields(runner: Any) -> dict[str, Any]:
    """The build time of a graph/compile row (capture or compile, done by its first ``set_input``)."""
    if isinstance(runner, GraphRunner):
        return {"build_time_s": runner.capture_s}
    if isinstance(runner, CompiledRunner):
        return {"build_time_s": runner.compile_s}
    return {}
