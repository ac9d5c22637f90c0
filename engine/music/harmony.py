"""Harmony of a clip with Essentia: HPCP frames, chord labels and the key.

The pipeline follows the thesis (Section 4.4): spectral peaks of overlapping frames feed Essentia's
HPCP (harmonic pitch class profile); ``ChordsDetection`` labels every HPCP frame with the best
major or minor triad over a short window; ``Key`` correlates the clip's mean HPCP with key
profiles. :func:`analyse_harmony` runs it and returns a :class:`Harmony`.

The feature sets built on a :class:`Harmony` are in :mod:`engine.music.harmony_features`.

Pitch classes are indexed from C everywhere in this module's outputs (0 = C, ..., 11 = B) and
chords are spelt with sharps ("A#m", never "Bbm"). Essentia's HPCP, ``Key`` and
``ChordsDetection`` index from A instead; the conversion happens once, in :func:`analyse_harmony`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from engine.audio.chroma import PITCH_CLASSES
from engine.music.essentia_quiet import essentia_standard
from engine.vocabulary import SAMPLE_RATE

NO_CHORD = "N"
"""Chord label of frames without pitched content (silence); it never counts as a chord."""

_FLAT_TO_SHARP = {"Db": "C#", "Eb": "D#", "Gb": "F#", "Ab": "G#", "Bb": "A#"}
_A_TO_C_SHIFT = 3  # C lies 3 semitones above A: Essentia's bin 3 is our bin 0
_A3_HZ = 440.0
_SILENT_FRAME_ENERGY = 1e-10  # HPCP sums below this (before normalising) mean "no pitch"

BASS_MAX_HZ = 200.0
"""Upper edge (Hz) of the bass register of :attr:`Harmony.bass_hpcp` (about G3)."""


@dataclass(frozen=True, eq=False)  # eq=False: comparing array fields with == is ambiguous
class Harmony:
    """Chords and key of one clip (arrays are read-only).

    Built by :func:`analyse_harmony`.

    Attributes
    ----------
    chords : tuple of str
        One label per HPCP frame, sharp spelling ("C", "A#m", ...), or ``NO_CHORD`` for frames
        without pitched content.
    chord_strengths : numpy.ndarray
        float32 ``(n_frames,)``, ``ChordsDetection``'s correlation of each frame's windowed HPCP
        with its triad template (0 for ``NO_CHORD`` frames).
    key_root : int
        Pitch class of the key's tonic, 0 = C ... 11 = B.
    key_mode : str
        ``"major"`` or ``"minor"``.
    key_strength : float
        ``Key``'s correlation of the mean HPCP with the key profile (0 for silence).
    hpcp_mean : numpy.ndarray
        float32 ``(12,)``, mean HPCP over pitched frames scaled to a maximum of 1 (all zeros for
        silence); index 0 is C.
    hpcp : numpy.ndarray
        float32 ``(n_frames, 12)``, per-frame HPCP, each frame scaled to a maximum of 1 (zeros for
        frames without spectral peaks); column 0 is C.
    bass_hpcp : numpy.ndarray
        float32 ``(n_frames, 12)``, per-frame pitch-class energy (squared peak magnitude) of the
        bass register only: spectral peaks from ``min_frequency`` to ``BASS_MAX_HZ``, each
        credited to its nearest semitone, no harmonics, unnormalised; column 0 is C. Its largest
        bin is usually the chord root.
    hop_seconds : float
        Time between consecutive frames in seconds.

    Examples
    --------
    >>> import numpy as np
    >>> h = analyse_harmony(np.sin(2 * np.pi * 261.63 * np.arange(SAMPLE_RATE) / SAMPLE_RATE))
    >>> h.hpcp.shape, h.bass_hpcp.shape, round(h.hop_seconds, 4)
    ((10, 12), (10, 12), 0.0929)
    >>> h.hpcp.flags.writeable
    False
    """

    chords: tuple[str, ...]
    chord_strengths: np.ndarray
    key_root: int
    key_mode: str
    key_strength: float
    hpcp_mean: np.ndarray
    hpcp: np.ndarray
    bass_hpcp: np.ndarray
    hop_seconds: float


# ------------------------------------------------------------------------------------------------
# Chord labels
# ------------------------------------------------------------------------------------------------


def sharp_spelling(label: str) -> str:
    """Respell a chord label's flat root with a sharp: ``"Bbm"`` -> ``"A#m"``, ``"Eb"`` -> ``"D#"``.

    Parameters
    ----------
    label : str
        Chord label, e.g. ``"Bbm"``.

    Returns
    -------
    str
        The label with a sharp root; labels without a flat root are returned unchanged.

    Examples
    --------
    >>> sharp_spelling("Bbm"), sharp_spelling("Eb"), sharp_spelling("C#m"), sharp_spelling(NO_CHORD)
    ('A#m', 'D#', 'C#m', 'N')
    """
    for flat, sharp in _FLAT_TO_SHARP.items():
        if label.startswith(flat):
            return sharp + label[len(flat) :]
    return label


def parse_chord(label: str) -> tuple[int, bool] | None:
    """Parse a triad label such as ``"A#m"`` into its root pitch class and quality.

    Flat spellings are accepted (``"Bbm"`` is ``"A#m"``).

    Parameters
    ----------
    label : str
        Chord label.

    Returns
    -------
    tuple of (int, bool) or None
        Root pitch class (0 = C ... 11 = B) and whether the triad is minor; ``None`` for
        ``NO_CHORD`` or any label that is not a plain major or minor triad.

    Examples
    --------
    >>> parse_chord("A#m"), parse_chord("Eb"), parse_chord(NO_CHORD), parse_chord("G7")
    ((10, True), (3, False), None, None)
    """
    label = sharp_spelling(label)
    minor = label.endswith("m")
    root = label[:-1] if minor else label
    if root not in PITCH_CLASSES:
        return None
    return PITCH_CLASSES.index(root), minor


def chord_shares(h: Harmony) -> dict[str, float]:
    """Compute the share of chord-bearing frames labelled with each chord.

    Parameters
    ----------
    h : Harmony
        The clip's harmony, from :func:`analyse_harmony`.

    Returns
    -------
    dict of str to float
        Share of the chord-bearing frames (``NO_CHORD`` excluded) per chord label, largest first
        (shares sum to 1); empty when no frame has a chord.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(SAMPLE_RATE) / SAMPLE_RATE  # 1 s per chord
    >>> c_major = sum(np.sin(2 * np.pi * f * t) for f in (261.63, 329.63, 392.0))
    >>> a_minor = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 261.63, 329.63))
    >>> h = analyse_harmony(np.concatenate([c_major, a_minor]))
    >>> {label: round(share, 2) for label, share in chord_shares(h).items()}
    {'Am': 0.52, 'C': 0.48}
    """
    counts = Counter(label for label in h.chords if parse_chord(label) is not None)
    total = sum(counts.values())
    return {label: count / total for label, count in counts.most_common()}


# ------------------------------------------------------------------------------------------------
# Analysis
# ------------------------------------------------------------------------------------------------


def _frame_hpcps(
    y: np.ndarray,
    *,
    sample_rate: int,
    frame_size: int,
    min_frequency: float,
    max_frequency: float,
    harmonics: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Compute the HPCP of each frame and of its bass register, in Essentia's A-first order.

    Returns
    -------
    hpcp : numpy.ndarray
        float32 ``(n_frames, 12)`` HPCPs scaled to a maximum of 1 per frame (zeros where the
        frame has no spectral peaks).
    energy : numpy.ndarray
        float64 ``(n_frames,)`` sums of the raw HPCPs.
    bass : numpy.ndarray
        float32 ``(n_frames, 12)`` bass-register pitch-class energies.
    """
    es = essentia_standard()
    window = es.Windowing(type="blackmanharris62", size=frame_size)
    spectrum = es.Spectrum(size=frame_size)
    peaks = es.SpectralPeaks(
        orderBy="magnitude",
        magnitudeThreshold=1e-5,
        minFrequency=min_frequency,
        maxFrequency=max_frequency,
        maxPeaks=60,
        sampleRate=sample_rate,
    )
    hpcp = es.HPCP(
        size=12,
        referenceFrequency=_A3_HZ,
        harmonics=harmonics,
        bandPreset=True,
        minFrequency=min_frequency,
        maxFrequency=max_frequency,
        weightType="cosine",
        nonLinear=False,
        normalized="none",
        sampleRate=sample_rate,
    )
    frames = es.FrameGenerator(y, frameSize=frame_size, hopSize=frame_size // 2, startFromZero=True)
    raw, raw_bass = [], []
    for frame in frames:
        frequencies, magnitudes = peaks(spectrum(window(frame)))
        raw.append(hpcp(frequencies, magnitudes))
        raw_bass.append(_bass_pitch_classes(frequencies, magnitudes, min_frequency=min_frequency))
    full = np.asarray(raw, dtype=np.float64).reshape(-1, 12)
    energy = full.sum(axis=1)
    peak = full.max(axis=1, keepdims=True)
    scaled = np.divide(full, peak, out=np.zeros_like(full), where=peak > 0)
    return scaled.astype(np.float32), energy, np.asarray(raw_bass, dtype=np.float32).reshape(-1, 12)


def _bass_pitch_classes(
    frequencies: np.ndarray, magnitudes: np.ndarray, *, min_frequency: float
) -> np.ndarray:
    """Compute the energy per pitch class (A first, like Essentia's HPCP) of the bass peaks.

    Spectral peaks between ``min_frequency`` and ``BASS_MAX_HZ`` count, each credited to its
    nearest semitone.

    Returns
    -------
    numpy.ndarray
        float64 ``(12,)``.
    """
    frequencies = np.asarray(frequencies, dtype=np.float64)
    in_bass = (frequencies >= min_frequency) & (frequencies < BASS_MAX_HZ)
    semitones = np.round(12.0 * np.log2(frequencies[in_bass] / _A3_HZ)).astype(np.int64)
    energy = np.square(np.asarray(magnitudes, dtype=np.float64)[in_bass])
    return np.bincount(semitones % 12, weights=energy, minlength=12)


def _a_first_to_c_first(profile: np.ndarray) -> np.ndarray:
    """Reorder pitch classes along the last axis from A, A#, ... to C, C#, ..."""
    return np.roll(profile, -_A_TO_C_SHIFT, axis=-1)


def analyse_harmony(
    y: np.ndarray,
    *,
    sample_rate: int = SAMPLE_RATE,
    frame_size: int = 4096,
    chord_window_s: float = 1.0,
    min_frequency: float = 40.0,
    max_frequency: float = 5000.0,
    harmonics: int = 4,
    key_profile: str = "bgate",
) -> Harmony:
    """Analyse the HPCP frames, chord labels and key of a mono waveform.

    NaN and infinite samples are replaced by 0. Frames whose HPCP carries no energy get the
    label ``NO_CHORD``; a clip without pitched content gets key C major with strength 0.

    Parameters
    ----------
    y : numpy.ndarray
        Mono waveform, shape ``(n_samples,)``, any float dtype; inputs shorter than one frame
        are zero-padded.
    sample_rate : int, default SAMPLE_RATE
        Sample rate of ``y`` in Hz (22,050).
    frame_size : int, default 4096
        Analysis frame in samples (4096 = 186 ms at 22,050 Hz, 5.4 Hz per bin, so that
        interpolated peaks resolve semitones above about 100 Hz); the hop is half of it, as
        ``ChordsDetection`` requires.
    chord_window_s : float, default 1.0
        Length in seconds of the window of HPCP frames over which ``ChordsDetection`` picks each
        frame's triad; 1 s (Essentia's default is 2 s) still follows one chord per bar at
        160 BPM, longer windows are steadier.
    min_frequency : float, default 40.0
        Lowest spectral peak in Hz that contributes to the HPCP.
    max_frequency : float, default 5000.0
        Highest spectral peak in Hz that contributes to the HPCP.
    harmonics : int, default 4
        Harmonics per peak that HPCP credits to lower pitch classes (0: none).
    key_profile : str, default "bgate"
        Essentia ``Key`` profile type ("bgate", "edma", "krumhansl", ...).

    Returns
    -------
    Harmony
        The clip's harmony: one frame every ``frame_size // 2`` samples from the start (as
        Essentia's ``FrameGenerator`` cuts them), pitch classes C first.

    Examples
    --------
    One second of a C major triad, then one of A minor:

    >>> import numpy as np
    >>> t = np.arange(SAMPLE_RATE) / SAMPLE_RATE  # 1 s per chord
    >>> c_major = sum(np.sin(2 * np.pi * f * t) for f in (261.63, 329.63, 392.0))
    >>> a_minor = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 261.63, 329.63))
    >>> h = analyse_harmony(np.concatenate([c_major, a_minor]))
    >>> h.chords[0], h.chords[-1], h.key_root, h.key_mode
    ('C', 'Am', 0, 'major')
    >>> h.hpcp.shape, h.hpcp_mean.shape
    ((21, 12), (12,))
    """
    es = essentia_standard()
    signal = np.asarray(y, dtype=np.float32).ravel()
    signal = np.nan_to_num(signal, nan=0.0, posinf=0.0, neginf=0.0)
    if signal.size < frame_size:
        signal = np.pad(signal, (0, frame_size - signal.size))
    hpcp_a, energy, bass_a = _frame_hpcps(
        np.ascontiguousarray(signal),
        sample_rate=sample_rate,
        frame_size=frame_size,
        min_frequency=min_frequency,
        max_frequency=max_frequency,
        harmonics=harmonics,
    )
    pitched = energy > _SILENT_FRAME_ENERGY
    hop = frame_size // 2

    detect = es.ChordsDetection(hopSize=hop, sampleRate=sample_rate, windowSize=chord_window_s)
    labels, strengths = detect(hpcp_a)
    chords = tuple(sharp_spelling(label) if on else NO_CHORD for label, on in zip(labels, pitched))
    chord_strengths = np.where(pitched, np.nan_to_num(np.asarray(strengths)), 0.0)

    mean_a = hpcp_a[pitched].mean(axis=0) if pitched.any() else np.zeros(12)
    key_root, key_mode, key_strength = 0, "major", 0.0
    if mean_a.max() > 0:
        mean_a = mean_a / mean_a.max()
        # The HPCP already folds harmonics in, so the key profiles must not add them again
        # (usePolyphony=True pulls C-major material towards F major).
        find_key = es.Key(profileType=key_profile, usePolyphony=False)
        key, scale, strength, _ = find_key(mean_a.astype(np.float32))
        key_root, key_mode, key_strength = parse_chord(key)[0], scale, float(strength)

    return Harmony(
        chords=chords,
        chord_strengths=_read_only(chord_strengths),
        key_root=key_root,
        key_mode=key_mode,
        key_strength=key_strength,
        hpcp_mean=_read_only(_a_first_to_c_first(mean_a)),
        hpcp=_read_only(_a_first_to_c_first(hpcp_a)),
        bass_hpcp=_read_only(_a_first_to_c_first(bass_a)),
        hop_seconds=hop / sample_rate,
    )


def _read_only(array: np.ndarray) -> np.ndarray:
    out = np.array(array, dtype=np.float32)
    out.setflags(write=False)
    return out


__all__ = [
    "NO_CHORD",
    "Harmony",
    "analyse_harmony",
    "chord_shares",
    "parse_chord",
    "sharp_spelling",
]
