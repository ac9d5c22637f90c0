"""Log-magnitude spectrograms: linear-frequency (ViT route) and log-frequency (CNN route).

All spectrograms are ``(n_frequency, n_frames)`` arrays in dB relative to their own maximum
(``ref = max``, so the loudest bin is 0 dB), floored at ``-top_db``. Row 0 is the lowest frequency.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from engine.audio.stft import stft
from engine.vocabulary import SAMPLE_RATE


def amplitude_to_db(magnitude: np.ndarray, *, top_db: float = 80.0) -> np.ndarray:
    """Convert magnitudes to dB relative to their maximum, floored at ``-top_db``.

    All-zero input (silence) is ``-top_db`` everywhere: the floor, not the loudest possible image.

    Parameters
    ----------
    magnitude : numpy.ndarray
        Magnitudes (linear amplitude, >= 0), any shape.
    top_db : float, default 80.0
        Floor in dB below the maximum.

    Returns
    -------
    numpy.ndarray
        float32 dB values, same shape as ``magnitude``, in ``[-top_db, 0]``; the maximum is 0 dB.

    Examples
    --------
    >>> import numpy as np
    >>> amplitude_to_db(np.array([2.0, 0.2, 0.0]))
    array([  0., -20., -80.], dtype=float32)
    >>> amplitude_to_db(np.zeros(2), top_db=60.0)
    array([-60., -60.], dtype=float32)
    """
    magnitude = np.asarray(magnitude, dtype=np.float32)
    peak = float(magnitude.max(initial=0.0))
    if peak <= 0.0:
        return np.full(magnitude.shape, -top_db, dtype=np.float32)
    reference = max(peak, 1e-10)
    db = 20.0 * np.log10(np.maximum(magnitude, 1e-10) / reference)
    return np.maximum(db, -top_db).astype(np.float32)


def log_spectrogram(
    y: np.ndarray, *, n_fft: int = 3198, hop_length: int = 989, top_db: float = 80.0
) -> np.ndarray:
    """Compute a linear-frequency log-magnitude spectrogram.

    The defaults are the thesis's ViT settings: a 3198-sample window (145 ms at 22,050 Hz) and a
    989-sample hop (45 ms), giving 1600 frequency rows.

    Parameters
    ----------
    y : numpy.ndarray
        Mono waveform, shape ``(n_samples,)``.
    n_fft : int, default 3198
        FFT and window length in samples.
    hop_length : int, default 989
        Hop between frames in samples.
    top_db : float, default 80.0
        Floor in dB below the spectrogram's maximum.

    Returns
    -------
    numpy.ndarray
        float32 dB array of shape ``(n_fft // 2 + 1, 1 + n_samples // hop_length)`` in
        ``[-top_db, 0]``, relative to its maximum; row 0 is 0 Hz.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(SAMPLE_RATE // 2) / SAMPLE_RATE  # 0.5 s
    >>> db = log_spectrogram(np.sin(2 * np.pi * 440.0 * t))
    >>> db.shape, db.dtype, float(db.max()), float(db.min())
    ((1600, 12), dtype('float32'), 0.0, -80.0)
    """
    return amplitude_to_db(np.abs(stft(y, n_fft=n_fft, hop_length=hop_length)), top_db=top_db)


@lru_cache(maxsize=8)
def _filter_bins(*, sample_rate: int, n_fft: int, bands_per_octave: int, fmin: float, fmax: float) -> np.ndarray:
    """Return the unique FFT bins nearest the log-spaced centre frequencies: band ``b`` spans bins ``b`` to ``b + 2``."""
    steps = np.arange(
        np.floor(np.log2(fmin / 440.0) * bands_per_octave), np.ceil(np.log2(fmax / 440.0) * bands_per_octave) + 1
    )
    centres = 440.0 * 2.0 ** (steps / bands_per_octave)
    centres = centres[(centres >= fmin) & (centres <= fmax)]
    bin_hz = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)[:-1]  # Nyquist bin excluded
    return np.unique(np.argmin(np.abs(bin_hz[None, :] - centres[:, None]), axis=1))


def log_frequency_centres(
    *,
    sample_rate: int = SAMPLE_RATE,
    n_fft: int = 2048,
    bands_per_octave: int = 24,
    fmin: float = 20.0,
    fmax: float = 16_000.0,
) -> np.ndarray:
    """Return the centre frequency of each band of :func:`log_frequency_filterbank`.

    Parameters
    ----------
    sample_rate : int, default SAMPLE_RATE
        Sample rate in Hz (22,050).
    n_fft : int, default 2048
        FFT length in samples.
    bands_per_octave : int, default 24
        Bands per octave of the logarithmic grid.
    fmin : float, default 20.0
        Lowest centre frequency in Hz considered.
    fmax : float, default 16000.0
        Highest centre frequency in Hz considered (the FFT bins stop below Nyquist).

    Returns
    -------
    numpy.ndarray
        float64 ``(n_bands,)`` centre frequencies in Hz, ascending: the FFT bins the band
        triangles peak on.

    Examples
    --------
    >>> centres = log_frequency_centres()
    >>> centres.shape, round(float(centres[0]), 1), round(float(centres[-1]), 1)
    ((149,), 32.3, 10852.7)
    """
    bins = _filter_bins(sample_rate=sample_rate, n_fft=n_fft, bands_per_octave=bands_per_octave, fmin=fmin, fmax=fmax)
    return bins[1:-1] * (sample_rate / n_fft)


def log_frequency_filterbank(
    *,
    sample_rate: int = SAMPLE_RATE,
    n_fft: int = 2048,
    bands_per_octave: int = 24,
    fmin: float = 20.0,
    fmax: float = 16_000.0,
) -> np.ndarray:
    """Triangular filters on a logarithmic frequency axis, as in Chowdhury et al. (2019).

    Centre frequencies lie on a ``bands_per_octave`` grid tuned to A4 = 440 Hz between ``fmin`` and
    ``fmax``; each is mapped to its nearest FFT bin below Nyquist and duplicate bins are dropped
    (low bands are narrower than one FFT bin), then consecutive unique bins define overlapping
    triangles normalised to unit sum. At 22,050 Hz with ``n_fft`` 2048 this gives 149 bands.

    Parameters
    ----------
    sample_rate : int, default SAMPLE_RATE
        Sample rate in Hz (22,050).
    n_fft : int, default 2048
        FFT length in samples.
    bands_per_octave : int, default 24
        Bands per octave of the logarithmic grid.
    fmin : float, default 20.0
        Lowest centre frequency in Hz considered.
    fmax : float, default 16000.0
        Highest centre frequency in Hz considered.

    Returns
    -------
    numpy.ndarray
        Read-only float32 array ``(n_bands, n_fft // 2 + 1)``, each row summing to 1; multiply a
        magnitude spectrogram ``(n_fft // 2 + 1, n_frames)`` by it to get ``(n_bands, n_frames)``.

    Examples
    --------
    >>> import numpy as np
    >>> bank = log_frequency_filterbank()
    >>> bank.shape, bank.dtype
    ((149, 1025), dtype('float32'))
    >>> bool(np.allclose(bank.sum(axis=1), 1.0))
    True
    """
    bins = _filter_bins(sample_rate=sample_rate, n_fft=n_fft, bands_per_octave=bands_per_octave, fmin=fmin, fmax=fmax)
    bank = np.zeros((len(bins) - 2, n_fft // 2 + 1), dtype=np.float32)
    for band, (left, centre, right) in enumerate(zip(bins[:-2], bins[1:-1], bins[2:])):
        rising = np.linspace(0.0, 1.0, centre - left, endpoint=False)
        falling = np.linspace(1.0, 0.0, right - centre, endpoint=False)
        bank[band, left:centre] = rising
        bank[band, centre:right] = falling
        if centre - left == 0 or right - centre == 0:
            bank[band, centre] = 1.0
        bank[band] /= bank[band].sum()
    bank.setflags(write=False)
    return bank


def log_frequency_spectrogram(
    y: np.ndarray,
    *,
    sample_rate: int = SAMPLE_RATE,
    n_fft: int = 2048,
    hop_length: int = 705,
    bands_per_octave: int = 24,
    fmin: float = 20.0,
    fmax: float = 16_000.0,
    top_db: float = 80.0,
    to_db: bool = True,
) -> np.ndarray:
    """Compute a log-frequency log-magnitude spectrogram (the A2E/A2Mid CNN input).

    The STFT magnitude is pooled by :func:`log_frequency_filterbank`, then converted to dB by
    :func:`amplitude_to_db`. The defaults give 149 bands and 31.3 frames per second (313 frames
    for 10 s at 22,050 Hz).

    Parameters
    ----------
    y : numpy.ndarray
        Mono waveform, shape ``(n_samples,)``.
    sample_rate : int, default SAMPLE_RATE
        Sample rate of ``y`` in Hz (22,050).
    n_fft : int, default 2048
        FFT and window length in samples.
    hop_length : int, default 705
        Hop between frames in samples (32 ms at 22,050 Hz).
    bands_per_octave : int, default 24
        Bands per octave of the filterbank.
    fmin : float, default 20.0
        Lowest band centre in Hz considered.
    fmax : float, default 16000.0
        Highest band centre in Hz considered.
    top_db : float, default 80.0
        Floor in dB below the spectrogram's maximum.
    to_db : bool, default True
        Convert to dB; ``False`` returns the linear band magnitudes.

    Returns
    -------
    numpy.ndarray
        float32 dB array of shape ``(n_bands, 1 + n_samples // hop_length)`` in ``[-top_db, 0]``,
        row 0 the lowest band; with ``to_db=False`` the band magnitudes themselves (linear, e.g. to
        compare stems band by band).

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(SAMPLE_RATE // 2) / SAMPLE_RATE  # 0.5 s
    >>> db = log_frequency_spectrogram(np.sin(2 * np.pi * 440.0 * t))
    >>> db.shape, db.dtype, float(db.max())
    ((149, 16), dtype('float32'), 0.0)
    >>> round(float(log_frequency_centres()[db.mean(axis=1).argmax()]))  # the band nearest 440 Hz
    441
    """
    bank = log_frequency_filterbank(
        sample_rate=sample_rate, n_fft=n_fft, bands_per_octave=bands_per_octave, fmin=fmin, fmax=fmax
    )
    magnitude = bank @ np.abs(stft(y, n_fft=n_fft, hop_length=hop_length))
    return amplitude_to_db(magnitude, top_db=top_db) if to_db else magnitude.astype(np.float32, copy=False)


def _bilinear_taps(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the source indices and weights of a bilinear resize along one axis.

    Half-pixel centres (``align_corners=False``, no antialiasing: the convention of torch's
    ``F.interpolate``).
    """
    source = np.maximum((np.arange(n_out, dtype=np.float64) + 0.5) * (n_in / n_out) - 0.5, 0.0)
    lower = np.minimum(np.floor(source).astype(np.int64), n_in - 1)
    upper = np.minimum(lower + 1, n_in - 1)
    return lower, upper, (source - lower).astype(np.float32)


def resize(image: np.ndarray, *, shape: tuple[int, int]) -> np.ndarray:
    """Resize a 2-D array bilinearly.

    Matches ``torch.nn.functional.interpolate(mode="bilinear", align_corners=False)`` to float32
    rounding (half-pixel centres, no antialiasing), in NumPy so that reading audio and sonifying
    never needs torch.

    Parameters
    ----------
    image : numpy.ndarray
        2-D array, shape ``(h, w)``.
    shape : tuple of int
        Output shape ``(rows, columns)``.

    Returns
    -------
    numpy.ndarray
        float32 array of shape ``shape``.

    Examples
    --------
    >>> import numpy as np
    >>> resize(np.array([[0.0, 1.0]]), shape=(1, 4))
    array([[0.  , 0.25, 0.75, 1.  ]], dtype=float32)
    >>> resize(np.zeros((149, 16)), shape=(224, 224)).shape
    (224, 224)
    """
    values = np.ascontiguousarray(image, dtype=np.float32)
    top, bottom, down = _bilinear_taps(values.shape[0], shape[0])
    # a + w (b - a): equal neighbours give exactly their value (silence stays at the floor).
    rows = values[top] + down[:, None] * (values[bottom] - values[top])
    left, right, across = _bilinear_taps(values.shape[1], shape[1])
    return (rows[:, left] + across * (rows[:, right] - rows[:, left])).astype(np.float32, copy=False)


def fit_frames(image: np.ndarray, *, n_frames: int, fill: float | None = None) -> np.ndarray:
    """Crop or pad the time axis (last axis) of an array to ``n_frames``.

    Frames are cut or added at the end.

    Parameters
    ----------
    image : numpy.ndarray
        Array of shape ``(..., n)``, time last.
    n_frames : int
        Number of frames of the result.
    fill : float or None, default None
        Value of padded frames; ``None`` uses the array's minimum (silence in dB).

    Returns
    -------
    numpy.ndarray
        Shape ``(..., n_frames)``.

    Examples
    --------
    >>> import numpy as np
    >>> fit_frames(np.array([[-80.0, 0.0, -20.0]]), n_frames=5)
    array([[-80.,   0., -20., -80., -80.]])
    >>> fit_frames(np.zeros((149, 20)), n_frames=16, fill=0.0).shape
    (149, 16)
    """
    if image.shape[-1] >= n_frames:
        return image[..., :n_frames]
    pad_value = float(image.min()) if fill is None else fill
    widths = [(0, 0)] * (image.ndim - 1) + [(0, n_frames - image.shape[-1])]
    return np.pad(image, widths, constant_values=pad_value)
