"""Sonification of a relevance map: hear what the model relied on.

Following the thesis (Eq. 15 and 24), every complex STFT coefficient is multiplied by a monotone gain
of its relevance and the result is inverted with the original phase:

    X'(f, t) = A(R(f, t)) * X(f, t),      A(R) = floor + (1 - floor) * R ** power

With ``power = 2`` and ``floor = 0`` this is the thesis's quadratic gain ``R**2``. A small floor keeps
the rest of the music faintly audible, which helps listeners place the highlighted parts.
"""

from __future__ import annotations

import numpy as np

from engine.audio.spectrogram import resize
from engine.audio.stft import istft, stft


def power_gain(relevance: np.ndarray, *, power: float = 2.0, floor: float = 0.0) -> np.ndarray:
    """Monotone gain ``floor + (1 - floor) * R**power`` for relevance ``R`` in [0, 1] (any shape)."""
    if power <= 0:
        raise ValueError(f"power must be positive, got {power}")
    if not 0.0 <= floor < 1.0:
        raise ValueError(f"floor must be in [0, 1), got {floor}")
    return (floor + (1.0 - floor) * np.clip(relevance, 0.0, 1.0) ** power).astype(np.float32)


def normalise_relevance(relevance: np.ndarray) -> np.ndarray:
    """Clip negative relevance to 0 and scale so the maximum is 1 (all-zero input stays zero)."""
    positive = np.clip(np.nan_to_num(relevance, nan=0.0), 0.0, None).astype(np.float32)
    peak = float(positive.max(initial=0.0))
    return positive / peak if peak > 0 else positive


def upsample_relevance(relevance: np.ndarray, *, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of a relevance map ``(h, w)`` (rows = frequency, low first) to the STFT grid."""
    return np.clip(resize(relevance, shape=shape), 0.0, None)


def sonify(
    y: np.ndarray,
    relevance: np.ndarray,
    *,
    n_fft: int = 3198,
    hop_length: int = 989,
    power: float = 2.0,
    floor: float = 0.0,
    match_peak: bool = True,
) -> np.ndarray:
    """Relevance-weighted resynthesis of a waveform.

    Args:
        y: waveform, shape ``(n_samples,)``.
        relevance: non-negative map ``(h, w)`` over the model's input image, rows = frequency from
            low to high, columns = time; any size (it is upsampled to the STFT grid
            ``(n_fft // 2 + 1, 1 + n_samples // hop_length)``) and any scale (it is scaled to [0, 1]).
        n_fft, hop_length: STFT settings in samples (thesis: 3198 and 989 at 22,050 Hz).
        power, floor: gain function, see :func:`power_gain`.
        match_peak: rescale the output to the input's peak so that both play equally loud.

    Returns:
        float32 waveform of shape ``(n_samples,)``.
    """
    spectrum = stft(y, n_fft=n_fft, hop_length=hop_length)
    weights = power_gain(
        upsample_relevance(normalise_relevance(relevance), shape=spectrum.shape), power=power, floor=floor
    )
    out = istft(weights * spectrum, n_fft=n_fft, hop_length=hop_length, length=y.shape[0])
    if match_peak:
        peak_out = float(np.abs(out).max(initial=0.0))
        if peak_out > 0:
            out = out * (float(np.abs(y).max(initial=0.0)) / peak_out)
    return out.astype(np.float32, copy=False)
