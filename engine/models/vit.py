"""Vision Transformer factory for the perceptual route (spectrogram image to Happy/Sad).

Weights come from one of three places, chosen by ``weights``:

- ``None``: random initialisation (the demo trains a small ViT from scratch);
- ``"hub"``: timm's pretrained ImageNet weights, downloaded from the Hugging Face hub (needs
  internet; the thesis fine-tuned ``vit_base_patch16_224`` this way);
- a path to a local ``.pth``/``.bin``/``.safetensors`` file with a timm-compatible state dict.

For pretrained weights timm adapts the patch embedding to ``in_chans=1`` (summing the RGB filters)
and re-initialises a classifier whose size differs from ``num_classes``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import timm
from torch import nn


def create_vit(
    *,
    architecture: str = "vit_tiny_patch16_224",
    num_classes: int = 2,
    in_chans: int = 1,
    img_size: int = 224,
    weights: str | Path | None = None,
    **overrides: Any,
) -> nn.Module:
    """Build a timm ViT for ``(B, in_chans, img_size, img_size)`` inputs and ``num_classes`` logits.

    Args:
        architecture: timm model name, e.g. ``"vit_tiny_patch16_224"`` or ``"vit_base_patch16_224"``.
        weights: ``None``, ``"hub"`` or a local weights file (see module docstring).
        overrides: passed to ``timm.create_model`` (e.g. ``depth=4`` for a shallower demo model).

    Raises:
        FileNotFoundError: ``weights`` names a file that does not exist.
    """
    kwargs: dict[str, Any] = dict(num_classes=num_classes, in_chans=in_chans, img_size=img_size, **overrides)
    if weights is None:
        return timm.create_model(architecture, pretrained=False, **kwargs)
    if str(weights) == "hub":
        return timm.create_model(architecture, pretrained=True, **kwargs)
    path = Path(weights)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: ViT weights file not found")
    return timm.create_model(architecture, pretrained=True, pretrained_cfg_overlay={"file": str(path)}, **kwargs)
