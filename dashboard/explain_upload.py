"""Explain an uploaded audio file with a stored ViT: validation, decoding and the explanation.

Pure functions (no Streamlit), so that the upload page stays layout only and the limits are tested
on their own. Every rejection is an :class:`UploadError` with one line that names the file and the reason.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from engine.audio.io import AudioLoadError, encode_audio, fit_length, load_audio
from engine.vocabulary import SAMPLE_RATE

if TYPE_CHECKING:
    from engine.explain.perceptual import PerceptualExplanation

MAX_UPLOAD_MB = 20
"""Largest accepted upload; longer recordings are better cut to the excerpt of interest first."""

ALLOWED_TYPES: tuple[str, ...] = ("wav", "flac", "ogg", "mp3")


class UploadError(ValueError):
    """An upload cannot be explained; the message says why in one line."""


@dataclass(frozen=True)
class UploadExplanation:
    """What the upload page shows: the explanation plus encoded audio for the three players."""

    explanation: PerceptualExplanation
    original: bytes
    sonified: bytes
    complement: bytes


def check_upload(name: str, size_bytes: int) -> None:
    """Reject a file by type or size before decoding it.

    Raises
    ------
    UploadError
        Extension not in ``ALLOWED_TYPES``, empty file, or larger than ``MAX_UPLOAD_MB``.
    """
    extension = Path(name).suffix.lower().lstrip(".")
    if extension not in ALLOWED_TYPES:
        raise UploadError(f"{name}: unsupported file type {extension or '(none)'!r}; use one of {', '.join(ALLOWED_TYPES)}")
    if size_bytes == 0:
        raise UploadError(f"{name}: the file is empty")
    if size_bytes > MAX_UPLOAD_MB * 1024 * 1024:
        raise UploadError(f"{name}: {size_bytes / 1024 / 1024:.1f} MB is over the {MAX_UPLOAD_MB} MB limit")


def decode_upload(name: str, data: bytes, *, clip_seconds: float, offset_s: float = 0.0) -> np.ndarray:
    """``clip_seconds`` of mono 22,050 Hz audio from ``offset_s`` of an uploaded file, shape ``(n,)``.

    Raises
    ------
    UploadError
        Rejected by :func:`check_upload`, undecodable, or nothing left after ``offset_s``.
    """
    check_upload(name, len(data))
    with tempfile.TemporaryDirectory() as folder:
        # load_audio reads files; the upload's own name is kept for the error message only.
        path = Path(folder) / f"upload{Path(name).suffix.lower()}"
        path.write_bytes(data)
        try:
            y = load_audio(path, offset_s=offset_s, duration_s=clip_seconds)
        except AudioLoadError as error:
            reason = str(error).replace(str(path), "").lstrip(": ")
            raise UploadError(f"{name}: {reason}") from None
    if y.size == 0:
        raise UploadError(f"{name}: no audio after {offset_s:g} s")
    return fit_length(y, n_samples=int(round(clip_seconds * SAMPLE_RATE)))


def explain_upload(
    y: np.ndarray, *, model_bytes: bytes, clip_seconds: float, method: str, power: float = 2.0,
    options: dict | None = None,
) -> UploadExplanation:
    """Explain a decoded clip ``(n,)`` with a stored model.

    Returns the prediction, the relevance of ``method`` (with its ``options``, as the run that stored
    the model used them) and the sonification (gain ``R^power``).
    """
    # torch and timm load here, on the first upload, not when the page is opened (seconds on a small CPU).
    from engine.audio.sonify import Gain
    from engine.explain.perceptual import explain_waveform
    from engine.models.perceptual import input_image_of
    from engine.models.store import model_from_bytes

    model, spec = model_from_bytes(model_bytes)
    explanation = explain_waveform(model, y, clip_seconds=clip_seconds, methods=(method,), gain=Gain(power=power),
                                   image=input_image_of(spec), method_options={method: options or {}})
    return UploadExplanation(
        explanation=explanation,
        original=encode_audio(y),
        sonified=encode_audio(explanation.sonified[method]),
        complement=encode_audio(explanation.complement[method]),
    )
