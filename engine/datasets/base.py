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
    """Describe one clip of a dataset and everything known about it before any model runs.

    Attributes
    ----------
    dataset : str
        Adapter name, e.g. ``"synthetic"`` or ``"soundtracks"``.
    clip_id : str
        Identifier unique within the dataset.
    group : str
        Clips sharing a group (song, film) must land in the same split.
    split : str, default ""
        ``"train"``, ``"val"`` or ``"test"``; empty when the adapter leaves splitting to
        :mod:`engine.datasets.splits`.
    emotions : Mapping[str, float]
        Emotion ratings on the Soundtracks scale (1 to 7.83), keyed by :data:`engine.vocabulary.EMOTIONS`;
        empty when unknown.
    midlevel : Mapping[str, float]
        Mid-level descriptors in [0, 1], keyed by :data:`engine.vocabulary.MIDLEVEL`; empty when unknown.
    label : str or None, default None
        ``"happy"``, ``"sad"`` or ``None``.
    factors : Mapping[str, float]
        Other known facts about the clip (for synthetic clips the latent factors that
        produced it, e.g. ``tempo_bpm`` or ``percussion``), for display and analysis only.
    path : str or None, default None
        Audio file, when the clip lives on disk.

    Examples
    --------
    >>> record = ClipRecord(dataset="folder", clip_id="happy/a", group="happy/a", split="train", label="happy")
    >>> record.label, dict(record.emotions), record.path is None
    ('happy', {}, True)
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
    """Define the adapter interface shared by every dataset.

    Attributes
    ----------
    name : str
        Adapter name, copied into :attr:`ClipRecord.dataset`.
    split_name : str
        How the clips were split, in words (stored with every experiment and shown on the pages).

    Examples
    --------
    >>> from engine.datasets.synthetic import SyntheticConfig, SyntheticCorpus
    >>> dataset: Dataset = SyntheticCorpus(SyntheticConfig(n_songs=3, clips_per_song=1, clip_seconds=0.5))
    >>> dataset.name, len(dataset.records())
    ('synthetic', 3)
    >>> dataset.load(dataset.records()[0].clip_id).shape
    (11025,)
    """

    name: str
    split_name: str

    def records(self) -> list[ClipRecord]:
        """Return all clips, in a stable order.

        Returns
        -------
        list of ClipRecord
            One record per clip.
        """
        ...

    def load(self, clip_id: str) -> np.ndarray:
        """Load the mono float32 waveform of one clip at :data:`engine.vocabulary.SAMPLE_RATE`.

        Parameters
        ----------
        clip_id : str
            A ``clip_id`` of :meth:`records`.

        Returns
        -------
        numpy.ndarray
            Float32 waveform, shape ``(n_samples,)``.

        Raises
        ------
        engine.audio.io.AudioLoadError
            The clip's audio cannot be read.
        """
        ...
