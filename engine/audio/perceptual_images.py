"""The perceptual route's ``(224, 224)`` input images, by name, and how their relevance reaches the display grid.

The display grid is the one on which maps are shown, split by stem and sonified.

=========  ==============================================  ========================================
image      model input (rows = frequency, low first)       relevance on the display grid
=========  ==============================================  ========================================
linear     the thesis's image: linear-frequency STFT        the map itself (this is the display grid)
           (n_fft 3198, hop 989), 224 rows up to 11 kHz
log        the A2E log-frequency spectrogram (24 bands per   each display row takes the mean of the
           octave, 149 bands from 20 Hz) resized to 224     log map over the frequencies it covers
=========  ==============================================  ========================================

Why a log image: on the linear image each row spans about 49 Hz, so an octave of bass (110 to
220 Hz) is 2 rows and the octave above middle C 4.5; the log image gives them 15 and 36 rows (36
per octave above 440 Hz, fewer below, where quarter-tone bands are narrower than an FFT bin).
Mode (major or minor), the strongest emotion cue, lives in those low octaves. The soundtracks
profile's CNN reads this image; the demo keeps the thesis's (``benchmarks/bench_generalisation.py
--image log`` compares the two on an independent synthetic corpus).

Both images cover the clip's whole length in 224 columns, so columns map one to one in time.
"""

from __future__ import annotations

import numpy as np

from engine.audio.representations import (
    SPECTROGRAM_HOP,
    VIT_N_FFT,
    VIT_SIZE,
    log_image_input,
    n_frames,
    vit_grid_magnitude,
    vit_spectrogram_input,
)
from engine.audio.spectrogram import fit_frames, log_frequency_centres, log_frequency_spectrogram, resize
from engine.vocabulary import SAMPLE_RATE

IMAGES: tuple[str, ...] = ("linear", "log")
REPRESENTATION_OF: dict[str, str] = {"linear": "vit_spectrogram", "log": "log_spectrogram_224"}
"""Feature name (:data:`engine.audio.representations.REPRESENTATIONS`) of each image."""


def check_image(image: str) -> str:
    """Return ``image`` if it names a perceptual image, else raise ``ValueError`` naming the choices.

    Parameters
    ----------
    image : str
        Name to check against ``IMAGES``.

    Returns
    -------
    str
        ``image`` itself.

    Raises
    ------
    ValueError
        ``image`` is not in ``IMAGES``; the message lists the known names.

    Examples
    --------
    >>> check_image("log")
    'log'
    >>> check_image("mel")
    Traceback (most recent call last):
        ...
    ValueError: unknown perceptual image 'mel'; known: ['linear', 'log']
    """
    if image not in IMAGES:
        raise ValueError(f"unknown perceptual image {image!r}; known: {list(IMAGES)}")
    return image


def log_image_magnitude(y: np.ndarray, *, clip_seconds: float) -> np.ndarray:
    """Compute the linear band magnitude on the log image's ``(224, 224)`` grid (no dB), e.g. to split relevance by stem.

    Parameters
    ----------
    y : numpy.ndarray
        Mono waveform at 22,050 Hz, shape ``(n_samples,)``.
    clip_seconds : float
        Clip length in seconds that fixes the number of frames.

    Returns
    -------
    numpy.ndarray
        float32 magnitudes >= 0 (linear, not normalised), shape ``(224, 224)``; rows are
        log-frequency (low first), columns time.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.sin(2 * np.pi * 440.0 * np.arange(SAMPLE_RATE // 2) / SAMPLE_RATE)  # 0.5 s
    >>> magnitude = log_image_magnitude(y, clip_seconds=0.5)
    >>> magnitude.shape, magnitude.dtype, bool(magnitude.min() >= 0.0)
    ((224, 224), dtype('float32'), True)
    """
    magnitude = log_frequency_spectrogram(y, hop_length=SPECTROGRAM_HOP, to_db=False)
    magnitude = fit_frames(magnitude, n_frames=n_frames(clip_seconds, SPECTROGRAM_HOP), fill=0.0)
    return np.clip(resize(magnitude, shape=(VIT_SIZE, VIT_SIZE)), 0.0, None)


def image_input(y: np.ndarray, *, clip_seconds: float, image: str) -> np.ndarray:
    """Compute the perceptual model's input image of a waveform.

    Parameters
    ----------
    y : numpy.ndarray
        Mono waveform at 22,050 Hz, shape ``(n_samples,)``.
    clip_seconds : float
        Clip length in seconds that fixes the number of frames.
    image : str
        ``"linear"`` or ``"log"`` (see ``IMAGES``).

    Returns
    -------
    numpy.ndarray
        float32 in [0, 1], shape ``(224, 224)``; rows are frequency (low first), columns time.

    Raises
    ------
    ValueError
        ``image`` is not in ``IMAGES``.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.sin(2 * np.pi * 440.0 * np.arange(SAMPLE_RATE // 2) / SAMPLE_RATE)  # 0.5 s
    >>> image = image_input(y, clip_seconds=0.5, image="log")
    >>> image.shape, image.dtype, bool(0.0 <= image.min() and image.max() <= 1.0)
    ((224, 224), dtype('float32'), True)
    """
    if check_image(image) == "linear":
        return vit_spectrogram_input(y, clip_seconds=clip_seconds)
    return log_image_input(y, clip_seconds=clip_seconds)


def crop_offsets(*, duration_seconds: float, clip_seconds: float, crops: int) -> list[float]:
    """Return the start times of ``crops`` windows of ``clip_seconds`` spread evenly over an excerpt.

    The first window starts at 0 (the clip every other stage reads) and the last ends at the
    excerpt's end; an excerpt no longer than one window has the one offset 0.

    Parameters
    ----------
    duration_seconds : float
        Length of the excerpt, in seconds.
    clip_seconds : float
        Length of one window, in seconds.
    crops : int
        Number of windows wanted (at least 1).

    Returns
    -------
    list of float
        Distinct offsets in seconds, ascending, starting with 0.0.

    Raises
    ------
    ValueError
        ``crops`` is below 1.

    Examples
    --------
    >>> crop_offsets(duration_seconds=20.0, clip_seconds=10.0, crops=3)
    [0.0, 5.0, 10.0]
    >>> crop_offsets(duration_seconds=10.0, clip_seconds=10.0, crops=3)
    [0.0]
    """
    if crops < 1:
        raise ValueError(f"crops must be at least 1, got {crops}")
    room = max(0.0, duration_seconds - clip_seconds)
    if room < 0.5 or crops == 1:  # under half a second of room the windows would be near copies
        return [0.0]
    return [float(x) for x in np.linspace(0.0, room, crops)]


def image_crops(y: np.ndarray, *, clip_seconds: float, image: str, crops: int) -> np.ndarray:
    """Compute the input image of each of ``crops`` windows spread over a longer excerpt.

    Training on several windows of each excerpt (random crops of longer excerpts) multiplies the
    views of a few hundred clips; window 0 is the image :func:`image_input` gives the clip.

    Parameters
    ----------
    y : numpy.ndarray
        Mono waveform of the whole excerpt at 22,050 Hz, shape ``(n_samples,)``.
    clip_seconds : float
        Length of one window, in seconds.
    image : str
        ``"linear"`` or ``"log"`` (see ``IMAGES``).
    crops : int
        Number of windows wanted; fewer come back when the excerpt is short (:func:`crop_offsets`).

    Returns
    -------
    numpy.ndarray
        float32 images in [0, 1], shape ``(n_windows, 224, 224)``.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.random.default_rng(0).normal(size=3 * SAMPLE_RATE).astype(np.float32)  # 3 s
    >>> image_crops(y, clip_seconds=1.0, image="log", crops=3).shape
    (3, 224, 224)
    """
    offsets = crop_offsets(duration_seconds=len(y) / SAMPLE_RATE, clip_seconds=clip_seconds, crops=crops)
    length = int(round(clip_seconds * SAMPLE_RATE))
    windows = [y[int(round(o * SAMPLE_RATE)) : int(round(o * SAMPLE_RATE)) + length] for o in offsets]
    return np.stack([image_input(w, clip_seconds=clip_seconds, image=image) for w in windows]).astype(np.float32)


def image_magnitude(y: np.ndarray, *, clip_seconds: float, image: str) -> np.ndarray:
    """Compute the linear magnitude on the model input's grid (to compare stems pixel by pixel).

    Parameters
    ----------
    y : numpy.ndarray
        Mono waveform at 22,050 Hz, shape ``(n_samples,)``.
    clip_seconds : float
        Clip length in seconds that fixes the number of frames.
    image : str
        ``"linear"`` or ``"log"`` (see ``IMAGES``).

    Returns
    -------
    numpy.ndarray
        float32 magnitudes >= 0 (linear, no dB), shape ``(224, 224)``, on the same grid as
        :func:`image_input`.

    Raises
    ------
    ValueError
        ``image`` is not in ``IMAGES``.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.sin(2 * np.pi * 440.0 * np.arange(SAMPLE_RATE // 2) / SAMPLE_RATE)  # 0.5 s
    >>> magnitude = image_magnitude(y, clip_seconds=0.5, image="linear")
    >>> magnitude.shape, magnitude.dtype
    ((224, 224), dtype('float32'))
    """
    if check_image(image) == "linear":
        return vit_grid_magnitude(y, clip_seconds=clip_seconds)
    return log_image_magnitude(y, clip_seconds=clip_seconds)


def display_rows_of_log(*, oversample: int = 1) -> np.ndarray:
    """Return the fractional log-image row holding the frequency of each display (linear) row.

    Both grids come from bilinear resizes (``align_corners=False``): display row ``i`` sits at
    linear bin ``(i + 0.5) * 1600 / 224 - 0.5`` of the 3198-point STFT; log row ``r`` at band
    ``(r + 0.5) * 149 / 224 - 0.5``. Rows are interpolated over log-frequency between band
    centres; frequencies below the first band's centre read row 0.

    Parameters
    ----------
    oversample : int, default 1
        Positions per display row, spread evenly across the row's height.

    Returns
    -------
    numpy.ndarray
        float64 log-image rows in ``[0, 223]``, ascending: shape ``(224,)``, or
        ``(224, oversample)`` when ``oversample > 1``.

    Examples
    --------
    >>> import numpy as np
    >>> rows = display_rows_of_log()
    >>> rows.shape, bool(np.all(np.diff(rows) >= 0))
    ((224,), True)
    >>> display_rows_of_log(oversample=4).shape
    (224, 4)
    """
    n_bins = VIT_N_FFT // 2 + 1
    offsets = (np.arange(oversample) + 0.5) / oversample - 0.5 if oversample > 1 else np.zeros(1)
    display = np.arange(VIT_SIZE)[:, None] + offsets[None, :]
    display_bins = np.clip((display + 0.5) * n_bins / VIT_SIZE - 0.5, 0.0, n_bins - 1)
    display_hz = display_bins * SAMPLE_RATE / VIT_N_FFT
    centres = log_frequency_centres()  # the A2E spectrogram's bands
    log_rows = np.clip((np.arange(len(centres)) + 0.5) * VIT_SIZE / len(centres) - 0.5, 0.0, VIT_SIZE - 1)
    # a band centre's position on the 224-row log image, interpolated over log-frequency
    rows = np.interp(np.log2(np.maximum(display_hz, 1.0)), np.log2(centres), log_rows)
    return rows if oversample > 1 else rows[:, 0]


_OVERSAMPLE = 16  # below ~1.7 kHz one display row spans several log rows (up to ~7): average them


def to_display(relevance: np.ndarray, *, image: str) -> np.ndarray:
    """Move a relevance map from the model's image grid to the display (linear) grid.

    ``linear`` maps are returned as they are. For ``log`` maps each display row takes the mean of
    the log map (interpolated linearly between rows) over the frequencies the row covers, so a
    narrow relevant band is neither lost between display rows nor smeared beyond its frequency,
    and sonifying the result keeps each frequency's relevance. Values are not rescaled.

    Parameters
    ----------
    relevance : numpy.ndarray
        Relevance map on the grid of ``image``, shape ``(224, W)``, rows low frequency first.
    image : str
        ``"linear"`` or ``"log"``: the image the map was computed on.

    Returns
    -------
    numpy.ndarray
        Shape ``(224, W)``, same dtype as ``relevance``, on the display (linear-frequency) grid.

    Raises
    ------
    ValueError
        ``image`` is not in ``IMAGES``.

    Examples
    --------
    >>> import numpy as np
    >>> relevance = np.ones((224, 10), dtype=np.float32)
    >>> display = to_display(relevance, image="log")
    >>> display.shape, display.dtype, bool(np.allclose(display, 1.0))
    ((224, 10), dtype('float32'), True)
    >>> to_display(relevance, image="linear") is relevance
    True
    """
    if check_image(image) == "linear":
        return relevance
    rows = display_rows_of_log(oversample=_OVERSAMPLE)
    low = np.floor(rows).astype(int)
    high = np.minimum(low + 1, relevance.shape[0] - 1)
    weight = (rows - low)[..., None]
    sampled = relevance[low] * (1.0 - weight) + relevance[high] * weight  # (224, oversample, W)
    return sampled.mean(axis=1).astype(relevance.dtype, copy=False)
