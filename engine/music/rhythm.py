"""Articulation and rhythm measures, read from the spectrogram and its onset strength.

- :func:`envelope_dip`: how far the loudness envelope falls between notes (articulation).
- :func:`pulse_concentration`: how periodic the onsets are (rhythm stability).
- :func:`estimate_beat_period` and :func:`track_beats`: the beat period from the onset-strength
  autocorrelation, and the beats by dynamic programming (Ellis 2007).
- :func:`offbeat_share` and :func:`syncopation`: the share of accents between the beats (rhythm
  complexity).

Their inputs come from :mod:`engine.music.spectral`; what each measure stands for in the
mid-level estimates, with its squashing constants, is in :mod:`engine.music.descriptors`.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import maximum_filter1d, uniform_filter1d

from engine.music.spectral import Spectrogram

_ENVELOPE_FLOOR_DB = 60.0  # the loudness envelope is floored this far below its maximum


# ------------------------------------------------------------------------------------------------
# Articulation
# ------------------------------------------------------------------------------------------------


def envelope_dip(spectrogram: Spectrogram, *, reach_s: float = 0.1) -> float:
    """Measure the mean depth of the loudness envelope below its maximum within ``reach_s`` seconds.

    Staccato notes stop well before the next onset, so the envelope drops between notes; legato
    notes overlap and keep it near its local peak. The envelope is the energy of each STFT frame
    in dB, floored 60 dB below its maximum so that digital silence does not count as an infinite
    dip.

    Parameters
    ----------
    spectrogram : Spectrogram
        Magnitude STFT of the clip.
    reach_s : float, default 0.1
        Half-width in seconds of the running maximum (+-100 ms).

    Returns
    -------
    float
        Mean dip in dB, in [0, 60].

    Examples
    --------
    >>> import numpy as np
    >>> from engine.music.spectral import normalised
    >>> clicks = np.zeros(22_050)
    >>> clicks[::5512] = 1.0
    >>> tone = np.sin(2 * np.pi * 440.0 * np.arange(22_050) / 22_050)
    >>> staccato = envelope_dip(Spectrogram.of(normalised(clicks), sample_rate=22_050))
    >>> legato = envelope_dip(Spectrogram.of(normalised(tone), sample_rate=22_050))
    >>> bool(staccato > 10.0), bool(legato < 1.0)
    (True, True)
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
    """Measure the share of the onset-strength spectrum's power in its strongest ``top_share`` of bins.

    A steady pulse makes the onset-strength signal periodic: its spectrum within ``band_hz``
    (tempo and its subdivisions, 30 to 600 events per minute) concentrates in a few lines.
    Timing jitter and tempo drift spread the same power over many bins.

    Parameters
    ----------
    onsets : numpy.ndarray
        Onset strength per frame, shape ``(n_frames,)``.
    frame_rate : float
        Frames per second of ``onsets`` (Hz).
    band_hz : tuple of float, default (0.5, 10.0)
        Lower (inclusive) and upper (exclusive) edge in Hz of the modulation band.
    top_share : float, default 0.1
        Share of the band's bins counted as the strongest.

    Returns
    -------
    float
        A share in (0, 1], or NaN when the clip is too short to resolve the band (fewer than 10
        bins in it) or the onset strength is constant.

    Examples
    --------
    >>> import numpy as np
    >>> steady = np.zeros(400)
    >>> steady[::40] = 1.0  # one onset every 0.5 s at 80 frames per second
    >>> round(pulse_concentration(steady, frame_rate=80.0), 2)
    0.68
    >>> round(pulse_concentration(np.random.default_rng(0).random(400), frame_rate=80.0), 2)
    0.31
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
    """Estimate the beat period in frames from the onset-strength autocorrelation.

    Each candidate lag scores its autocorrelation plus half that at twice and at half the lag
    (a metrical comb), weighted by a log-normal preference (1 octave SD) around
    ``preferred_bpm``, a central tempo of Western popular and film music.

    Parameters
    ----------
    onsets : numpy.ndarray
        Onset strength per frame, shape ``(n_frames,)``.
    frame_rate : float
        Frames per second of ``onsets`` (Hz).
    bpm_range : tuple of float, default (50.0, 200.0)
        Slowest and fastest tempo considered, in beats per minute.
    preferred_bpm : float, default 120.0
        Centre of the tempo preference, in beats per minute.

    Returns
    -------
    float
        The best lag in frames, or NaN when the clip is shorter than two slow beats or the
        detrended onset strength is zero.

    Examples
    --------
    >>> import numpy as np
    >>> onsets = np.zeros(400)
    >>> onsets[::40] = 1.0  # 120 BPM at 80 frames per second
    >>> estimate_beat_period(onsets, frame_rate=80.0)
    40.0
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
    """Track the beat frames by dynamic programming (Ellis 2007) around the estimated beat period.

    The period comes from :func:`estimate_beat_period`. Each frame's score is its standardised
    onset strength plus the best score of a predecessor between half and twice the period
    earlier, minus ``tightness * log(interval / period)**2``; backtracking from the best frame of
    the last period gives the beats.

    Parameters
    ----------
    onsets : numpy.ndarray
        Onset strength per frame, shape ``(n_frames,)``.
    frame_rate : float
        Frames per second of ``onsets`` (Hz).
    tightness : float, default 100.0
        Weight of the penalty on beat intervals that differ from the period.

    Returns
    -------
    numpy.ndarray
        int64 ``(n_beats,)`` ascending frame indices; empty when no period could be estimated
        or the onset strength is constant.

    Examples
    --------
    >>> import numpy as np
    >>> onsets = np.zeros(400)
    >>> onsets[::40] = 1.0
    >>> track_beats(onsets, frame_rate=80.0)
    array([  0,  40,  80, 120, 160, 200, 240, 280, 320, 360])
    >>> track_beats(np.zeros(400), frame_rate=80.0).size
    0
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
    """Measure the share of accent strength away from the grid points (phase 0 +- 1 of ``phase_bins``).

    Accents between consecutive grid frames are folded into one profile of ``phase_bins``
    phases (linear interpolation between frames).

    Parameters
    ----------
    accents : numpy.ndarray
        Non-negative accent strength per frame, float ``(n_frames,)``.
    grid : numpy.ndarray
        Ascending frame positions (at least 2) of the metrical level, shape ``(n_points,)``.
    phase_bins : int, default 16
        Number of phases between two grid points.

    Returns
    -------
    float
        A share in [0, 1], or NaN when there are no accents inside the grid.

    Examples
    --------
    >>> import numpy as np
    >>> grid = np.arange(0, 100, 10)
    >>> on_grid, between = np.zeros(100), np.zeros(100)
    >>> on_grid[::10] = 1.0
    >>> between[5::10] = 1.0
    >>> offbeat_share(on_grid, grid), offbeat_share(between, grid)
    (0.0, 1.0)
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
    """Measure the share of accents between the beats, averaged over two metrical levels.

    Accents are onset strength above its 0.5 s running mean; :func:`offbeat_share` is taken
    against the tracked beats and against every second beat, and the two are averaged, so that
    a tracker locked to twice the felt tempo moves the value half as much. The share grows with
    syncopation and sixteenth-note figures.

    Parameters
    ----------
    onsets : numpy.ndarray
        Onset strength per frame, shape ``(n_frames,)``.
    beats : numpy.ndarray
        Ascending beat frames, shape ``(n_beats,)``, e.g. from :func:`track_beats`.
    frame_rate : float
        Frames per second of ``onsets`` (Hz).

    Returns
    -------
    float
        A share in [0, 1], or NaN when fewer than 5 beats were tracked.

    Examples
    --------
    Accents only on the beats are off the two-beat level half the time; accents only between
    the beats are always off the grid:

    >>> import numpy as np
    >>> beats = np.arange(0, 400, 40)
    >>> on_beat, off_beat = np.zeros(400), np.zeros(400)
    >>> on_beat[::40] = 1.0
    >>> off_beat[20::40] = 1.0
    >>> round(syncopation(on_beat, beats, frame_rate=80.0), 2), syncopation(off_beat, beats, frame_rate=80.0)
    (0.25, 1.0)
    >>> syncopation(on_beat, beats[:4], frame_rate=80.0)
    nan
    """
    if beats.size < 5:
        return float("nan")
    accents = np.maximum(onsets - uniform_filter1d(onsets, max(1, int(0.5 * frame_rate))), 0.0)
    shares = [offbeat_share(accents, beats), offbeat_share(accents, beats[::2])]
    finite = [share for share in shares if np.isfinite(share)]
    return float(np.mean(finite)) if finite else float("nan")


__all__ = [
    "envelope_dip",
    "estimate_beat_period",
    "offbeat_share",
    "pulse_concentration",
    "syncopation",
    "track_beats",
]
