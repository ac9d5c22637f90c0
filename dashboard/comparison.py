"""Two runs side by side: which models match, and how far apart they are, with a CI on the difference.

Pure functions (no Streamlit). A *run* is one results database. Models match by experiment (route,
input, feature set, head and variant: the experiment id), or, on request, by route, input and
feature set across heads and variants (a CNN against a ViT, a confounded model against its clean
twin; perceptual models whatever their input). The metric of a model is recomputed from its stored
test outputs, one value per seed, then averaged over seeds: it equals the figure the other pages show.

The difference's 95 % CI is

- **paired** when both models were tested on the same clips (same dataset, clip ids and labels): a
  bootstrap over clips in which both models see the same resampled clips, so what the clips share
  cancels;
- **unpaired** otherwise: the two runs' clips are resampled independently (bootstrap over clips), or,
  on request, a Welch t interval over the seeds' values (which needs at least two seeds a side).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from dashboard.verdicts import with_ci
from engine.stats import CONFIDENCE, RESAMPLES
from results.schema import PERCEPTUAL_ROUTE

METRICS: dict[str, str] = {
    "pearson_r": "mean Pearson r over the scales",
    "mse": "mean MSE over the scales",
    "balanced_accuracy": "balanced accuracy (Happy/Sad, p = 0.5)",
}
"""The metrics a comparison reports: regression models by r or MSE, classifiers by balanced accuracy."""

HIGHER_IS_BETTER: dict[str, bool] = {"pearson_r": True, "mse": False, "balanced_accuracy": True}

PAIRED = "paired bootstrap over clips"
UNPAIRED = "unpaired bootstrap over clips"
WELCH = "Welch t over seeds"
UNPAIRED_METHODS: tuple[str, ...] = (UNPAIRED, WELCH)
"""How an unpaired difference gets its CI: resampling each run's clips, or a Welch t interval over seeds."""


@dataclass(frozen=True)
class Outputs:
    """One model's test outputs, seeds stacked.

    Attributes
    ----------
    dataset : str
        The dataset the clips belong to.
    clips : np.ndarray
        Sorted clip ids, ``(n,)``.
    predicted : np.ndarray
        ``(seeds, n, targets)`` predictions of a regression model, or ``(seeds, n)`` booleans (Happy)
        of a classifier.
    actual : np.ndarray
        ``(n, targets)`` labels, or ``(n,)`` booleans (Happy).
    targets : tuple of str
        The regression targets in column order, or the classifier's task.
    """

    dataset: str
    clips: np.ndarray
    predicted: np.ndarray
    actual: np.ndarray
    targets: tuple[str, ...]

    @property
    def seeds(self) -> int:
        """Number of seeds stacked."""
        return int(self.predicted.shape[0])


def _grid(rows: pd.DataFrame, columns: list[str], value: str) -> tuple[list[np.ndarray], np.ndarray]:
    """Fill an array of ``rows[value]`` over the sorted unique values of ``columns`` (NaN where a row is missing)."""
    codes, levels = zip(*(pd.factorize(rows[c], sort=True) for c in columns))
    grid = np.full(tuple(len(level) for level in levels), np.nan)
    grid[codes] = rows[value].to_numpy(dtype=np.float64)
    return [np.asarray(level) for level in levels], grid


def regression_outputs(rows: pd.DataFrame, *, dataset: str) -> Outputs | None:
    """Stack a regression model's ``seed, clip_id, target, predicted, actual`` rows.

    Only clips that every seed has for every target are kept; ``None`` when nothing is left.
    """
    if rows.empty:
        return None
    (_, clips, targets), predicted = _grid(rows, ["seed", "clip_id", "target"], "predicted")
    _, actual = _grid(rows, ["seed", "clip_id", "target"], "actual")
    complete = np.isfinite(predicted).all(axis=(0, 2))
    if not complete.any():
        return None
    actual = np.nanmean(actual[:, complete], axis=0)
    return Outputs(dataset, clips[complete], predicted[:, complete], actual, tuple(str(t) for t in targets))


def classifier_outputs(rows: pd.DataFrame, *, dataset: str, positive: str = "happy") -> Outputs | None:
    """Stack a classifier's ``seed, clip_id, actual, predicted`` rows (``positive`` is the class coded True).

    Only clips every seed has are kept; ``None`` when nothing is left.
    """
    if rows.empty:
        return None
    coded = rows.assign(p=(rows["predicted"] == positive).astype(float), a=(rows["actual"] == positive).astype(float))
    (_, clips), predicted = _grid(coded, ["seed", "clip_id"], "p")
    _, actual = _grid(coded, ["seed", "clip_id"], "a")
    complete = np.isfinite(predicted).all(axis=0)
    if not complete.any():
        return None
    actual = np.nanmax(actual[:, complete], axis=0)
    return Outputs(dataset, clips[complete], predicted[:, complete] > 0.5, actual > 0.5, (f"{positive} (classifier)",))


def _weighted_metric(outputs: Outputs, weights: np.ndarray, *, metric: str) -> np.ndarray:
    """Return the metric per seed and resample, ``(seeds, resamples)``.

    ``weights`` is ``(resamples, n)``: how often each clip is drawn (all ones: the full sample). Sums
    over clips are matrix products, so thousands of resamples cost one product each. NaN where the
    metric is undefined (a constant prediction's r, a resample without one of the classes).
    """
    predicted, actual = outputs.predicted, outputs.actual
    seeds, n = predicted.shape[:2]
    total = weights.sum(axis=1)[None, :, None]  # (1, R, 1)

    def summed(x: np.ndarray) -> np.ndarray:  # (S, n, T) -> (S, R, T): weighted sums over clips
        flat = np.moveaxis(x.reshape(seeds, n, -1), 1, 0).reshape(n, -1)
        return np.moveaxis((weights @ flat).reshape(len(weights), seeds, -1), 1, 0)

    if metric == "pearson_r":
        p = predicted - predicted.mean(axis=1, keepdims=True)  # centred on the full sample: sums of squares keep precision
        a = np.broadcast_to(actual - actual.mean(axis=0), p.shape)
        sp, sa = summed(p), summed(a)
        vp, va = summed(p * p) - sp * sp / total, summed(a * a) - sa * sa / total
        cov = summed(p * a) - sp * sa / total
        # a resample whose spread is a vanishing share of the full sample's has no defined r
        floor = 1e-9 * weights.shape[1] * np.stack([(p * p).mean(axis=1), (a * a).mean(axis=1)])[:, :, None, :]
        with np.errstate(invalid="ignore", divide="ignore"):
            r = np.where((vp > floor[0]) & (va > floor[1]), cov / np.sqrt(vp * va), np.nan)
        return _seed_mean(np.moveaxis(r, 2, 0))
    if metric == "mse":
        return (summed((predicted - actual) ** 2) / total).mean(axis=2)
    if metric == "balanced_accuracy":
        hits = summed((predicted & actual)[..., None])[..., 0]
        rejections = summed((~predicted & ~actual)[..., None])[..., 0]
        positives, negatives = weights @ actual, weights @ ~actual
        with np.errstate(invalid="ignore", divide="ignore"):
            return (hits / positives + rejections / negatives) / 2
    raise ValueError(f"metric must be one of {sorted(METRICS)}, got {metric!r}")


def metric_values(outputs: Outputs, *, metric: str) -> np.ndarray:
    """Return the metric of each seed on all the model's test clips, ``(seeds,)`` (NaN where undefined)."""
    return _weighted_metric(outputs, np.ones((1, len(outputs.clips))), metric=metric)[:, 0]


def _seed_mean(values: np.ndarray) -> np.ndarray:
    """Mean over the first axis of the finite values; NaN where none is finite."""
    finite = np.isfinite(values)
    count = finite.sum(axis=0)
    return np.where(count > 0, np.where(finite, values, 0.0).sum(axis=0) / np.maximum(count, 1), np.nan)


def _resampled(outputs: Outputs, rows: np.ndarray, *, metric: str) -> np.ndarray:
    """Seed-averaged metric on each resample of clips ``rows`` (``(resamples, n)`` indices)."""
    resamples, n = rows.shape
    weights = np.bincount((rows + n * np.arange(resamples)[:, None]).ravel(), minlength=resamples * n).reshape(resamples, n)
    return _seed_mean(_weighted_metric(outputs, weights.astype(np.float64), metric=metric))


def same_clips(a: Outputs, b: Outputs) -> bool:
    """Tell whether two models were tested on the same clips: same dataset, clip ids and labels."""
    return (a.dataset == b.dataset and a.clips.shape == b.clips.shape and bool(np.all(a.clips == b.clips))
            and a.actual.shape == b.actual.shape and bool(np.allclose(a.actual, b.actual)))


@dataclass(frozen=True)
class Difference:
    """A model of run A against its match in run B on one metric: the values, their difference and its CI.

    Attributes
    ----------
    a, b : float
        The metric (mean over seeds) of each model.
    difference, low, high : float
        ``a - b`` and its 95 % CI.
    method : str
        :data:`PAIRED`, :data:`UNPAIRED` or :data:`WELCH`.
    n_a, n_b : int
        Test clips of each model (the same clips when paired).
    seeds_a, seeds_b : int
        Seeds of each model.
    """

    a: float
    b: float
    difference: float
    low: float
    high: float
    method: str
    n_a: int
    n_b: int
    seeds_a: int
    seeds_b: int


def compare(a: Outputs, b: Outputs, *, metric: str, unpaired: str = UNPAIRED, resamples: int = RESAMPLES,
            seed: int = 0) -> Difference:
    """Compare two models on a metric: ``a - b`` with its 95 % CI, paired when they share their test clips.

    Parameters
    ----------
    a, b : Outputs
        The two models' test outputs.
    metric : str
        One of :data:`METRICS`.
    unpaired : str
        How the CI is made when the clips differ: :data:`UNPAIRED` (each run's clips resampled
        independently) or :data:`WELCH` (over the seeds' values; with fewer than two seeds a side, or
        no spread, the bootstrap is used and the method says so).
    resamples : int
        Bootstrap resamples.
    seed : int
        Seed of the resampling.

    Returns
    -------
    Difference
        The values, the difference and its CI, and how the CI was made.
    """
    per_seed_a, per_seed_b = metric_values(a, metric=metric), metric_values(b, metric=metric)
    value_a, value_b = float(_seed_mean(per_seed_a)), float(_seed_mean(per_seed_b))
    difference = value_a - value_b
    sizes = dict(n_a=len(a.clips), n_b=len(b.clips), seeds_a=a.seeds, seeds_b=b.seeds)
    tail = (1.0 - CONFIDENCE) / 2.0
    rng = np.random.default_rng(seed)
    if same_clips(a, b):
        rows = rng.integers(0, len(a.clips), size=(resamples, len(a.clips)))
        replicates = _resampled(a, rows, metric=metric) - _resampled(b, rows, metric=metric)
        method = PAIRED
    else:
        if unpaired == WELCH:
            welch = _welch(per_seed_a, per_seed_b)
            if welch is not None:
                return Difference(value_a, value_b, difference, difference - welch, difference + welch, WELCH, **sizes)
            method = f"{UNPAIRED} (Welch needs 2 seeds a side with spread)"
        else:
            method = UNPAIRED
        rows_a = rng.integers(0, len(a.clips), size=(resamples, len(a.clips)))
        rows_b = rng.integers(0, len(b.clips), size=(resamples, len(b.clips)))
        replicates = _resampled(a, rows_a, metric=metric) - _resampled(b, rows_b, metric=metric)
    replicates = replicates[np.isfinite(replicates)]
    if replicates.size == 0 or not np.isfinite(difference):
        return Difference(value_a, value_b, difference, difference, difference, method, **sizes)
    low, high = np.quantile(replicates, [tail, 1.0 - tail])
    return Difference(value_a, value_b, difference, float(low), float(high), method, **sizes)


def _welch(a: np.ndarray, b: np.ndarray) -> float | None:
    """Half-width of the Welch t 95 % CI of ``mean(a) - mean(b)``; ``None`` below 2 seeds a side or without spread."""
    from scipy.special import stdtrit

    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if len(a) < 2 or len(b) < 2:
        return None
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    if va + vb == 0:
        return None
    freedom = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    return float(stdtrit(freedom, 1.0 - (1.0 - CONFIDENCE) / 2.0) * np.sqrt(va + vb))


MATCH_SAME = "same experiment"
MATCH_ACROSS = "other head or variant"
MATCHES: tuple[str, ...] = (MATCH_SAME, MATCH_ACROSS)
"""How models are matched: the same experiment id, or route, input and feature set with another head or variant."""


def match_models(experiments_a: pd.DataFrame, experiments_b: pd.DataFrame, *, match: str = MATCH_SAME,
                 same_run: bool = False) -> pd.DataFrame:
    """Pair the experiments of two runs.

    Parameters
    ----------
    experiments_a, experiments_b : pd.DataFrame
        ``queries.experiments`` of each run (``experiment_id``, ``route``, ``input``, ``feature_set``,
        ``head``, ``dataset``).
    match : str
        :data:`MATCH_SAME`: the same experiment id (route, input, head, feature set and variant such
        as ``@confound0``). :data:`MATCH_ACROSS`: the same route, input and feature set with another
        experiment id (a CNN against a ViT, a model against its clean twin); perceptual models match
        whatever their input, which is part of their backbone's recipe.
    same_run : bool
        Both are the same run: each unordered pair is listed once.

    Returns
    -------
    pd.DataFrame
        ``route``, ``experiment_a``, ``experiment_b``, ``dataset_a``, ``dataset_b``, in route and
        experiment order.
    """
    columns = ["route", "experiment_a", "experiment_b", "dataset_a", "dataset_b"]
    if experiments_a.empty or experiments_b.empty:
        return pd.DataFrame(columns=columns)
    keep = ["experiment_id", "route", "input", "feature_set", "dataset"]
    a = experiments_a[keep].rename(columns={"experiment_id": "experiment_a", "dataset": "dataset_a"})
    b = experiments_b[keep].rename(columns={"experiment_id": "experiment_b", "dataset": "dataset_b"})
    if match == MATCH_SAME:
        pairs = a.merge(b.drop(columns=["route", "input", "feature_set"]), left_on="experiment_a", right_on="experiment_b")
    elif match == MATCH_ACROSS:
        # A perceptual model's input is part of its backbone's recipe (a CNN reads a log spectrogram, a ViT a linear one).
        a, b = (side.assign(family=side["input"].where(side["route"] != PERCEPTUAL_ROUTE, "")) for side in (a, b))
        pairs = a.merge(b.drop(columns=["input"]), on=["route", "family", "feature_set"])
        pairs = pairs[pairs["experiment_a"] != pairs["experiment_b"]]
        if same_run:
            pairs = pairs[pairs["experiment_a"] < pairs["experiment_b"]]
    else:
        raise ValueError(f"match must be one of {MATCHES}, got {match!r}")
    return pairs.sort_values(["route", "experiment_a", "experiment_b"])[columns].reset_index(drop=True)


def _outputs(experiment: str, dataset: str, regression: pd.DataFrame, decisions: pd.DataFrame) -> tuple[Outputs | None, bool]:
    """Return a model's outputs from one run's rows, and whether it is a classifier."""
    decided = decisions[decisions["experiment_id"] == experiment]
    if not decided.empty:
        return classifier_outputs(decided, dataset=dataset), True
    return regression_outputs(regression[regression["experiment_id"] == experiment], dataset=dataset), False


def verdict(difference: Difference, *, metric: str) -> str:
    """Return ``"A better"``, ``"B better"`` or ``"within noise"`` (the CI contains 0), in the metric's direction.

    ``"undefined"`` when either model's metric is (e.g. the r of predictions that never vary).
    """
    if not np.isfinite(difference.difference):
        return "undefined"
    if difference.low <= 0 <= difference.high:
        return "within noise"
    a_higher = difference.low > 0
    return "A better" if a_higher == HIGHER_IS_BETTER[metric] else "B better"


def compare_runs(run_a: dict[str, pd.DataFrame], run_b: dict[str, pd.DataFrame], *, regression_metric: str = "pearson_r",
                 match: str = MATCH_SAME, same_run: bool = False, unpaired: str = UNPAIRED,
                 resamples: int = RESAMPLES) -> pd.DataFrame:
    """Compare every matched model of two runs.

    Parameters
    ----------
    run_a, run_b : dict of str to pd.DataFrame
        Each run's ``experiments`` (``queries.experiments``), ``regression`` (``queries.regression_outputs``)
        and ``decisions`` (``queries.classifier_outputs``).
    regression_metric : str
        ``pearson_r`` or ``mse`` for regression models; classifiers are compared by balanced accuracy.
    match, same_run
        See :func:`match_models`.
    unpaired : str
        See :func:`compare`.
    resamples : int
        Bootstrap resamples per pair.

    Returns
    -------
    pd.DataFrame
        One row per matched pair: ``route``, ``experiment_a``, ``experiment_b``, ``metric``, ``a``,
        ``b``, ``difference``, ``low``, ``high``, ``A − B [95 % CI]`` (text), ``verdict``, ``CI``
        (how it was made), ``clips`` (``n`` or ``n_a / n_b``), ``seeds`` (``s_a / s_b``). Pairs
        without stored test outputs are left out.
    """
    columns = ["route", "experiment_a", "experiment_b", "metric", "a", "b", "difference", "low", "high",
               "A − B [95 % CI]", "verdict", "CI", "clips", "seeds"]
    rows = []
    for pair in match_models(run_a["experiments"], run_b["experiments"], match=match, same_run=same_run).itertuples():
        a, classifier_a = _outputs(pair.experiment_a, pair.dataset_a, run_a["regression"], run_a["decisions"])
        b, classifier_b = _outputs(pair.experiment_b, pair.dataset_b, run_b["regression"], run_b["decisions"])
        if a is None or b is None or a.targets != b.targets:
            continue  # no stored outputs, or models of different targets
        metric = "balanced_accuracy" if classifier_a else regression_metric
        found = compare(a, b, metric=metric, unpaired=unpaired, resamples=resamples)
        clips = f"{found.n_a}" if found.method == PAIRED else f"{found.n_a} / {found.n_b}"
        rows.append([pair.route, pair.experiment_a, pair.experiment_b, metric, found.a, found.b, found.difference, found.low,
                     found.high, with_ci(found.difference, found.low, found.high), verdict(found, metric=metric), found.method,
                     clips, f"{found.seeds_a} / {found.seeds_b}"])
    return pd.DataFrame(rows, columns=columns)
