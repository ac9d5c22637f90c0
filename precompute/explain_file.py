"""``explain``: prediction, relevance maps and sonified audio for one audio file, with the stored ViT."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile as sf
from PIL import Image

from engine.audio.io import fit_length, load_audio
from engine.audio.sonify import normalise_relevance
from engine.explain.perceptual import PerceptualExplanation, explain_waveform
from engine.models.perceptual import input_image_of
from engine.models.store import model_from_bytes
from engine.vocabulary import CLASSES, SAMPLE_RATE
from results.settings import PerceptualModel, model_bytes, perceptual_models
from results.store import open_results


class ExplainError(Exception):
    """The explain command cannot proceed; the message says why."""


def stored_vit(db: Path) -> tuple[PerceptualModel, bytes]:
    """Return the default stored perceptual model of a results database (as the dashboard's) and its weights.

    Raises
    ------
        results.store.ResultsError: no readable results database of this schema version.
        ExplainError: the database holds no stored perceptual model.
    """
    con = open_results(db)
    try:
        models = perceptual_models(con)
        data = model_bytes(con, models[0].experiment_id, seed=models[0].seed) if models else None
    finally:
        con.close()
    if not models or data is None:
        raise ExplainError(f"{db}: holds no finished run with a stored perceptual model")
    return models[0], data


def explain_file(audio: Path, *, db: Path, out: Path, offset_s: float = 0.0) -> tuple[PerceptualExplanation, PerceptualModel]:
    """Explain ``clip_seconds`` of ``audio`` from ``offset_s`` and write the results into ``out``.

    Writes ``original.wav``, ``sonified_<method>.wav`` (what the model used),
    ``complement_<method>.wav`` (what it ignored), ``relevance_<method>.png`` (spectrogram in grey,
    positive relevance in red, low frequencies at the bottom) and ``prediction.json``.

    Raises
    ------
        engine.audio.io.AudioLoadError: unreadable audio.
        ExplainError: no usable database or model.
    """
    stored, data = stored_vit(db)
    y = load_audio(audio, offset_s=offset_s, duration_s=stored.clip_seconds)
    y = fit_length(y, n_samples=int(round(stored.clip_seconds * SAMPLE_RATE)))
    model, spec = model_from_bytes(data)
    gain = stored.gains[0]
    result = explain_waveform(
        model, y, clip_seconds=stored.clip_seconds, methods=stored.methods, method_options=stored.method_options,
        gain=gain, image=input_image_of(spec),
    )
    out.mkdir(parents=True, exist_ok=True)
    sf.write(out / "original.wav", y, SAMPLE_RATE)
    for method, relevance in result.relevance.items():
        sf.write(out / f"sonified_{method}.wav", result.sonified[method], SAMPLE_RATE)
        sf.write(out / f"complement_{method}.wav", result.complement[method], SAMPLE_RATE)
        overlay_image(result.image, normalise_relevance(relevance)).save(out / f"relevance_{method}.png")
    summary = {
        "file": str(audio),
        "model": f"{stored.experiment_id} (seed {stored.seed})",
        "predicted": result.predicted,
        "probabilities": {c: float(p) for c, p in zip(CLASSES, result.probabilities)},
        "methods": list(stored.methods),
        "gain": {"name": gain.name, "power": gain.power, "floor": gain.floor, "smooth_frames": gain.smooth_frames},
    }
    (out / "prediction.json").write_text(json.dumps(summary, indent=2))
    return result, stored


def overlay_image(image: np.ndarray, relevance: np.ndarray, *, scale: int = 2) -> Image.Image:
    """RGB picture of a ``(H, W)`` spectrogram in grey with relevance in red, low rows at the bottom."""
    grey = np.clip(image, 0, 1)[::-1]
    red = np.clip(relevance, 0, 1)[::-1]
    rgb = np.stack([np.maximum(grey * 0.6, red), grey * 0.6 * (1 - red), grey * 0.6 * (1 - red)], axis=-1)
    picture = Image.fromarray((rgb * 255).astype(np.uint8))
    return picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)
