"""Bad audio input: every file gives a correct waveform or one clear error naming it, never a crash.

A corpus of broken and unusual files is generated in ``tmp_path`` (numpy, soundfile, raw bytes) and
run through three doors: :func:`engine.audio.io.load_audio`, ``python -m precompute explain`` (exit 2
and one ``error: <file>: <reason>`` line on stderr) and a dataset run on a folder dataset (bad clips
recorded in ``skipped_clips`` and left out, the run finishes). ``docs/bad_inputs.md`` tabulates the
outcomes these tests check.
"""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
import sys
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import soundfile as sf
from helpers import query

from engine.audio.io import AudioLoadError, fit_length, load_audio
from engine.audio.representations import REPRESENTATIONS, compute_representation
from engine.music.features import MUSIC_FEATURES, music_features

SR = 22_050
REPOSITORY = Path(__file__).resolve().parents[1]
THESIS_EXAMPLES = REPOSITORY.parent / "shared" / "data" / "thesis-examples"
SHAPES_10S = {"spectrogram": (149, 313), "chromagram": (12, 431), "mean_chroma": (12,), "vit_spectrogram": (224, 224),
              "log_spectrogram_224": (224, 224)}


# ---------------------------------------------------------------------------------------------------
# the corpus


def noise(n: int, *, channels: int = 1, seed: int = 0, scale: float = 0.1) -> np.ndarray:
    shape = (n,) if channels == 1 else (n, channels)
    return (scale * np.random.default_rng(seed).standard_normal(shape)).clip(-1, 1).astype(np.float32)


def tone(seconds: float, *, sr: int = SR, frequencies=(440.0,), channels: int = 1) -> np.ndarray:
    t = np.arange(int(round(seconds * sr))) / sr
    y = (0.3 * sum(np.sin(2 * np.pi * f * t) for f in frequencies) / len(frequencies)).astype(np.float32)
    return y if channels == 1 else np.repeat(y[:, None], channels, axis=1)


def write(path: Path, data: np.ndarray, sr: int, **kwargs) -> Path:
    sf.write(path, data, sr, **kwargs)
    return path


def write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def wav_bytes(data: np.ndarray, sr: int, subtype: str = "PCM_16") -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, data, sr, format="WAV", subtype=subtype)
    return buffer.getvalue()


def mp3_in_wav(y: np.ndarray, sr: int) -> bytes:
    """MP3 data in a RIFF/WAVE container (format tag 0x55), laid out like the thesis's own examples.

    libsndfile writes MP3 but not MP3 inside WAV, so the MP3 stream is wrapped by hand: a 30-byte
    MPEGLAYER3WAVEFORMAT ``fmt `` chunk, a ``fact`` chunk (sample count) and the ``data`` chunk.
    """
    buffer = io.BytesIO()
    sf.write(buffer, y, sr, format="MP3")
    mp3 = buffer.getvalue()
    channels = 1 if y.ndim == 1 else y.shape[1]
    block = 1152 if sr >= 32_000 else 576
    fmt = struct.pack("<HHIIHHHHIHHH", 0x55, channels, sr, 16_000, 1, 0, 12, 1, 2, block, 1, 1393)
    body = (
        b"WAVE"
        + b"fmt " + struct.pack("<I", len(fmt)) + fmt
        + b"fact" + struct.pack("<I", 4) + struct.pack("<I", y.shape[0])
        + b"data" + struct.pack("<I", len(mp3)) + mp3 + (b"\0" if len(mp3) % 2 else b"")
    )
    return b"RIFF" + struct.pack("<I", len(body)) + body


def damaged_ogg_setup_header() -> bytes:
    """Return OGG Vorbis whose codebook header is damaged.

    FFmpeg cannot open the codec, and Essentia's in-process AudioLoader then crashes (segfault) when
    it is destroyed.
    """
    buffer = io.BytesIO()
    sf.write(buffer, np.zeros((2000, 2), np.float32), SR, format="OGG", subtype="VORBIS")
    content = bytearray(buffer.getvalue())
    content[content.index(b"\x05vorbis") + 16] = 0xAB  # first codebook's layout flags
    return bytes(content)


def mp3_claiming_2e31_frames() -> bytes:
    """2 s of MP3 whose Xing header announces 2^31 MPEG frames (libsndfile: 1.2e12 samples)."""
    buffer = io.BytesIO()
    sf.write(buffer, tone(2.0), SR, format="MP3")
    content = bytearray(buffer.getvalue())
    xing = content.index(b"Xing")
    content[xing + 8 : xing + 12] = b"\x7f\xff\xff\xff"
    return bytes(content)


def with_samples(values: dict[int, float], n: int = SR) -> np.ndarray:
    y = noise(n, seed=3)
    for index, value in values.items():
        y[index] = value
    return y


@dataclass(frozen=True)
class Bad:
    """A file ``load_audio`` must refuse with ``AudioLoadError`` whose message contains ``reason``."""

    make: Callable[[Path], Path]
    reason: str
    how: str


@dataclass(frozen=True)
class Good:
    """A file ``load_audio`` must read; ``length`` is the expected number of samples at 22,050 Hz."""

    make: Callable[[Path], Path]
    length: int
    how: str
    tolerance: int = 1  # soxr rounds the resampled length


BAD: dict[str, Bad] = {
    "empty file": Bad(lambda d: write_bytes(d / "empty.wav", b""), "file is empty", "0 bytes"),
    "WAV header only": Bad(
        lambda d: write_bytes(d / "header_only.wav", wav_bytes(noise(SR), SR)[:44]), "no audio samples",
        "first 44 bytes of a PCM_16 WAV",
    ),
    "random bytes .wav": Bad(lambda d: write_bytes(d / "random.wav", np.random.default_rng(0).bytes(4096)), "cannot decode audio", "4 KiB of random bytes"),
    "random bytes with a chance MP3 frame": Bad(
        lambda d: write_bytes(d / "chance_frame.wav", np.random.default_rng(1).bytes(4096)), "chance frame headers",
        "4 KiB of random bytes (numpy seed 1) in which FFmpeg finds one MP3 frame header",
    ),
    "random bytes .mp3": Bad(lambda d: write_bytes(d / "random.mp3", np.random.default_rng(2).bytes(4096)), "cannot decode audio", "4 KiB of random bytes"),
    "random bytes .flac": Bad(lambda d: write_bytes(d / "random.flac", np.random.default_rng(3).bytes(4096)), "cannot decode audio", "4 KiB of random bytes"),
    "random bytes .ogg": Bad(lambda d: write_bytes(d / "random.ogg", np.random.default_rng(4).bytes(4096)), "cannot decode audio", "4 KiB of random bytes"),
    "text renamed .wav": Bad(
        lambda d: write_bytes(d / "notes.wav", b"These are my notes, not audio.\n" * 40), "cannot decode audio",
        "1.2 KB of ASCII text",
    ),
    "all-NaN float WAV": Bad(
        lambda d: write(d / "nan.wav", np.full(SR, np.nan, dtype=np.float32), SR, subtype="FLOAT"),
        "non-finite samples (22050 of 22050", "1 s of NaN, FLOAT WAV",
    ),
    "one NaN sample": Bad(
        lambda d: write(d / "one_nan.wav", with_samples({100: np.nan}), SR, subtype="FLOAT"),
        "non-finite samples (1 of 22050", "1 s of noise with one NaN, FLOAT WAV",
    ),
    "+inf/-inf samples": Bad(
        lambda d: write(d / "inf.wav", with_samples({100: np.inf, 200: -np.inf}), SR, subtype="FLOAT"),
        "non-finite samples (2 of 22050", "1 s of noise with one +inf and one -inf, FLOAT WAV",
    ),
    "damaged OGG Vorbis header": Bad(
        lambda d: write_bytes(d / "damaged.ogg", damaged_ogg_setup_header()), "FFmpeg: Unable to instantiate codec",
        "OGG Vorbis with one byte of its codebook header changed (crashes Essentia in process)",
    ),
    "absurd float values": Bad(
        lambda d: write(d / "huge.wav", with_samples({100: 1e30}), SR, subtype="FLOAT"),
        "implausible sample values", "1 s of noise with one sample at 1e30, FLOAT WAV",
    ),
    "1 sample at 96 kHz": Bad(
        lambda d: write(d / "one_sample_96k.wav", np.array([0.5], dtype=np.float32), 96_000), "too short to resample",
        "a single sample at 96 kHz (0.23 samples at 22,050 Hz)",
    ),
    "directory": Bad(lambda d: _mkdir(d / "folder.wav"), "is a directory", "a folder named folder.wav"),
    "missing path": Bad(lambda d: d / "missing.wav", "no such file", "a path that does not exist"),
}


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path


GOOD: dict[str, Good] = {
    "silence": Good(lambda d: write(d / "silence.wav", np.zeros(SR, dtype=np.float32), SR), SR, "1 s of zeros, PCM_16"),
    "10 samples": Good(lambda d: write(d / "ten.wav", noise(10), SR), 10, "10 samples of noise at 22,050 Hz"),
    "10 samples at 8 kHz": Good(lambda d: write(d / "ten_8k.wav", noise(10), 8000), 28, "10 samples of noise at 8 kHz"),
    "WAV cut mid-data": Good(
        lambda d: write_bytes(d / "cut.wav", wav_bytes(noise(SR), SR)[: 44 + 1000]), 500,
        "PCM_16 WAV whose header announces 1 s, cut after 500 samples",
    ),
    "MP3 header claiming 2^31 frames": Good(
        lambda d: write_bytes(d / "xing.mp3", mp3_claiming_2e31_frames()), 2 * SR,
        "2 s MP3 whose Xing header claims 2^31 frames", tolerance=SR // 20,
    ),
    "float beyond +-1": Good(
        lambda d: write(d / "loud.wav", 32_768 * noise(SR), SR, subtype="FLOAT"), SR,
        "float WAV on the int16 scale (peak ~ 13,000)",
    ),
    "MP3 inside WAV": Good(
        lambda d: write_bytes(d / "mp3_in.wav", mp3_in_wav(tone(2.0, sr=44_100, channels=2), 44_100)), 2 * SR,
        "2 s stereo MP3 stream in a RIFF container (tag 0x55)", tolerance=SR // 20,
    ),
    **{
        f"{rate} Hz": Good(lambda d, rate=rate: write(d / f"rate_{rate}.wav", tone(1.0, sr=rate), rate), SR, f"1 s tone at {rate} Hz, PCM_16")
        for rate in (8000, 44_100, 48_000, 96_000)
    },
    **{
        f"{channels} channel(s) at 48 kHz": Good(
            lambda d, channels=channels: write(d / f"ch_{channels}.wav", tone(1.0, sr=48_000, channels=channels), 48_000),
            SR, "1 s tone in every channel, 48 kHz",
        )
        for channels in (1, 2, 6)
    },
    **{
        f"{subtype} WAV": Good(
            lambda d, subtype=subtype: write(d / f"sub_{subtype}.wav", tone(1.0, channels=2), SR, subtype=subtype), SR,
            f"1 s stereo tone, {subtype}",
        )
        for subtype in ("PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE")
    },
}


def assert_one_clear_error(error: AudioLoadError, path: Path, reason: str) -> None:
    message = str(error)
    assert "\n" not in message, message
    assert message.startswith(f"{path}: "), message
    assert reason in message, message


# ---------------------------------------------------------------------------------------------------
# load_audio


@pytest.mark.parametrize("name", list(BAD))
def test_load_audio_refuses_bad_input_with_one_clear_error(tmp_path, name):
    case = BAD[name]
    path = case.make(tmp_path)
    with pytest.raises(AudioLoadError) as error:
        load_audio(path)
    assert_one_clear_error(error.value, path, case.reason)


@pytest.mark.parametrize("name", list(GOOD))
def test_load_audio_reads_unusual_but_valid_input(tmp_path, name):
    case = GOOD[name]
    y = load_audio(case.make(tmp_path))
    assert y.dtype == np.float32 and y.ndim == 1 and y.flags.c_contiguous
    assert abs(len(y) - case.length) <= case.tolerance, len(y)
    assert np.isfinite(y).all()


def test_silence_comes_back_as_zeros(tmp_path):
    assert not load_audio(GOOD["silence"].make(tmp_path)).any()


TONES = [n for n in GOOD if n.endswith(" Hz") or "channel" in n or n.startswith(("PCM_", "FLOAT ", "DOUBLE "))]


@pytest.mark.parametrize("name", TONES)
def test_resampled_downmixed_and_converted_audio_keeps_its_content(tmp_path, name):
    y = load_audio(GOOD[name].make(tmp_path))
    reference = tone(1.0)[: len(y)]  # every such case is a 440 Hz tone at amplitude 0.3, from t = 0
    core = slice(200, len(y) - 200)  # resampling filters ring at the edges
    assert np.corrcoef(y[core], reference[core])[0, 1] > 0.999
    assert np.abs(y[core]).max() == pytest.approx(0.3, abs=0.01)


def test_mp3_inside_wav_is_decoded_to_its_tone(tmp_path):
    y = load_audio(GOOD["MP3 inside WAV"].make(tmp_path))
    spectrum = np.abs(np.fft.rfft(y[:SR]))
    assert abs(np.argmax(spectrum) * SR / SR - 440) < 3


def test_thesis_example_with_mp3_inside_wav(tmp_path):
    examples = sorted(THESIS_EXAMPLES.glob("*_original.wav")) if THESIS_EXAMPLES.is_dir() else []
    mp3_in_wav_files = [p for p in examples if sf.info(str(p)).subtype == "MPEG_LAYER_III"]
    if not mp3_in_wav_files:
        pytest.skip(f"no MP3-in-WAV thesis example in {THESIS_EXAMPLES}")
    path = mp3_in_wav_files[0]
    y = load_audio(path, duration_s=10.0)
    assert y.dtype == np.float32 and np.isfinite(y).all() and abs(len(y) - 10 * SR) <= 1
    assert 0.01 < np.abs(y).max() <= 1.0


def test_ffmpeg_fallback_decodes_real_audio_but_not_chance_frames(tmp_path, monkeypatch):
    import engine.audio.io as audio_io

    def no_libsndfile(*args, **kwargs):
        raise RuntimeError("libsndfile disabled by the test")

    monkeypatch.setattr(audio_io, "_read_soundfile", no_libsndfile)
    for seconds in (0.5, 2.0):
        path = write(tmp_path / f"real_{seconds}.mp3", tone(seconds, sr=44_100), 44_100)
        y = load_audio(path)
        assert abs(len(y) - seconds * SR) < 0.1 * SR and np.isfinite(y).all()
    case = BAD["random bytes with a chance MP3 frame"]
    path = case.make(tmp_path)
    with pytest.raises(AudioLoadError) as error:
        load_audio(path)
    assert_one_clear_error(error.value, path, "libsndfile disabled by the test; FFmpeg: only 0.10 s of mp3 found in 4096 bytes")


@pytest.mark.parametrize("child, reason", [
    ("import os, signal; os.kill(os.getpid(), signal.SIGSEGV)", "FFmpeg: decoder crashed (SIGSEGV)"),
    ("import time; time.sleep(30)", "FFmpeg: decoder did not finish in 0.5 s"),
])
def test_a_crashing_or_hanging_ffmpeg_decoder_gives_one_clear_error(tmp_path, monkeypatch, child, reason):
    import engine.audio.io as audio_io

    monkeypatch.setattr(audio_io, "_FFMPEG_CHILD", child)
    monkeypatch.setattr(audio_io, "FFMPEG_TIMEOUT_S", 0.5)
    path = write_bytes(tmp_path / "clip.m4a", b"not audio that libsndfile knows" * 10)
    with pytest.raises(AudioLoadError) as error:
        load_audio(path)
    assert_one_clear_error(error.value, path, reason)


def test_offset_past_the_end_and_invalid_excerpts_are_named(tmp_path):
    path = write(tmp_path / "two_seconds.wav", tone(2.0), SR)
    for kwargs, reason in [
        ({"offset_s": 5.0}, "offset 5 s is past the end of the audio (2.000 s)"),
        ({"offset_s": -1.0}, "offset must be a number of seconds >= 0"),
        ({"offset_s": float("nan")}, "offset must be a number of seconds >= 0"),
        ({"duration_s": 0.0}, "duration must be a positive number of seconds"),
    ]:
        with pytest.raises(AudioLoadError) as error:
            load_audio(path, **kwargs)
        assert_one_clear_error(error.value, path, reason)
    assert len(load_audio(path, offset_s=1.5, duration_s=10.0)) == SR // 2  # an excerpt running past the end is cut


@pytest.fixture(scope="module")
def long_file(tmp_path_factory) -> Path:
    """11 minutes of 8 kHz int16 noise (10.6 MB), written block by block."""
    path = tmp_path_factory.mktemp("long") / "eleven_minutes.wav"
    rng = np.random.default_rng(0)
    with sf.SoundFile(path, "w", samplerate=8000, channels=1, subtype="PCM_16") as handle:
        for _ in range(66):  # 66 blocks of 10 s
            handle.write(rng.integers(-3000, 3000, 80_000, dtype=np.int16))
    return path


def test_excerpt_of_a_long_file_decodes_only_the_excerpt(long_file):
    tracemalloc.start()
    started = time.perf_counter()
    y = load_audio(long_file, offset_s=300.0, duration_s=10.0)
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(y) == 10 * SR and np.isfinite(y).all()
    # The whole file as float32 is 21 MB (58 MB resampled); the 10 s excerpt needs about 1.5 MB.
    assert peak < 8e6, f"peak {peak / 1e6:.1f} MB"
    assert seconds < 2.0


def test_a_long_file_loads_whole_in_bounded_time(long_file):
    started = time.perf_counter()
    y = load_audio(long_file)
    assert abs(len(y) - 660 * SR) <= 1 and y.dtype == np.float32
    assert time.perf_counter() - started < 20.0


# ---------------------------------------------------------------------------------------------------
# what the pipeline computes from silent and very short audio (padded to the clip length by fit_length)


@pytest.mark.parametrize("signal", ["silence", "10 samples", "1 sample"])
def test_features_of_silent_and_very_short_clips_are_finite(signal):
    raw = {"silence": np.zeros(10 * SR, np.float32), "10 samples": noise(10), "1 sample": np.array([0.5], np.float32)}[signal]
    y = fit_length(raw, n_samples=10 * SR)
    for name in REPRESENTATIONS:
        x = compute_representation(name, y, clip_seconds=10.0)
        assert x.shape == SHAPES_10S[name] and x.dtype == np.float32
        assert np.isfinite(x).all() and 0.0 <= x.min() and x.max() <= 1.0, name
    features = music_features(y)
    assert set(features) == set(MUSIC_FEATURES)
    for name, values in features.items():
        assert values.shape == (len(MUSIC_FEATURES[name]),) and np.isfinite(values).all(), name


def test_silence_maps_to_the_floor_of_the_spectrogram_images():
    silence = np.zeros(10 * SR, np.float32)
    for name in ("spectrogram", "vit_spectrogram", "log_spectrogram_224"):
        assert compute_representation(name, silence, clip_seconds=10.0).max() == 0.0


# ---------------------------------------------------------------------------------------------------
# python -m precompute explain


EXPLAIN_BAD = [
    "empty file", "random bytes .wav", "text renamed .wav", "all-NaN float WAV", "damaged OGG Vorbis header", "directory",
    "missing path",
]
EXPLAIN_GOOD = {
    "valid": lambda d: write(d / "valid.flac", tone(3.0, frequencies=(261.63, 329.63, 392.0)), SR),
    "10 samples": GOOD["10 samples"].make,
    "silence": GOOD["silence"].make,
    "6 channel(s) at 48 kHz": GOOD["6 channel(s) at 48 kHz"].make,
}


@dataclass(frozen=True)
class Explained:
    path: Path
    out: Path
    result: subprocess.CompletedProcess


@pytest.fixture(scope="module")
def explained(tiny_db, tmp_path_factory) -> dict[str, Explained]:
    """``python -m precompute explain`` on every case of the explain subset, three processes at a time.

    Each command spends most of its time importing torch; running them side by side keeps the
    module's wall time down.
    """
    jobs = {}
    for name, make in {**{n: BAD[n].make for n in EXPLAIN_BAD}, **EXPLAIN_GOOD}.items():
        folder = tmp_path_factory.mktemp("explain")
        jobs[name] = (make(folder), folder / "out")

    def explain(path: Path, out: Path) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "precompute", "explain", str(path), "--db", str(tiny_db), "--out", str(out)]
        return subprocess.run(command, cwd=REPOSITORY, capture_output=True, text=True, timeout=300)

    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {name: pool.submit(explain, path, out) for name, (path, out) in jobs.items()}
        return {name: Explained(*jobs[name], future.result()) for name, future in futures.items()}


@pytest.mark.parametrize("name", EXPLAIN_BAD)
def test_explain_bad_input_exits_2_with_one_line_naming_the_file(explained, name):
    path, out, result = explained[name].path, explained[name].out, explained[name].result
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and result.stderr.endswith("\n"), result.stderr
    assert lines[0].startswith(f"error: {path}: ") and BAD[name].reason in lines[0], lines[0]
    assert not out.exists()
    print(f"\n{name}: exit {result.returncode}: {lines[0]}")


@pytest.mark.parametrize("name", list(EXPLAIN_GOOD))
def test_explain_valid_and_unusual_input_writes_outputs(explained, name):
    path, out, result = explained[name].path, explained[name].out, explained[name].result
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout.startswith(f"{path}: ")
    assert (out / "prediction.json").is_file() and list(out.glob("relevance_*.png"))
    original, rate = sf.read(out / "original.wav")
    assert rate == SR and len(original) == 3 * SR  # the tiny profile's 3 s clips
    sonified = list(out.glob("sonified_*.wav"))
    assert sonified
    for file in sonified:
        audio, _ = sf.read(file)
        assert len(audio) == 3 * SR and np.isfinite(audio).all() and np.abs(audio).max() <= 1.0
    print(f"\n{name}: exit 0: {result.stdout.strip()}")


# ---------------------------------------------------------------------------------------------------
# a dataset run over a folder with bad clips


DATASET_BAD = {  # file (relative to the dataset root) -> case in BAD
    "happy/empty.wav": "empty file",
    "happy/notes.wav": "text renamed .wav",
    "happy/nan.wav": "all-NaN float WAV",
    "happy/random.ogg": "random bytes .ogg",
    "sad/header_only.wav": "WAV header only",
    "sad/random.mp3": "random bytes .mp3",
    "sad/inf.wav": "+inf/-inf samples",
    "sad/huge.wav": "absurd float values",
    "sad/damaged.ogg": "damaged OGG Vorbis header",
}
DATASET_ODD = {  # unusual files that must be used
    "happy/silence.wav": "silence",
    "sad/ten.wav": "10 samples",
    "happy/six_channels.wav": "6 channel(s) at 48 kHz",
    "sad/cut.wav": "WAV cut mid-data",
    "happy/xing.mp3": "MP3 header claiming 2^31 frames",
}
N_VALID_PER_CLASS = 6
PROFILE = """\
[profile]
name = "bad-inputs"
description = "Folder dataset with broken files (tests/test_bad_inputs.py)"

[dataset]
name = "folder"
root = "{root}"
clip_seconds = 2.0

[vit]
architecture = "vit_tiny_patch16_224"
overrides = {{ depth = 1 }}
weights = ""
seeds = [0]
epochs = 1
batch_size = 8
learning_rate = 3e-4
patience = 1
methods = ["random", "gradient_x_input"]
explain_per_cell = 1
faithfulness_clips = 2
sanity_clips = 1

[sonification]
gains = [{{ name = "R^2", power = 2.0, floor = 0.0 }}]
"""


@dataclass(frozen=True)
class DatasetRun:
    root: Path
    db: Path
    result: subprocess.CompletedProcess
    seconds: float


def _build_folder(root: Path) -> None:
    for label, frequencies in (("happy", (523.25, 659.26, 783.99)), ("sad", (220.0, 261.63, 329.63))):
        (root / label).mkdir(parents=True)
        for i in range(N_VALID_PER_CLASS):
            y = tone(2.0, frequencies=frequencies) + noise(2 * SR, seed=i, scale=0.02)
            write(root / label / f"clip{i}.wav", y, SR)
    scratch = root.parent / "scratch"
    scratch.mkdir()
    for relative, case in {**{k: BAD[v] for k, v in DATASET_BAD.items()}, **{k: GOOD[v] for k, v in DATASET_ODD.items()}}.items():
        made = case.make(scratch)
        shutil.move(made, root / relative)


@pytest.fixture(scope="module")
def dataset_run(tmp_path_factory) -> DatasetRun:
    from precompute.context import dataset_fingerprint
    from precompute.pipeline import DATA_DIR
    from precompute.profile import load_profile

    base = tmp_path_factory.mktemp("folder_run")
    root = base / "clips"
    _build_folder(root)
    profile = base / "bad_inputs.toml"
    profile.write_text(PROFILE.format(root=root.as_posix()))
    db = base / "x.duckdb"
    command = [sys.executable, "-m", "precompute", "run", "--profile", str(profile), "--db", str(db), "--no-progress", "--jobs", "1"]
    started = time.perf_counter()
    result = subprocess.run(command, cwd=REPOSITORY, capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - started
    # The run caches features under data/cache/ of the repository; this dataset's cache is litter there.
    options = load_profile(str(profile)).dataset.options()
    fingerprint = dataset_fingerprint(options, data_root=str(DATA_DIR.resolve()), clip_seconds=2.0)
    shutil.rmtree(DATA_DIR / "cache" / f"folder-{fingerprint}", ignore_errors=True)
    return DatasetRun(root=root, db=db, result=result, seconds=seconds)


def test_dataset_run_finishes_despite_bad_clips(dataset_run):
    result = dataset_run.result
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert query(dataset_run.db, "SELECT status FROM runs") == [("finished",)]
    print(f"\ndataset run: {dataset_run.seconds:.1f} s")


def test_dataset_run_records_every_bad_clip_with_a_reason_naming_it(dataset_run):
    skipped = dict(query(dataset_run.db, "SELECT clip_id, reason FROM skipped_clips"))
    expected = {relative.rsplit(".", 1)[0]: relative for relative in DATASET_BAD}
    assert set(skipped) == set(expected)
    for clip_id, relative in expected.items():
        reason = skipped[clip_id]
        assert reason.startswith(f"{dataset_run.root / relative}: ") and BAD[DATASET_BAD[relative]].reason in reason, reason
        assert "\n" not in reason
        print(f"\n{relative}: skipped: {reason}")
    for clip_id in expected:  # reported while running, too
        assert f"skipped {clip_id}: " in dataset_run.result.stdout + dataset_run.result.stderr


def test_dataset_run_uses_every_valid_and_unusual_clip(dataset_run):
    n_used = 2 * N_VALID_PER_CLASS + len(DATASET_ODD)
    # `clips` lists every clip the adapter found, skipped ones included; `trainings` counts the clips used.
    assert query(dataset_run.db, "SELECT count(*) FROM clips")[0][0] == n_used + len(DATASET_BAD)
    assert query(dataset_run.db, "SELECT n_train + n_val + n_test FROM trainings") == [(n_used,)]
    bad_ids = {relative.rsplit(".", 1)[0] for relative in DATASET_BAD}
    assert query(dataset_run.db, "SELECT count(*) FROM classifications")[0][0] >= 1
    for table in ("classifications", "images", "audio_originals", "relevance_maps", "faithfulness", "sonifications"):
        used = {row[0] for row in query(dataset_run.db, f"SELECT DISTINCT clip_id FROM {table}")}
        assert not used & bad_ids, table
