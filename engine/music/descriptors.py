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

Speed: about 0.15 s per 10 s clip on one core, harmony included (about 90 ms of it Melodia).
Validation against the synthetic corpus: ``benchmarks/validate_descriptors.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

import librosa
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.ndimage import maximum_filter1d, uniform_filter1d

from engine.vocabulary import MIDLEVEL, SAMPLE_RATE
from engine.music.essentia_quiet import essentia_standard
from engine.music.harmony import (
    NO_CHORD,
    Harmony,
    analyse_harmony,
    chord_shares,
    interval_class_profile,
    parse_chord,
)

# ------------------------------------------------------------------------------------------------
# Squashing and the measure table
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RawMeasure:
    """How one raw measure enters one descriptor's estimate.

    Attributes:
        descriptor: the ``MIDLEVEL`` name it estimates.
        centre: raw value mapped to 0.5.
        width: raw change from the centre that moves the estimate to about 0.73 (logistic
            scale); negative when a larger raw value means a smaller descriptor.
        weight: weight of the squashed value in the descriptor's mean.
    """

    descriptor: str
    centre: float
    width: float
    weight: float = 1.0

    def squash(self, raw: float) -> float:
        """The raw value mapped into (0, 1)."""
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

_SILENCE_RMS = 1e-5  # about -100 dBFS: below this a clip is treated as silent
_REFERENCE_RMS = 0.1  # clips are scaled to this RMS so that log compression is level-free
_LOG_GAIN = 100.0  # log(1 + gain * |X|): compresses magnitudes like loudness does
_ENVELOPE_FLOOR_DB = 60.0  # the loudness envelope is floored this far below its maximum
_SCALE_MAJOR = (0, 2, 4, 5, 7, 9, 11)
_SCALE_MINOR = (0, 2, 3, 5, 7, 8, 10)


# ------------------------------------------------------------------------------------------------
# Public entry points
# ------------------------------------------------------------------------------------------------


def estimate_midlevel(
    y: np.ndarray, *, sample_rate: int = SAMPLE_RATE, harmony: Harmony | None = None
) -> dict[str, float]:
    """Estimates of the 7 mid-level descriptors of a clip, each in [0, 1].

    Args:
        y: mono waveform, shape ``(n_samples,)``, any float dtype and level.
        sample_rate: sample rate of ``y`` in Hz.
        harmony: the clip's :func:`~engine.music.harmony.analyse_harmony` result, when already
            computed; computed here otherwise.

    Returns:
        One finite value in [0, 1] per name of ``MIDLEVEL``, in that order.
    """
    return squash_measures(raw_measures(y, sample_rate=sample_rate, harmony=harmony))


def squash_measures(raw: Mapping[str, float]) -> dict[str, float]:
    """Descriptor estimates from raw measures (see :data:`RAW_MEASURES`).

    Args:
        raw: raw values keyed by measure name; NaN or missing ones are skipped.

    Returns:
        One value in [0, 1] per name of ``MIDLEVEL``.
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
    """All raw measures of :data:`RAW_MEASURES` for one clip (NaN where one cannot be taken).

    Args:
        y: mono waveform, shape ``(n_samples,)``.
        sample_rate: sample rate of ``y`` in Hz.
        harmony: precomputed harmony of ``y``, or ``None`` to compute it.

    Returns:
        Raw value per measure name (units in the module docstring).
    """
    signal = _normalised(y)
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
# Signal preparation
# ------------------------------------------------------------------------------------------------


def _normalised(y: np.ndarray) -> np.ndarray | None:
    """float32 copy of ``y`` scaled to ``_REFERENCE_RMS``, or ``None`` when it is silent."""
    signal = np.nan_to_num(np.asarray(y, dtype=np.float64).ravel(), nan=0.0, posinf=0.0, neginf=0.0)
    rms = float(np.sqrt(np.mean(signal**2))) if signal.size else 0.0
    if rms < _SILENCE_RMS:
        return None
    return (signal * (_REFERENCE_RMS / rms)).astype(np.float32)


@dataclass(frozen=True)
class Spectrogram:
    """Magnitude STFT of a clip, Hann frames of about 46 ms every 11.6 ms (1024 and 256 samples
    at 22,050 Hz), centred on their times.

    Attributes:
        magnitude: float32 ``(n_frames, n_fft // 2 + 1)``.
        frame_rate: frames per second.
        sample_rate: sample rate of the signal in Hz.
        n_fft: frame length in samples.
    """

    magnitude: np.ndarray
    frame_rate: float
    sample_rate: int
    n_fft: int

    @classmethod
    def of(cls, signal: np.ndarray, *, sample_rate: int) -> Spectrogram:
        """STFT of a mono float signal ``(n_samples,)``, zero-padded by half a frame each side."""
        n_fft = int(2 ** round(np.log2(0.046 * sample_rate)))
        hop = n_fft // 4
        padded = np.pad(signal, (n_fft // 2, n_fft // 2))
        frames = sliding_window_view(padded, n_fft)[::hop]
        window = np.hanning(n_fft).astype(np.float32)
        magnitude = np.abs(np.fft.rfft(frames * window, axis=1)).astype(np.float32)
        return cls(
            magnitude=magnitude, frame_rate=sample_rate / hop, sample_rate=sample_rate, n_fft=n_fft
        )


def _rectified_flux(compressed: np.ndarray) -> np.ndarray:
    """Summed frame-to-frame rises of ``(n_frames, n_bands)``, float64 ``(n_frames,)``."""
    rises = np.diff(compressed, axis=0, prepend=compressed[:1])
    return np.maximum(rises, 0.0).sum(axis=1, dtype=np.float64)


def spectral_flux(spectrogram: Spectrogram) -> np.ndarray:
    """Onset strength per frame: summed rises of log-compressed magnitude over all STFT bins,
    float64 ``(n_frames,)``. Fine frequency resolution keeps the onsets of single notes."""
    return _rectified_flux(np.log1p(_LOG_GAIN * spectrogram.magnitude))


def mel_flux(spectrogram: Spectrogram, *, n_mels: int = 40) -> np.ndarray:
    """Onset strength per frame over ``n_mels`` mel bands (30 Hz to 8 kHz), float64
    ``(n_frames,)``. Pooling bins into bands lets broadband events (drum hits, chord strikes)
    dominate, as they do the felt beat."""
    bands = librosa.filters.mel(
        sr=spectrogram.sample_rate,
        n_fft=spectrogram.n_fft,
        n_mels=n_mels,
        fmin=30.0,
        fmax=min(8000.0, spectrogram.sample_rate / 2),
    )
    return _rectified_flux(np.log1p(_LOG_GAIN * (spectrogram.magnitude @ bands.T)))


# ------------------------------------------------------------------------------------------------
# Articulation
# ------------------------------------------------------------------------------------------------


def envelope_dip(spectrogram: Spectrogram, *, reach_s: float = 0.1) -> float:
    """Mean depth (dB) of the loudness envelope below its maximum within ``reach_s`` seconds.

    Staccato notes stop well before the next onset, so the envelope drops between notes; legato
    notes overlap and keep it near its local peak. The envelope is floored 60 dB below its
    maximum so that digital silence does not count as an infinite dip.
    """
    energy = np.square(spectrogram.magnitude, dtype=np.float64).sum(axis=1)
    level = 10.0 * np.log10(energy + 1e-12)
    level = np.maximum(level, level.max() - _ENVELOPE_FLOOR_DB)
    span = 2 * int(round(reach_s * spectrogram.frame_rate)) + 1
    return float(np.mean(maximum_filter1d(level, span) - level))


# ------------------------------------------------------------------------------------------------
# Rhythm
# ------------------------------------------------------------------------------------------------


def pulse_concentration(
    onsets: np.ndarray,
    *,
    frame_rate: float,
    band_hz: tuple[float, float] = (0.5, 10.0),
    top_share: float = 0.1,
) -> float:
    """Share of the onset-strength spectrum's power in its strongest ``top_share`` of bins.

    A steady pulse makes the onset-strength signal periodic: its spectrum within ``band_hz``
    (tempo and its subdivisions, 30 to 600 events per minute) concentrates in a few lines.
    Timing jitter and tempo drift spread the same power over many bins.

    Returns:
        A share in (0, 1], or NaN when the clip is too short to resolve the band.
    """
    centred = onsets - onsets.mean()
    power = np.abs(np.fft.rfft(centred * np.hanning(centred.size))) ** 2
    frequencies = np.fft.rfftfreq(centred.size, d=1.0 / frame_rate)
    band = np.sort(power[(frequencies >= band_hz[0]) & (frequencies < band_hz[1])])[::-1]
    if band.size < 10 or band.sum() <= 0:
        return float("nan")
    strongest = max(1, int(round(top_share * band.size)))
    return float(band[:strongest].sum() / band.sum())


def estimate_beat_period(
    onsets: np.ndarray,
    *,
    frame_rate: float,
    bpm_range: tuple[float, float] = (50.0, 200.0),
    preferred_bpm: float = 120.0,
) -> float:
    """Beat period in frames from the onset-strength autocorrelation.

    Each candidate lag scores its autocorrelation plus half that at twice and at half the lag
    (a metrical comb), weighted by a log-normal preference (1 octave SD) around
    ``preferred_bpm``, a central tempo of Western popular and film music.

    Returns:
        The best lag in frames (float), or NaN when the clip is shorter than two slow beats.
    """
    detrended = onsets - uniform_filter1d(onsets, max(1, int(frame_rate)))
    n = detrended.size
    spectrum = np.fft.rfft(detrended, 2 * n)
    autocorrelation = np.fft.irfft(np.abs(spectrum) ** 2)[:n]
    if autocorrelation[0] <= 0:
        return float("nan")
    autocorrelation /= autocorrelation[0]
    lags = np.arange(int(60 * frame_rate / bpm_range[1]), int(60 * frame_rate / bpm_range[0]))
    lags = lags[(lags > 0) & (2 * lags < n)]
    if lags.size == 0:
        return float("nan")
    grid = np.arange(n)
    comb = (
        autocorrelation[lags]
        + 0.5 * np.interp(2 * lags, grid, autocorrelation)
        + 0.5 * np.interp(lags / 2, grid, autocorrelation)
    )
    bpm = 60 * frame_rate / lags
    score = comb * np.exp(-0.5 * np.log2(bpm / preferred_bpm) ** 2)
    return float(lags[np.argmax(score)])


def track_beats(
    onsets: np.ndarray, *, frame_rate: float, tightness: float = 100.0
) -> np.ndarray:
    """Beat frames by dynamic programming (Ellis 2007) around the estimated beat period.

    Each frame's score is its standardised onset strength plus the best score of a predecessor
    between half and twice the period earlier, minus ``tightness * log(interval / period)**2``;
    backtracking from the best frame of the last period gives the beats.

    Returns:
        int64 ``(n_beats,)`` ascending frame indices; empty when no period could be estimated.
    """
    period = estimate_beat_period(onsets, frame_rate=frame_rate)
    if not np.isfinite(period) or onsets.std() <= 0:
        return np.zeros(0, dtype=np.int64)
    local = (onsets - onsets.mean()) / onsets.std()
    gaps = np.arange(max(1, int(round(period / 2))), int(round(2 * period)) + 1)
    penalty = -tightness * np.log(gaps / period) ** 2
    score = local.copy()
    previous = np.full(onsets.size, -1, dtype=np.int64)
    for t in range(gaps[0], onsets.size):
        candidates = t - gaps
        valid = candidates >= 0
        totals = score[candidates[valid]] + penalty[valid]
        best = int(np.argmax(totals))
        if totals[best] > 0:  # only chain through predecessors that help
            score[t] += totals[best]
            previous[t] = candidates[valid][best]
    tail = np.arange(max(0, onsets.size - int(round(period))), onsets.size)
    beat = int(tail[np.argmax(score[tail])])
    beats = [beat]
    while previous[beat] >= 0:
        beat = int(previous[beat])
        beats.append(beat)
    return np.asarray(beats[::-1], dtype=np.int64)


def offbeat_share(accents: np.ndarray, grid: np.ndarray, *, phase_bins: int = 16) -> float:
    """Share of accent strength away from the grid points (phase 0 +- 1 of ``phase_bins``).

    Accents between consecutive grid frames are folded into one profile of ``phase_bins``
    phases (linear interpolation between frames).

    Args:
        accents: float ``(n_frames,)`` non-negative accent strength.
        grid: ascending frame positions (at least 2) of the metrical level.

    Returns:
        A share in [0, 1], or NaN when there are no accents inside the grid.
    """
    frames = np.arange(accents.size)
    profile = np.zeros(phase_bins)
    for start, end in zip(grid[:-1], grid[1:]):
        profile += np.interp(np.linspace(start, end, phase_bins, endpoint=False), frames, accents)
    total = profile.sum()
    if total <= 0:
        return float("nan")
    return float(1.0 - profile[[phase_bins - 1, 0, 1]].sum() / total)


def syncopation(onsets: np.ndarray, beats: np.ndarray, *, frame_rate: float) -> float:
    """Share of accents between the beats, averaged over two metrical levels.

    Accents are onset strength above its 0.5 s running mean; :func:`offbeat_share` is taken
    against the tracked beats and against every second beat, and the two are averaged, so that
    a tracker locked to twice the felt tempo moves the value half as much. The share grows with
    syncopation and sixteenth-note figures.

    Returns:
        A share in [0, 1], or NaN when fewer than 5 beats were tracked.
    """
    if beats.size < 5:
        return float("nan")
    accents = np.maximum(onsets - uniform_filter1d(onsets, max(1, int(0.5 * frame_rate))), 0.0)
    shares = [offbeat_share(accents, beats), offbeat_share(accents, beats[::2])]
    finite = [share for share in shares if np.isfinite(share)]
    return float(np.mean(finite)) if finite else float("nan")


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


# ------------------------------------------------------------------------------------------------
# Harmony-based measures
# ------------------------------------------------------------------------------------------------


def _chord_frames(h: Harmony) -> np.ndarray:
    """Boolean ``(n_frames,)``: frames that carry a chord label."""
    return np.asarray([label != NO_CHORD for label in h.chords], dtype=bool)


def dissonant_interval_share(h: Harmony) -> float:
    """Mean share of semitone (ic1) and tritone (ic6) interval classes among the pitch classes
    sounding together in each HPCP frame.

    Frames are square-root compressed before :func:`interval_class_profile`, so that soft
    added tones (a minor second on top of a triad) weigh in as the ear hears them.

    Returns:
        A share in [0, 1], or NaN when no frame has pitched content.
    """
    frames = np.sqrt(np.asarray(h.hpcp, dtype=np.float64)[_chord_frames(h)])
    if frames.size == 0:
        return float("nan")
    profiles = interval_class_profile(frames)
    return float(np.mean(profiles[:, 0] + profiles[:, 5]))


def sensory_roughness(
    signal: np.ndarray, *, sample_rate: int, frame_size: int = 2048
) -> float:
    """Mean Essentia Dissonance (Plomp-Levelt roughness of spectral peaks) over frames whose
    energy is at least a quarter of the median frame energy.

    Returns:
        Roughness in [0, 1], or NaN when no frame has two spectral peaks.
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
    """``key_strength``, ``in_scale_share`` and ``key_persistence`` of a clip's harmony.

    ``key_persistence`` is the mean Pearson correlation between the mean HPCP of each
    ``window_s`` window (half-overlapping) and the clip's mean HPCP: a clip that stays in one
    key keeps the same pitch-class distribution throughout, a modulation or a chromatic passage
    does not.

    Returns:
        The three measures; NaN where the clip has no pitched content.
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
    """``minor_third_margin`` and ``minor_chord_share`` of a clip's harmony.

    The bass usually plays the chord root; a minor chord has a minor third (3 semitones) above
    its root, a major chord a major third (4). Per frame the margin is ``(m3 - M3) / (m3 + M3)``
    of the HPCP above the strongest bass pitch class; frames without bass are skipped.

    Returns:
        Both measures; NaN where there is nothing to measure.
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
    "diatonic_fit",
    "dissonant_interval_share",
    "envelope_dip",
    "estimate_beat_period",
    "estimate_midlevel",
    "melody_measures",
    "melody_notes",
    "mode_measures",
    "Spectrogram",
    "mel_flux",
    "offbeat_share",
    "spectral_flux",
    "predominant_melody",
    "pulse_concentration",
    "raw_measures",
    "scale_mask",
    "sensory_roughness",
    "squash_measures",
    "syncopation",
    "tonal_measures",
    "track_beats",
]
