"""Relevance maps for timm Vision Transformers, with one calling convention for every method.

Each attributor is built around a model and answers ``attribute(inputs, target=...)`` with a
non-negative map over the input image (captum's convention)::

    attributor = make_attributor("grad_rollout", model)
    relevance = attributor.attribute(images, target=predicted)   # (B, H, W), each map max-scaled to 1

Methods:

- ``rollout``: attention rollout (Abnar & Zuidema, 2020): head-averaged attention plus identity,
  row-normalised and multiplied through the layers; class-agnostic.
- ``grad_rollout``: gradient-weighted rollout (Chefer, Gur & Wolf, 2021, "Generic
  Attention-model Explainability"): ``R <- R + mean_heads(relu(grad(A) * A)) @ R`` per layer;
  class-specific.
- ``gradient_x_input``: gradient of the target logit times the input pixel, positive part;
  class-specific and pixel-level.

Attention is read through forward hooks that :func:`capture_attention` registers and removes
again (it also switches timm's fused attention off for the duration, since the fused kernel never
materialises the attention matrix).
"""

from __future__ import annotations

import contextlib
from typing import Iterator, Protocol

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class Attributor(Protocol):
    """Anything with ``attribute(inputs (B, C, H, W), *, target) -> (B, H, W) numpy``."""

    name: str

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


def _target_index(target: torch.Tensor | int, batch: int, device: torch.device) -> torch.Tensor:
    if isinstance(target, int):
        return torch.full((batch,), target, dtype=torch.long, device=device)
    return torch.as_tensor(target, dtype=torch.long, device=device).reshape(batch)


def _patch_grid(model: nn.Module) -> tuple[int, int]:
    return tuple(model.patch_embed.grid_size)  # type: ignore[return-value]


def _tokens_to_image(token_relevance: torch.Tensor, model: nn.Module, image_size: tuple[int, int]) -> np.ndarray:
    """``(B, n_patches)`` to a max-scaled ``(B, H, W)`` map by bilinear upsampling of the patch grid."""
    grid = _patch_grid(model)
    maps = token_relevance.reshape(-1, 1, *grid).float()
    maps = F.interpolate(maps, size=image_size, mode="bilinear", align_corners=False)[:, 0]
    return _max_scale(maps.clamp_min(0).detach().cpu().numpy())


def _max_scale(maps: np.ndarray) -> np.ndarray:
    peak = maps.reshape(maps.shape[0], -1).max(axis=1).reshape(-1, 1, 1)
    return (maps / np.where(peak > 0, peak, 1.0)).astype(np.float32)


class AttentionRollout:
    """Attention rollout (Abnar & Zuidema, 2020); ignores ``target`` (class-agnostic)."""

    name = "rollout"

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

    def __init__(self, model: nn.Module) -> None:
        self.model = model

    def attribute(self, inputs: torch.Tensor, *, target: torch.Tensor | int) -> np.ndarray:
        self.model.eval()
        self.model.zero_grad(set_to_none=True)
        batch = inputs.shape[0]
        with torch.enable_grad(), capture_attention(self.model, keep_grad=True) as attentions:
            logits = self.model(inputs)
            index = _target_index(target, batch, inputs.device)
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
    """Positive part of input times the gradient of the ``target`` logit, summed over channels."""

    name = "gradient_x_input"

    def __init__(self, model: nn.Module) -> None:
        self.model = model

    def attribute(self, inputs: torch.Tensor, *, target: torch.Tensor | int) -> np.ndarray:
        self.model.eval()
        x = inputs.detach().clone().requires_grad_(True)
        with torch.enable_grad():
            logits = self.model(x)
            index = _target_index(target, x.shape[0], x.device)
            (gradient,) = torch.autograd.grad(logits.gather(1, index[:, None]).sum(), x)
        maps = (gradient * x).sum(dim=1).clamp_min(0)
        return _max_scale(maps.detach().cpu().numpy())


ATTRIBUTION_METHODS: dict[str, type] = {
    AttentionRollout.name: AttentionRollout,
    GradientRollout.name: GradientRollout,
    GradientTimesInput.name: GradientTimesInput,
}


def make_attributor(method: str, model: nn.Module) -> Attributor:
    """Attributor for ``method`` (a key of ``ATTRIBUTION_METHODS``) around ``model``."""
    try:
        return ATTRIBUTION_METHODS[method](model)
    except KeyError:
        raise ValueError(f"unknown attribution method {method!r}; known: {sorted(ATTRIBUTION_METHODS)}") from None
