"""Mid-level explanations: which descriptors drive which emotion, globally and clip by clip."""

from __future__ import annotations

import streamlit as st

from dashboard import figures, queries, verdicts, widgets
from engine.vocabulary import EMOTIONS, MIDLEVEL

widgets.page("Mid-level explanations")
VIEWS = ["Coefficients", "SHAP global", "SHAP per clip"]
db = widgets.require_database()

experiments = widgets.read(db, queries.experiments)
mid2e = experiments[experiments["route"] == "Mid2E"]
if mid2e.empty:
    st.info("This database holds no Mid2E experiment.")
    st.stop()
left, middle, right = st.columns(3)
source = left.selectbox("Descriptors", sorted(mid2e["input"].unique()), key="source", bind="query-params",
                        help="annotated: the dataset's labels · estimated: signal-based estimators · predicted: the A2Mid CNN")
options = mid2e[mid2e["input"] == source]
feature_set = middle.selectbox("Feature set", sorted(options["feature_set"].unique(), key=lambda f: (not f.isdigit(), f.zfill(3))),
                               key="feature_set", bind="query-params", help="7: descriptors · 19: + mean chroma · 34: + chords and key · "
                               "key_relative: + chord degrees relative to the key and interval classes")
options = options[options["feature_set"] == feature_set]
head = right.selectbox("Head", options["head"].tolist(), key="head", bind="query-params")
info = options[options["head"] == head].iloc[0]
experiment = info["experiment_id"]
st.caption(info["description"])
flags = widgets.read(db, queries.model_flags)
flag = flags[flags["experiment_id"] == experiment]
if not flag.empty:
    st.warning(f"This model's test predictions say little: {flag['flag'].iloc[0]}. Read its explanations with care.")

# Tabs bound to the URL (?view=...): only the open tab is computed and drawn, which keeps a page
# switch to a few charts instead of six.
coefficients_tab, global_tab, clip_tab = st.tabs(VIEWS, key="view", bind="query-params")

coefficients = widgets.read(db, queries.coefficients, experiment)
if coefficients_tab.open:
    with coefficients_tab:
        if not coefficients.empty:
            st.subheader("Standardised coefficients (features × emotions)")
            matrix = coefficients.pivot(index="feature", columns="target", values="value")[list(EMOTIONS)]
            ranking = matrix.abs().mean(axis=1)
            matrix = matrix.loc[ranking.sort_values(ascending=False).index]
            left, right = st.columns([3, 2])
            with left:
                widgets.chart(figures.matrix_heatmap, matrix.head(30), colorbar_title="β", name=f"{experiment} coefficients")
                if len(matrix) > 30:
                    st.caption(f"Showing the 30 strongest of {len(matrix)} terms.")
            with right:
                widgets.chart(figures.ranking_bars, ranking, xaxis_title="mean |β|", name=f"{experiment} coefficient ranking")
            st.caption("Right: mean |β| over the 8 emotions. β: change of the emotion, in its standard deviations, per standard deviation of the feature (ridge, λ by cross-validation).")
            interactions = coefficients[coefficients["feature"].str.contains(" x ", regex=False)]
            if not interactions.empty:
                st.subheader("Interaction terms: which pairs of descriptors act together?")
                emotion = st.selectbox("Emotion", list(EMOTIONS), key="interaction_emotion")
                left, right = st.columns([3, 2])
                with left:
                    widgets.chart(figures.interaction_heatmap, coefficients[coefficients["target"] == emotion], target=emotion, order=list(MIDLEVEL),
                                  name=f"{experiment} interactions {emotion}")
                with right:
                    strongest = interactions[interactions["target"] == emotion].assign(magnitude=lambda f: f["value"].abs())
                    strongest = strongest.sort_values("magnitude", ascending=False)[["feature", "value"]].head(10)
                    widgets.table(strongest.rename(columns={"feature": "pair", "value": "β"}), name=f"{experiment} strongest interactions {emotion}",
                                  column_config={"β": st.column_config.NumberColumn(format="%+.3f")})
                st.caption("Off the diagonal: β of the product of two standardised descriptors (a positive value means the two "
                           "raise the emotion more together than apart); on the diagonal: the descriptor's main effect.")
            else:
                st.caption(verdicts.interaction_hint(mid2e, source=source, feature_set=feature_set, head=head))
        else:
            st.info(f"The {head} head has no coefficients: its explanations are in the SHAP tabs.")

if global_tab.open:
    with global_tab:
        st.subheader("SHAP: global importance")
        shap_global = widgets.read(db, queries.shap_global, experiment)
        matrix = shap_global.pivot(index="feature", columns="target", values="value")[list(EMOTIONS)]
        importance = matrix.mean(axis=1)
        left, right = st.columns([3, 2])
        with left:
            widgets.chart(figures.matrix_heatmap, matrix.loc[importance.sort_values(ascending=False).index].head(30),
                          colorbar_title="mean |SHAP|", signed=False, name=f"{experiment} SHAP importance")
        with right:
            widgets.chart(figures.ranking_bars, importance, xaxis_title="mean |SHAP| (points)", name=f"{experiment} SHAP ranking")
            st.caption("Mean |SHAP| over clips and the 8 emotions, in rating points.")

if clip_tab.open:
    with clip_tab:
        st.subheader("SHAP: clip by clip")
        seeds = widgets.read(db, queries.seeds, experiment)
        left, right = st.columns(2)
        target = left.selectbox("Emotion", list(EMOTIONS), key="emotion", bind="query-params")
        seed = right.selectbox("Seed", seeds) if len(seeds) > 1 else seeds[0]
        values = widgets.read(db, queries.shap_values, experiment, seed=seed, target=target)
        widgets.chart(figures.shap_beeswarm, values, target=target, name=f"{experiment} SHAP {target} beeswarm")

        clip = st.selectbox("Clip", sorted(values["clip_id"].unique()), key="clip", bind="query-params")
        contributions = values[values["clip_id"] == clip].set_index("feature")["value"]
        base = widgets.read(db, queries.shap_base_value, experiment, seed=seed, target=target)
        predictions = widgets.read(db, queries.predictions, experiment, seed=seed)
        row = predictions[(predictions["clip_id"] == clip) & (predictions["target"] == target)]
        left, right = st.columns([3, 2])
        with left:
            widgets.chart(figures.shap_waterfall, contributions, base_value=base, target=target, name=f"{clip} SHAP {target} waterfall")
        with right:
            if not row.empty:
                st.metric(f"Predicted {target}", f"{row['predicted'].iloc[0]:.2f}", delta=f"{row['predicted'].iloc[0] - row['actual'].iloc[0]:+.2f} vs rated",
                          delta_color="off")
                st.metric(f"Rated {target}", f"{row['actual'].iloc[0]:.2f}")
            st.caption(f"Base value {base:.2f} + contributions {contributions.sum():+.2f} = {base + contributions.sum():.2f}")
            widgets.audio_player("Listen to the clip", widgets.read(db, queries.original_audio, dataset=info["dataset"], clip_id=clip))
