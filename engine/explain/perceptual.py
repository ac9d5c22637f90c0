"""Explain one waveform with a trained spectrogram ViT: prediction, relevance map, sonification.

The single entry point used by the precompute stage, the ``precompute explain`` command and the
dashboard's upload page, so that all three give the same answer for the same clip.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from engine.audio.perceptual_images import image_input, to_display
from engine.audio.representations import VIT_HOP, VIT_N_FFT, vit_spectrogram_input
from engine.audio.sonify import sonify_spectrum
from engine.audio.stft import stft
from engine.explain.attribution import make_attributor
from engine.vocabulary import CLASSES


@dataclass(frozen=True)
class PerceptualExplanation:
    """Everything the perceptual route says about one clip.

    Attributes:
        probabilities: ``(n_classes,)`` softmax output, ordered as ``CLASSES``.
        predicted: name of the most probable class.
        image: ``(224, 224)`` display image (the linear-frequency spectrogram) in [0, 1], rows =
            frequency (low first); the model's input itself when its image is ``linear``.
        relevance: method name to ``(224, 224)`` map for the predicted class on the display image's
            grid, in the method's units (signed for the LRP and gradient methods; see
            :mod:`engine.explain.attribution`).
        sonified: method name to float32 waveform ``(n_samples,)`` at 22,050 Hz: what the model used.
        complement: method name to the complementary waveform: what the model ignored.
    """

    probabilities: np.ndarray
    predicted: str
    image: np.ndarray
    relevance: dict[str, np.ndarray]
    sonified: dict[str, np.ndarray]
    complement: dict[str, np.ndarray]


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
    methods: Sequence[str] = ("chefer2021",),
    power: float = 2.0,
    floor: float = 0.0,
    smooth_frames: int = 1,
    device: str = "cpu",
    image: str = "linear",
    method_options: Mapping[str, Mapping[str, Any]] | None = None,
) -> PerceptualExplanation:
    """Classify ``y`` ``(n_samples,)``, attribute the predicted class with each method and sonify each
    map and its complement (gain ``A(R) = floor + (1 - floor) R^power``, see :mod:`engine.audio.sonify`).

    ``image`` names the model's input (:mod:`engine.audio.perceptual_images`; a stored model's spec
    says which); maps are returned on the display grid whatever it is. ``method_options`` gives a
    method's keyword options (``{"integrated_gradients": {"steps": 32}}``), as the run that stored the
    model used them.
    """
    model_input = image_input(y, clip_seconds=clip_seconds, image=image)
    probabilities = classify(model, model_input[None], device=device)[0]
    predicted = int(np.argmax(probabilities))
    tensor = torch.from_numpy(model_input)[None, None].to(device)
    relevance = {
        m: to_display(make_attributor(m, model, **(method_options or {}).get(m, {})).attribute(tensor, target=predicted)[0],
                      image=image)
        for m in methods
    }
    spectrum = stft(y, n_fft=VIT_N_FFT, hop_length=VIT_HOP)
    sound = {
        (m, complement): sonify_spectrum(
            spectrum, r, reference=y, n_fft=VIT_N_FFT, hop_length=VIT_HOP, power=power, floor=floor,
            smooth_frames=smooth_frames, complement=complement,
        )
        for m, r in relevance.items()
        for complement in (False, True)
    }
    return PerceptualExplanation(
        probabilities=probabilities,
        predicted=CLASSES[predicted],
        image=vit_spectrogram_input(y, clip_seconds=clip_seconds) if image != "linear" else model_input,
        relevance=relevance,
        sonified={m: sound[m, False] for m in relevance},
        complement={m: sound[m, True] for m in relevance},
    )
