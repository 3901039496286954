"""Where accuracy is lost: every intermediate tensor of the FP16 / INT8 ONNX against the FP32 one.

Polygraphy's ``--mark all`` for this tool's files. onnxruntime (CPU, graph optimizations off so the
tensor names survive) runs the FP32 ONNX and each variant with every intermediate tensor exposed as a
graph output, on the first samples of the inputs the accuracy columns use. Each float tensor the FP32
graph's nodes produce is compared with the variant's tensor made by the same node:

- a variant tensor of the same name, traced back through the Casts / QuantizeLinear / DequantizeLinear
  the converters insert to the compute node that made it (the FP16 converters and the Q/DQ quantizers
  keep the original names on the float side; a graph output gets a Cast or Q/DQ pair after it);
- else the same output of the variant node of the same name and op (a converter that renamed it).

Per node: max/mean abs error, cosine, relative error ``||out - ref|| / ||ref||`` and ``loss`` (that
relative error capped at 1; 1 for a tensor with inf/NaN where FP32 is finite or all zeros where FP32 is
not) and ``growth`` = its loss minus the largest loss of its inputs: what this node added. A Q/DQ pair's
rounding shows at the node that reads it, so an INT8 activation range too wide for one scale is
charged to the layer that consumes that activation.

TensorRT cannot mark every layer cheaply (marking a tensor as an output stops the fusions that make
the engine what it is), so this per-layer view is onnxruntime's, on the same ONNX files TensorRT
builds from. On the CPU onnxruntime runs FP16 ops it has no FP16 kernel for in FP32 and rounds their
outputs to FP16: accumulation error is smaller than on a GPU; overflow and underflow show the same.
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from trt_tui.core import artifacts
from trt_tui.core.vocab import OnnxVariant, Status

FILE = artifacts.LAYERS
NOTE = (
    "per-layer errors from onnxruntime (CPU, graph optimizations off) on the ONNX files TensorRT builds "
    "from: TensorRT cannot mark every layer as an output cheaply (it stops the fusions)"
)
# Which result rows each variant explains.
VARIANT_ROWS = {"fp16": ("tensorrt-fp16",), "int8": ("tensorrt-int8", "onnxruntime-int8")}
VARIANT_FILES = {"fp16": artifacts.ONNX[OnnxVariant.FP16], "int8": artifacts.ONNX[OnnxVariant.QDQ]}
INSERTED_OPS = ("Cast", "QuantizeLinear", "DequantizeLinear")
# A node "jumps" when it adds at least JUMP_MIN of relative error and at least JUMP_FRAC of the
# largest growth in the graph: the first few in graph order are where the loss starts.
JUMP_MIN, JUMP_FRAC = 0.01, 0.25
DEFAULT_MAX_SAMPLES = 16
DEFAULT_MAX_BYTES = 256 << 20  # exposed outputs held at once, per model, per run


# -- graphs -----------------------------------------------------------------------------------------
def _float_types() -> set[int]:
    from onnx import TensorProto

    return {TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.BFLOAT16, TensorProto.DOUBLE}


def _load(path: Path) -> Any:
    import onnx

    return onnx.load(str(path))


def _typed(model: Any) -> dict[str, tuple[int, list[Any]]]:
    """Tensor name -> (elem_type, dims: int or None) from onnx shape inference (best effort)."""
    import onnx

    try:
        inferred = onnx.shape_inference.infer_shapes(model)
    except Exception:  # noqa: BLE001 - e.g. a >2 GB model or an op inference does not know
        inferred = model
    types: dict[str, tuple[int, list[Any]]] = {}
    g = inferred.graph
    for v in [*g.input, *g.value_info, *g.output]:
        t = v.type.tensor_type
        if t.elem_type:
            dims = (
                [d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim] if t.HasField("shape") else []
            )
            types[v.name] = (t.elem_type, dims)
    return types


def _module_of(node: Any) -> tuple[str, str]:
    """The PyTorch module path and class the dynamo exporter recorded for a node, e.g.
    ('layers.0.linear1', 'Linear'); ('', '') when absent or the top-level module."""
    meta = {p.key: p.value for p in node.metadata_props}
    try:
        scopes = [s for s in json.loads(meta.get("pkg.torch.onnx.name_scopes", "[]").replace("'", '"')) if s]
        classes = json.loads(meta.get("pkg.torch.onnx.class_hierarchy", "[]").replace("'", '"'))
    except ValueError:
        return "", ""
    path = scopes[-2] if len(scopes) >= 2 else ""  # full module paths, then the op's own name
    cls = classes[-2].rsplit(".", 1)[-1] if len(classes) >= 2 and path else ""
    return path, cls


def match_tensors(fp32: Any, variant: Any) -> tuple[dict[str, str], list[str]]:
    """FP32 node-output name -> the variant tensor made by the same node; and the unmatched names.
    Only float tensors of the top-level graph (no Constant nodes) are considered."""
    floats = _float_types()
    ref_types = _typed(fp32)
    ref_nodes = {n.name: n for n in fp32.graph.node if n.name}
    ref_names = {o for n in fp32.graph.node for o in n.output}
    producer = {o: n for n in variant.graph.node for o in n.output if o}
    by_name = {n.name: n for n in variant.graph.node if n.name}
    pairs: dict[str, str] = {}
    unmatched: list[str] = []
    for node in fp32.graph.node:
        if node.op_type == "Constant":
            continue
        for k, name in enumerate(node.output):
            if not name or ref_types.get(name, (0,))[0] not in floats:
                continue
            found = _trace_back(name, producer, ref_nodes) if name in producer else None
            if found is None:
                twin = by_name.get(node.name) if node.name else None
                if twin is not None and twin.op_type == node.op_type and k < len(twin.output):
                    out = twin.output[k]
                    if out and (out == name or out not in ref_names):  # not another FP32 tensor (a fused node)
                        found = out
            if found is None:
                unmatched.append(name)
            else:
                pairs[name] = found
    return pairs, unmatched


def _trace_back(name: str, producer: dict[str, Any], ref_nodes: dict[str, Any]) -> str:
    """From a variant tensor back through inserted Cast / Q / DQ nodes to the compute node's output."""
    seen = set()
    while name in producer and name not in seen:
        seen.add(name)
        node = producer[name]
        original = ref_nodes.get(node.name)
        if node.op_type not in INSERTED_OPS or (original is not None and original.op_type == node.op_type):
            return name  # a compute node (or a Cast the FP32 graph had itself)
        src = node.input[0] if node.input else ""
        if src not in producer:
            return name  # back at a graph input or an initializer: keep the tensor itself
        name = src
    return name


# -- running ------------------------------------------------------------------------------------
def _stored_in_type(model: Any, types: dict[str, tuple[int, list[Any]]]) -> Any:
    """A copy of ``model`` where every FP16/BF16 tensor passes through an Identity before its readers.
    onnxruntime's CPU provider runs FP16 ops it has no kernel for in FP32 and drops the casts between
    them, so a tensor that is not a graph output is never rounded (an overflow vanishes) and exposing a
    tensor changes its readers' numbers. The Identity (which has an FP16 kernel) keeps each tensor
    stored in the type the file declares, whichever tensors a run exposes."""
    import onnx
    from onnx import TensorProto

    low = {TensorProto.FLOAT16, TensorProto.BFLOAT16}
    m = onnx.ModelProto()
    m.CopyFrom(model)
    made = [o for n in m.graph.node for o in n.output if o and types.get(o, (0,))[0] in low]
    if not made:
        return m
    renamed = {o: f"{o}__stored" for o in made}
    nodes = []
    for node in m.graph.node:
        for i, name in enumerate(node.input):
            if name in renamed:
                node.input[i] = renamed[name]
        nodes.append(node)
        nodes.extend(
            onnx.helper.make_node("Identity", [o], [renamed[o]], name=f"{o}__store")
            for o in node.output
            if o in renamed
        )
    del m.graph.node[:]
    m.graph.node.extend(nodes)
    return m


def _session(model: Any, outputs: list[tuple[str, int]], tmp: Path) -> Any:
    """An onnxruntime CPU session of ``model`` whose graph outputs are exactly ``outputs``."""
    import onnx
    import onnxruntime as ort

    m = onnx.ModelProto()
    m.CopyFrom(model)
    del m.graph.output[:]
    m.graph.output.extend(onnx.helper.make_tensor_value_info(n, t, None) for n, t in outputs)
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # names must survive
    so.log_severity_level = 3
    if m.ByteSize() < (1 << 31) - (1 << 24):
        return ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
    path = tmp / f"exposed-{time.monotonic_ns()}.onnx"  # over protobuf's 2 GB: weights beside it
    onnx.save(m, str(path), save_as_external_data=True, location=path.name + ".data")
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def _chunks(names: list[str], sizes: dict[str, int], max_bytes: int) -> list[list[str]]:
    out: list[list[str]] = [[]]
    used = 0
    for n in names:
        if out[-1] and used + sizes[n] > max_bytes:
            out.append([])
            used = 0
        out[-1].append(n)
        used += sizes[n]
    return [c for c in out if c]


def _nbytes(dims: list[Any], samples: int, elem_type: int) -> int:
    import onnx

    itemsize = onnx.helper.tensor_dtype_to_np_dtype(elem_type).itemsize
    n = 1
    for i, d in enumerate(dims or [samples]):
        n *= d if d else (samples if i == 0 else 64)  # unknown dims: a guess, only for chunking
    return max(n, 1) * itemsize


# -- metrics ------------------------------------------------------------------------------------
def tensor_errors(ref: np.ndarray, out: np.ndarray) -> dict[str, Any]:
    """Errors of one tensor against FP32 (float64; over the elements finite in both)."""
    r64 = np.asarray(ref, dtype=np.float64).ravel()
    o64 = np.asarray(out, dtype=np.float64).ravel()
    if r64.size != o64.size:
        return {"error": f"shape {list(np.shape(out))} differs from FP32's {list(np.shape(ref))}"}
    ref_finite = np.isfinite(r64)
    out_finite = np.isfinite(o64)
    both = ref_finite & out_finite
    r, o = r64[both], o64[both]
    diff = np.abs(o - r)
    rn, on, dn = float(np.linalg.norm(r)), float(np.linalg.norm(o)), float(np.linalg.norm(o - r))
    nan_new = int((np.isnan(o64) & ref_finite).sum())
    inf_new = int((np.isinf(o64) & ref_finite).sum())
    ref_nonzero = bool(np.any(r64[ref_finite] != 0))
    all_zero = ref_nonzero and not np.any(o64[out_finite] != 0) and not (nan_new or inf_new)
    cos = (float(r @ o) / (rn * on)) if rn * on > 0 else (1.0 if rn == on == 0 else 0.0)
    rel = dn / rn if rn > 0 else (0.0 if dn == 0 else 1.0)
    loss = 1.0 if (nan_new or inf_new or all_zero) else min(rel, 1.0)
    return {
        "max_abs_err": float(diff.max()) if diff.size else None,
        "mean_abs_err": float(diff.mean()) if diff.size else None,
        "cosine": cos,
        "rel_err": rel,
        "loss": loss,
        "nan": nan_new,
        "inf": inf_new,
        "all_zero": all_zero,
        "fp32_absmax": float(np.abs(r64[ref_finite]).max()) if ref_finite.any() else None,
    }


def _problem(e: dict[str, Any]) -> str:
    if e.get("inf") or e.get("nan"):
        return (
            f"overflow: {e['inf']} inf, {e['nan']} NaN where FP32 is finite (FP32 |max| {e['fp32_absmax']:.3g})"
            if e.get("fp32_absmax") is not None
            else "overflow"
        )
    if e.get("all_zero"):
        return "underflow: all zeros where FP32 is not"
    return ""


# -- one variant --------------------------------------------------------------------------------
def compare_variant(
    fp32_path: Path,
    variant_path: Path,
    x: Any,
    *,
    top: int = 10,
    max_bytes: int = DEFAULT_MAX_BYTES,
    on_progress: Callable[[int, int], None] | None = None,
    tmp: Path | None = None,
) -> dict[str, Any]:
    """Per-node errors of ``variant_path`` against ``fp32_path`` on the batch ``x`` (feeds by input name,
    or the one input's array)."""
    fp32, variant = _load(Path(fp32_path)), _load(Path(variant_path))
    pairs, unmatched = match_tensors(fp32, variant)
    ref_types, var_types = _typed(fp32), _typed(variant)
    variant = _stored_in_type(variant, var_types)
    untyped = [n for n, v in pairs.items() if v not in var_types]
    names = [n for n in pairs if n not in untyped]
    inits = {i.name for i in fp32.graph.initializer}
    feed_names = [i.name for i in fp32.graph.input if i.name not in inits]
    feeds = _feeds(x, feed_names)
    rows = len(next(iter(feeds.values())))
    sizes = {n: _nbytes(ref_types[n][1], rows, ref_types[n][0]) for n in names}
    chunks = _chunks(names, sizes, max_bytes)
    errors: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="trt-tui-layers-") as own_tmp:
        where = Path(tmp or own_tmp)
        for i, chunk in enumerate(chunks):
            ref_sess = _session(fp32, [(n, ref_types[n][0]) for n in chunk], where)
            refs = dict(zip(chunk, ref_sess.run(chunk, feeds)))
            del ref_sess
            want = [pairs[n] for n in chunk]
            var_sess = _session(variant, [(v, var_types[v][0]) for v in dict.fromkeys(want)], where)
            outs = dict(zip(dict.fromkeys(want), var_sess.run(list(dict.fromkeys(want)), feeds)))
            del var_sess
            for n in chunk:
                errors[n] = tensor_errors(refs[n], outs[pairs[n]])
            del refs, outs
            if on_progress:
                on_progress(i + 1, len(chunks))
    floats = {n for n, (t, _) in ref_types.items() if t in _float_types()}
    nodes = _node_rows(fp32, pairs, errors, _int8_inputs(variant), floats)
    return _summarize(nodes, top) | {
        "onnx": str(variant_path),
        "tensors_compared": len(errors),
        "tensors_unmatched": unmatched[:50],
        "tensors_unmatched_count": len(unmatched) + len(untyped),
        "runs": len(chunks),
        "nodes": nodes,
    }


def _int8_inputs(variant: Any) -> dict[str, list[str]]:
    """Variant tensor -> the activations its node reads through a DequantizeLinear (traced back to
    the float tensor that was quantized): where an INT8 rounding enters."""
    producer = {o: n for n in variant.graph.node for o in n.output if o}
    weights = {i.name for i in variant.graph.initializer}
    out: dict[str, list[str]] = {}
    for node in variant.graph.node:
        if node.op_type in INSERTED_OPS:
            continue
        reads = []
        for name in node.input:
            seen_dq = False
            while name in producer and producer[name].op_type in INSERTED_OPS and producer[name].input:
                seen_dq |= producer[name].op_type == "DequantizeLinear"
                name = producer[name].input[0]
            if seen_dq and name not in weights:  # activations; INT8 weights are the norm
                reads.append(name)
        for o in node.output:
            out[o] = reads
    return out


def _node_rows(
    fp32: Any,
    pairs: dict[str, str],
    errors: dict[str, dict[str, Any]],
    int8_inputs: dict[str, list[str]],
    floats: set[str],
) -> list[dict[str, Any]]:
    """One entry per (node, compared output), in graph order, with growth over its inputs."""
    # Loss reaching each tensor: measured where compared; else carried from the node's inputs (a
    # tensor a converter fused away hands its inputs' loss on, so the next compared node is charged
    # with what happened in between, not with everything upstream). Graph inputs and weights: 0.
    loss_of: dict[str, float] = {}
    graph_outputs = {o.name for o in fp32.graph.output}
    rows = []
    for node in fp32.graph.node:
        in_loss = max((loss_of.get(i, 0.0) for i in node.input), default=0.0)
        for out in node.output:
            e = errors.get(out, {})
            loss_of[out] = e.get("loss", in_loss if out in floats else 0.0)
            if out not in errors:
                continue
            e = errors[out]
            module, module_class = _module_of(node)
            row = {
                "node": node.name or out,
                "op": node.op_type,
                "module": module,
                "module_class": module_class,
                "tensor": out,
                "variant_tensor": pairs[out],
                "int8_inputs": int8_inputs.get(pairs[out], []),
                "graph_output": out in graph_outputs,
                **e,
            }
            if "loss" in e:
                row["input_loss"] = in_loss
                row["growth"] = e["loss"] - in_loss
                row["problem"] = _problem(e) if in_loss < 1.0 else ""  # only where it starts
            rows.append(row)
    return rows


def _summarize(nodes: list[dict[str, Any]], top: int) -> dict[str, Any]:
    scored = [n for n in nodes if "growth" in n]
    best = max((n["growth"] for n in scored), default=0.0)
    cut = max(JUMP_MIN, JUMP_FRAC * best)
    jumps = [n["node"] for n in scored if n["growth"] >= cut][:top]
    ranked = sorted(scored, key=lambda n: n["growth"], reverse=True)
    final = [n for n in scored if n.get("graph_output")]
    return {
        "first_jumps": jumps,
        "top_growth": [n["node"] for n in ranked[:top] if n["growth"] > 0],
        "overflow": [
            {"node": n["node"], "module": n["module"], "module_class": n["module_class"], "problem": n["problem"]}
            for n in scored
            if n.get("problem")
        ],
        "output_loss": max((n["loss"] for n in final), default=None),
    }


def _feeds(x: Any, names: list[str]) -> dict[str, np.ndarray]:
    """The graph's feeds: ``x`` by name (core/inputs.named_feeds), floats as float32."""
    from trt_tui.core.inputs import named_feeds

    x = named_feeds(x, names)
    return {
        k: np.ascontiguousarray(v, dtype=np.float32 if np.issubdtype(v.dtype, np.floating) else v.dtype)
        for k, v in x.items()
    }


# -- the whole view -------------------------------------------------------------------------------
def explain(
    fp32_onnx: str | Path,
    variants: Mapping[str, str | Path | None],
    x: Any,
    *,
    max_samples: int = DEFAULT_MAX_SAMPLES,
    top: int = 10,
    max_bytes: int = DEFAULT_MAX_BYTES,
    on_progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """Per-layer comparison of each variant ('fp16', 'int8' -> ONNX path, or None when it is missing)
    against ``fp32_onnx`` on the first samples of ``x``. One variant's failure is recorded, not raised."""
    from trt_tui.core.inputs import tile_feeds

    x = x if isinstance(x, dict) else {"": np.asarray(x, dtype=np.float32)}
    have = len(next(iter(x.values())))
    batch = _static_batch(Path(fp32_onnx))
    n = batch or min(have, max_samples)
    sample: Any = tile_feeds(x, n)
    if "" in sample:  # one input given as an array: the graph's name is found by compare_variant
        sample = sample[""]
    data: dict[str, Any] = {
        "note": NOTE,
        "reference": str(fp32_onnx),
        "samples": int(n),
        "samples_of": int(have),
        "samples_rule": f"the model's fixed batch of {batch}" if batch else f"the first {n} (at most {max_samples})",
        "jump_rule": f"growth >= max({JUMP_MIN}, {JUMP_FRAC} x the largest growth)",
        "variants": {},
    }
    for name, path in variants.items():
        t0 = time.perf_counter()
        entry: dict[str, Any] = {"rows": list(VARIANT_ROWS.get(name, ()))}
        if path is None or not Path(path).is_file():
            entry.update(status=Status.SKIPPED, reason=f"no {VARIANT_FILES.get(name, name)} to compare")
        else:
            try:
                progress = (lambda s, t, _n=name: on_progress(_n, s, t)) if on_progress else None
                entry.update(
                    status=Status.OK,
                    **compare_variant(
                        Path(fp32_onnx), Path(path), sample, top=top, max_bytes=max_bytes, on_progress=progress
                    ),
                )
            except Exception as exc:  # noqa: BLE001 - one variant's failure must not stop the other
                entry.update(
                    status=Status.FAILED,
                    reason=f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}",
                )
        entry["seconds"] = round(time.perf_counter() - t0, 3)
        data["variants"][name] = entry
    return data


def _static_batch(path: Path) -> int | None:
    model = _load(path)
    inits = {i.name for i in model.graph.initializer}
    for i in model.graph.input:
        if i.name not in inits:
            dims = i.type.tensor_type.shape.dim
            return int(dims[0].dim_value) if dims and dims[0].HasField("dim_value") else None
    return None


# -- files and words ------------------------------------------------------------------------------
def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def write(out_dir: str | Path, data: dict[str, Any]) -> Path:
    from . import atomic

    path = Path(out_dir) / FILE
    atomic.write_text(path, json.dumps(_json_safe(data), indent=1))
    return path


def load(out_dir: str | Path) -> dict[str, Any] | None:
    """layers.json of a results folder, or None when there is none (or it cannot be read)."""
    try:
        return json.loads((Path(out_dir) / FILE).read_text())
    except (OSError, ValueError):
        return None


def by_node(entry: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["node"]: n for n in entry.get("nodes", [])}


def describe(n: dict[str, Any]) -> str:
    """One line for one node: name (module), op, what it added, its errors."""
    where = f"{where_of(n)} {n['op']}"
    if "growth" not in n:
        return f"{where}: {n.get('error', 'not compared')}"
    text = (
        f"{where}: +{n['growth']:.3g} (in {n['input_loss']:.3g} -> out {n['loss']:.3g}), "
        f"cos {n['cosine']:.4f}, max abs {_g(n.get('max_abs_err'))}"
    )
    acts = [i for i in n.get("int8_inputs", []) if i != n.get("tensor")]
    if acts:
        text += f", reads INT8 {', '.join(acts[:3])}"
    return text + (f" — {n['problem']}" if n.get("problem") else "")


def where_of(n: dict[str, Any]) -> str:
    """'node_linear_1 [big: Linear]': the ONNX node and the PyTorch module it came from."""
    module = ": ".join(p for p in (n.get("module"), n.get("module_class")) if p)
    return n["node"] + (f" [{module}]" if module else "")


def _g(v: Any) -> str:
    return "—" if v is None else f"{v:.3g}"


def summary_lines(data: dict[str, Any], top: int = 5) -> list[str]:
    """What the CLI prints: per variant, the overflow/underflow, the first jumps and the top growth."""
    lines = [
        f"per-layer accuracy on {data.get('samples')} samples — onnxruntime on the same ONNX files "
        "(TensorRT cannot mark every layer cheaply); + = relative error a node adds:"
    ]
    for name, entry in data.get("variants", {}).items():
        if entry.get("status") != Status.OK:
            lines.append(f"  {name}: {entry.get('status')} — {entry.get('reason')}")
            continue
        nodes = by_node(entry)
        lines.append(
            f"  {name}: {entry['tensors_compared']} tensors compared, output rel err "
            f"{_g(entry.get('output_loss'))}; first jump: {', '.join(entry['first_jumps'][:3]) or 'none'}"
        )
        for o in entry.get("overflow", [])[:top]:
            lines.append(f"    ! {where_of(o)}: {o['problem']}")
        for node in entry.get("top_growth", [])[:top]:
            lines.append("    " + describe(nodes[node]))
    return lines


def rows_view(data: dict[str, Any] | None, row_id: str) -> tuple[str, dict[str, Any]] | None:
    """The (variant name, entry) of layers.json that explains a result row, if any."""
    if not data:
        return None
    for name, entry in data.get("variants", {}).items():
        if row_id in entry.get("rows", ()):
            return name, entry
    return None


def variant_paths(out_dir: Path, fp16: Path | None, int8: Path | None) -> dict[str, Path | None]:
    return {
        "fp16": fp16 or _existing(out_dir / VARIANT_FILES["fp16"]),
        "int8": int8 or _existing(out_dir / VARIANT_FILES["int8"]),
    }


def _existing(path: Path) -> Path | None:
    return path if path.is_file() else None
