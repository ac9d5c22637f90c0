"""Compare models: one metric across every experiment, per target, and against the thesis."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import figures, widgets

widgets.page("Compare models")
db = widgets.require_database()

METRICS = {"pearson_r": "Pearson r (higher is better)", "mse": "MSE on the label scale (lower is better)"}
summary_all = widgets.query(db, "metric_summary", metric="pearson_r")
routes = [r for r in ("A2E", "A2Mid", "Mid2E") if r in set(summary_all["route"])]
if not routes:
    st.info("This database holds no regression experiments.")
    st.stop()

left, right = st.columns([1, 2])
route = left.radio("Route", routes, horizontal=True, help="A2E: audio → emotion · A2Mid: audio → mid-level · Mid2E: mid-level → emotion")
metric = right.radio("Metric", list(METRICS), format_func=METRICS.get, horizontal=True)

summary = widgets.query(db, "metric_summary", metric=metric)
summary = summary[summary["route"] == route]
reference = widgets.query(db, "reference_figures")
matched = pd.DataFrame()
if not reference.empty:
    ref = reference[(reference["metric"] == metric) & (reference["target"] == "all") & (reference["route"] == route)]
    matched = summary.merge(ref, on=["route", "input", "head", "feature_set"], suffixes=("", "_thesis"))
    matched = matched[["experiment_id", "mean_thesis", "sd_thesis"]].rename(columns={"mean_thesis": "mean", "sd_thesis": "sd"})

st.subheader(f"{route}: mean over targets, mean ± SD over seeds")
widgets.chart(figures.metric_bars, summary, metric_label=METRICS[metric], reference=matched)
if not matched.empty:
    st.caption("Grey bars: figures reported in the thesis for the same route, input and head (its own data and split).")
elif not reference.empty:
    st.caption("The thesis reports no figure for these exact experiments (e.g. it used *predicted* descriptors).")

table = summary[["experiment_id", "input", "head", "feature_set", "mean", "sd", "seeds"]]
if not matched.empty:
    table = table.merge(matched.rename(columns={"mean": "thesis mean", "sd": "thesis sd"}), on="experiment_id", how="left")
number = st.column_config.NumberColumn(format="%.3f")
st.dataframe(table, hide_index=True, width="stretch",
             column_config={c: number for c in ("mean", "sd", "thesis mean", "thesis sd")})
split = widgets.query(db, "experiments")
split = split[split["route"] == route]["split_name"].unique()
st.caption("Split: " + "; ".join(split))

st.subheader("Per target")
per_target = widgets.query(db, "per_target_metrics", metric=metric, route=route)
widgets.chart(figures.per_target_bars, per_target, metric_label=METRICS[metric])

st.subheader("Training curves")
experiment = st.selectbox("Experiment", summary["experiment_id"].tolist(), key="curves")
history = widgets.query(db, "training_history", experiment)
if history.empty:
    st.caption("Closed-form model (ridge with cross-validated λ): no epochs to show.")
else:
    widgets.chart(figures.training_curves, history)
