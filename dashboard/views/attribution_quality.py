"""Attribution quality: which relevance method should a user trust? Faithfulness, sanity, ground truth."""

from __future__ import annotations

import streamlit as st

from dashboard import figures, widgets

widgets.page("Attribution quality")
db = widgets.require_database()

experiment, _, seed = widgets.vit_model(db)

st.markdown(
    "Three questions, each against a reference that knows nothing: **faithfulness** (does the model's output follow "
    "the map?), **sanity** (does the map depend on the model at all?) and, on the synthetic corpus, **ground truth** "
    "(does the map find the instrument the training data was biased towards?)."
)

st.header("Faithfulness: deletion and insertion")
summary = widgets.query(db, "faithfulness_summary", experiment, seed=seed)
if summary.empty:
    st.info("No faithfulness figures are stored for this model.")
else:
    st.caption("16 × 16 tiles of the model input are blanked (deletion) or restored into a blank input (insertion) in "
               "order of relevance. Gains are measured against a random tile order: positive = better than chance.")
    widgets.table(summary, name=f"faithfulness {experiment}",
                  column_config={c: st.column_config.NumberColumn(format="%.3f") for c in summary.columns if c not in ("method", "clips")})
    curves = widgets.query(db, "faithfulness_curves", experiment, seed=seed)
    left, right = st.columns(2)
    with left:
        widgets.chart(figures.perturbation_curves, curves, curve="deletion", name="deletion curves")
    with right:
        widgets.chart(figures.perturbation_curves, curves, curve="insertion", name="insertion curves")

st.header("Sanity: randomise the model, does the map change?")
sanity = widgets.query(db, "sanity_summary", experiment, seed=seed)
if sanity.empty:
    st.info("No sanity checks are stored for this model.")
else:
    st.caption("Model-parameter randomisation (Adebayo et al. 2018), cascading from the classifier head down to all layers. "
               "Cells: Spearman rank correlation between |map| of the trained and of the randomised model. A method whose "
               "map stays similar (near 1) once the model is destroyed describes the input, not the model.")
    table = sanity.pivot(index="method", columns="randomised", values="spearman")
    table = table[[c for c in ("head", "top_half", "all") if c in table.columns]]
    widgets.table(table, name=f"sanity checks {experiment}", style="{:.2f}")

stems = widgets.query(db, "stem_share_summary", experiment, seed=seed)
if not stems.empty:
    st.header("Ground truth: which instrument does each method point at?")
    st.caption("Synthetic corpus only. Each time-frequency bin is shared among the stems by their energy there. "
               "Relevance share above area share means the method points at that stem more than its footprint explains; "
               "in training, steady percussion was made to co-occur with Happy (the confound).")
    stems = stems.assign(excess=stems["relevance_share"] - stems["area_share"])
    widgets.table(stems.pivot(index="method", columns="stem", values="excess"), name=f"stem relevance excess {experiment}", style="{:+.1%}")
