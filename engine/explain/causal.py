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

from engine.stats import Estimate, bootstrap, paired_difference, spearman

Classifier = Callable[[np.ndarray], np.ndarray]
"""Maps model inputs ``(N, H, W)`` to class probabilities ``(N, n_classes)``."""


def stem_reliance(
    classify: Classifier,
    to_input: Callable[[np.ndarray], np.ndarray],
    stems: Mapping[str, np.ndarray],
    *,
    target: int,
) -> dict[str, tuple[float, float]]:
    """Compute the probability of ``target`` with and without each stem.

    The mixture and each mixture-minus-one-stem are classified in one call of ``classify``.

    Parameters
    ----------
    classify : callable
        Model inputs ``(N, H, W)`` to class probabilities ``(N, n_classes)``.
    to_input : callable
        Waveform ``(n_samples,)`` to one model input ``(H, W)`` (e.g. the ViT spectrogram).
    stems : mapping of str to np.ndarray
        Stem name to float32 waveform ``(n_samples,)``; the clip is their sum.
    target : int
        Explained class index.

    Returns
    -------
    dict of str to tuple of float
        Stem name to ``(p_with, p_without)``, probabilities in [0, 1]; reliance is
        ``p_with - p_without``.

    Examples
    --------
    >>> import numpy as np
    >>> stems = {"drums": np.full(4, 1.0, np.float32), "bass": np.full(4, 0.5, np.float32)}
    >>> def classify(x):  # class 1 grows with loudness
    ...     loud = x.mean(axis=(1, 2)) / 2
    ...     return np.stack([1 - loud, loud], axis=1)
    >>> stem_reliance(classify, lambda wave: wave.reshape(2, 2), stems, target=1)
    {'drums': (0.75, 0.25), 'bass': (0.75, 0.5)}
    """
    names = list(stems)
    waves = np.stack([np.asarray(stems[n], dtype=np.float32) for n in names])
    mixture = waves.sum(axis=0, dtype=np.float32)
    inputs = np.stack([to_input(mixture)] + [to_input(mixture - waves[i]) for i in range(len(names))])
    p = classify(inputs)[:, target].astype(np.float64)
    return {name: (float(p[0]), float(p[1 + i])) for i, name in enumerate(names)}


def per_clip_agreement(excess: np.ndarray, reliance: np.ndarray, *, seed: int = 0) -> Estimate:
    """Correlate excess relevance with causal reliance over clips x stems, with a CI over clips.

    Parameters
    ----------
    excess : np.ndarray
        ``(n_clips, n_stems)`` relevance share minus area share.
    reliance : np.ndarray
        ``(n_clips, n_stems)`` probability drop when the stem is removed.
    seed : int
        Seed of the bootstrap resampling.

    Returns
    -------
    engine.stats.Estimate
        Spearman correlation over all clips x stems, with its 95 % percentile bootstrap interval
        (clips resampled with their rows of stems) and ``n = n_clips``.

    Raises
    ------
    ValueError
        ``excess`` and ``reliance`` differ in shape.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> excess = rng.random((20, 3))
    >>> estimate = per_clip_agreement(excess, excess + 0.1 * rng.random((20, 3)))
    >>> round(estimate.value, 2), estimate.n
    (0.99, 20)
    """
    excess, reliance = np.asarray(excess, np.float64), np.asarray(reliance, np.float64)
    if excess.shape != reliance.shape:
        raise ValueError(f"excess {excess.shape} and reliance {reliance.shape} differ in shape")
    return bootstrap(spearman, excess, reliance, seed=seed)


def model_contrast(shortcut_excess: np.ndarray, clean_excess: np.ndarray, *, seed: int = 0) -> Estimate:
    """Compare two models' excess drum relevance on the same clips, with a CI over clips.

    Parameters
    ----------
    shortcut_excess : np.ndarray
        ``(n_clips,)`` excess relevance on the drums for the model that learned the drum shortcut.
    clean_excess : np.ndarray
        ``(n_clips,)`` the same for the model trained without it, paired by clip.
    seed : int
        Seed of the bootstrap resampling.

    Returns
    -------
    engine.stats.Estimate
        Mean of ``shortcut_excess - clean_excess`` over clips, with its 95 % percentile bootstrap
        interval (clips resampled in pairs) and ``n = n_clips``; clearly positive for a faithful
        method.

    Raises
    ------
    ValueError
        The two samples differ in shape.

    Examples
    --------
    >>> import numpy as np
    >>> clean = np.random.default_rng(0).random(10)
    >>> estimate = model_contrast(clean + 0.5, clean)
    >>> round(estimate.value, 3), estimate.excludes_zero()
    (0.5, True)
    """
    return paired_difference(shortcut_excess, clean_excess, seed=seed)
