"""Tests of the synthetic corpus: reproducibility, structure, and that factors are audible."""

from __future__ import annotations

import dataclasses
from collections import defaultdict

import librosa
import numpy as np
import pytest

from engine.datasets.synthetic import SyntheticConfig, SyntheticCorpus
from engine.synth.emotions import EMOTION_WEIGHTS, emotion_ratings
from engine.synth.render import STEMS, RenderedClip, render_factors
from engine.synth.score import DRUM_PITCHES, ChordEvent, NoteEvent
from engine.vocabulary import CLASSES, EMOTION_RANGE, EMOTIONS, MIDLEVEL, SPLITS

SR = 22_050
SMALL = SyntheticConfig(n_songs=6, clips_per_song=2, clip_seconds=2.0)

# A plain clip: each audio test changes one factor of it and measures the change in the audio.
NEUTRAL = {
    "melodiousness": 0.8,
    "articulation": 0.4,
    "rhythm_stability": 1.0,
    "rhythm_complexity": 0.0,
    "dissonance": 0.0,
    "tonal_stability": 1.0,
    "minorness": 0.3,
    "tempo_bpm": 100.0,
    "key_root": 0,
    "percussion": 0.0,
}
SEEDS = (0, 1, 2)


def render(seed: int = 0, seconds: float = 6.0, **changes: float) -> RenderedClip:
    factors = {**NEUTRAL, **changes}
    return render_factors(factors, seed=seed, clip_seconds=seconds, sample_rate=SR)


def chord_windows(clip: RenderedClip, hop: int) -> list[tuple[ChordEvent, slice]]:
    """Each chord strike with the frames (at ``hop``) during which it is held."""
    windows = []
    for event in clip.score:
        if isinstance(event, ChordEvent):
            first = int(event.onset_s * SR / hop)
            last = max(first + 1, int((event.onset_s + event.duration_s) * SR / hop))
            windows.append((event, slice(first, last)))
    return windows


def chords_chroma(clip: RenderedClip, hop: int = 512) -> np.ndarray:
    """Chroma of the chords stem, shape (12, frames); long FFT to resolve the low chord tones."""
    return librosa.feature.chroma_stft(y=clip.stems["chords"], sr=SR, n_fft=4096, hop_length=hop)


def root_relative_chroma(clip: RenderedClip) -> np.ndarray:
    """Chords-stem chroma per strike, rotated so that the chord root is index 0; (strikes, 12)."""
    chroma = chords_chroma(clip)
    windows = chord_windows(clip, 512)
    return np.asarray([np.roll(chroma[:, frames].sum(axis=1), -e.root_pc) for e, frames in windows])


def percussion_gap(records, split: str) -> float:
    """Mean percussion of Happy clips minus that of Sad clips in one split."""
    in_split = [r for r in records if r.split == split]
    happy = [r.factors["percussion"] for r in in_split if r.label == "happy"]
    sad = [r.factors["percussion"] for r in in_split if r.label == "sad"]
    return float(np.mean(happy) - np.mean(sad))


# ------------------------------------------------------------------------------------------------
# Reproducibility and structure
# ------------------------------------------------------------------------------------------------


def test_same_config_gives_identical_records_and_audio():
    first, second = SyntheticCorpus(SMALL), SyntheticCorpus(SMALL)
    assert first.records() == second.records()
    ids = [r.clip_id for r in first.records()][:4]
    # The second corpus renders in reverse order: the order of calls must not matter.
    forward = {clip_id: first.render(clip_id) for clip_id in ids}
    backward = {clip_id: second.render(clip_id) for clip_id in reversed(ids)}
    for clip_id in ids:
        assert np.array_equal(forward[clip_id].mixture, backward[clip_id].mixture)
        for stem in STEMS:
            assert np.array_equal(forward[clip_id].stems[stem], backward[clip_id].stems[stem])
        assert forward[clip_id].score == backward[clip_id].score
    # Rendering a clip alone, in a fresh corpus, gives the same audio again.
    assert np.array_equal(SyntheticCorpus(SMALL).load(ids[3]), forward[ids[3]].mixture)


def test_different_seeds_give_different_audio():
    reseeded = SyntheticCorpus(dataclasses.replace(SMALL, seed=1))
    assert not np.array_equal(SyntheticCorpus(SMALL).load("s000c0"), reseeded.load("s000c0"))
    one, other = render(seed=0, seconds=2.0), render(seed=1, seconds=2.0)
    assert not np.array_equal(one.mixture, other.mixture)


def test_mixture_is_the_exact_sum_of_float32_stems_of_the_right_length():
    corpus = SyntheticCorpus(SMALL)
    n_samples = int(SMALL.clip_seconds * SR)
    for record in corpus.records()[:4]:
        clip = corpus.render(record.clip_id)
        assert tuple(clip.stems) == STEMS
        assert clip.mixture.dtype == np.float32 and clip.mixture.shape == (n_samples,)
        for stem in STEMS:
            assert clip.stems[stem].dtype == np.float32
            assert clip.stems[stem].shape == (n_samples,)
        assert np.array_equal(sum(clip.stems[stem] for stem in STEMS), clip.mixture)
        assert 0.85 <= np.abs(clip.mixture).max() <= 1.0


def test_records_have_ids_groups_labels_and_factors():
    corpus = SyntheticCorpus(SMALL)
    records = corpus.records()
    assert len(records) == SMALL.n_songs * SMALL.clips_per_song
    assert (records[0].clip_id, records[0].group) == ("s000c0", "s000")
    assert records[3].clip_id == "s001c1"
    for record in records:
        assert record.dataset == corpus.name == "synthetic"
        assert record.clip_id.startswith(record.group)
        assert set(record.emotions) == set(EMOTIONS) and set(record.midlevel) == set(MIDLEVEL)
        assert all(0.0 <= v <= 1.0 for v in record.midlevel.values())
        assert record.label in CLASSES
        happier = record.emotions["happy"] > record.emotions["sad"]
        assert record.label == ("happy" if happier else "sad")
        assert {"tempo_bpm", "key_root", "mode", "percussion"} <= set(record.factors)
        assert 60 <= record.factors["tempo_bpm"] <= 160
        assert record.factors["key_root"] in range(12) and record.factors["mode"] in (0, 1)
    with pytest.raises(KeyError):
        corpus.load("s999c9")


def test_clips_of_a_song_share_key_mode_and_tempo():
    by_song = defaultdict(set)
    for record in SyntheticCorpus(SMALL).records():
        shared = tuple(record.factors[k] for k in ("tempo_bpm", "key_root", "mode"))
        by_song[record.group].add(shared)
    assert all(len(values) == 1 for values in by_song.values())


def test_splits_are_by_song_and_none_is_empty():
    config = SyntheticConfig(n_songs=20, clips_per_song=3, clip_seconds=1.0)
    records = SyntheticCorpus(config).records()
    split_of_song = defaultdict(set)
    for record in records:
        split_of_song[record.group].add(record.split)
    assert all(len(splits) == 1 for splits in split_of_song.values())
    assert {r.split for r in records} == set(SPLITS)
    minimal = SyntheticConfig(n_songs=3, clips_per_song=1, clip_seconds=1.0)
    assert sorted(r.split for r in SyntheticCorpus(minimal).records()) == sorted(SPLITS)


def test_score_events_are_consistent_with_the_clip():
    clip = render(seed=3, seconds=4.0, percussion=0.9, dissonance=0.6, rhythm_complexity=0.7)
    assert clip.score == sorted(clip.score, key=lambda e: e.onset_s)
    assert {e.stem for e in clip.score} == set(STEMS)
    for event in clip.score:
        assert 0.0 <= event.onset_s < 4.0 and event.duration_s > 0
        if isinstance(event, ChordEvent):
            root, third, fifth = event.pitches[:3]
            assert root % 12 == event.root_pc and fifth - root == 7
            assert third - root == (3 if event.quality == "min" else 4)
        elif event.stem == "drums":
            assert event.pitch in DRUM_PITCHES.values()
        else:
            assert isinstance(event, NoteEvent) and 20 <= event.pitch <= 100


def test_invalid_factors_are_rejected():
    with pytest.raises(ValueError):
        render_factors({"minorness": 1.5})
    with pytest.raises(ValueError):
        render_factors({"loudness": 0.5})
    with pytest.raises(ValueError):
        SyntheticConfig(split_fractions=(0.5, 0.5, 0.0))


# ------------------------------------------------------------------------------------------------
# Factors are audible
# ------------------------------------------------------------------------------------------------


def test_minorness_gives_minor_thirds_above_chord_roots():
    def minor_to_major_third(minorness: float) -> float:
        ratios = []
        for seed in SEEDS:
            chroma = root_relative_chroma(render(seed, minorness=minorness))
            ratios.append(chroma[:, 3].sum() / chroma[:, 4].sum())
        return float(np.mean(ratios))

    assert minor_to_major_third(0.95) > 1.5
    assert minor_to_major_third(0.05) < 0.5


def test_articulation_shortens_the_sounding_time_of_the_melody():
    def sounding_fraction(articulation: float) -> float:
        fractions = []
        for seed in SEEDS:
            melody = render(seed, articulation=articulation).stems["melody"]
            rms = librosa.feature.rms(y=melody, frame_length=1024, hop_length=256)[0]
            fractions.append(np.mean(rms > 0.1 * rms.max()))
        return float(np.mean(fractions))

    assert sounding_fraction(0.05) > 0.9
    assert sounding_fraction(0.95) < 0.5


def test_dissonance_spreads_chord_energy_beyond_the_triad_and_its_harmonics():
    def out_of_triad_chroma(dissonance: float) -> float:
        shares = []
        for seed in SEEDS:
            clip = render(seed, dissonance=dissonance)
            chroma = chords_chroma(clip)
            inside = total = 0.0
            for event, frames in chord_windows(clip, 512):
                energy = chroma[:, frames].sum(axis=1)
                inside += energy[[p % 12 for p in event.pitches[:3]]].sum()
                total += energy.sum()
            shares.append(1.0 - inside / total)
        return float(np.mean(shares))

    def inharmonic_share(dissonance: float) -> float:
        """Energy of the first 2 s of chords farther than 35 cents from any triad harmonic."""
        shares = []
        for seed in SEEDS:
            clip = render(seed, dissonance=dissonance)
            power = np.abs(np.fft.rfft(clip.stems["chords"][: 2 * SR])) ** 2
            freqs = np.fft.rfftfreq(2 * SR, 1 / SR)
            chord = next(e for e in clip.score if isinstance(e, ChordEvent))
            triad_hz = librosa.midi_to_hz(np.asarray(chord.pitches[:3]))
            partials = np.outer(triad_hz, np.arange(1, 25)).ravel()
            band = (freqs > 60) & (freqs < 5000)
            cents = 1200 * np.abs(np.log2(freqs[band, None] / partials[None, :])).min(axis=1)
            shares.append(power[band][cents > 35].sum() / power[band].sum())
        return float(np.mean(shares))

    assert out_of_triad_chroma(0.9) > out_of_triad_chroma(0.0) + 0.15
    assert inharmonic_share(0.9) > 2 * inharmonic_share(0.0)


def test_rhythm_stability_keeps_drum_onsets_on_the_grid():
    def median_grid_deviation_ms(stability: float) -> float:
        eighth = 60.0 / NEUTRAL["tempo_bpm"] / 2
        deviations = []
        for seed in SEEDS:
            drums = render(seed, rhythm_stability=stability, percussion=1.0).stems["drums"]
            onsets = librosa.onset.onset_detect(y=drums, sr=SR, hop_length=128, units="time")
            residual = (onsets / eighth - np.round(onsets / eighth)) * eighth
            deviations.append(np.median(np.abs(residual - np.median(residual))) * 1000)
        return float(np.mean(deviations))

    steady, unsteady = median_grid_deviation_ms(0.95), median_grid_deviation_ms(0.05)
    assert steady < 15 and unsteady > 2.5 * steady


def test_low_percussion_gives_a_silent_drum_stem():
    quiet = render(seconds=3.0, percussion=0.1)
    assert not np.any(quiet.stems["drums"])
    assert not any(e.stem == "drums" for e in quiet.score)
    assert np.any(render(seconds=3.0, percussion=0.2).stems["drums"])


def test_tonal_instability_adds_out_of_key_energy():
    def out_of_key_share(stability: float) -> float:
        c_major = [0, 2, 4, 5, 7, 9, 11]
        shares = []
        for seed in range(4):
            clip = render(seed, tonal_stability=stability)
            pitched = clip.stems["chords"] + clip.stems["melody"] + clip.stems["bass"]
            chroma = librosa.feature.chroma_stft(y=pitched, sr=SR, n_fft=4096).sum(axis=1)
            shares.append(1.0 - chroma[c_major].sum() / chroma.sum())
        return float(np.mean(shares))

    assert out_of_key_share(0.0) > out_of_key_share(1.0) + 0.08


def test_melodiousness_trades_leaps_for_steps_in_the_sung_pitch():
    def heard_pitches(clip: RenderedClip) -> tuple[np.ndarray, np.ndarray]:
        """Median YIN pitch (MIDI) inside each melody note, and the score's pitches."""
        hop = 256
        f0 = librosa.yin(clip.stems["melody"], fmin=100, fmax=1600, sr=SR, hop_length=hop)
        notes = [e for e in clip.score if e.stem == "melody"]
        heard = []
        for note in notes:
            first = int((note.onset_s + 0.03) * SR / hop)
            last = int((note.onset_s + max(0.05, 0.6 * note.duration_s)) * SR / hop)
            heard.append(np.median(librosa.hz_to_midi(f0[first : last + 1])))
        return np.asarray(heard), np.asarray([note.pitch for note in notes])

    def mean_leap_semitones(melodiousness: float) -> float:
        leaps = []
        for seed in SEEDS:
            heard, written = heard_pitches(render(seed, melodiousness=melodiousness))
            assert np.abs(heard - written).max() < 0.5  # the stem sounds what the score says
            leaps.append(np.mean(np.abs(np.diff(heard))))
        return float(np.mean(leaps))

    assert mean_leap_semitones(1.0) < 3.5
    assert mean_leap_semitones(0.0) > 2 * mean_leap_semitones(1.0)


# ------------------------------------------------------------------------------------------------
# Emotions, labels and the confound
# ------------------------------------------------------------------------------------------------


def test_confound_ties_percussion_to_happy_in_train_only():
    size = {"n_songs": 1000, "clips_per_song": 1, "clip_seconds": 1.0}
    confounded = SyntheticCorpus(SyntheticConfig(confound=1.0, **size)).records()
    assert percussion_gap(confounded, "train") > 0.4
    assert abs(percussion_gap(confounded, "val")) < 0.15
    assert abs(percussion_gap(confounded, "test")) < 0.15
    clean = SyntheticCorpus(SyntheticConfig(confound=0.0, **size)).records()
    assert abs(percussion_gap(clean, "train")) < 0.15


def test_confound_leaves_labels_splits_and_descriptors_unchanged():
    size = {"n_songs": 30, "clips_per_song": 2, "clip_seconds": 1.0}
    biased = SyntheticCorpus(SyntheticConfig(confound=1.0, **size)).records()
    unbiased = SyntheticCorpus(SyntheticConfig(confound=0.0, **size)).records()
    for a, b in zip(biased, unbiased):
        assert (a.label, a.split, a.midlevel) == (b.label, b.split, b.midlevel)
        assert all(a.emotions[k] == b.emotions[k] for k in ("happy", "sad", "valence"))


def test_percussion_does_not_move_happy_sad_or_valence():
    for name in ("happy", "sad", "valence"):
        assert "percussion" not in EMOTION_WEIGHTS[name]
    quiet = emotion_ratings({**NEUTRAL, "percussion": 0.0})
    loud = emotion_ratings({**NEUTRAL, "percussion": 1.0})
    assert all(quiet[k] == loud[k] for k in ("happy", "sad", "valence"))
    assert 0 < loud["energy"] - quiet["energy"] < 0.6  # a small effect on energy only


def test_default_corpus_is_roughly_balanced_and_emotions_stay_in_range():
    records = SyntheticCorpus().records()
    assert len(records) == 160
    assert 0.4 <= np.mean([r.label == "happy" for r in records]) <= 0.6
    low, high = EMOTION_RANGE
    assert all(low <= v <= high for r in records for v in r.emotions.values())


def test_emotions_follow_their_documented_drivers():
    config = SyntheticConfig(n_songs=300, clips_per_song=1, clip_seconds=1.0)
    records = SyntheticCorpus(config).records()

    def corr(emotion: str, driver: str) -> float:
        ratings = [r.emotions[emotion] for r in records]
        if driver == "tempo":
            values = [r.factors["tempo_bpm"] for r in records]
        else:
            values = [r.midlevel[driver] for r in records]
        return float(np.corrcoef(ratings, values)[0, 1])

    assert corr("valence", "minorness") < -0.4
    assert corr("energy", "tempo") > 0.3
    assert corr("energy", "articulation") > 0.3
    assert corr("tension", "dissonance") > 0.3
    assert corr("sad", "minorness") > 0.4
    assert corr("happy", "tempo") > 0.3
    assert corr("tender", "melodiousness") > 0.3
    assert corr("fear", "tonal_stability") < -0.3
