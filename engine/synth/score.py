"""The score: a clip's harmony, melody, bass and drums, composed as note and chord events.

The clips of a song share its theme (:class:`engine.synth.common._Theme`: timbres, vibrato,
melodic motif, chord-progression loop, drum-kit tuning). For one clip, :func:`_plan_timing` lays
out the grid, the tempo drift and the onset jitter, :func:`_compose_harmony` chooses one chord
per bar, and the ``_compose_*`` functions turn rhythm cells, harmony and theme into the events
of each part, each musical aspect drawing from its own stream
(:data:`engine.synth.common.Streams`). :func:`engine.synth.render.render_factors` calls them in
turn and synthesises the events.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Mapping, NamedTuple, Sequence

import numpy as np

from engine.synth.common import _DRUMS, _HARMONY, _MELODY, _RHYTHM, _TIMING, Streams, _Theme

NO_DRUMS_BELOW = 0.15
"""Percussion below this level renders a silent drum stem."""

DRUM_PITCHES: Mapping[str, int] = {"kick": 36, "snare": 38, "hat": 42}
"""General MIDI numbers used as the ``pitch`` of drum events in the score."""

_STEPS_PER_BAR = 16  # 4/4 bars on a 16th-note grid


# ------------------------------------------------------------------------------------------------
# Events
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NoteEvent:
    """Record one note as rendered: melody, bass, or a drum hit (``pitch`` is then its GM drum number).

    Attributes
    ----------
    stem : str
        ``"melody"``, ``"bass"`` or ``"drums"``.
    onset_s : float
        Onset time in seconds from the clip start, as performed (jitter included).
    duration_s : float
        Held duration in seconds, before the release tail.
    pitch : int
        MIDI note number (:data:`DRUM_PITCHES` for drum hits).
    velocity : float
        Linear gain relative to the stem's nominal level.

    Examples
    --------
    >>> snare = NoteEvent("drums", onset_s=0.5, duration_s=0.22, pitch=DRUM_PITCHES["snare"], velocity=0.8)
    >>> snare.pitch, snare.onset_s + snare.duration_s
    (38, 0.72)
    """

    stem: str
    onset_s: float
    duration_s: float
    pitch: int
    velocity: float


@dataclass(frozen=True)
class ChordEvent:
    """Record one chord strike of the chords stem.

    Attributes
    ----------
    stem : str
        Always ``"chords"``.
    onset_s : float
        Onset time in seconds from the clip start, as performed.
    duration_s : float
        Held duration in seconds, before the release tail.
    pitches : tuple of int
        MIDI note numbers sounding, the triad first, then any added dissonant tones.
    root_pc : int
        Pitch class (0 = C) of the chord root.
    quality : str
        ``"maj"`` or ``"min"`` triad.
    velocity : float
        Linear gain relative to the stem's nominal level.

    Examples
    --------
    >>> chord = ChordEvent("chords", 0.0, 1.5, pitches=(57, 60, 64, 58), root_pc=9, quality="min", velocity=1.0)
    >>> chord.pitches[:3], len(chord.pitches) - 3
    ((57, 60, 64), 1)
    """

    stem: str
    onset_s: float
    duration_s: float
    pitches: tuple[int, ...]
    root_pc: int
    quality: str
    velocity: float


ScoreEvent = NoteEvent | ChordEvent


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
    """Plan the clip's grid: tempo, drift and jitter from rhythm_stability; enough bars for the clip."""
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


__all__ = ["DRUM_PITCHES", "NO_DRUMS_BELOW", "ChordEvent", "NoteEvent", "ScoreEvent"]
