"""Analysis of a listening study: how often listeners agree with the model, and with each other.

Pure functions (no Streamlit, no database). Each answer is turned into a *verdict*: which of the two
sounds the listener heard as happier, the sonified clip or the other one (its complement or the
original), or a tie (valence ratings only). The model is right in a listener's ears when the
sonified clip (what the model used for its prediction) sounds more like the predicted class: happier
when it predicted Happy, sadder when it predicted Sad.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.special import betaincinv, ndtri

from engine.stats import bootstrap

VERDICTS: tuple[str, ...] = ("sonified", "other", "tie")
"""Which sound a listener heard as happier (the categories of the agreement between raters)."""


def _z(confidence: float) -> float:
    return float(ndtri(0.5 + confidence / 2))


def wilson_interval(successes: int, n: int, *, confidence: float = 0.95) -> tuple[float, float]:
    """Return the Wilson score interval of a binomial proportion (Wilson 1927).

    Parameters
    ----------
    successes, n : int
        Successes out of ``n`` trials.
    confidence : float, default 0.95
        Coverage.

    Returns
    -------
    (float, float)
        Lower and upper bound; ``(nan, nan)`` when ``n`` is 0.

    Examples
    --------
    >>> [round(b, 4) for b in wilson_interval(8, 10)]
    [0.4902, 0.9433]
    """
    if n <= 0:
        return math.nan, math.nan
    z = _z(confidence)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def clopper_pearson_interval(successes: int, n: int, *, confidence: float = 0.95) -> tuple[float, float]:
    """Return the Clopper–Pearson ("exact") interval of a binomial proportion, from the beta distribution.

    Parameters
    ----------
    successes, n : int
        Successes out of ``n`` trials.
    confidence : float, default 0.95
        Coverage.

    Returns
    -------
    (float, float)
        Lower and upper bound; ``(nan, nan)`` when ``n`` is 0.

    Examples
    --------
    >>> [round(b, 4) for b in clopper_pearson_interval(8, 10)]
    [0.4439, 0.9748]
    """
    if n <= 0:
        return math.nan, math.nan
    alpha = 1 - confidence
    low = 0.0 if successes == 0 else float(betaincinv(successes, n - successes + 1, alpha / 2))
    high = 1.0 if successes == n else float(betaincinv(successes + 1, n - successes, 1 - alpha / 2))
    return low, high


def judgements(responses: pd.DataFrame, *, question: str) -> pd.DataFrame:
    """Add to each stored answer its verdict and whether it agrees with the model.

    Parameters
    ----------
    responses : pandas.DataFrame
        As :meth:`dashboard.study_store.StudyStore.responses`: ``predicted``, ``sonified_first``,
        ``choice`` (1 or 2) for a pairwise question, ``rating_1`` and ``rating_2`` for ``"valence"``.
    question : str
        ``"happier"``, ``"sadder"`` or ``"valence"``.

    Returns
    -------
    pandas.DataFrame
        ``responses`` with ``verdict`` (``"sonified"``, ``"other"`` or ``"tie"``: which sound was heard
        as happier) and ``agrees`` (boolean; missing for a tie).
    """
    frame = responses.copy()
    first = frame["sonified_first"].astype(bool).to_numpy()
    if question == "valence":
        one = frame["rating_1"].astype(float).to_numpy()
        two = frame["rating_2"].astype(float).to_numpy()
        difference = np.where(first, one - two, two - one)  # sonified minus other
        verdict = np.select([difference > 0, difference < 0], ["sonified", "other"], "tie")
    elif question in ("happier", "sadder"):
        chose_sonified = (frame["choice"].astype(float).to_numpy() == 1) == first
        heard_happier = chose_sonified if question == "happier" else ~chose_sonified
        verdict = np.where(heard_happier, "sonified", "other")
    else:
        raise ValueError(f"unknown question {question!r}")
    frame["verdict"] = verdict
    expected = np.where(frame["predicted"].to_numpy() == "happy", "sonified", "other")
    frame["agrees"] = pd.array(np.where(verdict == "tie", None, verdict == expected), dtype="boolean")
    return frame


def agreement_by_method(judged: pd.DataFrame, *, confidence: float = 0.95) -> pd.DataFrame:
    """Return per method how often listeners heard the predicted emotion in the sonified clip.

    Parameters
    ----------
    judged : pandas.DataFrame
        As :func:`judgements` returns (``method``, ``agrees``, ``rater_id``, ``clip_id``).
    confidence : float, default 0.95
        Coverage of the intervals.

    Returns
    -------
    pandas.DataFrame
        One row per method: ``answers`` (ties left out), ``agree``, ``agreement`` (share), its Wilson
        (``wilson_low``, ``wilson_high``) and Clopper–Pearson (``cp_low``, ``cp_high``) intervals,
        ``vs_chance`` (``"above"`` or ``"below"`` when the Wilson interval excludes 0.5, else
        ``"undecided"``), ``ties``, ``raters`` and ``clips``.
    """
    rows = []
    for method, part in judged.groupby("method", sort=True):
        decided = part["agrees"].dropna()
        n, k = len(decided), int(decided.sum())
        low, high = wilson_interval(k, n, confidence=confidence)
        cp_low, cp_high = clopper_pearson_interval(k, n, confidence=confidence)
        side = "above" if low > 0.5 else "below" if high < 0.5 else "undecided"
        rows.append({"method": method, "answers": n, "agree": k, "agreement": k / n if n else math.nan,
                     "wilson_low": low, "wilson_high": high, "cp_low": cp_low, "cp_high": cp_high, "vs_chance": side,
                     "ties": int(part["agrees"].isna().sum()), "raters": part["rater_id"].nunique(),
                     "clips": part["clip_id"].nunique()})
    columns = ["method", "answers", "agree", "agreement", "wilson_low", "wilson_high", "cp_low", "cp_high", "vs_chance",
               "ties", "raters", "clips"]
    return pd.DataFrame(rows, columns=columns)


def verdict_counts(judged: pd.DataFrame) -> np.ndarray:
    """Count the verdicts per trial: ``(trials, 3)``, the columns in the order of :data:`VERDICTS`."""
    table = pd.crosstab(judged["trial"], judged["verdict"]).reindex(columns=list(VERDICTS), fill_value=0)
    return table.to_numpy(dtype=float)


def fleiss_kappa(counts: np.ndarray) -> float:
    """Return Fleiss' kappa of items rated into categories (Fleiss 1971), for any number of raters per item.

    Items with fewer than two ratings are left out. With ``n_i`` ratings of item ``i``, ``n_ij`` of
    them in category ``j``: ``P_i = (Σ_j n_ij² − n_i) / (n_i (n_i − 1))``, ``P̄`` their mean,
    ``p_j = Σ_i n_ij / Σ_i n_i`` and ``P_e = Σ_j p_j²``; kappa = ``(P̄ − P_e) / (1 − P_e)``. With the
    same number of raters on every item this is Fleiss' kappa.

    Parameters
    ----------
    counts : numpy.ndarray
        ``(items, categories)`` counts.

    Returns
    -------
    float
        Kappa; NaN without two rated items' worth of ratings or when every rating falls in one category.

    Examples
    --------
    Two raters agree on four items of five; each category gets half the ratings (chance agreement 0.5):

    >>> import numpy as np
    >>> round(fleiss_kappa(np.array([[2, 0], [0, 2], [2, 0], [0, 2], [1, 1]])), 4)  # (0.8 - 0.5) / (1 - 0.5)
    0.6
    """
    counts = np.asarray(counts, dtype=float)
    per_item = counts.sum(axis=1)
    counts, per_item = counts[per_item >= 2], per_item[per_item >= 2]
    if len(counts) == 0:
        return math.nan
    observed = float(np.mean(((counts ** 2).sum(axis=1) - per_item) / (per_item * (per_item - 1))))
    shares = counts.sum(axis=0) / per_item.sum()
    chance = float((shares ** 2).sum())
    return math.nan if chance >= 1 - 1e-12 else (observed - chance) / (1 - chance)


def pairwise_agreement(counts: np.ndarray) -> float:
    """Return the share of pairs of raters of the same item who gave the same verdict.

    Pooled over items: ``Σ_i Σ_j n_ij (n_ij − 1) / Σ_i n_i (n_i − 1)``.

    Parameters
    ----------
    counts : numpy.ndarray
        ``(items, categories)`` counts.

    Returns
    -------
    float
        The share; NaN when no item has two ratings.

    Examples
    --------
    >>> import numpy as np
    >>> round(pairwise_agreement(np.array([[2, 1], [3, 0], [1, 0]])), 4)  # 1 of 3 pairs, 3 of 3 pairs
    0.6667
    """
    counts = np.asarray(counts, dtype=float)
    per_item = counts.sum(axis=1)
    pairs = float((per_item * (per_item - 1)).sum())
    return math.nan if pairs == 0 else float((counts * (counts - 1)).sum()) / pairs


def rater_agreement(judged: pd.DataFrame, *, resamples: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Return the agreement between listeners, per method and over all trials.

    Parameters
    ----------
    judged : pandas.DataFrame
        As :func:`judgements` returns (``method``, ``trial``, ``verdict``).
    resamples : int, default 2000
        Bootstrap resamples of the trials for the 95 % intervals.
    seed : int, default 0
        Seed of the resampling.

    Returns
    -------
    pandas.DataFrame
        One row per method and a last row ``"all"``: ``trials`` (those heard by two raters or more),
        ``raters_per_trial`` (mean over them), ``fleiss_kappa`` with ``kappa_low``/``kappa_high`` and
        ``percent_agreement`` (:func:`pairwise_agreement`) with ``agreement_low``/``agreement_high``:
        percentile bootstrap intervals over trials (the answers of one trial stay together).
    """
    groups = [(str(m), part) for m, part in judged.groupby("method", sort=True)] + [("all", judged)]
    rows = []
    for method, part in groups:
        counts = verdict_counts(part)
        counts = counts[counts.sum(axis=1) >= 2]
        kappa = bootstrap(fleiss_kappa, counts, resamples=resamples, seed=seed)
        shared = bootstrap(pairwise_agreement, counts, resamples=resamples, seed=seed)
        rows.append({"method": method, "trials": len(counts),
                     "raters_per_trial": float(counts.sum(axis=1).mean()) if len(counts) else math.nan,
                     "fleiss_kappa": kappa.value, "kappa_low": kappa.low, "kappa_high": kappa.high,
                     "percent_agreement": shared.value, "agreement_low": shared.low, "agreement_high": shared.high})
    return pd.DataFrame(rows)


def export_frame(judged: pd.DataFrame, *, study_id: str, comparison: str, question: str) -> pd.DataFrame:
    """Return the raw answers for CSV export: as stored, plus the study, what was played and the derived verdict.

    ``first_sound`` names the sound played as "Sound 1" (``"sonified"`` or the comparison).
    """
    out = judged.copy()
    out.insert(0, "study_id", study_id)
    out.insert(out.columns.get_loc("sonified_first") + 1, "first_sound",
               np.where(out["sonified_first"].astype(bool), "sonified", comparison))
    out["question"] = question
    return out
