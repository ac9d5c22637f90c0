"""Vision Transformer factory for the perceptual route (spectrogram image to Happy/Sad).

Weights come from one of three places, chosen by ``weights``:

- ``None``: random initialisation (the demo trains a small ViT from scratch);
- ``"hub"``: timm's pretrained ImageNet weights, downloaded from the Hugging Face hub (needs
  internet; the thesis fine-tuned ``vit_base_patch16_224`` this way);
- a path to a local ``.pth``/``.bin``/``.safetensors`` file with a timm-compatible state dict: a
  checkpoint of exactly this model (e.g. a fine-tuned Happy/Sad ViT) is loaded as it is; any other
  (e.g. ImageNet weights) goes through timm's adaptation below.

For ImageNet weights timm adapts the patch embedding to ``in_chans=1`` (summing the RGB filters)
and re-initialises a classifier whose size differs from ``num_classes``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import timm
import torch
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

    Parameters
    ----------
    architecture : str, default "vit_tiny_patch16_224"
        timm model name, e.g. ``"vit_tiny_patch16_224"`` or ``"vit_base_patch16_224"``.
    num_classes : int, default 2
        Number of output logits.
    in_chans : int, default 1
        Number of input channels.
    img_size : int, default 224
        Height and width of the input image, in pixels.
    weights : str, pathlib.Path or None, default None
        ``None``, ``"hub"`` or a local weights file (see module docstring).
    **overrides
        Passed to ``timm.create_model`` (e.g. ``depth=4`` for a shallower demo model).

    Returns
    -------
    torch.nn.Module
        The ViT, mapping ``(B, in_chans, img_size, img_size)`` to ``(B, num_classes)``.

    Raises
    ------
    FileNotFoundError
        ``weights`` names a file that does not exist.
    ValueError
        The file is not a readable checkpoint.

    Examples
    --------
    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> vit = create_vit(img_size=32, depth=1).eval()
    >>> tuple(vit(torch.randn(1, 1, 32, 32)).shape)
    (1, 2)
    """
    kwargs: dict[str, Any] = dict(num_classes=num_classes, in_chans=in_chans, img_size=img_size, **overrides)
    if weights is None:
        return timm.create_model(architecture, pretrained=False, **kwargs)
    if str(weights) == "hub":
        return timm.create_model(architecture, pretrained=True, **kwargs)
    path = Path(weights)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: ViT weights file not found")
    model = timm.create_model(architecture, pretrained=False, **kwargs)
    state = _read_state_dict(path)
    own = model.state_dict()
    if state.keys() == own.keys() and all(state[k].shape == own[k].shape for k in own):
        model.load_state_dict(state)
        return model
    return timm.create_model(architecture, pretrained=True, pretrained_cfg_overlay={"file": str(path)}, **kwargs)


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Tensors of a checkpoint file (a bare state dict, or one under ``state_dict`` / ``model``)."""
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any unreadable file gets the same clear message
        raise ValueError(f"{path}: not a readable PyTorch checkpoint ({error})") from error
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict):
        raise ValueError(f"{path}: holds no state dict")
    return state
