"""Polygraphy-style comparison of outputs against the PyTorch FP32 reference, and label accuracy.

Errors are computed in float64 over the elements that are finite in both arrays; NaN/Inf in the
compared output are counted (``nan_count``/``inf_count``), never raised. Relative error is
``|out - ref| / max(|ref|, 1e-6)`` (the floor keeps exact zeros in the reference from giving inf).
top-1 agreement is computed for 2-D (batch, classes) outputs and 3-D per-token logits (batch, seq,
vocab: per token); a row with a non-finite value counts as a disagreement.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .errors import TrtTuiError

REL_FLOOR = 1e-6
KEYS = ("max_abs_err", "mean_abs_err", "max_rel_err", "cosine_sim", "top1_agreement", "nan_count", "inf_count")


def _one(ref: np.ndarray, out: np.ndarray) -> dict[str, Any]:
    ref = np.asarray(ref, dtype=np.float64)
    out = np.asarray(out, dtype=np.float64)
    if ref.shape != out.shape:
        if ref.size != out.size:
            raise TrtTuiError(f"output shape {out.shape} differs from the reference {ref.shape}")
        out = out.reshape(ref.shape)
    finite = np.isfinite(ref) & np.isfinite(out)
    r, o = ref[finite], out[finite]
    nan = float("nan")
    if r.size:
        diff = np.abs(o - r)
        norm = np.linalg.norm(r) * np.linalg.norm(o)
        cos = float(r @ o / norm) if norm > 0 else (1.0 if not r.any() and not o.any() else 0.0)
        stats = {
            "max_abs_err": float(diff.max()),
            "mean_abs_err": float(diff.mean()),
            "max_rel_err": float((diff / np.maximum(np.abs(r), REL_FLOOR)).max()),
            "cosine_sim": cos,
        }
    else:
        stats = dict.fromkeys(("max_abs_err", "mean_abs_err", "max_rel_err", "cosine_sim"), nan)
    top1 = None
    if ref.ndim in (2, 3) and ref.size:  # (batch, classes) or per-token logits (batch, seq, vocab)
        r2, o2 = ref.reshape(-1, ref.shape[-1]), out.reshape(-1, ref.shape[-1])
        rows_ok = np.isfinite(o2).all(axis=1)
        top1 = float(((r2.argmax(-1) == o2.argmax(-1)) & rows_ok).mean())
    return {
        **stats,
        "top1_agreement": top1,
        "nan_count": int(np.isnan(out).sum()),
        "inf_count": int(np.isinf(out).sum()),
        "shape": list(ref.shape),
    }


def compared_output(outputs: Sequence[np.ndarray]) -> int:
    """Which output the accuracy columns compare: the first floating-point one (a model that returns its
    argmax labels before its scores is judged on the scores), else the first."""
    return next((i for i, o in enumerate(outputs) if np.asarray(o).dtype.kind == "f"), 0)


def top1_uninformative(ref: Sequence[np.ndarray]) -> str:
    """Why top-1 agreement says little against this reference ('' when it is fine): the first output
    gives every sample the same class (random weights, a collapsed model), so any row that keeps that
    class agrees 100 %."""
    first = np.asarray(ref[0]) if len(ref) else np.empty(0)
    if first.ndim != 2 or len(first) < 2 or not np.isfinite(first).all():
        return ""
    classes = np.unique(first.argmax(-1))
    if classes.size > 1:
        return ""
    return (
        f"the reference gives class {int(classes[0])} for all {len(first)} samples (random weights?): "
        "top-1 agreement says little here, judge the rows by cosine and max error"
    )


def compare(ref: Sequence[np.ndarray], out: Sequence[np.ndarray]) -> dict[str, Any]:
    """Per output (``outputs``: list of dicts) and overall worst (keys named like results.COLUMNS):
    max of the errors, min of cosine similarity and top-1 agreement, sum of NaN/Inf counts."""
    if isinstance(ref, np.ndarray):
        ref = [ref]
    if isinstance(out, np.ndarray):
        out = [out]
    if len(ref) != len(out):
        raise TrtTuiError(f"{len(out)} outputs to compare against {len(ref)} reference outputs")
    per = [_one(r, o) for r, o in zip(ref, out)]

    def worst(key, fn):
        vals = [p[key] for p in per if p[key] is not None]
        if not vals:
            return None
        if any(np.isnan(v) for v in vals):
            return float("nan")
        return fn(vals)

    overall = {
        "max_abs_err": worst("max_abs_err", max),
        "mean_abs_err": worst("mean_abs_err", max),
        "max_rel_err": worst("max_rel_err", max),
        "cosine_sim": worst("cosine_sim", min),
        "top1_agreement": worst("top1_agreement", min),
        "nan_count": sum(p["nan_count"] for p in per),
        "inf_count": sum(p["inf_count"] for p in per),
    }
    return {**overall, "outputs": per}


def label_accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of samples whose argmax over the last axis equals the label."""
    logits, labels = np.asarray(logits), np.asarray(labels)
    if len(logits) != len(labels):
        raise TrtTuiError(f"{len(logits)} predictions for {len(labels)} labels")
    return float((logits.argmax(-1) == labels).mean())


ACCURACY_KEYS = ("max_abs_err", "mean_abs_err", "max_rel_err", "cosine_sim", "top1_agreement")


def reference_problem(ref: Sequence[np.ndarray]) -> str:
    """Why the reference cannot judge the rows ('' when it can): NaN/Inf in it, or outputs all zero
    (a zero-initialised head, as torchvision's ViT: every row then 'agrees' with it)."""
    arrays = [np.asarray(r) for r in ref]
    nan = sum(int(np.isnan(a).sum()) for a in arrays if a.dtype.kind == "f")
    inf = sum(int(np.isinf(a).sum()) for a in arrays if a.dtype.kind == "f")
    if nan or inf:
        return f"the PyTorch FP32 reference outputs hold {nan} NaN and {inf} Inf"
    if arrays and all(a.size and not a.any() for a in arrays):
        return "the PyTorch FP32 reference outputs are all zero (a zero-initialised head?)"
    return ""


def trust_fields(ref: Sequence[np.ndarray], fields: dict[str, Any]) -> dict[str, Any]:
    """``output_warning`` (NaN/Inf in the reference, or in this row where the reference has none) and
    ``accuracy_na`` (why the comparison is vacuous; then the accuracy columns are emptied, not 0 %)."""
    why = reference_problem(ref)
    if why:
        return {
            **dict.fromkeys(ACCURACY_KEYS),
            "accuracy_na": f"{why}: nothing to compare against",
            "output_warning": why if "NaN" in why else "",
        }
    nan, inf = fields.get("nan_count") or 0, fields.get("inf_count") or 0
    warning = f"this row's outputs hold {nan} NaN and {inf} Inf where the reference has none" if nan or inf else ""
    return {"output_warning": warning, "accuracy_na": ""}
