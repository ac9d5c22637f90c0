"""The synthetic dataset adapter: :class:`SyntheticCorpus` serves the corpus of :mod:`engine.synth`.

It is the project's demo dataset: models are trained on it, and explanations have something true
to reveal, because every clip is rendered from latent factors we chose and keep.

``SyntheticCorpus(SyntheticConfig(...))`` plans its clips at construction
(:func:`engine.synth.corpus.plan_corpus`: songs, splits, emotions, the confound) and renders
audio on request (:func:`engine.synth.render.render_factors`), bit-identical on every call. The
factors and how they sound are described in :mod:`engine.synth.common`, the emotion model in
:mod:`engine.synth.emotions`. :class:`SyntheticConfig` lives in :mod:`engine.synth.corpus` and is
re-exported here, as the adapter's constructor argument.
"""

from __future__ import annotations

import numpy as np

from engine.datasets.base import ClipRecord
from engine.synth.corpus import ClipPlan, SyntheticConfig, plan_corpus
from engine.synth.render import RenderedClip, render_factors


class SyntheticCorpus:
    """Serve the synthetic corpus as a dataset (implements :class:`engine.datasets.base.Dataset`).

    Records are planned at construction (cheap, no audio); audio is rendered on request.

    Parameters
    ----------
    config : SyntheticConfig or None, default None
        Size, seed and bias of the corpus; ``None`` for the default corpus.

    Examples
    --------
    >>> corpus = SyntheticCorpus(SyntheticConfig(n_songs=3, clips_per_song=2, clip_seconds=0.5, sample_rate=8000))
    >>> records = corpus.records()
    >>> len(records), records[0].clip_id, records[0].group
    (6, 's000c0', 's000')
    >>> sorted({record.split for record in records})
    ['test', 'train', 'val']
    >>> waveform = corpus.load("s000c0")
    >>> waveform.shape, waveform.dtype
    ((4000,), dtype('float32'))
    """

    name = "synthetic"
    split_name = "group-aware by song (synthetic generator)"

    def __init__(self, config: SyntheticConfig | None = None) -> None:
        self.config = config or SyntheticConfig()
        self._plans = {plan.clip_id: plan for plan in plan_corpus(self.config)}

    def records(self) -> list[ClipRecord]:
        """Return all clips, song by song and clip by clip; fresh objects on every call.

        Returns
        -------
        list of ClipRecord
            One record per clip, with emotions, mid-level descriptors, label and the other factors.
        """
        return [
            ClipRecord(
                dataset=self.name,
                clip_id=plan.clip_id,
                group=plan.group,
                split=plan.split,
                emotions=dict(plan.emotions),
                midlevel=dict(plan.midlevel),
                label=plan.label,
                factors=plan.non_descriptor_factors(),
            )
            for plan in self._plans.values()
        ]

    def render(self, clip_id: str) -> RenderedClip:
        """Render the mixture, stems and score of one clip; bit-identical on every call.

        Parameters
        ----------
        clip_id : str
            A clip id of :meth:`records`, e.g. ``"s000c0"``.

        Returns
        -------
        RenderedClip
            Mixture and stems of shape ``(round(clip_seconds * sample_rate),)``, and the score.

        Raises
        ------
        KeyError
            ``clip_id`` is not in this corpus.
        """
        plan = self._plan_of(clip_id)
        return render_factors(
            plan.factors(),
            seed=(self.config.seed, plan.song, plan.clip),
            theme_seed=(self.config.seed, plan.song),
            clip_seconds=self.config.clip_seconds,
            sample_rate=self.config.sample_rate,
        )

    def load(self, clip_id: str) -> np.ndarray:
        """Load the mono float32 mixture of one clip.

        Parameters
        ----------
        clip_id : str
            A clip id of :meth:`records`.

        Returns
        -------
        numpy.ndarray
            Float32 waveform at ``config.sample_rate`` (Hz), shape ``(round(clip_seconds * sample_rate),)``.

        Raises
        ------
        KeyError
            ``clip_id`` is not in this corpus.
        """
        return self.render(clip_id).mixture

    def _plan_of(self, clip_id: str) -> ClipPlan:
        try:
            return self._plans[clip_id]
        except KeyError:
            raise KeyError(f"no clip {clip_id!r} in the synthetic corpus") from None


__all__ = ["SyntheticConfig", "SyntheticCorpus"]
