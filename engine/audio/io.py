"""Reading any common audio file into mono float32 at 22,050 Hz, and encoding audio for storage.

libsndfile (through ``soundfile``) reads WAV, FLAC, OGG and MP3, including MP3 data inside a WAV
container (format tag 0x55, as in the thesis's own examples), so most files never reach the
fallback. Formats libsndfile does not know (M4A/AAC, WMA, ...) fall back to Essentia's
FFmpeg-based ``AudioLoader``, which ships inside the essentia wheel.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from engine.datasets.base import SAMPLE_RATE


class AudioLoadError(Exception):
    """An audio file could not be turned into a usable waveform; the message names file and cause."""


MAX_ABS_SAMPLE = 1e6
"""Largest sample magnitude accepted (120 dB above full scale). Float files may exceed +-1 (e.g.
float data written on the int16 scale, +-32768) and are kept as they are, but magnitudes beyond
this are corrupt data, and they overflow the squared magnitudes of chroma and spectrograms."""


def load_audio(
    path: str | Path,
    *,
    sample_rate: int = SAMPLE_RATE,
    offset_s: float = 0.0,
    duration_s: float | None = None,
) -> np.ndarray:
    """Load an audio file as a mono waveform.

    Channels are averaged, then the signal is resampled (soxr, high quality) to ``sample_rate``.
    Through libsndfile only the requested excerpt is decoded, so a short excerpt of a long file
    costs little time and memory; the FFmpeg fallback decodes the whole file and cuts it.

    Silence is valid audio (zeros come back). A file that ends early (truncated WAV, cut MP3)
    gives the samples that are there, as audio players do; one with no samples left is an error.

    Args:
        path: file to read (wav, flac, ogg, mp3, or anything FFmpeg reads).
        sample_rate: output rate in Hz.
        offset_s: start reading this many seconds into the file (>= 0).
        duration_s: read at most this many seconds (> 0); ``None`` reads to the end.

    Returns:
        float32 array of shape ``(n_samples,)`` at ``sample_rate``, every sample finite.

    Raises:
        AudioLoadError: missing path, a directory, an empty, undecodable or sample-less file, an
            excerpt outside the audio, NaN/infinite or absurdly large (corrupt) samples, or invalid
            ``offset_s``/``duration_s``. The message is one line starting with the path.
    """
    path = Path(path)
    if not math.isfinite(offset_s) or offset_s < 0:
        raise AudioLoadError(f"{path}: offset must be a number of seconds >= 0, got {offset_s}")
    if duration_s is not None and not (math.isfinite(duration_s) and duration_s > 0):
        raise AudioLoadError(f"{path}: duration must be a positive number of seconds, got {duration_s}")
    if path.is_dir():
        raise AudioLoadError(f"{path}: is a directory, not an audio file")
    if not path.exists():
        raise AudioLoadError(f"{path}: no such file")
    if not path.is_file():
        raise AudioLoadError(f"{path}: not a regular file")
    try:
        size = path.stat().st_size
    except OSError as error:
        raise AudioLoadError(f"{path}: cannot read file ({error.strerror or error})") from error
    if size == 0:
        raise AudioLoadError(f"{path}: file is empty (0 bytes)")
    try:
        data, native_rate, total = _read_soundfile(path, offset_s=offset_s, duration_s=duration_s)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as sndfile_error:
        try:
            data, native_rate = _read_essentia(path)
        except Exception as ffmpeg_error:  # noqa: BLE001 - any decoder failure means "unreadable"
            raise AudioLoadError(
                f"{path}: cannot decode audio (libsndfile: {_reason(sndfile_error, path)}; "
                f"FFmpeg: {_reason(ffmpeg_error, path)})"
            ) from ffmpeg_error
        except KeyboardInterrupt:
            raise
        total = data.shape[0]
        start = int(round(offset_s * native_rate))
        stop = None if duration_s is None else start + int(round(duration_s * native_rate))
        data = data[start:stop]
    if data.shape[0] == 0:
        if offset_s > 0 and total > 0:
            raise AudioLoadError(
                f"{path}: offset {offset_s:g} s is past the end of the audio ({total / native_rate:.3f} s)"
            )
        raise AudioLoadError(f"{path}: no audio samples (header without data, or data cut off)")
    finite = np.isfinite(data)
    if not finite.all():
        bad = int(data.size - np.count_nonzero(finite))
        raise AudioLoadError(f"{path}: audio contains non-finite samples ({bad} of {data.size} are NaN or infinite)")
    peak = float(np.abs(data).max())
    if peak > MAX_ABS_SAMPLE:
        raise AudioLoadError(
            f"{path}: implausible sample values (peak {peak:.3g}, more than {MAX_ABS_SAMPLE:g}); the data is corrupt"
        )
    mono = data.mean(axis=1, dtype=np.float64) if data.ndim == 2 else np.asarray(data, dtype=np.float64)
    mono = mono.astype(np.float32)
    if native_rate != sample_rate:
        resampled = soxr.resample(mono, native_rate, sample_rate, quality="HQ")
        if resampled.size == 0:
            raise AudioLoadError(
                f"{path}: too short to resample ({mono.size} sample(s) at {native_rate} Hz give none at {sample_rate} Hz)"
            )
        mono = resampled
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


def _read_soundfile(path: Path, *, offset_s: float, duration_s: float | None) -> tuple[np.ndarray, int, int]:
    """``(frames (n, channels) float32, rate, total frames in the file)``, decoding only the excerpt."""
    with sf.SoundFile(str(path)) as handle:
        rate = int(handle.samplerate)
        total = int(handle.frames)
        start = int(round(offset_s * rate))
        frames = -1 if duration_s is None else int(round(duration_s * rate))
        if start >= total > 0:
            return np.zeros((0, handle.channels), dtype=np.float32), rate, total
        if start > 0:
            handle.seek(start)
        data = handle.read(frames=frames, dtype="float32", always_2d=True)
    return data, rate, total


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


_NOISE = (
    "Error while configuring AudioLoader: ",
    "AudioLoader: ",
)


def _reason(error: BaseException, path: Path) -> str:
    """A decoder's error as a short phrase, without the path (the message starts with it already)."""
    text = _first_line(error)
    for noise in (f"Error opening {str(path)!r}: ", f'Could not open file "{path}", error = ', *_NOISE):
        text = text.replace(noise, "")
    if "does not exist or is not a regular file" in text:  # libsndfile's MP3 probe on non-MP3 data
        text = "not a recognised audio format"
    return text.strip().rstrip(".") or type(error).__name__
