"""Attention- and gradient-based relevance maps for timm Vision Transformers.

Every attributor is built around a model and answers ``attribute(inputs, target=...)`` with one
map per image over the input pixels (captum's convention); :mod:`engine.explain.attribution`
names them all, including the LRP methods of :mod:`engine.explain.vit_lrp`::

    relevance = make_attributor("grad_rollout", model).attribute(images, target=predicted)  # (B, H, W)

Maps are float32 in the method's own units: larger means more relevant to ``target``. Methods with
``signed = True`` also return negative evidence; consumers that need a [0, 1] map (display,
sonification) clip negatives and scale by the maximum (:func:`engine.audio.sonify.normalise_relevance`).

Methods here:

- ``rollout``: attention rollout (Abnar & Zuidema, 2020): head-averaged attention plus identity,
  row-normalised and multiplied through the layers; class-agnostic.
- ``grad_rollout``: gradient-weighted rollout (Chefer, Gur & Wolf, 2021, "Generic
  Attention-model Explainability"): ``R <- R + mean_heads(relu(grad(A) * A)) @ R`` per layer;
  class-specific.
- ``gradient_x_input``: gradient of the target logit times the input pixel; signed, pixel-level.
- ``integrated_gradients`` (Sundararajan et al., 2017): input minus baseline (silence, 0) times the
  gradient averaged along the straight path between them (Riemann midpoint sum); signed, pixel-level.
- ``random``: a smooth random map (random patch scores, bilinearly upsampled), the reference every
  faithfulness score is compared with.

Attention is read through forward hooks that :func:`capture_attention` registers and removes
again (it also switches timm's fused attention off for the duration, since the fused kernel never
materialises the attention matrix).
"""

from __future__ import annotations

import contextlib
import zlib
from typing import Iterator, Protocol

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class Attributor(Protocol):
    """Anything with ``attribute(inputs (B, C, H, W), *, target) -> (B, H, W) float32 numpy``.

    Attributes
    ----------
    name : str
        The method's key in :data:`engine.explain.attribution.ATTRIBUTION_METHODS`.
    signed : bool
        Whether maps may be negative (evidence against ``target``).

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> class Constant:
    ...     name, signed = "constant", False
    ...     def attribute(self, inputs, *, target):
    ...         return np.ones((inputs.shape[0], *inputs.shape[-2:]), dtype=np.float32)
    >>> attributor: Attributor = Constant()
    >>> attributor.attribute(torch.zeros(2, 1, 4, 4), target=0).shape
    (2, 4, 4)
    """

    name: str
    signed: bool

    def attribute(self, inputs: torch.Tensor, *, target: torch.Tensor | int) -> np.ndarray:
        """Return one relevance map per image.

        Parameters
        ----------
        inputs : torch.Tensor
            ``(B, C, H, W)`` images.
        target : int or torch.Tensor
            Class index for every image, or ``(B,)`` indices.

        Returns
        -------
        np.ndarray
            ``(B, H, W)`` float32 relevance, larger meaning more relevant to ``target``.
        """
        ...


@contextlib.contextmanager
def capture_attention(model: nn.Module, *, keep_grad: bool = False) -> Iterator[list[torch.Tensor]]:
    """Record every block's attention probabilities ``(B, heads, tokens, tokens)`` during forward.

    The yielded list fills in layer order on each forward pass (clear it between passes). timm's
    fused attention is switched off inside the context and the hooks removed on exit.

    Parameters
    ----------
    model : torch.nn.Module
        A timm ``VisionTransformer`` (anything with ``blocks[i].attn.attn_drop``).
    keep_grad : bool
        Make the recorded tensors retain their gradient for a later ``backward``.

    Yields
    ------
    list of torch.Tensor
        One ``(B, heads, tokens, tokens)`` tensor per block and forward pass, in layer order.

    Raises
    ------
    TypeError
        ``model`` has no transformer blocks.

    Examples
    --------
    >>> import torch
    >>> from engine.models.vit import create_vit
    >>> _ = torch.manual_seed(0)
    >>> model = create_vit(img_size=32, depth=2, embed_dim=8, num_heads=2).eval()
    >>> with torch.no_grad(), capture_attention(model) as attentions:
    ...     _ = model(torch.rand(3, 1, 32, 32))
    >>> len(attentions), tuple(attentions[0].shape)  # 2 blocks; 1 class token + 2 x 2 patches
    (2, (3, 2, 5, 5))
    """
    blocks = list(getattr(model, "blocks", []))
    if not blocks:
        raise TypeError(f"{type(model).__name__} has no transformer blocks: expected a timm VisionTransformer")
    captured: list[torch.Tensor] = []
    handles = []
    previous = [block.attn.fused_attn for block in blocks]

    def hook(_module: nn.Module, _inputs: tuple, output: torch.Tensor) -> None:
        if keep_grad:
            output.retain_grad()
        captured.append(output)

    try:
        for block in blocks:
            block.attn.fused_attn = False
            handles.append(block.attn.attn_drop.register_forward_hook(hook))
        yield captured
    finally:
        for handle in handles:
            handle.remove()
        for block, fused in zip(blocks, previous):
            block.attn.fused_attn = fused


def target_index(target: torch.Tensor | int, batch: int, device: torch.device) -> torch.Tensor:
    """Return the target classes as a ``(batch,)`` long tensor, from one class index or one per image.

    Parameters
    ----------
    target : int or torch.Tensor
        One class index for every image, or ``batch`` indices (any shape with ``batch`` elements).
    batch : int
        Number of images.
    device : torch.device
        Device of the result.

    Returns
    -------
    torch.Tensor
        ``(batch,)`` int64 class indices.

    Examples
    --------
    >>> import torch
    >>> target_index(1, 3, torch.device("cpu"))
    tensor([1, 1, 1])
    >>> target_index(torch.tensor([[0], [1]]), 2, torch.device("cpu"))
    tensor([0, 1])
    """
    if isinstance(target, int):
        return torch.full((batch,), target, dtype=torch.long, device=device)
    return torch.as_tensor(target, dtype=torch.long, device=device).reshape(batch)


def _patch_grid(model: nn.Module) -> tuple[int, int]:
    return tuple(model.patch_embed.grid_size)  # type: ignore[return-value]


def patch_scores_to_image(token_relevance: torch.Tensor, model: nn.Module, image_size: tuple[int, int]) -> np.ndarray:
    """Upsample patch-token scores bilinearly from the model's patch grid to the image.

    Parameters
    ----------
    token_relevance : torch.Tensor
        ``(B, n_patches)`` scores, row-major over the model's patch grid.
    model : torch.nn.Module
        A timm ViT; only ``patch_embed.grid_size`` is read.
    image_size : tuple of int
        ``(H, W)`` of the map.

    Returns
    -------
    np.ndarray
        ``(B, H, W)`` non-negative float32 map (negative values clipped to 0).

    Examples
    --------
    >>> import torch
    >>> from engine.models.vit import create_vit
    >>> model = create_vit(img_size=32, depth=1, embed_dim=8, num_heads=2)  # a 2 x 2 patch grid
    >>> maps = patch_scores_to_image(torch.tensor([[1.0, -1.0, 0.0, 2.0]]), model, (32, 32))
    >>> maps.shape, float(maps.min()), float(maps.max())
    ((1, 32, 32), 0.0, 2.0)
    """
    grid = _patch_grid(model)
    maps = token_relevance.reshape(-1, 1, *grid).float()
    maps = F.interpolate(maps, size=image_size, mode="bilinear", align_corners=False)[:, 0]
    return maps.clamp_min(0).detach().cpu().numpy().astype(np.float32)


def _tokens_to_image(token_relevance: torch.Tensor, model: nn.Module, image_size: tuple[int, int]) -> np.ndarray:
    """As :func:`patch_scores_to_image`, each map scaled to a maximum of 1."""
    return _max_scale(patch_scores_to_image(token_relevance, model, image_size))


def _max_scale(maps: np.ndarray) -> np.ndarray:
    peak = maps.reshape(maps.shape[0], -1).max(axis=1).reshape(-1, 1, 1)
    return (maps / np.where(peak > 0, peak, 1.0)).astype(np.float32)


class AttentionRollout:
    """Attention rollout (Abnar & Zuidema, 2020); ignores ``target`` (class-agnostic).

    Parameters
    ----------
    model : torch.nn.Module
        A timm ``VisionTransformer``; put in evaluation mode by :meth:`attribute`.

    Examples
    --------
    >>> import torch
    >>> from engine.models.vit import create_vit
    >>> _ = torch.manual_seed(0)
    >>> model = create_vit(img_size=32, depth=2, embed_dim=8, num_heads=2)
    >>> maps = AttentionRollout(model).attribute(torch.rand(2, 1, 32, 32))
    >>> maps.shape, float(maps.max())
    ((2, 32, 32), 1.0)
    """

    name = "rollout"
    signed = False

    def __init__(self, model: nn.Module) -> None:
        self.model = model

    def attribute(self, inputs: torch.Tensor, *, target: torch.Tensor | int = 0) -> np.ndarray:
        """Roll the head-averaged attention (plus identity, row-normalised) out over the blocks.

        Parameters
        ----------
        inputs : torch.Tensor
            ``(B, C, H, W)`` images.
        target : int or torch.Tensor
            Ignored (class-agnostic).

        Returns
        -------
        np.ndarray
            ``(B, H, W)`` non-negative float32 map of the class token's row, each scaled to a maximum of 1.
        """
        self.model.eval()
        with torch.no_grad(), capture_attention(self.model) as attentions:
            self.model(inputs)
        n_prefix = getattr(self.model, "num_prefix_tokens", 1)
        tokens = attentions[0].shape[-1]
        rollout = torch.eye(tokens, device=inputs.device).expand(inputs.shape[0], tokens, tokens)
        for attention in attentions:
            mixed = 0.5 * attention.mean(dim=1) + 0.5 * torch.eye(tokens, device=inputs.device)
            mixed = mixed / mixed.sum(dim=-1, keepdim=True)
            rollout = mixed @ rollout
        return _tokens_to_image(rollout[:, 0, n_prefix:], self.model, tuple(inputs.shape[-2:]))


class GradientRollout:
    """Gradient-weighted attention rollout (Chefer et al., 2021b), specific to ``target``.

    Parameters
    ----------
    model : torch.nn.Module
        A timm ``VisionTransformer``; put in evaluation mode by :meth:`attribute`, its parameter
        gradients cleared before and after.

    Examples
    --------
    >>> import torch
    >>> from engine.models.vit import create_vit
    >>> _ = torch.manual_seed(0)
    >>> model = create_vit(img_size=32, depth=2, embed_dim=8, num_heads=2)
    >>> maps = GradientRollout(model).attribute(torch.rand(2, 1, 32, 32), target=1)
    >>> maps.shape, float(maps.max())
    ((2, 32, 32), 1.0)
    """

    name = "grad_rollout"
    signed = False

    def __init__(self, model: nn.Module) -> None:
        self.model = model

    def attribute(self, inputs: torch.Tensor, *, target: torch.Tensor | int) -> np.ndarray:
        """Roll ``mean_heads(relu(grad(A) * A))`` of the ``target`` logit out over the blocks.

        Parameters
        ----------
        inputs : torch.Tensor
            ``(B, C, H, W)`` images.
        target : int or torch.Tensor
            Class index for every image, or ``(B,)`` indices.

        Returns
        -------
        np.ndarray
            ``(B, H, W)`` non-negative float32 map of the class token's row, each scaled to a maximum of 1.
        """
        self.model.eval()
        self.model.zero_grad(set_to_none=True)
        batch = inputs.shape[0]
        with torch.enable_grad(), capture_attention(self.model, keep_grad=True) as attentions:
            logits = self.model(inputs)
            index = target_index(target, batch, inputs.device)
            logits.gather(1, index[:, None]).sum().backward()
        n_prefix = getattr(self.model, "num_prefix_tokens", 1)
        tokens = attentions[0].shape[-1]
        relevance = torch.eye(tokens, device=inputs.device).repeat(batch, 1, 1)
        with torch.no_grad():
            for attention in attentions:
                weighted = (attention.grad * attention).clamp_min(0).mean(dim=1)
                relevance = relevance + weighted @ relevance
        self.model.zero_grad(set_to_none=True)
        return _tokens_to_image(relevance[:, 0, n_prefix:], self.model, tuple(inputs.shape[-2:]))


class GradientTimesInput:
    """Input times the gradient of the ``target`` logit, summed over channels (signed).

    Parameters
    ----------
    model : torch.nn.Module
        Any classifier of ``(B, C, H, W)`` inputs; put in evaluation mode, its parameters get no
        ``.grad``.

    Examples
    --------
    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 2))
    >>> x = torch.rand(1, 1, 4, 4)
    >>> maps = GradientTimesInput(model).attribute(x, target=1)
    >>> bool(torch.allclose(torch.from_numpy(maps), x[:, 0] * model[1].weight[1].view(4, 4)))
    True
    """

    name = "gradient_x_input"
    signed = True

    def __init__(self, model: nn.Module) -> None:
        self.model = model

    def attribute(self, inputs: torch.Tensor, *, target: torch.Tensor | int) -> np.ndarray:
        """Multiply the inputs by the gradient of the ``target`` logit and sum over channels.

        Parameters
        ----------
        inputs : torch.Tensor
            ``(B, C, H, W)`` images.
        target : int or torch.Tensor
            Class index for every image, or ``(B,)`` indices.

        Returns
        -------
        np.ndarray
            ``(B, H, W)`` float32 signed map, in logit units.
        """
        gradient = _input_gradient(self.model, inputs, target)
        return (gradient * inputs).sum(dim=1).float().cpu().numpy()


class IntegratedGradients:
    """Integrated gradients from a silent (all-zero) baseline with ``steps`` midpoint samples (signed).

    The maps sum to ``logit(x) - logit(0)`` up to the discretisation error (completeness).

    Parameters
    ----------
    model : torch.nn.Module
        Any classifier of ``(B, C, H, W)`` inputs; put in evaluation mode, its parameters get no
        ``.grad``.
    steps : int
        Midpoint samples along the path from the baseline to the input.
    batch_size : int
        Path samples per forward and backward pass.

    Raises
    ------
    ValueError
        ``steps`` is less than 1.

    Examples
    --------
    Exact for a linear model, whatever the number of steps:

    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 2))
    >>> x = torch.rand(1, 1, 4, 4)
    >>> maps = IntegratedGradients(model, steps=4).attribute(x, target=1)
    >>> gap = (model(x) - model(torch.zeros_like(x)))[0, 1].item()
    >>> maps.shape, bool(abs(maps.sum() - gap) < 1e-5)
    ((1, 4, 4), True)
    """

    name = "integrated_gradients"
    signed = True

    def __init__(self, model: nn.Module, *, steps: int = 16, batch_size: int = 16) -> None:
        if steps < 1:
            raise ValueError(f"steps must be at least 1, got {steps}")
        self.model, self.steps, self.batch_size = model, steps, batch_size

    def attribute(self, inputs: torch.Tensor, *, target: torch.Tensor | int) -> np.ndarray:
        """Integrate the gradient of the ``target`` logit from silence to each input.

        Parameters
        ----------
        inputs : torch.Tensor
            ``(B, C, H, W)`` images.
        target : int or torch.Tensor
            Class index for every image, or ``(B,)`` indices.

        Returns
        -------
        np.ndarray
            ``(B, H, W)`` float32 signed map, in logit units, summed over channels.
        """
        index = target_index(target, inputs.shape[0], inputs.device)
        alphas = (torch.arange(self.steps, dtype=inputs.dtype, device=inputs.device) + 0.5) / self.steps
        maps = []
        for image, label in zip(inputs, index):
            path = alphas[:, None, None, None] * image[None]
            total = torch.zeros_like(image)
            for start in range(0, self.steps, self.batch_size):
                chunk = path[start : start + self.batch_size]
                total += _input_gradient(self.model, chunk, int(label)).sum(dim=0)
            maps.append((image * total / self.steps).sum(dim=0))
        return torch.stack(maps).float().cpu().numpy()


class RandomMap:
    """Smooth random relevance (the chance reference); ignores the model and the target.

    Deterministic: each image's map depends only on ``seed`` and the image's content, so that
    different clips get independent maps (one map shared by every clip would line up with whatever
    the clips share, e.g. where the drums sit, and stop being chance) while the same clip always
    gets the same map.

    Parameters
    ----------
    model : torch.nn.Module
        Ignored; taken for the attributor calling convention.
    seed : int
        Seed shared by every map.
    grid : tuple of int
        ``(rows, columns)`` of the random scores before upsampling.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> images = torch.rand(2, 1, 32, 32)
    >>> random_map = RandomMap(torch.nn.Identity())
    >>> maps = random_map.attribute(images)
    >>> maps.shape, bool(np.array_equal(maps[0], random_map.attribute(images[:1])[0]))
    ((2, 32, 32), True)
    """

    name = "random"
    signed = False

    def __init__(self, model: nn.Module, *, seed: int = 0, grid: tuple[int, int] = (14, 14)) -> None:
        self.model, self.seed, self.grid = model, seed, grid

    def attribute(self, inputs: torch.Tensor, *, target: torch.Tensor | int = 0) -> np.ndarray:
        """Draw one smooth random map per image, seeded by ``seed`` and the image's content.

        Parameters
        ----------
        inputs : torch.Tensor
            ``(B, C, H, W)`` images.
        target : int or torch.Tensor
            Ignored.

        Returns
        -------
        np.ndarray
            ``(B, H, W)`` float32 map in [0, 1): uniform scores on ``grid``, bilinearly upsampled.
        """
        pictures = inputs.detach().float().cpu().numpy()
        scores = torch.from_numpy(np.stack([
            np.random.default_rng([self.seed, zlib.crc32(picture.tobytes())]).random((1, *self.grid)) for picture in pictures
        ]).astype(np.float32))
        maps = F.interpolate(scores, size=tuple(inputs.shape[-2:]), mode="bilinear", align_corners=False)[:, 0]
        return maps.numpy()


def _input_gradient(model: nn.Module, inputs: torch.Tensor, target: torch.Tensor | int) -> torch.Tensor:
    """Gradient of the ``target`` logits w.r.t. ``inputs`` ``(B, C, H, W)``; parameters get no ``.grad``."""
    model.eval()
    x = inputs.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        logits = model(x)
        index = target_index(target, x.shape[0], x.device)
        (gradient,) = torch.autograd.grad(logits.gather(1, index[:, None]).sum(), x)
    return gradient.detach()
