"""Live re-sonification for the confusion browser: a new gain exponent p without a new precompute run.

Pure functions (no Streamlit). The stored original clip is decoded and its STFT taken once (the
dashboard caches it); each move of the p slider then costs one gain mask and one inverse STFT, the
same :func:`engine.audio.sonify.sonify` the precompute engine uses (given the stored STFT as ``S``).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import soundfile as sf

from engine.audio.io import decode_audio
from engine.audio.representations import VIT_HOP, VIT_N_FFT
from engine.audio.sonify import sonify
from engine.audio.stft import stft


@dataclass(frozen=True)
class ClipSpectrum:
    """A decoded clip and its complex STFT on the ViT's grid.

    Attributes
    ----------
    waveform : np.ndarray
        ``(n_samples,)`` float32, the loudness reference.
    spectrum : np.ndarray
        ``(VIT_N_FFT // 2 + 1, n_frames)`` complex64.
    sample_rate : int
        Hz.
    """

    waveform: np.ndarray
    spectrum: np.ndarray
    sample_rate: int


def clip_spectrum(encoded: bytes) -> ClipSpectrum:
    """Decode a stored clip (OGG bytes) and take its STFT (n_fft 3198, hop 989, as for the model input)."""
    y, rate = decode_audio(encoded)
    return ClipSpectrum(waveform=y, spectrum=stft(y, n_fft=VIT_N_FFT, hop_length=VIT_HOP), sample_rate=int(rate))


def resonify(clip: ClipSpectrum, relevance: np.ndarray, *, power: float, complement: bool = False) -> bytes:
    """WAV bytes (16-bit PCM) of ``STFT × A(R)`` (or ``× (1 − A(R))``) with ``A(R) = R**power``.

    ``relevance`` is a stored map ``(h, w)`` over the model input (negative values count as 0); the
    output is loudness-matched (RMS) to the original, as the stored sonifications are. WAV, not OGG:
    encoding a 10 s clip as WAV is instant, and the page stays responsive while the slider moves.
    """
    audio = sonify(clip.waveform, relevance, S=clip.spectrum, n_fft=VIT_N_FFT, hop_length=VIT_HOP,
                   power=float(power), complement=complement)
    buffer = io.BytesIO()
    sf.write(buffer, np.clip(audio, -1.0, 1.0), clip.sample_rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()
