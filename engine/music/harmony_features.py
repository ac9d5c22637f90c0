"""Feature sets built on a clip's :class:`~engine.music.harmony.Harmony` (chords and key).

* :func:`chord_flags` (``CHORD_FLAG_NAMES``, 24): which of the 24 triads occur.
* :func:`thesis_harmony_features` (``THESIS_HARMONY_NAMES``, 27): the chord flags, the key root
  as a number 0..11, whether the key root is the root of one of the three most frequent chords,
  and the mode. With the 7 mid-level descriptors these are the thesis's 34 features.
* :func:`key_relative_features` (``KEY_RELATIVE_NAMES``, 31): a transposition-invariant encoding
  (the thesis's future work): chords as Roman-numeral degrees of the key
  (:func:`relative_chord_flags`), the interval-class profile of the mean HPCP
  (:func:`interval_class_profile`) and the mode.

Pitch classes are indexed from C (0 = C, ..., 11 = B), as in :mod:`engine.music.harmony`.
"""

from __future__ import annotations

import numpy as np

from engine.audio.chroma import PITCH_CLASSES
from engine.music.harmony import Harmony, chord_shares, parse_chord

CHORD_FLAG_NAMES: tuple[str, ...] = (*PITCH_CLASSES, *(f"{pc}m" for pc in PITCH_CLASSES))
"""The 24 triads: C, C#, ..., B (major) then Cm, C#m, ..., Bm (minor)."""

THESIS_HARMONY_NAMES: tuple[str, ...] = (*CHORD_FLAG_NAMES, "key_root", "tonic_top3", "key_mode")
"""Names of :func:`thesis_harmony_features` (27 values)."""

_MAJOR_DEGREES = ("I", "bII", "II", "bIII", "III", "IV", "#IV", "V", "bVI", "VI", "bVII", "VII")

RELATIVE_CHORD_NAMES: tuple[str, ...] = (
    *_MAJOR_DEGREES,
    *(degree.replace("I", "i").replace("V", "v") for degree in _MAJOR_DEGREES),
)
"""Roman-numeral degree of each triad above the key root: 12 major ("I", "bII", ..., "VII") then
12 minor ("i", "bii", ..., "vii")."""

INTERVAL_CLASS_NAMES: tuple[str, ...] = tuple(f"ic{k}" for k in range(1, 7))
"""Interval classes 1 (semitone / major seventh) to 6 (tritone)."""

KEY_RELATIVE_NAMES: tuple[str, ...] = (*RELATIVE_CHORD_NAMES, *INTERVAL_CLASS_NAMES, "key_mode")
"""Names of :func:`key_relative_features` (31 values)."""




def chord_flags(h: Harmony, *, min_share: float = 0.05) -> np.ndarray:
    """Flag the presence of each of the 24 triads of ``CHORD_FLAG_NAMES``.

    Parameters
    ----------
    h : Harmony
        The clip's harmony, from :func:`analyse_harmony`.
    min_share : float, default 0.05
        A chord is present when it labels at least this share of the chord-bearing frames
        (0.05: about half a second of a 10 s clip), which drops one-frame blips at chord changes.

    Returns
    -------
    numpy.ndarray
        float32 ``(24,)`` of 0 and 1, in the order of ``CHORD_FLAG_NAMES`` (C ... B, Cm ... Bm).

    Examples
    --------
    >>> from engine.music.harmony import analyse_harmony
    >>> from engine.vocabulary import SAMPLE_RATE
    >>> t = np.arange(SAMPLE_RATE) / SAMPLE_RATE  # 1 s per chord
    >>> c_major = sum(np.sin(2 * np.pi * f * t) for f in (261.63, 329.63, 392.0))
    >>> a_minor = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 261.63, 329.63))
    >>> h = analyse_harmony(np.concatenate([c_major, a_minor]))
    >>> [CHORD_FLAG_NAMES[i] for i in np.flatnonzero(chord_flags(h))]
    ['C', 'Am']
    """
    flags = np.zeros(len(CHORD_FLAG_NAMES), dtype=np.float32)
    for label, share in chord_shares(h).items():
        if share >= min_share:
            flags[CHORD_FLAG_NAMES.index(label)] = 1.0
    return flags


def tonic_in_top_chords(h: Harmony, *, top: int = 3) -> bool:
    """Check whether the key root is the root of one of the ``top`` most frequent chords.

    Chords are ranked by frame count; chords with equal counts rank in order of first appearance.

    Parameters
    ----------
    h : Harmony
        The clip's harmony, from :func:`analyse_harmony`.
    top : int, default 3
        Number of most frequent chords considered.

    Returns
    -------
    bool
        True when one of them has the key root as its root.

    Examples
    --------
    >>> from engine.music.harmony import analyse_harmony
    >>> from engine.vocabulary import SAMPLE_RATE
    >>> t = np.arange(SAMPLE_RATE) / SAMPLE_RATE  # 1 s per chord
    >>> c_major = sum(np.sin(2 * np.pi * f * t) for f in (261.63, 329.63, 392.0))
    >>> a_minor = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 261.63, 329.63))
    >>> h = analyse_harmony(np.concatenate([c_major, a_minor]))
    >>> tonic_in_top_chords(h), tonic_in_top_chords(h, top=1)  # C major; Am is the most frequent
    (True, False)
    """
    roots = [parse_chord(label)[0] for label in list(chord_shares(h))[:top]]
    return h.key_root in roots


def thesis_harmony_features(h: Harmony) -> np.ndarray:
    """Compute the thesis's 27 harmony features, named by ``THESIS_HARMONY_NAMES``.

    Parameters
    ----------
    h : Harmony
        The clip's harmony, from :func:`analyse_harmony`.

    Returns
    -------
    numpy.ndarray
        float32 ``(27,)``: 24 chord flags (:func:`chord_flags`), the key root as a number
        0..11 (as the thesis encoded it, although pitch classes are circular), ``tonic_top3``
        (1 when the key root is the root of one of the three most frequent chords) and
        ``key_mode`` (1 = minor).

    Examples
    --------
    >>> from engine.music.harmony import analyse_harmony
    >>> from engine.vocabulary import SAMPLE_RATE
    >>> t = np.arange(SAMPLE_RATE) / SAMPLE_RATE  # 1 s per chord
    >>> c_major = sum(np.sin(2 * np.pi * f * t) for f in (261.63, 329.63, 392.0))
    >>> a_minor = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 261.63, 329.63))
    >>> h = analyse_harmony(np.concatenate([c_major, a_minor]))
    >>> features = thesis_harmony_features(h)
    >>> features.shape, features.dtype
    ((27,), dtype('float32'))
    >>> dict(zip(THESIS_HARMONY_NAMES[-3:], features[-3:].tolist()))
    {'key_root': 0.0, 'tonic_top3': 1.0, 'key_mode': 0.0}
    """
    extra = [float(h.key_root), float(tonic_in_top_chords(h)), float(h.key_mode == "minor")]
    return np.concatenate([chord_flags(h), np.asarray(extra, dtype=np.float32)])


def relative_chord_flags(h: Harmony, *, min_share: float = 0.05) -> np.ndarray:
    """Flag the presence of each triad as a degree of the key, named by ``RELATIVE_CHORD_NAMES``.

    The same music in any key gives the same flags: C, Am, F, G in C major and D, Bm, G, A in
    D major are both I, vi, IV, V.

    Parameters
    ----------
    h : Harmony
        The clip's harmony, from :func:`analyse_harmony`.
    min_share : float, default 0.05
        As in :func:`chord_flags`.

    Returns
    -------
    numpy.ndarray
        float32 ``(24,)`` of 0 and 1: 12 major degrees then 12 minor degrees above the key root.

    Examples
    --------
    >>> from engine.music.harmony import analyse_harmony
    >>> from engine.vocabulary import SAMPLE_RATE
    >>> t = np.arange(SAMPLE_RATE) / SAMPLE_RATE  # 1 s per chord
    >>> c_major = sum(np.sin(2 * np.pi * f * t) for f in (261.63, 329.63, 392.0))
    >>> a_minor = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 261.63, 329.63))
    >>> h = analyse_harmony(np.concatenate([c_major, a_minor]))
    >>> [RELATIVE_CHORD_NAMES[i] for i in np.flatnonzero(relative_chord_flags(h))]
    ['I', 'vi']
    """
    absolute = chord_flags(h, min_share=min_share).reshape(2, 12)  # (quality, root)
    return np.roll(absolute, -h.key_root, axis=1).reshape(-1)


def interval_class_profile(chroma12: np.ndarray) -> np.ndarray:
    """Measure how much each interval class sounds in a pitch-class profile.

    The classes are named by ``INTERVAL_CLASS_NAMES``.

    For interval class k (1 to 6) the value is the sum over unordered pitch-class pairs {i, j}
    at circular distance k of ``c_i * c_j``; the six sums are normalised to add up to 1. A
    transposition rotates the profile and leaves every pair's distance unchanged, so the result
    is identical in every key.

    Parameters
    ----------
    chroma12 : numpy.ndarray
        Non-negative pitch-class energies, shape ``(12,)`` or ``(..., 12)`` for many profiles at
        once (any rotation; negative values count as 0).

    Returns
    -------
    numpy.ndarray
        float32 ``(6,)`` (or ``(..., 6)``) summing to 1, or zeros where ``chroma12`` is all zero.

    Raises
    ------
    ValueError
        The last axis of ``chroma12`` does not have 12 entries.

    Examples
    --------
    A C major triad holds a minor third (E-G), a major third (C-E) and a fifth (C-G, ic5):

    >>> import numpy as np
    >>> triad = np.zeros(12)
    >>> triad[[0, 4, 7]] = 1.0
    >>> [round(float(share), 3) for share in interval_class_profile(triad)]
    [0.0, 0.0, 0.333, 0.333, 0.333, 0.0]
    >>> interval_class_profile(np.zeros((5, 12))).shape
    (5, 6)
    """
    c = np.clip(np.asarray(chroma12, dtype=np.float64), 0.0, None)
    if c.shape[-1] != 12:
        raise ValueError(f"chroma12 must have 12 pitch classes on its last axis, got {c.shape}")
    pairs = np.stack([np.sum(c * np.roll(c, -k, axis=-1), axis=-1) for k in range(1, 7)], axis=-1)
    pairs[..., 5] /= 2.0  # c_i * c_(i+6) meets every tritone pair twice
    total = pairs.sum(axis=-1, keepdims=True)
    profile = np.divide(pairs, total, out=np.zeros_like(pairs), where=total > 0)
    return profile.astype(np.float32)


def key_relative_features(h: Harmony) -> np.ndarray:
    """Compute transposition-invariant harmony features, named by ``KEY_RELATIVE_NAMES``.

    Parameters
    ----------
    h : Harmony
        The clip's harmony, from :func:`analyse_harmony`.

    Returns
    -------
    numpy.ndarray
        float32 ``(31,)``: 24 relative chord flags (:func:`relative_chord_flags`), the 6-value
        interval-class profile of the mean HPCP (:func:`interval_class_profile`), and
        ``key_mode`` (1 = minor).

    Examples
    --------
    >>> from engine.music.harmony import analyse_harmony
    >>> from engine.vocabulary import SAMPLE_RATE
    >>> t = np.arange(SAMPLE_RATE) / SAMPLE_RATE  # 1 s per chord
    >>> c_major = sum(np.sin(2 * np.pi * f * t) for f in (261.63, 329.63, 392.0))
    >>> a_minor = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 261.63, 329.63))
    >>> h = analyse_harmony(np.concatenate([c_major, a_minor]))
    >>> features = key_relative_features(h)
    >>> features.shape, features.dtype, float(features[-1])
    ((31,), dtype('float32'), 0.0)
    >>> round(float(features[24:30].sum()), 3)
    1.0
    """
    mode = np.asarray([float(h.key_mode == "minor")], dtype=np.float32)
    return np.concatenate([relative_chord_flags(h), interval_class_profile(h.hpcp_mean), mode])
