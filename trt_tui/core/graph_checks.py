"""Structural checks on the explicit-precision ONNX graphs that strongly typed TensorRT builds.

INT8 (Q/DQ): TensorRT's builder accepts a quantized constant only in front of a DequantizeLinear whose
output is a weight of Conv / ConvTranspose / Gemm / MatMul ("Quantized constant … is only allowed before
DQ"). A quantized constant is an INT8 initializer (onnxruntime's weights) or a QuantizeLinear of a float
constant (ModelOpt's weight Q/DQ pairs, which TensorRT folds into one).

FP16: no node may get float inputs of different types where its schema ties them to one type
(TensorRT's parser: "input and updates must have identical types"). Types come from ONNX shape
inference; inputs under different type constraints (Resize's float ``scales``) are fine.

Both return one short line per problem (empty list = the graph is fine), naming the node.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

WEIGHT_OPS = frozenset({"Conv", "ConvTranspose", "Gemm", "MatMul"})
# Layout-only ops TensorRT folds between a weight's DQ and its consumer (e.g. Gemm's transposed weight).
PASS_THROUGH = frozenset({"Transpose", "Reshape", "Unsqueeze", "Squeeze", "Identity", "Flatten"})


def _load(model_or_path: Any):
    import onnx

    if isinstance(model_or_path, onnx.ModelProto):
        return model_or_path
    return onnx.load(str(model_or_path), load_external_data=False)


def _consumers(graph) -> dict[str, list[tuple[Any, int]]]:
    uses: dict[str, list[tuple[Any, int]]] = defaultdict(list)
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name:
                uses[name].append((node, i))
    return uses


def _label(node) -> str:
    return f"{node.op_type} {node.name or '(unnamed)'}"


def int8_placement_problems(model_or_path: Any) -> list[str]:
    """Quantized constants that feed anything but DQ → (Transpose/Reshape…) → Conv/ConvTranspose/Gemm/MatMul."""
    from onnx import TensorProto

    graph = _load(model_or_path).graph
    int8 = (TensorProto.INT8, TensorProto.UINT8)
    float_consts = {i.name for i in graph.initializer if i.data_type not in int8}
    quantized = {i.name for i in graph.initializer if i.data_type in int8}
    for node in graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            (quantized if node.attribute[0].t.data_type in int8 else float_consts).add(node.output[0])
    for node in graph.node:  # Q(float constant): TensorRT folds it into a quantized constant
        if node.op_type == "QuantizeLinear" and node.input[0] in float_consts:
            quantized.add(node.output[0])
    uses = _consumers(graph)
    problems: list[str] = []

    def reaches_weight_op(tensor: str, via: str, depth: int = 0) -> None:
        for consumer, _ in uses.get(tensor, []):
            if consumer.op_type in WEIGHT_OPS:
                continue
            if consumer.op_type in PASS_THROUGH and depth < 4:
                for out in consumer.output:
                    reaches_weight_op(out, via, depth + 1)
                continue
            problems.append(
                f"quantized constant {via} reaches {_label(consumer)} (only Conv/ConvTranspose/Gemm/MatMul)"
            )

    for name in sorted(quantized):
        for node, idx in uses.get(name, []):
            if node.op_type in ("QuantizeLinear", "DequantizeLinear") and idx == 2:
                continue  # a zero point
            if node.op_type != "DequantizeLinear" or idx != 0:
                problems.append(f"quantized constant {name} feeds {_label(node)} (only DequantizeLinear allowed)")
                continue
            reaches_weight_op(node.output[0], name)
    return problems


def _tensor_types(model) -> dict[str, int]:
    import onnx

    try:
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False)
    except Exception:  # noqa: BLE001 - e.g. > 2 GB protos: fall back to the declared types
        inferred = model
    g = inferred.graph
    types: dict[str, int] = {}
    for vi in [*g.input, *g.output, *g.value_info]:
        if vi.type.HasField("tensor_type") and vi.type.tensor_type.elem_type:
            types[vi.name] = vi.type.tensor_type.elem_type
    for init in g.initializer:
        types[init.name] = init.data_type
    for node in g.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            types[node.output[0]] = node.attribute[0].t.data_type
        if node.op_type == "Cast":
            to = next((a.i for a in node.attribute if a.name == "to"), 0)
            if to:
                types.setdefault(node.output[0], to)
    return types


def _type_groups(node, opset: int) -> list[list[int]]:
    """Input indices that the op's schema ties to one type variable (all inputs when no schema)."""
    import onnx

    try:
        schema = onnx.defs.get_schema(node.op_type, opset, node.domain or "")
    except Exception:  # noqa: BLE001 - custom domain / unknown op: compare all its inputs
        return [list(range(len(node.input)))]
    groups: dict[str, list[int]] = defaultdict(list)
    formal = list(schema.inputs)
    for i in range(len(node.input)):
        if not formal:
            break
        f = formal[min(i, len(formal) - 1)]  # variadic: the last formal input repeats
        groups[f.type_str].append(i)
    return [idx for type_str, idx in groups.items() if len(idx) > 1]


def mixed_float_nodes(model_or_path: Any) -> list[str]:
    """Nodes whose float inputs mix float32/float16/bfloat16 where the schema wants one type."""
    from onnx import TensorProto

    model = _load(model_or_path)
    floats = {TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.BFLOAT16, TensorProto.DOUBLE}
    names: dict[int, str] = {
        TensorProto.FLOAT: "float",
        TensorProto.FLOAT16: "half",
        TensorProto.BFLOAT16: "bfloat16",
        TensorProto.DOUBLE: "double",
    }
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 18)
    types = _tensor_types(model)
    problems: list[str] = []
    for node in model.graph.node:
        for group in _type_groups(node, opset):
            seen = {
                types[node.input[i]]
                for i in group
                if i < len(node.input) and node.input[i] and types.get(node.input[i]) in floats
            }
            if len(seen) > 1:
                kinds = "/".join(sorted(names[t] for t in seen))
                problems.append(f"{_label(node)} mixes {kinds} inputs")
                break
    return problems


def summary(problems: list[str]) -> str:
    """One line for a row's reason or a warning: the first problem and how many more."""
    if not problems:
        return ""
    more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
    return problems[0] + more
