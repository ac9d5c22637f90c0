"""How arrays and audio are stored in a results database.

- 2-D arrays (spectrogram images, relevance maps) are float16 little-endian bytes in row-major
  order, stored with their ``height`` and ``width``; row 0 is the lowest frequency.
- Audio is stored encoded (OGG Vorbis, format ``"ogg"``), never as raw samples.
"""

from __future__ import annotations

import numpy as np

from engine.audio.io import encode_audio
from engine.vocabulary import SAMPLE_RATE

ARRAY_DTYPE = "<f2"
AUDIO_FORMAT = "ogg"


def encode_array(array: np.ndarray) -> bytes:
    """Encode a 2-D array as the schema stores it.

    Parameters
    ----------
    array : numpy.ndarray
        ``(height, width)`` values; float16 keeps about 3 significant digits.

    Returns
    -------
    bytes
        ``height * width * 2`` bytes, float16 little-endian, row-major.

    Examples
    --------
    >>> len(encode_array(np.zeros((3, 4))))
    24
    """
    return np.ascontiguousarray(array, dtype=ARRAY_DTYPE).tobytes()


def decode_array(data: bytes, *, height: int, width: int) -> np.ndarray:
    """Decode bytes written by :func:`encode_array`.

    Parameters
    ----------
    data : bytes
        The stored bytes.
    height, width : int
        The stored shape.

    Returns
    -------
    numpy.ndarray
        float32 ``(height, width)``.

    Examples
    --------
    >>> a = np.array([[0.5, 1.0], [2.0, -1.0]])
    >>> decode_array(encode_array(a), height=2, width=2).tolist()
    [[0.5, 1.0], [2.0, -1.0]]
    """
    return np.frombuffer(bytes(data), dtype=ARRAY_DTYPE).reshape(height, width).astype(np.float32)


def encode_stored_audio(y: np.ndarray) -> bytes:
    """Encode a mono waveform as the schema stores audio (OGG Vorbis at the project's sample rate).

    Parameters
    ----------
    y : numpy.ndarray
        ``(n_samples,)`` float waveform in [-1, 1] at :data:`engine.vocabulary.SAMPLE_RATE`.

    Returns
    -------
    bytes
        An OGG Vorbis file; :func:`engine.audio.io.decode_audio` reads it back as ``(waveform, sample_rate)``.

    Examples
    --------
    >>> y = np.zeros(SAMPLE_RATE // 10, dtype=np.float32)
    >>> encode_stored_audio(y)[:4]
    b'OggS'
    """
    return encode_audio(y, sample_rate=SAMPLE_RATE, format=AUDIO_FORMAT.upper())
