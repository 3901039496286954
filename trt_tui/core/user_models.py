"""The PyTorch artifacts a user brings and what their inputs and outputs are.

- ``file.py:factory``: the factory's ``nn.Module`` (a ``ScriptModule`` too); ``example_inputs(batch_size)``
  beside it, when defined, gives the inputs: a tuple (positional) or a dict (keyword arguments, its keys
  the ONNX input names) of tensors, batch first.
- ``net.pt``: a TorchScript file (``torch.jit.load``; inputs from the command line, names from its
  ``forward`` schema).
- ``net.pt2``: a ``torch.export`` program (``torch.export.load``; inputs from the example it was
  exported with, run through ``ExportedProgram.module()``).

Outputs of any structure (tensor, tuple, dict, a Hugging Face ``ModelOutput``) are flattened to named
tensors by ``flatten_named`` the same way for PyTorch, ONNX and TensorRT; the first is the one the
accuracy columns compare. Every failure is a ModelError naming the cause in one line.
"""

from __future__ import annotations

import inspect
import traceback
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ModelError, first_line
from .inputs import DTYPES, InputSpec, ModelInputs, default_generator, is_mask

PROBE_BATCH = 2  # example_inputs is called with this batch size to read the inputs


# -- outputs ---------------------------------------------------------------------------------------
def flatten_named(out: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """(name, tensor) for every tensor in a model's output, in order: a plain tensor is 'output', a
    tuple 'output_0', 'output_1', ..., a dict (ModelOutput too: None fields are not in it) its keys.
    Anything that is not a tensor (None, numbers) is left out, as the ONNX exporters leave it out."""
    import torch

    if isinstance(out, torch.Tensor):
        return [(prefix or "output", out)]
    if isinstance(out, dict) or hasattr(out, "to_tuple"):  # a ModelOutput is an OrderedDict
        items = list(out.items())
        return [p for k, v in items if v is not None for p in flatten_named(v, f"{prefix}_{k}" if prefix else str(k))]
    if isinstance(out, (list, tuple)):
        stem = prefix or "output"
        return [p for i, v in enumerate(out) for p in flatten_named(v, f"{stem}_{i}")]
    return []


def output_names(out: Any) -> list[str]:
    names = [n for n, _ in flatten_named(out)]
    seen: dict[str, int] = {}
    unique = []
    for n in names:  # ONNX names must be unique
        seen[n] = seen.get(n, 0) + 1
        unique.append(n if seen[n] == 1 else f"{n}_{seen[n] - 1}")
    return unique


def check_outputs(out: Any, where: str) -> list[tuple[str, Any]]:
    """The named output tensors; ModelError when there is no float tensor among them."""
    named = flatten_named(out)
    if out is None:
        raise ModelError(f"{where} returned None: the forward must return a tensor (or a tuple/dict of tensors)")
    if not any(t.is_floating_point() for _, t in named):
        kinds = ", ".join(f"{n}: {str(t.dtype).removeprefix('torch.')}" for n, t in named) or type(out).__name__
        raise ModelError(f"{where} returned no float tensor ({kinds}): trt-tui compares float outputs")
    return named


# -- calling ---------------------------------------------------------------------------------------
def in_eval(module: Any) -> Any:
    """``module.eval()``, or the module as it is where eval() is refused: a torch.export program's module
    (its mode was fixed when it was exported; eval() raises NotImplementedError)."""
    try:
        return module.eval()
    except NotImplementedError:
        return module


def call(module: Any, inputs: ModelInputs, tensors: dict[str, Any]) -> Any:
    """``module(*tensors)`` or, for keyword inputs, ``module(**tensors)``."""
    if inputs.keyword:
        return module(**tensors)
    return module(*tensors.values())


def forward_params(module: Any) -> list[str]:
    """The names of forward's parameters (a ScriptModule: from its schema), '' where unknown."""
    try:
        schema = module.forward.schema  # TorchScript
        return [a.name for a in schema.arguments[1:]]
    except AttributeError:
        pass
    try:
        sig = inspect.signature(module.forward)
    except (TypeError, ValueError):
        return []
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return [p.name for p in sig.parameters.values() if p.kind in kinds]


# -- example_inputs --------------------------------------------------------------------------------
def read_example(example: Any, module: Any, where: str, batch: int | None = PROBE_BATCH) -> ModelInputs:
    """Specs from what ``example_inputs(PROBE_BATCH)`` returned (``batch`` None: any batch the inputs
    share); ModelError naming the input at fault."""
    import torch

    if isinstance(example, torch.Tensor):
        example = (example,)
    if isinstance(example, dict):
        items, keyword = list(example.items()), True
    elif isinstance(example, (list, tuple)):
        params = forward_params(module)
        names = [params[i] if i < len(params) else f"input_{i}" for i in range(len(example))]
        items, keyword = list(zip(names, example)), False
    else:
        raise ModelError(f"{where} returned {type(example).__name__}: return a tuple or a dict of tensors, batch first")
    if not items:
        raise ModelError(f"{where} returned no inputs")
    if batch is None:
        batch = next((t.shape[0] for _, t in items if isinstance(t, torch.Tensor) and t.dim()), 1)
    specs = [_spec_of(str(name), t, where, batch) for name, t in items]
    return ModelInputs(tuple(specs), keyword=keyword, origin="example_inputs")


def _spec_of(name: str, t: Any, where: str, batch: int) -> InputSpec:
    import torch

    if not isinstance(t, torch.Tensor):
        raise ModelError(f"{where}: input {name!r} is {type(t).__name__}, not a tensor")
    dtype = str(t.dtype).removeprefix("torch.")
    if dtype not in DTYPES:
        raise ModelError(f"{where}: input {name!r} is {dtype}; trt-tui feeds float32, float16, int64, int32, bool")
    if t.dim() < 1 or t.shape[0] != batch:
        raise ModelError(
            f"{where}: input {name!r} has shape {list(t.shape)}; with batch_size={batch} its "
            f"first dim must be {batch} (batch first)"
        )
    spec = InputSpec(name, tuple(t.shape[1:]), dtype)
    values = t.detach().cpu()
    if spec.is_float:
        if is_mask(name, dtype):  # a float mask: ones, as for any mask (README), not its mean and std
            return default_generator(spec)
        mean, std = float(values.float().mean()), float(values.float().std())
        if np.isfinite(mean) and (std == 0 or values.numel() == 1):  # a constant (a scale, a flag): kept
            return InputSpec(
                name, spec.shape, dtype, "normal", round(mean, 6), 0.0, note="the constant of example_inputs"
            )
        if np.isfinite(mean) and np.isfinite(std) and std > 0:
            return (
                spec
                if abs(mean) < 1e-9 and abs(std - 1) < 0.5
                else InputSpec(
                    name,
                    spec.shape,
                    dtype,
                    "normal",
                    round(mean, 6),
                    round(std, 6),
                    note="mean and std of example_inputs",
                )
            )
        return spec
    lo, hi = int(values.min()), int(values.max())
    return default_generator(spec, example_range=(lo, hi))


class ForwardFailed(Exception):
    """The probing forward raised (``cause``); ``rows``: what the hooks saw before it did."""

    def __init__(self, cause: BaseException, rows: dict[str, int]) -> None:
        super().__init__(str(cause))
        self.cause, self.rows = cause, rows


def probe(module: Any, inputs: ModelInputs, tensors: dict[str, Any]) -> tuple[Any, dict[str, int]]:
    """One forward (no grad) and what it showed: its output, and each input -> rows of the smallest
    ``nn.Embedding`` it reaches unchanged (hooks see the index tensors, matched by storage, so views and
    reshapes count; a ScriptModule's inlined graph is read instead). Float inputs are watched too: one that reaches an
    embedding is token ids fed as floats (the forward then fails: ForwardFailed carries what was seen)."""
    import torch

    watched = {n: t for n, t in tensors.items() if t.dtype != torch.bool}
    found: dict[str, int] = {}

    def hook(mod: Any, args: tuple[Any, ...]) -> None:
        idx = args[0] if args else None
        if not isinstance(idx, torch.Tensor):
            return
        for name, t in watched.items():
            if idx.untyped_storage().data_ptr() == t.untyped_storage().data_ptr():
                found[name] = min(found.get(name, mod.num_embeddings), mod.num_embeddings)

    scripted = isinstance(module, torch.jit.ScriptModule)
    if scripted:  # no hooks on a ScriptModule: its graph says which input reaches an embedding
        found.update({n: r for n, r in script_embedding_rows(module).items() if n in watched})
    handles = [
        m.register_forward_pre_hook(hook)
        for m in module.modules()
        if watched and not scripted and isinstance(m, torch.nn.Embedding)
    ]
    try:
        with torch.no_grad():
            return call(module, inputs, tensors), found
    except Exception as e:
        raise ForwardFailed(e, found) from e
    finally:
        for h in handles:
            h.remove()


# A value passes through these unchanged as far as the ids go (TorchScript graph kinds)
_ID_PASSTHROUGH = {
    "aten::view",
    "aten::reshape",
    "aten::contiguous",
    "aten::to",
    "aten::flatten",
    "aten::squeeze",
    "aten::unsqueeze",
    "aten::clone",
    "aten::long",
    "aten::int",
}


def script_embedding_rows(module: Any) -> dict[str, int]:
    """A ScriptModule's inputs -> rows of the smallest embedding table each reaches unchanged: every
    ``aten::embedding`` of the inlined forward graph, its indices traced back to a graph input and its
    weight to the parameter (a chain of ``prim::GetAttr``). Best effort: {} where the graph reads otherwise."""
    import torch

    try:
        graph = module.forward.graph.copy()
        torch._C._jit_pass_inline(graph)
        names = {v.unique(): v.debugName().split(".")[0] for v in list(graph.inputs())[1:]}  # [0] is self
        found: dict[str, int] = {}
        for node in graph.findAllNodes("aten::embedding"):
            weight, ids = list(node.inputs())[:2]
            while ids.node().kind() in _ID_PASSTHROUGH:
                ids = ids.node().inputsAt(0)
            path = []
            while weight.node().kind() == "prim::GetAttr":
                path.append(weight.node().s("name"))
                weight = weight.node().inputsAt(0)
            table = module
            for attr in reversed(path):
                table = getattr(table, attr)
            if ids.unique() in names and hasattr(table, "shape"):
                name, rows = names[ids.unique()], int(table.shape[0])
                found[name] = min(found.get(name, rows), rows)
        return found
    except Exception:  # noqa: BLE001 - a graph of another shape: no rows found, the defaults apply
        return {}


# -- artifacts -------------------------------------------------------------------------------------
def load_torchscript(path: Path) -> Any:
    import torch

    if not path.is_file():
        raise ModelError(f"TorchScript file not found: {path}")
    try:
        return torch.jit.load(str(path), map_location="cpu").eval()
    except Exception as e:
        raise ModelError(
            f"{path} is not a TorchScript file torch.jit.load reads: {first_line(e)}", detail=traceback.format_exc()
        ) from e


def load_exported(path: Path) -> tuple[Any, Any]:
    """(the ExportedProgram, its example inputs as (args, kwargs))."""
    import torch

    if not path.is_file():
        raise ModelError(f"torch.export file not found: {path}")
    try:
        program = torch.export.load(str(path))
    except Exception as e:
        raise ModelError(
            f"{path} is not a torch.export program torch.export.load reads: {first_line(e)}",
            detail=traceback.format_exc(),
        ) from e
    example = getattr(program, "example_inputs", None)
    if not example:
        raise ModelError(f"{path}: the program was saved without example inputs; export it with torch.export.export")
    return program, example


def exported_inputs(program: Any, example: Any) -> tuple[ModelInputs, int | None]:
    """Specs of a torch.export program's user inputs, from its example (names from its signature; a dim
    the program keeps symbolic is dynamic, named by its symbol), and its fixed batch (None: dynamic)."""
    args, kwargs = example
    where = "the program's example inputs"
    specs = read_example(dict(kwargs) if kwargs else tuple(args), program.module(), where, batch=None)
    placeholders = [n for n in program.graph.nodes if n.op == "placeholder"]
    user = [s.arg.name for s in program.graph_signature.input_specs if s.kind.name == "USER_INPUT"]
    vals = {n.name: n.meta.get("val") for n in placeholders}
    shapes: list[Any] = [getattr(vals.get(u), "shape", None) for u in user]
    batch: int | None = None
    if len(shapes) == len(specs) and all(s is not None for s in shapes):
        out = []
        for spec, shape in zip(specs, shapes):
            dims = tuple(None if isinstance(d, int) else str(d) for d in shape[1:])
            out.append(InputSpec(spec.name, spec.shape, spec.dtype, spec.gen, spec.low, spec.high, dims, spec.note))
            if isinstance(shape[0], int):
                batch = int(shape[0])
        specs = specs.with_specs(out)
    return specs, batch
