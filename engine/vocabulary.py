"""The project's vocabulary: sample rate, emotion scales, mid-level descriptors, classes and splits.

The ground floor of the engine: it imports nothing of the project, and every module (engine,
precompute, dashboard) takes these names from here, so that "valence" or "train" means the same
column and the same split whatever the dataset, model or page.
"""

from __future__ import annotations

SAMPLE_RATE = 22_050
"""Sample rate (Hz) of every waveform the engine works on."""

EMOTIONS: tuple[str, ...] = (
    "valence",
    "energy",
    "tension",
    "anger",
    "fear",
    "happy",
    "sad",
    "tender",
)
"""The 8 emotion scales of the Soundtracks dataset, in its column order."""

EMOTION_RANGE: tuple[float, float] = (1.0, 7.83)
"""Observed range of Soundtracks mean ratings (the rating scale every dataset is mapped to)."""

EMOTION_SCALE = 0.1
"""Factor applied to emotion ratings before training, as in the thesis (the ``"thesis"`` target scaling)."""

MIDLEVEL: tuple[str, ...] = (
    "melodiousness",
    "articulation",
    "rhythm_stability",
    "rhythm_complexity",
    "dissonance",
    "tonal_stability",
    "minorness",
)
"""The 7 mid-level perceptual descriptors (Aljanaki & Soleymani 2018), each in [0, 1] here."""

CLASSES: tuple[str, str] = ("happy", "sad")
"""Class labels of the perceptual (ViT) route; index 0 is Happy, index 1 is Sad."""

SPLITS: tuple[str, ...] = ("train", "val", "test")
"""Split names, in the order they are used."""
