"""What a run supports, in words and in tables with their uncertainty (pure functions, no Streamlit)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.explain.model_ear import ear_summary
from engine.stats import Estimate, seed_ci

MEASURES = {"causal_spearman": "causal ρ", "drum_contrast": "drum contrast"}


def with_ci(value: float, low: float, high: float, *, digits: int = 3) -> str:
    """``"0.512 [0.301, 0.688]"``; an em dash for a missing value."""
    if value is None or not np.isfinite(value):
        return "—"
    return f"{value:+.{digits}f} [{low:+.{digits}f}, {high:+.{digits}f}]"


def agreement_table(agreement: pd.DataFrame) -> pd.DataFrame:
    """One row per method, one column per causal measure (value [95 % CI]), and the clips each rests on.

    The ground-truth row (``reliance_contrast``) is not a method: :func:`attribution_verdict` states it.
    """
    agreement = agreement[agreement["measure"] != "reliance_contrast"] if not agreement.empty else agreement
    if agreement.empty:
        return pd.DataFrame()
    cells = agreement.assign(
        text=[with_ci(v, lo, hi) for v, lo, hi in zip(agreement["value"], agreement["low"], agreement["high"])],
        label=agreement["measure"].map(MEASURES).fillna(agreement["measure"]),
    )
    table = cells.pivot(index="method", columns="label", values="text")
    clips = cells.groupby("method")["n"].max().rename("clips")
    table = table.join(clips)
    order = cells[cells["measure"] == "causal_spearman"].set_index("method")["value"]
    return table.loc[order.sort_values(ascending=False).index.union(table.index, sort=False)].reset_index()


def attribution_verdict(agreement: pd.DataFrame) -> str:
    """One sentence: which method the causal evidence supports, and how strongly.

    Strong: its causal ρ CI excludes 0 and lies above the random map's; moderate: only excludes 0;
    otherwise the run supports no method. Where the run stores the drum contrast's ground truth
    (``reliance_contrast``), a second sentence says whether a faithful method's contrast should be positive,
    and a method whose contrast is then not clearly positive is supported only weakly: it fails that test.
    """
    causal = agreement[agreement["measure"] == "causal_spearman"].dropna(subset=["value"])
    if causal.empty:
        return "This run stores no causal evidence for its maps."
    best = causal.sort_values("value", ascending=False).iloc[0]
    random = causal[causal["method"] == "random"]
    random_high = float(random["high"].iloc[0]) if not random.empty else 0.0
    contrast = agreement[(agreement["measure"] == "drum_contrast") & (agreement["method"] == best["method"])]
    contrast_text = ""
    truth = agreement[agreement["measure"] == "reliance_contrast"]
    truth_positive = not truth.empty and bool(truth["low"].iloc[0] > 0)
    fails_contrast = truth_positive and not contrast.empty and bool(contrast["low"].iloc[0] <= 0)
    if not contrast.empty and np.isfinite(contrast["value"].iloc[0]):
        c = contrast.iloc[0]
        sign = "sees" if c["low"] > 0 else "does not clearly see"
        contrast_text = f" Against the model trained without the shortcut, it {sign} the drums (contrast {with_ci(c['value'], c['low'], c['high'])})."
    if not truth.empty and np.isfinite(truth["value"].iloc[0]):
        t = truth.iloc[0]
        expected = ("so a faithful method's drum contrast is positive" if t["low"] > 0 else
                    "which does not clearly exceed 0, so the drum contrast cannot rank the methods")
        contrast_text += (f" Removing the drums costs this model {with_ci(t['value'], t['low'], t['high'])} more of its "
                          f"class's probability than the clean model ({int(t['n'])} clips), {expected}.")
    figure = f"causal ρ {with_ci(best['value'], best['low'], best['high'])}, {int(best['n'])} clips"
    if best["method"] == "random" or best["low"] <= 0:
        return (f"**No method is supported**: the best, `{best['method']}` ({figure}), is not distinguishable from no "
                f"agreement with what the model causally needs.{contrast_text}")
    strength = "only weakly" if fails_contrast else "strongly" if best["low"] > random_high else "moderately"
    return f"**This run {strength} supports `{best['method']}`** ({figure}).{contrast_text}"


def faithfulness_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Tabulate MoRF AUC and gap per removal rule as ``value [95 % CI]`` text per method.

    The table also gives the clips they rest on (LeRF AUC is MoRF AUC plus the gap).
    """
    if summary.empty:
        return summary
    out = pd.DataFrame({"method": summary["method"]})
    for column in summary.columns:
        if column.endswith(("_low", "_high", "_lerf_auc")) or column in ("method", "clips"):
            continue
        if f"{column}_low" in summary:
            out[column.replace("_", " ")] = [
                with_ci(v, lo, hi) for v, lo, hi in zip(summary[column], summary[f"{column}_low"], summary[f"{column}_high"])
            ]
    out["clips"] = summary["clips"]
    return out


def reliance_sentence(causal: pd.DataFrame) -> str:
    """Describe how one clip's probability moves without the stem it relies on most.

    For example "Without its drums, p(Happy) moves from 0.91 to 0.08.", with the other stems' moves after it.
    """
    frame = causal.assign(drop=causal["p_with"] - causal["p_without"]).sort_values("drop", ascending=False)
    target = str(frame["target_class"].iloc[0]).capitalize()
    top = frame.iloc[0]
    others = ", ".join(f"{r.stem} {r.p_without:.2f}" for r in frame.iloc[1:].itertuples())
    return (f"Re-rendered **without its {top['stem']}**, this clip's p({target}) moves from {top['p_with']:.2f} to "
            f"**{top['p_without']:.2f}** (without the other instruments: {others}).")


def ear_table(checks: pd.DataFrame) -> pd.DataFrame:
    """Summarise the model's-ear check per method: mean p(class) in B and C, the gap and its excess over random, with CIs.

    ``checks`` holds ``queries.ear_checks`` rows of one model and one gain. Methods are sorted by the
    excess over random (the reference first missing it).
    """
    if checks.empty:
        return pd.DataFrame()
    summary = ear_summary(zip(checks["method"], checks["clip_id"], checks["p_sonified"], checks["p_complement"]))
    rows = []
    for method, row in summary.items():
        gap, against = row["gap"], row["against_reference"]
        rows.append({"method": method, "p(class | B: used)": round(row["p_sonified"], 3),
                     "p(class | C: ignored)": round(row["p_complement"], 3),
                     "ear gap B − C [95 % CI]": with_ci(gap.value, gap.low, gap.high),
                     "gap − random's [95 % CI]": "reference" if against is None else with_ci(against.value, against.low, against.high),
                     "clips": gap.n, "_order": -np.inf if against is None else against.value})
    return pd.DataFrame(rows).sort_values("_order", ascending=False).drop(columns="_order").reset_index(drop=True)


def ear_verdict(checks: pd.DataFrame) -> str:
    """One sentence: which methods' sonifications carry the model's evidence better than the random map's."""
    if checks.empty:
        return "This run stores no model's-ear check."
    summary = ear_summary(zip(checks["method"], checks["clip_id"], checks["p_sonified"], checks["p_complement"]))
    better = [m for m, row in summary.items() if row["against_reference"] is not None and row["against_reference"].low > 0]
    n = max(row["gap"].n for row in summary.values())
    if not better:
        return (f"On {n} clips, no method's sonification keeps the model's class in B and loses it in C clearly better "
                "than the random map's: by the model's own ear, the sonifications do not yet carry what it relied on.")
    return (f"On {n} clips, the sonifications of **{', '.join(better)}** keep the model's class in B and lose it in C "
            "better than the random map's (95 % CI of the difference above 0).")


def ear_sentence(check: pd.Series) -> str:
    """For the clip on screen, e.g. "The model still hears Happy in B: 0.91; in C: 0.34 (original 0.95)"."""
    target = str(check["target_class"]).capitalize()
    return (f"The model's ear: it hears {target} in the original with p = {check['p_original']:.2f}, "
            f"in **B** (what it used) with **{check['p_sonified']:.2f}**, in **C** (what it ignored) with "
            f"**{check['p_complement']:.2f}**.")


def decision_table(at_half: dict[str, float], calibrated: dict[str, float], *, classes: list[str]) -> pd.DataFrame:
    """Test metrics at p = 0.5 and at the validation-calibrated threshold, side by side.

    Rows: threshold p(Happy), accuracy, balanced accuracy (= macro recall), macro F1, then precision,
    recall and F1 per class. Columns: ``at p = 0.5`` and ``calibrated``; a metric not stored is NaN.
    """
    rows = [("threshold p(happy)", "threshold_p_happy"), ("accuracy", "accuracy"), ("balanced accuracy", "macro_recall"),
            ("macro F1", "macro_f1")]
    rows += [(f"{kind} {c}", f"{kind}_{c}") for c in classes for kind in ("precision", "recall", "f1")]
    return pd.DataFrame(
        {"at p = 0.5": [at_half.get(key, np.nan) for _, key in rows],
         "calibrated": [calibrated.get(key, np.nan) for _, key in rows]},
        index=pd.Index([label for label, _ in rows], name="metric"),
    )


def confusion_counts(metrics: dict[str, float], *, classes: list[str]) -> pd.DataFrame:
    """Return the stored ``cm_<true>_<predicted>`` counts as a matrix (rows true, columns predicted)."""
    return pd.DataFrame(
        [[int(metrics.get(f"cm_{a}_{p}", 0)) for p in classes] for a in classes],
        index=[f"true {a.capitalize()}" for a in classes], columns=[f"predicted {p.capitalize()}" for p in classes],
    )


def heat_styles(counts: pd.DataFrame) -> pd.DataFrame:
    """Return CSS per cell of a count matrix.

    Each cell gets a blue background whose strength is the count's share of the largest (a heatmap
    without matplotlib), and white text on the dark cells.
    """
    peak = max(float(counts.to_numpy().max(initial=0)), 1.0)
    def css(value: float) -> str:
        share = float(value) / peak
        return f"background-color: rgba(31,119,180,{0.12 + 0.78 * share:.2f}); color: {'white' if share > 0.55 else 'black'}"
    return counts.apply(lambda column: column.map(css))


def interaction_hint(mid2e: pd.DataFrame, *, source: str, feature_set: str, head: str) -> str:
    """Say where the pairwise interaction terms can be seen from the current choice.

    Only choices that exist are named (``mid2e``: the Mid2E experiments with ``input``,
    ``feature_set`` and ``head``).
    """
    if head == "ridge_interactions":
        return ""
    with_pairs = mid2e[(mid2e["input"] == source) & (mid2e["head"] == "ridge_interactions")]
    if with_pairs.empty:
        return "No model of these descriptors was fitted with pairwise interaction terms."
    if feature_set in set(with_pairs["feature_set"]):
        return "Choose the head *ridge_interactions* to see pairwise interaction terms."
    sets = ", ".join(sorted(with_pairs["feature_set"].unique()))
    return f"Pairwise interaction terms are fitted on feature set {sets} only: choose it, then the head *ridge_interactions*."


DETERMINISTIC_HEADS = ("ridge", "ridge_interactions")
"""Closed-form heads: every seed gives the same model, so a spread over seeds means nothing."""


def seed_summary(values: pd.Series | np.ndarray, *, head: str = "", digits: int = 3) -> str:
    """Format a mean over seeds as text.

    ``"0.514 [0.402, 0.626], 3 seeds"`` (Student-t 95 % CI), ``"0.514 (deterministic)"`` for a
    closed-form head, ``"0.514 (1 seed)"`` when there is one.
    """
    estimate = seed_ci(np.asarray(values, dtype=float))
    if not np.isfinite(estimate.value):
        return "—"
    if head in DETERMINISTIC_HEADS:
        return f"{estimate.value:.{digits}f} (deterministic)"
    if estimate.n < 2:
        return f"{estimate.value:.{digits}f} (1 seed)"
    return f"{estimate.value:.{digits}f} [{estimate.low:.{digits}f}, {estimate.high:.{digits}f}], {estimate.n} seeds"


CEILING_INPUTS = ("annotated_midlevel",)
"""Inputs a model cannot have for new audio (the dataset's own labels): their figures are ceilings."""


def cost_sentence(cost: pd.DataFrame, *, metric: str) -> str:
    """One sentence on what the interpretable bottleneck costs, read from ``queries.explainability_cost``.

    It judges the best Mid2E model usable on new audio (not built on annotated descriptors, which
    are a ceiling) against the direct model, and says which way the change goes, including the
    case where the bottleneck wins. Empty when there is no usable bottleneck model.
    """
    usable = cost[~cost["input"].isin(CEILING_INPUTS)]
    if usable.empty:
        return ""
    higher_is_better = metric != "mse"
    best = usable.sort_values("mean", ascending=not higher_is_better).iloc[0]
    change = float(best["change"])
    better = change > 0 if higher_is_better else change < 0
    lead = f"The best bottleneck usable on new audio (`{best['experiment_id']}`, {best['mean']:.3f}) "
    if better:
        return (lead + f"beats the direct model by {abs(change):.3f}: here explainability costs nothing, because the "
                "direct audio model learned less from its training clips than the named descriptors carry.")
    return lead + f"trails the direct model by {abs(change):.3f}: that is what the explanation costs here."


def headline(per_seed: pd.DataFrame, *, route: str) -> dict[str, str] | None:
    """Find the best model of ``route`` usable on new audio, and the route's ceiling if it has one.

    Parameters
    ----------
    per_seed : pd.DataFrame
        One row per experiment and seed with ``experiment_id``, ``route``, ``input``, ``head``,
        ``value`` (higher is better).
    route : str
        The route whose models are judged.

    Returns
    -------
    dict[str, str] or None
        ``{"experiment_id", "mean", "value", "ceiling"}`` (texts: the mean alone, the mean with its
        CI and n, and the ceiling, empty when none) or ``None`` when the route has no usable model.
    """
    rows = per_seed[per_seed["route"] == route]
    usable = rows[~rows["input"].isin(CEILING_INPUTS)]
    if usable.empty:
        return None
    means = usable.groupby("experiment_id")["value"].mean().sort_values(ascending=False)
    best = means.index[0]
    head = str(usable.loc[usable["experiment_id"] == best, "head"].iloc[0])
    values = usable.loc[usable["experiment_id"] == best, "value"]
    out = {"experiment_id": best, "mean": f"{values.mean():.3f}", "value": seed_summary(values, head=head), "ceiling": ""}
    ceiling = rows[rows["input"].isin(CEILING_INPUTS)]
    if not ceiling.empty:
        top = ceiling.groupby("experiment_id")["value"].mean().sort_values(ascending=False).index[0]
        top_head = str(ceiling.loc[ceiling["experiment_id"] == top, "head"].iloc[0])
        out["ceiling"] = (f"Ceiling (annotated descriptors, not available for new audio): {top} "
                          f"{seed_summary(ceiling.loc[ceiling['experiment_id'] == top, 'value'], head=top_head)}")
    return out


def _mean_r(predicted: np.ndarray, actual: np.ndarray) -> np.ndarray:
    """Mean over targets of Pearson r over clips, for stacked resamples ``(..., n_clips, n_targets)``."""
    p = predicted - predicted.mean(axis=-2, keepdims=True)
    a = actual - actual.mean(axis=-2, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (p * a).sum(axis=-2) / np.sqrt((p * p).sum(axis=-2) * (a * a).sum(axis=-2))
    finite = np.isfinite(r)
    count = finite.sum(axis=-1)
    # a resample whose clips are all alike has no defined r: NaN, without numpy's empty-mean warning
    return np.where(count > 0, np.where(finite, r, 0.0).sum(axis=-1) / np.maximum(count, 1), np.nan)


def paired_r_difference(
    predicted_a: np.ndarray, predicted_b: np.ndarray, actual: np.ndarray, *, resamples: int = 2000, seed: int = 0
) -> Estimate:
    """Mean r of model A minus that of model B on the same test clips, with a paired bootstrap 95 % CI.

    Parameters
    ----------
    predicted_a, predicted_b : np.ndarray
        ``(n_clips, n_targets)`` predictions (e.g. averaged over seeds).
    actual : np.ndarray
        ``(n_clips, n_targets)`` labels.
    resamples : int
        Number of bootstrap resamples.
    seed : int
        Seed of the resampling.

    Returns
    -------
    Estimate
        An estimate over clips; its CI containing 0 means the two are within noise.
    """
    a, b, y = (np.asarray(x, dtype=np.float64) for x in (predicted_a, predicted_b, actual))
    n = y.shape[0]
    value = float(_mean_r(a, y) - _mean_r(b, y))
    if n < 3:
        return Estimate(value, value, value, n)
    rows = np.random.default_rng(seed).integers(0, n, size=(resamples, n))
    differences = _mean_r(a[rows], y[rows]) - _mean_r(b[rows], y[rows])
    differences = differences[np.isfinite(differences)]
    if differences.size == 0:
        return Estimate(value, value, value, n)
    low, high = np.quantile(differences, [0.025, 0.975])
    return Estimate(value, float(low), float(high), n)


def compare_with_best(summary: pd.DataFrame, predictions: pd.DataFrame) -> pd.DataFrame:
    """Compare every experiment of ``summary`` with the best one on the same test clips.

    For every experiment, its difference in mean r from the best one (predictions averaged over
    seeds), with a paired bootstrap CI and a verdict: ``best``, ``within noise`` or ``worse``.

    Parameters
    ----------
    summary : pd.DataFrame
        One route's experiments (``experiment_id``, ``mean``).
    predictions : pd.DataFrame
        The route's ``experiment_id, clip_id, target, predicted, actual`` rows (all seeds).
    """
    if summary.empty or predictions.empty:
        return pd.DataFrame(columns=["experiment_id", "vs best", "verdict"])
    mean = predictions.groupby(["experiment_id", "clip_id", "target"], as_index=False)[["predicted", "actual"]].mean()
    best = summary.sort_values("mean", ascending=False)["experiment_id"].iloc[0]
    wide = {e: g.pivot(index="clip_id", columns="target", values="predicted") for e, g in mean.groupby("experiment_id")}
    actual = mean[mean["experiment_id"] == best].pivot(index="clip_id", columns="target", values="actual")
    rows = []
    for experiment in summary["experiment_id"]:
        if experiment == best:
            rows.append({"experiment_id": experiment, "vs best": "—", "verdict": "best"})
            continue
        if experiment not in wide:
            rows.append({"experiment_id": experiment, "vs best": "—", "verdict": "no predictions"})
            continue
        clips = actual.index.intersection(wide[experiment].index)
        targets = actual.columns.intersection(wide[experiment].columns)
        estimate = paired_r_difference(wide[experiment].loc[clips, targets].to_numpy(), wide[best].loc[clips, targets].to_numpy(),
                                       actual.loc[clips, targets].to_numpy(), resamples=1000)
        verdict = "within noise" if estimate.low <= 0 <= estimate.high else ("worse" if estimate.high < 0 else "better")
        rows.append({"experiment_id": experiment, "vs best": f"{with_ci(estimate.value, estimate.low, estimate.high)}, {estimate.n} clips",
                     "verdict": verdict})
    return pd.DataFrame(rows)
