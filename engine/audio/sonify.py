"""Sonification of a relevance map: hear what the model relied on.

Following the thesis (Eq. 15 and 24), every complex STFT coefficient is multiplied by a monotone gain
of its relevance and the result is inverted with the original phase:

    X'(f, t) = A(R(f, t)) * X(f, t),      A(R) = floor + (1 - floor) * R ** power

With ``power = 2`` and ``floor = 0`` this is the thesis's quadratic gain ``R**2``. A small floor keeps
the rest of the music faintly audible, which helps listeners place the highlighted parts.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import uniform_filter1d

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


def gain_mask(
    relevance: np.ndarray,
    *,
    shape: tuple[int, int],
    power: float = 2.0,
    floor: float = 0.0,
    smooth_frames: int = 1,
    complement: bool = False,
) -> np.ndarray:
    """Gain ``A(R)`` on the STFT grid for a relevance map over the model's input image.

    Args:
        relevance: map ``(h, w)`` (rows = frequency, low first; columns = time), any scale and sign:
            negative values count as 0 and the map is scaled to a maximum of 1.
        shape: STFT grid ``(n_bins, n_frames)`` to upsample to.
        power, floor: gain function, see :func:`power_gain`.
        smooth_frames: moving-average length (frames) along time of the upsampled relevance; 1 = none.
            Smoothing removes frame-rate flutter, which otherwise sounds like a tremolo.
        complement: return ``1 - A(R)``, the part of the sound the model did *not* rely on.

    Returns:
        float32 gains in [0, 1], shape ``shape``.
    """
    if smooth_frames < 1:
        raise ValueError(f"smooth_frames must be at least 1, got {smooth_frames}")
    upsampled = upsample_relevance(normalise_relevance(relevance), shape=shape)
    if smooth_frames > 1:
        upsampled = uniform_filter1d(upsampled, size=smooth_frames, axis=1, mode="nearest")
    gains = power_gain(normalise_relevance(upsampled), power=power, floor=floor)
    return (1.0 - gains) if complement else gains


def match_loudness(out: np.ndarray, reference: np.ndarray, *, mode: str = "rms") -> np.ndarray:
    """Scale ``out`` to the loudness of ``reference`` so that A/B listening is fair.

    ``mode="rms"`` matches root-mean-square level (a loudness proxy), limited so that the peak stays
    below full scale (1.0) and nothing clips; ``"peak"`` matches peaks; ``"none"`` leaves ``out``.
    """
    if mode == "none":
        return out
    if mode not in ("rms", "peak"):
        raise ValueError(f"loudness mode must be 'rms', 'peak' or 'none', got {mode!r}")
    peak_ref = float(np.abs(reference).max(initial=0.0))
    peak_out = float(np.abs(out).max(initial=0.0))
    if peak_out == 0.0:
        return out
    if mode == "peak":
        return out * (peak_ref / peak_out)
    rms_out = float(np.sqrt(np.mean(np.square(out, dtype=np.float64))))
    rms_ref = float(np.sqrt(np.mean(np.square(reference, dtype=np.float64))))
    factor = rms_ref / rms_out if rms_out > 0 else 0.0
    return out * min(factor, 1.0 / peak_out)


def sonify_spectrum(
    spectrum: np.ndarray,
    relevance: np.ndarray,
    *,
    reference: np.ndarray,
    n_fft: int = 3198,
    hop_length: int = 989,
    power: float = 2.0,
    floor: float = 0.0,
    smooth_frames: int = 1,
    complement: bool = False,
    loudness: str = "rms",
) -> np.ndarray:
    """:func:`sonify` from a precomputed STFT ``(n_fft // 2 + 1, n_frames)`` of ``reference`` ``(n_samples,)``.

    The dashboard keeps the STFT of a clip and calls this when the listener moves the gain
    exponent, so that only the gain and the inverse STFT are recomputed.
    """
    weights = gain_mask(
        relevance, shape=spectrum.shape, power=power, floor=floor, smooth_frames=smooth_frames, complement=complement
    )
    out = istft(weights * spectrum, n_fft=n_fft, hop_length=hop_length, length=reference.shape[0])
    return match_loudness(out, reference, mode=loudness).astype(np.float32, copy=False)


def sonify(
    y: np.ndarray,
    relevance: np.ndarray,
    *,
    n_fft: int = 3198,
    hop_length: int = 989,
    power: float = 2.0,
    floor: float = 0.0,
    smooth_frames: int = 1,
    complement: bool = False,
    loudness: str = "rms",
) -> np.ndarray:
    """Relevance-weighted resynthesis of a waveform, with the original phase.

    Args:
        y: waveform, shape ``(n_samples,)``.
        relevance: map ``(h, w)`` over the model's input image, rows = frequency from low to high,
            columns = time; any size (it is upsampled to the STFT grid
            ``(n_fft // 2 + 1, 1 + n_samples // hop_length)``), any scale (scaled to [0, 1], negative
            values count as 0).
        n_fft, hop_length: STFT settings in samples (thesis: 3198 and 989 at 22,050 Hz).
        power, floor: gain function, see :func:`power_gain` (thesis: power 2, floor 0).
        smooth_frames: time smoothing of the relevance, see :func:`gain_mask`.
        complement: sonify ``1 - A(R)``: what the model ignored.
        loudness: ``"rms"`` (default), ``"peak"`` or ``"none"``; see :func:`match_loudness`.

    Returns:
        float32 waveform of shape ``(n_samples,)``.
    """
    spectrum = stft(y, n_fft=n_fft, hop_length=hop_length)
    return sonify_spectrum(
        spectrum, relevance, reference=y, n_fft=n_fft, hop_length=hop_length, power=power, floor=floor,
        smooth_frames=smooth_frames, complement=complement, loudness=loudness,
    )
