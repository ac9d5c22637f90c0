"""What every dataset adapter returns: clip records with labels, and mono audio on request.

An adapter is any object with a ``name``, a ``records()`` method and a ``load(clip_id)`` method
(see :class:`Dataset`). Labels use the names below everywhere in the project, so that a dashboard
query for "valence" means the same column whatever the dataset.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Protocol

import numpy as np

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
"""Observed range of Soundtracks mean ratings; models see ratings multiplied by ``EMOTION_SCALE``."""

EMOTION_SCALE = 0.1
"""Factor applied to emotion ratings before training (as in the thesis)."""

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


@dataclass(frozen=True)
class ClipRecord:
    """One clip of a dataset and everything known about it before any model runs.

    Attributes:
        dataset: adapter name, e.g. ``"synthetic"`` or ``"soundtracks"``.
        clip_id: identifier unique within the dataset.
        group: clips sharing a group (song, film) must land in the same split.
        split: ``"train"``, ``"val"`` or ``"test"``; empty when the adapter leaves splitting to
            :mod:`engine.datasets.splits`.
        emotions: emotion ratings on the Soundtracks scale (1 to 7.83), keyed by ``EMOTIONS``.
        midlevel: mid-level descriptors in [0, 1], keyed by ``MIDLEVEL``.
        label: ``"happy"``, ``"sad"`` or ``None``.
        factors: other known facts about the clip (for synthetic clips the latent factors that
            produced it, e.g. ``tempo_bpm`` or ``percussion``), for display and analysis only.
        path: audio file, when the clip lives on disk.
    """

    dataset: str
    clip_id: str
    group: str
    split: str = ""
    emotions: Mapping[str, float] = field(default_factory=dict)
    midlevel: Mapping[str, float] = field(default_factory=dict)
    label: str | None = None
    factors: Mapping[str, float] = field(default_factory=dict)
    path: str | None = None


class Dataset(Protocol):
    """The adapter interface shared by every dataset."""

    name: str

    def records(self) -> list[ClipRecord]:
        """All clips, in a stable order."""
        ...

    def load(self, clip_id: str) -> np.ndarray:
        """Mono float32 waveform of one clip at ``SAMPLE_RATE``, shape ``(n_samples,)``.

        Raises:
            engine.audio.io.AudioLoadError: the clip's audio cannot be read.
        """
        ...
