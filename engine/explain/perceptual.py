"""Explain one clip with a trained perceptual model: relevance per method, sonified and complement.

:func:`explain_clip` is the one function that explains a clip (attribute, move the map to the
display grid, sonify it and its complement). The precompute stage calls it for every explained test
clip; :func:`explain_waveform`, used by the ``precompute explain`` command and the dashboard's upload
page, classifies a waveform and calls it. So all three give the same answer for the same clip.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from engine.audio.perceptual_images import image_input, to_display
from engine.audio.representations import VIT_HOP, VIT_N_FFT, vit_spectrogram_input
from engine.audio.sonify import Gain, sonify
from engine.audio.stft import stft
from engine.explain.attribution import make_attributor
from engine.explain.vit_relevance import Attributor
from engine.vocabulary import CLASSES

THESIS_GAIN = Gain(power=2.0)
"""The thesis's sonification gain ``R ** 2`` (no floor, no smoothing)."""


@dataclass(frozen=True)
class MethodExplanation:
    """What one attribution method says about one clip.

    Attributes
    ----------
    relevance : numpy.ndarray
        ``(H, W)`` map on the model's input grid, in the method's units (what removal tests and stem
        shares read).
    display : numpy.ndarray
        ``(224, 224)`` map on the display (linear-frequency) grid: what is stored, shown and sonified.
    signed : bool
        Whether the map may be negative (evidence against the explained class).
    sonified : tuple of numpy.ndarray
        Per gain asked for, the float32 waveform ``(n_samples,)`` of what the model used.
    complement : tuple of numpy.ndarray
        Per gain, the waveform of what it ignored.

    Examples
    --------
    >>> m = MethodExplanation(np.ones((4, 4)), np.ones((224, 224)), False, (), ())
    >>> m.display.shape
    (224, 224)
    """

    relevance: np.ndarray
    display: np.ndarray
    signed: bool
    sonified: tuple[np.ndarray, ...]
    complement: tuple[np.ndarray, ...]


def explain_clip(
    attributors: Mapping[str, Attributor],
    model_input: np.ndarray,
    *,
    target: int,
    image: str = "linear",
    y: np.ndarray | None = None,
    S: np.ndarray | None = None,
    gains: Sequence[Gain] = (),
    device: str = "cpu",
) -> dict[str, MethodExplanation]:
    """Attribute one clip with each method and sonify each map and its complement.

    Parameters
    ----------
    attributors : mapping of str to Attributor
        Method name to an attributor around the model (:func:`engine.explain.attribution.make_attributor`).
    model_input : numpy.ndarray
        ``(H, W)`` model input image of the clip (:func:`engine.audio.perceptual_images.image_input`).
    target : int
        The class explained (index into :data:`engine.vocabulary.CLASSES`), usually the predicted one.
    image : str, default "linear"
        The kind of the model's input image; maps are moved to the display grid from it.
    y : numpy.ndarray, optional
        The clip's waveform ``(n_samples,)`` at 22,050 Hz; without it nothing is sonified.
    S : numpy.ndarray, optional
        The STFT of ``y`` on the ViT grid, when already computed.
    gains : sequence of Gain
        The gains to sonify with (see :mod:`engine.audio.sonify`); one waveform each.
    device : str, default "cpu"
        Where the model runs.

    Returns
    -------
    dict of str to MethodExplanation
        One entry per attributor, in their order.

    Examples
    --------
    >>> from engine.audio.sonify import Gain
    >>> from engine.explain.attribution import make_attributor
    >>> _ = torch.manual_seed(0)
    >>> model = nn.Sequential(nn.Flatten(), nn.Linear(224 * 224, 2)).eval()
    >>> y = np.random.default_rng(0).normal(0, 0.1, 22050).astype(np.float32)
    >>> x = image_input(y, clip_seconds=1.0, image="linear")
    >>> out = explain_clip({"gradient_x_input": make_attributor("gradient_x_input", model)}, x, target=1,
    ...                    y=y, gains=[Gain(power=2.0)])
    >>> e = out["gradient_x_input"]
    >>> e.display.shape, e.signed, e.sonified[0].shape, len(e.complement)
    ((224, 224), True, (22050,), 1)
    """
    tensor = torch.from_numpy(np.ascontiguousarray(model_input, dtype=np.float32))[None, None].to(device)
    if y is not None and S is None:
        S = stft(y, n_fft=VIT_N_FFT, hop_length=VIT_HOP)
    explained = {}
    for name, attributor in attributors.items():
        relevance = attributor.attribute(tensor, target=target)[0]
        display = to_display(relevance, image=image)

        def sounds(complement: bool, display: np.ndarray = display) -> tuple[np.ndarray, ...]:
            if y is None:
                return ()
            return tuple(sonify(y, display, S=S, n_fft=VIT_N_FFT, hop_length=VIT_HOP, power=gain.power, floor=gain.floor,
                                smooth_frames=gain.smooth_frames, complement=complement) for gain in gains)

        explained[name] = MethodExplanation(relevance=relevance, display=display, signed=bool(attributor.signed),
                                            sonified=sounds(False), complement=sounds(True))
    return explained


@dataclass(frozen=True)
class PerceptualExplanation:
    """Everything the perceptual route says about one waveform.

    Attributes
    ----------
    probabilities : numpy.ndarray
        ``(n_classes,)`` softmax output, ordered as ``CLASSES``.
    predicted : str
        Name of the most probable class.
    image : numpy.ndarray
        ``(224, 224)`` display image (the linear-frequency spectrogram) in [0, 1], rows = frequency
        (low first); the model's input itself when its image is ``linear``.
    relevance : dict of str to numpy.ndarray
        Method name to ``(224, 224)`` map for the predicted class on the display grid, in the
        method's units (signed for the LRP and gradient methods; see :mod:`engine.explain.attribution`).
    sonified : dict of str to numpy.ndarray
        Method name to float32 waveform ``(n_samples,)`` at 22,050 Hz: what the model used.
    complement : dict of str to numpy.ndarray
        Method name to the complementary waveform: what the model ignored.

    Examples
    --------
    >>> e = PerceptualExplanation(np.array([0.3, 0.7]), "sad", np.zeros((224, 224)), {}, {}, {})
    >>> e.predicted
    'sad'
    """

    probabilities: np.ndarray
    predicted: str
    image: np.ndarray
    relevance: dict[str, np.ndarray]
    sonified: dict[str, np.ndarray]
    complement: dict[str, np.ndarray]


def classify(model: nn.Module, images: np.ndarray, *, device: str = "cpu", batch_size: int = 32) -> np.ndarray:
    """Return class probabilities for a batch of model input images.

    Parameters
    ----------
    model : torch.nn.Module
        A perceptual model mapping ``(B, 1, H, W)`` to class logits.
    images : numpy.ndarray
        ``(N, H, W)`` model input images.
    device : str, default "cpu"
        Where the model runs.
    batch_size : int, default 32
        Images per forward pass.

    Returns
    -------
    numpy.ndarray
        ``(N, n_classes)`` softmax probabilities.

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> model = nn.Sequential(nn.Flatten(), nn.Linear(16, 2))
    >>> p = classify(model, np.zeros((3, 4, 4), dtype=np.float32))
    >>> p.shape, bool(np.allclose(p.sum(axis=1), 1.0))
    ((3, 2), True)
    """
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
    gain: Gain = THESIS_GAIN,
    device: str = "cpu",
    image: str = "linear",
    method_options: Mapping[str, Mapping[str, Any]] | None = None,
) -> PerceptualExplanation:
    """Classify a waveform, attribute the predicted class with each method and sonify each map.

    Parameters
    ----------
    model : torch.nn.Module
        A trained perceptual model (ViT or CNN).
    y : numpy.ndarray
        The clip ``(n_samples,)`` at 22,050 Hz, ``clip_seconds`` long.
    clip_seconds : float
        The clip length the model was trained on.
    methods : sequence of str
        Attribution methods (:data:`engine.explain.attribution.ATTRIBUTION_METHODS`).
    gain : Gain
        The sonification gain (default: the thesis's ``R ** 2``).
    device : str, default "cpu"
        Where the model runs.
    image : str, default "linear"
        The model's input image (:mod:`engine.audio.perceptual_images`; a stored model's spec says which).
    method_options : mapping, optional
        A method's keyword options (``{"integrated_gradients": {"steps": 32}}``), as the run that
        stored the model used them.

    Returns
    -------
    PerceptualExplanation
        Prediction, maps on the display grid, sonified and complement waveforms.

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> model = nn.Sequential(nn.Flatten(), nn.Linear(224 * 224, 2)).eval()
    >>> y = np.random.default_rng(0).normal(0, 0.1, 22050).astype(np.float32)
    >>> e = explain_waveform(model, y, clip_seconds=1.0, methods=("random",))
    >>> e.predicted in CLASSES, e.relevance["random"].shape, e.sonified["random"].shape
    (True, (224, 224), (22050,))
    """
    model_input = image_input(y, clip_seconds=clip_seconds, image=image)
    probabilities = classify(model, model_input[None], device=device)[0]
    predicted = int(np.argmax(probabilities))
    attributors = {m: make_attributor(m, model, **(method_options or {}).get(m, {})) for m in methods}
    explained = explain_clip(attributors, model_input, target=predicted, image=image, y=y, gains=(gain,), device=device)
    return PerceptualExplanation(
        probabilities=probabilities,
        predicted=CLASSES[predicted],
        image=vit_spectrogram_input(y, clip_seconds=clip_seconds) if image != "linear" else model_input,
        relevance={m: e.display for m, e in explained.items()},
        sonified={m: e.sonified[0] for m, e in explained.items()},
        complement={m: e.complement[0] for m, e in explained.items()},
    )
