"""The named model inputs of both routes, computed from one waveform with the thesis's settings.

==================  =========================  ==============================================
name                shape for a 10 s clip      what it is
==================  =========================  ==============================================
spectrogram         (149, 313)                 log-frequency log-magnitude (24 bands/octave)
chromagram          (12, 431)                  STFT chroma, hop 512
mean_chroma         (12,)                      chromagram averaged over time
vit_spectrogram     (224, 224)                 linear-frequency log-magnitude (n_fft 3198,
                                               hop 989) resized to the ViT's 224 x 224 grid
log_spectrogram_224 (224, 224)                 ``spectrogram`` resized to 224 x 224 (the
                                               perceptual route's ``log`` image)
==================  =========================  ==============================================

Every 2-D input is scaled to [0, 1]: dB values map ``-80 dB -> 0`` and ``0 dB -> 1``.
The number of frames follows the clip length, so every clip of a dataset gives the same shape.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from engine.audio.chroma import chromagram, mean_chroma
from engine.audio.spectrogram import fit_frames, log_frequency_spectrogram, log_spectrogram, resize
from engine.audio.stft import stft
from engine.vocabulary import SAMPLE_RATE

TOP_DB = 80.0
VIT_SIZE = 224
SPECTROGRAM_HOP = 705
CHROMA_HOP = 512
VIT_N_FFT = 3198
VIT_HOP = 989


def n_frames(clip_seconds: float, hop_length: int, *, sample_rate: int = SAMPLE_RATE) -> int:
    """Return the number of frames of a centred STFT of a ``clip_seconds`` clip.

    Parameters
    ----------
    clip_seconds : float
        Clip length in seconds.
    hop_length : int
        Hop between frames in samples.
    sample_rate : int, default SAMPLE_RATE
        Sample rate in Hz (22,050).

    Returns
    -------
    int
        ``1 + n_samples // hop_length`` with ``n_samples = round(clip_seconds * sample_rate)``.

    Examples
    --------
    >>> n_frames(10.0, SPECTROGRAM_HOP), n_frames(10.0, CHROMA_HOP)
    (313, 431)
    """
    return 1 + int(round(clip_seconds * sample_rate)) // hop_length


def db_to_unit(db: np.ndarray) -> np.ndarray:
    """Map dB in ``[-TOP_DB, 0]`` to [0, 1] linearly: -80 dB to 0, 0 dB to 1.

    Values outside ``[-TOP_DB, 0]`` are not clipped.

    Parameters
    ----------
    db : numpy.ndarray
        Values in dB, any shape.

    Returns
    -------
    numpy.ndarray
        float32, same shape as ``db``: ``(db + TOP_DB) / TOP_DB``.

    Examples
    --------
    >>> import numpy as np
    >>> db_to_unit(np.array([-80.0, -40.0, 0.0]))
    array([0. , 0.5, 1. ], dtype=float32)
    """
    return ((db + TOP_DB) / TOP_DB).astype(np.float32)


def spectrogram_input(y: np.ndarray, *, clip_seconds: float) -> np.ndarray:
    """Compute the log-frequency spectrogram input (the A2E/A2Mid CNN's ``spectrogram``).

    Parameters
    ----------
    y : numpy.ndarray
        Mono waveform at 22,050 Hz, shape ``(n_samples,)``.
    clip_seconds : float
        Clip length in seconds that fixes the number of frames; longer audio is cropped, shorter
        padded with -80 dB.

    Returns
    -------
    numpy.ndarray
        float32 in [0, 1], shape ``(149, n_frames(clip_seconds, 705))``; row 0 is the lowest band.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.sin(2 * np.pi * 440.0 * np.arange(SAMPLE_RATE // 2) / SAMPLE_RATE)  # 0.5 s
    >>> image = spectrogram_input(y, clip_seconds=0.5)
    >>> image.shape, image.dtype, float(image.min()), float(image.max())
    ((149, 16), dtype('float32'), 0.0, 1.0)
    """
    db = log_frequency_spectrogram(y, hop_length=SPECTROGRAM_HOP, top_db=TOP_DB)
    return db_to_unit(fit_frames(db, n_frames=n_frames(clip_seconds, SPECTROGRAM_HOP), fill=-TOP_DB))


def chromagram_input(y: np.ndarray, *, clip_seconds: float) -> np.ndarray:
    """Compute the chromagram input (hop 512).

    Parameters
    ----------
    y : numpy.ndarray
        Mono waveform at 22,050 Hz, shape ``(n_samples,)``.
    clip_seconds : float
        Clip length in seconds that fixes the number of frames; longer audio is cropped, shorter
        padded with zeros.

    Returns
    -------
    numpy.ndarray
        float32 in [0, 1], shape ``(12, n_frames(clip_seconds, 512))``; row 0 is C.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.sin(2 * np.pi * 440.0 * np.arange(SAMPLE_RATE // 2) / SAMPLE_RATE)  # 0.5 s
    >>> chroma = chromagram_input(y, clip_seconds=1.0)  # half of it padded
    >>> chroma.shape, chroma.dtype, float(chroma[:, -1].max())
    ((12, 44), dtype('float32'), 0.0)
    """
    return fit_frames(chromagram(y, hop_length=CHROMA_HOP), n_frames=n_frames(clip_seconds, CHROMA_HOP), fill=0.0)


def mean_chroma_input(y: np.ndarray, *, clip_seconds: float) -> np.ndarray:
    """Compute the 12-bin mean chroma input: :func:`chromagram_input` averaged over time.

    Parameters
    ----------
    y : numpy.ndarray
        Mono waveform at 22,050 Hz, shape ``(n_samples,)``.
    clip_seconds : float
        Clip length in seconds that fixes the number of frames; longer audio is cropped, shorter
        padded with zeros.

    Returns
    -------
    numpy.ndarray
        float32 in [0, 1], shape ``(12,)``; index 0 is C.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.sin(2 * np.pi * 440.0 * np.arange(SAMPLE_RATE // 2) / SAMPLE_RATE)  # 0.5 s
    >>> chroma = mean_chroma_input(y, clip_seconds=0.5)
    >>> chroma.shape, int(chroma.argmax())  # pitch class 9 is A
    ((12,), 9)
    """
    return mean_chroma(chromagram_input(y, clip_seconds=clip_seconds))


def vit_spectrogram_input(y: np.ndarray, *, clip_seconds: float) -> np.ndarray:
    """Compute the ViT's linear-frequency spectrogram image (n_fft 3198, hop 989).

    Parameters
    ----------
    y : numpy.ndarray
        Mono waveform at 22,050 Hz, shape ``(n_samples,)``.
    clip_seconds : float
        Clip length in seconds that fixes the number of frames; longer audio is cropped, shorter
        padded with -80 dB.

    Returns
    -------
    numpy.ndarray
        float32 in [0, 1], shape ``(224, 224)``; rows are frequency (0 to 11,025 Hz, low first),
        columns time.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.sin(2 * np.pi * 440.0 * np.arange(SAMPLE_RATE // 2) / SAMPLE_RATE)  # 0.5 s
    >>> image = vit_spectrogram_input(y, clip_seconds=0.5)
    >>> image.shape, image.dtype, bool(0.0 <= image.min() and image.max() <= 1.0)
    ((224, 224), dtype('float32'), True)
    """
    db = log_spectrogram(y, n_fft=VIT_N_FFT, hop_length=VIT_HOP, top_db=TOP_DB)
    db = fit_frames(db, n_frames=n_frames(clip_seconds, VIT_HOP), fill=-TOP_DB)
    return np.clip(db_to_unit(resize(db, shape=(VIT_SIZE, VIT_SIZE))), 0.0, 1.0)


def log_image_input(y: np.ndarray, *, clip_seconds: float) -> np.ndarray:
    """Compute the log-frequency ``spectrogram`` input resized to ``(224, 224)`` (the perceptual ``log`` image).

    Parameters
    ----------
    y : numpy.ndarray
        Mono waveform at 22,050 Hz, shape ``(n_samples,)``.
    clip_seconds : float
        Clip length in seconds that fixes the number of frames; longer audio is cropped, shorter
        padded with -80 dB.

    Returns
    -------
    numpy.ndarray
        float32 in [0, 1], shape ``(224, 224)``; rows are frequency (low first), columns time.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.sin(2 * np.pi * 440.0 * np.arange(SAMPLE_RATE // 2) / SAMPLE_RATE)  # 0.5 s
    >>> image = log_image_input(y, clip_seconds=0.5)
    >>> image.shape, image.dtype, bool(0.0 <= image.min() and image.max() <= 1.0)
    ((224, 224), dtype('float32'), True)
    """
    return np.clip(resize(spectrogram_input(y, clip_seconds=clip_seconds), shape=(VIT_SIZE, VIT_SIZE)), 0.0, 1.0)


def vit_grid_magnitude(y: np.ndarray, *, clip_seconds: float) -> np.ndarray:
    """Compute the linear STFT magnitude on the ViT's ``(224, 224)`` grid (no dB), e.g. to compare stems bin by bin.

    Parameters
    ----------
    y : numpy.ndarray
        Mono waveform at 22,050 Hz, shape ``(n_samples,)``.
    clip_seconds : float
        Clip length in seconds that fixes the number of frames; longer audio is cropped, shorter
        padded with zeros.

    Returns
    -------
    numpy.ndarray
        float32 magnitudes >= 0 (linear, not normalised), shape ``(224, 224)``; rows are
        frequency (low first), columns time.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.sin(2 * np.pi * 440.0 * np.arange(SAMPLE_RATE // 2) / SAMPLE_RATE)  # 0.5 s
    >>> magnitude = vit_grid_magnitude(y, clip_seconds=0.5)
    >>> magnitude.shape, magnitude.dtype, bool(magnitude.min() >= 0.0)
    ((224, 224), dtype('float32'), True)
    """
    magnitude = np.abs(stft(y, n_fft=VIT_N_FFT, hop_length=VIT_HOP))
    magnitude = fit_frames(magnitude, n_frames=n_frames(clip_seconds, VIT_HOP), fill=0.0)
    return np.clip(resize(magnitude, shape=(VIT_SIZE, VIT_SIZE)), 0.0, None)


REPRESENTATIONS: dict[str, Callable[..., np.ndarray]] = {
    "spectrogram": spectrogram_input,
    "chromagram": chromagram_input,
    "mean_chroma": mean_chroma_input,
    "vit_spectrogram": vit_spectrogram_input,
    "log_spectrogram_224": log_image_input,
}


def compute_representation(name: str, y: np.ndarray, *, clip_seconds: float) -> np.ndarray:
    """Compute the representation called ``name`` (a key of ``REPRESENTATIONS``) of waveform ``y``.

    Parameters
    ----------
    name : str
        A key of ``REPRESENTATIONS``: ``"spectrogram"``, ``"chromagram"``, ``"mean_chroma"``,
        ``"vit_spectrogram"`` or ``"log_spectrogram_224"``.
    y : numpy.ndarray
        Mono waveform at 22,050 Hz, shape ``(n_samples,)``.
    clip_seconds : float
        Clip length in seconds that fixes the number of frames.

    Returns
    -------
    numpy.ndarray
        float32 representation; shapes for a 10 s clip are tabulated in the module docstring.

    Raises
    ------
    ValueError
        ``name`` is not a key of ``REPRESENTATIONS``; the message lists the known names.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.sin(2 * np.pi * 440.0 * np.arange(SAMPLE_RATE // 2) / SAMPLE_RATE)  # 0.5 s
    >>> compute_representation("spectrogram", y, clip_seconds=0.5).shape
    (149, 16)
    >>> compute_representation("mfcc", y, clip_seconds=0.5)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    ValueError: unknown representation 'mfcc'; known: ['chromagram', 'log_spectrogram_224', ...]
    """
    try:
        function = REPRESENTATIONS[name]
    except KeyError:
        raise ValueError(f"unknown representation {name!r}; known: {sorted(REPRESENTATIONS)}") from None
    return function(y, clip_seconds=clip_seconds)
