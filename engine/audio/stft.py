"""The STFT/iSTFT pair every spectrogram and every sonification in the project goes through.

Both wrap librosa with ``center=True`` and a Hann window, so frame ``t`` is centred on sample
``t * hop_length`` and ``istft(stft(y))`` reproduces ``y`` (the window satisfies the constant
overlap-add condition for any hop up to ``n_fft // 2``).
"""

from __future__ import annotations

import librosa
import numpy as np


def stft(y: np.ndarray, *, n_fft: int, hop_length: int) -> np.ndarray:
    """Complex short-time Fourier transform.

    Args:
        y: waveform, shape ``(n_samples,)``.
        n_fft: FFT and window length in samples.
        hop_length: hop between frames in samples.

    Returns:
        complex64 array of shape ``(n_fft // 2 + 1, 1 + n_samples // hop_length)``:
        rows are frequency bins ``k * sr / n_fft`` Hz (row 0 = DC), columns are frames.
    """
    spectrum = librosa.stft(
        np.asarray(y, dtype=np.float32), n_fft=n_fft, hop_length=hop_length, window="hann", center=True
    )
    return spectrum.astype(np.complex64, copy=False)


def istft(spectrum: np.ndarray, *, n_fft: int, hop_length: int, length: int) -> np.ndarray:
    """Inverse of :func:`stft`: complex ``(n_fft // 2 + 1, n_frames)`` to float32 ``(length,)``."""
    y = librosa.istft(spectrum, n_fft=n_fft, hop_length=hop_length, window="hann", center=True, length=length)
    return y.astype(np.float32, copy=False)
