"""Property-based tests (hypothesis): loading, STFT, sonification and representations on random input.

Examples are kept few (``max_examples`` 25 to 50) and small so the module runs in well under a
minute; no example database is written (``database=None``: no ``.hypothesis/`` folder in the
repository).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.audio.chroma import chromagram, mean_chroma
from engine.audio.io import AudioLoadError, load_audio
from engine.audio.representations import CHROMA_HOP, SPECTROGRAM_HOP, VIT_SIZE, compute_representation, n_frames
from engine.audio.sonify import sonify
from engine.audio.stft import istft, stft

SR = 22_050
RATES = (8000, 11_025, 16_000, 22_050, 44_100, 48_000, 96_000)
SUBTYPES = ("PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE")
QUANTUM = {"PCM_U8": 2 / 2**8, "PCM_16": 2 / 2**16, "PCM_24": 2 / 2**24, "PCM_32": 2 / 2**32, "FLOAT": 1e-7, "DOUBLE": 1e-7}

pytestmark = pytest.mark.filterwarnings("ignore:n_fft=.* is too large for input signal:UserWarning")
common = settings(deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
seeds = st.integers(min_value=0, max_value=2**32 - 1)


@pytest.fixture(scope="module")
def scratch():
    """One folder for the whole module (hypothesis runs many examples per test function)."""
    with tempfile.TemporaryDirectory(prefix="properties-") as folder:
        yield Path(folder)


def signal(seed: int, n: int, *, channels: int = 1, scale: float = 0.5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shape = (n,) if channels == 1 else (n, channels)
    return np.clip(scale * rng.standard_normal(shape), -1.0, 1.0).astype(np.float32)


# ---------------------------------------------------------------------------------------------------
# load_audio


@settings(common, max_examples=50)
@given(
    n=st.integers(min_value=1, max_value=6000),
    rate=st.sampled_from(RATES),
    channels=st.integers(min_value=1, max_value=4),
    subtype=st.sampled_from(SUBTYPES),
    seed=seeds,
)
def test_load_audio_of_any_valid_wav_is_finite_mono_float32_at_22050(scratch, n, rate, channels, subtype, seed):
    data = signal(seed, n, channels=channels)
    path = scratch / "valid.wav"
    sf.write(path, data, rate, subtype=subtype)
    expected = n * SR / rate
    try:
        y = load_audio(path)
    except AudioLoadError as error:  # the one refusal a valid file can get: nothing left after resampling
        assert expected < 1 and "too short to resample" in str(error) and str(error).startswith(f"{path}: ")
        return
    assert y.dtype == np.float32 and y.ndim == 1 and np.isfinite(y).all()
    assert abs(len(y) - expected) <= 1, (len(y), expected)
    if rate == SR:  # no resampling: exactly the mean of the channels, up to the subtype's quantisation
        mono = data.mean(axis=1) if channels > 1 else data
        assert np.abs(y - mono).max() <= QUANTUM[subtype] + 1e-6


@settings(common, max_examples=25)
@given(content=st.binary(min_size=1, max_size=3000), suffix=st.sampled_from([".wav", ".mp3", ".flac", ".ogg", ".m4a", ".bin"]))
def test_load_audio_of_random_bytes_raises_only_audio_load_error(scratch, content, suffix):
    path = scratch / f"random{suffix}"
    path.write_bytes(content)
    _assert_audio_or_one_clear_error(path)


FORMATS = {  # name -> (suffix, soundfile format, subtype)
    "WAV PCM_16": (".wav", "WAV", "PCM_16"),
    "WAV FLOAT": (".wav", "WAV", "FLOAT"),
    "FLAC": (".flac", "FLAC", "PCM_16"),
    "OGG Vorbis": (".ogg", "OGG", "VORBIS"),
    "MP3": (".mp3", "MP3", None),
}


@settings(common, max_examples=30)
@given(
    seed=seeds,
    kind=st.sampled_from(list(FORMATS)),
    edits=st.lists(st.tuples(st.integers(min_value=0, max_value=400), st.integers(min_value=0, max_value=255)), max_size=8),
    cut=st.one_of(st.none(), st.integers(min_value=1, max_value=3000)),
)
def test_load_audio_of_a_damaged_file_raises_only_audio_load_error(scratch, seed, kind, edits, cut):
    """A small valid file with bytes overwritten (header included) and possibly cut short."""
    suffix, format, subtype = FORMATS[kind]
    path = scratch / f"damaged{suffix}"
    original = signal(seed, 2000, channels=2)
    sf.write(path, original, SR, format=format, subtype=subtype)
    content = bytearray(path.read_bytes())
    pristine = bytes(content)
    for position, value in edits:
        if position < len(content):
            content[position] = value
    path.write_bytes(bytes(content[:cut]))
    y = _assert_audio_or_one_clear_error(path)
    if y is None:
        return
    # What decodes is at most the original's length (plus an MP3 decoder's padding frames) ...
    assert len(y) <= len(original) + (2 * 1152 if kind == "MP3" else 0), (kind, len(y))
    # ... and an untouched lossless file decodes to exactly the channels' mean.
    untouched = all(position >= len(pristine) or pristine[position] == value for position, value in edits)
    if kind in ("WAV PCM_16", "WAV FLOAT", "FLAC") and cut is None and (not edits or untouched) and len(y) == len(original):
        np.testing.assert_allclose(y, original.mean(axis=1), atol=QUANTUM["PCM_16"] + 1e-6)


def _assert_audio_or_one_clear_error(path: Path) -> np.ndarray | None:
    """Return the decoded waveform, checked, or ``None`` after checking the one-line error."""
    try:
        y = load_audio(path)
    except AudioLoadError as error:
        message = str(error)
        assert message.startswith(f"{path}: ") and "\n" not in message, message
        return None
    # Some byte strings do decode (e.g. a damaged WAV whose data chunk survives): a valid waveform.
    assert y.dtype == np.float32 and y.ndim == 1 and len(y) >= 1 and np.isfinite(y).all()
    return y


# ---------------------------------------------------------------------------------------------------
# STFT, sonification, representations


@settings(common, max_examples=40)
@given(
    n=st.integers(min_value=1, max_value=3 * SR),
    fft_hop=st.sampled_from([(256, 64), (512, 128), (1024, 256), (2048, 512), (3198, 989)]),
    seed=seeds,
)
def test_stft_istft_round_trip_on_random_signals(n, fft_hop, seed):
    n_fft, hop = fft_hop
    y = signal(seed, n, scale=0.3)
    spectrum = stft(y, n_fft=n_fft, hop_length=hop)
    assert spectrum.shape == (n_fft // 2 + 1, 1 + n // hop) and spectrum.dtype == np.complex64
    back = istft(spectrum, n_fft=n_fft, hop_length=hop, length=n)
    assert back.shape == (n,) and back.dtype == np.float32
    assert np.abs(back - y).max() <= 1e-4


@settings(common, max_examples=30)
@given(
    n=st.integers(min_value=1, max_value=2 * SR),
    height=st.integers(min_value=1, max_value=40),
    width=st.integers(min_value=1, max_value=40),
    scale=st.sampled_from([0.0, 1e-4, 0.3, 1.0]),
    loudness=st.sampled_from(["rms", "peak"]),
    power=st.sampled_from([0.5, 1.0, 2.0, 4.0]),
    floor=st.sampled_from([0.0, 0.1, 0.5]),
    complement=st.booleans(),
    with_nan=st.booleans(),
    seed=seeds,
)
def test_sonify_with_random_relevance_is_finite_same_length_and_never_clips(
    n, height, width, scale, loudness, power, floor, complement, with_nan, seed
):
    rng = np.random.default_rng(seed)
    y = signal(seed, n, scale=scale) if scale else np.zeros(n, dtype=np.float32)
    relevance = rng.normal(size=(height, width)).astype(np.float32)  # any sign and scale
    if with_nan:
        relevance[rng.random((height, width)) < 0.2] = np.nan
    out = sonify(y, relevance, power=power, floor=floor, complement=complement, loudness=loudness)
    assert out.shape == y.shape and out.dtype == np.float32
    assert np.isfinite(out).all()
    assert np.abs(out).max(initial=0.0) <= 1.0


@settings(common, max_examples=25)
@given(
    n=st.integers(min_value=1, max_value=3 * SR),
    clip_seconds=st.sampled_from([0.5, 1.0, 2.0, 3.0]),
    scale=st.sampled_from([0.0, 1e-6, 0.1, 1.0, 1e4]),
    seed=seeds,
)
def test_representations_of_random_short_signals_are_finite_with_documented_shapes(n, clip_seconds, scale, seed):
    y = signal(seed, n, scale=1.0) * np.float32(scale)
    shapes = {
        "spectrogram": (149, n_frames(clip_seconds, SPECTROGRAM_HOP)),
        "chromagram": (12, n_frames(clip_seconds, CHROMA_HOP)),
        "mean_chroma": (12,),
        "vit_spectrogram": (VIT_SIZE, VIT_SIZE),
    }
    for name, shape in shapes.items():
        x = compute_representation(name, y, clip_seconds=clip_seconds)
        assert x.shape == shape and x.dtype == np.float32, name
        assert np.isfinite(x).all() and x.min() >= 0.0 and x.max() <= 1.0, name


@settings(common, max_examples=25)
@given(n=st.integers(min_value=1, max_value=2 * SR), hop=st.sampled_from([256, 512, 1024]), seed=seeds)
def test_chromagram_of_random_signals_is_finite_in_unit_range(n, hop, seed):
    chroma = chromagram(signal(seed, n), hop_length=hop)
    assert chroma.shape == (12, 1 + n // hop) and chroma.dtype == np.float32
    assert np.isfinite(chroma).all() and chroma.min() >= 0.0 and chroma.max() <= 1.0 + 1e-6
    profile = mean_chroma(chroma)
    assert profile.shape == (12,) and np.isfinite(profile).all()
