"""Explain one waveform with a trained spectrogram ViT: prediction, relevance map, sonification.

The single entry point used by the precompute stage, the ``precompute explain`` command and the
dashboard's upload page, so that all three give the same answer for the same clip.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch import nn

from engine.audio.representations import VIT_HOP, VIT_N_FFT, vit_spectrogram_input
from engine.audio.sonify import sonify
from engine.datasets.base import CLASSES
from engine.explain.vit_relevance import make_attributor


@dataclass(frozen=True)
class PerceptualExplanation:
    """Everything the perceptual route says about one clip.

    Attributes:
        probabilities: ``(n_classes,)`` softmax output, ordered as ``CLASSES``.
        predicted: name of the most probable class.
        image: ``(224, 224)`` model input in [0, 1], rows = frequency (low first).
        relevance: method name to ``(224, 224)`` map in [0, 1] for the predicted class.
        sonified: method name to float32 waveform ``(n_samples,)`` at 22,050 Hz.
    """

    probabilities: np.ndarray
    predicted: str
    image: np.ndarray
    relevance: dict[str, np.ndarray]
    sonified: dict[str, np.ndarray]


def classify(model: nn.Module, images: np.ndarray, *, device: str = "cpu", batch_size: int = 32) -> np.ndarray:
    """Class probabilities ``(N, n_classes)`` for images ``(N, 224, 224)``."""
    model = model.to(device).eval()
    out = []
    with torch.no_grad():
        for start in range(0, images.shape[0], batch_size):
            batch = torch.from_numpy(np.ascontiguousarray(images[start : start + batch_size], dtype=np.float32))[:, None]
            out.append(torch.softmax(model(batch.to(device)), dim=1).float().cpu().numpy())
    return np.concatenate(out)


def explain_waveform(
    model: nn.Module,
    y: np.ndarray,
    *,
    clip_seconds: float,
    methods: Sequence[str] = ("grad_rollout",),
    power: float = 2.0,
    floor: float = 0.0,
    device: str = "cpu",
) -> PerceptualExplanation:
    """Classify ``y`` ``(n_samples,)``, attribute the predicted class with each method and sonify each map."""
    image = vit_spectrogram_input(y, clip_seconds=clip_seconds)
    probabilities = classify(model, image[None], device=device)[0]
    predicted = int(np.argmax(probabilities))
    tensor = torch.from_numpy(image)[None, None].to(device)
    relevance = {m: make_attributor(m, model).attribute(tensor, target=predicted)[0] for m in methods}
    sonified = {
        m: sonify(y, r, n_fft=VIT_N_FFT, hop_length=VIT_HOP, power=power, floor=floor) for m, r in relevance.items()
    }
    return PerceptualExplanation(
        probabilities=probabilities, predicted=CLASSES[predicted], image=image, relevance=relevance, sonified=sonified
    )
