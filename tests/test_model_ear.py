"""The model's-ear check: a sonification that keeps what the model needs keeps its class."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dashboard import verdicts
from engine.audio.sonify import sonify
from engine.audio.stft import stft
from engine.explain.model_ear import ear_probabilities, ear_summary
from engine.vocabulary import SAMPLE_RATE


def _tone(freq: float, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _band_classifier(low_hz: float, high_hz: float):
    """Build a toy model whose class 1 is the share of the clip's energy inside one band (its known reliance)."""
    n_fft = 2048

    def to_input(wave: np.ndarray) -> np.ndarray:
        return np.abs(stft(wave, n_fft=n_fft, hop_length=512)) ** 2

    freqs = np.fft.rfftfreq(n_fft, 1 / SAMPLE_RATE)
    band = (freqs >= low_hz) & (freqs < high_hz)

    def classify(inputs: np.ndarray) -> np.ndarray:
        share = inputs[:, band].sum(axis=(1, 2)) / inputs.sum(axis=(1, 2))
        return np.stack([1 - share, share], axis=1)

    return classify, to_input, band


def test_a_map_on_what_the_model_needs_keeps_its_class_in_b_and_loses_it_in_c():
    y = _tone(220.0) + _tone(1760.0)
    classify, to_input, band = _band_classifier(1500.0, 2000.0)
    spectrum = np.abs(stft(y, n_fft=2048, hop_length=512))
    faithful = np.zeros_like(spectrum)
    faithful[band] = 1.0  # the map marks the band the model reads
    wrong = 1.0 - faithful  # the map marks everything else
    p = {}
    for name, relevance in (("faithful", faithful), ("wrong", wrong)):
        kept = sonify(y, relevance, n_fft=2048, hop_length=512)
        ignored = sonify(y, relevance, n_fft=2048, hop_length=512, complement=True)
        p[name] = ear_probabilities(classify, to_input, original=y, sonified=kept, complement=ignored, target=1)
    original, b, c = p["faithful"]
    assert 0.3 < original < 0.7  # the two tones carry similar energy
    assert b > 0.95 and c < 0.05  # B keeps the band, C loses it
    assert p["wrong"][1] < 0.05 and p["wrong"][2] > 0.95  # the wrong map: the reverse


def test_ear_summary_ranks_a_faithful_method_above_random_with_a_ci():
    rng = np.random.default_rng(0)
    clips = [f"c{i}" for i in range(30)]
    rows = [("faithful", c, 0.8 + 0.1 * rng.random(), 0.2 + 0.1 * rng.random()) for c in clips]
    rows += [("random", c, 0.5 + 0.1 * rng.random(), 0.5 + 0.1 * rng.random()) for c in clips]
    summary = ear_summary(rows)
    against = summary["faithful"]["against_reference"]
    assert against.low > 0.4 and against.n == 30
    assert summary["random"]["gap"].low < 0 < summary["random"]["gap"].high
    frame = pd.DataFrame(rows, columns=["method", "clip_id", "p_sonified", "p_complement"])
    table = verdicts.ear_table(frame)
    assert list(table["method"]) == ["faithful", "random"] and table["clips"].tolist() == [30, 30]
    assert "faithful" in verdicts.ear_verdict(frame)
