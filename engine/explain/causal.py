"""Causal ground truth for relevance maps: what a model loses when one instrument is taken away.

On a corpus whose clips are rendered from stems (the synthetic one), the model's *causal reliance*
on a stem is the drop in the probability of the explained class when that stem is removed and the
clip re-rendered (the mixture is the sum of its stems, so removing a stem is summing the others)::

    reliance_s = p(target | mixture) - p(target | mixture - stem_s)

Positive: the model needs the stem for its decision. An attribution method is then judged by how
well its *excess relevance* per stem (relevance share minus area share, see
:mod:`engine.explain.stems`) agrees with that reliance:

- ``per_clip_agreement``: Spearman over clips x stems, with a bootstrap CI over clips;
- ``model_contrast``: on the same clips, the method's excess drum relevance for a model that learned
  a drum shortcut minus that for a model trained without it. A faithful method gives a clearly
  positive contrast. This is the audio counterpart of planted-feature tests of attribution
  (Zhou et al., "Do feature attribution methods correctly attribute features?", AAAI 2022).
"""

from __future__ import annotations

from typing import Callable, Mapping

import numpy as np

from engine.stats import Estimate, bootstrap, spearman

Classifier = Callable[[np.ndarray], np.ndarray]
"""Maps model inputs ``(N, H, W)`` to class probabilities ``(N, n_classes)``."""


def stem_reliance(
    classify: Classifier,
    to_input: Callable[[np.ndarray], np.ndarray],
    stems: Mapping[str, np.ndarray],
    *,
    target: int,
) -> dict[str, tuple[float, float]]:
    """Probability of ``target`` with and without each stem.

    Args:
        classify: model inputs ``(N, H, W)`` to probabilities ``(N, n_classes)``.
        to_input: waveform ``(n_samples,)`` to one model input ``(H, W)`` (e.g. the ViT spectrogram).
        stems: stem name to float32 waveform ``(n_samples,)``; the clip is their sum.
        target: explained class index.

    Returns:
        stem name to ``(p_with, p_without)``; reliance is ``p_with - p_without``.
    """
    names = list(stems)
    waves = np.stack([np.asarray(stems[n], dtype=np.float32) for n in names])
    mixture = waves.sum(axis=0, dtype=np.float32)
    inputs = np.stack([to_input(mixture)] + [to_input(mixture - waves[i]) for i in range(len(names))])
    p = classify(inputs)[:, target].astype(np.float64)
    return {name: (float(p[0]), float(p[1 + i])) for i, name in enumerate(names)}


def per_clip_agreement(excess: np.ndarray, reliance: np.ndarray, *, seed: int = 0) -> Estimate:
    """Spearman between excess relevance and causal reliance over clips x stems, CI over clips.

    Args:
        excess: ``(n_clips, n_stems)`` relevance share minus area share.
        reliance: ``(n_clips, n_stems)`` probability drop when the stem is removed.
    """
    excess, reliance = np.asarray(excess, np.float64), np.asarray(reliance, np.float64)
    if excess.shape != reliance.shape:
        raise ValueError(f"excess {excess.shape} and reliance {reliance.shape} differ in shape")
    return bootstrap(spearman, excess, reliance, seed=seed)


def model_contrast(shortcut_excess: np.ndarray, clean_excess: np.ndarray, *, seed: int = 0) -> Estimate:
    """Mean over the same clips of (shortcut model's excess drum relevance - clean model's), with CI.

    Args:
        shortcut_excess, clean_excess: ``(n_clips,)`` excess relevance on the drums, paired by clip.
    """
    shortcut_excess, clean_excess = np.asarray(shortcut_excess, np.float64), np.asarray(clean_excess, np.float64)
    if shortcut_excess.shape != clean_excess.shape:
        raise ValueError(f"paired samples differ in shape: {shortcut_excess.shape} and {clean_excess.shape}")
    return bootstrap(lambda a, b: float(np.mean(a - b)), shortcut_excess, clean_excess, seed=seed)
