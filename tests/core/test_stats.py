"""The confidence intervals: they contain the true value at the stated rate on synthetic samples."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import bdtr
from scipy.stats import quantile_test

from trt_tui.core import stats

DRAWS = 1000


def test_median_ci_is_scipys_order_statistic_interval():
    rng = np.random.default_rng(3)
    for n in (6, 7, 20, 101, 500):
        x = rng.lognormal(0, 0.4, n)
        ci = quantile_test(x, q=np.median(x)).confidence_interval(0.95)
        assert stats.median_ci(x) == pytest.approx((ci.low, ci.high))


def test_median_ci_needs_six_samples_at_95_percent():
    assert stats.median_ci([1.0, 2, 3, 4, 5]) is None
    assert stats.median_ci([]) is None
    assert stats.median_ci([5.0, 1, 2, 3, 4, 6]) == (1.0, 6.0)
    assert stats.relative_halfwidth([1.0, 2.0]) == math.inf


@pytest.mark.parametrize("n", [25, 200])
def test_median_ci_covers_the_true_median_at_its_stated_rate(n):
    """1000 samples of a skewed (lognormal, median 1) latency-like distribution: the interval holds the
    true median as often as the binomial says (>= 95 %, the discrete interval's exact coverage)."""
    rng = np.random.default_rng(n)
    hits = 0
    for _ in range(DRAWS):
        lo, hi = stats.median_ci(rng.lognormal(0.0, 0.5, n))
        hits += lo <= 1.0 <= hi
    j = int(np.nonzero(bdtr(np.arange(n), n, 0.5) <= 0.025)[0][-1])
    exact = bdtr(n - j - 1, n, 0.5) - bdtr(j, n, 0.5)
    assert exact >= 0.95
    assert abs(hits / DRAWS - exact) < 0.025, (hits / DRAWS, exact)


def test_bootstrap_medians_follow_a_brute_force_bootstrap():
    rng = np.random.default_rng(5)
    x = rng.exponential(1.0, 51)
    exact = stats.bootstrap_medians(x, 20000, np.random.default_rng(1))
    brute = np.median(rng.choice(x, (20000, len(x))), axis=1)
    for q in (0.025, 0.25, 0.5, 0.75, 0.975):
        assert np.quantile(exact, q) == pytest.approx(np.quantile(brute, q), rel=0.03)


@pytest.mark.parametrize(("n", "ratio"), [(60, 1.0), (300, 1.3)])
def test_ratio_ci_covers_the_true_ratio_of_medians(n, ratio):
    """Two independent lognormal samples whose medians differ by ``ratio``: the bootstrap interval of
    median(a)/median(b) holds it in 95 % (± 3 points) of 1000 draws."""
    rng = np.random.default_rng(int(n * ratio))
    hits = 0
    for _ in range(DRAWS):
        a = ratio * rng.lognormal(0.0, 0.3, n)
        b = rng.lognormal(0.0, 0.3, n)
        lo, hi = stats.ratio_ci(a, b)
        hits += lo <= ratio <= hi
    assert abs(hits / DRAWS - 0.95) < 0.03, hits / DRAWS


def test_ratio_ci_is_repeatable_and_separates_clear_differences():
    rng = np.random.default_rng(9)
    a, b = rng.normal(10, 0.2, 500), rng.normal(12, 0.2, 500)
    assert stats.ratio_ci(a, b) == stats.ratio_ci(a, b)  # fixed seed: the same files give the same CI
    lo, hi = stats.ratio_ci(b, a)
    assert 1.0 < lo <= 1.2 <= hi < 1.22
    assert stats.ratio_ci(a[:5], b) is None


def test_spread_is_trtexecs_cov_and_torchs_iqr():
    x = np.array([1.0, 1.0, 1.0, 1.0, 2.0])
    s = stats.spread(x)
    assert s["cov"] == pytest.approx(x.std() / x.mean())
    assert s["iqr"] == 0.0 and s["mean_rel"] == pytest.approx(1.2) and s["tail"] == pytest.approx(1.96)
