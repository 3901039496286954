"""Activation ranges for INT8, computed once by trt-tui the way TensorRT's calibrators do it.

One pass over the calibration batches through the FP32 ONNX with exactly the tensors to be quantized
exposed as extra outputs: onnxruntime's CUDA provider (outputs stay on the GPU, handed to torch through
DLPack) when the run is on cuda, its CPU provider otherwise. Statistics in torch, on the GPU when the
outputs are there:
- minmax: amax = max |x| over all batches.
- entropy (TensorRT's EntropyCalibrator2 / NVIDIA pytorch-quantization): a 2048-bin histogram of |x|,
  then the threshold whose 128-level quantized distribution has the least KL divergence from the
  reference, over every candidate 128..2048 bins at once (vectorised through cumulative sums).
  Running range, one pass: the first batch sets the range; a batch past it widens the range by an integer
  factor k and merges every k bins (bin edges stay aligned, so nothing is re-binned approximately), so the
  final range is < 2x the true max and at least 1024 bins cover the data.
The quantizers (onnxruntime's ``quantize_static``, ModelOpt's placement) then only place Q/DQ nodes with
these ranges; they do not calibrate again.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .calib_batches import BatchSource
from .heartbeat import StepProgress
from .inputs import named_feeds

HIST_BINS = 2048  # TensorRT's histogram size
QUANT_BINS = 128  # int8 levels of one sign


def activation_tensors(model, op_types: Iterable[str], outputs: bool = False) -> list[str]:
    """Float activation inputs (not initializers/constants) of the nodes of ``op_types``, and their outputs
    with ``outputs`` (onnxruntime's quantizer wants ranges for both, as its own calibrator collects)."""
    ops = set(op_types)
    consts = {i.name for i in model.graph.initializer}
    consts |= {o for n in model.graph.node if n.op_type == "Constant" for o in n.output}
    float_types = _float_tensors(model)
    names: list[str] = []
    for node in model.graph.node:
        if node.op_type in ops:
            tensors = [*node.input, *(node.output if outputs else ())]
            names += [i for i in tensors if i and i not in consts and i in float_types and i not in names]
    return names


def _float_tensors(model) -> set[str]:
    """Names of tensors known (graph inputs, value_info after shape inference, node outputs) to be float."""
    import onnx

    typed = {
        v.name: v.type.tensor_type.elem_type for v in [*model.graph.input, *model.graph.value_info, *model.graph.output]
    }
    floats = {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16}
    names = {n for n, t in typed.items() if t in floats}
    # without shape inference: every produced tensor not known to be something else
    names |= {o for n in model.graph.node for o in n.output if o not in typed}
    return names


def _session(model_path: Path, tensors: list[str], tmp: Path, providers: list[str]):
    """An onnxruntime session of the model with ``tensors`` as extra outputs (saved next to the source,
    so its external data resolves)."""
    import onnx
    import onnxruntime as ort

    model = onnx.load(str(model_path), load_external_data=False)
    outputs = {o.name for o in model.graph.output}
    graph_inputs = {i.name for i in model.graph.input}
    for name in tensors:
        if name not in outputs and name not in graph_inputs:
            model.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    path = model_path.with_name("calibrate.onnx")
    onnx.save(model, str(path))
    return ort.InferenceSession(str(path), providers=providers)


class RangeCollector:
    """Running amax and |x| histograms per tensor (torch, on ``device``)."""

    def __init__(self, method: str, device: str, bins: int = HIST_BINS) -> None:
        import torch

        self.torch, self.method, self.device, self.bins = torch, method, device, bins
        self.amax: dict[str, float] = {}
        self.hist: dict[str, Any] = {}
        self.range: dict[str, float] = {}  # histogram covers [0, range]
        self._zeros: dict[str, int] = {}  # values counted before any non-zero one set a range

    def add(self, name: str, x) -> None:
        torch = self.torch
        x = x.detach().reshape(-1)
        if x.dtype != torch.float32:
            x = x.float()
        if not x.numel():
            return
        lo, hi = torch.aminmax(x)  # no |x| copy for minmax
        m = max(-float(lo), float(hi))
        if not math.isfinite(m):
            x = x[torch.isfinite(x)]
            m = float(x.abs().max()) if x.numel() else 0.0
        self.amax[name] = max(self.amax.get(name, 0.0), m)
        if self.method != "entropy":
            return
        r = self.range.get(name)
        if r is None:
            if m == 0.0:
                self._zeros[name] = self._zeros.get(name, 0) + x.numel()
                return
            r = self.range[name] = m
            self.hist[name] = torch.zeros(self.bins, dtype=torch.float64, device=x.device)
            self.hist[name][0] += self._zeros.pop(name, 0)
        elif m > r:  # widen by an integer factor: old bin j falls whole into new bin j // k
            k = math.ceil(m / r)
            h = self.hist[name]
            pad = (-self.bins) % k
            merged = torch.cat([h, h.new_zeros(pad)]).reshape(-1, k).sum(1)
            self.hist[name] = torch.cat([merged, h.new_zeros(self.bins - merged.numel())])
            r = self.range[name] = r * k
        self.hist[name] += torch.histc(x.abs(), bins=self.bins, min=0.0, max=r).to(torch.float64)

    def amaxes(self) -> dict[str, float]:
        """amax per tensor: max |x| (minmax) or the KL-optimal threshold (entropy, never above max |x|)."""
        if self.method != "entropy":
            return dict(self.amax)
        names = [n for n in self.amax if n in self.hist]
        result = {n: self.amax[n] for n in self.amax}  # all-zero tensors: 0
        if names:
            torch = self.torch
            stacked = torch.stack([self.hist[n] for n in names])
            best = entropy_bins(stacked)
            for n, b in zip(names, best.tolist()):
                result[n] = min(b * self.range[n] / self.bins, self.amax[n])
        return result


def entropy_bins(hist, quant_bins: int = QUANT_BINS, chunk: int = 64):
    """For each row of ``hist`` (T, B) of |x| counts: the number of bins i in [quant_bins, B] whose
    threshold (i bin widths) TensorRT's entropy calibration picks (least KL(P || Q), the last one on ties).

    P: bins [0, i) with every count beyond added to bin i-1; Q: those i bins merged into ``quant_bins``
    levels (bin j in level floor(j*quant_bins/i)), each level's count spread over its non-empty bins.
    KL is computed from cumulative sums, so each candidate costs O(quant_bins), not O(B).
    """
    import torch

    out = []
    for rows in hist.split(chunk):
        out.append(_entropy_bins_chunk(rows.to(torch.float64), quant_bins))
    return torch.cat(out)


def _entropy_bins_chunk(h, quant_bins: int):
    import torch

    T, B = h.shape
    quant_bins = min(quant_bins, B)
    dev = h.device
    zero = h.new_zeros(T, 1)
    S = torch.cat([zero, h.cumsum(1)], 1)  # S[:, j] = sum h[:j]
    N = torch.cat([zero, (h > 0).to(h.dtype).cumsum(1)], 1)
    hlogh = torch.where(h > 0, h * torch.log(h.clamp_min(1e-300)), h.new_zeros(()))
    HL = torch.cat([zero, hlogh.cumsum(1)], 1)
    total = S[:, -1:]  # (T, 1) Z_P
    cand = torch.arange(quant_bins, B + 1, device=dev)  # (C,) candidate bin counts i
    C = cand.numel()
    lv = torch.arange(quant_bins + 1, device=dev)
    edges = (lv[None, :] * cand[:, None] + quant_bins - 1) // quant_bins  # (C, L+1) first bin of each level
    idx = edges.reshape(1, -1).expand(T, -1)
    S_e = S.gather(1, idx).reshape(T, C, quant_bins + 1)
    N_e = N.gather(1, idx).reshape(T, C, quant_bins + 1)
    lsum = S_e[..., 1:] - S_e[..., :-1]  # (T, C, L) counts per level
    lnz = N_e[..., 1:] - N_e[..., :-1]  # non-empty bins per level
    q = torch.where(lnz > 0, lsum / lnz.clamp_min(1), lsum.new_zeros(()))  # per non-empty bin
    logq = torch.log(q.clamp_min(1e-300))
    ci = cand[None, :].expand(T, C)
    S_i = S.gather(1, ci)  # Z_Q = mass of bins [0, i)
    h_last = h.gather(1, ci - 1)  # bin i-1
    # bins [0, i-1): sum h log h - sum h log q over their levels
    sum_hlogh = HL.gather(1, ci - 1)
    sum_hlogq = (lsum * logq).sum(-1) - h_last * logq[..., -1]
    S_im1 = S.gather(1, ci - 1)
    logZP, logZQ = torch.log(total.clamp_min(1e-300)), torch.log(S_i.clamp_min(1e-300))
    kl = (sum_hlogh - sum_hlogq - S_im1 * logZP + S_im1 * logZQ) / total
    # bin i-1 carries the outliers in P; Q has nothing there when the bin itself is empty
    p_last = h_last + (total - S_i)
    last = torch.where(
        h_last > 0,
        p_last / total * (torch.log(p_last.clamp_min(1e-300)) - logZP - logq[..., -1] + logZQ),
        torch.where(p_last > 0, torch.full_like(p_last, math.inf), p_last.new_zeros(())),
    )
    kl = kl + last
    kl = torch.where(torch.isnan(kl), torch.full_like(kl, math.inf), kl)
    # the last minimum (pytorch-quantization's choice on ties): argmin over the reversed candidates
    rev = torch.flip(kl, [1]).argmin(1)
    return cand[C - 1 - rev]


def tensor_ranges(
    model_path,
    tensors: list[str],
    batch_source: BatchSource,
    input_name: Any,
    method: str,
    *,
    providers: list[str],
    progress: StepProgress,
    tmp: Path,
) -> tuple[dict[str, float], dict]:
    """amax per tensor of ``tensors`` over every calibration batch; and where/how it ran."""
    import torch

    model_path = Path(model_path)
    session = _session(model_path, tensors, tmp, providers)
    on_cuda = session.get_providers()[0] == "CUDAExecutionProvider"
    stats_device = "cuda" if torch.cuda.is_available() and (on_cuda or "CUDAExecutionProvider" in providers) else "cpu"
    collector = RangeCollector(method, stats_device)
    wanted = list(tensors)
    out_names = [o.name for o in session.get_outputs()]
    progress.set_phase("calibration", batch_source.num_batches)
    infer_s = stats_s = 0.0
    binding = session.io_binding()
    where = "cuda" if on_cuda else "cpu"
    names = [i.name for i in session.get_inputs()]
    for i in range(batch_source.num_batches):
        batch = named_feeds(batch_source.batch(i), names)
        t0 = time.perf_counter()
        values, held = _batch_outputs(session, binding, batch, out_names, where)
        t1 = time.perf_counter()
        for name in wanted:
            collector.add(name, values[name].to(stats_device, non_blocking=True))
        if stats_device == "cuda":
            torch.cuda.synchronize()
        del values, held
        binding.clear_binding_outputs()
        infer_s += t1 - t0
        stats_s += time.perf_counter() - t1
        progress.advance()
    progress.set_phase("entropy thresholds" if method == "entropy" else "ranges")
    t0 = time.perf_counter()
    amax = collector.amaxes()
    info = {
        "ranges_by": "trt-tui",
        "ranges_device": "cuda" if on_cuda else "cpu",
        "stats_device": stats_device,
        "tensors_calibrated": len(amax),
        "entropy_bins": HIST_BINS if method == "entropy" else None,
        "calibrate_seconds": {
            "inference": round(infer_s, 3),
            "statistics": round(stats_s, 3),
            "thresholds": round(time.perf_counter() - t0, 3),
        },
    }
    del session
    return amax, info


def _batch_outputs(
    session: Any, binding: Any, batch: dict[str, Any], out_names: list[str], where: str
) -> tuple[dict[str, Any], Any]:
    """One calibration batch through the session: every exposed tensor (and the inputs) as torch tensors.
    Outputs stay where onnxruntime made them (the GPU with CUDA); torch reads them through DLPack, so the
    OrtValues returned beside them own the memory those views read: keep them until the views are used."""
    import torch

    for name, array in batch.items():
        binding.bind_cpu_input(name, array)
    for name in out_names:
        binding.bind_output(name, where)
    session.run_with_iobinding(binding)
    held = binding.get_outputs()
    values = dict(zip(out_names, (_to_torch(v) for v in held)))
    for name, array in batch.items():
        values.setdefault(name, torch.from_numpy(array))
    return values, held


def _to_torch(value):
    """A torch view of an OrtValue (DLPack, no copy); a copy through numpy where DLPack is missing."""
    import torch

    try:
        return torch.from_dlpack(value)
    except Exception:  # noqa: BLE001 - e.g. an onnxruntime without DLPack export
        return torch.from_numpy(value.numpy())


def int8_scale(amax: float) -> float:
    """Symmetric int8 scale (zero point 0, levels -127..127, as onnxruntime and TensorRT use)."""
    return amax / 127.0 if amax > 0 and math.isfinite(amax) else 1.0
