"""Tests of harmony analysis (chords, key, feature sets) and of the mid-level estimators."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from engine.datasets.synthetic import SyntheticConfig, SyntheticCorpus
from engine.music.descriptors import RAW_MEASURES, estimate_midlevel, raw_measures, squash_measures
from engine.music.harmony import (
    NO_CHORD,
    analyse_harmony,
    parse_chord,
    sharp_spelling,
)
from engine.music.harmony_features import (
    CHORD_FLAG_NAMES,
    INTERVAL_CLASS_NAMES,
    KEY_RELATIVE_NAMES,
    RELATIVE_CHORD_NAMES,
    THESIS_HARMONY_NAMES,
    chord_flags,
    interval_class_profile,
    key_relative_features,
    relative_chord_flags,
    thesis_harmony_features,
)
from engine.music.melody import diatonic_fit
from engine.vocabulary import MIDLEVEL, SAMPLE_RATE

SR = SAMPLE_RATE
BAR_SECONDS = 2.0

# (root pitch class, minor?) per bar
POP_IN_C = [(0, False), (9, True), (5, False), (7, False)]  # C  Am  F  G
MINOR_IN_A = [(9, True), (2, True), (4, False), (9, True)]  # Am Dm E  Am


def piano_tone(midi: int, n_samples: int) -> np.ndarray:
    """Synthesise a struck tone with 4 harmonics (amplitudes 0.6**k) and a slow exponential decay."""
    t = np.arange(n_samples) / SR
    f0 = 440.0 * 2.0 ** ((midi - 69) / 12)
    tone = sum(0.6**k * np.sin(2 * np.pi * f0 * (k + 1) * t) for k in range(4))
    return tone * np.exp(-0.8 * t)


def progression(chords: list[tuple[int, bool]], *, transpose: int = 0) -> np.ndarray:
    """One triad per bar around middle C, plus the root two octaves lower; float32, peak 0.5."""
    n = int(BAR_SECONDS * SR)
    bars = []
    for root, minor in chords:
        root = (root + transpose) % 12
        triad = [root, root + (3 if minor else 4), root + 7]
        bar = sum(piano_tone(60 + (pc - 60) % 12, n) for pc in triad)  # C4..B4
        bars.append(bar + piano_tone(36 + root, n))
    y = np.concatenate(bars)
    return (0.5 * y / np.abs(y).max()).astype(np.float32)


def present(flags: np.ndarray, names: tuple[str, ...]) -> set[str]:
    return {name for name, flag in zip(names, flags) if flag}


@pytest.fixture(scope="module")
def pop_harmony():
    return analyse_harmony(progression(POP_IN_C))


# ------------------------------------------------------------------------------------------------
# Harmony
# ------------------------------------------------------------------------------------------------


def test_feature_name_lists():
    assert CHORD_FLAG_NAMES[:3] == ("C", "C#", "D") and CHORD_FLAG_NAMES[12:14] == ("Cm", "C#m")
    assert len(CHORD_FLAG_NAMES) == 24 and len(set(CHORD_FLAG_NAMES)) == 24
    assert THESIS_HARMONY_NAMES[24:] == ("key_root", "tonic_top3", "key_mode")
    assert RELATIVE_CHORD_NAMES[:3] == ("I", "bII", "II")
    assert RELATIVE_CHORD_NAMES[12:] == (
        "i", "bii", "ii", "biii", "iii", "iv", "#iv", "v", "bvi", "vi", "bvii", "vii",
    )
    assert INTERVAL_CLASS_NAMES == ("ic1", "ic2", "ic3", "ic4", "ic5", "ic6")
    assert len(KEY_RELATIVE_NAMES) == 31


def test_chord_labels_use_sharps():
    assert sharp_spelling("Bb") == "A#" and sharp_spelling("Bbm") == "A#m"
    assert sharp_spelling("Eb") == "D#" and sharp_spelling("C#m") == "C#m"
    assert parse_chord("Abm") == (8, True) and parse_chord("E") == (4, False)
    assert parse_chord(NO_CHORD) is None


def test_hpcp_index_zero_is_c():
    h = analyse_harmony(progression([(0, False)]))
    assert set(np.argsort(h.hpcp_mean)[-3:].tolist()) == {0, 4, 7}  # C, E, G
    assert h.hpcp_mean.shape == (12,) and h.hpcp.shape[1] == 12 and h.bass_hpcp.shape[1] == 12
    assert int(np.argmax(h.bass_hpcp.sum(axis=0))) == 0  # the bass note is C


def test_pop_progression_chords_and_key(pop_harmony):
    h = pop_harmony
    assert present(chord_flags(h), CHORD_FLAG_NAMES) == {"C", "Am", "F", "G"}
    assert (h.key_root, h.key_mode) == (0, "major")
    assert 0.0 < h.key_strength <= 1.0
    assert all(label in CHORD_FLAG_NAMES for label in h.chords)
    features = thesis_harmony_features(h)
    assert features.shape == (27,)
    assert features[24:].tolist() == [0.0, 1.0, 0.0]  # key root C, tonic in top 3, major


def test_minor_progression_key():
    h = analyse_harmony(progression(MINOR_IN_A))
    assert present(chord_flags(h), CHORD_FLAG_NAMES) == {"Am", "Dm", "E"}
    assert (h.key_root, h.key_mode) == (9, "minor")
    assert thesis_harmony_features(h)[24:].tolist() == [9.0, 1.0, 1.0]


def test_relative_features_are_transposition_invariant(pop_harmony):
    in_d = analyse_harmony(progression(POP_IN_C, transpose=2))
    assert (in_d.key_root, in_d.key_mode) == (2, "major")
    assert present(chord_flags(in_d), CHORD_FLAG_NAMES) == {"D", "Bm", "G", "A"}
    for h in (pop_harmony, in_d):
        assert present(relative_chord_flags(h), RELATIVE_CHORD_NAMES) == {"I", "vi", "IV", "V"}
    np.testing.assert_allclose(
        interval_class_profile(in_d.hpcp_mean),
        interval_class_profile(pop_harmony.hpcp_mean),
        atol=0.02,
    )
    features = key_relative_features(in_d)
    assert features.shape == (31,)
    np.testing.assert_array_equal(features[:24], key_relative_features(pop_harmony)[:24])


def test_interval_class_profile_is_exactly_invariant():
    chroma = np.random.default_rng(0).random(12)
    profile = interval_class_profile(chroma)
    assert profile.shape == (6,) and profile.sum() == pytest.approx(1.0, abs=1e-6)
    for shift in range(12):
        rotated = interval_class_profile(np.roll(chroma, shift))
        np.testing.assert_allclose(rotated, profile, atol=1e-6)
    np.testing.assert_allclose(interval_class_profile(np.stack([chroma, chroma])), [profile] * 2)
    tritone = np.zeros(12)
    tritone[[0, 6]] = 1.0
    np.testing.assert_allclose(interval_class_profile(tritone), [0, 0, 0, 0, 0, 1])
    np.testing.assert_array_equal(interval_class_profile(np.zeros(12)), np.zeros(6))


def test_harmony_of_silence_and_short_input():
    for y in (np.zeros(SR, dtype=np.float32), np.zeros(100, dtype=np.float32)):
        h = analyse_harmony(y)
        assert set(h.chords) == {NO_CHORD}
        assert not chord_flags(h).any()
        for features in (thesis_harmony_features(h), key_relative_features(h)):
            assert np.isfinite(features).all()


# ------------------------------------------------------------------------------------------------
# Mid-level estimators
# ------------------------------------------------------------------------------------------------


ESTIMATOR_FLOORS = {"melodiousness": 0.55, "articulation": 0.8, "rhythm_stability": 0.6, "rhythm_complexity": 0.4,
                    "dissonance": 0.5, "tonal_stability": 0.55, "minorness": 0.6}


def test_estimators_rank_synthetic_clips_by_their_ground_truth():
    assert set(ESTIMATOR_FLOORS) == set(MIDLEVEL)
    config = SyntheticConfig(n_songs=40, clips_per_song=1, clip_seconds=8.0, seed=11)
    corpus = SyntheticCorpus(config)
    records = corpus.records()
    estimates = [estimate_midlevel(corpus.load(record.clip_id)) for record in records]
    rhos = {
        name: spearmanr([e[name] for e in estimates], [r.midlevel[name] for r in records])[0]
        for name in MIDLEVEL
    }
    # Each estimator has its own floor, about 0.1 below what it reaches (Spearman over 40 clips; measured
    # 2026-11-30: melodiousness 0.67, articulation 0.92, rhythm stability 0.73, rhythm complexity 0.52,
    # dissonance 0.63, tonal stability 0.70, minorness 0.74), so any one estimator breaking fails the test.
    # Speed is measured by benchmarks/bench_harmony.py, not here.
    failing = {name: round(rho, 3) for name, rho in rhos.items() if not rho >= ESTIMATOR_FLOORS[name]}
    assert not failing, (failing, rhos)


@pytest.mark.parametrize(
    "signal",
    [
        np.zeros(10 * SR, dtype=np.float32),
        (0.3 * np.random.default_rng(1).standard_normal(10 * SR)).astype(np.float32),
        progression(POP_IN_C)[:SR],
        np.full(SR, 0.5, dtype=np.float32),
        np.zeros(50, dtype=np.float32) + 0.1,
    ],
    ids=["silence", "white-noise", "one-second", "dc", "50-samples"],
)
def test_estimates_are_finite_and_in_range(signal):
    estimates = estimate_midlevel(signal)
    assert tuple(estimates) == MIDLEVEL
    values = np.asarray(list(estimates.values()))
    assert np.isfinite(values).all() and (values >= 0).all() and (values <= 1).all()


def test_estimates_accept_precomputed_harmony(pop_harmony):
    y = progression(POP_IN_C)
    assert estimate_midlevel(y, harmony=pop_harmony) == estimate_midlevel(y)


def test_squashing_is_monotone_and_neutral_when_unmeasurable():
    assert squash_measures({}) == {name: 0.5 for name in MIDLEVEL}
    for name, spec in RAW_MEASURES.items():
        step = abs(spec.width)
        low, high = spec.squash(spec.centre - step), spec.squash(spec.centre + step)
        assert (high > low) == (spec.width > 0), name
        assert spec.squash(spec.centre) == pytest.approx(0.5)
    assert set(raw_measures(progression(POP_IN_C))) == set(RAW_MEASURES)


def test_diatonic_fit():
    assert diatonic_fit(np.array([0, 2, 4, 5, 7, 9, 11])) == 1.0
    assert diatonic_fit(np.arange(12)) == pytest.approx(7 / 12)
