"""Home: what the results database holds (datasets, runs, headline figures) and where to go next."""

from __future__ import annotations

import json

import streamlit as st

from dashboard import queries, verdicts, widgets

widgets.page("Explainable Music Emotion Recognition")
st.markdown(
    "Compare feature sets and model heads, read coefficients and SHAP values, and **listen** to what a "
    "spectrogram model relied on. Everything here was computed offline by `python -m precompute run` "
    "and is read from one DuckDB file."
)

db = widgets.require_database()
runs = widgets.read(db, queries.runs)
finished = runs[runs["status"] == "finished"]
latest = (finished if not finished.empty else runs).iloc[0]
st.caption(f"Database `{db}` · profile **{latest['profile']}** · dataset **{latest['dataset']}** · run {latest['run_id']} ({latest['status']})")
base_url = widgets.dashboard_url()
# A callable: the report (figures drawn by Kaleido, some seconds) is built only when the button is clicked.
st.download_button("Report (HTML)", data=lambda: widgets.report_html(db, base_url=base_url), file_name=f"{db.stem}-report.html",
                   mime="text/html", icon=":material/download:", on_click="ignore", key="report",
                   help="One self-contained HTML file: provenance, feature sets against the thesis, mid-level coefficients and "
                        "SHAP, confusion matrices, the attribution verdict, the model's-ear check and a gallery of relevance maps, "
                        "with links back to these pages. The same file as `python -m precompute report --db …`.")

st.header("Headline figures (test split)")
st.caption("The best model of each route that works on new audio: mean over seeds with a 95 % CI (Student t) and the "
           "number of seeds; closed-form models are deterministic. Where a route has a ceiling (a model fed the dataset's "
           "own annotations), it is named beside, not as the headline.")
r = widgets.read(db, queries.metric_per_seed, metric="pearson_r")
balanced = widgets.read(db, queries.metric_per_seed, metric="macro_recall", target="happy_vs_sad")
flags = widgets.read(db, queries.model_flags)
columns = st.columns(4)
HEADLINES = (("A2E", "Audio → emotion, mean r", r), ("A2Mid", "Audio → mid-level, mean r", r),
             ("Mid2E", "Mid-level → emotion, mean r", r), ("Perceptual", "Perceptual Happy/Sad, balanced accuracy", balanced))
for column, (route, label, frame) in zip(columns, HEADLINES):
    best = verdicts.headline(frame, route=route)
    if best is None:
        column.metric(label, "not run")
        continue
    column.metric(label, best["mean"], help=best["experiment_id"])
    column.caption(f"{best['experiment_id']} · {best['value']}")
    flag = flags[flags["experiment_id"] == best["experiment_id"]]
    if not flag.empty:
        column.warning("; ".join(flag["flag"]))
    if best["ceiling"]:
        column.caption(best["ceiling"])
if not flags.empty:
    # Lazy expanders (drawn only while open) keep Home's first render light.
    if box := widgets.lazy_expander(f"{flags['experiment_id'].nunique()} model(s) flagged: flat predictions or worse than a "
                                    "constant", key="flags_open"):
        with box:
            widgets.table(flags, name="Flagged models", latex=False)

st.header("A guided path")
st.markdown("Each step answers one question a reviewer asks; the run chosen in the sidebar applies to every page, "
            "and every page's state (run, model, cell, clip, method) is in its URL, so a view can be shared as a link.")
GUIDE = (
    ("views/feature_sets.py", "1 · Which input, feature set and head works best, and what does explainability cost?", ":material/bar_chart:"),
    ("views/midlevel.py", "2 · Which musical cues drive each emotion (coefficients, interactions, SHAP clip by clip)?", ":material/explore:"),
    ("views/descriptors.py", "3 · Are the descriptors and chords the models read trustworthy?", ":material/music_note:"),
    ("views/confusion.py", "4 · Where does the ViT err, and why? Click a cell, see the relevance, listen", ":material/headphones:"),
    ("views/attribution_quality.py", "5 · Which relevance method can be trusted (causal ground truth, removal tests, sanity)?", ":material/balance:"),
    ("views/explain_clip.py", "6 · Explain a clip of your own with the stored model", ":material/upload_file:"),
)
for target, label, icon in GUIDE:
    st.page_link(target, label=label, icon=icon)

st.header("Datasets")
widgets.table(widgets.read(db, queries.clip_counts), name="Clips per dataset and split")
skipped = widgets.read(db, queries.skipped_clips)
if not skipped.empty:
    if box := widgets.lazy_expander(f"{len(skipped)} clip(s) skipped because their audio could not be read", key="skipped_open"):
        with box:
            widgets.table(skipped, name="Skipped clips", latex=False)

st.header("Experiments")
experiments = widgets.read(db, queries.experiments)
if box := widgets.lazy_expander(f"The {len(experiments)} experiments of this database, with their settings", key="experiments_open"):
    with box:
        widgets.table(experiments, name="Experiments", latex=False)

st.header("Runs (provenance)")
widgets.table(runs.drop(columns=["versions"]), name="Runs", latex=False)
if box := widgets.lazy_expander("Library versions of the latest run", key="versions_open"):
    with box:
        st.json(json.loads(latest["versions"]))
