"""Confusion browser: click a cell, pick a clip, see where the ViT looked and hear it."""

from __future__ import annotations

import functools
import time

import pandas as pd
import streamlit as st

from dashboard import figures, queries, verdicts, widgets
from engine.vocabulary import CLASSES

METHOD_HELP = (
    "chefer2021: LRP relevance × gradient of the attention, rolled out (Chefer et al. CVPR 2021; the thesis's method) · "
    "attnlrp: LRP through the whole ViT, pixel resolution, signed (Achtibat et al. 2024) · "
    "grad_rollout: gradient-weighted attention rollout (Chefer et al. ICCV 2021) · "
    "rollout: attention rollout (Abnar & Zuidema 2020) · gradient_x_input, integrated_gradients: signed gradient maps · "
    "random: the chance reference"
)
# Cell names as they appear in the URL: <true>-<predicted>, e.g. sad-happy.
CELLS = [f"{a}-{p}" for a in CLASSES for p in CLASSES]
DEFAULT_CELL = "sad-happy"  # the error the demo corpus was built to show (steady drums called Happy)
RADIO_CELLS = [DEFAULT_CELL, *(c for c in CELLS if c != DEFAULT_CELL)]

widgets.page("Confusion browser")
db = widgets.require_database()
experiment, dataset, seed = widgets.vit_model(db)

decisions = widgets.read(db, queries.classifications, experiment, seed=seed)
metrics = widgets.read(db, queries.classification_metrics, experiment, seed=seed)
calibrated = widgets.read(db, queries.classification_metrics, experiment, seed=seed, target="happy_vs_sad@calibrated")
top = st.columns(4)
top[0].metric("Balanced accuracy", f"{metrics.get('macro_recall', float('nan')):.3f}",
              help="Mean recall over the classes at p = 0.5 (0.5 is chance whatever the class balance)")
top[1].metric("Calibrated", f"{calibrated.get('macro_recall', float('nan')):.3f}",
              help=f"Balanced accuracy at the threshold chosen on validation clips "
                   f"(p(Happy) ≥ {calibrated.get('threshold_p_happy', float('nan')):.2f})")
top[2].metric("Recall Happy", f"{metrics.get('recall_happy', float('nan')):.3f}")
top[3].metric("Recall Sad", f"{metrics.get('recall_sad', float('nan')):.3f}")

counts = pd.crosstab(decisions["actual"], decisions["predicted"]).reindex(index=CLASSES, columns=CLASSES, fill_value=0)
matrix = counts.rename(index=lambda c: f"true {c.capitalize()}", columns=lambda c: f"predicted {c.capitalize()}")


def select_cell_from_matrix() -> None:
    """Select the matrix cell just clicked (and let the clip list start afresh)."""
    chosen = st.session_state["matrix"]["selection"]["cells"]
    if chosen:
        row, column = chosen[0]
        st.session_state["cell"] = f"{CLASSES[row]}-{CLASSES[list(matrix.columns).index(column)]}"
        st.session_state.pop("clip", None)


def select_clip_from_table(key: str, order: list[str]) -> None:
    """Select the clip of the clip table's row just clicked."""
    rows = st.session_state[key]["selection"]["rows"]
    if rows:
        st.session_state["clip"] = order[rows[0]]


def cell_label(cell: str) -> str:
    """Return a cell's label, e.g. ``"Happy → Sad (12, error)"``: its clip count and whether it is correct."""
    actual, predicted = cell.split("-")
    verdict = "correct" if actual == predicted else "error"
    return f"{actual.capitalize()} → {predicted.capitalize()} ({counts.loc[actual, predicted]}, {verdict})"


left, right = st.columns([2, 3])
with left:
    st.markdown("**Confusion matrix** (rows: true class, columns: predicted). Click a cell.")
    current = st.session_state.get("cell") or st.query_params.get("cell")
    current = current if current in CELLS else DEFAULT_CELL
    row, column = current.split("-")
    widgets.table(matrix, name=f"confusion matrix {experiment} seed {seed}", key="matrix", on_select=select_cell_from_matrix,
                  css=verdicts.heat_styles(matrix),
                  selection_mode="single-cell",
                  selection_default={"selection": {"cells": [[CLASSES.index(row), f"predicted {column.capitalize()}"]]}})
    # The radio's value lives in Session State, and its default is its first option (the default cell), so it has
    # no default index: a widget given both a default index and a Session State value makes Streamlit warn and
    # drop the next interaction (the first matrix click after choosing a clip was ignored). The URL omits the
    # default cell.
    st.session_state["cell"] = current
    cell = st.radio("Cell (true-predicted)", RADIO_CELLS, key="cell", bind="query-params", horizontal=True)
    st.caption(cell_label(cell))
actual, predicted = cell.split("-")

with right:
    in_cell = decisions[(decisions["actual"] == actual) & (decisions["predicted"] == predicted)]
    explained = set(widgets.read(db, queries.explained_clips, experiment, seed=seed))
    in_cell = in_cell.assign(map_stored=in_cell["clip_id"].isin(explained)).sort_values(["map_stored", "confidence"], ascending=False)
    if in_cell.empty:
        st.info("No test clip falls in this cell.")
        st.stop()
    n_explained = int(in_cell["map_stored"].sum())
    only_explained = st.toggle("Only clips with stored maps and audio", value=True, key="explained_only",
                               help="Maps, sonifications, stem shares and causal rows are stored for the explained clips "
                                    "(confident clips of each cell, spread over songs, and the clips of the removal tests)")
    st.caption(f"{n_explained} of {len(in_cell)} clips of this cell are explained (maps and audio stored).")
    if only_explained and n_explained:
        in_cell = in_cell[in_cell["map_stored"]]
    st.markdown(f"**Clips of this cell**, explained ones first, most confident first ({len(in_cell)}). Click a row.")
    order = in_cell["clip_id"].tolist()
    clip_table = st.container()  # drawn above the selectbox, filled once the selectbox has chosen the clip
    clip = st.selectbox("Clip", order, key="clip", bind="query-params")
    # The table's key names the cell and clip, so that a new choice (by row, selectbox or link) starts a
    # table whose highlighted row is the clip shown.
    key = f"clip_table-{cell}-{clip}"
    with clip_table:
        widgets.table(in_cell[["clip_id", "confidence", "map_stored"]].reset_index(drop=True), name=f"clips {cell}", latex=False,
                      key=key, on_select=functools.partial(select_clip_from_table, key, order), selection_mode="single-row",
                      height=220, selection_default={"selection": {"rows": [order.index(clip)]}},
                      column_config={"confidence": st.column_config.ProgressColumn(format="percent", min_value=0, max_value=1)})
    confidence = in_cell.set_index("clip_id")["confidence"]
methods = widgets.read(db, queries.relevance_methods, experiment)


@st.fragment
def relevance_view(image, values, signed: bool, *, clip: str, method: str, max_hz: float, seconds: float) -> None:
    """Draw the overlay and its controls: a highlight or opacity change reruns only this part of the page."""
    show, fade = st.columns([3, 2])
    highlight = show.radio("Show", widgets.HIGHLIGHTS, index=widgets.HIGHLIGHTS.index("top 10 %"), key="show", bind="query-params",
                           horizontal=True, help="The map's most relevant 8 × 8 regions by summed relevance (a percentile "
                           "per map, so methods in different units read alike), or the whole map")
    opacity = fade.slider("Relevance opacity", 0.0, 1.0, 0.7, 0.05, key="opacity",
                          help="0 shows the spectrogram alone; red: evidence for the predicted class, blue: against it")
    top = widgets.top_percent(highlight)
    widgets.chart(figures.relevance_overlay, image, values, max_hz=max_hz, seconds=seconds, signed=signed, opacity=opacity,
                  top_percent=top, name=f"{clip} {method} overlay",
                  title=f"Relevance for '{predicted}' ({method}){'' if top is None else f', top {top:g} % of regions'}")
    # A toggle, not an expander: an expander's content is sent to the browser even when closed, and
    # seven maps over seven spectrograms would slow every rerun of the page.
    if st.toggle("Every method on this clip, side by side", key="every_method"):
        maps = {m: widgets.read(db, queries.relevance_map, experiment, seed=seed, clip_id=clip, method=m) for m in methods}
        maps = {m: v for m, v in maps.items() if v is not None}
        st.caption("The same clip and class for every stored method. The random map is the chance reference: a "
                   "method whose highlight looks no more structured than it shows nothing beyond chance here.")
        widgets.chart(figures.relevance_grid, image, maps, max_hz=max_hz, seconds=seconds, top_percent=top or 10,
                      name=f"{clip} every method")


@st.fragment
def listening_view(clip: str, method: str) -> None:
    """Draw the A/B/C players and the gain slider: a change of p reruns only this part of the page."""
    st.subheader("Listen: A/B")
    power = st.slider("Gain exponent p in A(R) = R^p", 0.5, 4.0, 2.0, 0.25, key="p", bind="query-params",
                      help="Higher p keeps only the most relevant bins; p = 2 is the thesis's gain. Other values are "
                           "re-sonified live from the stored clip and relevance map.")
    stored = widgets.read(db, queries.stored_model, experiment)
    gain = stored.plain_gain(power=power) if stored is not None else None
    started = time.perf_counter()
    if gain is not None:
        sources = {variant: (widgets.read(db, queries.sonified_audio, experiment, seed=seed, clip_id=clip, method=method, gain=gain.name,
                                           variant=variant), "audio/ogg") for variant in ("sonified", "complement")}
        how = f"precomputed ({gain.name})"
    else:
        sources = {variant: (widgets.resonified(db, experiment, seed=seed, dataset=dataset, clip_id=clip, method=method,
                                                power=power, complement=variant == "complement"), "audio/wav")
                   for variant in ("sonified", "complement")}
        how = f"re-sonified live in {1000 * (time.perf_counter() - started):.0f} ms"
    players = st.columns(3)
    with players[0]:
        widgets.audio_player("A · Original", widgets.read(db, queries.original_audio, dataset=dataset, clip_id=clip))
    with players[1]:
        widgets.audio_player(f"B · What the model used: STFT × R^{power:g}, original phase ({method}; {how})",
                             sources["sonified"][0], format=sources["sonified"][1])
    with players[2]:
        widgets.audio_player(f"C · What it ignored: STFT × (1 − R^{power:g})", sources["complement"][0],
                             format=sources["complement"][1])
    if gain is not None:
        ear = widgets.read(db, queries.ear_checks, experiment, seed=seed, gain=gain.name, clip_id=clip)
        ear = ear[ear["method"] == method]
        if not ear.empty:
            st.markdown(verdicts.ear_sentence(ear.iloc[0]))


@st.fragment
def clip_view(clip: str) -> None:
    """Draw the clip on screen with its method: a method change reruns only this part of the page (not the matrix and tables)."""
    method = st.selectbox("Attribution method", methods, key="method", bind="query-params", help=METHOD_HELP)
    st.subheader(f"{clip}: true {actual.capitalize()}, predicted {predicted.capitalize()} ({confidence[clip]:.1%})")
    stored = widgets.read(db, queries.image, dataset=dataset, clip_id=clip)
    relevance = widgets.read(db, queries.relevance_map, experiment, seed=seed, clip_id=clip, method=method)
    if stored is not None:
        image, max_hz, seconds = stored
        if relevance is not None:
            relevance_view(image, relevance[0], relevance[1], clip=clip, method=method, max_hz=max_hz, seconds=seconds)
        else:
            widgets.chart(figures.spectrogram_figure, image, max_hz=max_hz, seconds=seconds, title="Log spectrogram (model input)",
                          name=f"{clip} spectrogram")
            st.info("No relevance map is stored for this clip: maps are kept for the most confident clips of each cell.")
    listening_view(clip, method)

    causal = widgets.read(db, queries.stem_reliance, experiment, seed=seed, clip_id=clip)
    if not causal.empty:
        st.markdown(verdicts.reliance_sentence(causal))
    shares = widgets.read(db, queries.stem_shares, experiment, seed=seed, clip_id=clip, method=method)
    if not shares.empty:
        st.subheader("Which instrument did the model look at?")
        left, right = st.columns(2)
        with left:
            st.caption("This clip: share of relevance on bins each stem dominates, against the share of bins it owns.")
            widgets.chart(figures.stem_share_bars, shares, name=f"{clip} {method} stem shares")
        with right:
            by_cell = widgets.read(db, queries.stem_shares_by_cell, experiment, seed=seed, method=method)
            by_cell["cell"] = by_cell["actual"].str.capitalize() + " → " + by_cell["predicted"].str.capitalize()
            st.caption("All test clips, mean relevance share per stem by confusion-matrix cell.")
            widgets.table(by_cell.pivot(index="cell", columns="stem", values="relevance_share"),
                          name=f"stem shares by cell {method}", style="{:.0%}")


clip_view(clip)

# Lazy expanders, drawn only while open: a closed expander's content would otherwise be sent with every clip or
# method change, and these tables cost more to draw than the clip view.
if (box := widgets.lazy_expander("Every test metric of the model, at p = 0.5 and at the calibrated threshold", key="metrics_open")):
    with box:
        left_metrics, right_matrix = st.columns([3, 2])
        with left_metrics:
            widgets.table(verdicts.decision_table(metrics, calibrated, classes=list(CLASSES)), name=f"decision metrics {experiment}",
                          style="{:.3f}")
        with right_matrix:
            st.caption("Confusion matrix at the calibrated threshold")
            calibrated_counts = verdicts.confusion_counts(calibrated, classes=list(CLASSES))
            widgets.table(calibrated_counts, name=f"calibrated confusion matrix {experiment}",
                          css=verdicts.heat_styles(calibrated_counts))

if (box := widgets.lazy_expander("What is known about this clip", key="facts_open")):
    with box:
        values = widgets.read(db, queries.clip_values, dataset=dataset, clip_id=clip)
        facts = values.pivot(index="name", columns="kind", values="value").dropna(axis=0, how="all").dropna(axis=1, how="all")
        # a fact a clip does not have (e.g. no annotation of one kind) is left blank rather than shown as None
        widgets.table(facts, name=f"{clip} values", latex=False, style="{:.3f}", na_rep="")

if (box := widgets.lazy_expander("Faithfulness of the attribution methods (removal tests)", key="faithfulness_open")):
    with box:
        st.caption("16 × 16 tiles are removed most relevant first (MoRF: a faithful map makes the probability fall, low AUC) "
                   "and least relevant first (LeRF: it should stay, high AUC), by silence (floor) or by imputation from the "
                   "surroundings (road). Means with 95 % CIs over clips; random order is chance. See Attribution quality.")
        widgets.table(verdicts.faithfulness_table(widgets.read(db, queries.faithfulness_summary, experiment, seed=seed)),
                      name=f"faithfulness {experiment}")
