"""Estimate the 7 mid-level perceptual descriptors of a clip from its audio alone.

For music without mid-level annotations, :func:`estimate_midlevel` measures each descriptor of
``MIDLEVEL`` (Aljanaki & Soleymani 2018) with documented, musically motivated signal measures
and maps it to [0, 1]. Each estimate is the weighted mean of one to four *raw measures*, each
squashed by the logistic ``1 / (1 + exp(-(raw - centre) / width))``. Centres, widths and weights
are fixed constants (:data:`RAW_MEASURES`), set once by musical reasoning and a look at the raw
ranges on a tuning corpus (synthetic seed 3); nothing is fitted at run time, so the function
works on one clip alone. A negative width means "more raw, less descriptor". A raw measure that
cannot be taken (silence, no beats, no melody) drops out of its descriptor's mean; a descriptor
with none left is 0.5 (:data:`NEUTRAL`). Clips are scaled to a fixed RMS first, so the level of
a recording does not matter.

Estimators (raw measure: what it measures, units; centre, width, weight)

melodiousness -- contour of the predominant melody (Essentia PredominantPitchMelodia between
200 and 2000 Hz; notes are runs of one rounded semitone lasting 60 ms or more). Singable
melodies move by steps and small skips within a narrow range.
    step_share: share of note-to-note moves of at most 4 semitones, 0..1; 0.5, 0.15, 1
    median_interval: median absolute note-to-note interval, semitones; 5, -2, 1
    melodic_spread: inter-quartile range of the notes' pitch, semitones; 8, -3, 1

articulation -- how far the sound falls between notes.
    envelope_dip: mean depth of the loudness envelope (STFT frame energy, 11.6 ms frames)
        below its running maximum over +-100 ms, dB; staccato leaves gaps, legato fills them;
        5, 2.5, 1

rhythm_stability -- periodicity of the onsets.
    pulse_concentration: share of the onset-strength (spectral flux) spectrum's power between
        0.5 and 10 Hz that lies in its strongest 10 % of bins, 0..1; a steady pulse gives sharp
        lines, timing jitter and tempo drift smear them; 0.45, 0.1, 1

rhythm_complexity -- syncopation against the beat.
    offbeat_share: share of onset accents (mel-band flux above its 0.5 s running mean) that
        fall between the beats of a dynamic-programming beat tracker, averaged over the beat
        and two-beat levels, 0..1; 0.45, 0.1, 1

dissonance -- clashing intervals and roughness.
    dissonant_intervals: mean over HPCP frames (square-root compressed, so soft added tones
        count) of the share of semitone/major-seventh (ic1) and tritone (ic6) interval classes
        among the pitch classes sounding together, 0..1 (a bare triad gives about 0, all 12
        pitch classes equally 0.27); 0.235, 0.02, 1
    roughness: Essentia Dissonance (Plomp-Levelt sensory roughness of spectral peaks), mean
        over sounding 93 ms frames, 0..1; 0.44, 0.04, 0.25

tonal_stability -- staying in one key.
    key_strength: Essentia Key's correlation of the mean HPCP with its key profile; 0.7, 0.1, 1
    in_scale_share: share of mean-HPCP energy on the 7 scale tones of the key, 0..1 (7/12 for
        a flat profile); 0.72, 0.06, 1
    key_persistence: mean correlation of 2.5 s windowed HPCPs with the clip's mean HPCP;
        modulations and chromatic passages lower it; 0.7, 0.1, 1
    melodic_diatonicity: share of melody notes inside the best-fitting diatonic scale, 7/12..1;
        0.85, 0.06, 1

minorness -- minor thirds above the roots.
    minor_third_margin: per HPCP frame (m3 - M3) / (m3 + M3) above the strongest bass pitch
        class (usually the chord root), averaged over frames, -1..1; 0, 0.2, 1
    minor_chord_share: share of chord frames that Essentia ChordsDetection labels minor, 0..1;
        0.5, 0.2, 0.5

The signal measures come from :mod:`engine.music.spectral` (normalised signal, spectrogram, onset
strength), :mod:`engine.music.rhythm` (articulation and rhythm) and :mod:`engine.music.melody`
(melody and scales); the harmony-based measures are taken here, from
:func:`~engine.music.harmony.analyse_harmony`.

Validation against the synthetic corpus: ``benchmarks/validate_descriptors.py``, which also prints
the seconds per clip on one core; ``benchmarks/bench_harmony.py`` times the estimators per 10 s
clip beside the harmony analysis.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

import numpy as np

from engine.music.essentia_quiet import essentia_standard
from engine.music.harmony import (
    NO_CHORD,
    Harmony,
    analyse_harmony,
    chord_shares,
    parse_chord,
)
from engine.music.harmony_features import (
    interval_class_profile,
)
from engine.music.melody import melody_measures, scale_mask
from engine.music.rhythm import envelope_dip, pulse_concentration, syncopation, track_beats
from engine.music.spectral import Spectrogram, mel_flux, normalised, spectral_flux
from engine.vocabulary import MIDLEVEL, SAMPLE_RATE

# ------------------------------------------------------------------------------------------------
# Squashing and the measure table
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RawMeasure:
    """How one raw measure enters one descriptor's estimate.

    Attributes
    ----------
    descriptor : str
        The ``MIDLEVEL`` name it estimates.
    centre : float
        Raw value mapped to 0.5.
    width : float
        Raw change from the centre that moves the estimate to about 0.73 (logistic scale);
        negative when a larger raw value means a smaller descriptor.
    weight : float, default 1.0
        Weight of the squashed value in the descriptor's mean.

    Examples
    --------
    >>> measure = RawMeasure("articulation", centre=5.0, width=2.5)
    >>> float(measure.squash(5.0)), round(float(measure.squash(7.5)), 3), round(float(measure.squash(2.5)), 3)
    (0.5, 0.731, 0.269)
    """

    descriptor: str
    centre: float
    width: float
    weight: float = 1.0

    def squash(self, raw: float) -> float:
        """Map a raw value into (0, 1) with the logistic ``1 / (1 + exp(-(raw - centre) / width))``.

        Parameters
        ----------
        raw : float
            Raw value of the measure, in its own units.

        Returns
        -------
        float
            The squashed value; ``(raw - centre) / width`` is clipped to [-50, 50] first.
        """
        z = float(np.clip((raw - self.centre) / self.width, -50.0, 50.0))
        return 1.0 / (1.0 + np.exp(-z))


RAW_MEASURES: Mapping[str, RawMeasure] = MappingProxyType({
    "step_share": RawMeasure("melodiousness", centre=0.5, width=0.15),
    "median_interval": RawMeasure("melodiousness", centre=5.0, width=-2.0),
    "melodic_spread": RawMeasure("melodiousness", centre=8.0, width=-3.0),
    "envelope_dip": RawMeasure("articulation", centre=5.0, width=2.5),
    "pulse_concentration": RawMeasure("rhythm_stability", centre=0.45, width=0.1),
    "offbeat_share": RawMeasure("rhythm_complexity", centre=0.45, width=0.1),
    "dissonant_intervals": RawMeasure("dissonance", centre=0.235, width=0.02),
    "roughness": RawMeasure("dissonance", centre=0.44, width=0.04, weight=0.25),
    "key_strength": RawMeasure("tonal_stability", centre=0.7, width=0.1),
    "in_scale_share": RawMeasure("tonal_stability", centre=0.72, width=0.06),
    "key_persistence": RawMeasure("tonal_stability", centre=0.7, width=0.1),
    "melodic_diatonicity": RawMeasure("tonal_stability", centre=0.85, width=0.06),
    "minor_third_margin": RawMeasure("minorness", centre=0.0, width=0.2),
    "minor_chord_share": RawMeasure("minorness", centre=0.5, width=0.2, weight=0.5),
})
"""Every raw measure, keyed by name, with its descriptor and fixed squashing constants
(read-only)."""

NEUTRAL = 0.5
"""Estimate of a descriptor none of whose raw measures could be taken."""


# ------------------------------------------------------------------------------------------------
# Public entry points
# ------------------------------------------------------------------------------------------------


def estimate_midlevel(
    y: np.ndarray, *, sample_rate: int = SAMPLE_RATE, harmony: Harmony | None = None
) -> dict[str, float]:
    """Estimate the 7 mid-level descriptors of a clip, each in [0, 1].

    The raw measures of :func:`raw_measures` are squashed and averaged by :func:`squash_measures`.

    Parameters
    ----------
    y : numpy.ndarray
        Mono waveform, shape ``(n_samples,)``, any float dtype and level.
    sample_rate : int, default SAMPLE_RATE
        Sample rate of ``y`` in Hz (22,050).
    harmony : Harmony or None, default None
        The clip's :func:`~engine.music.harmony.analyse_harmony` result, when already computed;
        computed here otherwise.

    Returns
    -------
    dict of str to float
        One finite value in [0, 1] per name of ``MIDLEVEL``, in that order; 0.5 (``NEUTRAL``)
        where none of a descriptor's raw measures could be taken.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(SAMPLE_RATE) / SAMPLE_RATE  # 1 s of a C major triad
    >>> y = sum(np.sin(2 * np.pi * f * t) for f in (261.63, 329.63, 392.0))
    >>> estimates = estimate_midlevel(y)
    >>> tuple(estimates) == MIDLEVEL, all(0.0 <= value <= 1.0 for value in estimates.values())
    (True, True)
    >>> estimates["melodiousness"]  # one held chord: no melody to measure
    0.5
    >>> set(estimate_midlevel(np.zeros(SAMPLE_RATE)).values())  # silence
    {0.5}
    """
    return squash_measures(raw_measures(y, sample_rate=sample_rate, harmony=harmony))


def squash_measures(raw: Mapping[str, float]) -> dict[str, float]:
    """Combine raw measures into descriptor estimates (see :data:`RAW_MEASURES`).

    Each descriptor is the weighted mean of its raw measures squashed by
    :meth:`RawMeasure.squash`, or ``NEUTRAL`` (0.5) when none of them is available.

    Parameters
    ----------
    raw : Mapping of str to float
        Raw values keyed by measure name; NaN or missing ones are skipped.

    Returns
    -------
    dict of str to float
        One value in [0, 1] per name of ``MIDLEVEL``, in that order.

    Examples
    --------
    >>> estimates = squash_measures({"envelope_dip": 7.5, "step_share": float("nan")})
    >>> round(estimates["articulation"], 3), estimates["melodiousness"]
    (0.731, 0.5)
    """
    totals = {name: 0.0 for name in MIDLEVEL}
    weights = {name: 0.0 for name in MIDLEVEL}
    for name, spec in RAW_MEASURES.items():
        value = raw.get(name, float("nan"))
        if spec.weight > 0 and np.isfinite(value):
            totals[spec.descriptor] += spec.weight * spec.squash(value)
            weights[spec.descriptor] += spec.weight
    return {
        name: float(totals[name] / weights[name]) if weights[name] > 0 else NEUTRAL
        for name in MIDLEVEL
    }


def raw_measures(
    y: np.ndarray, *, sample_rate: int = SAMPLE_RATE, harmony: Harmony | None = None
) -> dict[str, float]:
    """Take all raw measures of :data:`RAW_MEASURES` for one clip (NaN where one cannot be taken).

    Parameters
    ----------
    y : numpy.ndarray
        Mono waveform, shape ``(n_samples,)``.
    sample_rate : int, default SAMPLE_RATE
        Sample rate of ``y`` in Hz (22,050).
    harmony : Harmony or None, default None
        Precomputed harmony of ``y``, or ``None`` to compute it.

    Returns
    -------
    dict of str to float
        Raw value per measure name (units in the module docstring); all NaN for a silent clip.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(SAMPLE_RATE) / SAMPLE_RATE  # 1 s of a C major triad
    >>> y = sum(np.sin(2 * np.pi * f * t) for f in (261.63, 329.63, 392.0))
    >>> raw = raw_measures(y)
    >>> sorted(raw) == sorted(RAW_MEASURES)
    True
    >>> raw["minor_chord_share"], bool(np.isnan(raw["step_share"]))  # no minor chord, no melody
    (0.0, True)
    """
    signal = normalised(y)
    if signal is None:
        return dict.fromkeys(RAW_MEASURES, float("nan"))
    h = harmony if harmony is not None else analyse_harmony(y, sample_rate=sample_rate)
    spectrogram = Spectrogram.of(signal, sample_rate=sample_rate)
    frame_rate = spectrogram.frame_rate
    note_onsets = spectral_flux(spectrogram)
    band_onsets = mel_flux(spectrogram)
    beats = track_beats(band_onsets, frame_rate=frame_rate)
    return {
        **melody_measures(signal, sample_rate=sample_rate),
        "envelope_dip": envelope_dip(spectrogram),
        "pulse_concentration": pulse_concentration(note_onsets, frame_rate=frame_rate),
        "offbeat_share": syncopation(band_onsets, beats, frame_rate=frame_rate),
        "dissonant_intervals": dissonant_interval_share(h),
        "roughness": sensory_roughness(signal, sample_rate=sample_rate),
        **tonal_measures(h),
        **mode_measures(h),
    }



# ------------------------------------------------------------------------------------------------
# Harmony-based measures
# ------------------------------------------------------------------------------------------------


def _chord_frames(h: Harmony) -> np.ndarray:
    """Return a boolean ``(n_frames,)`` mask of the frames that carry a chord label."""
    return np.asarray([label != NO_CHORD for label in h.chords], dtype=bool)


def dissonant_interval_share(h: Harmony) -> float:
    """Measure the share of semitone (ic1) and tritone (ic6) intervals among the sounding pitch classes.

    The share is taken per chord-bearing HPCP frame and averaged over frames. Frames are
    square-root compressed before :func:`interval_class_profile`, so that soft added tones (a
    minor second on top of a triad) weigh in as the ear hears them.

    Parameters
    ----------
    h : Harmony
        The clip's harmony, from :func:`~engine.music.harmony.analyse_harmony`.

    Returns
    -------
    float
        A share in [0, 1] (about 0 for a bare triad, 0.27 for all 12 pitch classes equally),
        or NaN when no frame has pitched content.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(SAMPLE_RATE) / SAMPLE_RATE  # 1 s of a C major triad
    >>> y = sum(np.sin(2 * np.pi * f * t) for f in (261.63, 329.63, 392.0))
    >>> bool(dissonant_interval_share(analyse_harmony(y)) < 0.235)  # below the squashing centre
    True
    """
    frames = np.sqrt(np.asarray(h.hpcp, dtype=np.float64)[_chord_frames(h)])
    if frames.size == 0:
        return float("nan")
    profiles = interval_class_profile(frames)
    return float(np.mean(profiles[:, 0] + profiles[:, 5]))


def sensory_roughness(
    signal: np.ndarray, *, sample_rate: int, frame_size: int = 2048
) -> float:
    """Measure the mean Essentia Dissonance (Plomp-Levelt roughness of spectral peaks) of a signal.

    Frames of ``frame_size`` samples (no overlap) with at least two spectral peaks between 40 Hz
    and 5 kHz are measured; the mean is over those whose energy is at least a quarter of the
    median frame energy.

    Parameters
    ----------
    signal : numpy.ndarray
        float32 mono waveform, shape ``(n_samples,)``.
    sample_rate : int
        Sample rate of ``signal`` in Hz.
    frame_size : int, default 2048
        Frame length in samples (93 ms at 22,050 Hz).

    Returns
    -------
    float
        Roughness in [0, 1], or NaN when no frame has two spectral peaks.

    Examples
    --------
    Two tones a semitone apart are rougher than one:

    >>> import numpy as np
    >>> t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    >>> tone = np.sin(2 * np.pi * 440.0 * t).astype(np.float32)
    >>> clash = tone + np.sin(2 * np.pi * 466.16 * t).astype(np.float32)
    >>> smooth = sensory_roughness(tone, sample_rate=SAMPLE_RATE)
    >>> rough = sensory_roughness(clash, sample_rate=SAMPLE_RATE)
    >>> bool(rough > smooth), bool(0.0 <= smooth and rough <= 1.0)
    (True, True)
    """
    es = essentia_standard()
    window = es.Windowing(type="blackmanharris62", size=frame_size)
    spectrum = es.Spectrum(size=frame_size)
    peaks = es.SpectralPeaks(
        orderBy="frequency",
        magnitudeThreshold=1e-4,
        minFrequency=40.0,
        maxFrequency=5000.0,
        maxPeaks=50,
        sampleRate=sample_rate,
    )
    dissonance = es.Dissonance()
    values, energies = [], []
    for frame in es.FrameGenerator(signal, frameSize=frame_size, hopSize=frame_size):
        frequencies, magnitudes = peaks(spectrum(window(frame)))
        if frequencies.size > 1:
            values.append(dissonance(frequencies, magnitudes))
            energies.append(float(np.mean(frame**2)))
    if not values:
        return float("nan")
    values_arr, energies_arr = np.asarray(values), np.asarray(energies)
    loud = energies_arr >= 0.25 * np.median(energies_arr)
    return float(values_arr[loud].mean())


def tonal_measures(h: Harmony, *, window_s: float = 2.5) -> dict[str, float]:
    """Measure ``key_strength``, ``in_scale_share`` and ``key_persistence`` of a clip's harmony.

    ``key_persistence`` is the mean Pearson correlation between the mean HPCP of each
    ``window_s`` window (half-overlapping) and the clip's mean HPCP: a clip that stays in one
    key keeps the same pitch-class distribution throughout, a modulation or a chromatic passage
    does not. ``in_scale_share`` is the share of mean-HPCP energy on the 7 scale tones of the key.

    Parameters
    ----------
    h : Harmony
        The clip's harmony, from :func:`~engine.music.harmony.analyse_harmony`.
    window_s : float, default 2.5
        Window length in seconds for ``key_persistence``.

    Returns
    -------
    dict of str to float
        The three measures (``key_persistence`` NaN when no window varies); all NaN where the
        clip has no pitched content.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(SAMPLE_RATE) / SAMPLE_RATE  # 1 s of a C major triad
    >>> y = sum(np.sin(2 * np.pi * f * t) for f in (261.63, 329.63, 392.0))
    >>> measures = tonal_measures(analyse_harmony(y))
    >>> sorted(measures), round(measures["key_persistence"], 3)
    (['in_scale_share', 'key_persistence', 'key_strength'], 1.0)
    """
    frames = np.asarray(h.hpcp, dtype=np.float64)[_chord_frames(h)]
    mean = np.asarray(h.hpcp_mean, dtype=np.float64)
    if frames.shape[0] == 0 or mean.sum() <= 0:
        return dict.fromkeys(("key_strength", "in_scale_share", "key_persistence"), float("nan"))
    in_scale = float(mean[scale_mask(h.key_root, h.key_mode)].sum() / mean.sum())
    width = max(2, int(round(window_s / h.hop_seconds)))
    correlations = []
    for start in range(0, max(1, frames.shape[0] - width + 1), max(1, width // 2)):
        window = frames[start : start + width].mean(axis=0)
        if window.std() > 0 and mean.std() > 0:
            correlations.append(float(np.corrcoef(window, mean)[0, 1]))
    return {
        "key_strength": float(h.key_strength),
        "in_scale_share": in_scale,
        "key_persistence": float(np.mean(correlations)) if correlations else float("nan"),
    }


def mode_measures(h: Harmony) -> dict[str, float]:
    """Measure ``minor_third_margin`` and ``minor_chord_share`` of a clip's harmony.

    The bass usually plays the chord root; a minor chord has a minor third (3 semitones) above
    its root, a major chord a major third (4). Per frame the margin is ``(m3 - M3) / (m3 + M3)``
    of the HPCP above the strongest bass pitch class; frames without bass are skipped.
    ``minor_chord_share`` is the share of chord frames labelled minor.

    Parameters
    ----------
    h : Harmony
        The clip's harmony, from :func:`~engine.music.harmony.analyse_harmony`.

    Returns
    -------
    dict of str to float
        ``minor_third_margin`` in [-1, 1] and ``minor_chord_share`` in [0, 1]; NaN where there is
        nothing to measure.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(SAMPLE_RATE) / SAMPLE_RATE  # 1 s of an A minor triad
    >>> y = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 261.63, 329.63))
    >>> mode_measures(analyse_harmony(y))["minor_chord_share"]
    1.0
    """
    chord = _chord_frames(h)
    bass = np.asarray(h.bass_hpcp, dtype=np.float64)
    frames = np.asarray(h.hpcp, dtype=np.float64)
    usable = chord & (bass.sum(axis=1) > 0)
    margin = float("nan")
    if usable.any():
        roots = bass[usable].argmax(axis=1)
        rows = frames[usable]
        index = np.arange(rows.shape[0])
        minor = rows[index, (roots + 3) % 12]
        major = rows[index, (roots + 4) % 12]
        margin = float(np.mean((minor - major) / np.maximum(minor + major, 1e-9)))
    shares = chord_shares(h)
    minor_share = (
        float(sum(share for label, share in shares.items() if parse_chord(label)[1]))
        if shares
        else float("nan")
    )
    return {"minor_third_margin": margin, "minor_chord_share": minor_share}



__all__ = [
    "NEUTRAL",
    "RAW_MEASURES",
    "RawMeasure",
    "dissonant_interval_share",
    "estimate_midlevel",
    "mode_measures",
    "raw_measures",
    "sensory_roughness",
    "squash_measures",
    "tonal_measures",
]
