"""The row vocabulary: every row the pipeline can measure, defined once, in table order.

A row is one (backend, way of running, precision) the table compares. Everything that needs to know
about rows (the pipeline, the run state, the CLI, the screens) asks here; nothing parses a row id.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from trt_tui.core.vocab import Backend, OnnxVariant, Precision


@dataclass(frozen=True)
class Row:
    id: str  # the key in results.json/csv and on the command line (--rows)
    backend: Backend
    precision: Precision
    title: str  # long name: model screen, CLI
    short: str  # at most 13 characters: the benchmark table's first column
    mode: str = ""  # how PyTorch runs it: eager | graph (one CUDA graph) | compile (torch.compile)
    # which ONNX file an onnxruntime row runs: fp32 | qdq; a TensorRT row's comes from the adapter's
    # PrecisionPlan (it depends on the TensorRT version); PyTorch rows need none
    onnx: OnnxVariant | None = None
    opt_in: bool = field(
        default=False, kw_only=True
    )  # not in the default selection (torch.compile: it compiles a while)
    cuda_only: bool = field(default=False, kw_only=True)  # skipped with a reason on a machine without a CUDA GPU

    @property
    def is_pytorch(self) -> bool:
        return self.backend == Backend.PYTORCH

    @property
    def is_tensorrt(self) -> bool:
        return self.backend == Backend.TENSORRT

    @property
    def is_onnxruntime(self) -> bool:
        return self.backend == Backend.ONNXRUNTIME

    @property
    def needs_onnx(self) -> bool:
        """Whether the row runs an exported ONNX model (or an engine built from one)."""
        return self.backend != Backend.PYTORCH

    @property
    def is_baseline(self) -> bool:
        """The row speedups are measured against: eager PyTorch at FP32."""
        return self.backend == Backend.PYTORCH and self.mode == "eager" and self.precision == Precision.FP32


def _pytorch(
    mode: str, precision: Precision, title: str, short: str, *, cuda_only: bool = False, opt_in: bool = False
) -> Row:
    rid = f"pytorch-{precision}" if mode == "eager" else f"pytorch-{mode}-{precision}"
    return Row(rid, Backend.PYTORCH, precision, title, short, mode=mode, cuda_only=cuda_only, opt_in=opt_in)


def _tensorrt(precision: Precision) -> Row:
    name = f"TensorRT {precision.upper()}"
    return Row(f"tensorrt-{precision}", Backend.TENSORRT, precision, name, name, cuda_only=True)


def _ort(precision: Precision, onnx: OnnxVariant, title: str, short: str) -> Row:
    return Row(f"onnxruntime-{precision}", Backend.ONNXRUNTIME, precision, title, short, onnx=onnx)


# Table order: the PyTorch baselines first (they are measured first), then the engines, then onnxruntime.
ROWS: tuple[Row, ...] = (
    _pytorch("eager", Precision.FP32, "PyTorch FP32", "PyTorch FP32"),
    _pytorch("eager", Precision.FP16, "PyTorch FP16", "PyTorch FP16"),
    _pytorch("graph", Precision.FP32, "PyTorch graph FP32", "PT graph FP32", cuda_only=True),
    _pytorch("graph", Precision.FP16, "PyTorch graph FP16", "PT graph FP16", cuda_only=True),
    _pytorch("compile", Precision.FP32, "torch.compile FP32", "PT comp. FP32", cuda_only=True, opt_in=True),
    _pytorch("compile", Precision.FP16, "torch.compile FP16", "PT comp. FP16", cuda_only=True, opt_in=True),
    _tensorrt(Precision.FP32),
    _tensorrt(Precision.FP16),
    _tensorrt(Precision.INT8),
    _ort(Precision.FP32, OnnxVariant.FP32, "onnxruntime FP32", "ORT FP32"),
    _ort(Precision.INT8, OnnxVariant.QDQ, "onnxruntime INT8 Q/DQ", "ORT INT8"),
)
BY_ID: dict[str, Row] = {r.id: r for r in ROWS}
ALL_IDS: tuple[str, ...] = tuple(BY_ID)
DEFAULT_IDS: tuple[str, ...] = tuple(r.id for r in ROWS if not r.opt_in)
BASELINE_ID: str = next(r.id for r in ROWS if r.is_baseline)
SHORT: dict[str, str] = {r.id: r.short for r in ROWS}


def get(row_id: str) -> Row:
    """The Row for an id; KeyError (naming the known ids) for one that is not a row."""
    try:
        return BY_ID[row_id]
    except KeyError:
        raise KeyError(f"{row_id!r} is not a row (rows: {', '.join(ALL_IDS)})") from None


def title(row_id: str) -> str:
    """The long name; an unknown id (a results file from another version) shows as itself."""
    row = BY_ID.get(row_id)
    return row.title if row else row_id


def short(row_id: str) -> str:
    row = BY_ID.get(row_id)
    return row.short if row else row_id


def select(row_ids: tuple[str, ...] | list[str], *, backend: Backend | None = None) -> list[Row]:
    """The known rows among ``row_ids``, in the order given, optionally of one backend."""
    rows = (BY_ID[r] for r in row_ids if r in BY_ID)
    return [r for r in rows if backend is None or r.backend == backend]


def is_tensorrt(row_id: str) -> bool:
    row = BY_ID.get(row_id)
    return row is not None and row.is_tensorrt


def is_pytorch(row_id: str) -> bool:
    row = BY_ID.get(row_id)
    return row is not None and row.is_pytorch
