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
    """Frames of a centred STFT of a ``clip_seconds`` clip: ``1 + n_samples // hop_length``."""
    return 1 + int(round(clip_seconds * sample_rate)) // hop_length


def db_to_unit(db: np.ndarray) -> np.ndarray:
    """Map dB in ``[-TOP_DB, 0]`` to [0, 1]."""
    return ((db + TOP_DB) / TOP_DB).astype(np.float32)


def spectrogram_input(y: np.ndarray, *, clip_seconds: float) -> np.ndarray:
    """Log-frequency spectrogram in [0, 1], shape ``(149, n_frames(clip_seconds, 705))``."""
    db = log_frequency_spectrogram(y, hop_length=SPECTROGRAM_HOP, top_db=TOP_DB)
    return db_to_unit(fit_frames(db, n_frames=n_frames(clip_seconds, SPECTROGRAM_HOP), fill=-TOP_DB))


def chromagram_input(y: np.ndarray, *, clip_seconds: float) -> np.ndarray:
    """Chromagram in [0, 1], shape ``(12, n_frames(clip_seconds, 512))``."""
    return fit_frames(chromagram(y, hop_length=CHROMA_HOP), n_frames=n_frames(clip_seconds, CHROMA_HOP), fill=0.0)


def mean_chroma_input(y: np.ndarray, *, clip_seconds: float) -> np.ndarray:
    """12-bin mean chroma, shape ``(12,)``."""
    return mean_chroma(chromagram_input(y, clip_seconds=clip_seconds))


def vit_spectrogram_input(y: np.ndarray, *, clip_seconds: float) -> np.ndarray:
    """Linear-frequency spectrogram resized to ``(224, 224)`` in [0, 1]; rows = frequency, low first."""
    db = log_spectrogram(y, n_fft=VIT_N_FFT, hop_length=VIT_HOP, top_db=TOP_DB)
    db = fit_frames(db, n_frames=n_frames(clip_seconds, VIT_HOP), fill=-TOP_DB)
    return np.clip(db_to_unit(resize(db, shape=(VIT_SIZE, VIT_SIZE))), 0.0, 1.0)


def log_image_input(y: np.ndarray, *, clip_seconds: float) -> np.ndarray:
    """The log-frequency ``spectrogram`` input resized to ``(224, 224)`` in [0, 1] (a perceptual image)."""
    return np.clip(resize(spectrogram_input(y, clip_seconds=clip_seconds), shape=(VIT_SIZE, VIT_SIZE)), 0.0, 1.0)


def vit_grid_magnitude(y: np.ndarray, *, clip_seconds: float) -> np.ndarray:
    """Linear STFT magnitude on the ViT's ``(224, 224)`` grid (no dB), e.g. to compare stems bin by bin."""
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
    """Compute the representation called ``name`` (a key of ``REPRESENTATIONS``) of waveform ``y``."""
    try:
        function = REPRESENTATIONS[name]
    except KeyError:
        raise ValueError(f"unknown representation {name!r}; known: {sorted(REPRESENTATIONS)}") from None
    return function(y, clip_seconds=clip_seconds)
