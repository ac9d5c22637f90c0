"""Uncertainty for the figures the workbench reports: bootstrap confidence intervals over clips or seeds.

Every interval here is a percentile bootstrap (Efron & Tibshirani 1993) with a fixed seed, so a
stored figure is reproducible. Degenerate samples (fewer than two values, or every resample giving
the same statistic) get the point estimate as both bounds rather than an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
RESAMPLES = 2000


@dataclass(frozen=True)
class Estimate:
    """A statistic with its 95 % bootstrap interval and the number of units it rests on.

    Attributes:
        value: the statistic on the full sample.
        low, high: bounds of the percentile bootstrap interval.
        n: resampled units (clips or seeds).
    """

    value: float
    low: float
    high: float
    n: int

    def excludes_zero(self) -> bool:
        """True when the interval lies entirely above or below zero."""
        return self.low > 0 or self.high < 0


def bootstrap(
    statistic: Callable[..., float],
    *samples: np.ndarray,
    confidence: float = CONFIDENCE,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> Estimate:
    """Percentile bootstrap of ``statistic(*samples)``, resampling the first axis of all samples together.

    Args:
        statistic: function of the samples (each with the unit axis first) returning a float.
        samples: arrays of equal length ``n`` along axis 0 (e.g. ``(n_clips,)`` or ``(n_clips, n_stems)``);
            resampling keeps the rows of all samples paired.
        confidence: coverage of the interval.
        resamples: bootstrap resamples.
        seed: seed of the resampling.

    Raises:
        ValueError: no samples, or samples of unequal length.
    """
    if not samples:
        raise ValueError("bootstrap needs at least one sample")
    arrays = [np.asarray(s, dtype=np.float64) for s in samples]
    n = arrays[0].shape[0]
    if any(a.shape[0] != n for a in arrays):
        raise ValueError(f"samples differ in length: {[a.shape[0] for a in arrays]}")
    value = float(statistic(*arrays)) if n else float("nan")
    if n < 2:
        return Estimate(value, value, value, n)
    rows = np.random.default_rng(seed).integers(0, n, size=(resamples, n))
    replicates = np.array([statistic(*[a[r] for a in arrays]) for r in rows], dtype=np.float64)
    replicates = replicates[np.isfinite(replicates)]
    if replicates.size == 0:
        return Estimate(value, value, value, n)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(replicates, [tail, 1.0 - tail])
    return Estimate(value, float(low), float(high), n)


def mean_ci(values: np.ndarray, *, seed: int = 0) -> Estimate:
    """Mean of ``values`` ``(n,)`` with its bootstrap interval (NaNs dropped)."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    return bootstrap(np.mean, values, seed=seed)


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman rank correlation of the flattened arrays; NaN when either is constant."""
    x, y = np.ravel(x), np.ravel(y)
    if x.size < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(stats.spearmanr(x, y).statistic)


def seed_ci(values: np.ndarray, *, confidence: float = CONFIDENCE) -> Estimate:
    """Mean over seeds ``(n,)`` with a Student-t interval (a bootstrap over 2 to 5 seeds says nothing).

    One seed, or seeds that agree exactly, give the mean as both bounds (NaNs dropped).
    """
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    n = values.size
    if n == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), 0)
    mean = float(values.mean())
    if n < 2:
        return Estimate(mean, mean, mean, n)
    half = float(stats.t.ppf(0.5 + confidence / 2.0, n - 1) * values.std(ddof=1) / np.sqrt(n))
    return Estimate(mean, mean - half, mean + half, n)
