"""What a run supports, in words and in tables with their uncertainty (pure functions, no Streamlit)."""

from __future__ import annotations

import numpy as np
import pandas as pd

MEASURES = {"causal_spearman": "causal ρ", "drum_contrast": "drum contrast"}


def with_ci(value: float, low: float, high: float, *, digits: int = 3) -> str:
    """``"0.512 [0.301, 0.688]"``; an em dash for a missing value."""
    if value is None or not np.isfinite(value):
        return "—"
    return f"{value:+.{digits}f} [{low:+.{digits}f}, {high:+.{digits}f}]"


def agreement_table(agreement: pd.DataFrame) -> pd.DataFrame:
    """One row per method, one column per causal measure (value [95 % CI]), and the clips each rests on."""
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
    otherwise the run supports no method.
    """
    causal = agreement[agreement["measure"] == "causal_spearman"].dropna(subset=["value"])
    if causal.empty:
        return "This run stores no causal evidence for its maps."
    best = causal.sort_values("value", ascending=False).iloc[0]
    random = causal[causal["method"] == "random"]
    random_high = float(random["high"].iloc[0]) if not random.empty else 0.0
    contrast = agreement[(agreement["measure"] == "drum_contrast") & (agreement["method"] == best["method"])]
    contrast_text = ""
    if not contrast.empty and np.isfinite(contrast["value"].iloc[0]):
        c = contrast.iloc[0]
        sign = "sees" if c["low"] > 0 else "does not clearly see"
        contrast_text = f" Against the model trained without the shortcut, it {sign} the drums (contrast {with_ci(c['value'], c['low'], c['high'])})."
    figure = f"causal ρ {with_ci(best['value'], best['low'], best['high'])}, {int(best['n'])} clips"
    if best["method"] == "random" or best["low"] <= 0:
        return (f"**No method is supported**: the best, `{best['method']}` ({figure}), is not distinguishable from no "
                f"agreement with what the model causally needs.{contrast_text}")
    strength = "strongly" if best["low"] > random_high else "moderately"
    return f"**This run {strength} supports `{best['method']}`** ({figure}).{contrast_text}"


def faithfulness_table(summary: pd.DataFrame) -> pd.DataFrame:
    """MoRF AUC and gap per removal rule as ``value [95 % CI]`` text per method, with the clips they
    rest on (LeRF AUC is MoRF AUC plus the gap)."""
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
    """For one clip: "Without its drums, p(Happy) moves from 0.91 to 0.08." for the stem it relies on most,
    with the other stems' moves after it."""
    frame = causal.assign(drop=causal["p_with"] - causal["p_without"]).sort_values("drop", ascending=False)
    target = str(frame["target_class"].iloc[0]).capitalize()
    top = frame.iloc[0]
    others = ", ".join(f"{r.stem} {r.p_without:.2f}" for r in frame.iloc[1:].itertuples())
    return (f"Re-rendered **without its {top['stem']}**, this clip's p({target}) moves from {top['p_with']:.2f} to "
            f"**{top['p_without']:.2f}** (without the other instruments: {others}).")
