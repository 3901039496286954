"""A model's inputs as a list: one ``InputSpec`` per input (name, per-sample shape, dtype, value
generator, dynamic dims), and the random feeds every stage draws from them.

Where the specs come from (``core/models.py`` reads them; the user's options override them last):
a built-in model or ``--input-shape`` (one float input named ``input``), a model file's
``example_inputs(batch_size)`` (names, dtypes, shapes and ranges read from the tensors it returns),
an ONNX file's graph inputs. Conventions follow Polygraphy (``--input-shapes name:[d0,d1]``,
``--val-range name:[lo,hi]``, inclusive integer ranges); shapes here are per sample (the batch is
``--batch-size``), as trt-tui's ``--input-shape`` always was.

Defaults, chosen so a model runs without the user saying anything (Polygraphy draws {0,1} for ints,
trtexec [-128,127], ModelOpt [0,50000): each can index past an embedding table):
- float: standard normal (``normal``), or uniform in ``--val-range``;
- an integer input that reaches an embedding ``Gather`` in the graph: uniform integers below the
  table's first dimension (``core/onnx_inputs.py`` reads it);
- a mask (bool, or a name containing ``mask``): ones;
- any other integer: the range of the example the model file gave, else {0, 1}.

A dynamic dim has a name (``seq``: from ONNX ``dim_param``, ``--dynamic input_ids:1=seq``); every
input dim of one name takes one size, so a sweep over ``seq`` changes ``input_ids`` and
``attention_mask`` together. Plain numpy: imported by the CLI and the app, never torch.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

# dtype names as numpy spells them; the ONNX/TensorRT names map onto these
DTYPES = ("float32", "float16", "int64", "int32", "bool")
FLOATS = ("float32", "float16")
GENERATORS = ("normal", "uniform", "randint", "ones")
DTYPE_LIMITS = {
    "int64": (-(2**63), 2**63 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "bool": (0, 1),
    "float16": (-65504.0, 65504.0),
    "float32": (-3.4e38, 3.4e38),
}
DEFAULT_NAME = "input"  # the one input of a built-in model or a --input-shape model
Feeds = dict[str, np.ndarray]  # one batch: input name -> array (batch first), in the model's input order


class InputError(ValueError):
    """A problem with one input, worded for the user (it names the input)."""


@dataclass(frozen=True)
class InputSpec:
    name: str
    shape: tuple[int, ...]  # per sample, the sizes in use (batch excluded)
    dtype: str = "float32"
    gen: str = "normal"  # normal | uniform | randint | ones
    low: float | None = None  # uniform/randint: inclusive range; normal: mean
    high: float | None = None  # uniform/randint: inclusive range; normal: standard deviation
    dims: tuple[str | None, ...] = ()  # per-sample dim -> the name of a dynamic dim (None: fixed)
    note: str = ""  # why this generator, said once to the user and kept in results.json

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", tuple(int(d) for d in self.shape))
        dims = tuple(self.dims) or (None,) * len(self.shape)
        object.__setattr__(self, "dims", dims)

    @property
    def is_float(self) -> bool:
        return self.dtype in FLOATS

    def shape_at(self, sizes: Mapping[str, int] | None = None) -> tuple[int, ...]:
        """Per-sample shape with the named dynamic dims at ``sizes`` (the others as given)."""
        sizes = sizes or {}
        return tuple(sizes.get(sym, d) if sym else d for d, sym in zip(self.shape, self.dims))

    def draw(self, rng: np.random.Generator, batch: int, sizes: Mapping[str, int] | None = None) -> np.ndarray:
        shape = (batch, *self.shape_at(sizes))
        if self.gen == "ones":
            return np.ones(shape, dtype=self.dtype)
        if self.gen == "randint":
            lo, hi = int(self.low or 0), int(self.high if self.high is not None else 1)
            return rng.integers(lo, hi, size=shape, endpoint=True).astype(self.dtype)
        if self.gen == "uniform":
            return rng.uniform(self.low or 0.0, 1.0 if self.high is None else self.high, size=shape).astype(self.dtype)
        mean, std = self.low or 0.0, 1.0 if self.high is None else self.high
        return (rng.standard_normal(shape, dtype=np.float32) * std + mean).astype(self.dtype)

    def generator_text(self) -> str:
        if self.gen == "ones":
            return "ones"
        if self.gen == "normal":
            mean, std = self.low or 0.0, 1.0 if self.high is None else self.high
            if std == 0:
                return f"constant {mean:g}"
            return "normal" if (mean, std) == (0.0, 1.0) else f"normal(mean {mean:.3g}, std {std:.3g})"
        lo, hi = self.low or 0, self.high if self.high is not None else 1
        return f"{self.gen} [{lo:g}, {hi:g}]"

    def shape_text(self, batch: Any = "B", sizes: Mapping[str, int] | None = None) -> str:
        dims = [(sym if d < 1 else f"{sym}={d}") if sym else str(d) for d, sym in zip(self.shape_at(sizes), self.dims)]
        return "[" + ",".join([str(batch), *dims]) + "]"

    def describe(self, batch: Any = "B", sizes: Mapping[str, int] | None = None) -> str:
        """'input_ids int64 [B,seq=128] randint [0, 30521] (token ids below ...)'."""
        note = f" ({self.note})" if self.note else ""
        return f"{self.name} {self.dtype} {self.shape_text(batch, sizes)} {self.generator_text()}{note}"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["shape"], d["dims"] = list(self.shape), list(self.dims)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> InputSpec:
        return cls(
            name=d["name"],
            shape=tuple(d["shape"]),
            dtype=d.get("dtype", "float32"),
            gen=d.get("gen", "normal"),
            low=d.get("low"),
            high=d.get("high"),
            dims=tuple(d.get("dims") or ()),
            note=d.get("note", ""),
        )


@dataclass(frozen=True)
class ModelInputs:
    """The inputs of one model in forward order; ``keyword``: forward takes them by name (a dict)."""

    specs: tuple[InputSpec, ...]
    keyword: bool = False
    origin: str = ""  # where they were read: builtin | --input-shape | example_inputs | onnx

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.specs]

    def __iter__(self):
        return iter(self.specs)

    def __len__(self) -> int:
        return len(self.specs)

    def get(self, name: str) -> InputSpec:
        return next(s for s in self.specs if s.name == name)

    @property
    def single_float(self) -> bool:
        return len(self.specs) == 1 and self.specs[0].is_float

    def dim_sizes(self) -> dict[str, int]:
        """Each named dynamic dim -> the size in use (the first input that has it)."""
        out: dict[str, int] = {}
        for s in self.specs:
            for d, sym in zip(s.shape, s.dims):
                if sym:
                    out.setdefault(sym, d)
        return out

    def feeds(self, batch: int, seed: int | list[int], sizes: Mapping[str, int] | None = None) -> Feeds:
        """One batch of every input, reproducible: the same seed gives the same arrays."""
        rng = np.random.default_rng(seed)
        return {s.name: np.ascontiguousarray(s.draw(rng, batch, sizes)) for s in self.specs}

    def shapes(self, batch: int, sizes: Mapping[str, int] | None = None) -> dict[str, tuple[int, ...]]:
        return {s.name: (batch, *s.shape_at(sizes)) for s in self.specs}

    def describe(self, batch: Any = "B", sizes: Mapping[str, int] | None = None) -> list[str]:
        return [s.describe(batch, sizes) for s in self.specs]

    def to_dict(self) -> dict[str, Any]:
        return {"keyword": self.keyword, "origin": self.origin, "specs": [s.to_dict() for s in self.specs]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ModelInputs:
        return cls(tuple(InputSpec.from_dict(s) for s in d["specs"]), bool(d.get("keyword")), d.get("origin", ""))

    def with_specs(self, specs: Iterable[InputSpec]) -> ModelInputs:
        return replace(self, specs=tuple(specs))


def single(shape: Iterable[int], origin: str = "builtin", name: str = DEFAULT_NAME) -> ModelInputs:
    """One float input: a built-in model's or ``--input-shape``'s."""
    return ModelInputs((InputSpec(name, tuple(shape)),), origin=origin)


def named_feeds(x: Mapping[str, np.ndarray] | np.ndarray, names: Sequence[str] | None) -> Feeds:
    """Feeds keyed by ``names`` (a model's or a graph's inputs): a bare array is a one-input model's, and
    a one-input model's single array takes the one name given (the graph may call it otherwise)."""
    if isinstance(x, np.ndarray):
        if not names or len(names) != 1:
            raise ValueError(f"this model has {len(names or ())} inputs ({', '.join(names or ())}): give them by name")
        return {names[0]: x}
    if names and len(x) == 1 and len(names) == 1 and names[0] not in x:
        return {names[0]: next(iter(x.values()))}
    return dict(x)


def feed_rows(feeds: Mapping[str, np.ndarray]) -> int:
    """The batch (first) dimension every array of ``feeds`` shares."""
    return len(next(iter(feeds.values())))


def slice_feeds(feeds: Mapping[str, np.ndarray], start: int, stop: int) -> Feeds:
    return {k: np.ascontiguousarray(v[start:stop]) for k, v in feeds.items()}


def tile_feeds(feeds: Mapping[str, np.ndarray], n: int) -> Feeds:
    """``n`` samples: repeated (or cut) along the batch dim."""
    have = feed_rows(feeds)
    reps = -(-n // have)
    return {k: np.ascontiguousarray(np.concatenate([v] * reps)[:n]) for k, v in feeds.items()}


# -- defaults --------------------------------------------------------------------------------------
def is_mask(name: str, dtype: str) -> bool:
    return dtype == "bool" or "mask" in name.lower()


def default_generator(
    spec: InputSpec, table_rows: int | None = None, example_range: tuple[float, float] | None = None
) -> InputSpec:
    """The spec with the default generator for its dtype and what the graph says of it (module doc)."""
    if is_mask(spec.name, spec.dtype):  # a float mask too: 0/1 values, not noise
        return replace(spec, gen="ones", low=None, high=None, note="a mask: no padding")
    if spec.is_float:
        return replace(spec, gen="normal", low=None, high=None, note="")
    if table_rows:
        return replace(
            spec, gen="randint", low=0, high=table_rows - 1, note=f"ids below the embedding table's {table_rows} rows"
        )
    if example_range is not None:
        return replace(
            spec, gen="randint", low=example_range[0], high=example_range[1], note="the range of example_inputs"
        )
    return replace(spec, gen="randint", low=0, high=1, note="no embedding found in the graph: {0, 1}")


# -- overrides from the command line / the app ----------------------------------------------------------
@dataclass(frozen=True)
class Overrides:
    """What the user said about the inputs, by name (``input_shape``: the one input, unnamed)."""

    shapes: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    dtypes: Mapping[str, str] = field(default_factory=dict)
    ranges: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    dynamic: tuple[tuple[str, int, str], ...] = ()  # (input, axis counting the batch as 0, dim name)
    sizes: Mapping[str, int] = field(default_factory=dict)  # dynamic dim name -> the size to start at

    def names(self) -> set[str]:
        return set(self.shapes) | set(self.dtypes) | set(self.ranges) | {n for n, _, _ in self.dynamic}


def with_user(found: ModelInputs, shape: tuple[int, ...] | None, ov: Overrides | None) -> ModelInputs:
    """The model's inputs with all the user said — ``--input-shape`` (the one input's) and the named
    overrides — every dim sized; InputError naming the input otherwise. The loader and the pre-run
    check of an ONNX file both ask this."""
    ov = ov or Overrides()
    if shape is not None:
        if len(found) != 1:
            raise InputError(
                f"--input-shape sets one input; this model has {len(found)} "
                f"({', '.join(found.names)}): use --input-shapes name:[dims]"
            )
        ov = replace(ov, shapes={**ov.shapes, found.names[0]: tuple(shape)})
    out = apply(found, ov)
    check_sizes(out)
    return out


def apply(inputs: ModelInputs, ov: Overrides) -> ModelInputs:
    """The inputs with the user's shapes, dtypes, ranges and dynamic dims; InputError naming the input."""
    known = set(inputs.names)
    for name in sorted(ov.names() - known):
        raise InputError(f"{name!r} is not an input of this model (its inputs: {', '.join(inputs.names)})")
    specs = []
    for s in inputs.specs:
        if s.name in ov.shapes:
            s = _with_shape(s, ov.shapes[s.name], strict=inputs.origin == "onnx")
        if s.name in ov.dtypes and ov.dtypes[s.name] != s.dtype:
            s = default_generator(replace(s, dtype=ov.dtypes[s.name]))
        for name, axis, sym in ov.dynamic:
            if name == s.name:
                s = _with_dynamic(s, axis, sym)
        if s.name in ov.ranges:
            s = with_range(s, *ov.ranges[s.name])
        if any(sym in ov.sizes for sym in s.dims if sym):
            s = replace(s, shape=s.shape_at(ov.sizes))
        specs.append(s)
    return inputs.with_specs(_share_dims(specs, ov))


def _share_dims(specs: list[InputSpec], ov: Overrides) -> list[InputSpec]:
    """One dim name, one size (ONNX's rule for a dim_param): the size a user's shape gives a named dim
    is that dim's in every input that has it (``input_ids:[128]`` sizes attention_mask's sequence too);
    two shapes giving one name two sizes is an InputError."""
    given: dict[str, tuple[int, str]] = {}
    for s in specs:
        for d, sym in zip(s.shape, s.dims) if s.name in ov.shapes else ():
            if sym and d >= 1 and given.setdefault(sym, (d, s.name))[0] != d:
                raise InputError(
                    f"input {s.name!r}: dim {sym} is {d} here but {given[sym][0]} in "
                    f"{given[sym][1]!r} (one dim name, one size)"
                )
    sizes = {sym: d for sym, (d, _) in given.items() if sym not in ov.sizes}
    return [
        s if s.name in ov.shapes or not any(sym in sizes for sym in s.dims) else replace(s, shape=s.shape_at(sizes))
        for s in specs
    ]


def fits(s: InputSpec, shape: tuple[int, ...]) -> bool:
    """Whether ``shape`` keeps the fixed dims of an input read from a graph (dims of size 0 or named are free)."""
    return len(shape) == len(s.shape) and all(sym or d < 1 or d == g for d, g, sym in zip(s.shape, shape, s.dims))


def _with_shape(s: InputSpec, shape: tuple[int, ...], strict: bool) -> InputSpec:
    """``strict``: an input read from a graph, whose fixed dims cannot change (a PyTorch model's can)."""
    if s.shape and len(shape) != len(s.shape):
        raise InputError(
            f"input {s.name!r}: shape {list(shape)} has {len(shape)} dims per sample, "
            f"the model's has {len(s.shape)} ({s.shape_text()})"
        )
    if strict and not fits(s, shape):
        raise InputError(f"input {s.name!r}: shape {list(shape)} does not fit the graph input {s.shape_text('?')}")
    return replace(s, shape=tuple(shape), dims=s.dims if len(s.dims) == len(shape) else ())


def _with_dynamic(s: InputSpec, axis: int, sym: str) -> InputSpec:
    if axis == 0:
        raise InputError(f"input {s.name!r}: axis 0 is the batch; use --dynamic-batch / --batch-sizes for it")
    if not 1 <= axis <= len(s.shape):
        raise InputError(f"input {s.name!r} has axes 1..{len(s.shape)} after the batch, not {axis}")
    dims = list(s.dims)
    dims[axis - 1] = sym
    return replace(s, dims=tuple(dims))


def with_range(s: InputSpec, low: float, high: float) -> InputSpec:
    if low > high:
        raise InputError(f"input {s.name!r}: range [{low:g}, {high:g}] is empty (low > high)")
    lo_lim, hi_lim = DTYPE_LIMITS[s.dtype]
    if low < lo_lim or high > hi_lim:
        raise InputError(f"input {s.name!r}: range [{low:g}, {high:g}] is outside {s.dtype} [{lo_lim:g}, {hi_lim:g}]")
    if s.is_float:
        return replace(s, gen="uniform", low=float(low), high=float(high), note="--val-range")
    if low != int(low) or high != int(high):
        raise InputError(f"input {s.name!r} is {s.dtype}: its range needs whole numbers, not [{low:g}, {high:g}]")
    gen = "ones" if (low, high) == (1, 1) else "randint"
    return replace(s, gen=gen, low=int(low), high=int(high), note="--val-range")


def check_sizes(inputs: ModelInputs) -> None:
    """Every dim has a size (an ONNX file's dynamic dims need one from the user)."""
    for s in inputs.specs:
        for i, d in enumerate(s.shape):
            if d < 1:
                sym = s.dims[i] or "?"
                example = ",".join("128" if x < 1 else str(x) for x in s.shape)
                one = f" (or --input-shape {example})" if len(inputs) == 1 else ""
                raise InputError(
                    f"input {s.name!r} {s.shape_text('?')} has dynamic dims besides the batch ({sym}): "
                    f"give their sizes, e.g. --input-shapes {s.name}:[{example}]{one}"
                )


# -- text forms ------------------------------------------------------------------------------------
_NAMED = re.compile(r"\s*([^\s:,\[\]]+)\s*:\s*\[([^\]]*)\]\s*")


def _named_lists(text: str, what: str) -> list[tuple[str, list[str]]]:
    """'a:[1,2] b:[3]' or 'a:[1,2],b:[3]' -> [('a', ['1', '2']), ('b', ['3'])]."""
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = _NAMED.match(text, pos)
        if not m:
            raise ValueError(f"must be {what}")
        out.append((m.group(1), [p.strip() for p in m.group(2).split(",") if p.strip()]))
        pos = m.end()
        while pos < len(text) and text[pos] in ", ":
            pos += 1
    if not out:
        raise ValueError(f"must be {what}")
    return out


def parse_input_shapes(text: str) -> dict[str, tuple[int, ...]]:
    """Polygraphy's form, per sample: 'input_ids:[128] attention_mask:[128]'."""
    what = "name:[dims] per input, per sample (no batch), e.g. input_ids:[128],attention_mask:[128]"
    out = {}
    for name, parts in _named_lists(text, what):
        try:
            dims = tuple(int(p) for p in parts)
        except ValueError:
            raise ValueError(f"{name}: dims must be whole numbers, e.g. {name}:[128]") from None
        if not dims or any(d < 1 for d in dims):
            raise ValueError(f"{name}: dims must be whole numbers >= 1, e.g. {name}:[128]")
        out[name] = dims
    return out


def parse_val_ranges(text: str) -> dict[str, tuple[float, float]]:
    """Polygraphy's --val-range: 'input_ids:[0,999] pixel:[0,1]' (inclusive)."""
    out = {}
    for name, parts in _named_lists(text, "name:[low,high] per input, e.g. input_ids:[0,999]"):
        try:
            lo, hi = (float(p) for p in parts)
        except ValueError:
            raise ValueError(f"{name}: the range must be two numbers, e.g. {name}:[0,999]") from None
        out[name] = (lo, hi)
    return out


def parse_dtypes(text: str) -> dict[str, str]:
    """'input_ids:int64,mask:bool'."""
    out = {}
    for item in re.split(r"[,\s]+", text.strip()):
        name, _, dtype = item.rpartition(":")
        if not name or dtype not in DTYPES:
            raise ValueError(f"must be name:dtype per input, dtype among {', '.join(DTYPES)}, e.g. input_ids:int64")
        out[name] = dtype
    return out


def parse_dynamic(text: str) -> tuple[tuple[str, int, str], ...]:
    """'input_ids:1=seq,attention_mask:1=seq' (axis counts the batch as 0; the name defaults to 'dim<axis>',
    so inputs marked at the same axis share one size)."""
    out = []
    for item in re.split(r"[,\s]+", text.strip()):
        m = re.fullmatch(r"([^:=\s]+):(\d+)(?:=([A-Za-z_][A-Za-z0-9_]*))?", item)
        if not m:
            raise ValueError("must be input:axis[=name] per dim, e.g. input_ids:1=seq,attention_mask:1=seq")
        out.append((m.group(1), int(m.group(2)), m.group(3) or f"dim{m.group(2)}"))
    return tuple(out)


def parse_sweep(text: str) -> dict[str, tuple[int, ...]]:
    """'seq=64,128,256' (one dim; several with ';')."""
    out = {}
    for part in text.split(";"):
        sym, eq, sizes = part.partition("=")
        try:
            values = tuple(int(v) for v in re.split(r"[,\s]+", sizes.strip()) if v)
        except ValueError:
            values = ()
        if not eq or not sym.strip().isidentifier() or not values or any(v < 1 for v in values):
            raise ValueError("must be name=sizes, e.g. seq=64,128,256")
        if len(set(values)) != len(values):
            raise ValueError(f"{sym.strip()}: the sizes must differ from each other")
        out[sym.strip()] = values
    return out


def parse_profile(text: str) -> dict[str, tuple[int, int, int]]:
    """trtexec's min/opt/max, per named dim: 'seq=16:128:512'."""
    out = {}
    for item in re.split(r"[,\s]+", text.strip()):
        m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)=(\d+):(\d+):(\d+)", item)
        if not m:
            raise ValueError("must be name=min:opt:max per dynamic dim, e.g. seq=16:128:512")
        lo, opt, hi = int(m.group(2)), int(m.group(3)), int(m.group(4))
        if not 1 <= lo <= opt <= hi:
            raise ValueError(f"{m.group(1)}: needs 1 <= min <= opt <= max, got {lo}:{opt}:{hi}")
        out[m.group(1)] = (lo, opt, hi)
    return out


def profile_ranges(
    inputs: ModelInputs, sweep: Mapping[str, tuple[int, ...]], profile: Mapping[str, tuple[int, int, int]]
) -> dict[str, tuple[int, int, int]]:
    """min/opt/max per named dynamic dim: the user's, else from the sizes asked for (the sweep's
    smallest/first/largest, or the one size)."""
    out = {}
    for sym, size in inputs.dim_sizes().items():
        if sym in profile:
            out[sym] = tuple(profile[sym])
        else:
            sizes = sweep.get(sym, (size,))
            out[sym] = (min(sizes), sizes[0], max(sizes))
    return out  # type: ignore[return-value]  # every value is a (min, opt, max) triple; built as tuple[int, ...]
