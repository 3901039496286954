"""What one run is asked to do. Passed to the child job as JSON, shared by CLI and TUI."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from trt_tui.core import rows as row_types
from trt_tui.core.validate import parse_shape  # noqa: F401 - the shape parser's historic home
from trt_tui.core.vocab import Calibration

# The rows torch.compile runs (opt-in: it compiles for a while first); every row and the default
# selection are core/rows.py's ALL_IDS and DEFAULT_IDS.
COMPILE_ROWS: tuple[str, ...] = tuple(r.id for r in row_types.ROWS if r.mode == "compile")
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
# Stages a run can be limited to; a later stage alone reuses what earlier ones left in out_dir.
RUN_STAGES: tuple[str, ...] = ("export", "quantize", "build", "benchmark")
EXPORTERS = ("dynamo", "torchscript")


@dataclass
class RunConfig:
    model: str = "mlp"  # built-in name, 'file.py:factory' or a path to an .onnx
    input_shape: tuple[int, ...] | None = None  # per-sample shape of the one input (C,H,W)
    # the inputs by name (core/inputs.py): per-sample shapes, dtypes, value ranges, dynamic dims
    input_shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    input_dtypes: dict[str, str] = field(default_factory=dict)
    val_ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    dynamic_dims: tuple[tuple[str, int, str], ...] = ()  # (input, axis with the batch as 0, dim name)
    sweep: dict[str, tuple[int, ...]] = field(default_factory=dict)  # dim name -> sizes: every row at each
    profile: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # dim name -> TensorRT min/opt/max
    batch_size: int = 1
    batch_sizes: tuple[int, ...] = ()  # a sweep: every row at each size (batch_size = the first); () = batch_size only
    rows: tuple[str, ...] = row_types.DEFAULT_IDS
    stages: tuple[str, ...] = RUN_STAGES
    iterations: int = 500
    warmup: int = 50
    max_seconds: float | None = None  # per row: stop the timed loop early after this long (like a time budget)
    auto_iterations: bool = False  # --iterations auto: time until the p50's CI is within ci_target (or max_seconds)
    ci_target: float = 0.01  # the p50's 95 % CI half-width asked, relative (0.01 = ±1 %)
    calibrator: str = Calibration.ENTROPY  # a Calibration
    calib_data: str | None = None  # .npy/.npz of samples; None = the model's own data or random
    calib_samples: int = 512
    precision_keep_fp32: tuple[str, ...] = ()  # op types kept FP32 in the FP16 ONNX, e.g. ("Softmax",)
    opset: int = 18
    exporter: str = "dynamo"  # dynamo | torchscript
    dynamic_batch: bool = False
    workspace_mib: int = 4096
    tf32: bool = True  # allow TF32 for FP32 work (both PyTorch and TensorRT); recorded per row
    timing_cache: str | None = None  # None = <out>/../timing.cache
    out_dir: str | None = None  # None = ./trt-tui-results/<model>/
    device: str = "auto"  # auto | cuda | cpu
    seed: int = 0
    eval_samples: int = 256  # samples compared against PyTorch FP32 for the accuracy columns
    compile_mode: str = "reduce-overhead"  # torch.compile mode of the pytorch-compile-* rows
    explain_accuracy: bool = False  # per-layer FP16/INT8 errors against FP32 (core/layers.py) -> layers.json

    def __post_init__(self) -> None:
        if self.input_shape is not None:
            self.input_shape = tuple(int(d) for d in self.input_shape)
        self.rows = tuple(self.rows)
        self.batch_sizes = tuple(self.batch_sizes)
        if self.batch_sizes and isinstance(self.batch_sizes[0], int):
            self.batch_size = self.batch_sizes[0]
        self.stages = tuple(self.stages)
        self.precision_keep_fp32 = tuple(self.precision_keep_fp32)
        # JSON gives lists: back to the tuples the rest compares with
        self.input_shapes = {str(k): tuple(v) for k, v in dict(self.input_shapes).items()}
        self.input_dtypes = dict(self.input_dtypes)
        self.val_ranges = {str(k): (v[0], v[1]) for k, v in dict(self.val_ranges).items()}
        self.dynamic_dims = tuple((str(n), int(a), str(d)) for n, a, d in self.dynamic_dims)
        self.sweep = {str(k): tuple(v) for k, v in dict(self.sweep).items()}
        self.profile = {str(k): (int(v[0]), int(v[1]), int(v[2])) for k, v in dict(self.profile).items()}

    def overrides(self) -> Any:
        """What the user said about the inputs by name, for core/inputs.apply."""
        from trt_tui.core.inputs import Overrides

        sizes = {d: opt for d, (_, opt, _) in self.profile.items()} | {d: v[0] for d, v in self.sweep.items()}
        return Overrides(self.input_shapes, self.input_dtypes, self.val_ranges, self.dynamic_dims, sizes)

    def points(self) -> list[tuple[int, dict[str, int]]]:
        """Every (batch size, dynamic dim sizes) this run measures, in order (a sweep: batch outermost)."""
        import itertools

        names = list(self.sweep)
        combos = list(itertools.product(*(self.sweep[n] for n in names))) or [()]
        return [(b, dict(zip(names, c))) for b in self.sizes() for c in combos]

    # -- validation ----------------------------------------------------------------------------
    def problems(self) -> dict[str, str]:
        """Field name -> what is wrong with it (empty dict = valid). The one check of a run's settings,
        made by the CLI and the app's form before any process starts (core/validate.py has the rules)."""
        from trt_tui.core import validate as v

        bad: dict[str, str] = {}
        if not isinstance(self.model, str):
            bad["model"] = "choose a model"
        else:
            bad.update(v.model_problems(self.model, self.input_shape, named=bool(self.input_shapes)))
            bad.update(v.input_problems(self))
        for name in v.NUMBERS:
            value = getattr(self, name)
            if value is None and name == "max_seconds":
                continue
            if problem := v.number_problem(name, value):
                bad[name] = problem
        if self.input_shape is not None and (
            not self.input_shape
            or any(not isinstance(d, int) or not 1 <= d <= v.SHAPE_DIM_MAX for d in self.input_shape)
        ):
            bad["input_shape"] = "input shape needs positive dimensions, e.g. 3,224,224"
        if any(v.number_problem("batch_size", b) for b in self.batch_sizes):
            bad["batch_sizes"] = "batch sizes must be whole numbers >= 1, e.g. 1,8,32,128"
        elif len(set(self.batch_sizes)) != len(self.batch_sizes):
            bad["batch_sizes"] = "batch sizes must differ from each other"
        if not (isinstance(self.ci_target, (int, float)) and 0 < self.ci_target < 1):
            bad["ci_target"] = "CI target must be a percentage above 0 and below 100, e.g. 1%"
        if self.compile_mode not in COMPILE_MODES:
            bad["compile_mode"] = f"compile mode must be one of {', '.join(COMPILE_MODES)}"
        if self.calibrator not in set(Calibration):
            bad["calibrator"] = f"calibrator must be one of {', '.join(Calibration)}"
        if self.exporter not in EXPORTERS:
            bad["exporter"] = f"exporter must be one of {', '.join(EXPORTERS)}"
        elif problem := v.opset_problem(self.opset, self.exporter):
            bad["opset"] = problem
        unknown = [r for r in self.rows if r not in row_types.ALL_IDS]
        if unknown:
            bad["rows"] = f"unknown rows: {', '.join(map(str, unknown))}"
        elif not self.rows:
            bad["rows"] = "select at least one row"
        if not self.stages or any(s not in RUN_STAGES for s in self.stages):
            bad["stages"] = f"stages must be among {', '.join(RUN_STAGES)}"
        if self.calib_data is not None and (problem := v.file_problem(str(self.calib_data), "calibration file")):
            bad["calib_data"] = problem
        if self.out_dir is not None and (problem := v.path_problem(str(self.out_dir), "results folder")):
            bad["out_dir"] = problem
        if any(not op.isidentifier() for op in self.precision_keep_fp32):
            bad["precision_keep_fp32"] = "takes ONNX op types separated by commas, e.g. Softmax,LayerNormalization"
        if self.device not in ("auto", "cuda", "cpu"):
            bad["device"] = "device must be auto, cuda or cpu"
        return bad

    # -- (de)serialisation ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    @classmethod
    def from_json(cls, text: str) -> RunConfig:
        return cls.from_dict(json.loads(text))

    def sizes(self) -> tuple[int, ...]:
        """The batch sizes this run measures, in order."""
        return self.batch_sizes or (self.batch_size,)

    def model_slug(self) -> str:
        """A folder-safe name for the model: 'digits-cnn', 'my_model-build_net', 'resnet.onnx' -> 'resnet'."""
        name = self.model.strip()
        if ":" in name and name.split(":")[0].endswith(".py"):
            path, factory = name.rsplit(":", 1)
            name = f"{Path(path).stem}-{factory}"
        elif name.lower().endswith((".onnx", ".pt", ".pt2")):
            name = Path(name).stem
        return re.sub(r"[^A-Za-z0-9_.-]+", "_", name) or "model"

    def resolved_out_dir(self) -> Path:
        return Path(self.out_dir) if self.out_dir else Path("trt-tui-results") / self.model_slug()


def parse_sizes(text: str) -> tuple[int, ...]:
    """'1,8,32' -> (1, 8, 32); ValueError with the reason otherwise."""
    try:
        sizes = tuple(int(p) for p in re.split(r"[, ]+", text.strip()) if p)
    except ValueError:
        raise ValueError("must be whole numbers separated by commas, e.g. 1,8,32,128") from None
    if not sizes:
        raise ValueError("must be at least one batch size, e.g. 1,8,32,128")
    return sizes
