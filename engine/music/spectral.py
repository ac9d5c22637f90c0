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
    """Scale a clip to a fixed RMS of 0.1, or return ``None`` when it is silent.

    NaN and infinite samples are replaced by 0 first; a clip whose RMS is below 1e-5 (about
    -100 dBFS) counts as silent.

    Parameters
    ----------
    y : numpy.ndarray
        Waveform, any shape (flattened) and float dtype.

    Returns
    -------
    numpy.ndarray or None
        float32 ``(n_samples,)`` copy of ``y`` with RMS 0.1 (``_REFERENCE_RMS``), or ``None``.

    Examples
    --------
    >>> import numpy as np
    >>> signal = normalised(np.sin(2 * np.pi * 440.0 * np.arange(11_025) / 22_050))
    >>> signal.dtype, round(float(np.sqrt(np.mean(np.square(signal, dtype=np.float64)))), 3)
    (dtype('float32'), 0.1)
    >>> normalised(np.zeros(100)) is None
    True
    """
    signal = np.nan_to_num(np.asarray(y, dtype=np.float64).ravel(), nan=0.0, posinf=0.0, neginf=0.0)
    rms = float(np.sqrt(np.mean(signal**2))) if signal.size else 0.0
    if rms < _SILENCE_RMS:
        return None
    return (signal * (_REFERENCE_RMS / rms)).astype(np.float32)


@dataclass(frozen=True)
class Spectrogram:
    """Magnitude STFT of a clip, Hann frames of about 46 ms every 11.6 ms, centred on their times.

    At 22,050 Hz the frames are 1024 samples long with a hop of 256 samples. Build one with
    :meth:`of`.

    Attributes
    ----------
    magnitude : numpy.ndarray
        float32 ``(n_frames, n_fft // 2 + 1)``, time first.
    frame_rate : float
        Frames per second (Hz).
    sample_rate : int
        Sample rate of the signal in Hz.
    n_fft : int
        Frame length in samples.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.sin(2 * np.pi * 440.0 * np.arange(11_025) / 22_050)  # 0.5 s
    >>> spectrogram = Spectrogram.of(normalised(y), sample_rate=22_050)
    >>> spectrogram.magnitude.shape, spectrogram.n_fft, round(spectrogram.frame_rate, 2)
    ((44, 513), 1024, 86.13)
    """

    magnitude: np.ndarray
    frame_rate: float
    sample_rate: int
    n_fft: int

    @classmethod
    def of(cls, signal: np.ndarray, *, sample_rate: int) -> Spectrogram:
        """Compute the magnitude STFT of a mono signal, zero-padded by half a frame each side.

        Parameters
        ----------
        signal : numpy.ndarray
            Mono float waveform, shape ``(n_samples,)`` (typically from :func:`normalised`).
        sample_rate : int
            Sample rate of ``signal`` in Hz; the frame length is the power of two nearest 46 ms.

        Returns
        -------
        Spectrogram
            ``n_frames = 1 + n_samples // hop`` frames, ``hop = n_fft // 4``.
        """
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
    """Return the summed frame-to-frame rises of ``(n_frames, n_bands)``, float64 ``(n_frames,)``."""
    rises = np.diff(compressed, axis=0, prepend=compressed[:1])
    return np.maximum(rises, 0.0).sum(axis=1, dtype=np.float64)


def spectral_flux(spectrogram: Spectrogram) -> np.ndarray:
    """Compute the onset strength per frame over all STFT bins.

    The onset strength is the sum of the rises of log-compressed magnitude ``log(1 + 100 |X|)``
    from the previous frame (0 for the first frame). Fine frequency resolution keeps the onsets
    of single notes.

    Parameters
    ----------
    spectrogram : Spectrogram
        Magnitude STFT of the clip.

    Returns
    -------
    numpy.ndarray
        float64 ``(n_frames,)``, >= 0.

    Examples
    --------
    Clicks every 0.25 s stand out at frames 20, 42, 63 and 85 (86 frames per second):

    >>> import numpy as np
    >>> clicks = np.zeros(22_050)
    >>> clicks[::5512] = 1.0
    >>> flux = spectral_flux(Spectrogram.of(normalised(clicks), sample_rate=22_050))
    >>> flux.shape, flux.dtype
    ((87,), dtype('float64'))
    >>> np.flatnonzero(flux > 0.5 * flux.max())
    array([20, 42, 63, 85])
    """
    return _rectified_flux(np.log1p(_LOG_GAIN * spectrogram.magnitude))


def mel_flux(spectrogram: Spectrogram, *, n_mels: int = 40) -> np.ndarray:
    """Compute the onset strength per frame over ``n_mels`` mel bands (30 Hz to 8 kHz).

    As :func:`spectral_flux`, but the magnitudes are pooled into mel bands before compression.
    Pooling bins into bands lets broadband events (drum hits, chord strikes) dominate, as they do
    the felt beat.

    Parameters
    ----------
    spectrogram : Spectrogram
        Magnitude STFT of the clip.
    n_mels : int, default 40
        Number of mel bands; the top band ends at 8 kHz or at Nyquist, whichever is lower.

    Returns
    -------
    numpy.ndarray
        float64 ``(n_frames,)``, >= 0.

    Examples
    --------
    >>> import numpy as np
    >>> clicks = np.zeros(22_050)
    >>> clicks[::5512] = 1.0
    >>> flux = mel_flux(Spectrogram.of(normalised(clicks), sample_rate=22_050))
    >>> flux.shape, flux.dtype, float(flux[0])
    ((87,), dtype('float64'), 0.0)
    """
    bands = librosa.filters.mel(
        sr=spectrogram.sample_rate,
        n_fft=spectrogram.n_fft,
        n_mels=n_mels,
        fmin=30.0,
        fmax=min(8000.0, spectrogram.sample_rate / 2),
    )
    return _rectified_flux(np.log1p(_LOG_GAIN * (spectrogram.magnitude @ bands.T)))


__all__ = ["Spectrogram", "mel_flux", "normalised", "spectral_flux"]
