"""LRP relevance of timm Vision Transformers (AttnLRP and CP-LRP) and the two attributors built on it.

:func:`lrp` differentiates the target logit of the LRP replay (:mod:`engine.explain.vit_replay`
with the rules of :mod:`engine.explain.lrp_rules`) and returns an :class:`LRPResult`: the pixel
relevance, and the relevance absorbed by the additive parameters and by the AttnLRP softmax rule,
so that with ``epsilon=0``::

    relevance.sum() + bias_relevance + softmax_relevance == logit

(why, and how closely in floating point: :mod:`engine.explain.lrp_rules`).

The attributors the registry (:mod:`engine.explain.attribution`) calls:

- :class:`AttnLRP` (``attnlrp``): the signed pixel relevance of one LRP pass;
- :class:`Chefer2021` (``chefer2021``): Chefer, Gur & Wolf (CVPR 2021), the LRP relevance times
  the gradient of each block's attention, rolled out.

Their cost against a plain forward pass, an input gradient and a training step's passes is measured
by ``benchmarks/bench_attribution.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from engine.explain.lrp_rules import AttentionRule, LinearRule, _check_options
from engine.explain.vit_relevance import patch_scores_to_image, target_index
from engine.explain.vit_replay import _check_inputs, _check_supported, _Pass

__all__ = ["LRPResult", "lrp", "AttnLRP", "Chefer2021"]


@dataclass(frozen=True)
class LRPResult:
    """Relevance of one LRP pass over a batch.

    Attributes
    ----------
    relevance : np.ndarray
        ``(B, H, W)`` signed pixel relevance, summed over input channels.
    logit : np.ndarray
        ``(B,)`` target logit of the functional forward pass.
    bias_relevance : np.ndarray
        ``(B,)`` relevance absorbed by additive parameters (biases, ``pos_embed``, ``cls_token``,
        ``reg_token``, LayerNorm ``beta``).
    attention_relevance : list of np.ndarray or None
        Per block ``(B, heads, T, T)`` relevance of the attention probabilities ``A * dlogit/dA``
        (``keep_attention=True`` only).
    softmax_relevance : np.ndarray
        ``(B,)`` relevance absorbed by the AttnLRP softmax rule, summed over blocks (zeros for
        ``attention="cp"``). With ``epsilon=0``:
        ``relevance.sum((1, 2)) + bias_relevance + softmax_relevance == logit``.

    Examples
    --------
    >>> import numpy as np
    >>> result = LRPResult(
    ...     relevance=np.full((1, 2, 2), 0.25),
    ...     logit=np.array([1.5]),
    ...     bias_relevance=np.array([0.5]),
    ...     softmax_relevance=np.array([0.0]),
    ... )
    >>> result.relevance.sum(axis=(1, 2)) + result.bias_relevance + result.softmax_relevance
    array([1.5])
    """

    relevance: np.ndarray
    logit: np.ndarray
    bias_relevance: np.ndarray
    attention_relevance: list[np.ndarray] | None = None
    softmax_relevance: np.ndarray | None = None


def _lrp_tensors(
    model: nn.Module,
    inputs: torch.Tensor,
    *,
    target: torch.Tensor | int,
    linear_rule: str,
    epsilon: float,
    gamma: float,
    attention: str,
    dtype: torch.dtype,
    keep_attention: bool,
) -> dict[str, torch.Tensor | list[torch.Tensor] | None]:
    """:func:`lrp` with torch tensors (in ``dtype``) instead of numpy arrays."""
    _check_supported(model)
    _check_options(linear_rule, epsilon, gamma, attention, dtype)
    _check_inputs(model, inputs)
    if keep_attention and attention != "attnlrp":
        raise ValueError("keep_attention needs attention='attnlrp' (CP-LRP gives the attention probabilities no relevance)")
    batch = inputs.shape[0]
    x = inputs.detach().to(dtype).requires_grad_(True)
    run = _Pass(
        lrp=True,
        batch=batch,
        dtype=dtype,
        device=inputs.device,
        linear_rule=linear_rule,
        epsilon=epsilon,
        gamma=gamma,
        attention=attention,
        record=attention == "attnlrp",
    )
    with torch.enable_grad():
        logits = run(model, x)
        index = target_index(target, batch, inputs.device)
        selected = logits.gather(1, index[:, None])[:, 0]
        wanted = [x, *run.leaves, *run.scores, *run.probs]
        grads = torch.autograd.grad(selected.sum(), wanted, allow_unused=True, materialize_grads=True)
    n_leaves, n_blocks = len(run.leaves), len(run.scores)
    grad_x, grad_leaves = grads[0], grads[1 : 1 + n_leaves]
    grad_scores, grad_probs = grads[1 + n_leaves : 1 + n_leaves + n_blocks], grads[1 + n_leaves + n_blocks :]

    def per_sample(tensors: list[torch.Tensor], gradients: tuple[torch.Tensor, ...]) -> torch.Tensor:
        total = torch.zeros(batch, dtype=dtype, device=inputs.device)
        for tensor, gradient in zip(tensors, gradients):
            total = total + (tensor.detach() * gradient).reshape(batch, -1).sum(dim=1)
        return total

    attention_relevance = [p.detach() * g for p, g in zip(run.probs, grad_probs)] if keep_attention else None
    return {
        "relevance": (x.detach() * grad_x).sum(dim=1),
        "logit": selected.detach(),
        "bias_relevance": per_sample(run.leaves, grad_leaves),
        "attention_relevance": attention_relevance,
        "softmax_relevance": per_sample(run.probs, grad_probs) - per_sample(run.scores, grad_scores),
    }


def lrp(
    model: nn.Module,
    inputs: torch.Tensor,
    *,
    target: torch.Tensor | int,
    linear_rule: LinearRule = "epsilon",
    epsilon: float = 1e-6,
    gamma: float = 0.25,
    attention: AttentionRule = "attnlrp",
    dtype: torch.dtype = torch.float64,
    keep_attention: bool = False,
) -> LRPResult:
    """Compute the LRP relevance of the ``target`` logit of a timm ViT over the input pixels.

    Parameters
    ----------
    model : timm.models.vision_transformer.VisionTransformer
        Left untouched (weights are copied to ``dtype``; no hooks, no gradients on parameters).
    inputs : torch.Tensor
        ``(B, C, H, W)`` images.
    target : int or torch.Tensor
        Class index for every sample, or ``(B,)`` indices.
    linear_rule : {"epsilon", "gamma"}
        Rule for linear layers and the patch embedding (see the module docstring).
    epsilon : float
        Absolute stabiliser of the linear rules; ``0.0`` is allowed (exact LRP-0 / gamma).
    gamma : float
        Boost of positive (same-sign) contributions for ``linear_rule="gamma"``.
    attention : {"attnlrp", "cp"}
        AttnLRP rules (uniform bilinear + softmax rule) or CP-LRP (attention probabilities detached).
    dtype : torch.dtype
        Computation dtype, float64 by default.
    keep_attention : bool
        Return each block's attention-probability relevance (``attention="attnlrp"`` only).

    Returns
    -------
    LRPResult
        Arrays in ``dtype``: ``relevance`` ``(B, H, W)``, ``logit``, ``bias_relevance`` and
        ``softmax_relevance`` ``(B,)``, ``attention_relevance`` per block ``(B, heads, T, T)`` or None.

    Raises
    ------
    TypeError
        ``model`` is not a supported timm ``VisionTransformer``.
    ValueError
        Unknown rule, negative ``epsilon``/``gamma``, wrong input shape, or ``keep_attention`` with CP-LRP.

    Examples
    --------
    With ``epsilon=0`` the relevance is conserved:

    >>> import numpy as np
    >>> import torch
    >>> from engine.models.vit import create_vit
    >>> _ = torch.manual_seed(0)
    >>> model = create_vit(img_size=32, depth=1, embed_dim=8, num_heads=2).eval()
    >>> result = lrp(model, torch.rand(2, 1, 32, 32), target=1, epsilon=0.0)
    >>> result.relevance.shape, result.relevance.dtype.name
    ((2, 32, 32), 'float64')
    >>> bool(np.allclose(result.relevance.sum(axis=(1, 2)) + result.bias_relevance + result.softmax_relevance, result.logit))
    True
    """
    out = _lrp_tensors(
        model,
        inputs,
        target=target,
        linear_rule=linear_rule,
        epsilon=epsilon,
        gamma=gamma,
        attention=attention,
        dtype=dtype,
        keep_attention=keep_attention,
    )
    attention_relevance = out["attention_relevance"]
    return LRPResult(
        relevance=out["relevance"].cpu().numpy(),
        logit=out["logit"].cpu().numpy(),
        bias_relevance=out["bias_relevance"].cpu().numpy(),
        attention_relevance=None if attention_relevance is None else [a.cpu().numpy() for a in attention_relevance],
        softmax_relevance=out["softmax_relevance"].cpu().numpy(),
    )


class AttnLRP:
    """Signed LRP pixel relevance (AttnLRP rules by default) with the attributor calling convention.

    Parameters
    ----------
    model : timm.models.vision_transformer.VisionTransformer
        Left untouched (see :func:`lrp`).
    linear_rule : {"epsilon", "gamma"}
        Rule for linear layers and the patch embedding.
    epsilon : float
        Absolute stabiliser of the linear rules.
    gamma : float
        Boost of positive (same-sign) contributions for ``linear_rule="gamma"``.
    attention : {"attnlrp", "cp"}
        AttnLRP rules or CP-LRP.
    dtype : torch.dtype
        Computation dtype.

    Raises
    ------
    TypeError
        ``model`` is not a supported timm ``VisionTransformer``.
    ValueError
        Unknown rule, negative ``epsilon``/``gamma``, or a non-floating ``dtype``.

    Examples
    --------
    >>> import torch
    >>> from engine.models.vit import create_vit
    >>> _ = torch.manual_seed(0)
    >>> model = create_vit(img_size=32, depth=1, embed_dim=8, num_heads=2).eval()
    >>> relevance = AttnLRP(model).attribute(torch.rand(2, 1, 32, 32), target=torch.tensor([0, 1]))
    >>> relevance.shape, relevance.dtype.name
    ((2, 32, 32), 'float32')
    """

    name = "attnlrp"
    signed = True

    def __init__(
        self,
        model: nn.Module,
        *,
        linear_rule: LinearRule = "epsilon",
        epsilon: float = 1e-6,
        gamma: float = 0.25,
        attention: AttentionRule = "attnlrp",
        dtype: torch.dtype = torch.float64,
    ) -> None:
        _check_supported(model)
        _check_options(linear_rule, epsilon, gamma, attention, dtype)
        self.model = model
        self.linear_rule = linear_rule
        self.epsilon = epsilon
        self.gamma = gamma
        self.attention = attention
        self.dtype = dtype

    def attribute(self, inputs: torch.Tensor, *, target: torch.Tensor | int) -> np.ndarray:
        """Compute the signed pixel relevance of the ``target`` logit (raw scale).

        Parameters
        ----------
        inputs : torch.Tensor
            ``(B, C, H, W)`` images.
        target : int or torch.Tensor
            Class index, or ``(B,)`` indices.

        Returns
        -------
        np.ndarray
            ``(B, H, W)`` float32 relevance, summed over input channels, in logit units.

        Raises
        ------
        ValueError
            ``inputs`` is not ``(B, C, H, W)`` with the model's channels and image size.
        """
        result = lrp(
            self.model,
            inputs,
            target=target,
            linear_rule=self.linear_rule,
            epsilon=self.epsilon,
            gamma=self.gamma,
            attention=self.attention,
            dtype=self.dtype,
        )
        return result.relevance.astype(np.float32)


class Chefer2021:
    """Chefer, Gur & Wolf, CVPR 2021, 'Transformer Interpretability Beyond Attention Visualization'.

    Per block ``Abar = mean_heads((gradA * R_A)+)``, where ``gradA`` is the plain gradient of the
    target logit w.r.t. the attention probabilities (functional forward, no LRP rules) and ``R_A``
    the LRP relevance of the attention probabilities (AttnLRP pass: epsilon rule with
    ``epsilon=1e-6``, uniform ``A @ v`` rule). Rollout ``R <- R + Abar @ R`` from the identity; the
    class-token row (the mean of the pooled rows for ``global_pool='avg'`` without a class token)
    over the patch tokens, reshaped to the patch grid and bilinearly upsampled to ``(H, W)``.
    Raw scale (not max-normalised).

    Parameters
    ----------
    model : timm.models.vision_transformer.VisionTransformer
        Left untouched.
    dtype : torch.dtype
        Computation dtype, float32 by default.

    Raises
    ------
    TypeError
        ``model`` is not a supported timm ``VisionTransformer``.
    ValueError
        ``dtype`` is not a floating-point dtype.

    Examples
    --------
    >>> import torch
    >>> from engine.models.vit import create_vit
    >>> _ = torch.manual_seed(0)
    >>> model = create_vit(img_size=32, depth=1, embed_dim=8, num_heads=2).eval()
    >>> relevance = Chefer2021(model).attribute(torch.rand(2, 1, 32, 32), target=0)
    >>> relevance.shape, bool((relevance >= 0).all())
    ((2, 32, 32), True)
    """

    name = "chefer2021"
    signed = False

    def __init__(self, model: nn.Module, *, dtype: torch.dtype = torch.float32) -> None:
        _check_supported(model)
        _check_options("epsilon", 0.0, 0.0, "attnlrp", dtype)
        self.model = model
        self.dtype = dtype

    def attribute(self, inputs: torch.Tensor, *, target: torch.Tensor | int) -> np.ndarray:
        """Compute the non-negative relevance of the ``target`` logit, rolled out over the blocks.

        Parameters
        ----------
        inputs : torch.Tensor
            ``(B, C, H, W)`` images.
        target : int or torch.Tensor
            Class index, or ``(B,)`` indices.

        Returns
        -------
        np.ndarray
            ``(B, H, W)`` float32 relevance, raw scale.

        Raises
        ------
        ValueError
            ``inputs`` is not ``(B, C, H, W)`` with the model's channels and image size.
        """
        model = self.model
        _check_inputs(model, inputs)
        batch = inputs.shape[0]
        index = target_index(target, batch, inputs.device)
        plain = _Pass(lrp=False, batch=batch, dtype=self.dtype, device=inputs.device, record=True)
        with torch.enable_grad():
            x = inputs.detach().to(self.dtype).requires_grad_(True)
            logits = plain(model, x)
            gradients = torch.autograd.grad(logits.gather(1, index[:, None]).sum(), plain.probs)
        relevances = _lrp_tensors(
            model,
            inputs,
            target=index,
            linear_rule="epsilon",
            epsilon=1e-6,
            gamma=0.0,
            attention="attnlrp",
            dtype=self.dtype,
            keep_attention=True,
        )["attention_relevance"]
        tokens = gradients[0].shape[-1]
        rollout = torch.eye(tokens, dtype=self.dtype, device=inputs.device).repeat(batch, 1, 1)
        with torch.no_grad():
            for gradient, relevance in zip(gradients, relevances):  # type: ignore[arg-type]
                weighted = (gradient * relevance).clamp_min(0).mean(dim=1)
                rollout = rollout + weighted @ rollout
        n_prefix = model.num_prefix_tokens
        if model.has_class_token:
            row = rollout[:, 0]
        else:
            pooled = rollout if getattr(model, "pool_include_prefix", False) else rollout[:, n_prefix:]
            row = pooled.mean(dim=1)
        return patch_scores_to_image(row[:, n_prefix:], model, tuple(inputs.shape[-2:]))
