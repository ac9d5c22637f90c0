"""Descriptors and harmony: how well the signal-based and predicted descriptors track the truth.

The page also shows which chords and keys Essentia found, and everything known about one clip.
"""

from __future__ import annotations

import streamlit as st

from dashboard import figures, queries, widgets
from engine.audio.chroma import PITCH_CLASSES
from engine.vocabulary import MIDLEVEL

widgets.page("Descriptors and harmony")
db = widgets.require_database()

sources = widgets.read(db, queries.feature_sources)
if sources.empty:
    st.info("This database holds no per-clip music features (no Mid2E section in its profile).")
    st.stop()
dataset = st.selectbox("Dataset", sorted(sources["dataset"].unique()), key="dataset", bind="query-params")
comparison = widgets.read(db, queries.descriptor_comparison, dataset=dataset)

st.subheader("Mid-level descriptors: estimated and predicted against annotated")
if comparison["annotated"].notna().any():
    agreement = widgets.read(db, queries.descriptor_rank_agreement, dataset=dataset)
    widgets.table(agreement.pivot(index="name", columns="split", values=["estimated_spearman", "predicted_spearman"]),
                  name=f"descriptor agreement {dataset}", style="{:.3f}")
    st.caption("Spearman rank correlation with the annotated descriptors. *Estimated*: signal-based estimators "
               "(engine/music/descriptors.py), no training. *Predicted*: the A2Mid CNN, mean over seeds; on its "
               "training split the prediction is in-sample.")
    left, right = st.columns([1, 2])
    estimate = left.radio("Show", [c for c in ("estimated", "predicted") if comparison[c].notna().any()], horizontal=True)
    descriptor = right.selectbox("Descriptor", list(MIDLEVEL), key="descriptor", bind="query-params")
    widgets.chart(figures.descriptor_scatter, comparison, estimate=estimate, names=[descriptor],
                  name=f"{descriptor} {estimate} against annotated")
else:
    st.caption("No annotated descriptors for this dataset: the estimates below are all there is.")
    summary = comparison.groupby("name")[["estimated", "predicted"]].describe().round(3)
    widgets.table(summary, name=f"descriptor summary {dataset}", style="{:.3f}")

st.subheader("Harmony (Essentia HPCP, ChordsDetection, Key)")
left, right = st.columns(2)
with left:
    chords = widgets.read(db, queries.chord_counts, dataset=dataset, source="thesis_harmony")
    widgets.chart(figures.ranking_bars, chords.set_index("name")["share"], xaxis_title="share of clips containing the chord", top=24,
                  name="chord shares")
with right:
    degrees = widgets.read(db, queries.chord_counts, dataset=dataset, source="key_relative")
    widgets.chart(figures.ranking_bars, degrees.set_index("name")["share"], xaxis_title="share of clips (chord degree relative to the key)",
                  top=24, name="chord degree shares")
st.caption("Left: the thesis's absolute chord flags (C ... B major, Cm ... Bm minor). Right: the same chords as degrees "
           "of the estimated key (I, ii, V, ...), which do not change when a piece is transposed.")

st.subheader("One clip")
clips = sorted(comparison["clip_id"].unique())
with_audio = set(widgets.read(db, queries.clips_with_audio, dataset=dataset))
# open on a clip that can be heard (audio is stored for test clips only)
clip = st.selectbox("Clip", clips, index=next((i for i, c in enumerate(clips) if c in with_audio), 0), key="clip",
                    bind="query-params", help=f"{len(with_audio & set(clips))} of {len(clips)} clips have stored audio (the test clips)")
features = widgets.read(db, queries.clip_features, dataset=dataset, clip_id=clip)
values = comparison[comparison["clip_id"] == clip].set_index("name")[["annotated", "estimated", "predicted"]]
left, right = st.columns([2, 3])
with left:
    widgets.table(values, name=f"{clip} descriptors", style="{:.3f}", latex=False)
    widgets.audio_player("Listen (stored for test clips)", widgets.read(db, queries.original_audio, dataset=dataset, clip_id=clip))
with right:
    harmony = features[(features["source"] == "thesis_harmony")].set_index("name")["value"]
    present = [n for n, v in harmony.items() if v > 0.5 and n not in ("key_root", "tonic_top3", "key_mode")]
    key = f"{PITCH_CLASSES[int(harmony.get('key_root', 0))]} {'minor' if harmony.get('key_mode', 0) > 0.5 else 'major'}"
    st.markdown(f"**Key** {key} · **tonic among the 3 most frequent chords** {'yes' if harmony.get('tonic_top3', 0) > 0.5 else 'no'}")
    st.markdown("**Chords present** " + (", ".join(sorted(present)) or "none detected"))
    relative = features[(features["source"] == "key_relative")].set_index("name")["value"]
    degrees_present = [n for n, v in relative.items() if v > 0.5 and not n.startswith("ic") and n != "key_mode"]
    st.markdown("**As degrees of the key** " + (", ".join(degrees_present) or "none"))
