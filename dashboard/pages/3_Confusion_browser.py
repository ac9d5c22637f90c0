"""Confusion browser: pick a cell, pick a clip, see where the ViT looked and hear it."""

from __future__ import annotations

import streamlit as st

from dashboard import figures, widgets
from engine.datasets.base import CLASSES

METHOD_HELP = (
    "chefer2021: LRP relevance × gradient of the attention, rolled out (Chefer et al. CVPR 2021; the thesis's method) · "
    "attnlrp: LRP through the whole ViT, pixel resolution, signed (Achtibat et al. 2024) · "
    "grad_rollout: gradient-weighted attention rollout (Chefer et al. ICCV 2021) · "
    "rollout: attention rollout (Abnar & Zuidema 2020) · gradient_x_input, integrated_gradients: signed gradient maps · "
    "random: the chance reference"
)

widgets.page("Confusion browser")
db = widgets.require_database()

experiment, dataset, seed = widgets.vit_model(db)

decisions = widgets.query(db, "classifications", experiment, seed=seed)
metrics = widgets.query(db, "classification_metrics", experiment, seed=seed)
counts = decisions.groupby(["actual", "predicted"]).size().rename("count").reset_index()

top = st.columns(4)
top[0].metric("Accuracy", f"{metrics.get('accuracy', float('nan')):.3f}")
top[1].metric("Recall Happy", f"{metrics.get('recall_happy', float('nan')):.3f}")
top[2].metric("Recall Sad", f"{metrics.get('recall_sad', float('nan')):.3f}")
top[3].metric("Weighted F1", f"{metrics.get('weighted_f1', float('nan')):.3f}")

left, right = st.columns([2, 3])
with left:
    widgets.chart(figures.confusion_matrix, counts, classes=CLASSES)
cells = [(a, p) for a in CLASSES for p in CLASSES]


def cell_label(cell: tuple[str, str]) -> str:
    n = int(((decisions["actual"] == cell[0]) & (decisions["predicted"] == cell[1])).sum())
    verdict = "correct" if cell[0] == cell[1] else "error"
    return f"true {cell[0].capitalize()} → predicted {cell[1].capitalize()} ({n}, {verdict})"


labels = {cell_label(c): c for c in cells}
with right:
    cell = labels[st.radio("Cell", list(labels), index=2, key="cell")]
    in_cell = decisions[(decisions["actual"] == cell[0]) & (decisions["predicted"] == cell[1])]
    explained = set(widgets.query(db, "explained_clips", experiment, seed=seed))
    in_cell = in_cell.assign(explained=in_cell["clip_id"].isin(explained))
    in_cell = in_cell.sort_values(["explained", "confidence"], ascending=False)
    if in_cell.empty:
        st.info("No test clip falls in this cell.")
        st.stop()
    confidence = in_cell.set_index("clip_id")["confidence"]
    clip = st.selectbox("Clip (explained ones first, most confident first)", in_cell["clip_id"].tolist(), key="clip",
                        format_func=lambda c: f"{c} · confidence {confidence[c]:.1%}" + ("" if c in explained else " · no map stored"))
    methods = widgets.query(db, "relevance_methods", experiment)
    method = st.selectbox("Attribution method", methods, key="method", help=METHOD_HELP)

st.subheader(f"{clip}: true {cell[0].capitalize()}, predicted {cell[1].capitalize()}")
stored = widgets.query(db, "image", dataset=dataset, clip_id=clip)
relevance = widgets.query(db, "relevance_map", experiment, seed=seed, clip_id=clip, method=method)
left, right = st.columns(2)
if stored is not None:
    image, max_hz, seconds = stored
    with left:
        widgets.chart(figures.spectrogram_figure, image, max_hz=max_hz, seconds=seconds, title="Log spectrogram (model input)")
    if relevance is not None:
        values, signed = relevance
        with right:
            widgets.chart(figures.spectrogram_figure, values, max_hz=max_hz, seconds=seconds, signed=signed,
                          title=f"Relevance for '{cell[1]}' ({method})", relevance=True)
    else:
        right.info("No relevance map is stored for this clip: maps are kept for the most confident clips of each cell.")

st.subheader("Listen")
gains = widgets.query(db, "sonification_gains", experiment)
gain = st.radio("Sonification gain A(R)", gains, horizontal=True) if len(gains) > 1 else (gains[0] if gains else "")
players = st.columns(3)
with players[0]:
    widgets.audio_player("Original", widgets.query(db, "original_audio", dataset=dataset, clip_id=clip))
with players[1]:
    widgets.audio_player(f"What the model used: STFT × A(R), original phase ({method}, {gain})",
                         widgets.query(db, "sonified_audio", experiment, seed=seed, clip_id=clip, method=method, gain=gain))
with players[2]:
    widgets.audio_player("What it ignored: STFT × (1 − A(R))",
                         widgets.query(db, "sonified_audio", experiment, seed=seed, clip_id=clip, method=method, gain=gain,
                                       variant="complement"))

shares = widgets.query(db, "stem_shares", experiment, seed=seed, clip_id=clip, method=method)
if not shares.empty:
    st.subheader("Which instrument did the model look at?")
    left, right = st.columns(2)
    with left:
        st.caption("This clip: share of relevance on bins each stem dominates, against the share of bins it owns.")
        widgets.chart(figures.stem_share_bars, shares)
    with right:
        by_cell = widgets.query(db, "stem_shares_by_cell", experiment, seed=seed, method=method)
        by_cell["cell"] = by_cell["actual"].str.capitalize() + " → " + by_cell["predicted"].str.capitalize()
        st.caption("All test clips, mean relevance share per stem by confusion-matrix cell.")
        st.dataframe(by_cell.pivot(index="cell", columns="stem", values="relevance_share").style.format("{:.0%}"), width="stretch")

with st.expander("What is known about this clip"):
    values = widgets.query(db, "clip_values", dataset=dataset, clip_id=clip)
    st.dataframe(values.pivot(index="name", columns="kind", values="value"), width="stretch")

with st.expander("Faithfulness of the attribution methods (deletion and insertion tests)"):
    st.caption("Deletion: 16 × 16 tiles are blanked in order of relevance; a faithful map makes the predicted class's "
               "probability fall fast (low AUC). Insertion: tiles are restored into a blank input; it should rise fast "
               "(high AUC). The random order is the reference; gains are measured against it. See Attribution quality.")
    st.dataframe(widgets.query(db, "faithfulness_summary", experiment, seed=seed), hide_index=True, width="stretch")
