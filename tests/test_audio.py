"""Audio features on small generated signals: STFT, spectrograms, chroma, sonification, loading."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from engine.audio.chroma import PITCH_CLASSES, chromagram, mean_chroma
from engine.audio.io import AudioLoadError, decode_audio, encode_audio, load_audio
from engine.audio.representations import REPRESENTATIONS, compute_representation
from engine.audio.sonify import gain_mask, power_gain, sonify
from engine.audio.spectrogram import amplitude_to_db, log_frequency_filterbank, log_spectrogram
from engine.audio.stft import istft, stft

SR = 22_050


def tone(frequencies, seconds=2.0, sr=SR):
    t = np.arange(int(seconds * sr)) / sr
    return (sum(np.sin(2 * np.pi * f * t) for f in frequencies) / len(frequencies) * 0.5).astype(np.float32)


def snr_db(reference: np.ndarray, estimate: np.ndarray) -> float:
    noise = reference - estimate
    return 10 * np.log10(np.sum(reference**2) / max(np.sum(noise**2), 1e-20))


@pytest.mark.parametrize("n_fft, hop", [(2048, 512), (3198, 989), (1024, 256)])
@pytest.mark.parametrize("seed", [0, 1])
def test_stft_round_trip(n_fft, hop, seed):
    y = np.random.default_rng(seed).normal(scale=0.1, size=SR * 2).astype(np.float32)
    spectrum = stft(y, n_fft=n_fft, hop_length=hop)
    assert spectrum.shape == (n_fft // 2 + 1, 1 + len(y) // hop)
    assert snr_db(y, istft(spectrum, n_fft=n_fft, hop_length=hop, length=len(y))) > 60


def test_sonification_with_unit_relevance_reproduces_input():
    y = tone([220, 330, 440], seconds=3.0)
    out = sonify(y, np.ones((224, 224), dtype=np.float32), loudness="none")
    assert out.shape == y.shape and out.dtype == np.float32
    assert snr_db(y, out) >= 40


def test_sonification_keeps_relevant_band_and_removes_the_rest():
    low, high = tone([200], seconds=2.0), tone([6000], seconds=2.0)
    relevance = np.zeros((224, 224), dtype=np.float32)
    relevance[: 224 * 1000 // 11025] = 1.0  # rows below ~1 kHz (row 0 = lowest frequency)
    out = sonify(low + high, relevance, loudness="none")
    assert snr_db(low, out) > 15  # the 200 Hz tone survives, the 6 kHz tone is gone


def test_sonified_plus_complement_reconstructs_the_input():
    y = tone([220, 3000], seconds=2.0)
    relevance = np.random.default_rng(0).random((224, 224)).astype(np.float32)
    kept = sonify(y, relevance, loudness="none")
    ignored = sonify(y, relevance, complement=True, loudness="none")
    assert snr_db(y, kept + ignored) >= 40


def test_sonification_matches_loudness_and_never_clips():
    y = tone([220, 330], seconds=2.0)
    relevance = np.zeros((224, 224), dtype=np.float32)
    relevance[:20] = 1.0
    out = sonify(y, relevance)  # default: RMS matched to the original
    rms = lambda v: float(np.sqrt(np.mean(v.astype(np.float64) ** 2)))
    assert rms(out) == pytest.approx(rms(y), rel=0.02) and np.abs(out).max() <= 1.0
    with pytest.raises(ValueError, match="loudness"):
        sonify(y, relevance, loudness="lufs")


def test_time_smoothing_removes_frame_rate_flutter():
    relevance = np.zeros((8, 224), dtype=np.float32)
    relevance[:, ::2] = 1.0  # on/off every frame
    rough = gain_mask(relevance, shape=(100, 224), power=1.0)
    smooth = gain_mask(relevance, shape=(100, 224), power=1.0, smooth_frames=9)
    assert np.abs(np.diff(smooth, axis=1)).mean() < 0.2 * np.abs(np.diff(rough, axis=1)).mean()
    with pytest.raises(ValueError, match="smooth_frames"):
        gain_mask(relevance, shape=(100, 224), smooth_frames=0)


def test_power_gain_is_monotone_and_validates():
    r = np.linspace(0, 1, 11)
    assert np.all(np.diff(power_gain(r, power=2.0)) > 0)
    assert power_gain(r, power=2.0)[0] == 0 and power_gain(r, power=2.0, floor=0.2)[0] == pytest.approx(0.2)
    with pytest.raises(ValueError, match="floor"):
        power_gain(r, floor=1.5)


def test_chroma_of_c_major_triad_peaks_on_c_e_g():
    c_major = tone([261.63, 329.63, 392.00, 523.25, 659.26, 783.99])
    profile = mean_chroma(chromagram(c_major))
    top3 = {PITCH_CLASSES[i] for i in np.argsort(profile)[-3:]}
    assert top3 == {"C", "E", "G"}


def test_chroma_of_a_minor_triad_peaks_on_a_c_e():
    a_minor = tone([220.0, 261.63, 329.63, 440.0])
    top3 = {PITCH_CLASSES[i] for i in np.argsort(mean_chroma(chromagram(a_minor)))[-3:]}
    assert top3 == {"A", "C", "E"}


def test_log_frequency_filterbank_has_149_bands_like_chowdhury():
    bank = log_frequency_filterbank()
    assert bank.shape == (149, 1025)
    assert np.allclose(bank.sum(axis=1), 1.0, atol=1e-5)


def test_log_spectrogram_is_db_relative_to_max():
    db = log_spectrogram(tone([440]))
    assert db.max() == pytest.approx(0.0) and db.min() >= -80.0
    assert np.all(amplitude_to_db(np.zeros((3, 3))) <= 0)


@pytest.mark.parametrize("name, shape", [("spectrogram", (149, 313)), ("chromagram", (12, 431)), ("mean_chroma", (12,)), ("vit_spectrogram", (224, 224)),
                                         ("log_spectrogram_224", (224, 224))])
def test_representations_have_thesis_shapes_for_10_seconds(name, shape):
    y = np.random.default_rng(0).normal(scale=0.1, size=SR * 10).astype(np.float32)
    x = compute_representation(name, y, clip_seconds=10.0)
    assert x.shape == shape and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 1.0


def test_unknown_representation_is_named():
    with pytest.raises(ValueError, match="unknown representation 'cqt'"):
        compute_representation("cqt", np.zeros(100, dtype=np.float32), clip_seconds=1.0)
    assert set(REPRESENTATIONS) == {"spectrogram", "chromagram", "mean_chroma", "vit_spectrogram", "log_spectrogram_224"}


@pytest.mark.parametrize("fmt, subtype, suffix", [("WAV", "PCM_16", ".wav"), ("FLAC", None, ".flac"), ("OGG", "VORBIS", ".ogg"), ("MP3", None, ".mp3")])
def test_load_audio_any_format_to_mono_22050(tmp_path, fmt, subtype, suffix):
    stereo = np.stack([tone([440], sr=44_100), tone([440], sr=44_100)], axis=1)
    path = tmp_path / f"clip{suffix}"
    sf.write(path, stereo, 44_100, format=fmt, subtype=subtype)
    y = load_audio(path)
    assert y.dtype == np.float32 and y.ndim == 1
    assert abs(len(y) - 2 * SR) < 0.05 * SR  # MP3 adds encoder padding
    spectrum = np.abs(np.fft.rfft(y[: SR]))
    assert abs(np.argmax(spectrum) * SR / SR - 440) < 3


def test_load_audio_offset_and_duration(tmp_path):
    path = tmp_path / "clip.wav"
    sf.write(path, tone([440], seconds=3.0), SR)
    assert len(load_audio(path, offset_s=1.0, duration_s=1.5)) == int(1.5 * SR)


@pytest.mark.parametrize("content, message", [(b"", "empty"), (b"this is not audio at all" * 40, "cannot decode")])
def test_bad_audio_gets_one_clear_error_naming_the_file(tmp_path, content, message):
    path = tmp_path / "broken.wav"
    path.write_bytes(content)
    with pytest.raises(AudioLoadError, match=message) as error:
        load_audio(path)
    assert "broken.wav" in str(error.value)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(AudioLoadError, match="no such file"):
        load_audio(tmp_path / "nothing.mp3")


def test_encode_decode_round_trip():
    y = tone([440], seconds=1.0)
    decoded, rate = decode_audio(encode_audio(y))
    assert rate == SR and abs(len(decoded) - len(y)) < 2048
    assert np.corrcoef(decoded[: len(y) - 2048], y[: len(y) - 2048])[0, 1] > 0.95


@pytest.mark.parametrize("source, target", [((149, 313), (224, 224)), ((224, 224), (1600, 224)), ((5, 7), (3, 2)), ((1, 9), (4, 4))])
def test_numpy_resize_matches_torch_bilinear(source, target):
    # NumPy keeps torch out of audio reading and sonification; torch's own source positions are
    # float32, so the two agree to float32 rounding of the position (times the local slope).
    torch = pytest.importorskip("torch")
    from engine.audio.spectrogram import resize

    image = np.random.default_rng(0).normal(size=source).astype(np.float32)
    expected = torch.nn.functional.interpolate(torch.from_numpy(image)[None, None], size=target, mode="bilinear",
                                               align_corners=False)[0, 0].numpy()
    result = resize(image, shape=target)
    assert result.shape == target and result.dtype == np.float32
    assert np.abs(result - expected).max() < 2e-4
    constant = resize(np.full(source, 3.5, dtype=np.float32), shape=target)
    assert np.allclose(constant, 3.5, atol=1e-6)
