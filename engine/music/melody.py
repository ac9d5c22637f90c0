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
    """Boolean ``(12,)``, C first: the pitch classes of the key's scale (natural minor for
    minor keys)."""
    steps = _SCALE_MINOR if key_mode == "minor" else _SCALE_MAJOR
    mask = np.zeros(12, dtype=bool)
    mask[[(key_root + step) % 12 for step in steps]] = True
    return mask


def diatonic_fit(pitch_classes: np.ndarray) -> float:
    """Largest share of ``pitch_classes`` (ints, any length) inside one of the 12 diatonic
    collections (the major scales and, with the same notes, their relative minors).

    Returns:
        A share in [7/12, 1] for non-empty input (NaN for empty input).
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
    """Pitch of the predominant melody (Essentia PredominantPitchMelodia) in MIDI numbers.

    The melody is looked for between ``min_frequency`` and ``max_frequency`` (Hz): above the
    bass and most accompaniment, where lead voices and instruments sing. Melodia guesses a pitch
    for weakly voiced frames too (``guessUnvoiced``), keeps contours of 50 ms or more, and uses
    20-cent salience bins and 10 harmonics (half its default cost, still far finer than the
    semitone needed here).

    Returns:
        float64 ``(n_frames,)`` MIDI pitch with NaN where nothing is voiced, and the frame
        period in seconds.
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
    """Notes of a pitch track: runs of frames on one rounded semitone lasting ``min_note_s`` or
    more, each represented by the median pitch of its frames.

    Args:
        midi: float ``(n_frames,)`` MIDI pitch, NaN where unvoiced.
        frame_s: frame period in seconds.

    Returns:
        float64 ``(n_notes,)`` MIDI pitches in time order.
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
    modulations lower it.

    Returns:
        The four measures; NaN when fewer than 3 notes were found.
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
