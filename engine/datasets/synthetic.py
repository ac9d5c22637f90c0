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
    """The synthetic dataset adapter (implements :class:`engine.datasets.base.Dataset`).

    Records are planned at construction (cheap, no audio); audio is rendered on request.
    """

    name = "synthetic"

    def __init__(self, config: SyntheticConfig | None = None) -> None:
        self.config = config or SyntheticConfig()
        self._plans = {plan.clip_id: plan for plan in plan_corpus(self.config)}

    def records(self) -> list[ClipRecord]:
        """All clips, song by song and clip by clip; fresh objects on every call."""
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
        """Mixture, stems and score of one clip; bit-identical on every call.

        Raises:
            KeyError: ``clip_id`` is not in this corpus.
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
        """Mono float32 mixture of one clip, shape ``(round(clip_seconds * sample_rate),)``.

        Raises:
            KeyError: ``clip_id`` is not in this corpus.
        """
        return self.render(clip_id).mixture

    def _plan_of(self, clip_id: str) -> ClipPlan:
        try:
            return self._plans[clip_id]
        except KeyError:
            raise KeyError(f"no clip {clip_id!r} in the synthetic corpus") from None


__all__ = ["SyntheticConfig", "SyntheticCorpus"]
