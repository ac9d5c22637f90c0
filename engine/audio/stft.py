"""The STFT/iSTFT pair every spectrogram and every sonification in the project goes through.

Same conventions as librosa (``center=True`` with zero padding, periodic Hann window, inverse by
windowed overlap-add normalised by the summed squared window), so frame ``t`` is centred on sample
``t * hop_length`` and ``istft(stft(y))`` reproduces ``y`` for any hop up to ``n_fft // 2``. The
transforms run on ``scipy.fft``, which handles lengths such as the thesis's ``n_fft = 3198``
(= 2 * 3 * 13 * 41) about three times faster than numpy's FFT; sonification needs that speed.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import scipy.fft
from numpy.lib.stride_tricks import sliding_window_view


def _window(n_fft: int) -> np.ndarray:
    from scipy.signal import get_window  # imported here: scipy.signal takes about 1 s to import, and the dashboard
    # imports this module on every page while only the confusion browser's live re-sonification computes an STFT

    return get_window("hann", n_fft, fftbins=True).astype(np.float32)


def stft(y: np.ndarray, *, n_fft: int, hop_length: int) -> np.ndarray:
    """Compute the complex short-time Fourier transform.

    The waveform is zero-padded by ``n_fft // 2`` samples on each side (``center=True``) and cut
    into periodic-Hann-windowed frames, so frame ``t`` is centred on sample ``t * hop_length``.

    Parameters
    ----------
    y : numpy.ndarray
        Waveform, shape ``(n_samples,)``.
    n_fft : int
        FFT and window length in samples.
    hop_length : int
        Hop between frames in samples.

    Returns
    -------
    numpy.ndarray
        complex64 array of shape ``(n_fft // 2 + 1, 1 + n_samples // hop_length)``: rows are
        frequency bins ``k * sample_rate / n_fft`` Hz (row 0 = DC), columns are frames.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(11_025) / 22_050  # 0.5 s at 22,050 Hz
    >>> spectrum = stft(np.sin(2 * np.pi * 440.0 * t), n_fft=1024, hop_length=256)
    >>> spectrum.shape, spectrum.dtype
    ((513, 44), dtype('complex64'))
    >>> int(np.abs(spectrum).mean(axis=1).argmax())  # 440 Hz is bin 440 * 1024 / 22,050 = 20.4
    20
    """
    padded = np.pad(np.asarray(y, dtype=np.float32), n_fft // 2)
    if padded.shape[0] < n_fft:
        padded = np.pad(padded, (0, n_fft - padded.shape[0]))
    frames = sliding_window_view(padded, n_fft)[::hop_length] * _window(n_fft)
    return scipy.fft.rfft(frames, axis=1).T.astype(np.complex64, copy=False)


def istft(spectrum: np.ndarray, *, n_fft: int, hop_length: int, length: int) -> np.ndarray:
    """Invert :func:`stft` by windowed overlap-add.

    The overlap-added frames are divided by the summed squared window, so ``istft(stft(y))``
    reproduces ``y`` for any hop up to ``n_fft // 2``.

    Parameters
    ----------
    spectrum : numpy.ndarray
        Complex spectrogram, shape ``(n_fft // 2 + 1, n_frames)``, laid out as :func:`stft` returns it.
    n_fft : int
        FFT and window length in samples, as given to :func:`stft`.
    hop_length : int
        Hop between frames in samples, as given to :func:`stft`.
    length : int
        Number of samples of the output; the signal is cropped or zero-padded to it.

    Returns
    -------
    numpy.ndarray
        float32 waveform, shape ``(length,)``.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.sin(2 * np.pi * 440.0 * np.arange(11_025) / 22_050)
    >>> back = istft(stft(y, n_fft=1024, hop_length=256), n_fft=1024, hop_length=256, length=y.size)
    >>> back.shape, back.dtype
    ((11025,), dtype('float32'))
    >>> bool(np.abs(back - y).max() < 1e-5)
    True
    """
    n_frames = spectrum.shape[1]
    frames = scipy.fft.irfft(spectrum.T, n=n_fft, axis=1).astype(np.float32, copy=False) * _window(n_fft)
    out = _overlap_add(frames, hop_length)
    envelope = _window_envelope(n_fft, hop_length, n_frames)
    out = np.where(envelope > 0, out / np.where(envelope > 0, envelope, 1.0), out)[n_fft // 2 :]
    if out.shape[0] < length:
        out = np.pad(out, (0, length - out.shape[0]))
    return out[:length]


def _overlap_add(frames: np.ndarray, hop_length: int) -> np.ndarray:
    """Sum of ``frames`` ``(n_frames, n_fft)`` placed every ``hop_length`` samples.

    Frames ``r = ceil(n_fft / hop)`` apart never overlap, so each of the ``r`` interleaved sets is
    laid end to end in one reshape instead of one addition per frame.
    """
    n_frames, n_fft = frames.shape
    stride = -(-n_fft // hop_length)
    out = np.zeros(n_fft + hop_length * (n_frames - 1), dtype=np.float32)
    for first in range(min(stride, n_frames)):
        group = frames[first::stride]
        block = np.zeros((group.shape[0], stride * hop_length), dtype=np.float32)
        block[:, :n_fft] = group
        flat = block.reshape(-1)
        start = first * hop_length
        end = min(out.shape[0], start + flat.shape[0])
        out[start:end] += flat[: end - start]
    return out


@lru_cache(maxsize=16)
def _window_envelope(n_fft: int, hop_length: int, n_frames: int) -> np.ndarray:
    squared = np.broadcast_to(_window(n_fft) ** 2, (n_frames, n_fft))
    envelope = _overlap_add(np.ascontiguousarray(squared), hop_length)
    envelope[envelope < np.finfo(np.float32).tiny] = 0.0
    envelope.setflags(write=False)
    return envelope
