"""The perceptual route's backbones by name: spectrogram image ``(B, 1, 224, 224)`` to class logits.

==========  =========================================================  ==============================
backbone    model                                                      spec keys (besides backbone)
==========  =========================================================  ==============================
``vit``     timm Vision Transformer (:func:`engine.models.vit.create_vit`)  architecture, weights,
                                                                            num_classes, in_chans, and
                                                                            timm overrides (depth, ...)
``cnn``     Chowdhury VGG-style backbone with a linear classifier        widths, dropout, num_classes
            (:class:`engine.models.cnn.CNNClassifier`)
==========  =========================================================  ==============================

A *spec* is the dict of keyword arguments that rebuilds a model; it is what the results database
stores next to the weights (:mod:`engine.models.store`). A spec without ``backbone`` is a ViT (the
only backbone of databases written before the CNN existed). A spec may name its input ``image``
(:mod:`engine.audio.perceptual_images`; ``"linear"`` when absent); the model itself ignores it.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from engine.models.cnn import THESIS_WIDTHS, CNNClassifier
from engine.models.vit import create_vit

BACKBONES: tuple[str, ...] = ("vit", "cnn")


def backbone_of(spec: dict[str, Any]) -> str:
    """Return the backbone name of a spec (``"vit"`` when the spec names none).

    Parameters
    ----------
    spec : dict
        A model spec, see the module docstring.

    Returns
    -------
    str
        One of :data:`BACKBONES`, or whatever the spec names.

    Examples
    --------
    >>> backbone_of({"backbone": "cnn", "num_classes": 2})
    'cnn'
    >>> backbone_of({"architecture": "vit_tiny_patch16_224"})
    'vit'
    """
    return str(spec.get("backbone", "vit"))


def input_image_of(spec: dict[str, Any]) -> str:
    """Return the input image a spec's model reads (``"linear"`` when the spec names none).

    Parameters
    ----------
    spec : dict
        A model spec, see the module docstring.

    Returns
    -------
    str
        The image name (:mod:`engine.audio.perceptual_images`).

    Examples
    --------
    >>> input_image_of({"backbone": "cnn"})
    'linear'
    """
    return str(spec.get("image", "linear"))


def create_perceptual_model(spec: dict[str, Any], *, weights: str | None = None) -> nn.Module:
    """Build the model a spec describes (random weights unless ``weights`` names a ViT source).

    Parameters
    ----------
    spec : dict
        ``{"backbone": "vit" | "cnn", ...}``, see the module docstring. The ``image`` key is
        ignored; a CNN also reads ``input_height`` (default 224).
    weights : str or None, default None
        ViT only: ``None``, ``"hub"`` or a local weights file (:func:`create_vit`).

    Returns
    -------
    torch.nn.Module
        A model mapping ``(B, in_chans, H, W)`` images to ``(B, num_classes)`` logits.

    Raises
    ------
    ValueError
        Unknown backbone, or weights asked of a CNN.

    Examples
    --------
    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> model = create_perceptual_model({"backbone": "cnn", "input_height": 32, "widths": [4] * 9}).eval()
    >>> tuple(model(torch.randn(1, 1, 32, 32)).shape)
    (1, 2)
    """
    backbone = backbone_of(spec)
    options = {k: v for k, v in spec.items() if k not in ("backbone", "image")}  # the image is the input's business
    if backbone == "vit":
        return create_vit(**options, weights=weights)
    if backbone == "cnn":
        if weights:
            raise ValueError("backbone 'cnn' trains from scratch: it takes no weights")
        return CNNClassifier(
            input_height=int(options.get("input_height", 224)),
            num_classes=int(options.get("num_classes", 2)),
            widths=tuple(int(w) for w in options.get("widths", THESIS_WIDTHS)),
            dropout=float(options.get("dropout", 0.3)),
        )
    raise ValueError(f"unknown perceptual backbone {backbone!r}; known: {list(BACKBONES)}")
