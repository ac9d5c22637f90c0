"""Synthesis: a clip's score turned into four stems and their mixture (:func:`render_factors`).

:func:`render_factors` composes the score (:mod:`engine.synth.score`) and synthesises each stem:
melody with vibrato and a bell partial, chords with added dissonant tones, detuned copies and
bell partials, a plucked bass and drum one-shots; the mixture is their float32 sum, normalised.

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
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from engine.synth.common import (
    _DRUMS,
    _HARMONY,
    _MELODY,
    _NS_CLIP,
    _NS_THEME,
    _RHYTHM,
    _TABLE_MASK,
    _TABLE_SIZE,
    _TIMING,
    _draw_theme,
    _rng,
    _seed_key,
    _Theme,
    _wavetable,
    complete_factors,
)
from engine.synth.score import (
    _DRUM_SHOT_SECONDS,
    DRUM_PITCHES,
    ChordEvent,
    NoteEvent,
    ScoreEvent,
    _compose_bass,
    _compose_chords,
    _compose_drums,
    _compose_harmony,
    _compose_melody,
    _plan_timing,
)
from engine.vocabulary import SAMPLE_RATE

STEMS: tuple[str, ...] = ("melody", "chords", "bass", "drums")
"""Stem names, in the order in which they are summed into the mixture."""

_PEAK = 0.9


@dataclass(frozen=True)
class RenderedClip:
    """Hold a rendered clip with its parts and its score.

    Attributes
    ----------
    mixture : numpy.ndarray
        Float32 waveform, shape ``(n_samples,)``, peak about 0.9; equal bit for bit to
        the float32 sum of ``stems`` taken in ``STEMS`` order.
    stems : dict of str to numpy.ndarray
        Float32 waveform per stem name in ``STEMS``, each of shape ``(n_samples,)``.
    score : list of ScoreEvent
        Note, chord and drum events sorted by onset time (seconds).
    factors : dict of str to float
        The complete factors the clip was rendered from.
    sample_rate : int
        Sample rate in Hz.

    Examples
    --------
    >>> import numpy as np
    >>> clip = render_factors({"percussion": 0.9}, seed=1, clip_seconds=0.5, sample_rate=8000)
    >>> summed = clip.stems["melody"] + clip.stems["chords"] + clip.stems["bass"] + clip.stems["drums"]
    >>> bool(np.array_equal(clip.mixture, summed)), round(float(np.abs(clip.mixture).max()), 2)
    (True, 0.9)
    """

    mixture: np.ndarray
    stems: dict[str, np.ndarray]
    score: list[ScoreEvent]
    factors: dict[str, float]
    sample_rate: int


# ------------------------------------------------------------------------------------------------
# Wavetable look-up
# ------------------------------------------------------------------------------------------------

_SINE = _wavetable((1.0,))

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

    Attributes
    ----------
    onset : numpy.ndarray
        Float32 attack-decay-sustain curve for the longest note of the stem, one value per sample.
    release : numpy.ndarray
        Float32 fall from 1 to 0 over the release time, one value per sample.
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
    """Count the samples sounded by the longest note of ``events`` (hold plus release), at least 1."""
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

    Parameters
    ----------
    factors : Mapping[str, float]
        Latent factors (see :func:`~engine.synth.common.complete_factors`; missing ones take defaults).
    seed : int or Sequence[int], default 0
        Non-negative integer or tuple of them seeding the clip's performance (rhythm
        cells, chord choices, jitter, drum noise); each musical aspect has its own stream.
    theme_seed : int, Sequence[int] or None, default None
        Seed of what a song's clips share (timbres, motif, progression loop, drum
        kit); defaults to ``seed``.
    clip_seconds : float, default 10.0
        Length in seconds.
    sample_rate : int, default SAMPLE_RATE
        Sample rate in Hz, at least 8000.

    Returns
    -------
    RenderedClip
        The mixture, the four stems (float32, shape ``(round(clip_seconds * sample_rate),)``),
        the score (events with onsets before ``clip_seconds``) and the complete factors.

    Raises
    ------
    ValueError
        Invalid factors, seed, length or sample rate.

    Examples
    --------
    >>> import numpy as np
    >>> clip = render_factors({"minorness": 0.9, "tempo_bpm": 120}, seed=(0, 3), clip_seconds=1.0, sample_rate=8000)
    >>> clip.mixture.shape, clip.mixture.dtype, list(clip.stems)
    ((8000,), dtype('float32'), ['melody', 'chords', 'bass', 'drums'])
    >>> clip.factors["mode"], len(clip.score) > 0
    (1.0, True)
    >>> again = render_factors({"minorness": 0.9, "tempo_bpm": 120}, seed=(0, 3), clip_seconds=1.0, sample_rate=8000)
    >>> bool(np.array_equal(clip.mixture, again.mixture))
    True
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


__all__ = ["STEMS", "RenderedClip", "render_factors"]
