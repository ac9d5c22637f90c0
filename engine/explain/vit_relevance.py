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
    """Anything with ``attribute(inputs (B, C, H, W), *, target) -> (B, H, W) float32 numpy``."""

    name: str
    signed: bool

    def attribute(self, inputs: torch.Tensor, *, target: torch.Tensor | int) -> np.ndarray: ...


@contextlib.contextmanager
def capture_attention(model: nn.Module, *, keep_grad: bool = False) -> Iterator[list[torch.Tensor]]:
    """Record every block's attention probabilities ``(B, heads, tokens, tokens)`` during forward.

    The yielded list fills in layer order on each forward pass (clear it between passes). With
    ``keep_grad`` the tensors retain their gradient for a later ``backward``.
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
    """Target classes as a ``(batch,)`` long tensor, from one class index or one per image."""
    if isinstance(target, int):
        return torch.full((batch,), target, dtype=torch.long, device=device)
    return torch.as_tensor(target, dtype=torch.long, device=device).reshape(batch)


def _patch_grid(model: nn.Module) -> tuple[int, int]:
    return tuple(model.patch_embed.grid_size)  # type: ignore[return-value]


def patch_scores_to_image(token_relevance: torch.Tensor, model: nn.Module, image_size: tuple[int, int]) -> np.ndarray:
    """Patch-token scores ``(B, n_patches)`` to a non-negative float32 ``(B, H, W)`` map by bilinear
    upsampling of the model's patch grid (negative values clipped to 0)."""
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
    """Attention rollout (Abnar & Zuidema, 2020); ignores ``target`` (class-agnostic)."""

    name = "rollout"
    signed = False

    def __init__(self, model: nn.Module) -> None:
        self.model = model

    def attribute(self, inputs: torch.Tensor, *, target: torch.Tensor | int = 0) -> np.ndarray:
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
    """Gradient-weighted attention rollout (Chefer et al., 2021b), specific to ``target``."""

    name = "grad_rollout"
    signed = False

    def __init__(self, model: nn.Module) -> None:
        self.model = model

    def attribute(self, inputs: torch.Tensor, *, target: torch.Tensor | int) -> np.ndarray:
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
    """Input times the gradient of the ``target`` logit, summed over channels (signed)."""

    name = "gradient_x_input"
    signed = True

    def __init__(self, model: nn.Module) -> None:
        self.model = model

    def attribute(self, inputs: torch.Tensor, *, target: torch.Tensor | int) -> np.ndarray:
        gradient = _input_gradient(self.model, inputs, target)
        return (gradient * inputs).sum(dim=1).float().cpu().numpy()


class IntegratedGradients:
    """Integrated gradients from a silent (all-zero) baseline with ``steps`` midpoint samples (signed).

    The maps sum to ``logit(x) - logit(0)`` up to the discretisation error (completeness).
    """

    name = "integrated_gradients"
    signed = True

    def __init__(self, model: nn.Module, *, steps: int = 16, batch_size: int = 16) -> None:
        if steps < 1:
            raise ValueError(f"steps must be at least 1, got {steps}")
        self.model, self.steps, self.batch_size = model, steps, batch_size

    def attribute(self, inputs: torch.Tensor, *, target: torch.Tensor | int) -> np.ndarray:
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
    """

    name = "random"
    signed = False

    def __init__(self, model: nn.Module, *, seed: int = 0, grid: tuple[int, int] = (14, 14)) -> None:
        self.model, self.seed, self.grid = model, seed, grid

    def attribute(self, inputs: torch.Tensor, *, target: torch.Tensor | int = 0) -> np.ndarray:
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
