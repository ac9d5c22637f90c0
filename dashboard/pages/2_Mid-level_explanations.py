"""Mid-level explanations: which descriptors drive which emotion, globally and clip by clip."""

from __future__ import annotations

import streamlit as st

from dashboard import figures, widgets
from engine.datasets.base import EMOTIONS

widgets.page("Mid-level explanations")
db = widgets.require_database()

experiments = widgets.query(db, "experiments")
mid2e = experiments[experiments["route"] == "Mid2E"]
if mid2e.empty:
    st.info("This database holds no Mid2E experiment.")
    st.stop()
left, middle, right = st.columns(3)
source = left.selectbox("Descriptors", sorted(mid2e["input"].unique()), key="source",
                        help="annotated: the dataset's labels · estimated: signal-based estimators · predicted: the A2Mid CNN")
options = mid2e[mid2e["input"] == source]
feature_set = middle.selectbox("Feature set", sorted(options["feature_set"].unique(), key=lambda f: (not f.isdigit(), f.zfill(3))),
                               key="feature_set", help="7: descriptors · 19: + mean chroma · 34: + chords and key · "
                               "key_relative: + chord degrees relative to the key and interval classes")
options = options[options["feature_set"] == feature_set]
head = right.selectbox("Head", options["head"].tolist(), key="head")
info = options[options["head"] == head].iloc[0]
experiment = info["experiment_id"]
st.caption(info["description"])

coefficients = widgets.query(db, "coefficients", experiment)
if not coefficients.empty:
    st.subheader("Standardised coefficients (features × emotions)")
    matrix = coefficients.pivot(index="feature", columns="target", values="value")[list(EMOTIONS)]
    ranking = matrix.abs().mean(axis=1)
    matrix = matrix.loc[ranking.sort_values(ascending=False).index]
    left, right = st.columns([3, 2])
    with left:
        widgets.chart(figures.matrix_heatmap, matrix.head(30), colorbar_title="β")
        if len(matrix) > 30:
            st.caption(f"Showing the 30 strongest of {len(matrix)} terms.")
    with right:
        widgets.chart(figures.ranking_bars, ranking, xaxis_title="mean |β| over the 8 emotions")
    st.caption("β: change of the emotion, in its standard deviations, per standard deviation of the feature (ridge, λ by cross-validation).")

st.subheader("SHAP: global importance")
shap_global = widgets.query(db, "shap_global", experiment)
matrix = shap_global.pivot(index="feature", columns="target", values="value")[list(EMOTIONS)]
importance = matrix.mean(axis=1)
left, right = st.columns([3, 2])
with left:
    widgets.chart(figures.matrix_heatmap, matrix.loc[importance.sort_values(ascending=False).index].head(30),
                  colorbar_title="mean |SHAP|", signed=False)
with right:
    widgets.chart(figures.ranking_bars, importance, xaxis_title="mean |SHAP| over clips and emotions (rating units)")

st.subheader("SHAP: clip by clip")
seeds = widgets.query(db, "seeds", experiment)
left, right = st.columns(2)
target = left.selectbox("Emotion", list(EMOTIONS))
seed = right.selectbox("Seed", seeds) if len(seeds) > 1 else seeds[0]
values = widgets.query(db, "shap_values", experiment, seed=seed, target=target)
widgets.chart(figures.shap_beeswarm, values, target=target)

clip = st.selectbox("Clip", sorted(values["clip_id"].unique()))
contributions = values[values["clip_id"] == clip].set_index("feature")["value"]
base = widgets.query(db, "shap_base_value", experiment, seed=seed, target=target)
predictions = widgets.query(db, "predictions", experiment, seed=seed)
row = predictions[(predictions["clip_id"] == clip) & (predictions["target"] == target)]
left, right = st.columns([3, 2])
with left:
    widgets.chart(figures.shap_waterfall, contributions, base_value=base, target=target)
with right:
    if not row.empty:
        st.metric(f"Predicted {target}", f"{row['predicted'].iloc[0]:.2f}", delta=f"{row['predicted'].iloc[0] - row['actual'].iloc[0]:+.2f} vs rated",
                  delta_color="off")
        st.metric(f"Rated {target}", f"{row['actual'].iloc[0]:.2f}")
    st.caption(f"Base value {base:.2f} + contributions {contributions.sum():+.2f} = {base + contributions.sum():.2f}")
    widgets.audio_player("Listen to the clip", widgets.query(db, "original_audio", dataset=info["dataset"], clip_id=clip))
