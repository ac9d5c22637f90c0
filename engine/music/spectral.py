"""The level-normalised signal, its spectrogram and the onset strengths the mid-level estimators share.

:func:`normalised` scales a clip to a fixed RMS, so that log compression does not depend on the
recording level; :class:`Spectrogram` is its magnitude STFT (Hann frames of about 46 ms every
11.6 ms); :func:`spectral_flux` and :func:`mel_flux` are two onset strengths read from it: rises
of log-compressed magnitude over the fine STFT bins (the onsets of single notes) or over 40 mel
bands (broadband events, the felt beat). :mod:`engine.music.rhythm` and
:mod:`engine.music.descriptors` build on them.
"""

from __future__ import annotations

from dataclasses import dataclass

import librosa
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

_SILENCE_RMS = 1e-5  # about -100 dBFS: below this a clip is treated as silent
_REFERENCE_RMS = 0.1  # clips are scaled to this RMS so that log compression is level-free
_LOG_GAIN = 100.0  # log(1 + gain * |X|): compresses magnitudes like loudness does


def normalised(y: np.ndarray) -> np.ndarray | None:
    """float32 copy of ``y`` scaled to ``_REFERENCE_RMS``, or ``None`` when it is silent."""
    signal = np.nan_to_num(np.asarray(y, dtype=np.float64).ravel(), nan=0.0, posinf=0.0, neginf=0.0)
    rms = float(np.sqrt(np.mean(signal**2))) if signal.size else 0.0
    if rms < _SILENCE_RMS:
        return None
    return (signal * (_REFERENCE_RMS / rms)).astype(np.float32)


@dataclass(frozen=True)
class Spectrogram:
    """Magnitude STFT of a clip, Hann frames of about 46 ms every 11.6 ms (1024 and 256 samples
    at 22,050 Hz), centred on their times.

    Attributes:
        magnitude: float32 ``(n_frames, n_fft // 2 + 1)``.
        frame_rate: frames per second.
        sample_rate: sample rate of the signal in Hz.
        n_fft: frame length in samples.
    """

    magnitude: np.ndarray
    frame_rate: float
    sample_rate: int
    n_fft: int

    @classmethod
    def of(cls, signal: np.ndarray, *, sample_rate: int) -> Spectrogram:
        """STFT of a mono float signal ``(n_samples,)``, zero-padded by half a frame each side."""
        n_fft = int(2 ** round(np.log2(0.046 * sample_rate)))
        hop = n_fft // 4
        padded = np.pad(signal, (n_fft // 2, n_fft // 2))
        frames = sliding_window_view(padded, n_fft)[::hop]
        window = np.hanning(n_fft).astype(np.float32)
        magnitude = np.abs(np.fft.rfft(frames * window, axis=1)).astype(np.float32)
        return cls(
            magnitude=magnitude, frame_rate=sample_rate / hop, sample_rate=sample_rate, n_fft=n_fft
        )


def _rectified_flux(compressed: np.ndarray) -> np.ndarray:
    """Summed frame-to-frame rises of ``(n_frames, n_bands)``, float64 ``(n_frames,)``."""
    rises = np.diff(compressed, axis=0, prepend=compressed[:1])
    return np.maximum(rises, 0.0).sum(axis=1, dtype=np.float64)


def spectral_flux(spectrogram: Spectrogram) -> np.ndarray:
    """Onset strength per frame: summed rises of log-compressed magnitude over all STFT bins,
    float64 ``(n_frames,)``. Fine frequency resolution keeps the onsets of single notes."""
    return _rectified_flux(np.log1p(_LOG_GAIN * spectrogram.magnitude))


def mel_flux(spectrogram: Spectrogram, *, n_mels: int = 40) -> np.ndarray:
    """Onset strength per frame over ``n_mels`` mel bands (30 Hz to 8 kHz), float64
    ``(n_frames,)``. Pooling bins into bands lets broadband events (drum hits, chord strikes)
    dominate, as they do the felt beat."""
    bands = librosa.filters.mel(
        sr=spectrogram.sample_rate,
        n_fft=spectrogram.n_fft,
        n_mels=n_mels,
        fmin=30.0,
        fmax=min(8000.0, spectrogram.sample_rate / 2),
    )
    return _rectified_flux(np.log1p(_LOG_GAIN * (spectrogram.magnitude @ bands.T)))


__all__ = ["Spectrogram", "mel_flux", "normalised", "spectral_flux"]
