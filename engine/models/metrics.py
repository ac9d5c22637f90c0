"""Evaluation metrics of both routes (thesis Section 4.6)."""

from __future__ import annotations

from typing import Sequence

import numpy as np


def pearson_r(actual: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Pearson correlation per column.

    Args:
        actual, predicted: arrays of shape ``(n_clips, n_targets)`` (or ``(n_clips,)``).

    Returns:
        ``(n_targets,)`` correlations (a scalar array for 1-D input); NaN where a column is constant.
    """
    a = np.asarray(actual, dtype=np.float64)
    p = np.asarray(predicted, dtype=np.float64)
    a = a - a.mean(axis=0)
    p = p - p.mean(axis=0)
    denominator = np.sqrt((a**2).sum(axis=0) * (p**2).sum(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, (a * p).sum(axis=0) / np.where(denominator > 0, denominator, 1), np.nan)


def mse(actual: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Mean squared error per column of ``(n_clips, n_targets)`` arrays, shape ``(n_targets,)``."""
    return ((np.asarray(actual, dtype=np.float64) - np.asarray(predicted, dtype=np.float64)) ** 2).mean(axis=0)


def regression_metrics(actual: np.ndarray, predicted: np.ndarray, *, targets: Sequence[str]) -> dict[tuple[str, str], float]:
    """Pearson r and MSE per target plus ``"all"``, the mean over targets (the thesis's "total").

    Returns:
        ``{(target, metric): value}`` with metric ``"pearson_r"`` or ``"mse"``.
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
    """Accuracy, per-class precision/recall/F1, macro averages, weighted F1 and the confusion matrix.

    Args:
        actual, predicted: integer class indices, shape ``(n_clips,)``.
        classes: class names by index.

    Returns:
        flat dict: ``accuracy``, ``precision_<c>``, ``recall_<c>``, ``f1_<c>``, ``macro_precision``,
        ``macro_recall``, ``weighted_f1`` and ``cm_<true>_<predicted>`` counts.
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
    """Decision threshold on ``p_positive`` that maximises balanced accuracy (mean per-class recall).

    Candidates are midpoints between the sorted distinct probabilities (plus ``default``); ties go to
    the candidate nearest ``default``. A clip is called positive when ``p_positive >= threshold``.

    Args:
        p_positive: ``(n_clips,)`` predicted probability of the positive class (validation data).
        is_positive: ``(n_clips,)`` booleans, the truth.

    Returns:
        the threshold in (0, 1); ``default`` when either class is absent.
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
