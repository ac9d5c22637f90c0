"""Scales and the predominant melody.

:func:`scale_mask` and :func:`diatonic_fit` relate pitch classes to the diatonic scales (the
tonal measures of :mod:`engine.music.descriptors` use the mask too). :func:`predominant_melody`
(Essentia PredominantPitchMelodia) and :func:`melody_notes` turn a clip into a sequence of notes,
and :func:`melody_measures` reads from it the contour measures of melodiousness and the scale
measure of tonal stability.
"""

from __future__ import annotations

import numpy as np

from engine.music.essentia_quiet import essentia_standard

_SCALE_MAJOR = (0, 2, 4, 5, 7, 9, 11)
_SCALE_MINOR = (0, 2, 3, 5, 7, 8, 10)


# ------------------------------------------------------------------------------------------------
# Scales
# ------------------------------------------------------------------------------------------------


def scale_mask(key_root: int, key_mode: str) -> np.ndarray:
    """Return the pitch classes of a key's scale as a mask (natural minor for minor keys).

    Parameters
    ----------
    key_root : int
        Pitch class of the tonic, 0 = C ... 11 = B.
    key_mode : str
        ``"minor"`` for the natural minor scale; anything else gives the major scale.

    Returns
    -------
    numpy.ndarray
        Boolean ``(12,)``, C first, True on the 7 scale tones.

    Examples
    --------
    >>> import numpy as np
    >>> np.flatnonzero(scale_mask(0, "major"))
    array([ 0,  2,  4,  5,  7,  9, 11])
    >>> np.flatnonzero(scale_mask(9, "minor"))  # A minor: the same notes
    array([ 0,  2,  4,  5,  7,  9, 11])
    """
    steps = _SCALE_MINOR if key_mode == "minor" else _SCALE_MAJOR
    mask = np.zeros(12, dtype=bool)
    mask[[(key_root + step) % 12 for step in steps]] = True
    return mask


def diatonic_fit(pitch_classes: np.ndarray) -> float:
    """Measure the largest share of notes inside one of the 12 diatonic collections.

    The collections are the major scales and, with the same notes, their relative minors.

    Parameters
    ----------
    pitch_classes : numpy.ndarray
        Integer pitch classes or MIDI numbers (taken modulo 12), shape ``(n_notes,)``.

    Returns
    -------
    float
        A share in [7/12, 1] for non-empty input (NaN for empty input).

    Examples
    --------
    >>> import numpy as np
    >>> diatonic_fit(np.array([60, 62, 64, 65, 67, 69, 71]))  # a C major scale
    1.0
    >>> diatonic_fit(np.array([0, 1, 2, 3]))  # chromatic: 3 of 4 fit at best
    0.75
    """
    if pitch_classes.size == 0:
        return float("nan")
    counts = np.bincount(np.asarray(pitch_classes) % 12, minlength=12).astype(np.float64)
    collections = np.stack([scale_mask(root, "major") for root in range(12)]).astype(np.float64)
    return float((collections @ counts).max() / counts.sum())


# ------------------------------------------------------------------------------------------------
# Melody
# ------------------------------------------------------------------------------------------------


def predominant_melody(
    signal: np.ndarray,
    *,
    sample_rate: int,
    min_frequency: float = 200.0,
    max_frequency: float = 2000.0,
) -> tuple[np.ndarray, float]:
    """Track the pitch of the predominant melody (Essentia PredominantPitchMelodia) in MIDI numbers.

    The melody is looked for between ``min_frequency`` and ``max_frequency`` (Hz): above the
    bass and most accompaniment, where lead voices and instruments sing. Melodia guesses a pitch
    for weakly voiced frames too (``guessUnvoiced``), keeps contours of 50 ms or more, and uses
    20-cent salience bins and 10 harmonics (half its default cost, still far finer than the
    semitone needed here). Frames are about 11.6 ms apart (256 samples at 22,050 Hz).

    Parameters
    ----------
    signal : numpy.ndarray
        Mono waveform, shape ``(n_samples,)``.
    sample_rate : int
        Sample rate of ``signal`` in Hz.
    min_frequency : float, default 200.0
        Lowest melody frequency in Hz.
    max_frequency : float, default 2000.0
        Highest melody frequency in Hz.

    Returns
    -------
    midi : numpy.ndarray
        float64 ``(n_frames,)`` MIDI pitch (69 = A4 = 440 Hz) with NaN where nothing is voiced.
    frame_s : float
        The frame period in seconds.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(5512) / 22_050  # 0.25 s per note
    >>> y = np.concatenate([np.sin(2 * np.pi * 440.0 * 2 ** ((m - 69) / 12) * t) for m in (60, 62, 64, 67, 64, 62)])
    >>> midi, frame_s = predominant_melody(y, sample_rate=22_050)
    >>> midi.shape, round(frame_s, 4)
    ((131,), 0.0116)
    >>> round(float(np.nanmin(midi))), round(float(np.nanmax(midi)))
    (60, 67)
    """
    hop = int(2 ** round(np.log2(0.0116 * sample_rate)))  # 256 samples at 22,050 Hz
    melodia = essentia_standard().PredominantPitchMelodia(
        sampleRate=sample_rate,
        frameSize=8 * hop,
        hopSize=hop,
        minFrequency=min_frequency,
        maxFrequency=max_frequency,
        guessUnvoiced=True,
        minDuration=50,
        binResolution=20,
        numberHarmonics=10,
    )
    hz, _ = melodia(np.ascontiguousarray(signal, dtype=np.float32))
    hz = np.asarray(hz, dtype=np.float64)
    midi = np.full(hz.shape, np.nan)
    voiced = hz > 0
    midi[voiced] = 69.0 + 12.0 * np.log2(hz[voiced] / 440.0)
    return midi, hop / sample_rate


def melody_notes(midi: np.ndarray, *, frame_s: float, min_note_s: float = 0.06) -> np.ndarray:
    """Segment a pitch track into notes.

    A note is a run of frames on one rounded semitone lasting ``min_note_s`` or more,
    represented by the median pitch of its frames; shorter runs and unvoiced frames are dropped.

    Parameters
    ----------
    midi : numpy.ndarray
        float ``(n_frames,)`` MIDI pitch, NaN where unvoiced.
    frame_s : float
        Frame period in seconds.
    min_note_s : float, default 0.06
        Shortest note in seconds.

    Returns
    -------
    numpy.ndarray
        float64 ``(n_notes,)`` MIDI pitches in time order.

    Examples
    --------
    >>> import numpy as np
    >>> midi = np.array([60.0, 60.1, 60.0, np.nan, 62.0, 61.9, 62.0, 64.0])
    >>> melody_notes(midi, frame_s=0.02)  # the single 64 frame is too short
    array([60., 62.])
    """
    semitone = np.where(np.isfinite(midi), np.round(np.nan_to_num(midi)), -1.0)
    boundaries = np.flatnonzero(np.diff(semitone) != 0) + 1
    starts = np.concatenate([[0], boundaries])
    ends = np.concatenate([boundaries, [semitone.size]])
    shortest = max(1, int(np.ceil(min_note_s / frame_s)))
    notes = [
        float(np.median(midi[start:end]))
        for start, end in zip(starts.tolist(), ends.tolist())
        if semitone[start] >= 0 and end - start >= shortest
    ]
    return np.asarray(notes, dtype=np.float64)


_MELODY_MEASURES = ("step_share", "median_interval", "melodic_spread", "melodic_diatonicity")


def melody_measures(signal: np.ndarray, *, sample_rate: int) -> dict[str, float]:
    """Contour and scale measures of the predominant melody.

    ``step_share``, ``median_interval`` and ``melodic_spread``: singable melodies move mostly by
    steps and small skips (at most a major third, 4 semitones) and stay within a narrow range; a
    line of wide leaps over several octaves is not melodious. ``melodic_diatonicity``: the
    share of notes that fit the best diatonic scale (:func:`diatonic_fit`); chromatic notes and
    modulations lower it. Notes come from :func:`predominant_melody` and :func:`melody_notes`.

    Parameters
    ----------
    signal : numpy.ndarray
        Mono waveform, shape ``(n_samples,)``.
    sample_rate : int
        Sample rate of ``signal`` in Hz.

    Returns
    -------
    dict of str to float
        ``step_share`` (share of note-to-note moves of at most 4 semitones, 0..1),
        ``median_interval`` (semitones), ``melodic_spread`` (inter-quartile range of the notes'
        pitch, semitones) and ``melodic_diatonicity`` (7/12..1); all NaN when fewer than 3 notes
        were found.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(5512) / 22_050  # 0.25 s per note
    >>> y = np.concatenate([np.sin(2 * np.pi * 440.0 * 2 ** ((m - 69) / 12) * t) for m in (60, 62, 64, 67, 64, 62)])
    >>> measures = melody_measures(y, sample_rate=22_050)
    >>> {name: round(value, 2) for name, value in measures.items()}
    {'step_share': 1.0, 'median_interval': 2.0, 'melodic_spread': 2.0, 'melodic_diatonicity': 1.0}
    """
    midi, frame_s = predominant_melody(signal, sample_rate=sample_rate)
    notes = melody_notes(midi, frame_s=frame_s)
    if notes.size < 3:
        return dict.fromkeys(_MELODY_MEASURES, float("nan"))
    intervals = np.abs(np.diff(notes))
    low, high = np.percentile(notes, [25, 75])
    return {
        "step_share": float(np.mean(intervals <= 4.5)),
        "median_interval": float(np.median(intervals)),
        "melodic_spread": float(high - low),
        "melodic_diatonicity": diatonic_fit(np.round(notes).astype(np.int64)),
    }


__all__ = [
    "diatonic_fit",
    "melody_measures",
    "melody_notes",
    "predominant_melody",
    "scale_mask",
]
