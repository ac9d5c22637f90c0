"""Reading any common audio file into mono float32 at 22,050 Hz, and encoding audio for storage.

libsndfile (through ``soundfile``) reads WAV, FLAC, OGG and MP3, including MP3 data inside a WAV
container (format tag 0x55, as in the thesis's own examples), so most files never reach the
fallback. Formats libsndfile does not know (M4A/AAC, WMA, ...) fall back to Essentia's
FFmpeg-based ``AudioLoader``, which ships inside the essentia wheel.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from engine.datasets.base import SAMPLE_RATE


class AudioLoadError(Exception):
    """An audio file could not be turned into a usable waveform; the message names file and cause."""


def load_audio(
    path: str | Path,
    *,
    sample_rate: int = SAMPLE_RATE,
    offset_s: float = 0.0,
    duration_s: float | None = None,
) -> np.ndarray:
    """Load an audio file as a mono waveform.

    Channels are averaged, then the signal is resampled (soxr, high quality) to ``sample_rate``.

    Args:
        path: file to read (wav, flac, ogg, mp3, or anything FFmpeg reads).
        sample_rate: output rate in Hz.
        offset_s: start reading this many seconds into the file.
        duration_s: read at most this many seconds; ``None`` reads to the end.

    Returns:
        float32 array of shape ``(n_samples,)`` at ``sample_rate``.

    Raises:
        AudioLoadError: missing, empty, undecodable or silent-by-corruption (non-finite) input.
    """
    path = Path(path)
    if not path.is_file():
        raise AudioLoadError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise AudioLoadError(f"{path}: file is empty")
    try:
        data, native_rate = _read_soundfile(path)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as sndfile_error:
        try:
            data, native_rate = _read_essentia(path)
        except Exception as ffmpeg_error:  # noqa: BLE001 - any decoder failure means "unreadable"
            raise AudioLoadError(
                f"{path}: cannot decode audio ({_first_line(sndfile_error)}; "
                f"FFmpeg fallback: {_first_line(ffmpeg_error)})"
            ) from ffmpeg_error
    mono = data.mean(axis=1) if data.ndim == 2 else data
    start = int(round(offset_s * native_rate))
    stop = None if duration_s is None else start + int(round(duration_s * native_rate))
    mono = mono[start:stop]
    if mono.size == 0:
        raise AudioLoadError(f"{path}: no audio samples (after offset {offset_s} s)")
    if not np.all(np.isfinite(mono)):
        raise AudioLoadError(f"{path}: audio contains NaN or infinite samples")
    if native_rate != sample_rate:
        mono = soxr.resample(mono, native_rate, sample_rate, quality="HQ")
    return np.ascontiguousarray(mono, dtype=np.float32)


def fit_length(y: np.ndarray, *, n_samples: int) -> np.ndarray:
    """Crop or zero-pad a waveform ``(n,)`` at its end to exactly ``n_samples`` samples."""
    if y.shape[0] >= n_samples:
        return y[:n_samples]
    return np.pad(y, (0, n_samples - y.shape[0]))


def encode_audio(y: np.ndarray, *, sample_rate: int = SAMPLE_RATE, format: str = "OGG") -> bytes:
    """Encode a mono waveform ``(n,)`` in [-1, 1] as a compressed file in memory.

    OGG Vorbis by default: small, and every browser's ``<audio>`` element plays it.
    """
    buffer = io.BytesIO()
    subtype = "VORBIS" if format.upper() == "OGG" else None
    sf.write(buffer, np.clip(y, -1.0, 1.0), sample_rate, format=format, subtype=subtype)
    return buffer.getvalue()


def decode_audio(data: bytes) -> tuple[np.ndarray, int]:
    """Decode bytes written by :func:`encode_audio`; returns ``(waveform (n,), sample_rate)``."""
    y, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=False)
    return (y.mean(axis=1) if y.ndim == 2 else y), rate


def _read_soundfile(path: Path) -> tuple[np.ndarray, int]:
    data, rate = sf.read(str(path), dtype="float32", always_2d=False)
    return data, int(rate)


def _read_essentia(path: Path) -> tuple[np.ndarray, int]:
    from engine.music.essentia_quiet import essentia_standard  # lazily: only exotic formats need it

    es = essentia_standard()

    audio, rate, channels, *_ = es.AudioLoader(filename=str(path))()
    if channels == 0 or audio.size == 0:
        raise ValueError("decoder returned no samples")
    return np.asarray(audio, dtype=np.float32), int(rate)


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]
