"""Chromagrams: energy per pitch class (C, C#, ..., B) over time."""

from __future__ import annotations

import librosa
import numpy as np

from engine.vocabulary import SAMPLE_RATE

PITCH_CLASSES: tuple[str, ...] = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def chromagram(
    y: np.ndarray, *, sample_rate: int = SAMPLE_RATE, n_fft: int = 2048, hop_length: int = 512
) -> np.ndarray:
    """STFT chromagram, each frame scaled so its largest pitch class is 1.

    With the defaults a 10 s clip at 22,050 Hz gives the thesis's 12 x 431 input.

    Returns:
        float32 array ``(12, 1 + n_samples // hop_length)`` in [0, 1]; row 0 is C.
    """
    chroma = librosa.feature.chroma_stft(
        y=np.asarray(y, dtype=np.float32), sr=sample_rate, n_fft=n_fft, hop_length=hop_length, tuning=0.0
    )
    return chroma.astype(np.float32, copy=False)


def mean_chroma(chroma: np.ndarray) -> np.ndarray:
    """Time-averaged chroma: ``(12, n_frames)`` to ``(12,)``, the thesis's 12-bin input."""
    return chroma.mean(axis=1).astype(np.float32)
