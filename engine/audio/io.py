"""Reading any common audio file into mono float32 at 22,050 Hz, and encoding audio for storage.

libsndfile (through ``soundfile``) reads WAV, FLAC, OGG and MP3, including MP3 data inside a WAV
container (format tag 0x55, as in the thesis's own examples), so most files never reach the
fallback. Formats libsndfile does not know (M4A/AAC, WMA, ...) fall back to Essentia's
FFmpeg-based ``AudioLoader``, which ships inside the essentia wheel. That decoder runs in a child
process: on damaged input it can crash (segfault) or corrupt memory, which must not take a dataset
run or the dashboard down with it.

What counts as bad input and what comes back for each case is tabulated in ``docs/bad_inputs.md``.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterator

import numpy as np
import soundfile as sf
import soxr

from engine.vocabulary import SAMPLE_RATE


class AudioLoadError(Exception):
    """An audio file could not be turned into a usable waveform; the message names file and cause.

    Raised by :func:`load_audio`. The message is one line that starts with the path.

    Examples
    --------
    >>> try:
    ...     load_audio("no/such/clip.wav")
    ... except AudioLoadError as error:
    ...     print(error)
    no/such/clip.wav: no such file
    """


MAX_ABS_SAMPLE = 1e6
"""Largest sample magnitude accepted (120 dB above full scale). Float files may exceed +-1 (e.g.
float data written on the int16 scale, +-32768) and are kept as they are, but magnitudes beyond
this are corrupt data, and they overflow the squared magnitudes of chroma and spectrograms."""

SPURIOUS_MAX_SECONDS = 1.0
SPURIOUS_MAX_SHARE = 0.25
"""The FFmpeg fallback refuses a decode shorter than ``SPURIOUS_MAX_SECONDS`` whose stream (bit rate x
duration) accounts for less than ``SPURIOUS_MAX_SHARE`` of the file: FFmpeg's MP3 scanner can lock
onto a frame header that occurs by chance in arbitrary bytes and decode a fraction of a second of
noise from a random or mislabelled file."""

FFMPEG_TIMEOUT_S = 300.0
"""Longest the FFmpeg fallback may take for one file before it counts as undecodable."""

BLOCK_FRAMES = 1 << 18
"""Frames read from libsndfile at a time (headers may announce more frames than the file holds)."""


def load_audio(
    path: str | Path,
    *,
    sample_rate: int = SAMPLE_RATE,
    offset_s: float = 0.0,
    duration_s: float | None = None,
) -> np.ndarray:
    """Load an audio file as a mono waveform.

    Channels are averaged, then the signal is resampled (soxr, high quality) to ``sample_rate``.
    Through libsndfile only the requested excerpt is decoded, block by block, so a short excerpt
    of a long file costs little time and memory; the FFmpeg fallback decodes the whole file.

    Silence is valid audio (zeros come back). A file that ends early (truncated WAV, cut MP3)
    gives the samples that are there, as audio players do; one with no samples at all is an error.

    Parameters
    ----------
    path : str or pathlib.Path
        File to read (wav, flac, ogg, mp3, or anything FFmpeg reads).
    sample_rate : int, default SAMPLE_RATE
        Output rate in Hz (22,050).
    offset_s : float, default 0.0
        Start reading this many seconds into the file (>= 0).
    duration_s : float or None, default None
        Read at most this many seconds (> 0); ``None`` reads to the end.

    Returns
    -------
    numpy.ndarray
        float32 array of shape ``(n_samples,)`` at ``sample_rate``, at least one sample, all finite.

    Raises
    ------
    AudioLoadError
        Missing path, a directory, an empty, undecodable or sample-less file, an excerpt outside
        the audio, NaN/infinite or absurdly large (corrupt) samples, or invalid
        ``offset_s``/``duration_s``. The message is one line starting with the path.

    Examples
    --------
    A 0.5 s stereo WAV at 44,100 Hz comes back mono at 22,050 Hz:

    >>> import os, tempfile
    >>> import numpy as np
    >>> import soundfile as sf
    >>> tone = 0.5 * np.sin(2 * np.pi * 440.0 * np.arange(22_050) / 44_100)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "tone.wav")
    ...     sf.write(path, np.stack([tone, tone], axis=1), 44_100)
    ...     y = load_audio(path)
    ...     excerpt = load_audio(path, offset_s=0.1, duration_s=0.2)
    >>> y.shape, y.dtype, round(float(np.abs(y).max()), 2)
    ((11025,), dtype('float32'), 0.5)
    >>> excerpt.shape
    (4410,)
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
    mixer = _Mixer()
    try:
        native_rate, total = _read_soundfile(path, mixer, offset_s=offset_s, duration_s=duration_s)
    except MemoryError as error:
        raise AudioLoadError(f"{path}: too large to decode into memory") from error
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as sndfile_error:
        mixer = _Mixer()
        try:
            data, native_rate = _read_ffmpeg(path)
        except Exception as ffmpeg_error:  # noqa: BLE001 - any decoder failure means "unreadable"
            raise AudioLoadError(
                f"{path}: cannot decode audio (libsndfile: {_reason(sndfile_error, path)}; "
                f"FFmpeg: {_reason(ffmpeg_error, path)})"
            ) from ffmpeg_error
        total = data.shape[0]
        start = int(round(offset_s * native_rate))
        stop = None if duration_s is None else start + int(round(duration_s * native_rate))
        mixer.add(data[start:stop])
    if mixer.frames == 0:
        if offset_s > 0 and total > 0:
            raise AudioLoadError(
                f"{path}: offset {offset_s:g} s is past the end of the audio ({total / native_rate:.3f} s)"
            )
        raise AudioLoadError(f"{path}: no audio samples (header without data, or data cut off)")
    if mixer.non_finite:
        raise AudioLoadError(
            f"{path}: audio contains non-finite samples ({mixer.non_finite} of {mixer.values} are NaN or infinite)"
        )
    if mixer.peak > MAX_ABS_SAMPLE:
        raise AudioLoadError(
            f"{path}: implausible sample values (peak {mixer.peak:.3g}, more than {MAX_ABS_SAMPLE:g}); the data is corrupt"
        )
    mono = mixer.mono()
    if native_rate != sample_rate:
        resampled = soxr.resample(mono, native_rate, sample_rate, quality="HQ")
        if resampled.size == 0:
            raise AudioLoadError(
                f"{path}: too short to resample ({mono.size} sample(s) at {native_rate} Hz give none at {sample_rate} Hz)"
            )
        mono = resampled
    return np.ascontiguousarray(mono, dtype=np.float32)


def fit_length(y: np.ndarray, *, n_samples: int) -> np.ndarray:
    """Crop or zero-pad a waveform at its end to exactly ``n_samples`` samples.

    Parameters
    ----------
    y : numpy.ndarray
        Waveform, shape ``(n,)``.
    n_samples : int
        Length of the result in samples.

    Returns
    -------
    numpy.ndarray
        Shape ``(n_samples,)``: the first ``n_samples`` samples of ``y``, or ``y`` followed by zeros.

    Examples
    --------
    >>> import numpy as np
    >>> fit_length(np.ones(5), n_samples=3)
    array([1., 1., 1.])
    >>> fit_length(np.ones(3), n_samples=5)
    array([1., 1., 1., 0., 0.])
    """
    if y.shape[0] >= n_samples:
        return y[:n_samples]
    return np.pad(y, (0, n_samples - y.shape[0]))


def encode_audio(y: np.ndarray, *, sample_rate: int = SAMPLE_RATE, format: str = "OGG") -> bytes:
    """Encode a mono waveform in [-1, 1] as a compressed file in memory.

    OGG Vorbis by default: small, and every browser's ``<audio>`` element plays it. Samples
    outside [-1, 1] are clipped.

    Parameters
    ----------
    y : numpy.ndarray
        Mono waveform, shape ``(n,)``, in [-1, 1].
    sample_rate : int, default SAMPLE_RATE
        Sample rate of ``y`` in Hz (22,050).
    format : str, default "OGG"
        A libsndfile container format: ``"OGG"`` (written as Vorbis), ``"WAV"``, ``"FLAC"``, ...

    Returns
    -------
    bytes
        The encoded file.

    Examples
    --------
    >>> import numpy as np
    >>> y = 0.5 * np.sin(2 * np.pi * 440.0 * np.arange(SAMPLE_RATE // 2) / SAMPLE_RATE)
    >>> encode_audio(y)[:4]
    b'OggS'
    >>> encode_audio(y, format="WAV")[:4]
    b'RIFF'
    """
    buffer = io.BytesIO()
    subtype = "VORBIS" if format.upper() == "OGG" else None
    sf.write(buffer, np.clip(y, -1.0, 1.0), sample_rate, format=format, subtype=subtype)
    return buffer.getvalue()


def decode_audio(data: bytes) -> tuple[np.ndarray, int]:
    """Decode bytes written by :func:`encode_audio`.

    Parameters
    ----------
    data : bytes
        An encoded audio file (any format libsndfile reads); multichannel audio is averaged to mono.

    Returns
    -------
    waveform : numpy.ndarray
        float32 mono waveform, shape ``(n,)``.
    sample_rate : int
        Its sample rate in Hz.

    Examples
    --------
    >>> import numpy as np
    >>> y = 0.5 * np.sin(2 * np.pi * 440.0 * np.arange(SAMPLE_RATE // 2) / SAMPLE_RATE)
    >>> waveform, rate = decode_audio(encode_audio(y))
    >>> waveform.shape, waveform.dtype, rate
    ((11025,), dtype('float32'), 22050)
    """
    y, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=False)
    return (y.mean(axis=1) if y.ndim == 2 else y), rate


class _Mixer:
    """Averages blocks of ``(frames, channels)`` samples to mono and keeps the figures the checks need."""

    def __init__(self) -> None:
        self.blocks: list[np.ndarray] = []
        self.frames = 0
        self.values = 0
        self.non_finite = 0
        self.peak = 0.0

    def add(self, block: np.ndarray) -> None:
        block = block if block.ndim == 2 else block[:, None]
        if block.shape[0] == 0:
            return
        finite = np.isfinite(block)
        self.non_finite += int(block.size - np.count_nonzero(finite))
        self.values += int(block.size)
        self.frames += int(block.shape[0])
        if not self.non_finite:
            self.peak = max(self.peak, float(np.abs(block).max()))
            self.blocks.append(block.mean(axis=1, dtype=np.float64).astype(np.float32))

    def mono(self) -> np.ndarray:
        return np.concatenate(self.blocks) if len(self.blocks) > 1 else self.blocks[0]


@contextlib.contextmanager
def _c_stderr_silenced() -> Iterator[None]:
    """Send what C libraries write to file descriptor 2 to /dev/null while decoding.

    libsndfile's MP3 decoder (mpg123) prints "Note: Illegal Audio-MPEG-Header ..." and "Trying to
    resync..." for every damaged frame; the caller reports a bad file in one line of its own.
    Python's own ``sys.stderr`` object is untouched, so nothing written through it is lost.
    """
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, ValueError, io.UnsupportedOperation):
        yield  # no real file descriptor behind stderr (e.g. a notebook): nothing to silence
        return
    saved = os.dup(fd)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), fd)
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


def _read_soundfile(path: Path, mixer: _Mixer, *, offset_s: float, duration_s: float | None) -> tuple[int, int]:
    """Decode the excerpt into ``mixer``; returns ``(sample rate, frames the header announces)``.

    Reads block by block until the file ends: a damaged header may announce far more frames than
    there are (e.g. a corrupt MP3 Xing header claiming 10^11 frames), so nothing is allocated from it.
    """
    with _c_stderr_silenced(), sf.SoundFile(str(path)) as handle:
        rate = int(handle.samplerate)
        total = int(handle.frames)
        start = int(round(offset_s * rate))
        wanted = None if duration_s is None else int(round(duration_s * rate))
        if start >= total > 0:
            return rate, total
        if start > 0:
            handle.seek(start)
        read = 0
        while wanted is None or read < wanted:
            size = BLOCK_FRAMES if wanted is None else min(BLOCK_FRAMES, wanted - read)
            block = handle.read(frames=size, dtype="float32", always_2d=True)
            mixer.add(block)
            read += block.shape[0]
            if block.shape[0] < size:
                break
    return rate, total


_FFMPEG_CHILD = r"""
import os, sys
source, target, error_file = sys.argv[1:4]
try:
    import numpy as np
    import essentia
    essentia.log.infoActive = False
    essentia.log.warningActive = False
    try:  # the bare algorithm: importing essentia.standard (every algorithm's class) takes a second
        from essentia._essentia import Algorithm
        loader = Algorithm("AudioLoader")
        loader.__configure__(filename=source)
        audio, rate, channels, _, bit_rate, codec = loader.__compute__()
    except (ImportError, AttributeError):
        import essentia.standard as es
        audio, rate, channels, _, bit_rate, codec = es.AudioLoader(filename=source)()
    np.savez(target, audio=np.asarray(audio, dtype=np.float32), rate=rate, channels=channels, bit_rate=bit_rate, codec=codec)
except BaseException as error:
    lines = str(error).strip().splitlines()
    with open(error_file, "w") as handle:
        handle.write(lines[0] if lines else type(error).__name__)
    sys.stdout.flush()
    os._exit(0)  # no destructors: Essentia can crash destroying a loader that failed
sys.stdout.flush()
os._exit(0)
"""


def _read_ffmpeg(path: Path) -> tuple[np.ndarray, int]:
    """Decode the whole file with Essentia's FFmpeg ``AudioLoader`` in a child process.

    Returns ``(samples (n, channels) float32, sample rate)``. Raises ``ValueError`` naming the
    decoder's complaint, its crash (e.g. SIGSEGV) or its time-out.
    """
    with tempfile.TemporaryDirectory(prefix="mer-audio-") as folder:
        target, error_file = Path(folder) / "decoded.npz", Path(folder) / "error.txt"
        try:
            result = subprocess.run(
                [sys.executable, "-c", _FFMPEG_CHILD, str(path), str(target), str(error_file)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                timeout=FFMPEG_TIMEOUT_S,
            )
        except subprocess.TimeoutExpired:
            raise ValueError(f"decoder did not finish in {FFMPEG_TIMEOUT_S:g} s") from None
        if error_file.is_file():
            raise ValueError(error_file.read_text().strip() or "decoder failed")
        if result.returncode != 0 or not target.is_file():
            raise ValueError(f"decoder crashed ({_exit_status(result.returncode)})")
        with np.load(target) as saved:
            audio = np.asarray(saved["audio"], dtype=np.float32)
            rate, channels = int(saved["rate"]), int(saved["channels"])
            bit_rate, codec = int(saved["bit_rate"]), str(saved["codec"])
    if channels == 0 or audio.size == 0 or rate <= 0:
        raise ValueError("decoder returned no samples")
    seconds = audio.shape[0] / rate
    size = path.stat().st_size
    if bit_rate > 0 and seconds < SPURIOUS_MAX_SECONDS and bit_rate * seconds / 8 < SPURIOUS_MAX_SHARE * size:
        raise ValueError(
            f"only {seconds:.2f} s of {codec or 'audio'} found in {size} bytes (chance frame headers in data that is not audio)"
        )
    return audio, rate


def _exit_status(code: int) -> str:
    if code < 0:
        try:
            return signal.Signals(-code).name
        except ValueError:
            return f"signal {-code}"
    return f"exit status {code}"


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]


_NOISE = (
    "Error while configuring AudioLoader: ",
    "AudioLoader: ",
)


def _reason(error: BaseException, path: Path) -> str:
    """Return a decoder's error as a short phrase, without the path (the message starts with it already)."""
    text = _first_line(error)
    for noise in (f"Error opening {str(path)!r}: ", f'Could not open file "{path}", error = ', *_NOISE):
        text = text.replace(noise, "")
    if "does not exist or is not a regular file" in text:  # libsndfile's MP3 probe on non-MP3 data
        text = "not a recognised audio format"
    return text.strip().rstrip(".") or type(error).__name__
