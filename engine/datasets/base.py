"""What every dataset adapter returns: clip records with labels, and mono audio on request.

An adapter is any object with a ``name``, a ``records()`` method and a ``load(clip_id)`` method
(see :class:`Dataset`). Labels use the names of :mod:`engine.vocabulary`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Protocol

import numpy as np


@dataclass(frozen=True)
class ClipRecord:
    """One clip of a dataset and everything known about it before any model runs.

    Attributes:
        dataset: adapter name, e.g. ``"synthetic"`` or ``"soundtracks"``.
        clip_id: identifier unique within the dataset.
        group: clips sharing a group (song, film) must land in the same split.
        split: ``"train"``, ``"val"`` or ``"test"``; empty when the adapter leaves splitting to
            :mod:`engine.datasets.splits`.
        emotions: emotion ratings on the Soundtracks scale (1 to 7.83), keyed by :data:`engine.vocabulary.EMOTIONS`.
        midlevel: mid-level descriptors in [0, 1], keyed by :data:`engine.vocabulary.MIDLEVEL`.
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
        """Mono float32 waveform of one clip at :data:`engine.vocabulary.SAMPLE_RATE`, shape ``(n_samples,)``.

        Raises:
            engine.audio.io.AudioLoadError: the clip's audio cannot be read.
        """
        ...
