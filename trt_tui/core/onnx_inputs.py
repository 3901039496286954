"""What an ONNX graph says about its inputs: names, dtypes, fixed and named dims, and which integer
inputs index an embedding table (and how many rows it has), so token ids are drawn below it.

Reads the graph with ``onnx`` only (no torch, no onnxruntime): the CLI and the app call it to check
a user's options against an ONNX file before any process starts.
"""

from __future__ import annotations

from typing import Any

from .inputs import InputSpec, ModelInputs, default_generator

# ONNX TensorProto element types -> the dtype names of core/inputs.py (what trt-tui can feed)
ONNX_DTYPES = {1: "float32", 10: "float16", 7: "int64", 6: "int32", 9: "bool"}
# ops an id tensor passes through unchanged on its way to a Gather (shape and type only)
PASS_THROUGH = {"Cast", "Reshape", "Unsqueeze", "Squeeze", "Flatten", "Identity", "Expand", "Slice"}


def graph_inputs(model: Any) -> list[Any]:
    inits = {i.name for i in model.graph.initializer}
    return [i for i in model.graph.input if i.name not in inits]


def read_inputs(model: Any, where: str = "the ONNX file") -> tuple[ModelInputs, int | None]:
    """The graph's inputs as specs (a dynamic non-batch dim: size 0, named by its dim_param) and the
    fixed batch size (None when the batch dim is dynamic). ValueError naming an input it cannot feed."""
    specs, batches = [], set()
    for v in graph_inputs(model):
        tt = v.type.tensor_type
        dtype = ONNX_DTYPES.get(tt.elem_type)
        if dtype is None:
            import onnx

            kind = onnx.TensorProto.DataType.Name(tt.elem_type)
            raise ValueError(f"{where}: input {v.name!r} is {kind}; trt-tui feeds float32, float16, int64, int32, bool")
        dims = list(tt.shape.dim)
        if not dims:
            raise ValueError(f"{where}: input {v.name!r} is a scalar; trt-tui needs (batch, ...) inputs")
        first = dims[0]
        batches.add(first.dim_value if first.HasField("dim_value") and first.dim_value > 0 else None)
        shape, names = [], []
        for i, d in enumerate(dims[1:], start=1):
            fixed = d.HasField("dim_value") and d.dim_value > 0
            shape.append(d.dim_value if fixed else 0)
            names.append(None if fixed else (d.dim_param or f"{v.name}_{i}"))
        specs.append(InputSpec(v.name, tuple(shape), dtype, dims=tuple(names)))
    fixed = {b for b in batches if b is not None}
    if len(fixed) > 1:
        raise ValueError(f"{where}: the inputs' batch dims differ ({sorted(fixed)})")
    batch = next(iter(fixed)) if fixed and None not in batches else None
    tables = embedding_rows(model)
    specs = [default_generator(s, tables.get(s.name)) for s in specs]
    return ModelInputs(tuple(specs), keyword=False, origin="onnx"), batch


def embedding_rows(model: Any) -> dict[str, int]:
    """Integer graph input -> rows of the smallest embedding table it indexes (a Gather on axis 0 whose
    data is an initializer or Constant, reached through casts/reshapes)."""
    g = model.graph
    shapes = {i.name: list(i.dims) for i in g.initializer}
    for n in g.node:
        if n.op_type == "Constant":
            for a in n.attribute:
                if a.name == "value" and a.t is not None:
                    shapes[n.output[0]] = list(a.t.dims)
    consumers: dict[str, list[Any]] = {}
    for n in g.node:
        for name in n.input:
            consumers.setdefault(name, []).append(n)
    found: dict[str, int] = {}
    for v in graph_inputs(model):
        if ONNX_DTYPES.get(v.type.tensor_type.elem_type) not in ("int64", "int32"):
            continue
        rows = _tables_reached(v.name, consumers, shapes)
        if rows:
            found[v.name] = min(rows)
    return found


def _tables_reached(start: str, consumers: dict[str, list[Any]], shapes: dict[str, list[int]]) -> list[int]:
    rows, todo, seen = [], [start], set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for n in consumers.get(name, []):
            if n.op_type == "Gather" and len(n.input) > 1 and n.input[1] == name and _axis(n) == 0:
                table = shapes.get(n.input[0])
                if table and len(table) == 2 and table[0] > 0:
                    rows.append(int(table[0]))
            elif n.op_type in PASS_THROUGH and n.input and n.input[0] == name:
                todo.extend(n.output)
    return rows


def _axis(node: Any) -> int:
    return next((a.i for a in node.attribute if a.name == "axis"), 0)
