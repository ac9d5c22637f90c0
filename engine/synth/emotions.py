"""The emotion model: the eight emotion ratings and the label as known functions of the factors.

Emotions
--------
Each of the 8 emotion ratings (``EMOTIONS``, on the Soundtracks scale 1 to 7.83) is

    rating = 1 + 6.83 * sigmoid(bias + sum_k weight_k * driver_k + noise)

with centred drivers ``driver = factor - 0.5`` for the descriptors and percussion, and
``tempo = (tempo_bpm - 110) / 100``; every driver therefore spans about one unit and a weight is
the change of the logit across the driver's whole range. The noise is Gaussian with SD
``emotion_noise * 4 / 6.83`` on the logit, i.e. ``emotion_noise`` rating points at mid-scale.
The weights (:data:`EMOTION_WEIGHTS`; columns are minorness, melodiousness, articulation,
rhythm stability, rhythm complexity, dissonance, tonal stability, tempo and percussion):

========  =====  =====  =====  =====  =====  =====  =====  =====  =====  =====
emotion    bias  minor  melod  artic  r.stb  r.cpx  disso  t.stb  tempo  perc.
========  =====  =====  =====  =====  =====  =====  =====  =====  =====  =====
valence     0.0   -3.0   +1.5                        -2.0   +1.0   +1.5
energy      0.0                 +2.5          +1.5   +0.5          +2.5   +0.3
tension     0.0          -1.5          -0.5   +1.0   +2.5   -2.0
anger      -1.0   +0.5          +2.0          +1.0   +2.5          +1.5
fear       -0.5   +1.5                 -1.0          +2.0   -2.0   -1.5
happy       0.0   -3.5          +0.5   +1.5          -1.0          +2.5
sad         0.0   +3.5   +0.5   -2.0                               -2.5
tender      0.0          +2.0   -2.0          -0.5   -2.0          -1.5
========  =====  =====  =====  =====  =====  =====  =====  =====  =====  =====

Percussion has no effect on valence, happy or sad and a small one on energy. The label is
``"happy"`` when the happy rating exceeds the sad rating, else ``"sad"``; the table is symmetric
enough that the default corpus is close to balanced.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np

from engine.vocabulary import CLASSES, EMOTION_RANGE, EMOTIONS, MIDLEVEL

EMOTION_WEIGHTS: dict[str, dict[str, float]] = {
    "valence": {
        "bias": 0.0,
        "minorness": -3.0,
        "melodiousness": 1.5,
        "dissonance": -2.0,
        "tonal_stability": 1.0,
        "tempo": 1.5,
    },
    "energy": {
        "bias": 0.0,
        "articulation": 2.5,
        "rhythm_complexity": 1.5,
        "dissonance": 0.5,
        "tempo": 2.5,
        "percussion": 0.3,
    },
    "tension": {
        "bias": 0.0,
        "melodiousness": -1.5,
        "rhythm_stability": -0.5,
        "rhythm_complexity": 1.0,
        "dissonance": 2.5,
        "tonal_stability": -2.0,
    },
    "anger": {
        "bias": -1.0,
        "minorness": 0.5,
        "articulation": 2.0,
        "rhythm_complexity": 1.0,
        "dissonance": 2.5,
        "tempo": 1.5,
    },
    "fear": {
        "bias": -0.5,
        "minorness": 1.5,
        "rhythm_stability": -1.0,
        "dissonance": 2.0,
        "tonal_stability": -2.0,
        "tempo": -1.5,
    },
    "happy": {
        "bias": 0.0,
        "minorness": -3.5,
        "articulation": 0.5,
        "rhythm_stability": 1.5,
        "dissonance": -1.0,
        "tempo": 2.5,
    },
    "sad": {
        "bias": 0.0,
        "minorness": 3.5,
        "melodiousness": 0.5,
        "articulation": -2.0,
        "tempo": -2.5,
    },
    "tender": {
        "bias": 0.0,
        "melodiousness": 2.0,
        "articulation": -2.0,
        "rhythm_complexity": -0.5,
        "dissonance": -2.0,
        "tempo": -1.5,
    },
}
"""Logit weights of each emotion on its centred drivers (see the module docstring)."""

_TEMPO_CENTRE = 110.0
_TEMPO_SPAN = 100.0


def emotion_drivers(factors: Mapping[str, float]) -> dict[str, float]:
    """Compute the centred emotion drivers (each spanning about one unit) from the factors present.

    Parameters
    ----------
    factors : Mapping[str, float]
        Any of the ``MIDLEVEL`` descriptors and ``percussion`` (in [0, 1]) and ``tempo_bpm``
        (BPM); other keys are ignored.

    Returns
    -------
    dict of str to float
        ``factor - 0.5`` per descriptor and for percussion, and ``tempo`` as
        ``(tempo_bpm - 110) / 100``; only for the factors present.

    Examples
    --------
    >>> drivers = emotion_drivers({"minorness": 0.9, "tempo_bpm": 70.0, "key_root": 3})
    >>> {name: round(value, 2) for name, value in drivers.items()}
    {'minorness': 0.4, 'tempo': -0.4}
    """
    names = (*MIDLEVEL, "percussion")
    drivers = {name: float(factors[name]) - 0.5 for name in names if name in factors}
    if "tempo_bpm" in factors:
        drivers["tempo"] = (float(factors["tempo_bpm"]) - _TEMPO_CENTRE) / _TEMPO_SPAN
    return drivers


def emotion_ratings(
    factors: Mapping[str, float],
    *,
    noise: np.ndarray | None = None,
    noise_sd: float = 0.25,
    emotions: Sequence[str] = EMOTIONS,
) -> dict[str, float]:
    """Compute the emotion ratings implied by the factors, per :data:`EMOTION_WEIGHTS`.

    Parameters
    ----------
    factors : Mapping[str, float]
        The drivers' factors (see :func:`emotion_drivers`); only those used by the
        requested emotions are needed.
    noise : numpy.ndarray or None, default None
        Standard-normal draws, shape ``(len(emotions),)``; ``None`` for no noise.
    noise_sd : float, default 0.25
        SD of the noise at mid-scale, in rating points.
    emotions : Sequence[str], default EMOTIONS
        Which emotions to rate.

    Returns
    -------
    dict of str to float
        Rating per emotion on the ``EMOTION_RANGE`` scale (1 to 7.83), in the order of ``emotions``.

    Raises
    ------
    KeyError
        A factor the requested emotions depend on is missing.
    ValueError
        ``noise`` does not have one value per emotion.

    Examples
    --------
    >>> from engine.synth.common import complete_factors
    >>> ratings = emotion_ratings(complete_factors({"minorness": 0.9, "tempo_bpm": 70.0}))
    >>> round(ratings["happy"], 2), round(ratings["sad"], 2)
    (1.57, 7.26)
    >>> emotion_ratings(complete_factors({}), emotions=("valence",))
    {'valence': 4.415}
    """
    if noise is not None and np.shape(noise) != (len(emotions),):
        raise ValueError(f"noise must have shape ({len(emotions)},), got {np.shape(noise)}")
    drivers = emotion_drivers(factors)
    low, high = EMOTION_RANGE
    logit_sd = noise_sd * 4.0 / (high - low)  # the rating map's slope at mid-scale is span / 4
    ratings = {}
    for index, name in enumerate(emotions):
        weights = EMOTION_WEIGHTS[name]
        logit = weights["bias"] + sum(w * drivers[k] for k, w in weights.items() if k != "bias")
        if noise is not None:
            logit += logit_sd * float(noise[index])
        ratings[name] = low + (high - low) / (1.0 + math.exp(-logit))
    return ratings


def label_of(emotions: Mapping[str, float]) -> str:
    """Label a clip ``"happy"`` if its happy rating exceeds its sad rating, else ``"sad"``.

    Parameters
    ----------
    emotions : Mapping[str, float]
        Ratings holding at least ``happy`` and ``sad``.

    Returns
    -------
    str
        ``"happy"`` or ``"sad"`` (a tie is ``"sad"``).

    Examples
    --------
    >>> label_of({"happy": 5.2, "sad": 2.1}), label_of({"happy": 3.0, "sad": 3.0})
    ('happy', 'sad')
    """
    return CLASSES[0] if emotions["happy"] > emotions["sad"] else CLASSES[1]


__all__ = ["EMOTION_WEIGHTS", "emotion_drivers", "emotion_ratings", "label_of"]
