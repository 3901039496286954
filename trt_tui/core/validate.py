"""Checks of a run's settings, made by the caller (CLI or app form) before any process starts.

Text -> value parsers (``parse_shape``, ``parse_number``, ``parse_names``) raise ValueError with a
short reason; ``number_problem`` and ``model_problems`` say what is wrong with typed values ('' /
{} when nothing is). Nothing here imports torch or runs the user's code: a model file is only read
and parsed (``ast``), so a syntax error or a missing factory is found in milliseconds.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import math
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Said when a model's input shapes are unknown: an image's and a text model's forms (ids are found at load)
SHAPE_HINT = "3,224,224 for one input, or --input-shapes input_ids:[128] by name (token ids become int64)"


@dataclass(frozen=True)
class Number:
    """The range of one numeric setting: ``low <= value <= high`` (``low < value`` when ``open_low``)."""

    kind: type  # int or float
    low: float
    high: float
    open_low: bool = False

    def describe(self) -> str:
        what = "a whole number" if self.kind is int else "a number"
        return f"{what} {'>' if self.open_low else '>='} {self.low:g}"


# Lower bounds are what the pipeline needs; upper bounds only keep a typo (1e30) from reaching the child.
NUMBERS: dict[str, Number] = {
    "batch_size": Number(int, 1, 2**31 - 1),
    "iterations": Number(int, 1, 10**9),
    "warmup": Number(int, 0, 10**9),
    "max_seconds": Number(float, 0, 10**7, open_low=True),
    "calib_samples": Number(int, 1, 10**9),
    "workspace_mib": Number(int, 1, 2**24),  # 1 MiB .. 16 TiB
    "seed": Number(int, 0, 2**32 - 1),  # what every RNG the pipeline seeds accepts
    "eval_samples": Number(int, 1, 10**7),
}
SHAPE_DIM_MAX = 2**31 - 1  # TensorRT dimensions are 32-bit
_SHAPE = re.compile(r"\s*[0-9]+(?:\s*[,x×]\s*[0-9]+)*\s*")


def shown(value: object) -> str:
    """A value as the user typed it, on one line: plain when it is a simple token, quoted otherwise."""
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    text = str(value)
    return text if re.fullmatch(r"[\w.,:/+@%=~-]+", text, re.ASCII) else repr(text)


def parse_shape(text: str) -> tuple[int, ...]:
    """'3,224,224' or '3x224x224' -> (3, 224, 224): positive integers separated by commas or x, nothing else."""
    if not _SHAPE.fullmatch(text):
        raise ValueError("must be positive integers separated by commas (or x), e.g. 3,224,224")
    shape = tuple(int(p) for p in re.split(r"[,x×]", text.replace(" ", "")))
    if any(d < 1 for d in shape):
        raise ValueError("must be positive integers separated by commas (or x), e.g. 3,224,224")
    if any(d > SHAPE_DIM_MAX for d in shape):
        raise ValueError(f"each dimension must be from 1 to {SHAPE_DIM_MAX:,}, e.g. 3,224,224")
    return shape


def parse_number(name: str, text: str) -> int | float:
    """Text -> the setting's value, in its range; ValueError with the reason otherwise."""
    rule = NUMBERS[name]
    try:
        value: int | float = int(text) if rule.kind is int else float(text)
    except ValueError:
        raise ValueError(f"must be {rule.describe()}") from None
    problem = number_problem(name, value)
    if problem:
        raise ValueError(problem)
    return value


def number_problem(name: str, value: object) -> str:
    """What is wrong with a numeric setting's value ('' when nothing)."""
    rule = NUMBERS[name]
    ok_type = isinstance(value, int) if rule.kind is int else isinstance(value, (int, float))
    if not ok_type or isinstance(value, bool) or (isinstance(value, float) and not math.isfinite(value)):
        return f"must be {rule.describe()}"
    if not (value > rule.low if rule.open_low else value >= rule.low):  # type: ignore[operator]  # a number: checked above
        return f"must be {rule.describe()}"
    return "" if value <= rule.high else f"must be at most {int(rule.high):,}"  # type: ignore[operator]  # a number: checked above


def parse_names(text: str, allowed: Iterable[str], what: str) -> tuple[str, ...]:
    """'a, b' -> ('a', 'b'), each among ``allowed``, in the order given, duplicates dropped."""
    allowed = tuple(allowed)
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    unknown = [n for n in names if n not in allowed]
    if unknown:
        raise ValueError(f"unknown {what}: {', '.join(shown(n) for n in unknown)} (choose among {', '.join(allowed)})")
    if not names:
        raise ValueError(f"choose at least one of {', '.join(allowed)}")
    return names


# -- opset --------------------------------------------------------------------------------------
@functools.cache
def _torch_onnx_constants() -> dict[str, int]:
    """torch.onnx's opset limits, read from its source without importing torch (the app never does)."""
    try:
        spec = importlib.util.find_spec("torch")
        roots = list(spec.submodule_search_locations or []) if spec else []
        source = (Path(roots[0]) / "onnx" / "_constants.py").read_text(encoding="utf-8") if roots else ""
        tree = ast.parse(source)
    except (OSError, SyntaxError, ValueError, ImportError):
        return {}
    found: dict[str, int] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, int):
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id.endswith("OPSET"):
                    found[target.id] = node.value.value
    return found


def opset_range(exporter: str) -> tuple[int, int | None]:
    """The ONNX opsets the installed torch.onnx exporter can write (None: upper bound unknown)."""
    c = _torch_onnx_constants()
    high = c.get("ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET") if exporter == "torchscript" else c.get("ONNX_MAX_OPSET")
    return c.get("ONNX_MIN_OPSET", 7), high


def opset_problem(opset: object, exporter: str) -> str:
    low, high = opset_range(exporter)
    if isinstance(opset, int) and not isinstance(opset, bool) and low <= opset and (high is None or opset <= high):
        return ""
    span = f"from {low} to {high}" if high is not None else f">= {low}"
    return f"the installed {exporter} exporter writes opsets {span}"


# -- model --------------------------------------------------------------------------------------
def _bound_names(body: list[ast.stmt]) -> tuple[set[str], set[str], bool]:
    """Names a module binds at its top level (functions apart); True when it may bind more at run
    time (``from x import *``, ``globals()``, a module ``__getattr__``), so a miss proves nothing."""
    names: set[str] = set()
    functions: set[str] = set()
    dynamic = False

    def targets(node: ast.AST) -> None:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name):
                names.add(sub.id)

    for stmt in body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(stmt.name)
            functions.add(stmt.name)
        elif isinstance(stmt, ast.ClassDef):
            names.add(stmt.name)
        elif isinstance(stmt, ast.Assign):
            for t in stmt.targets:
                targets(t)
        elif isinstance(stmt, (ast.AnnAssign, ast.AugAssign)):
            targets(stmt.target)
        elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
            for alias in stmt.names:
                if alias.name == "*":
                    dynamic = True
                names.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(stmt, (ast.For, ast.AsyncFor)):
            targets(stmt.target)
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            for item in stmt.items:
                if item.optional_vars is not None:
                    targets(item.optional_vars)
        for field in ("body", "orelse", "finalbody", "handlers"):  # if/try/with/for/while blocks at top level
            inner = getattr(stmt, field, None)
            if isinstance(inner, list) and not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                blocks = [h for h in inner if isinstance(h, ast.stmt)]
                for handler in inner:
                    if isinstance(handler, ast.ExceptHandler):
                        blocks.extend(handler.body)
                more, funcs, dyn = _bound_names(blocks)
                names |= more
                functions |= funcs
                dynamic = dynamic or dyn
        for sub in ast.walk(stmt):
            if isinstance(sub, ast.NamedExpr):
                targets(sub.target)
            elif isinstance(sub, ast.Name) and sub.id in ("globals", "exec", "vars"):
                dynamic = True
    return names, functions, dynamic or "__getattr__" in names


@functools.lru_cache(maxsize=64)
def _user_file_problem(path: str, factory: str, stamp: tuple[int, int]) -> str:
    """Parse (never run) the user's file; cached per file version, as the app form asks on each keystroke."""
    try:
        source = Path(path).read_bytes()
    except OSError as exc:
        return f"cannot read {shown(path)}: {exc.strerror or exc}"
    try:
        tree = ast.parse(source, filename=path)
    except SyntaxError as exc:
        return f"syntax error in {shown(path)} line {exc.lineno}: {exc.msg}"
    except ValueError as exc:  # null bytes, undecodable source
        return f"{shown(path)} is not Python source: {exc}"
    names, functions, dynamic = _bound_names(tree.body)
    if factory in names or dynamic:
        return ""
    public = sorted(n for n in functions if not n.startswith("_"))
    return f"{shown(path)} has no function {factory!r} (functions there: {', '.join(public) or 'none'})"


FILE_KINDS = {".onnx": "ONNX", ".pt": "TorchScript", ".pt2": "torch.export"}


def defines(path: str, name: str) -> bool:
    """Whether the model file binds ``name`` at its top level (parsed, never run)."""
    try:
        st = Path(path).stat()
        return name in _top_names(path, (st.st_mtime_ns, st.st_size))
    except OSError:
        return False


@functools.lru_cache(maxsize=64)
def _top_names(path: str, stamp: tuple[int, int]) -> frozenset[str]:
    try:
        return frozenset(_bound_names(ast.parse(Path(path).read_bytes(), filename=path).body)[0])
    except (OSError, SyntaxError, ValueError):
        return frozenset()


def input_problems(cfg: Any) -> dict[str, str]:
    """Field -> problem for the inputs given by name, as far as it can be told without running the model:
    for an ONNX file its graph inputs are read (names, ranks, dtypes, sizes of dynamic dims)."""
    from trt_tui.core import inputs as inp

    bad: dict[str, str] = {}
    for name, dtype in cfg.input_dtypes.items():
        if dtype not in inp.DTYPES:
            bad["input_dtypes"] = f"input {name!r}: dtype must be one of {', '.join(inp.DTYPES)}"
    for name, (lo, hi) in cfg.val_ranges.items():
        if lo > hi:
            bad["val_ranges"] = f"input {name!r}: range [{lo:g}, {hi:g}] is empty (low > high)"
    if cfg.input_shape is not None and cfg.input_shapes:
        bad["input_shapes"] = "give --input-shape (one input) or --input-shapes (by name), not both"
    if bad or not isinstance(cfg.model, str) or not cfg.model.strip().lower().endswith(".onnx"):
        return bad | _dim_problems(cfg, None)
    path = Path(os.path.expanduser(cfg.model.strip()))
    try:
        st = path.stat()
    except OSError:
        return bad
    ov = cfg.overrides()
    problem, dims = _onnx_input_problem(
        str(path),
        (st.st_mtime_ns, st.st_size),
        cfg.input_shape,
        tuple(sorted(cfg.input_shapes.items())),
        tuple(sorted(cfg.input_dtypes.items())),
        tuple(sorted(cfg.val_ranges.items())),
        cfg.dynamic_dims,
        tuple(sorted(ov.sizes.items())),
    )
    if problem:
        return {"input_shapes": problem}
    return _dim_problems(cfg, dims)


def _dim_problems(cfg: Any, known: tuple[str, ...] | None) -> dict[str, str]:
    """--sweep / --profile name dims the model has (``known``: the ONNX file's and --dynamic's)."""
    names = set(known or ()) | {d for _, _, d in cfg.dynamic_dims}
    for field_name, given in (("sweep", cfg.sweep), ("profile", cfg.profile)):
        for dim in given:
            exported = isinstance(cfg.model, str) and cfg.model.strip().lower().endswith(".pt2")
            if dim not in names and (known is not None or not exported):
                listed = ", ".join(sorted(names)) or "none (mark one with --dynamic input:axis=name)"
                return {field_name: f"{dim!r} is not a dynamic dim of this model (its dynamic dims: {listed})"}
    for dim, sizes in cfg.sweep.items():
        lo, _, hi = cfg.profile.get(dim, (min(sizes), 0, max(sizes)))
        if any(not lo <= s <= hi for s in sizes):
            return {"sweep": f"{dim}: sizes {','.join(map(str, sizes))} fall outside the profile's {lo}..{hi}"}
    return {}


@functools.lru_cache(maxsize=32)
def _onnx_input_problem(
    path: str, stamp: tuple[int, int], shape: Any, shapes: Any, dtypes: Any, ranges: Any, dynamic: Any, sizes: Any
) -> tuple[str, tuple[str, ...]]:
    """('' or the one-line problem, the names of the model's dynamic dims) for an ONNX file and the options."""
    try:
        import onnx

        from trt_tui.core import inputs as inp
        from trt_tui.core.onnx_inputs import read_inputs

        found, _ = read_inputs(onnx.load(path, load_external_data=False), shown(path))
        ov = inp.Overrides(dict(shapes), dict(dtypes), dict(ranges), tuple(dynamic), dict(sizes))
        out = inp.with_user(found, tuple(shape) if shape is not None else None, ov)
        return "", tuple(out.dim_sizes())
    except ValueError as exc:  # an InputError too
        return str(exc), ()
    except Exception:  # noqa: BLE001 - an unreadable file is the loader's to report, in the child
        return "", ()


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):  # a name the OS cannot take (NUL byte, too long)
        return False


def is_user_model(model: str) -> bool:
    text = model.strip()
    return ":" in text and text.rsplit(":", 1)[0].endswith(".py")


def model_problems(
    model: str, input_shape: tuple[int, ...] | None, builtins: Iterable[str] | None = None, named: bool = False
) -> dict[str, str]:
    """Field -> problem for the model and its input shape, as load_model would find them, without
    importing torch or running the user's code. ``named``: the inputs are given by name (--input-shapes)."""
    text = model.strip()
    if not text:
        return {"model": "choose a model"}
    suffix = Path(text).suffix.lower()
    if suffix in FILE_KINDS:
        path = Path(os.path.expanduser(text))  # (Path.expanduser raises on an unknown ~user)
        if not _is_file(path):
            return {"model": f"{FILE_KINDS[suffix]} file not found: {shown(str(path))}"}
        if suffix == ".pt" and input_shape is None and not named:
            return {"input_shape": f"a TorchScript model needs its input shape per sample: {SHAPE_HINT}"}
        return {}
    if is_user_model(text):
        file, factory = text.rsplit(":", 1)
        path = Path(os.path.expanduser(file))
        bad: dict[str, str] = {}
        if not factory.isidentifier():
            bad["model"] = f"{factory!r} is not a function name (write path/to/file.py:factory)"
        elif not _is_file(path):
            bad["model"] = f"model file not found: {shown(str(path))}"
        else:
            try:
                st = path.stat()
                problem = _user_file_problem(str(path), factory, (st.st_mtime_ns, st.st_size))
            except OSError as exc:
                problem = f"cannot read {shown(str(path))}: {exc.strerror or exc}"
            if problem:
                bad["model"] = problem
        if input_shape is None and not named and not defines(str(path), "example_inputs"):
            bad["input_shape"] = (
                f"a user model (file.py:factory) needs its input shape per sample: {SHAPE_HINT}, "
                "or example_inputs(batch_size) in the file"
            )
        return bad
    if text.endswith(".py"):
        return {"model": f"name the factory function too, as {shown(text + ':make_model')}"}
    if builtins is None:
        from trt_tui.core.models import BUILTINS  # cheap: numpy only

        builtins = BUILTINS
    names = list(builtins)
    if text not in names:
        return {"model": f"unknown model: built-ins are {', '.join(names)}; or file.py:factory, or model.onnx"}
    return {}


def path_problem(text: str, what: str) -> str:
    """A path the OS cannot take at all (a NUL byte), found now rather than in the child."""
    return f"{what} cannot contain a NUL byte" if "\0" in text else ("" if text.strip() else f"{what} is empty")


def file_problem(text: str, what: str, suffixes: tuple[str, ...] = ()) -> str:
    bad = path_problem(text, what)
    if bad:
        return bad
    path = Path(os.path.expanduser(text))
    if suffixes and path.suffix.lower() not in suffixes:
        return f"{what} must be a {' or '.join(suffixes)} file"
    return "" if _is_file(path) else f"{what} not found: {shown(str(path))}"
