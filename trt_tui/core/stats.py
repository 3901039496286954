"""The uncertainty of each figure: a confidence interval for a median and for a ratio of medians.

- ``median_ci``: the distribution-free interval of the median from order statistics (Thompson's
  interval, the one ``scipy.stats.quantile_test(...).confidence_interval`` gives): with B ~ Bin(n, 1/2),
  P(x_(j+1) <= median <= x_(n-j)) = F(n-j-1) - F(j); j is the largest with F(j) <= alpha/2. Valid for
  i.i.d. samples of any distribution; it needs n >= 6 at 95 %.
- ``ratio_ci``: a percentile bootstrap of median(a) / median(b), the two samples resampled apart
  (``paired=False``). The median of a resample of n values is always one of the sorted values, with
  P(median* <= x_(j)) = P(Bin(n, j/n) >= ceil(n/2)): the resampled medians are drawn from that exact
  distribution (inverse CDF) rather than by sorting thousands of resamples, so a row of 100 000
  samples costs what one of 500 does (a few ms), with a fixed seed (the same files give the same CI).
- ``spread``: coefficient of variation (population std / mean, as trtexec) and the inter-quartile range.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

CONFIDENCE = 0.95
BOOTSTRAP_DRAWS = 4000
SEED = 0


def _bdtr() -> tuple[Any, Any]:
    from scipy.special import (  # scipy.special imports in ~0.1 s (scipy.stats takes far longer)
        bdtr,
        bdtrc,
    )

    return bdtr, bdtrc


def median_ci(samples: Sequence[float] | np.ndarray, conf: float = CONFIDENCE) -> tuple[float, float] | None:
    """(low, high) containing the population median with probability >= ``conf``; None when there are
    too few samples for that confidence (n < 6 at 95 %)."""
    x = np.sort(np.asarray(samples, dtype=np.float64))
    n = len(x)
    if n == 0:
        return None
    bdtr, _ = _bdtr()
    alpha = (1.0 - conf) / 2
    cdf = bdtr(np.arange(n), n, 0.5)  # F(j) = P(B <= j)
    below = np.nonzero(cdf <= alpha)[0]
    if below.size == 0:
        return None
    j = int(below[-1])
    return float(x[j]), float(x[n - 1 - j])


def relative_halfwidth(samples: Sequence[float] | np.ndarray, conf: float = CONFIDENCE) -> float:
    """Half the width of the median's CI over the median (0.01 = ±1 %); inf when there is no CI yet."""
    ci = median_ci(samples, conf)
    med = float(np.median(samples)) if len(samples) else 0.0
    if ci is None or med <= 0:
        return float("inf")
    return (ci[1] - ci[0]) / 2 / med


def bootstrap_medians(samples: Sequence[float] | np.ndarray, draws: int, rng: np.random.Generator) -> np.ndarray:
    """``draws`` medians of resamples (with replacement, size n) of ``samples``, drawn from their exact
    distribution: the (ceil(n/2))-th smallest of the resample is x_(j) with P(<= x_(j)) = P(Bin(n, j/n) >= k)."""
    x = np.sort(np.asarray(samples, dtype=np.float64))
    n = len(x)
    _, bdtrc = _bdtr()
    k = (n + 1) // 2
    cdf = bdtrc(k - 1, n, np.arange(1, n + 1) / n)  # P(at least k of the n draws are <= x_(j))
    idx = np.searchsorted(cdf, rng.random(draws), side="left")
    return x[np.minimum(idx, n - 1)]


def ratio_ci(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    conf: float = CONFIDENCE,
    draws: int = BOOTSTRAP_DRAWS,
    seed: int = SEED,
) -> tuple[float, float] | None:
    """Percentile-bootstrap CI of median(a) / median(b) (independent samples); None when either has
    fewer than 6 values or a median <= 0."""
    if len(a) < 6 or len(b) < 6:
        return None
    rng = np.random.default_rng(seed)
    ma, mb = bootstrap_medians(a, draws, rng), bootstrap_medians(b, draws, rng)
    if (mb <= 0).any():
        return None
    r = ma / mb
    lo, hi = np.quantile(r, [(1 - conf) / 2, 1 - (1 - conf) / 2])
    return float(lo), float(hi)


def spread(samples: Sequence[float] | np.ndarray) -> dict[str, float]:
    """cov (population std / mean, trtexec's), iqr (p75 - p25), iqr_rel (iqr / median:
    torch.utils.benchmark's), mean_rel (mean / median) and tail (p99 / p50)."""
    x = np.asarray(samples, dtype=np.float64)
    if x.size == 0:
        return {}
    mean, med = float(x.mean()), float(np.median(x))
    p25, p75, p99 = np.percentile(x, [25, 75, 99])
    return {
        "cov": float(x.std() / mean) if mean > 0 else float("nan"),
        "iqr": float(p75 - p25),
        "iqr_rel": float((p75 - p25) / med) if med > 0 else float("nan"),
        "mean_rel": mean / med if med > 0 else float("nan"),
        "tail": float(p99 / med) if med > 0 else float("nan"),
    }
