"""Sonification of a relevance map: hear what the model relied on.

Following the thesis (Eq. 15 and 24), every complex STFT coefficient is multiplied by a monotone gain
of its relevance and the result is inverted with the original phase:

    X'(f, t) = A(R(f, t)) * X(f, t),      A(R) = floor + (1 - floor) * R ** power

With ``power = 2`` and ``floor = 0`` this is the thesis's quadratic gain ``R**2``. A small floor keeps
the rest of the music faintly audible, which helps listeners place the highlighted parts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# scipy.ndimage, the resampler and the STFT are imported where they are used: the gain type is read
# by every dashboard page, which should not pay their import time (about half a second).


@dataclass(frozen=True)
class Gain:
    """The gain function ``A(R) = floor + (1 - floor) * R ** power``, smoothed over ``smooth_frames`` frames.

    Parameters
    ----------
    power : float, default 2.0
        The exponent p (the thesis: 2); positive.
    floor : float, default 0.0
        The least gain, in [0, 1): 0 silences what the model did not use.
    smooth_frames : int, default 1
        Length in STFT frames of the moving average over time of the relevance (1: none).

    Raises
    ------
    ValueError
        A value outside its range.

    Examples
    --------
    >>> Gain().plain, Gain(power=1.0, floor=0.1).plain
    (True, False)
    """

    power: float = 2.0
    floor: float = 0.0
    smooth_frames: int = 1

    def __post_init__(self) -> None:
        """Check the ranges."""
        if self.power <= 0:
            raise ValueError(f"power must be positive, got {self.power}")
        if not 0.0 <= self.floor < 1.0:
            raise ValueError(f"floor must be in [0, 1), got {self.floor}")
        if self.smooth_frames < 1:
            raise ValueError(f"smooth_frames must be at least 1, got {self.smooth_frames}")

    @property
    def plain(self) -> bool:
        """Whether the gain is ``R ** power`` alone (no floor, no smoothing)."""
        return self.floor == 0.0 and self.smooth_frames == 1


def power_gain(relevance: np.ndarray, *, power: float = 2.0, floor: float = 0.0) -> np.ndarray:
    """Compute the monotone gain ``floor + (1 - floor) * R**power`` for relevance ``R`` in [0, 1].

    Parameters
    ----------
    relevance : numpy.ndarray
        Relevance of any shape; values outside [0, 1] are clipped.
    power : float, default 2.0
        The exponent; positive.
    floor : float, default 0.0
        The least gain, in [0, 1).

    Returns
    -------
    numpy.ndarray
        float32 gains in [floor, 1], the shape of ``relevance``.

    Raises
    ------
    ValueError
        ``power`` not positive or ``floor`` outside [0, 1).

    Examples
    --------
    >>> power_gain(np.array([0.0, 0.5, 1.0])).tolist()
    [0.0, 0.25, 1.0]
    >>> power_gain(np.array([0.0, 1.0]), power=1.0, floor=0.5).tolist()
    [0.5, 1.0]
    """
    if power <= 0:
        raise ValueError(f"power must be positive, got {power}")
    if not 0.0 <= floor < 1.0:
        raise ValueError(f"floor must be in [0, 1), got {floor}")
    return (floor + (1.0 - floor) * np.clip(relevance, 0.0, 1.0) ** power).astype(np.float32)


def normalise_relevance(relevance: np.ndarray) -> np.ndarray:
    """Clip negative relevance to 0 and scale it so the maximum is 1.

    Parameters
    ----------
    relevance : numpy.ndarray
        Relevance of any shape, scale and sign; NaN counts as 0.

    Returns
    -------
    numpy.ndarray
        float32 in [0, 1], the shape of ``relevance``; an all-zero (or all-negative) input stays zero.

    Examples
    --------
    >>> normalise_relevance(np.array([-1.0, 1.0, 2.0])).tolist()
    [0.0, 0.5, 1.0]
    """
    positive = np.clip(np.nan_to_num(relevance, nan=0.0), 0.0, None).astype(np.float32)
    peak = float(positive.max(initial=0.0))
    return positive / peak if peak > 0 else positive


def upsample_relevance(relevance: np.ndarray, *, shape: tuple[int, int]) -> np.ndarray:
    """Resize a relevance map bilinearly to the STFT grid.

    Parameters
    ----------
    relevance : numpy.ndarray
        Map ``(h, w)``, rows = frequency (low first), columns = time.
    shape : tuple of int
        The STFT grid ``(n_bins, n_frames)``.

    Returns
    -------
    numpy.ndarray
        Non-negative map of shape ``shape``.

    Examples
    --------
    >>> upsample_relevance(np.ones((4, 4)), shape=(8, 6)).shape
    (8, 6)
    """
    from engine.audio.spectrogram import resize

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
    """Compute the gain ``A(R)`` on the STFT grid for a relevance map over the model's input image.

    Parameters
    ----------
    relevance : numpy.ndarray
        Map ``(h, w)`` (rows = frequency, low first; columns = time), any scale and sign: negative
        values count as 0 and the map is scaled to a maximum of 1.
    shape : tuple of int
        The STFT grid ``(n_bins, n_frames)`` to upsample to.
    power, floor : float
        The gain function, see :func:`power_gain`.
    smooth_frames : int, default 1
        Moving-average length (frames) along time of the upsampled relevance; 1 = none. Smoothing
        removes frame-rate flutter, which otherwise sounds like a tremolo.
    complement : bool, default False
        Return ``1 - A(R)``, the part of the sound the model did *not* rely on.

    Returns
    -------
    numpy.ndarray
        float32 gains in [0, 1], shape ``shape``.

    Raises
    ------
    ValueError
        ``smooth_frames`` below 1, or ``power``/``floor`` out of range.

    Examples
    --------
    >>> relevance = np.zeros((4, 4)); relevance[:2] = 1.0  # the low half
    >>> mask = gain_mask(relevance, shape=(8, 5))
    >>> mask.shape, float(mask[0, 0]), float(mask[-1, 0])
    ((8, 5), 1.0, 0.0)
    """
    if smooth_frames < 1:
        raise ValueError(f"smooth_frames must be at least 1, got {smooth_frames}")
    upsampled = upsample_relevance(normalise_relevance(relevance), shape=shape)
    if smooth_frames > 1:
        from scipy.ndimage import uniform_filter1d

        upsampled = uniform_filter1d(upsampled, size=smooth_frames, axis=1, mode="nearest")
    gains = power_gain(normalise_relevance(upsampled), power=power, floor=floor)
    return (1.0 - gains) if complement else gains


def match_loudness(out: np.ndarray, reference: np.ndarray, *, mode: str = "rms") -> np.ndarray:
    """Scale ``out`` to the loudness of ``reference`` so that A/B listening is fair.

    Parameters
    ----------
    out : numpy.ndarray
        Waveform ``(n_samples,)`` to scale.
    reference : numpy.ndarray
        Waveform whose level is matched.
    mode : {"rms", "peak", "none"}
        ``"rms"`` matches root-mean-square level (a loudness proxy), limited so that the peak stays
        below full scale (1.0) and nothing clips; ``"peak"`` matches peaks; ``"none"`` leaves ``out``.

    Returns
    -------
    numpy.ndarray
        The scaled waveform (silence stays silent).

    Raises
    ------
    ValueError
        An unknown ``mode``.

    Examples
    --------
    >>> float(match_loudness(np.array([0.1, -0.1]), np.array([0.5, -0.5]))[0])
    0.5
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


def sonify(
    y: np.ndarray,
    relevance: np.ndarray,
    *,
    S: np.ndarray | None = None,
    n_fft: int = 3198,
    hop_length: int = 989,
    power: float = 2.0,
    floor: float = 0.0,
    smooth_frames: int = 1,
    complement: bool = False,
    loudness: str = "rms",
) -> np.ndarray:
    """Resynthesise a waveform weighted by relevance, with the original phase.

    Parameters
    ----------
    y : numpy.ndarray
        Waveform ``(n_samples,)``; also the loudness reference of the output.
    relevance : numpy.ndarray
        Map ``(h, w)`` over the model's input image, rows = frequency from low to high, columns =
        time; any size (it is upsampled to the STFT grid ``(n_fft // 2 + 1, 1 + n_samples // hop_length)``),
        any scale (scaled to [0, 1], negative values count as 0).
    S : numpy.ndarray, optional
        The complex STFT ``(n_fft // 2 + 1, n_frames)`` of ``y`` when it is already at hand (as
        librosa's ``S=``): the dashboard keeps it and recomputes only the gain and the inverse STFT.
    n_fft, hop_length : int
        STFT settings in samples (thesis: 3198 and 989 at 22,050 Hz).
    power, floor : float
        The gain function, see :func:`power_gain` (thesis: power 2, floor 0).
    smooth_frames : int, default 1
        Time smoothing of the relevance, see :func:`gain_mask`.
    complement : bool, default False
        Sonify ``1 - A(R)``: what the model ignored.
    loudness : {"rms", "peak", "none"}
        See :func:`match_loudness`.

    Returns
    -------
    numpy.ndarray
        float32 waveform ``(n_samples,)``.

    Raises
    ------
    ValueError
        ``S`` does not have ``n_fft // 2 + 1`` rows, or a gain setting is out of range.

    Examples
    --------
    >>> y = np.sin(2 * np.pi * 440 * np.arange(22050) / 22050).astype(np.float32)
    >>> kept = sonify(y, np.ones((224, 224)), loudness="none")
    >>> kept.shape, bool(np.abs(kept - y).max() < 1e-3)
    ((22050,), True)
    >>> from engine.audio.stft import stft
    >>> S = stft(y, n_fft=3198, hop_length=989)
    >>> bool(np.allclose(sonify(y, np.ones((224, 224)), S=S), sonify(y, np.ones((224, 224)))))
    True
    """
    from engine.audio.stft import istft, stft

    spectrum = stft(y, n_fft=n_fft, hop_length=hop_length) if S is None else S
    if spectrum.shape[0] != n_fft // 2 + 1:
        raise ValueError(f"S has {spectrum.shape[0]} frequency rows; an STFT with n_fft={n_fft} has {n_fft // 2 + 1}")
    weights = gain_mask(
        relevance, shape=spectrum.shape, power=power, floor=floor, smooth_frames=smooth_frames, complement=complement
    )
    out = istft(weights * spectrum, n_fft=n_fft, hop_length=hop_length, length=y.shape[0])
    return match_loudness(out, y, mode=loudness).astype(np.float32, copy=False)
