"""What the synthesizer's modules share: latent factors, random streams, wavetables, song themes.

Latent factors and how they sound
---------------------------------
A clip is rendered from latent factors (:func:`complete_factors` validates them and fills in
defaults). The ground-truth mid-level descriptor of a clip equals its factor (each in [0, 1]):

``minorness``
    share of minor triads among the bar chords (all diatonic to the mode); the mode is minor when
    the song's minorness exceeds 0.5 and the melody uses that mode's scale.
``articulation``
    note length relative to the inter-onset interval, ``1 - 0.85 * articulation`` (legato with
    slow attacks at 0, staccato 0.15x IOI with sharp attacks at 1), for melody, bass and chords.
``rhythm_stability``
    steadiness of time: onset jitter SD ``60 ms * (1 - rhythm_stability)`` per player plus a slow
    tempo drift (rubato, up to about +-15 % local tempo); 1 is a quantised grid.
``rhythm_complexity``
    variety and syncopation of the onset patterns of melody, bass, chord comping and drums
    (from notes on the beats at 0 to 16ths, off-beats, dotted and syncopated cells at 1).
``dissonance``
    dissonant tones added to chords (minor seconds, major seconds/clusters, tritones, major
    sevenths, minor ninths), inharmonic bell-like partials (ratios 2.76, 5.40 and 8.93 on chord
    roots, 2.76 on the melody), and detuned copies of the triad tones (up to 30 cents) that beat.
``tonal_stability``
    staying in key versus chromatic out-of-key chord roots, chromatic melody notes and (below
    0.5, with rising probability) a modulation to a distant key half-way through the clip.
``melodiousness``
    stepwise, arch-shaped phrases in a comfortable range (strong beats on chord tones) versus
    random wide leaps over about three octaves.

Non-descriptor factors: ``tempo_bpm`` (song-level, 60 to 160), ``key_root`` (0 to 11, the key at
the start of the clip), ``mode`` (0 major, 1 minor) and ``percussion`` (0 to 1: drum loudness and
steadiness; below :data:`engine.synth.score.NO_DRUMS_BELOW` the drum stem is silent).

Streams of randomness
---------------------
Everything derives deterministically from integer seeds: each song, clip and musical aspect
draws from its own ``numpy.random.Generator`` (:func:`_rng`) seeded with a tuple of integers, so
the same seed gives bit-identical audio on any call, in any order, and changing one factor of
:func:`engine.synth.render.render_factors` leaves the random choices of unrelated aspects
untouched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from engine.vocabulary import MIDLEVEL

# ------------------------------------------------------------------------------------------------
# Random streams
# ------------------------------------------------------------------------------------------------

# Namespaces and aspects keep every random stream apart; the key length is part of the seed so
# that keys of different lengths never collide.
_NS_CORPUS, _NS_THEME, _NS_CLIP = 101, 202, 303
_SONG_FACTORS, _CLIP_FACTORS, _PERCUSSION, _SPLIT = 1, 2, 3, 4
_HARMONY, _MELODY, _RHYTHM, _TIMING, _DRUMS = 1, 2, 3, 4, 5

Streams = Mapping[int, np.random.Generator]
"""One generator per musical aspect of a clip (``_HARMONY``, ``_MELODY``, ...)."""


def _rng(namespace: int, key: Sequence[int], aspect: int) -> np.random.Generator:
    return np.random.default_rng([namespace, len(key), *key, aspect])


def _seed_key(seed: int | Sequence[int]) -> tuple[int, ...]:
    key = (int(seed),) if isinstance(seed, (int, np.integer)) else tuple(int(s) for s in seed)
    if not key or min(key) < 0:
        raise ValueError(f"seed must be a non-negative integer or a tuple of them, got {seed!r}")
    return key


# ------------------------------------------------------------------------------------------------
# Wavetables
# ------------------------------------------------------------------------------------------------

_TABLE_SIZE = 4096
_TABLE_MASK = _TABLE_SIZE - 1


def _wavetable(harmonic_amplitudes: Sequence[float]) -> np.ndarray:
    """One period of a sum of sine harmonics, float32 shape ``(_TABLE_SIZE,)``, peak 1."""
    amplitudes = np.asarray(harmonic_amplitudes, dtype=np.float64)
    spectrum = np.zeros(_TABLE_SIZE // 2 + 1, dtype=np.complex128)
    spectrum[1 : amplitudes.size + 1] = -1j * amplitudes * (_TABLE_SIZE / 2)
    table = np.fft.irfft(spectrum, n=_TABLE_SIZE)
    table = (table / np.abs(table).max()).astype(np.float32)
    table.setflags(write=False)
    return table


# ------------------------------------------------------------------------------------------------
# Song themes: timbres, motif, progression, drum tuning
# ------------------------------------------------------------------------------------------------

_MELODY_TIMBRES: tuple[tuple[float, ...], ...] = (
    (1.0, 0.35, 0.12, 0.06, 0.03),  # flute-like
    (1.0, 0.05, 0.55, 0.04, 0.30, 0.03, 0.15, 0.02, 0.06),  # clarinet-like, odd harmonics
    (1.0, 0.70, 0.45, 0.30, 0.12, 0.10, 0.06, 0.04),  # voice/oboe-like
)
_CHORD_TIMBRES: tuple[tuple[float, ...], ...] = (
    (1.0, 0.60, 0.45, 0.20, 0.10, 0.25, 0.02, 0.10),  # organ drawbars
    tuple(0.9**k / k for k in range(1, 15)),  # string-like filtered sawtooth
    (1.0, 0.25, 0.10, 0.05),  # soft pad
)
_BASS_TIMBRES: tuple[tuple[float, ...], ...] = (
    (1.0, 0.45, 0.15, 0.06),  # round
    (1.0, 0.60, 0.45, 0.30, 0.20, 0.12, 0.08),  # plucked, brighter
)


@dataclass(frozen=True)
class _Theme:
    """What the clips of one song share besides key, mode and tempo."""

    melody_table: np.ndarray
    chord_table: np.ndarray
    bass_table: np.ndarray
    vibrato_hz: float
    vibrato_cents: float
    arch_degrees: float  # height of the phrase arch, in scale degrees
    motif: np.ndarray  # (16,) int scale-degree offsets of the theme, a bounded random walk
    leaps: np.ndarray  # (32,) float scale degrees of the unmelodious alternative
    answer_shift: int  # transposition (degrees) of every second phrase
    progression: np.ndarray  # (4,) uniforms choosing the chord of each bar of a 4-bar loop
    minor_priority: np.ndarray  # (64,) uniforms: which bars turn minor first
    kick_hz: tuple[float, float]  # start and end of the kick's pitch sweep
    snare_hz: float
    hat_decay_s: float


def _perturbed_timbre(rng: np.random.Generator, presets: Sequence[Sequence[float]]) -> np.ndarray:
    preset = np.asarray(presets[rng.integers(len(presets))])
    return _wavetable(preset * rng.uniform(0.8, 1.2, size=preset.size))


def _draw_theme(rng: np.random.Generator) -> _Theme:
    return _Theme(
        melody_table=_perturbed_timbre(rng, _MELODY_TIMBRES),
        chord_table=_perturbed_timbre(rng, _CHORD_TIMBRES),
        bass_table=_perturbed_timbre(rng, _BASS_TIMBRES),
        vibrato_hz=float(rng.uniform(4.8, 6.2)),
        vibrato_cents=float(rng.uniform(10.0, 25.0)),
        arch_degrees=float(rng.uniform(3.0, 5.0)),
        motif=np.clip(np.cumsum(rng.integers(-1, 2, size=16)), -2, 2),
        leaps=rng.uniform(-10.0, 10.0, size=32),
        answer_shift=int(rng.choice((-1, 1, 2))),
        progression=rng.random(4),
        minor_priority=rng.random(64),
        kick_hz=(float(rng.uniform(110.0, 170.0)), float(rng.uniform(42.0, 58.0))),
        snare_hz=float(rng.uniform(160.0, 240.0)),
        hat_decay_s=float(rng.uniform(0.012, 0.03)),
    )


# ------------------------------------------------------------------------------------------------
# Factors of one clip
# ------------------------------------------------------------------------------------------------

_FACTOR_DEFAULTS: Mapping[str, float] = {
    **{name: 0.5 for name in MIDLEVEL},
    "tempo_bpm": 110.0,
    "key_root": 0,
    "percussion": 0.5,
}


def complete_factors(factors: Mapping[str, float]) -> dict[str, float]:
    """Validate latent factors and fill in defaults (descriptors and percussion 0.5, 110 BPM, C).

    Parameters
    ----------
    factors : Mapping[str, float]
        Any of the ``MIDLEVEL`` descriptors (in [0, 1]), ``tempo_bpm`` (20 to 300 BPM),
        ``key_root`` (integer 0 to 11, 0 = C), ``mode`` (0 major, 1 minor; default from
        ``minorness > 0.5``) and ``percussion`` (in [0, 1]).

    Returns
    -------
    dict of str to float
        All of those keys, as floats.

    Raises
    ------
    ValueError
        An unknown key or a value out of range.

    Examples
    --------
    >>> full = complete_factors({"minorness": 0.8, "tempo_bpm": 90})
    >>> full["mode"], full["tempo_bpm"], full["key_root"], full["dissonance"]
    (1.0, 90.0, 0.0, 0.5)
    >>> len(full)
    11
    >>> complete_factors({"loudness": 1.0})
    Traceback (most recent call last):
    ...
    ValueError: unknown factors: ['loudness']
    """
    unknown = set(factors) - set(_FACTOR_DEFAULTS) - {"mode"}
    if unknown:
        raise ValueError(f"unknown factors: {sorted(unknown)}")
    full = {name: float(factors.get(name, default)) for name, default in _FACTOR_DEFAULTS.items()}
    for name in (*MIDLEVEL, "percussion"):
        if not 0.0 <= full[name] <= 1.0:
            raise ValueError(f"{name} must lie in [0, 1], got {full[name]}")
    if not 20.0 <= full["tempo_bpm"] <= 300.0:
        raise ValueError(f"tempo_bpm must lie in [20, 300], got {full['tempo_bpm']}")
    if full["key_root"] not in range(12):
        raise ValueError(f"key_root must be an integer 0..11, got {full['key_root']}")
    full["mode"] = float(factors.get("mode", 1.0 if full["minorness"] > 0.5 else 0.0))
    if full["mode"] not in (0.0, 1.0):
        raise ValueError(f"mode must be 0 (major) or 1 (minor), got {full['mode']}")
    return full


__all__ = ["Streams", "complete_factors"]
