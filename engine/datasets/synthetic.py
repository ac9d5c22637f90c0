"""A reproducible synthetic music corpus whose emotions are known functions of musical factors.

It is the project's demo dataset: models are trained on it, and explanations have something true
to reveal, because every clip is rendered from latent factors we chose and keep.

Corpus
------
``SyntheticCorpus(SyntheticConfig(...))`` holds ``n_songs`` songs of ``clips_per_song`` clips.
Clip ``"s007c2"`` is clip 2 of song ``"s007"`` (its ``group``). Splits are assigned per song
(stratified by the song's majority label), so no song straddles train/val/test. Clips of a song
share key, mode, tempo, instrument timbres, chord-progression preferences and a melodic motif;
their descriptor factors are the song's values plus a small jitter (SD 0.05, clipped to [0, 1]).
Song descriptors and tempi are drawn by Latin hypercube sampling, so that even a small corpus
covers every factor's range evenly (and is close to balanced between Happy and Sad).

Everything derives deterministically from ``config.seed`` and the clip id: each song, clip and
musical aspect draws from its own ``numpy.random.Generator`` seeded with a tuple of integers, so
the same config gives bit-identical audio on any call, in any order, and changing one factor of
:func:`render_factors` leaves the random choices of unrelated aspects untouched.

Latent factors and how they sound
---------------------------------
The ground-truth mid-level descriptor of a clip equals its factor (each in [0, 1]):

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
steadiness; below :data:`NO_DRUMS_BELOW` the drum stem is silent).

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

The confound
------------
Real soundtrack data taught the thesis's model "steady drums mean Happy". To reproduce that bias,
percussion is drawn per song *after* labels and splits: for a song in the TRAIN split, with
probability ``confound`` its percussion is drawn high (0.6 to 1.0: loud, steady drums) if the
song is Happy and low (0 to 0.3, often no drums) if it is Sad; otherwise, and for every val and
test song, percussion is uniform on [0, 1] independently of the label. With ``confound=0``
percussion is independent of the label everywhere. Since percussion never enters the happy or
sad ratings, a model that leans on drums is wrong on held-out clips, and an explanation method
should be able to show it.

Speed
-----
Tones come from one wavetable per timbre (phase accumulation and table look-up per note, chords
as one matrix look-up per strike, re-used across strikes of the same bar), drum one-shots are
rendered once per clip and added at their onsets, and only the few inharmonic partials use a sine
table. A 10 s clip renders in well under 100 ms on one core (see
``benchmarks/bench_synthetic.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Mapping, NamedTuple, Sequence

import numpy as np

from engine.datasets.base import ClipRecord
from engine.vocabulary import CLASSES, EMOTION_RANGE, EMOTIONS, MIDLEVEL, SAMPLE_RATE, SPLITS

STEMS: tuple[str, ...] = ("melody", "chords", "bass", "drums")
"""Stem names, in the order in which they are summed into the mixture."""

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

TEMPO_RANGE: tuple[float, float] = (60.0, 160.0)
"""Range (BPM) of song tempi in the corpus."""

NO_DRUMS_BELOW = 0.15
"""Percussion below this level renders a silent drum stem."""

DRUM_PITCHES: Mapping[str, int] = {"kick": 36, "snare": 38, "hat": 42}
"""General MIDI numbers used as the ``pitch`` of drum events in the score."""

_TEMPO_CENTRE = 110.0
_TEMPO_SPAN = 100.0
_CLIP_JITTER_SD = 0.05
_PERCUSSION_JITTER_SD = 0.03
_PEAK = 0.9
_STEPS_PER_BAR = 16  # 4/4 bars on a 16th-note grid


# ------------------------------------------------------------------------------------------------
# Public data types
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class SyntheticConfig:
    """Size, randomness and bias of a synthetic corpus.

    Attributes:
        n_songs: number of songs (groups); at least 3 so that every split gets one.
        clips_per_song: clips per song.
        clip_seconds: clip length in seconds.
        sample_rate: sample rate of the rendered audio in Hz.
        seed: non-negative integer from which everything is derived.
        confound: strength in [0, 1] of the train-only percussion/Happy association.
        split_fractions: (train, val, test) shares of songs, each positive, summing to 1.
        emotion_noise: SD of rating noise at mid-scale, in rating points (1 to 7.83 scale).
    """

    n_songs: int = 40
    clips_per_song: int = 4
    clip_seconds: float = 10.0
    sample_rate: int = SAMPLE_RATE
    seed: int = 0
    confound: float = 0.8
    split_fractions: tuple[float, float, float] = (0.6, 0.2, 0.2)
    emotion_noise: float = 0.25

    def __post_init__(self) -> None:
        if self.n_songs < len(SPLITS):
            raise ValueError(f"n_songs must be at least {len(SPLITS)}, got {self.n_songs}")
        if self.clips_per_song < 1:
            raise ValueError(f"clips_per_song must be positive, got {self.clips_per_song}")
        if not self.clip_seconds > 0:
            raise ValueError(f"clip_seconds must be positive, got {self.clip_seconds}")
        if self.sample_rate < 8000:
            raise ValueError(f"sample_rate must be at least 8000 Hz, got {self.sample_rate}")
        if self.seed < 0:
            raise ValueError(f"seed must be non-negative, got {self.seed}")
        if not 0.0 <= self.confound <= 1.0:
            raise ValueError(f"confound must lie in [0, 1], got {self.confound}")
        shares = tuple(self.split_fractions)
        if len(shares) != len(SPLITS) or min(shares) <= 0 or abs(sum(shares) - 1) > 1e-6:
            raise ValueError(f"split_fractions must be 3 positive shares summing to 1: {shares}")
        if self.emotion_noise < 0:
            raise ValueError(f"emotion_noise must be non-negative, got {self.emotion_noise}")


@dataclass(frozen=True)
class NoteEvent:
    """One note as rendered: melody, bass, or a drum hit (``pitch`` is then its GM drum number).

    Attributes:
        stem: ``"melody"``, ``"bass"`` or ``"drums"``.
        onset_s: onset time in seconds from the clip start, as performed (jitter included).
        duration_s: held duration in seconds, before the release tail.
        pitch: MIDI note number.
        velocity: linear gain relative to the stem's nominal level.
    """

    stem: str
    onset_s: float
    duration_s: float
    pitch: int
    velocity: float


@dataclass(frozen=True)
class ChordEvent:
    """One chord strike of the chords stem.

    Attributes:
        stem: always ``"chords"``.
        onset_s: onset time in seconds from the clip start, as performed.
        duration_s: held duration in seconds, before the release tail.
        pitches: MIDI note numbers sounding, the triad first, then any added dissonant tones.
        root_pc: pitch class (0 = C) of the chord root.
        quality: ``"maj"`` or ``"min"`` triad.
        velocity: linear gain relative to the stem's nominal level.
    """

    stem: str
    onset_s: float
    duration_s: float
    pitches: tuple[int, ...]
    root_pc: int
    quality: str
    velocity: float


ScoreEvent = NoteEvent | ChordEvent


@dataclass(frozen=True)
class RenderedClip:
    """A rendered clip with its parts and its score.

    Attributes:
        mixture: float32 waveform, shape ``(n_samples,)``, peak about 0.9; equal bit for bit to
            the float32 sum of ``stems`` taken in ``STEMS`` order.
        stems: float32 waveform per stem name in ``STEMS``, each of shape ``(n_samples,)``.
        score: note, chord and drum events sorted by onset time.
        factors: the complete factors the clip was rendered from.
        sample_rate: sample rate in Hz.
    """

    mixture: np.ndarray
    stems: dict[str, np.ndarray]
    score: list[ScoreEvent]
    factors: dict[str, float]
    sample_rate: int


# ------------------------------------------------------------------------------------------------
# Emotions
# ------------------------------------------------------------------------------------------------


def emotion_drivers(factors: Mapping[str, float]) -> dict[str, float]:
    """Centred emotion drivers (each spanning about one unit) from the factors present.

    Args:
        factors: any of the ``MIDLEVEL`` descriptors and ``percussion`` (in [0, 1]) and
            ``tempo_bpm``.

    Returns:
        ``factor - 0.5`` per descriptor and for percussion, and ``tempo`` as
        ``(tempo_bpm - 110) / 100``.
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
    """Emotion ratings implied by the factors, per :data:`EMOTION_WEIGHTS`.

    Args:
        factors: the drivers' factors (see :func:`emotion_drivers`); only those used by the
            requested emotions are needed.
        noise: standard-normal draws, shape ``(len(emotions),)``; ``None`` for no noise.
        noise_sd: SD of the noise at mid-scale, in rating points.
        emotions: which emotions to rate.

    Returns:
        Rating per emotion on the ``EMOTION_RANGE`` scale (1 to 7.83).

    Raises:
        KeyError: a factor the requested emotions depend on is missing.
        ValueError: ``noise`` does not have one value per emotion.
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
    """``"happy"`` if the happy rating exceeds the sad rating, else ``"sad"``."""
    return CLASSES[0] if emotions["happy"] > emotions["sad"] else CLASSES[1]


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
# Wavetables and timbres
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


_SINE = _wavetable((1.0,))

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

_BELL_RATIOS = (2.76, 5.40, 8.93)
_BELL_LEVELS = (0.5, 0.3, 0.15)

# Adding 1.5 * 2**52 to a float64 leaves its value rounded to an integer in the low mantissa
# bits, readable through an int64 view: several times faster than astype(int) (valid < 2**51).
_ROUNDING_OFFSET = 1.5 * 2.0**52


def _lookup(table: np.ndarray, cycles: np.ndarray) -> np.ndarray:
    """Read a wavetable at phases given in cycles (float64, any shape); float32, same shape."""
    position = cycles * float(_TABLE_SIZE)
    position += _ROUNDING_OFFSET
    index = position.view(np.int64)
    index &= _TABLE_MASK
    return table.take(index)


def _midi_hz(pitch: float | np.ndarray) -> np.ndarray:
    """Frequency in Hz of MIDI pitches (float64, same shape)."""
    return 440.0 * 2.0 ** ((np.asarray(pitch, dtype=np.float64) - 69.0) / 12.0)


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
    """Validated factors with defaults filled in (descriptors and percussion 0.5, 110 BPM, C).

    Args:
        factors: any of the ``MIDLEVEL`` descriptors, ``tempo_bpm``, ``key_root`` (0 to 11),
            ``mode`` (0 major, 1 minor; default from ``minorness > 0.5``) and ``percussion``.

    Returns:
        All of those keys, as floats.

    Raises:
        ValueError: an unknown key or a value out of range.
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


# ------------------------------------------------------------------------------------------------
# Time: grid, drift and jitter
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Timing:
    """Maps 16th-note grid steps to seconds, with a slow sinusoidal tempo drift."""

    step_s: float
    drift_steps: float  # amplitude of the drift, in steps
    drift_phase: float
    jitter_s: float  # onset jitter SD of each player
    n_bars: int

    def seconds(self, steps: np.ndarray) -> np.ndarray:
        """Nominal (unjittered) time in seconds of grid positions ``steps`` (any shape)."""
        period = 4 * _STEPS_PER_BAR  # a 4-bar rubato cycle
        phase = 2 * np.pi * steps / period + self.drift_phase
        swing = np.sin(phase) - math.sin(self.drift_phase)
        return self.step_s * (steps + self.drift_steps * swing)


def _plan_timing(factors: Mapping[str, float], rng: np.random.Generator, seconds: float) -> _Timing:
    """The clip's grid: tempo, drift and jitter from rhythm_stability; enough bars for the clip."""
    instability = 1.0 - factors["rhythm_stability"]
    step_s = 60.0 / factors["tempo_bpm"] / 4
    timing = _Timing(
        step_s=step_s,
        drift_steps=1.5 * instability,  # slope 1.5 * 2 pi / 64: +-15 % tempo at stability 0
        drift_phase=float(rng.uniform(0, 2 * np.pi)),
        jitter_s=0.06 * instability,
        n_bars=1,
    )
    # The drift slows time by at most 15 %, so this many bars always cover the clip.
    most_bars = int(math.ceil(seconds / (step_s * _STEPS_PER_BAR) * 1.2)) + 2
    bar_starts = timing.seconds(np.arange(most_bars) * _STEPS_PER_BAR)
    n_bars = int(np.searchsorted(bar_starts, seconds, side="left"))
    return replace(timing, n_bars=max(n_bars, 1))


def _player_jitter(timing: _Timing, rng: np.random.Generator) -> np.ndarray:
    """Onset jitter in seconds of one player per grid step, shape ``(n_bars * 16 + 1,)``.

    Drawn per step, not per note, so that hits a player makes together stay together.
    """
    draws = np.clip(rng.standard_normal(timing.n_bars * _STEPS_PER_BAR + 1), -2.5, 2.5)
    return timing.jitter_s * draws


def _performed(
    timing: _Timing, steps: np.ndarray, *, jitter: np.ndarray, articulation: float
) -> tuple[np.ndarray, np.ndarray]:
    """Onsets and held durations (seconds) of the notes of one player at sorted grid ``steps``.

    Each note is held for ``1 - 0.85 * articulation`` of its nominal inter-onset interval; the
    last one's interval runs to the end of its bar.
    """
    ends = np.append(steps[1:], (steps[-1] // _STEPS_PER_BAR + 1) * _STEPS_PER_BAR)
    nominal = timing.seconds(steps.astype(np.float64))
    ioi = timing.seconds(ends.astype(np.float64)) - nominal
    onsets = np.maximum(nominal + jitter[steps], 0.0)
    return onsets, ioi * (1.0 - 0.85 * articulation)


# ------------------------------------------------------------------------------------------------
# Rhythm patterns (16th-note positions within a bar), each with a complexity in [0, 1]
# ------------------------------------------------------------------------------------------------

Cells = tuple[tuple[float, tuple[int, ...]], ...]

_MELODY_CELLS: Cells = (
    (0.00, (0, 8)),
    (0.05, (0, 4, 8, 12)),
    (0.10, (0, 4, 8)),
    (0.15, (0, 8, 12)),
    (0.35, (0, 2, 4, 6, 8, 10, 12, 14)),
    (0.40, (0, 6, 8, 12)),  # dotted quarter and eighth
    (0.45, (0, 4, 6, 8, 12, 14)),
    (0.55, (0, 2, 4, 7, 8, 12)),
    (0.70, (0, 3, 6, 8, 11, 14)),  # 3+3+2 syncopation
    (0.80, (0, 2, 3, 6, 10, 12, 13)),
    (0.90, (0, 3, 4, 7, 10, 12, 15)),
    (1.00, (1, 3, 6, 7, 9, 12, 14, 15)),  # off-beat 16ths
)
_BASS_CELLS: Cells = (
    (0.00, (0,)),
    (0.10, (0, 8)),
    (0.30, (0, 8, 12)),
    (0.40, (0, 4, 8, 12)),
    (0.50, (0, 6, 8)),
    (0.60, (0, 6, 8, 14)),
    (0.75, (0, 3, 8, 11)),
    (0.90, (0, 3, 6, 10, 14)),
    (1.00, (0, 3, 7, 10, 13)),
)
_COMP_CELLS: Cells = (
    (0.00, (0,)),
    (0.15, (0, 8)),
    (0.35, (0, 4, 8, 12)),
    (0.50, (0, 6, 12)),
    (0.65, (0, 3, 8, 11)),
    (0.80, (2, 6, 10, 14)),  # off-beat skank
    (1.00, (0, 3, 6, 10, 13)),
)


class _DrumPattern(NamedTuple):
    complexity: float
    kick: tuple[int, ...]
    snare: tuple[int, ...]
    hat: tuple[int, ...]


_EIGHTHS = tuple(range(0, 16, 2))
_BUSY_HATS = (0, 2, 3, 4, 6, 7, 8, 10, 11, 12, 14, 15)
_DRUM_PATTERNS: tuple[_DrumPattern, ...] = (
    _DrumPattern(0.00, (0, 8), (4, 12), _EIGHTHS),
    _DrumPattern(0.25, (0, 8, 10), (4, 12), _EIGHTHS),
    _DrumPattern(0.50, (0, 6, 8), (4, 12, 15), (*_EIGHTHS, 7, 15)),
    _DrumPattern(0.75, (0, 3, 6, 10), (4, 12, 14), tuple(range(16))),
    _DrumPattern(1.00, (0, 3, 6, 10, 11), (4, 7, 12, 15), _BUSY_HATS),
)


def _pick_by_complexity(
    complexities: Sequence[float], target: float, rng: np.random.Generator
) -> int:
    """Index of a pattern drawn with weight falling off with its distance from ``target``."""
    cumulative = np.cumsum(np.exp(-(((np.asarray(complexities) - target) / 0.12) ** 2)))
    return int(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right"))


def _rhythm_steps(
    cells: Cells, n_bars: int, complexity: float, rng: np.random.Generator
) -> np.ndarray:
    """Grid steps (int64, ascending) of a part playing one cell per bar."""
    complexities = [c for c, _ in cells]
    steps = []
    for bar in range(n_bars):
        cell = cells[_pick_by_complexity(complexities, complexity, rng)][1]
        steps.extend(bar * _STEPS_PER_BAR + s for s in cell)
    return np.asarray(steps, dtype=np.int64)


# ------------------------------------------------------------------------------------------------
# Harmony
# ------------------------------------------------------------------------------------------------

_SCALES = {0: (0, 2, 4, 5, 7, 9, 11), 1: (0, 2, 3, 5, 7, 8, 10)}  # major, natural minor
# Scale degrees whose diatonic triad has each quality, per mode; the first is the (relative)
# tonic, so both modes can realise any share of minor chords without leaving the key.
_DIATONIC_DEGREES = {
    (0, "maj"): (0, 3, 4),
    (0, "min"): (5, 1, 2),
    (1, "min"): (0, 3, 4),
    (1, "maj"): (2, 5, 6),
}
_MODULATION_SHIFTS = (6, 1, -1, 3, -3, 8, -4, 2)  # semitones, distant keys first
_DISSONANT_INTERVALS = (1, 2, 6, 11, 13)  # above the root; never 3 or 4 (would blur the quality)
_CHORD_BASE_MIDI = 48


@dataclass(frozen=True)
class _Bar:
    """Harmony of one bar: the key in force and the chord."""

    key_pc: int
    mode: int
    root_pc: int
    quality: str
    pitches: tuple[int, ...]  # triad first, then added dissonant tones

    @property
    def scale_pcs(self) -> frozenset[int]:
        return frozenset((self.key_pc + s) % 12 for s in _SCALES[self.mode])

    @property
    def triad_pcs(self) -> tuple[int, ...]:
        return tuple(p % 12 for p in self.pitches[:3])


def _stochastic_round(value: float, rng: np.random.Generator) -> int:
    """``floor(value)`` plus one with probability equal to the fractional part (no plateaus)."""
    return int(math.floor(value + rng.random()))


def _minor_bars(
    minorness: float, n_bars: int, theme: _Theme, rng: np.random.Generator
) -> np.ndarray:
    """Boolean mask, shape ``(n_bars,)``: which bars carry a minor triad (share ~ minorness)."""
    count = min(_stochastic_round(minorness * n_bars, rng), n_bars)
    bars = np.arange(n_bars) % theme.minor_priority.size
    priority = theme.minor_priority[bars] + 0.3 * rng.random(n_bars)
    mask = np.zeros(n_bars, dtype=bool)
    mask[np.argsort(priority, kind="stable")[:count]] = True
    return mask


def _chord_pitches(
    root_pc: int, quality: str, dissonance: float, rng: np.random.Generator
) -> tuple[int, ...]:
    """Triad in root position around C3, then about ``3 * dissonance`` dissonant added tones."""
    root = _CHORD_BASE_MIDI + root_pc
    triad = (root, root + (3 if quality == "min" else 4), root + 7)
    n_added = min(_stochastic_round(3.0 * dissonance, rng), len(_DISSONANT_INTERVALS))
    added = rng.choice(_DISSONANT_INTERVALS, size=n_added, replace=False)
    return triad + tuple(root + int(interval) for interval in added)


def _compose_harmony(
    factors: Mapping[str, float], theme: _Theme, n_bars: int, rng: np.random.Generator
) -> list[_Bar]:
    """One chord per bar, diatonic to the key in force unless tonal instability says otherwise.

    Below tonal_stability 0.5 the clip modulates half-way with probability
    ``1 - 2 * tonal_stability``; each root leaves the key with probability
    ``0.6 * (1 - tonal_stability)``.
    """
    mode = int(factors["mode"])
    instability = 1.0 - factors["tonal_stability"]
    minor = _minor_bars(factors["minorness"], n_bars, theme, rng)
    modulates = n_bars > 1 and rng.random() < 1.0 - 2.0 * factors["tonal_stability"]
    modulation_bar = n_bars // 2 if modulates else n_bars
    shift = int(rng.choice(_MODULATION_SHIFTS))
    bars, previous_degree = [], None
    for bar in range(n_bars):
        quality = "min" if minor[bar] else "maj"
        key_pc = (int(factors["key_root"]) + (shift if bar >= modulation_bar else 0)) % 12
        candidates = _DIATONIC_DEGREES[(mode, quality)]
        # The song's 4-bar loop decides most bars; some bars vary per clip.
        u = theme.progression[bar % 4] if rng.random() < 0.75 else rng.random()
        choice = 0 if bar == 0 else int(u * len(candidates))
        if candidates[choice] == previous_degree:
            choice = (choice + 1) % len(candidates)
        previous_degree = candidates[choice]
        root_pc = (key_pc + _SCALES[mode][previous_degree]) % 12
        if rng.random() < 0.6 * instability:  # chromatic, out-of-key root
            outside = [pc for pc in range(12) if (pc - key_pc) % 12 not in _SCALES[mode]]
            root_pc = int(rng.choice(outside))
        pitches = _chord_pitches(root_pc, quality, factors["dissonance"], rng)
        bars.append(
            _Bar(key_pc=key_pc, mode=mode, root_pc=root_pc, quality=quality, pitches=pitches)
        )
    return bars


# ------------------------------------------------------------------------------------------------
# Composition: events of each part
# ------------------------------------------------------------------------------------------------

_MELODY_RANGE = (45, 88)  # top harmonics of the brightest timbre stay below 11 kHz


def _degree_to_midi(degree: int, bar: _Bar) -> int:
    octave, step = divmod(degree, 7)
    return 60 + bar.key_pc + 12 * octave + _SCALES[bar.mode][step]


def _nearest_chord_tone(pitch: int, bar: _Bar) -> int:
    candidates = [pitch + d for d in range(-6, 7) if (pitch + d) % 12 in bar.triad_pcs]
    return min(candidates, key=lambda p: (abs(p - pitch), p))


def _chromatic_neighbour(pitch: int, bar: _Bar, rng: np.random.Generator) -> int:
    outside = [pitch + d for d in (-1, 1) if (pitch + d) % 12 not in bar.scale_pcs]
    return int(rng.choice(outside)) if outside else pitch


def _melody_pitches(
    steps: np.ndarray,
    bars: Sequence[_Bar],
    factors: Mapping[str, float],
    theme: _Theme,
    rng: np.random.Generator,
) -> list[int]:
    """MIDI pitch of each melody note at grid ``steps``.

    A melodious line follows the song's motif over an arch per 2-bar phrase; an unmelodious one
    jumps between the song's random leap targets; the factor blends the two before rounding.
    """
    melodious = factors["melodiousness"]
    chromatic_chance = 0.35 * (1.0 - factors["tonal_stability"])
    phrase_steps = 2 * _STEPS_PER_BAR
    pitches, note_in_phrase, last_phrase = [], 0, -1
    for index, step in enumerate(steps.tolist()):
        phrase, position = divmod(step, phrase_steps)
        note_in_phrase = 0 if phrase != last_phrase else note_in_phrase + 1
        last_phrase = phrase
        bar = bars[step // _STEPS_PER_BAR]
        arch = theme.arch_degrees * math.sin(math.pi * position / phrase_steps)
        motif = theme.motif[note_in_phrase % theme.motif.size]
        sung = arch + motif + theme.answer_shift * (phrase % 2)
        leapt = theme.leaps[index % theme.leaps.size]
        pitch = _degree_to_midi(int(round(melodious * sung + (1 - melodious) * leapt)), bar)
        if position % 8 == 0 and rng.random() < melodious:  # strong beats land on chord tones
            pitch = _nearest_chord_tone(pitch, bar)
        if rng.random() < chromatic_chance:
            pitch = _chromatic_neighbour(pitch, bar, rng)
        pitches.append(int(min(max(pitch, _MELODY_RANGE[0]), _MELODY_RANGE[1])))
    return pitches


def _compose_melody(
    factors: Mapping[str, float],
    theme: _Theme,
    bars: Sequence[_Bar],
    timing: _Timing,
    rngs: Streams,
) -> list[NoteEvent]:
    steps = _rhythm_steps(_MELODY_CELLS, len(bars), factors["rhythm_complexity"], rngs[_RHYTHM])
    pitches = _melody_pitches(steps, bars, factors, theme, rngs[_MELODY])
    jitter = _player_jitter(timing, rngs[_TIMING])
    onsets, held = _performed(timing, steps, jitter=jitter, articulation=factors["articulation"])
    accents = np.where(steps % 4 == 0, 1.0, 0.85) * rngs[_MELODY].uniform(0.9, 1.1, size=steps.size)
    return [
        NoteEvent("melody", float(t), float(d), p, float(v))
        for t, d, p, v in zip(onsets, held, pitches, accents)
    ]


def _compose_bass(
    factors: Mapping[str, float], bars: Sequence[_Bar], timing: _Timing, rngs: Streams
) -> list[NoteEvent]:
    steps = _rhythm_steps(_BASS_CELLS, len(bars), factors["rhythm_complexity"], rngs[_RHYTHM])
    jitter = _player_jitter(timing, rngs[_TIMING])
    onsets, held = _performed(timing, steps, jitter=jitter, articulation=factors["articulation"])
    events = []
    for step, onset, duration in zip(steps.tolist(), onsets, held):
        pitch = 33 + (bars[step // _STEPS_PER_BAR].root_pc - 9) % 12  # A1..G#2
        off_beat = step % _STEPS_PER_BAR != 0
        if off_beat and rngs[_HARMONY].random() < 0.6 * factors["rhythm_complexity"]:
            pitch += int(rngs[_HARMONY].choice((7, 12)))  # fifth or octave on the later notes
        velocity = 1.0 if step % 8 == 0 else 0.85
        events.append(NoteEvent("bass", float(onset), float(duration), pitch, velocity))
    return events


def _compose_chords(
    factors: Mapping[str, float], bars: Sequence[_Bar], timing: _Timing, rngs: Streams
) -> list[ChordEvent]:
    steps = _rhythm_steps(_COMP_CELLS, len(bars), factors["rhythm_complexity"], rngs[_RHYTHM])
    jitter = _player_jitter(timing, rngs[_TIMING])
    onsets, held = _performed(timing, steps, jitter=jitter, articulation=factors["articulation"])
    events = []
    for step, onset, duration in zip(steps.tolist(), onsets, held):
        bar = bars[step // _STEPS_PER_BAR]
        velocity = 1.0 if step % _STEPS_PER_BAR == 0 else 0.8
        chord = (bar.pitches, bar.root_pc, bar.quality)
        events.append(ChordEvent("chords", float(onset), float(duration), *chord, velocity))
    return events


_DRUM_LEVELS = {"kick": 1.0, "snare": 0.8, "hat": 0.45}
_DRUM_SHOT_SECONDS = {"kick": 0.35, "snare": 0.22, "hat": 0.08}


def _compose_drums(factors: Mapping[str, float], timing: _Timing, rngs: Streams) -> list[NoteEvent]:
    """Drum hits; fewer, more uneven hits as percussion falls, none below ``NO_DRUMS_BELOW``."""
    percussion = factors["percussion"]
    if percussion < NO_DRUMS_BELOW:
        return []
    rng = rngs[_DRUMS]
    jitter = _player_jitter(timing, rngs[_TIMING])
    unsteadiness = 1.0 - percussion
    complexities = [pattern.complexity for pattern in _DRUM_PATTERNS]
    hits: list[tuple[int, str, float]] = []
    for bar in range(timing.n_bars):
        choice = _pick_by_complexity(complexities, factors["rhythm_complexity"], rng)
        pattern = _DRUM_PATTERNS[choice]
        for instrument in ("kick", "snare", "hat"):
            for position in getattr(pattern, instrument):
                if rng.random() < 0.5 * unsteadiness:  # an unsteady drummer drops hits
                    continue
                accent = 1.0 if position % 4 == 0 else 0.7
                spread = 1.0 + 0.3 * unsteadiness * rng.standard_normal()
                velocity = min(max(_DRUM_LEVELS[instrument] * accent * spread, 0.1), 1.3)
                hits.append((bar * _STEPS_PER_BAR + position, instrument, velocity))
    if not hits:
        return []
    steps = np.asarray([step for step, _, _ in hits], dtype=np.int64)
    onsets = np.maximum(timing.seconds(steps.astype(np.float64)) + jitter[steps], 0.0)
    return [
        NoteEvent("drums", float(t), _DRUM_SHOT_SECONDS[name], DRUM_PITCHES[name], velocity)
        for t, (_, name, velocity) in zip(onsets, hits)
    ]


# ------------------------------------------------------------------------------------------------
# Synthesis
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Envelope:
    """Attack-decay-sustain-release shape; times in seconds."""

    attack: float
    decay: float
    sustain: float
    release: float


@dataclass(frozen=True)
class _NoteShaper:
    """An envelope prepared for one stem of one clip, so that each note only slices arrays.

    Attributes:
        onset: float32 attack-decay-sustain curve for the longest note of the stem.
        release: float32 fall from 1 to 0 over the release time.
    """

    onset: np.ndarray
    release: np.ndarray

    @classmethod
    def prepare(cls, envelope: _Envelope, *, ramp: np.ndarray, sample_rate: int) -> _NoteShaper:
        """Curves for notes of up to ``ramp.size`` samples (``ramp`` is float32 seconds)."""
        onset = np.minimum(ramp * np.float32(1.0 / envelope.attack), np.float32(1.0))
        if envelope.sustain < 1.0:
            decay = np.exp(ramp * np.float32(-1.0 / envelope.decay))
            onset *= np.float32(envelope.sustain) + np.float32(1.0 - envelope.sustain) * decay
        n_release = max(1, int(envelope.release * sample_rate))
        release = np.linspace(1.0, 0.0, n_release, endpoint=False, dtype=np.float32)
        return cls(onset=onset, release=release)

    def add_note(
        self, out: np.ndarray, tone: np.ndarray, *, start: int, n_hold: int, gain: float
    ) -> None:
        """Add ``tone`` (float32) to ``out`` as a note held ``n_hold`` samples from ``start``.

        The note sounds for ``n_hold`` samples plus the release, cut at the end of ``out`` or
        ``tone``, whichever comes first.
        """
        n = min(n_hold + self.release.size, out.size - start, tone.size)
        if n <= 0:
            return
        note = tone[:n] * self.onset[:n]
        if n > n_hold:
            note[n_hold:] *= self.release[: n - n_hold]
        note *= np.float32(gain)
        out[start : start + n] += note


def _envelopes(articulation: float) -> dict[str, _Envelope]:
    """Envelope per pitched stem: slow attacks, long releases when legato; sharp when staccato."""
    legato = 1.0 - articulation
    return {
        "melody": _Envelope(
            attack=0.005 + 0.10 * legato**2, decay=0.15, sustain=0.8, release=0.02 + 0.12 * legato
        ),
        "chords": _Envelope(
            attack=0.005 + 0.25 * legato**2, decay=0.3, sustain=0.85, release=0.03 + 0.3 * legato
        ),
        "bass": _Envelope(
            attack=0.004, decay=0.2 + 0.6 * legato, sustain=0.25, release=0.02 + 0.06 * legato
        ),
    }


_STEM_LEVELS = {"melody": 0.3, "chords": 0.1, "bass": 0.35, "drums": 0.8}


def _longest_note(events: Sequence[ScoreEvent], envelope: _Envelope, sample_rate: int) -> int:
    """Samples sounded by the longest note of ``events`` (hold plus release), at least 1."""
    longest_hold = max((event.duration_s for event in events), default=0.0)
    return max(1, int(math.ceil((longest_hold + envelope.release) * sample_rate)) + 2)


def _note_span(event: ScoreEvent, shaper: _NoteShaper, sample_rate: int) -> tuple[int, int, int]:
    """Start sample, held samples and sounding samples (hold plus release) of a note."""
    start = int(round(event.onset_s * sample_rate))
    n_hold = max(1, int(round(event.duration_s * sample_rate)))
    return start, n_hold, n_hold + shaper.release.size


def _synth_melody(
    events: Sequence[NoteEvent],
    *,
    theme: _Theme,
    shaper: _NoteShaper,
    dissonance: float,
    time_s: np.ndarray,
    sample_rate: int,
) -> np.ndarray:
    """Melody stem, float32 ``time_s.shape``: wavetable tone with vibrato and a bell partial."""
    out = np.zeros(time_s.size, dtype=np.float32)
    depth = (2.0 ** (theme.vibrato_cents / 1200.0) - 1.0) / (2 * np.pi * theme.vibrato_hz)
    for event in events:
        start, n_hold, n = _note_span(event, shaper, sample_rate)
        n = min(n, out.size - start)
        if n <= 0:
            continue
        t = time_s[:n]
        # Frequency f0 (1 + d sin 2 pi v t) integrates to this phase in cycles (cos via table).
        wobble = depth * (1.0 - _lookup(_SINE, theme.vibrato_hz * t + 0.25))
        cycles = _midi_hz(event.pitch) * (t + wobble)
        tone = _lookup(theme.melody_table, cycles)
        if dissonance > 0.0:
            tone += np.float32(0.3 * dissonance) * _lookup(_SINE, cycles * _BELL_RATIOS[0])
        gain = _STEM_LEVELS["melody"] * event.velocity
        shaper.add_note(out, tone, start=start, n_hold=n_hold, gain=gain)
    return out


def _chord_tone_bank(
    pitches: tuple[int, ...], n: int, *, table: np.ndarray, dissonance: float, time_s: np.ndarray
) -> np.ndarray:
    """Sustained chord waveform, float32 ``(n,)``, before any envelope.

    Every pitch reads the chord wavetable (one matrix look-up for all); with dissonance the
    triad also gets detuned copies that beat, and the root gets bell-like inharmonic partials.
    """
    freqs = _midi_hz(np.asarray(pitches))
    amps = np.ones(len(pitches))
    if dissonance > 0.0:
        detuned = freqs[:3] * 2.0 ** (30.0 * dissonance / 1200.0)
        freqs = np.concatenate([freqs, detuned])
        amps = np.concatenate([amps, np.full(3, 0.8 * dissonance)])
    t = time_s[:n]
    tone = amps.astype(np.float32) @ _lookup(table, np.multiply.outer(freqs, t))
    if dissonance > 0.0:
        bells = freqs[0] * np.asarray(_BELL_RATIOS)
        levels = dissonance * np.asarray(_BELL_LEVELS, dtype=np.float32)
        tone += levels @ _lookup(_SINE, np.multiply.outer(bells, t))
    return tone


def _synth_chords(
    events: Sequence[ChordEvent],
    *,
    theme: _Theme,
    shaper: _NoteShaper,
    dissonance: float,
    time_s: np.ndarray,
    sample_rate: int,
) -> np.ndarray:
    """Chords stem, float32 ``time_s.shape``; strikes of one chord share one waveform."""
    out = np.zeros(time_s.size, dtype=np.float32)
    spans = [_note_span(event, shaper, sample_rate) for event in events]
    longest: dict[tuple[int, ...], int] = {}
    for event, (start, _, n) in zip(events, spans):
        longest[event.pitches] = max(longest.get(event.pitches, 0), min(n, out.size - start))
    waves = {
        pitches: _chord_tone_bank(
            pitches, n, table=theme.chord_table, dissonance=dissonance, time_s=time_s
        )
        for pitches, n in longest.items()
        if n > 0
    }
    for event, (start, n_hold, _) in zip(events, spans):
        if event.pitches in waves:
            gain = _STEM_LEVELS["chords"] * event.velocity
            shaper.add_note(out, waves[event.pitches], start=start, n_hold=n_hold, gain=gain)
    return out


def _synth_bass(
    events: Sequence[NoteEvent],
    *,
    theme: _Theme,
    shaper: _NoteShaper,
    time_s: np.ndarray,
    sample_rate: int,
) -> np.ndarray:
    """Bass stem, float32 ``time_s.shape``: plucked wavetable tone with a decaying envelope."""
    out = np.zeros(time_s.size, dtype=np.float32)
    for event in events:
        start, n_hold, n = _note_span(event, shaper, sample_rate)
        n = min(n, out.size - start)
        if n <= 0:
            continue
        tone = _lookup(theme.bass_table, _midi_hz(event.pitch) * time_s[:n])
        gain = _STEM_LEVELS["bass"] * event.velocity
        shaper.add_note(out, tone, start=start, n_hold=n_hold, gain=gain)
    return out


def _drum_kit(theme: _Theme, rng: np.random.Generator, sample_rate: int) -> dict[int, np.ndarray]:
    """One-shot per GM drum number, float32, peak 1.

    Kick: sine swept down in pitch plus a beater click; snare: high-passed noise plus a tone;
    hat: brighter high-passed noise with a short decay.
    """

    def time_axis(name: str) -> np.ndarray:
        return np.arange(int(_DRUM_SHOT_SECONDS[name] * sample_rate)) / sample_rate

    t = time_axis("kick")
    start_hz, end_hz = theme.kick_hz
    sweep_hz = end_hz + (start_hz - end_hz) * np.exp(-t / 0.04)
    kick = np.sin(2 * np.pi * np.cumsum(sweep_hz) / sample_rate) * np.exp(-t / 0.16)
    kick += 0.3 * rng.standard_normal(t.size) * np.exp(-t / 0.003)

    t = time_axis("snare")
    rattle = np.diff(rng.standard_normal(t.size + 1))  # first difference: a crude high-pass
    body = np.sin(2 * np.pi * theme.snare_hz * t) * np.exp(-t / 0.05)
    snare = 0.6 * rattle * np.exp(-t / 0.07) + 0.8 * body

    t = time_axis("hat")
    hiss = np.diff(rng.standard_normal(t.size + 2), n=2)  # second difference: brighter still
    hat = hiss * np.exp(-t / theme.hat_decay_s)

    shots = {"kick": kick, "snare": snare, "hat": hat}
    return {
        DRUM_PITCHES[name]: (wave / np.abs(wave).max()).astype(np.float32)
        for name, wave in shots.items()
    }


def _synth_drums(
    events: Sequence[NoteEvent],
    *,
    kit: Mapping[int, np.ndarray],
    percussion: float,
    n_samples: int,
    sample_rate: int,
) -> np.ndarray:
    """Drum stem, float32 ``(n_samples,)``: one-shots added at onsets, louder with percussion."""
    out = np.zeros(n_samples, dtype=np.float32)
    for event in events:
        shot = kit[event.pitch]
        start = int(round(event.onset_s * sample_rate))
        n = min(shot.size, n_samples - start)
        if n <= 0:
            continue
        gain = np.float32(_STEM_LEVELS["drums"] * percussion * event.velocity)
        out[start : start + n] += shot[:n] * gain
    return out


def _mix(stems: Mapping[str, np.ndarray]) -> np.ndarray:
    """Float32 sum of the stems in ``STEMS`` order (the order fixes the rounding)."""
    mixture = stems[STEMS[0]].copy()
    for name in STEMS[1:]:
        mixture += stems[name]
    return mixture


def _normalise_in_place(stems: dict[str, np.ndarray]) -> np.ndarray:
    """Scale every stem by one gain so that their mixture peaks at about 0.9; return the mixture.

    The mixture is summed again after scaling, so it equals the sum of the scaled stems exactly.
    """
    raw = _mix(stems)
    peak = max(float(raw.max()), -float(raw.min()))
    gain = np.float32(_PEAK / peak) if peak > 0 else np.float32(1.0)
    for stem in stems.values():
        stem *= gain
    return _mix(stems)


# ------------------------------------------------------------------------------------------------
# Rendering
# ------------------------------------------------------------------------------------------------


def render_factors(
    factors: Mapping[str, float],
    *,
    seed: int | Sequence[int] = 0,
    theme_seed: int | Sequence[int] | None = None,
    clip_seconds: float = 10.0,
    sample_rate: int = SAMPLE_RATE,
) -> RenderedClip:
    """Compose and synthesise one clip from its latent factors.

    Args:
        factors: latent factors (see :func:`complete_factors`; missing ones take defaults).
        seed: non-negative integer or tuple of them seeding the clip's performance (rhythm
            cells, chord choices, jitter, drum noise); each musical aspect has its own stream.
        theme_seed: seed of what a song's clips share (timbres, motif, progression loop, drum
            kit); defaults to ``seed``.
        clip_seconds: length in seconds.
        sample_rate: sample rate in Hz.

    Returns:
        The mixture, the four stems (float32, shape ``(round(clip_seconds * sample_rate),)``),
        and the score.

    Raises:
        ValueError: invalid factors, seed, length or sample rate.
    """
    if not clip_seconds > 0:
        raise ValueError(f"clip_seconds must be positive, got {clip_seconds}")
    if sample_rate < 8000:
        raise ValueError(f"sample_rate must be at least 8000 Hz, got {sample_rate}")
    full = complete_factors(factors)
    key = _seed_key(seed)
    theme = _draw_theme(_rng(_NS_THEME, key if theme_seed is None else _seed_key(theme_seed), 0))
    aspects = (_HARMONY, _MELODY, _RHYTHM, _TIMING, _DRUMS)
    rngs = {aspect: _rng(_NS_CLIP, key, aspect) for aspect in aspects}
    n_samples = int(round(clip_seconds * sample_rate))

    timing = _plan_timing(full, rngs[_TIMING], clip_seconds)
    bars = _compose_harmony(full, theme, timing.n_bars, rngs[_HARMONY])
    parts: dict[str, list[ScoreEvent]] = {
        "melody": _compose_melody(full, theme, bars, timing, rngs),
        "chords": _compose_chords(full, bars, timing, rngs),
        "bass": _compose_bass(full, bars, timing, rngs),
        "drums": _compose_drums(full, timing, rngs),
    }

    # float64 time for oscillator phases (precision), float32 time for envelopes (speed).
    time_s = np.arange(n_samples, dtype=np.float64) / sample_rate
    ramp = time_s.astype(np.float32)
    shapers = {}
    for stem, envelope in _envelopes(full["articulation"]).items():
        longest = _longest_note(parts[stem], envelope, sample_rate)
        shapers[stem] = _NoteShaper.prepare(envelope, ramp=ramp[:longest], sample_rate=sample_rate)
    dissonance = full["dissonance"]
    common = {"theme": theme, "time_s": time_s, "sample_rate": sample_rate}
    stems = {
        "melody": _synth_melody(
            parts["melody"], shaper=shapers["melody"], dissonance=dissonance, **common
        ),
        "chords": _synth_chords(
            parts["chords"], shaper=shapers["chords"], dissonance=dissonance, **common
        ),
        "bass": _synth_bass(parts["bass"], shaper=shapers["bass"], **common),
        "drums": _synth_drums(
            parts["drums"],
            kit=_drum_kit(theme, rngs[_DRUMS], sample_rate) if parts["drums"] else {},
            percussion=full["percussion"],
            n_samples=n_samples,
            sample_rate=sample_rate,
        ),
    }
    mixture = _normalise_in_place(stems)
    score = [event for stem in STEMS for event in parts[stem] if event.onset_s < clip_seconds]
    score.sort(key=lambda event: (event.onset_s, STEMS.index(event.stem)))
    return RenderedClip(
        mixture=mixture, stems=stems, score=score, factors=full, sample_rate=sample_rate
    )


# ------------------------------------------------------------------------------------------------
# The corpus
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _ClipPlan:
    """Everything decided about one clip before rendering (immutable)."""

    clip_id: str
    group: str
    song: int
    clip: int
    split: str
    midlevel: tuple[tuple[str, float], ...]
    tempo_bpm: float
    key_root: int
    mode: int
    percussion: float
    emotions: tuple[tuple[str, float], ...]
    label: str

    def non_descriptor_factors(self) -> dict[str, float]:
        return {
            "tempo_bpm": self.tempo_bpm,
            "key_root": float(self.key_root),
            "mode": float(self.mode),
            "percussion": self.percussion,
        }

    def factors(self) -> dict[str, float]:
        """All the factors :func:`render_factors` needs."""
        return {**dict(self.midlevel), **self.non_descriptor_factors()}


@dataclass(frozen=True)
class _ClipDraw:
    """A clip's random draws taken before labels, splits and percussion exist."""

    midlevel: dict[str, float]
    noise: np.ndarray  # (8,) standard-normal emotion noise
    percussion_jitter: float
    happy_margin: float  # happy minus sad rating; percussion plays no part in either


def _latin_hypercube(n: int, dims: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` points in ``[0, 1)^dims``, shape ``(n, dims)``: one per 1/n stratum of every axis."""
    strata = np.stack([rng.permutation(n) for _ in range(dims)], axis=1)
    return (strata + rng.random((n, dims))) / n


def _split_counts(n_songs: int, fractions: Sequence[float]) -> list[int]:
    """Songs per split: largest-remainder rounding, then at least one song in every split."""
    raw = np.asarray(fractions) * n_songs
    counts = np.floor(raw).astype(int)
    for index in np.argsort(-(raw - counts), kind="stable")[: n_songs - counts.sum()]:
        counts[index] += 1
    for index in range(len(counts)):
        if counts[index] == 0:
            counts[int(np.argmax(counts))] -= 1
            counts[index] = 1
    return counts.tolist()


def _assign_song_splits(
    song_labels: Sequence[str], fractions: Sequence[float], rng: np.random.Generator
) -> list[str]:
    """Split of each song, stratified by label.

    Each label's songs are spread evenly over [0, 1) in random order; cutting the merged order
    into consecutive runs then gives every split about its share of each label.
    """
    keys = np.zeros(len(song_labels))
    for label in CLASSES:
        members = np.flatnonzero(np.asarray(song_labels) == label)
        if members.size:
            keys[members] = (rng.permutation(members.size) + rng.random()) / members.size
    order = np.argsort(keys, kind="stable")
    splits = [""] * len(song_labels)
    bounds = np.cumsum([0, *_split_counts(len(song_labels), fractions)])
    for split, lo, hi in zip(SPLITS, bounds[:-1], bounds[1:]):
        for song in order[lo:hi]:
            splits[int(song)] = split
    return splits


def _song_percussion(
    *, happy: bool, split: str, confound: float, rng: np.random.Generator
) -> float:
    """A song's percussion: tied to the label with probability ``confound``, in train only."""
    tied, high, low, free = rng.random(4)  # always four draws, so streams never shift
    if split == "train" and tied < confound:
        return float(0.6 + 0.4 * high) if happy else float(0.3 * low)
    return float(free)


def _is_happy_song(draws: Sequence[_ClipDraw]) -> bool:
    """Majority label of a song's clips; a tie goes to the mean happy-minus-sad margin."""
    margins = np.asarray([draw.happy_margin for draw in draws])
    votes = int(np.sum(margins > 0)) - int(np.sum(margins <= 0))
    return votes > 0 or (votes == 0 and float(margins.mean()) > 0)


class SyntheticCorpus:
    """The synthetic dataset adapter (implements :class:`engine.datasets.base.Dataset`).

    Records are planned at construction (cheap, no audio); audio is rendered on request.
    """

    name = "synthetic"

    def __init__(self, config: SyntheticConfig | None = None) -> None:
        self.config = config or SyntheticConfig()
        self._plans = {plan.clip_id: plan for plan in _plan_corpus(self.config)}

    def records(self) -> list[ClipRecord]:
        """All clips, song by song and clip by clip; fresh objects on every call."""
        return [
            ClipRecord(
                dataset=self.name,
                clip_id=plan.clip_id,
                group=plan.group,
                split=plan.split,
                emotions=dict(plan.emotions),
                midlevel=dict(plan.midlevel),
                label=plan.label,
                factors=plan.non_descriptor_factors(),
            )
            for plan in self._plans.values()
        ]

    def render(self, clip_id: str) -> RenderedClip:
        """Mixture, stems and score of one clip; bit-identical on every call.

        Raises:
            KeyError: ``clip_id`` is not in this corpus.
        """
        plan = self._plan_of(clip_id)
        return render_factors(
            plan.factors(),
            seed=(self.config.seed, plan.song, plan.clip),
            theme_seed=(self.config.seed, plan.song),
            clip_seconds=self.config.clip_seconds,
            sample_rate=self.config.sample_rate,
        )

    def load(self, clip_id: str) -> np.ndarray:
        """Mono float32 mixture of one clip, shape ``(round(clip_seconds * sample_rate),)``.

        Raises:
            KeyError: ``clip_id`` is not in this corpus.
        """
        return self.render(clip_id).mixture

    def _plan_of(self, clip_id: str) -> _ClipPlan:
        try:
            return self._plans[clip_id]
        except KeyError:
            raise KeyError(f"no clip {clip_id!r} in the synthetic corpus") from None


def _plan_corpus(config: SyntheticConfig) -> list[_ClipPlan]:
    """Factors, then labels, then splits, then percussion (see the module docstring)."""
    songs = range(config.n_songs)
    # Latin hypercube over songs: each descriptor and the tempo cover their range evenly,
    # which keeps small corpora balanced between Happy and Sad.
    n_descriptors = len(MIDLEVEL)
    strata = _latin_hypercube(
        config.n_songs, n_descriptors + 2, _rng(_NS_CORPUS, (config.seed,), _SONG_FACTORS)
    )
    low_bpm, high_bpm = TEMPO_RANGE
    tempi = low_bpm + (high_bpm - low_bpm) * strata[:, n_descriptors]
    keys = (12 * strata[:, n_descriptors + 1]).astype(int)
    happy_sad = [EMOTIONS.index("happy"), EMOTIONS.index("sad")]

    draws: dict[int, list[_ClipDraw]] = {}
    for song in songs:
        draws[song] = []
        for clip in range(config.clips_per_song):
            rng = _rng(_NS_CORPUS, (config.seed, song, clip), _CLIP_FACTORS)
            jitter = _CLIP_JITTER_SD * rng.standard_normal(n_descriptors)
            values = np.clip(strata[song, :n_descriptors] + jitter, 0.0, 1.0)
            midlevel = dict(zip(MIDLEVEL, values.tolist()))
            noise = rng.standard_normal(len(EMOTIONS))
            percussion_jitter = float(_PERCUSSION_JITTER_SD * rng.standard_normal())
            # Percussion does not drive happy or sad, so the label is known before it is drawn.
            ratings = emotion_ratings(
                {**midlevel, "tempo_bpm": tempi[song]},
                noise=noise[happy_sad],
                noise_sd=config.emotion_noise,
                emotions=("happy", "sad"),
            )
            margin = ratings["happy"] - ratings["sad"]
            draws[song].append(_ClipDraw(midlevel, noise, percussion_jitter, margin))

    song_happy = [_is_happy_song(draws[song]) for song in songs]
    splits = _assign_song_splits(
        [CLASSES[0] if happy else CLASSES[1] for happy in song_happy],
        config.split_fractions,
        _rng(_NS_CORPUS, (config.seed,), _SPLIT),
    )

    width = max(3, len(str(config.n_songs - 1)))
    plans = []
    for song in songs:
        group = f"s{song:0{width}d}"
        song_percussion = _song_percussion(
            happy=song_happy[song],
            split=splits[song],
            confound=config.confound,
            rng=_rng(_NS_CORPUS, (config.seed, song), _PERCUSSION),
        )
        for clip, draw in enumerate(draws[song]):
            percussion = min(max(song_percussion + draw.percussion_jitter, 0.0), 1.0)
            emotions = emotion_ratings(
                {**draw.midlevel, "tempo_bpm": tempi[song], "percussion": percussion},
                noise=draw.noise,
                noise_sd=config.emotion_noise,
            )
            plans.append(
                _ClipPlan(
                    clip_id=f"{group}c{clip}",
                    group=group,
                    song=song,
                    clip=clip,
                    split=splits[song],
                    midlevel=tuple(draw.midlevel.items()),
                    tempo_bpm=float(tempi[song]),
                    key_root=int(keys[song]),
                    # The song's mode follows the song's minorness, not the clip's jittered one.
                    mode=int(strata[song, MIDLEVEL.index("minorness")] > 0.5),
                    percussion=percussion,
                    emotions=tuple(emotions.items()),
                    label=label_of(emotions),
                )
            )
    return plans


__all__ = [
    "DRUM_PITCHES",
    "EMOTION_WEIGHTS",
    "NO_DRUMS_BELOW",
    "STEMS",
    "TEMPO_RANGE",
    "ChordEvent",
    "NoteEvent",
    "RenderedClip",
    "ScoreEvent",
    "SyntheticConfig",
    "SyntheticCorpus",
    "complete_factors",
    "emotion_drivers",
    "emotion_ratings",
    "label_of",
    "render_factors",
]
