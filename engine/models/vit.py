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

The patch embedding is one of :data:`STEMS`: timm's ``"patch"`` (one 16 x 16 convolution with
stride 16, as pretrained) or ``"conv"``, a convolutional stem for training from a few hundred clips
(Xiao et al. 2021, "Early convolutions help transformers see better"): four 3 x 3 convolutions of
stride 2, each followed by a ReLU, then a 1 x 1 convolution to the embedding width. It gives the
transformer local, translation-equivariant features that a patch projection must otherwise learn
from data. The stem replaces ``patch_embed.proj`` and keeps its output shape, so the tokens, the
attention and every ViT attribution method are unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import timm
import torch
from torch import nn

STEMS: tuple[str, ...] = ("patch", "conv")
"""Patch embeddings :func:`create_vit` builds (see the module docstring)."""


def create_vit(
    *,
    architecture: str = "vit_tiny_patch16_224",
    num_classes: int = 2,
    in_chans: int = 1,
    img_size: int = 224,
    weights: str | Path | None = None,
    stem: str = "patch",
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
    stem : str, default "patch"
        One of :data:`STEMS`. A ``"conv"`` stem needs ``patch_size`` 16 (its four stride-2
        convolutions) and loads only weights of exactly this model.
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
        The file is not a readable checkpoint; an unknown ``stem``; a ``"conv"`` stem with hub weights,
        a patch size other than 16, or a checkpoint of another model.

    Examples
    --------
    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> vit = create_vit(img_size=32, depth=1).eval()
    >>> tuple(vit(torch.randn(1, 1, 32, 32)).shape)
    (1, 2)
    >>> conv = create_vit(img_size=32, depth=1, stem="conv").eval()
    >>> tuple(conv(torch.randn(1, 1, 32, 32)).shape), type(conv.patch_embed.proj).__name__
    ((1, 2), 'Sequential')
    """
    if stem not in STEMS:
        raise ValueError(f"stem must be one of {STEMS}, got {stem!r}")
    kwargs: dict[str, Any] = dict(num_classes=num_classes, in_chans=in_chans, img_size=img_size, **overrides)
    if str(weights) == "hub":
        if stem == "conv":
            raise ValueError("the 'conv' stem has no ImageNet weights on the hub: train it from scratch or load a checkpoint of it")
        return timm.create_model(architecture, pretrained=True, **kwargs)
    model = timm.create_model(architecture, pretrained=False, **kwargs)
    if stem == "conv":
        model.patch_embed.proj = conv_stem(model.patch_embed.proj)
    if weights is None:
        return model
    path = Path(weights)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: ViT weights file not found")
    state = _read_state_dict(path)
    own = model.state_dict()
    if state.keys() == own.keys() and all(state[k].shape == own[k].shape for k in own):
        model.load_state_dict(state)
        return model
    if stem == "conv":
        raise ValueError(f"{path}: not a checkpoint of this conv-stem ViT (its keys or shapes differ)")
    return timm.create_model(architecture, pretrained=True, pretrained_cfg_overlay={"file": str(path)}, **kwargs)


def conv_stem(patch: nn.Conv2d) -> nn.Sequential:
    """Return a convolutional stem that replaces the patch projection ``patch`` with the same output shape.

    Four 3 x 3 convolutions of stride 2 (padding 1), each followed by a ReLU, widen the channels
    ``in -> D/8 -> D/4 -> D/2 -> D`` (at least 16), and a 1 x 1 convolution maps them to the
    embedding width ``D`` (Xiao et al. 2021). Their BatchNorms are left out, so that LRP and the
    functional replay of :mod:`engine.explain.vit_replay` read only convolutions and ReLUs; He
    initialisation takes their place in keeping the features' scale.

    Parameters
    ----------
    patch : torch.nn.Conv2d
        The ViT's patch projection, kernel and stride 16: ``(B, in, H, W)`` to ``(B, D, H/16, W/16)``.

    Returns
    -------
    torch.nn.Sequential
        The stem, ``(B, in, H, W)`` to ``(B, D, H/16, W/16)`` for ``H`` and ``W`` multiples of 16.

    Raises
    ------
    ValueError
        The patch projection's stride is not 16.

    Examples
    --------
    >>> import torch
    >>> stem = conv_stem(nn.Conv2d(1, 64, kernel_size=16, stride=16))
    >>> tuple(stem(torch.zeros(2, 1, 32, 48)).shape)
    (2, 64, 2, 3)
    """
    if tuple(patch.stride) != (16, 16):
        raise ValueError(f"the 'conv' stem replaces a 16 x 16 patch projection, got stride {tuple(patch.stride)}")
    width = patch.out_channels
    channels = [patch.in_channels] + [max(16, width // 2 ** k) for k in (3, 2, 1, 0)]
    layers: list[nn.Module] = []
    for c_in, c_out in zip(channels[:-1], channels[1:]):
        layers += [nn.Conv2d(c_in, c_out, kernel_size=3, stride=2, padding=1), nn.ReLU()]
    layers.append(nn.Conv2d(channels[-1], width, kernel_size=1))
    for layer in layers:
        if isinstance(layer, nn.Conv2d):
            # He initialisation keeps the clip-to-clip variation through the ReLU stack: with PyTorch's
            # default it shrinks about threefold per layer, to a tenth of the position embeddings'
            # scale, and the transformer then sees little but positions (training stalls at chance)
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
            nn.init.zeros_(layer.bias)
    return nn.Sequential(*layers)


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
