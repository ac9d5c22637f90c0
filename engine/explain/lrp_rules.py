"""The LRP rules of the ViT pass, as modified backward graphs, and the check of their options.

The LRP pass (:func:`engine.explain.vit_lrp.lrp`) replays the ViT (:mod:`engine.explain.vit_replay`)
with modified backward graphs, so that for every tensor ``t`` of the pass, ``t * dlogit/dt`` is its
LRP relevance ("gradient x input"); the forward values are exactly those of the plain pass. This
module holds the rules' building blocks (:func:`_with_value`, :func:`_stabilise`,
:func:`_safe_divide`, :class:`_HalfGradMatmul`) and the check of the options that choose them;
``_Pass`` in :mod:`engine.explain.vit_replay` applies them layer by layer. Rules:

LayerNorm (``norm1``, ``norm2``, ``norm``, ``fc_norm``, ``norm_pre``, ``q_norm``/``k_norm``,
``attn.norm``, ``mlp.norm``, ``patch_embed.norm``), identity rule (AttnLRP, Prop. 3.4)::

    y = (x - mean(x)) / detach(sqrt(var(x) + eps)) * weight + beta

Elementwise activation (GELU and variants), identity rule::

    y = x * detach(act(x) / x)            (the ratio is 1/2, its limit, where x == 0)

Linear layers and the patch-embedding convolution, ``z = x W^T + b``:

- ``linear_rule="epsilon"`` (LRP-epsilon): ``R_i = sum_j x_i W_ji R_j / (z_j + epsilon sign(z_j))``,
  as a gradient: ``y = z * detach(z / (z + epsilon sign(z)))`` (value kept at ``z``), with
  ``sign(0) = +1``. ``epsilon`` is absolute (not scaled to the activation); ``epsilon=0`` is the
  exact LRP-0 rule (plain gradient x input through the layer).
- ``linear_rule="gamma"`` (generalised LRP-gamma, Montavon et al., 2019; Andeol et al., 2021):
  ``z' = z + gamma * (z+ if z > 0 else z-)`` with ``z+ = x+ W+^T + x- W-^T + b+`` (positive
  contributions) and ``z- = z - z+`` (negative ones); ``y = z' * detach(z / (z' + epsilon sign(z')))``
  (value kept at ``z``). For non-negative inputs and ``z > 0`` this is the textbook
  ``z' = x (W + gamma W+)^T + (b + gamma b+)``; the sign-aware form keeps ``sign(z') = sign(z)``
  and ``|z'| >= |z|`` for signed (post-LayerNorm) inputs, where the textbook form can make ``z'``
  vanish while ``z`` does not.

Attention, ``attention="attnlrp"`` (Achtibat et al., ICML 2024):

- ``q @ k^T`` and ``A @ v``: uniform rule for bilinear products, each operand receives half the
  relevance (backward of ``0.5 (a @ detach(b)) + 0.5 (detach(a) @ b)``; here a custom autograd
  function with one forward product). The ``1/sqrt(d)`` scaling is linear.
- softmax: ``R_in = x * (R_out - s * sum(R_out))`` with ``R_out = s * grad_s``. This equals ``x *``
  (the true softmax gradient), so the softmax keeps its ordinary backward. It is not conservative:
  ``sum(R_out) - sum(R_in)`` is returned as ``LRPResult.softmax_relevance``.

``attention="cp"`` (CP-LRP, Ali et al., ICML 2022): the attention probabilities are constants
(detached); relevance flows through the values only.

Additive parameters (``cls_token``, ``reg_token``, ``pos_embed``, every bias, LayerNorm ``beta``) are
per-sample leaf copies, so their relevance ``sum(param * grad)`` is ``LRPResult.bias_relevance``.

Conservation. Every rule above except the softmax rule and a non-zero ``epsilon`` is a gradient of
a function that is jointly homogeneous of degree 1 in its input and its additive parameters (the
nonlinear factors are detached constants), so by Euler's theorem, with ``epsilon=0``::

    relevance.sum() + bias_relevance + softmax_relevance == logit

(``softmax_relevance`` is 0 for ``"cp"``). Observed ``|deviation| / max(1, |logit|)`` in float64
(``tests/test_lrp.py`` models: ``vit_tiny_patch16_224``, depth 2, three configurations, biases and
LayerNorm parameters randomised, ``torch.rand`` inputs; and a randomised ``vit_base_patch16_224``):
at most 7e-16 for ``"cp"`` and for ``"attnlrp"`` (softmax term included), with either linear
rule; at most 4e-7 in float32. With ``epsilon=1e-6`` the stabilisers absorb up to 5e-6. Without
the softmax term, ``"attnlrp"`` misses the logit by up to 0.11 on the depth-2 test models (up to
54 % of ``|logit|``) and by 0.38 (55 % of the logit) on the 12-block ViT-Base.
"""

from __future__ import annotations

from typing import Literal

import torch

LinearRule = Literal["epsilon", "gamma"]
AttentionRule = Literal["attnlrp", "cp"]

__all__ = ["AttentionRule", "LinearRule"]


def _check_options(linear_rule: str, epsilon: float, gamma: float, attention: str, dtype: torch.dtype) -> None:
    if linear_rule not in ("epsilon", "gamma"):
        raise ValueError(f"linear_rule must be 'epsilon' or 'gamma', got {linear_rule!r}")
    if attention not in ("attnlrp", "cp"):
        raise ValueError(f"attention must be 'attnlrp' or 'cp', got {attention!r}")
    if not epsilon >= 0:
        raise ValueError(f"epsilon must be >= 0, got {epsilon}")
    if not gamma >= 0:
        raise ValueError(f"gamma must be >= 0, got {gamma}")
    if not dtype.is_floating_point:
        raise ValueError(f"dtype must be a floating-point dtype, got {dtype}")


def _with_value(value: torch.Tensor, carrier: torch.Tensor) -> torch.Tensor:
    """Forward value of ``value`` (exactly), gradient of ``carrier``."""
    return value.detach() + (carrier - carrier.detach())


def _stabilise(z: torch.Tensor, epsilon: float) -> torch.Tensor:
    """``z + epsilon * sign(z)`` with ``sign(0) = +1``."""
    if epsilon == 0:
        return z
    return z + epsilon * torch.where(z >= 0, 1.0, -1.0).to(z.dtype)


def _safe_divide(numerator: torch.Tensor, denominator: torch.Tensor) -> torch.Tensor:
    """``numerator / denominator``, 0 where the denominator is 0."""
    zero = denominator == 0
    return torch.where(zero, torch.zeros_like(numerator), numerator / torch.where(zero, torch.ones_like(denominator), denominator))


class _HalfGradMatmul(torch.autograd.Function):
    """``a @ b`` whose backward gives each operand half the gradient (AttnLRP uniform rule)."""

    @staticmethod
    def forward(ctx, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(a, b)
        return a @ b

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:  # type: ignore[override]
        a, b = ctx.saved_tensors
        grad_a = 0.5 * (grad @ b.transpose(-2, -1)) if ctx.needs_input_grad[0] else None
        grad_b = 0.5 * (a.transpose(-2, -1) @ grad) if ctx.needs_input_grad[1] else None
        return grad_a, grad_b
