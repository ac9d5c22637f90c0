"""Uncertainty for the figures the workbench reports: bootstrap confidence intervals over clips or seeds.

Every interval here is a percentile bootstrap (Efron & Tibshirani 1993) with a fixed seed, so a
stored figure is reproducible. Degenerate samples (fewer than two values, or every resample giving
the same statistic) get the point estimate as both bounds rather than an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

CONFIDENCE = 0.95
RESAMPLES = 2000


@dataclass(frozen=True)
class Estimate:
    """A statistic with its 95 % bootstrap interval and the number of units it rests on.

    Attributes
    ----------
    value : float
        The statistic on the full sample.
    low, high : float
        Bounds of the interval (percentile bootstrap, or Student-t for :func:`seed_ci`).
    n : int
        Resampled units (clips or seeds).

    Examples
    --------
    >>> estimate = Estimate(value=0.5, low=0.2, high=0.8, n=10)
    >>> estimate.excludes_zero(), Estimate(0.1, -0.1, 0.3, 5).excludes_zero()
    (True, False)
    """

    value: float
    low: float
    high: float
    n: int

    def excludes_zero(self) -> bool:
        """Check whether the interval lies entirely above or below zero.

        Returns
        -------
        bool
            True when ``low > 0`` or ``high < 0``.
        """
        return self.low > 0 or self.high < 0


def bootstrap(
    statistic: Callable[..., float],
    *samples: np.ndarray,
    confidence: float = CONFIDENCE,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> Estimate:
    """Bootstrap ``statistic(*samples)`` by percentiles, resampling the first axis of all samples together.

    Fewer than two units, or resamples whose statistics are all non-finite, give the point
    estimate as both bounds; non-finite replicates are dropped.

    Parameters
    ----------
    statistic : callable
        Function of the samples (each with the unit axis first) returning a float.
    *samples : numpy.ndarray
        Arrays of equal length ``n`` along axis 0 (e.g. ``(n_clips,)`` or ``(n_clips, n_stems)``);
        resampling keeps the rows of all samples paired.
    confidence : float, default CONFIDENCE
        Coverage of the interval (0.95).
    resamples : int, default RESAMPLES
        Bootstrap resamples (2000).
    seed : int, default 0
        Seed of the resampling.

    Returns
    -------
    Estimate
        The statistic on the full samples, the interval's bounds and ``n``.

    Raises
    ------
    ValueError
        No samples, or samples of unequal length.

    Examples
    --------
    A paired difference of two scores over five clips:

    >>> import numpy as np
    >>> a = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    >>> b = np.array([1.5, 2.5, 2.9, 4.4, 5.2])
    >>> estimate = bootstrap(lambda x, y: float(np.mean(x - y)), a, b, resamples=200)
    >>> round(estimate.value, 2), round(estimate.low, 3), round(estimate.high, 3), estimate.n
    (-0.3, -0.461, -0.06, 5)
    >>> bootstrap(np.mean, np.ones(3), np.ones(4))
    Traceback (most recent call last):
        ...
    ValueError: samples differ in length: [3, 4]
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
    """Compute the mean of ``values`` with its percentile bootstrap interval (NaNs dropped).

    Parameters
    ----------
    values : numpy.ndarray
        Values per unit, shape ``(n,)``; non-finite values are dropped.
    seed : int, default 0
        Seed of the resampling.

    Returns
    -------
    Estimate
        The mean, its 95 % interval over 2000 resamples, and the number of finite values.

    Examples
    --------
    >>> import numpy as np
    >>> mean_ci(np.array([1.0, 2.0, np.nan, 3.0]))
    Estimate(value=2.0, low=1.0, high=3.0, n=3)
    """
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    return bootstrap(np.mean, values, seed=seed)


def paired_difference(a: np.ndarray, b: np.ndarray, *, seed: int = 0) -> Estimate:
    """Compute the mean of ``a - b`` over paired units, with its percentile bootstrap interval.

    Parameters
    ----------
    a, b : numpy.ndarray
        Values per unit, shape ``(n,)``, paired by position (units are resampled in pairs).
    seed : int, default 0
        Seed of the resampling.

    Returns
    -------
    Estimate
        The mean difference, its 95 % interval over 2000 resamples, and ``n``.

    Raises
    ------
    ValueError
        ``a`` and ``b`` differ in shape.

    Examples
    --------
    >>> import numpy as np
    >>> paired_difference(np.array([1.0, 2.0, 3.0]), np.array([0.0, 1.0, 2.0]))
    Estimate(value=1.0, low=1.0, high=1.0, n=3)
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired samples differ in shape: {a.shape} and {b.shape}")
    return bootstrap(lambda x, y: float(np.mean(x - y)), a, b, seed=seed)


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Compute the Spearman rank correlation of the flattened arrays.

    Parameters
    ----------
    x, y : numpy.ndarray
        Paired values, any shape with the same number of elements (flattened).

    Returns
    -------
    float
        The correlation in [-1, 1]; NaN when there are fewer than two pairs or either array is
        constant.

    Examples
    --------
    >>> round(spearman([1, 2, 3, 4], [10, 20, 40, 30]), 3)
    0.8
    >>> spearman([1, 1, 1], [1, 2, 3])
    nan
    """
    x, y = np.ravel(x), np.ravel(y)
    if x.size < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    from scipy import stats  # imported on use: scipy.stats takes about a second to import (the dashboard's start)

    return float(stats.spearmanr(x, y).statistic)


def seed_ci(values: np.ndarray, *, confidence: float = CONFIDENCE) -> Estimate:
    """Compute the mean over seeds with a Student-t interval (a bootstrap over 2 to 5 seeds says nothing).

    One seed, or seeds that agree exactly, give the mean as both bounds (NaNs dropped).

    Parameters
    ----------
    values : numpy.ndarray
        One value per seed, shape ``(n,)``; non-finite values are dropped.
    confidence : float, default CONFIDENCE
        Coverage of the interval (0.95).

    Returns
    -------
    Estimate
        The mean, ``mean -+ t * sd / sqrt(n)`` as bounds, and the number of finite values; all
        NaN with ``n = 0`` when no value is finite.

    Examples
    --------
    >>> import numpy as np
    >>> estimate = seed_ci(np.array([0.70, 0.72, 0.74]))
    >>> round(estimate.value, 3), round(estimate.low, 3), round(estimate.high, 3), estimate.n
    (0.72, 0.67, 0.77, 3)
    >>> seed_ci(np.array([0.7]))
    Estimate(value=0.7, low=0.7, high=0.7, n=1)
    """
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    n = values.size
    if n == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), 0)
    mean = float(values.mean())
    if n < 2:
        return Estimate(mean, mean, mean, n)
    from scipy.special import stdtrit  # Student t quantile (what scipy.stats.t.ppf calls), a fifth of the import time

    half = float(stdtrit(n - 1, 0.5 + confidence / 2.0) * values.std(ddof=1) / np.sqrt(n))
    return Estimate(mean, mean - half, mean + half, n)
