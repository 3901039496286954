"""The built-in model zoo and user models (``file.py:factory`` or an existing ``.onnx``).

Importing this module is cheap: torch, torchvision, onnx and scikit-learn are imported inside the
functions that need them, so ``list_models()`` works in the TUI process (which never imports torch).

digits-cnn data: scikit-learn's 8x8 ``digits`` images (pixel values 0..16) are normalised as
``x / 16 * 2 - 1`` (range [-1, 1]), shape (N, 1, 8, 8) float32; split 75 % train / 25 % test,
stratified, ``random_state=0``. Every array handed out (``LabelledData``) is already normalised.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
import time
import traceback
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from . import atomic
from .errors import ModelError, first_line
from .inputs import (
    DEFAULT_NAME,
    InputError,
    InputSpec,
    ModelInputs,
    Overrides,
    default_generator,
    is_mask,
    single,
    with_range,
    with_user,
)


@dataclass(frozen=True)
class ModelSpec:
    name: str
    input_shape: tuple[int, ...]  # per sample, e.g. (1, 28, 28)
    description: str  # one line
    num_classes: int | None = None


@dataclass
class LabelledData:
    """Normalised float32 images (N, 1, 8, 8) and int64 labels."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


@dataclass
class LoadedModel:
    name: str
    spec: ModelSpec
    input_shape: tuple[int, ...]
    module: Any = None  # torch.nn.Module in eval(); None for an .onnx input
    onnx_path: str | None = None  # set for .onnx inputs (export is skipped)
    data: LabelledData | None = None
    source: str = "builtin"  # builtin | file | torchscript | exported | onnx
    onnx_batch: int | None = None  # .onnx / .pt2 inputs: the fixed batch dim, None when dynamic
    info: dict[str, Any] = field(default_factory=dict)  # e.g. digits-cnn: cache hit/trained, test accuracy
    inputs: ModelInputs = None  # type: ignore[assignment]  # set by every loader; a single float input by default
    program: Any = None  # a torch.export program (.pt2): exported to ONNX as it is

    def __post_init__(self) -> None:
        if self.inputs is None:
            self.inputs = single(self.input_shape)

    @property
    def description(self) -> str:
        return self.spec.description


BUILTINS: dict[str, ModelSpec] = {
    s.name: s
    for s in (
        ModelSpec("mlp", (1, 28, 28), "3-layer MLP on 28x28 grey images, seeded random weights", 10),
        ModelSpec("cnn", (3, 32, 32), "small conv net with BatchNorm on 32x32 RGB, seeded random weights", 10),
        ModelSpec("digits-cnn", (1, 8, 8), "small CNN trained on scikit-learn digits (8x8), real labels", 10),
        ModelSpec("resnet18", (3, 224, 224), "torchvision ResNet-18, random weights (no download)", 1000),
        ModelSpec("resnet50", (3, 224, 224), "torchvision ResNet-50, random weights (no download)", 1000),
    )
}

WEIGHT_SEED = 0

# Everything that decides the trained digits-cnn weights; its hash names the cache entry, so a
# changed recipe retrains instead of reusing stale weights. Bump "version" when the code changes.
DIGITS_RECIPE: dict[str, Any] = {
    "version": 1,
    "arch": "conv16-bn-relu-conv32-bn-relu-maxpool2-fc64-relu-fc10",
    "normalise": "x/16*2-1",
    "split": {"test_size": 0.25, "random_state": 0, "stratify": True},
    "seed": 0,
    "epochs": 15,
    "batch_size": 64,
    "optimizer": "adam",
    "lr": 3e-3,
}


def list_models() -> list[ModelSpec]:
    return list(BUILTINS.values())


def sample_input(input_shape: tuple[int, ...], batch_size: int, seed: int = 0) -> np.ndarray:
    """Random float32 input of shape (batch_size, *input_shape), standard normal, reproducible."""
    return np.random.default_rng(seed).standard_normal((batch_size, *input_shape), dtype=np.float32)


def resolve_cache_dir(override: str | os.PathLike | None = None) -> Path:
    """``override`` > $TRT_TUI_CACHE > ~/.cache/trt-tui/."""
    return Path(override or os.environ.get("TRT_TUI_CACHE") or Path.home() / ".cache" / "trt-tui")


def digits_data() -> LabelledData:
    """scikit-learn digits, normalised and split as described in the module docstring."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images.astype(np.float32) / 16.0 * 2.0 - 1.0)[:, None, :, :]
    y = digits.target.astype(np.int64)
    split = DIGITS_RECIPE["split"]
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, test_size=split["test_size"], random_state=split["random_state"], stratify=y
    )
    c = np.ascontiguousarray
    return LabelledData(c(x_tr), c(y_tr), c(x_te), c(y_te))


# -- built-in architectures ---------------------------------------------------------------------
def _seeded(build, seed: int = WEIGHT_SEED):
    """Build a module under a fixed seed without disturbing torch's global RNG."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def _mlp():
    from torch import nn

    return nn.Sequential(
        nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10)
    )


def _cnn():
    from torch import nn

    def block(cin, cout):
        return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(), nn.MaxPool2d(2)]

    net = nn.Sequential(*block(3, 16), *block(16, 32), *block(32, 64), nn.Flatten(), nn.Linear(64 * 4 * 4, 10))
    # Non-trivial BatchNorm statistics, so that folding them into the conv is actually exercised.
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
            nn.init.uniform_(m.weight, 0.5, 1.5)
            nn.init.uniform_(m.bias, -0.1, 0.1)
    return net


def _digits_arch():
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.BatchNorm2d(32),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 4 * 4, 64),
        nn.ReLU(),
        nn.Linear(64, 10),
    )


def _recipe_hash() -> str:
    return hashlib.sha256(json.dumps(DIGITS_RECIPE, sort_keys=True).encode()).hexdigest()[:16]


def _train_digits(data: LabelledData):
    """Train digits-cnn on the CPU, deterministically (fixed seed, one thread)."""
    import torch
    from torch import nn

    r = DIGITS_RECIPE
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # bit-reproducible and still only a few seconds
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(r["seed"])
            net = _digits_arch()
            opt = torch.optim.Adam(net.parameters(), lr=r["lr"])
            x, y = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)
            gen = torch.Generator().manual_seed(r["seed"])
            net.train()
            for _ in range(r["epochs"]):
                for idx in torch.randperm(len(x), generator=gen).split(r["batch_size"]):
                    opt.zero_grad()
                    nn.functional.cross_entropy(net(x[idx]), y[idx]).backward()
                    opt.step()
    finally:
        torch.set_num_threads(threads)
    return net.eval()


def _load_digits_cnn(cache: Path) -> tuple[Any, LabelledData, dict[str, Any]]:
    import torch

    data = digits_data()
    path = cache / f"digits-cnn-{_recipe_hash()}.pt"
    info: dict[str, Any] = {"cache_path": str(path), "recipe_hash": _recipe_hash()}
    net = None
    if path.is_file():
        try:
            saved = torch.load(path, map_location="cpu", weights_only=True)
            if saved.get("recipe_hash") == _recipe_hash():
                net = _digits_arch()
                net.load_state_dict(saved["state_dict"])
                info.update(cache="hit", train_seconds=saved.get("train_seconds"))
        except Exception:  # noqa: BLE001 - a corrupt cache file is retrained, not fatal
            net = None
    if net is None:
        t0 = time.perf_counter()
        net = _train_digits(data)
        info.update(cache="trained", train_seconds=round(time.perf_counter() - t0, 3))
        cache.mkdir(parents=True, exist_ok=True)
        with atomic.replacing(path) as tmp:  # a concurrent run never reads half a file
            torch.save(
                {
                    "recipe_hash": _recipe_hash(),
                    "recipe": DIGITS_RECIPE,
                    "state_dict": net.state_dict(),
                    "train_seconds": info["train_seconds"],
                },
                tmp,
            )
    net.eval()
    with torch.no_grad():
        logits = net(torch.from_numpy(data.x_test)).numpy()
    info["test_accuracy"] = float((logits.argmax(-1) == data.y_test).mean())
    return net, data, info


def _build_builtin(name: str, cache: Path) -> tuple[Any, LabelledData | None, dict[str, Any]]:
    if name == "mlp":
        return _seeded(_mlp), None, {}
    if name == "cnn":
        return _seeded(_cnn), None, {}
    if name == "digits-cnn":
        return _load_digits_cnn(cache)
    torchvision = import_torchvision()
    return _seeded(lambda: getattr(torchvision.models, name)(weights=None)), None, {}


def import_torchvision() -> Any:
    """``import torchvision`` without importing ``torch._dynamo`` on the way: one module-level import in
    ``torchvision.ops.roi_align`` (``from torch._dynamo.utils import is_compile_supported``) pulls all of
    dynamo (~1,000 modules: 1.0 s of torchvision's 1.1 s on a 2-core box, torchvision took 3.3 s on an H100
    host), before the first number and for a model that never compiles. That name is served for the import's
    length by a stand-in that imports the real function when called; dynamo loads when something needs it
    (the ONNX export, torch.compile), as itself. Anything unexpected: a plain import."""
    import sys
    import types

    if "torchvision" in sys.modules or "torch._dynamo" in sys.modules:
        import torchvision

        return torchvision

    def is_compile_supported(*args: Any, **kwargs: Any) -> Any:
        from torch._dynamo.utils import is_compile_supported as real

        return real(*args, **kwargs)

    name = "torch._dynamo.utils"
    stand_in = types.ModuleType(name)
    stand_in.is_compile_supported = is_compile_supported  # type: ignore[attr-defined]
    sys.modules[name] = stand_in
    try:
        import torchvision

        return torchvision
    except Exception:  # noqa: BLE001 - another torchvision: forget what this import left, then a plain one
        for mod in [m for m in sys.modules if m.split(".")[0] == "torchvision" or m.startswith("torch._dynamo")]:
            del sys.modules[mod]
    finally:
        if sys.modules.get(name) is stand_in:
            del sys.modules[name]
    import torchvision

    return torchvision


# -- user models --------------------------------------------------------------------------------
def _load_user_module(path: Path, factory: str):
    import torch

    if not path.is_file():
        raise ModelError(f"model file not found: {path}")
    mod_name = f"trt_tui_user_{hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:10]}"
    spec = importlib.util.spec_from_file_location(mod_name, path)
    if spec is None or spec.loader is None:  # not a file Python can import (validate checks for .py first)
        raise ModelError(f"{path} is not a Python file Python can import")
    module = importlib.util.module_from_spec(spec)
    folder = str(path.parent.resolve())
    sys.path.insert(0, folder)  # let the file import its neighbours
    sys.modules[mod_name] = module  # as importlib's recipe does: dataclasses, pickling, inspect need it
    try:
        spec.loader.exec_module(module)  # runs the user's code
    except SyntaxError as e:
        sys.modules.pop(mod_name, None)
        raise ModelError(f"syntax error in {path} line {e.lineno}: {e.msg}", detail=traceback.format_exc()) from e
    except ImportError as e:
        sys.modules.pop(mod_name, None)
        raise ModelError(f"import failed in {path}: {first_line(e)}", detail=traceback.format_exc()) from e
    except Exception as e:
        sys.modules.pop(mod_name, None)
        raise ModelError(f"{path} raised while loading: {first_line(e)}", detail=traceback.format_exc()) from e
    finally:
        if folder in sys.path:
            sys.path.remove(folder)
    fn = getattr(module, factory, None)
    if fn is None or not callable(fn):
        found = sorted(
            n
            for n, v in vars(module).items()
            if callable(v) and not n.startswith("_") and getattr(v, "__module__", None) == mod_name
        )
        what = "no function" if fn is None else "no callable"
        raise ModelError(f"{path} has {what} {factory!r} (functions there: {', '.join(found) or 'none'})")
    try:
        net = fn()
    except Exception as e:
        raise ModelError(f"{factory}() in {path} raised {first_line(e)}", detail=traceback.format_exc()) from e
    if not isinstance(net, torch.nn.Module):
        raise ModelError(f"{factory}() in {path} returned {type(net).__name__}, not a torch.nn.Module")
    example = getattr(module, "example_inputs", None)
    return net, example if callable(example) else None


def _check_forward(
    net: Any, inputs: ModelInputs, where: str, batch: int = 1, ov: Overrides | None = None
) -> tuple[Any, dict[str, int], ModelInputs]:
    """One forward with a batch of the inputs (seeded); ModelError naming the failure or an output without
    a float tensor. Returns the output, the embedding tables the integer inputs index (user_models.probe)
    and the inputs: a float input that feeds an ``nn.Embedding`` is token ids, retyped int64 (the user's
    --val-range kept) and tried again, unless the user set its dtype."""
    import torch

    from . import user_models

    feeds = {k: torch.from_numpy(v) for k, v in inputs.feeds(batch, seed=0).items()}
    try:
        out, rows = user_models.probe(net, inputs, feeds)
    except user_models.ForwardFailed as e:
        ov = ov or Overrides()
        ids = {s.name for s in inputs if s.is_float and s.name in e.rows and s.name not in ov.dtypes}
        if ids:
            retyped = inputs.with_specs([_as_ids(s, e.rows[s.name], ov) if s.name in ids else s for s in inputs])
            out, rows, retyped = _check_forward(net, retyped, where, batch, ov)
            return out, {n: r for n, r in rows.items() if n not in ids}, retyped  # their generator is set
        if inputs.single_float:  # the one-input wording of before
            shapes = f"input shape {(batch, *inputs.specs[0].shape)}"
        else:
            shapes = ", ".join(f"{s.name} {s.dtype} {s.shape_text(batch)}" for s in inputs)
        raise ModelError(f"forward with {shapes} failed: {first_line(e.cause)}", detail=traceback.format_exc()) from e
    user_models.check_outputs(out, where)
    return out, {n: r for n, r in rows.items() if n in {s.name for s in inputs if not s.is_float}}, inputs


def _as_ids(spec: InputSpec, rows: int, ov: Overrides) -> InputSpec:
    """A float input found feeding an embedding: int64 ids below its rows (or in the user's range)."""
    ids = default_generator(replace(spec, dtype="int64"), rows)
    ids = with_range(ids, *ov.ranges[spec.name]) if spec.name in ov.ranges else ids
    return replace(ids, note=f"{ids.note}; int64: it feeds an nn.Embedding")


def _classes_of(out: Any) -> int | None:
    from .user_models import flatten_named

    named = flatten_named(out)
    shape: Any = getattr(named[0][1], "shape", ()) if named else ()
    return int(shape[-1]) if len(shape) == 2 else None


def _with_overrides(found: ModelInputs, shape: tuple[int, ...] | None, ov: Overrides | None) -> ModelInputs:
    """The model's inputs with the user's say (core/inputs.with_user), a problem as a ModelError."""
    try:
        return with_user(found, shape, ov)
    except InputError as e:
        raise ModelError(str(e)) from e


def _load_onnx(path: Path, input_shape: tuple[int, ...] | None, ov: Overrides | None) -> LoadedModel:
    import onnx

    from .onnx_inputs import read_inputs

    if not path.is_file():
        raise ModelError(f"ONNX file not found: {path}")
    try:
        model = onnx.load(str(path), load_external_data=False)
        onnx.checker.check_model(model)
    except Exception as e:
        raise ModelError(f"{path} is not a valid ONNX model: {first_line(e)}", detail=traceback.format_exc()) from e
    try:
        found, batch = read_inputs(model, str(path))
    except ValueError as e:
        raise ModelError(str(e)) from e
    inputs = _with_overrides(found, input_shape, ov)
    outs = model.graph.output
    num_classes = None
    if len(outs) >= 1:
        odims = [d.dim_value for d in outs[0].type.tensor_type.shape.dim]
        num_classes = odims[-1] if len(odims) == 2 and odims[-1] > 0 else None
    spec = ModelSpec(path.stem, inputs.specs[0].shape, f"ONNX file {path.name}", num_classes)
    return LoadedModel(
        spec.name,
        spec,
        spec.input_shape,
        onnx_path=str(path),
        source="onnx",
        onnx_batch=batch,
        inputs=inputs,
        info={"input_names": inputs.names},
    )


def _user_inputs(
    net: Any, example_fn: Any, shape: tuple[int, ...] | None, ov: Overrides | None, where: str
) -> ModelInputs:
    """A module's inputs: its file's example_inputs, else --input-shape / --input-shapes (names from forward)."""
    from . import user_models

    if example_fn is not None:
        try:
            example = example_fn(user_models.PROBE_BATCH)
        except Exception as e:
            raise ModelError(
                f"example_inputs({user_models.PROBE_BATCH}) in {where} raised {first_line(e)}",
                detail=traceback.format_exc(),
            ) from e
        found = user_models.read_example(example, net, f"example_inputs() in {where}")
    else:
        params = user_models.forward_params(net) or [DEFAULT_NAME]
        named = dict(ov.shapes) if ov is not None else {}
        if shape is None and not named:
            raise ModelError(
                f"{where}: user models need an input shape per sample (--input-shape 3,224,224, or "
                "--input-shapes name:[dims] per input), or example_inputs(batch_size) beside the factory"
            )
        if named:
            unknown = [n for n in named if n not in params]
            if unknown and params:
                raise ModelError(f"{unknown[0]!r} is not an input of {where} (forward takes: {', '.join(params)})")
            order = [p for p in params if p in named] + unknown
            found = ModelInputs(tuple(InputSpec(n, named[n]) for n in order), keyword=False, origin="--input-shapes")
        else:
            assert shape is not None  # no shape and no named shapes raised above
            found = single(shape, origin="--input-shape", name=params[0] if len(params) == 1 else DEFAULT_NAME)
            shape = None
    return _with_overrides(found, shape, ov)


def _embedding_defaults(inputs: ModelInputs, rows: dict[str, int], ov: Overrides | None) -> ModelInputs:
    """Integer inputs the user gave no range for: below the embedding table they index."""
    ranged = set(ov.ranges) if ov is not None else set()
    specs = [
        default_generator(s, rows[s.name], None)
        if s.name in rows and s.name not in ranged and not is_mask(s.name, s.dtype)
        else s
        for s in inputs
    ]
    return inputs.with_specs(specs)


def _loaded_module(
    net: Any,
    inputs: ModelInputs,
    ov: Overrides | None,
    name: str,
    description: str,
    source: str,
    batch: int | None = None,
) -> LoadedModel:
    """The checked module with its inputs; the checking forward also finds the embedding tables."""
    notes = _one_forward(net)
    out, rows, inputs = _check_forward(net, inputs, description, batch or 1, ov)
    inputs = _embedding_defaults(inputs, rows, ov)
    spec = ModelSpec(name, inputs.specs[0].shape, description, _classes_of(out))
    return LoadedModel(
        spec.name,
        spec,
        spec.input_shape,
        module=net,
        source=source,
        inputs=inputs,
        onnx_batch=batch,
        info={"outputs": _output_names(out), "notes": notes},
    )


def _one_forward(net: Any) -> list[str]:
    """A Hugging Face model set to give what one forward pass computes: its KV cache (``use_cache``, on by
    default for a causal LM) is an output no ONNX exporter takes and no row compares, so it is turned off
    as optimum does for an export without past key values. Returns what was changed, said once."""
    config = getattr(net, "config", None)
    if config is not None and getattr(config, "use_cache", False) is True and hasattr(net, "generation_config"):
        config.use_cache = False
        return ["use_cache off: one forward pass is timed (no KV cache output), as optimum exports it"]
    return []


def _output_names(out: Any) -> list[str]:
    from .user_models import output_names

    return output_names(out)


def load_model(
    name: str,
    input_shape: tuple | None = None,
    cache_dir: str | os.PathLike | None = None,
    overrides: Overrides | None = None,
) -> LoadedModel:
    """A built-in name, ``path/to/file.py:factory`` (runs that file's code), a TorchScript ``.pt``, a
    torch.export ``.pt2`` or an ``.onnx``; ``overrides``: what the user said about the inputs by name.
    Every failure raises ModelError naming the cause (and the input) in one line."""
    shape = tuple(int(d) for d in input_shape) if input_shape is not None else None
    text = name.strip()
    if text in BUILTINS:
        spec = BUILTINS[text]
        net, data, info = _build_builtin(text, resolve_cache_dir(cache_dir))
        net.eval()
        inputs = _with_overrides(single(spec.input_shape), shape, overrides)
        if inputs.specs[0].shape != spec.input_shape or len(inputs) != 1:
            _check_forward(net, inputs, text)
            spec = replace(spec, input_shape=inputs.specs[0].shape)
        return LoadedModel(text, spec, spec.input_shape, module=net, data=data, info=info, inputs=inputs)
    path = Path(text).expanduser()
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        return _load_onnx(path, shape, overrides)
    if suffix == ".pt":
        from . import user_models

        net = user_models.load_torchscript(path)
        inputs = _user_inputs(net, None, shape, overrides, path.name)
        return _loaded_module(net, inputs, overrides, path.stem, f"TorchScript {path.name}", "torchscript")
    if suffix == ".pt2":
        from . import user_models

        program, example = user_models.load_exported(path)
        found, batch = user_models.exported_inputs(program, example)
        net = program.module()
        inputs = _with_overrides(found, shape, overrides)
        loaded = _loaded_module(
            net, inputs, overrides, path.stem, f"torch.export program {path.name}", "exported", batch
        )
        loaded.program = program
        return loaded
    if ":" in text and text.rsplit(":", 1)[0].endswith(".py"):
        file, factory = text.rsplit(":", 1)
        path = Path(file).expanduser()
        net, example_fn = _load_user_module(path, factory)
        net = net.eval()
        inputs = _user_inputs(net, example_fn, shape, overrides, f"{path.name}")
        return _loaded_module(net, inputs, overrides, f"{path.stem}:{factory}", f"{factory}() from {path.name}", "file")
    if text.endswith(".py"):
        raise ModelError(f"{text}: name the factory function too, as {text}:make_model")
    raise ModelError(
        f"unknown model {text!r}; built-ins: {', '.join(BUILTINS)}, or file.py:factory, "
        "net.pt (TorchScript), net.pt2 (torch.export) or model.onnx"
    )
