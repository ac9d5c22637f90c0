"""Chromagrams: energy per pitch class (C, C#, ..., B) over time."""

from __future__ import annotations

import librosa
import numpy as np

from engine.vocabulary import SAMPLE_RATE

PITCH_CLASSES: tuple[str, ...] = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def chromagram(
    y: np.ndarray, *, sample_rate: int = SAMPLE_RATE, n_fft: int = 2048, hop_length: int = 512
) -> np.ndarray:
    """Compute an STFT chromagram, each frame scaled so its largest pitch class is 1.

    With the defaults a 10 s clip at 22,050 Hz gives the thesis's 12 x 431 input.

    Parameters
    ----------
    y : numpy.ndarray
        Mono waveform, shape ``(n_samples,)``.
    sample_rate : int, default SAMPLE_RATE
        Sample rate of ``y`` in Hz (22,050).
    n_fft : int, default 2048
        FFT and window length in samples (93 ms at 22,050 Hz).
    hop_length : int, default 512
        Hop between frames in samples (23 ms at 22,050 Hz).

    Returns
    -------
    numpy.ndarray
        float32 array ``(12, 1 + n_samples // hop_length)`` in [0, 1]; row 0 is C, row 11 is B.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(SAMPLE_RATE // 2) / SAMPLE_RATE  # 0.5 s
    >>> chroma = chromagram(np.sin(2 * np.pi * 440.0 * t))
    >>> chroma.shape, chroma.dtype
    ((12, 22), dtype('float32'))
    >>> PITCH_CLASSES[int(chroma.mean(axis=1).argmax())]
    'A'
    """
    chroma = librosa.feature.chroma_stft(
        y=np.asarray(y, dtype=np.float32), sr=sample_rate, n_fft=n_fft, hop_length=hop_length, tuning=0.0
    )
    return chroma.astype(np.float32, copy=False)


def mean_chroma(chroma: np.ndarray) -> np.ndarray:
    """Average a chromagram over time, the thesis's 12-bin input.

    Parameters
    ----------
    chroma : numpy.ndarray
        Chromagram, shape ``(12, n_frames)``, e.g. from :func:`chromagram`.

    Returns
    -------
    numpy.ndarray
        float32 array ``(12,)``, the mean of each pitch class over frames; index 0 is C.

    Examples
    --------
    >>> import numpy as np
    >>> chroma = np.zeros((12, 4), dtype=np.float32)
    >>> chroma[9] = [1.0, 1.0, 0.5, 0.5]  # A
    >>> mean = mean_chroma(chroma)
    >>> mean.shape, mean.dtype, float(mean[9])
    ((12,), dtype('float32'), 0.75)
    """
    return chroma.mean(axis=1).astype(np.float32)
