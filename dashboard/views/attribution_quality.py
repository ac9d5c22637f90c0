"""Attribution quality: which relevance method should a user trust? Causal ground truth, removal tests, sanity."""

from __future__ import annotations

import streamlit as st

from dashboard import figures, queries, verdicts, widgets

widgets.page("Attribution quality")
db = widgets.require_database()

experiment, _, seed = widgets.vit_model(db)

st.markdown(
    "Three questions, each against a reference that knows nothing: **ground truth** (on the synthetic corpus: does the "
    "map point at the instrument the model cannot do without?), **faithfulness** (does the model's output follow the "
    "map when tiles are removed?) and **sanity** (does the map depend on the model at all?)."
)

agreement = widgets.read(db, queries.attribution_agreement, experiment, seed=seed)
reliance = widgets.read(db, queries.reliance_summary, experiment, seed=seed)
if not agreement.empty:
    st.header("Ground truth: does the map find what the model needs?")
    st.markdown(verdicts.attribution_verdict(agreement))
    st.caption("Each explained clip is re-rendered without one instrument at a time; the drop in the probability of the "
               "explained class is the model's causal reliance on that instrument. **Causal ρ**: Spearman between a "
               "method's excess relevance per instrument (relevance share − area share) and that reliance, over clips × "
               "instruments. **Drum contrast**: the method's excess drum relevance for this model minus that for the model "
               "trained without the drum shortcut, on the same clips (positive = the method sees the shortcut). 95 % "
               "bootstrap CIs over clips.")
    widgets.table(verdicts.agreement_table(agreement), name=f"causal agreement {experiment}")
if not reliance.empty:
    with st.expander("The model's causal reliance on each instrument"):
        widgets.table(reliance, name=f"stem reliance {experiment}",
                      column_config={c: st.column_config.NumberColumn(format="%+.3f") for c in ("reliance", "reliance_sd")})

st.header("Faithfulness: remove tiles, most and least relevant first")
summary = widgets.read(db, queries.faithfulness_summary, experiment, seed=seed)
if summary.empty:
    st.info("No faithfulness figures are stored for this model.")
else:
    st.caption("16 × 16 tiles of the model input are removed in order of relevance, most relevant first (MoRF: the "
               "probability should fall, low AUC) and least relevant first (LeRF: it should stay, high AUC); the gap "
               "LeRF − MoRF is the score. **floor** blanks tiles to silence, which pushes the input out of distribution; "
               "**road** fills them by noisy linear imputation from their surroundings (Rong et al. 2022), which keeps it "
               "in. Means with 95 % bootstrap CIs over the measured clips; `random order` is chance.")
    widgets.table(verdicts.faithfulness_table(summary), name=f"faithfulness {experiment}")
    curves = widgets.read(db, queries.faithfulness_curves, experiment, seed=seed)
    removal = st.radio("Removal rule", ["road", "floor"], horizontal=True, key="removal")
    left, right = st.columns(2)
    with left:
        widgets.chart(figures.perturbation_curves, curves, removal=removal, curve="morf", name=f"{removal} MoRF curves")
    with right:
        widgets.chart(figures.perturbation_curves, curves, removal=removal, curve="lerf", name=f"{removal} LeRF curves")

ears = widgets.read(db, queries.ear_checks, experiment, seed=seed)
if not ears.empty:
    st.header("The model's ear: does the sonification still carry the class?")
    gains = sorted(ears["gain"].unique())
    gain = st.selectbox("Gain", gains, key="ear_gain") if len(gains) > 1 else gains[0]
    ears = ears[ears["gain"] == gain]
    st.markdown(verdicts.ear_verdict(ears))
    st.caption(f"Every stored sonification (gain {gain}) is classified again by the same model: **B** keeps what the map "
               "marked (what the listener hears as 'what the model used'), **C** the rest. A faithful map gives a B that "
               "keeps the predicted class and a C that loses it: a large gap p(B) − p(C). The random map's sonification is "
               "the chance reference (difference paired by clip). 95 % bootstrap CIs over clips.")
    widgets.table(verdicts.ear_table(ears), name=f"model's ear {experiment} {gain}", latex=False)

st.header("Sanity: randomise the model, does the map change?")
sanity = widgets.read(db, queries.sanity_summary, experiment, seed=seed)
if sanity.empty:
    st.info("No sanity checks are stored for this model.")
else:
    st.caption("Model-parameter randomisation (Adebayo et al. 2018), cascading from the classifier head down to all layers. "
               "Cells: Spearman rank correlation between |map| of the trained and of the randomised model. A method whose "
               "map stays similar (near 1) once the model is destroyed describes the input, not the model. "
               f"Means over {int(sanity['clips'].max())} clips; the last column gives the 95 % bootstrap CI of `all`.")
    table = sanity.pivot(index="method", columns="randomised", values="spearman")
    table = table[[c for c in ("head", "top_half", "all") if c in table.columns]]
    if "all" in table.columns:
        full = sanity[sanity["randomised"] == "all"].set_index("method")
        table["all: 95 % CI"] = [f"[{full.loc[m, 'low']:+.2f}, {full.loc[m, 'high']:+.2f}]" for m in table.index]
    widgets.table(table, name=f"sanity checks {experiment}",
                  column_config={c: st.column_config.NumberColumn(format="%.2f") for c in ("head", "top_half", "all")})

stems = widgets.read(db, queries.stem_share_summary, experiment, seed=seed)
if not stems.empty:
    st.header("Which instrument does each method point at?")
    st.caption("Synthetic corpus only. Each time-frequency bin is shared among the stems by their energy there. "
               "Relevance share above area share means the method points at that stem more than its footprint explains; "
               "in training, steady percussion was made to co-occur with Happy (the confound).")
    stems = stems.assign(excess=stems["relevance_share"] - stems["area_share"])
    widgets.table(stems.pivot(index="method", columns="stem", values="excess"), name=f"stem relevance excess {experiment}", style="{:+.1%}")
