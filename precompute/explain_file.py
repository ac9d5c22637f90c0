"""``explain``: prediction, relevance maps and sonified audio for one audio file, with the stored ViT."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from PIL import Image

from engine.audio.io import fit_length, load_audio
from engine.audio.sonify import normalise_relevance
from engine.explain.perceptual import PerceptualExplanation, explain_waveform
from engine.models.perceptual import input_image_of
from engine.models.store import model_from_bytes
from engine.vocabulary import CLASSES, SAMPLE_RATE
from precompute.database import open_results


class ExplainError(Exception):
    """The explain command cannot proceed; the message says why."""


@dataclass(frozen=True)
class StoredModel:
    experiment_id: str
    seed: int
    data: bytes
    clip_seconds: float
    methods: tuple[str, ...]
    method_options: dict[str, dict[str, Any]]
    power: float
    floor: float
    smooth_frames: int


def stored_vit(db: Path) -> StoredModel:
    """The default stored perceptual model of a results database (as the dashboard's), with the clip
    length and methods it was run with."""
    con = open_results(db)
    try:
        row = con.execute(
            "SELECT m.experiment_id, m.seed, m.data, e.settings FROM models m JOIN experiments e USING (experiment_id) "
            "WHERE e.route = 'Perceptual' "
            # the pages' default: a ViT (the thesis's model) before a CNN, a model before its clean twin
            "ORDER BY e.head NOT LIKE 'vit%', contains(m.experiment_id, '@'), m.experiment_id, m.seed LIMIT 1"
        ).fetchone()
        config = con.execute("SELECT config FROM runs WHERE status = 'finished' ORDER BY run_id DESC LIMIT 1").fetchone()
    finally:
        con.close()
    if row is None or config is None:
        raise ExplainError(f"{db}: holds no finished run with a stored perceptual model")
    settings = json.loads(row[3])
    gains = settings.get("sonification", {}).get("gains") or [{"power": 2.0}]
    clip_seconds = float(json.loads(config[0]).get("dataset", {}).get("clip_seconds", 10.0))
    return StoredModel(
        experiment_id=row[0],
        seed=int(row[1]),
        data=bytes(row[2]),
        clip_seconds=clip_seconds,
        methods=tuple(settings.get("methods", ["chefer2021"])),
        method_options=dict(settings.get("method_options", {})),
        power=float(gains[0].get("power", 2.0)),
        floor=float(gains[0].get("floor", 0.0)),
        smooth_frames=int(gains[0].get("smooth_frames", 1)),
    )


def explain_file(audio: Path, *, db: Path, out: Path, offset_s: float = 0.0) -> tuple[PerceptualExplanation, StoredModel]:
    """Explain ``clip_seconds`` of ``audio`` from ``offset_s`` and write the results into ``out``.

    Writes ``original.wav``, ``sonified_<method>.wav`` (what the model used),
    ``complement_<method>.wav`` (what it ignored), ``relevance_<method>.png`` (spectrogram in grey,
    positive relevance in red, low frequencies at the bottom) and ``prediction.json``.

    Raises:
        engine.audio.io.AudioLoadError: unreadable audio.
        ExplainError: no usable database or model.
    """
    stored = stored_vit(db)
    y = load_audio(audio, offset_s=offset_s, duration_s=stored.clip_seconds)
    y = fit_length(y, n_samples=int(round(stored.clip_seconds * SAMPLE_RATE)))
    model, spec = model_from_bytes(stored.data)
    result = explain_waveform(
        model, y, clip_seconds=stored.clip_seconds, methods=stored.methods, method_options=stored.method_options,
        power=stored.power, floor=stored.floor,
        smooth_frames=stored.smooth_frames, image=input_image_of(spec),
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
        "gain": {"power": stored.power, "floor": stored.floor, "smooth_frames": stored.smooth_frames},
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
