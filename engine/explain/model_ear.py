"""The model's ear: check that a sonified explanation still carries the class the model heard.

A relevance map is sonified by weighting the clip's STFT with a gain of the map (``B``, what the
model used) and with one minus that gain (``C``, what it ignored); see :mod:`engine.audio.sonify`.
If the map is faithful, the model itself should still hear its class in ``B`` and lose it in ``C``.
So each stored sonification is classified again with the same model::

    ear gap = p(class | B) - p(class | C)

A faithful method gives a clearly positive gap, larger than the random map's sonification (the
chance reference: it keeps and removes energy without regard to the model). This checks the
thesis's claim that "the listener hears what the model relied on" from the model's side; the
listening study checks it from the listeners' side.
"""

from __future__ import annotations

from typing import Callable, Iterable

import numpy as np

from engine.stats import Estimate, paired_difference


def ear_probabilities(
    classify: Callable[[np.ndarray], np.ndarray],
    to_input: Callable[[np.ndarray], np.ndarray],
    *,
    original: np.ndarray,
    sonified: np.ndarray,
    complement: np.ndarray,
    target: int,
) -> tuple[float, float, float]:
    """Classify a clip, its sonified explanation and the complement; return p(target) of each.

    The three waveforms are turned into model inputs and classified in one call of ``classify``.

    Parameters
    ----------
    classify : callable
        Model inputs ``(N, H, W)`` to class probabilities ``(N, n_classes)``.
    to_input : callable
        Waveform ``(n_samples,)`` to one model input ``(H, W)`` (the model's own image).
    original, sonified, complement : numpy.ndarray
        Float waveforms ``(n_samples,)`` at the model's sample rate: the clip, ``B`` and ``C``.
    target : int
        Index of the explained (predicted) class.

    Returns
    -------
    tuple of float
        ``(p_original, p_sonified, p_complement)``, probabilities in [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> def classify(x):  # class 1 grows with loudness
    ...     loud = x.mean(axis=(1, 2))
    ...     return np.stack([1 - loud, loud], axis=1)
    >>> wave = np.full(4, 0.8, np.float32)
    >>> p = ear_probabilities(classify, lambda w: w.reshape(2, 2), original=wave, sonified=0.75 * wave,
    ...                       complement=0.25 * wave, target=1)
    >>> tuple(round(v, 2) for v in p)
    (0.8, 0.6, 0.2)
    """
    inputs = np.stack([to_input(np.asarray(w, dtype=np.float32)) for w in (original, sonified, complement)])
    p = classify(inputs)[:, target].astype(np.float64)
    return float(p[0]), float(p[1]), float(p[2])


def ear_gap(p_sonified: np.ndarray, p_complement: np.ndarray, *, seed: int = 0) -> Estimate:
    """Mean ear gap ``p(class | B) - p(class | C)`` over clips, with a 95 % bootstrap CI over clips.

    Parameters
    ----------
    p_sonified, p_complement : numpy.ndarray
        ``(n_clips,)`` probabilities of the explained class for ``B`` and ``C``, paired by clip.
    seed : int, default 0
        Seed of the bootstrap resampling.

    Returns
    -------
    engine.stats.Estimate
        Mean gap in [-1, 1], its percentile interval and ``n = n_clips``.

    Raises
    ------
    ValueError
        The two samples differ in shape.

    Examples
    --------
    >>> import numpy as np
    >>> estimate = ear_gap(np.array([0.9, 0.8, 0.7, 0.95]), np.array([0.2, 0.3, 0.1, 0.4]))
    >>> round(estimate.value, 3), estimate.excludes_zero(), estimate.n
    (0.587, True, 4)
    """
    return paired_difference(p_sonified, p_complement, seed=seed)


def ear_gap_against(gap: np.ndarray, reference_gap: np.ndarray, *, seed: int = 0) -> Estimate:
    """How much larger a method's ear gap is than the reference's (the random map's), paired by clip.

    Parameters
    ----------
    gap, reference_gap : numpy.ndarray
        ``(n_clips,)`` per-clip ear gaps of the method and of the reference on the same clips.
    seed : int, default 0
        Seed of the bootstrap resampling.

    Returns
    -------
    engine.stats.Estimate
        Mean of ``gap - reference_gap`` with its 95 % bootstrap CI (clips resampled in pairs): a
        method whose sonification carries the model's evidence better than chance has it above 0.

    Raises
    ------
    ValueError
        The two samples differ in shape.

    Examples
    --------
    >>> import numpy as np
    >>> estimate = ear_gap_against(np.array([0.6, 0.5, 0.7]), np.array([0.0, 0.1, -0.1]))
    >>> round(estimate.value, 2), estimate.excludes_zero()
    (0.6, True)
    """
    return paired_difference(gap, reference_gap, seed=seed)


def ear_summary(
    records: Iterable[tuple[str, str, float, float]], *, reference: str = "random", seed: int = 0
) -> dict[str, dict[str, float | Estimate | None]]:
    """Summarise the model's-ear check per method, against the reference method's sonifications.

    Parameters
    ----------
    records : iterable of tuple
        ``(method, clip_id, p_sonified, p_complement)`` rows of one model and one gain.
    reference : str, default "random"
        The method every other is compared with, paired on the clips both have.
    seed : int, default 0
        Seed of the bootstrap resampling.

    Returns
    -------
    dict
        Method to ``{"p_sonified": mean, "p_complement": mean, "gap": Estimate,
        "against_reference": Estimate or None}``, the reference method included (its comparison
        is None), methods in the order first seen.

    Examples
    --------
    >>> rows = [("lrp", "a", 0.9, 0.2), ("lrp", "b", 0.8, 0.3), ("random", "a", 0.6, 0.5), ("random", "b", 0.5, 0.6)]
    >>> summary = ear_summary(rows)
    >>> round(summary["lrp"]["gap"].value, 2), round(summary["lrp"]["against_reference"].value, 2)
    (0.6, 0.6)
    >>> summary["random"]["against_reference"] is None
    True
    """
    by_method: dict[str, dict[str, tuple[float, float]]] = {}
    for method, clip_id, kept, ignored in records:
        by_method.setdefault(str(method), {})[str(clip_id)] = (float(kept), float(ignored))
    base = by_method.get(reference, {})
    summary: dict[str, dict[str, float | Estimate | None]] = {}
    for method, clips in by_method.items():
        kept, ignored = (np.array([pair[i] for pair in clips.values()]) for i in (0, 1))
        shared = [c for c in clips if c in base]
        against = None
        if method != reference and shared:
            gap = np.array([clips[c][0] - clips[c][1] for c in shared])
            against = ear_gap_against(gap, np.array([base[c][0] - base[c][1] for c in shared]), seed=seed)
        summary[method] = {"p_sonified": float(kept.mean()), "p_complement": float(ignored.mean()),
                           "gap": ear_gap(kept, ignored, seed=seed), "against_reference": against}
    return summary
