"""Explain your clip: upload audio, get the stored ViT's prediction, relevance map and sonification."""

from __future__ import annotations

import streamlit as st

from dashboard import queries, widgets
from dashboard.explain_upload import ALLOWED_TYPES, MAX_UPLOAD_MB, UploadError, decode_upload, explain_upload
from engine.audio.representations import VIT_HOP, VIT_N_FFT
from engine.vocabulary import CLASSES, SAMPLE_RATE

widgets.page("Explain your clip")
db = widgets.require_database()

models = widgets.read(db, queries.stored_models)
if not models:
    st.info("This database holds no stored perceptual model.")
    st.stop()
labels = [f"{m.experiment_id} (seed {m.seed})" for m in models]
left, middle, right = st.columns([3, 2, 1])
chosen = models[labels.index(left.selectbox("Model", labels, key="upload_model"))]
method = middle.selectbox("Attribution method", chosen.methods, key="upload_method")
power = right.slider("Gain exponent p", 0.5, 4.0, 2.0, 0.5, key="power", help="A(R) = R^p; the thesis uses p = 2")
clip_seconds = chosen.clip_seconds
if chosen.dataset == "synthetic":
    st.warning("This model was trained on the synthetic demo corpus (generated tones and drums). On real music its "
               "prediction and its map say little: build a profile on a real dataset to explain real music.")

upload = st.file_uploader(
    f"Audio file ({', '.join(ALLOWED_TYPES)}; at most {MAX_UPLOAD_MB} MB). The model hears {clip_seconds:g} s from the offset below.",
    type=list(ALLOWED_TYPES), key="upload",
)
offset = st.number_input("Offset (s)", min_value=0.0, max_value=3600.0, value=0.0, step=1.0, key="offset")
if upload is None:
    st.caption("Nothing uploaded yet. The file stays in this session's memory only; nothing is stored.")
    st.stop()

try:
    y = decode_upload(upload.name, upload.getvalue(), clip_seconds=clip_seconds, offset_s=float(offset))
except UploadError as error:
    st.error(str(error))
    st.stop()
model = widgets.read(db, queries.model_bytes, chosen.experiment_id, seed=chosen.seed)
with st.spinner("Classifying and explaining…"):
    result = explain_upload(y, model_bytes=model, clip_seconds=clip_seconds, method=method, power=float(power),
                            options=chosen.method_options.get(method, {}))
explanation = result.explanation

columns = st.columns(len(CLASSES) + 1)
columns[0].metric("Prediction", explanation.predicted.capitalize())
for column, name, probability in zip(columns[1:], CLASSES, explanation.probabilities):
    column.metric(f"p({name})", f"{probability:.1%}")

relevance = explanation.relevance[method]
scale = float(abs(relevance).max()) or 1.0
max_hz = SAMPLE_RATE / 2
# The same figure and defaults as the Confusion browser: the top 10 % of |R| over the spectrogram.
highlight = st.radio("Show", widgets.HIGHLIGHTS, index=widgets.HIGHLIGHTS.index("top 10 %"), key="upload_show", horizontal=True)
top = widgets.top_percent(highlight)
widgets.chart(widgets.figures.relevance_overlay, explanation.image, relevance / scale, max_hz=max_hz, seconds=clip_seconds,
              signed=bool(relevance.min() < 0), opacity=0.7, top_percent=top, name=f"uploaded clip relevance {method}",
              title=f"Relevance for '{explanation.predicted}' ({method}){'' if top is None else f', top {top:g} % of regions'}")
players = st.columns(3)
with players[0]:
    widgets.audio_player("Original excerpt", result.original)
with players[1]:
    widgets.audio_player(f"What the model used: STFT × R^{power:g} (n_fft {VIT_N_FFT}, hop {VIT_HOP})", result.sonified)
with players[2]:
    widgets.audio_player("What it ignored: STFT × (1 − R^p)", result.complement)
