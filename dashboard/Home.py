"""Home: what the results database holds (datasets, runs, headline figures) and where to go next."""

from __future__ import annotations

import json

import streamlit as st

from dashboard import widgets

widgets.page("Explainable Music Emotion Recognition")
st.markdown(
    "Compare feature sets and model heads, read coefficients and SHAP values, and **listen** to what a "
    "spectrogram model relied on. Everything here was computed offline by `python -m precompute run` "
    "and is read from one DuckDB file."
)

db = widgets.require_database()
runs = widgets.query(db, "runs")
finished = runs[runs["status"] == "finished"]
latest = (finished if not finished.empty else runs).iloc[0]
st.caption(f"Database `{db}` · profile **{latest['profile']}** · dataset **{latest['dataset']}** · run {latest['run_id']} ({latest['status']})")

st.header("Headline figures (test split)")
r = widgets.query(db, "metric_summary", metric="pearson_r")
accuracy = widgets.query(db, "metric_summary", metric="accuracy", target="happy_vs_sad")
columns = st.columns(4)
for column, route, label in zip(columns, ("A2E", "A2Mid", "Mid2E"), ("Audio → emotion", "Audio → mid-level", "Mid-level → emotion")):
    rows = r[r["route"] == route].sort_values("mean", ascending=False)
    if rows.empty:
        column.metric(label, "not run")
    else:
        best = rows.iloc[0]
        column.metric(f"{label}, best mean r", f"{best['mean']:.3f} ± {best['sd']:.3f}", help=best["experiment_id"])
        column.caption(f"{best['experiment_id']} · {int(best['seeds'])} seed(s)")
if accuracy.empty:
    columns[3].metric("ViT Happy/Sad accuracy", "not run")
else:
    best = accuracy.iloc[0]
    columns[3].metric("ViT Happy/Sad accuracy", f"{best['mean']:.3f}", help=best["experiment_id"])
    columns[3].caption(f"{best['experiment_id']} · {int(best['seeds'])} seed(s)")

st.header("Where to look")
st.page_link("pages/1_Compare_models.py", label="Compare models: feature sets, inputs and heads side by side", icon="📊")
st.page_link("pages/2_Mid-level_explanations.py", label="Mid-level explanations: coefficients and SHAP", icon="🧭")
st.page_link("pages/3_Confusion_browser.py", label="Confusion browser: relevance maps and sonified audio", icon="🎧")
st.page_link("pages/5_Attribution_quality.py", label="Attribution quality: which relevance method to trust", icon="⚖️")
st.page_link("pages/6_Explain_your_clip.py", label="Explain your clip: upload audio, see and hear the explanation", icon="⬆️")

st.header("Datasets")
st.dataframe(widgets.query(db, "clip_counts"), hide_index=True, width="stretch")
skipped = widgets.query(db, "skipped_clips")
if not skipped.empty:
    with st.expander(f"{len(skipped)} clip(s) skipped because their audio could not be read"):
        st.dataframe(skipped, hide_index=True, width="stretch")

st.header("Experiments")
st.dataframe(widgets.query(db, "experiments"), hide_index=True, width="stretch")

st.header("Runs (provenance)")
st.dataframe(runs.drop(columns=["versions"]), hide_index=True, width="stretch")
with st.expander("Library versions of the latest run"):
    st.json(json.loads(latest["versions"]))
