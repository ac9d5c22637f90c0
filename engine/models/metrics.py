"""Evaluation metrics of both routes (thesis Section 4.6)."""

from __future__ import annotations

from typing import Sequence

import numpy as np


def pearson_r(actual: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Compute the Pearson correlation per column.

    Parameters
    ----------
    actual, predicted : numpy.ndarray
        Arrays of shape ``(n_clips, n_targets)`` (or ``(n_clips,)``).

    Returns
    -------
    numpy.ndarray
        ``(n_targets,)`` correlations (a scalar array for 1-D input); NaN where a column is constant.

    Examples
    --------
    >>> import numpy as np
    >>> actual = np.array([[1.0, 2.0], [2.0, 2.0], [3.0, 2.0]])
    >>> predicted = np.array([[1.5, 1.0], [2.5, 2.0], [3.5, 4.0]])
    >>> pearson_r(actual, predicted).tolist()
    [1.0, nan]
    >>> float(pearson_r([1, 2, 3], [3, 2, 1]))
    -1.0
    """
    a = np.asarray(actual, dtype=np.float64)
    p = np.asarray(predicted, dtype=np.float64)
    a = a - a.mean(axis=0)
    p = p - p.mean(axis=0)
    denominator = np.sqrt((a**2).sum(axis=0) * (p**2).sum(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, (a * p).sum(axis=0) / np.where(denominator > 0, denominator, 1), np.nan)


def mse(actual: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Compute the mean squared error per column.

    Parameters
    ----------
    actual, predicted : numpy.ndarray
        Arrays of shape ``(n_clips, n_targets)`` (or ``(n_clips,)``).

    Returns
    -------
    numpy.ndarray
        Float64 errors, shape ``(n_targets,)`` (a scalar for 1-D input).

    Examples
    --------
    >>> import numpy as np
    >>> mse(np.array([[0.0, 1.0], [2.0, 1.0]]), np.array([[1.0, 1.0], [0.0, 1.0]])).tolist()
    [2.5, 0.0]
    """
    return ((np.asarray(actual, dtype=np.float64) - np.asarray(predicted, dtype=np.float64)) ** 2).mean(axis=0)


def regression_metrics(actual: np.ndarray, predicted: np.ndarray, *, targets: Sequence[str]) -> dict[tuple[str, str], float]:
    """Compute Pearson r and MSE per target plus ``"all"``, the mean over targets (the thesis's "total").

    The ``"all"`` Pearson r averages the targets whose r is defined (NaN when none is).

    Parameters
    ----------
    actual, predicted : numpy.ndarray
        Arrays of shape ``(n_clips, n_targets)``.
    targets : Sequence[str]
        Target names, one per column.

    Returns
    -------
    dict of (str, str) to float
        ``{(target, metric): value}`` with metric ``"pearson_r"`` or ``"mse"``.

    Examples
    --------
    >>> import numpy as np
    >>> actual = np.array([[1.0, 0.0], [2.0, 1.0], [3.0, 0.0]])
    >>> predicted = np.array([[1.0, 0.0], [2.0, 0.0], [3.0, 0.0]])
    >>> out = regression_metrics(actual, predicted, targets=["valence", "energy"])
    >>> out[("valence", "pearson_r")], out[("all", "pearson_r")], round(out[("all", "mse")], 3)
    (1.0, 1.0, 0.167)
    """
    r = pearson_r(actual, predicted)
    e = mse(actual, predicted)
    out: dict[tuple[str, str], float] = {}
    for name, r_value, e_value in zip(targets, r, e):
        out[(name, "pearson_r")] = float(r_value)
        out[(name, "mse")] = float(e_value)
    defined = r[~np.isnan(r)]  # r is undefined (NaN) for a constant prediction
    out[("all", "pearson_r")] = float(defined.mean()) if defined.size else float("nan")
    out[("all", "mse")] = float(np.mean(e))
    return out


def classification_metrics(actual: np.ndarray, predicted: np.ndarray, *, classes: Sequence[str]) -> dict[str, float]:
    """Compute accuracy, per-class precision/recall/F1, macro and weighted averages and the confusion matrix.

    Parameters
    ----------
    actual, predicted : numpy.ndarray
        Integer class indices, shape ``(n_clips,)``.
    classes : Sequence[str]
        Class names by index.

    Returns
    -------
    dict of str to float
        Flat dict: ``accuracy``, ``precision_<c>``, ``recall_<c>``, ``f1_<c>``, ``macro_precision``,
        ``macro_recall``, ``macro_f1``, ``weighted_precision``, ``weighted_recall``,
        ``weighted_f1`` (weighted by class support) and ``cm_<true>_<predicted>`` counts.

    Examples
    --------
    >>> import numpy as np
    >>> out = classification_metrics(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]), classes=["happy", "sad"])
    >>> out["accuracy"], out["recall_happy"], out["precision_sad"], out["cm_happy_sad"]
    (0.75, 0.5, 0.6666666666666666, 1.0)
    """
    actual = np.asarray(actual)
    predicted = np.asarray(predicted)
    out: dict[str, float] = {"accuracy": float((actual == predicted).mean()) if actual.size else float("nan")}
    f1s, supports, precisions, recalls = [], [], [], []
    for index, name in enumerate(classes):
        true_positive = float(((predicted == index) & (actual == index)).sum())
        predicted_positive = float((predicted == index).sum())
        support = float((actual == index).sum())
        precision = true_positive / predicted_positive if predicted_positive else 0.0
        recall = true_positive / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out[f"precision_{name}"], out[f"recall_{name}"], out[f"f1_{name}"] = precision, recall, f1
        precisions.append(precision)
        recalls.append(recall)
        f1s.append(f1)
        supports.append(support)
    out["macro_precision"] = float(np.mean(precisions))
    out["macro_recall"] = float(np.mean(recalls))
    out["macro_f1"] = float(np.mean(f1s))
    weighted = sum(supports) > 0
    out["weighted_precision"] = float(np.average(precisions, weights=supports)) if weighted else 0.0
    out["weighted_recall"] = float(np.average(recalls, weights=supports)) if weighted else 0.0
    out["weighted_f1"] = float(np.average(f1s, weights=supports)) if weighted else 0.0
    for i, true_name in enumerate(classes):
        for j, predicted_name in enumerate(classes):
            out[f"cm_{true_name}_{predicted_name}"] = float(((actual == i) & (predicted == j)).sum())
    return out


def calibrate_threshold(p_positive: np.ndarray, is_positive: np.ndarray, *, default: float = 0.5) -> float:
    """Choose the decision threshold on ``p_positive`` that maximises balanced accuracy (mean per-class recall).

    Candidates are midpoints between the sorted distinct probabilities (plus ``default``, half the
    lowest probability and the midpoint between the highest and 1); ties go to the candidate
    nearest ``default``. A clip is called positive when ``p_positive >= threshold``.

    Parameters
    ----------
    p_positive : numpy.ndarray
        ``(n_clips,)`` predicted probability of the positive class (validation data).
    is_positive : numpy.ndarray
        ``(n_clips,)`` booleans, the truth.
    default : float, default 0.5
        Threshold returned when either class is absent, and the tie-breaker.

    Returns
    -------
    float
        The threshold in (0, 1); ``default`` when either class is absent.

    Examples
    --------
    >>> import numpy as np
    >>> calibrate_threshold(np.array([0.1, 0.2, 0.3, 0.4]), np.array([False, False, True, True]))
    0.25
    >>> calibrate_threshold(np.array([0.1, 0.9]), np.array([True, True]))
    0.5
    """
    p = np.asarray(p_positive, dtype=np.float64)
    truth = np.asarray(is_positive, dtype=bool)
    if truth.all() or not truth.any():
        return default
    levels = np.unique(p)
    candidates = np.unique(np.concatenate([(levels[1:] + levels[:-1]) / 2, [default], [levels[0] / 2, (1 + levels[-1]) / 2]]))

    def balanced_accuracy(threshold: float) -> float:
        called = p >= threshold
        return 0.5 * (called[truth].mean() + (~called[~truth]).mean())

    scores = np.array([balanced_accuracy(t) for t in candidates])
    best = candidates[np.isclose(scores, scores.max())]
    return float(best[np.argmin(np.abs(best - default))])
