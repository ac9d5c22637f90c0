"""Layer-wise relevance propagation for timm Vision Transformers (AttnLRP and CP-LRP).

The model is never modified: :func:`vit_forward` re-implements timm's ``VisionTransformer``
forward pass (evaluation semantics: dropout, drop-path and patch dropout are the identity) as plain
tensor code that reads the model's own weights, copied to ``dtype`` (float64 by default). The LRP
pass (:func:`lrp`) is the same computation with modified backward graphs, so that for every tensor
``t`` of the pass, ``t * dlogit/dt`` is its LRP relevance ("gradient x input"); the forward values
are exactly those of the plain pass. Rules:

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

from dataclasses import dataclass
from typing import Callable, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from engine.explain.vit_relevance import patch_scores_to_image, target_index

LinearRule = Literal["epsilon", "gamma"]
AttentionRule = Literal["attnlrp", "cp"]

__all__ = ["LRPResult", "lrp", "vit_forward", "AttnLRP", "Chefer2021"]


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
    """

    relevance: np.ndarray
    logit: np.ndarray
    bias_relevance: np.ndarray
    attention_relevance: list[np.ndarray] | None = None
    softmax_relevance: np.ndarray | None = None


# --------------------------------------------------------------------------------------------
# Architecture check
# --------------------------------------------------------------------------------------------

_GELU_NAMES = ("GELU", "GELUTanh", "QuickGELU")


def _is_layer_norm(module: nn.Module) -> bool:
    return isinstance(module, nn.LayerNorm) and len(module.normalized_shape) == 1


def _check_norm(module: nn.Module, where: str, problems: list[str]) -> None:
    if not (isinstance(module, nn.Identity) or _is_layer_norm(module)):
        problems.append(f"{where} is {type(module).__name__} (only LayerNorm over the last dimension or Identity)")


def _check_supported(model: nn.Module) -> None:
    """Raise ``TypeError`` unless ``model`` is a timm ViT whose forward pass this module reproduces."""
    from timm.layers import Attention, DropPath, LayerScale, Mlp, PatchDropout, PatchEmbed
    from timm.models.vision_transformer import Block, VisionTransformer

    if not isinstance(model, VisionTransformer):
        raise TypeError(
            f"LRP supports timm VisionTransformer models only, got {type(model).__name__} "
            "(build one with timm.create_model('vit_..._patch16_224', ...))"
        )
    for method in ("forward", "forward_features", "forward_head", "_pos_embed", "pool"):
        if getattr(type(model), method) is not getattr(VisionTransformer, method):
            raise TypeError(f"{type(model).__name__} overrides VisionTransformer.{method}; LRP supports the plain ViT only")
    problems: list[str] = []
    embed = model.patch_embed
    if type(embed) is not PatchEmbed or not isinstance(embed.proj, nn.Conv2d):
        problems.append(f"patch_embed is {type(embed).__name__} (only timm PatchEmbed with a Conv2d projection)")
    else:
        if not embed.flatten or getattr(embed, "dynamic_img_pad", False):
            problems.append("patch_embed must flatten to tokens without dynamic padding")
        _check_norm(embed.norm, "patch_embed.norm", problems)
    if getattr(model, "dynamic_img_size", False):
        problems.append("dynamic_img_size=True is not supported")
    if not isinstance(model.patch_drop, (nn.Identity, PatchDropout)):
        problems.append(f"patch_drop is {type(model.patch_drop).__name__}")
    if getattr(model, "attn_pool", None) is not None:
        problems.append(f"global_pool={model.global_pool!r} (attention pooling) is not supported")
    elif model.global_pool not in ("token", "avg"):
        problems.append(f"global_pool={model.global_pool!r} (only 'token' or 'avg')")
    for name in ("norm_pre", "norm", "fc_norm"):
        _check_norm(getattr(model, name), name, problems)
    if not isinstance(model.head, (nn.Linear, nn.Identity)):
        problems.append(f"head is {type(model.head).__name__} (only Linear or Identity)")
    for i, block in enumerate(model.blocks):
        if type(block) is not Block:
            problems.append(f"blocks.{i} is {type(block).__name__} (only timm Block)")
            continue
        attn, mlp = block.attn, block.mlp
        if type(attn) is not Attention or getattr(attn, "gate", None) is not None:
            problems.append(f"blocks.{i}.attn is {type(attn).__name__} (only ungated timm Attention)")
        else:
            for name in ("q_norm", "k_norm", "norm"):
                _check_norm(getattr(attn, name), f"blocks.{i}.attn.{name}", problems)
        for name in ("norm1", "norm2"):
            _check_norm(getattr(block, name), f"blocks.{i}.{name}", problems)
        for name in ("ls1", "ls2"):
            if not isinstance(getattr(block, name), (nn.Identity, LayerScale)):
                problems.append(f"blocks.{i}.{name} is {type(getattr(block, name)).__name__}")
        for name in ("drop_path1", "drop_path2"):
            if not isinstance(getattr(block, name), (nn.Identity, DropPath)):
                problems.append(f"blocks.{i}.{name} is {type(getattr(block, name)).__name__}")
        if type(mlp) is not Mlp or not isinstance(mlp.fc1, nn.Linear) or not isinstance(mlp.fc2, nn.Linear):
            problems.append(f"blocks.{i}.mlp is {type(mlp).__name__} (only timm Mlp with Linear layers)")
        else:
            if type(mlp.act).__name__ not in _GELU_NAMES:
                problems.append(f"blocks.{i}.mlp.act is {type(mlp.act).__name__} (only GELU variants)")
            _check_norm(mlp.norm, f"blocks.{i}.mlp.norm", problems)
    if problems:
        raise TypeError("unsupported ViT for LRP: " + "; ".join(problems))


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


def _check_inputs(model: nn.Module, inputs: torch.Tensor) -> None:
    embed = model.patch_embed
    if inputs.ndim != 4 or inputs.shape[1] != embed.proj.in_channels:
        raise ValueError(f"inputs must be (B, {embed.proj.in_channels}, H, W), got {tuple(inputs.shape)}")
    if embed.img_size is not None and embed.strict_img_size and tuple(inputs.shape[-2:]) != tuple(embed.img_size):
        raise ValueError(f"inputs must be {tuple(embed.img_size)} pixels, got {tuple(inputs.shape[-2:])}")


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


# --------------------------------------------------------------------------------------------
# Functional ViT
# --------------------------------------------------------------------------------------------


class _Pass:
    """One functional forward pass over a timm ViT, plain (``lrp=False``) or with LRP backward rules.

    In LRP mode every additive parameter becomes a per-sample leaf ``(B, *shape)`` collected in
    ``leaves``; with ``record`` the softmax inputs (``scores``) and outputs (``probs``) of each
    block are kept, ``(B, heads, T, T)`` each.
    """

    def __init__(
        self,
        *,
        lrp: bool,
        batch: int,
        dtype: torch.dtype,
        device: torch.device,
        linear_rule: str = "epsilon",
        epsilon: float = 0.0,
        gamma: float = 0.0,
        attention: str = "attnlrp",
        record: bool = False,
    ) -> None:
        self.lrp = lrp
        self.batch = batch
        self.dtype = dtype
        self.device = device
        self.linear_rule = linear_rule
        self.epsilon = float(epsilon)
        self.gamma = float(gamma)
        self.attention = attention
        self.record = record
        self.leaves: list[torch.Tensor] = []
        self.scores: list[torch.Tensor] = []
        self.probs: list[torch.Tensor] = []

    # -- parameters -------------------------------------------------------------------------
    def const(self, tensor: torch.Tensor) -> torch.Tensor:
        return tensor.detach().to(device=self.device, dtype=self.dtype)

    def additive(self, parameter: torch.Tensor) -> torch.Tensor:
        """``(B, *shape)`` leaf requiring grad (LRP mode) or ``(1, *shape)`` constant (plain mode)."""
        value = self.const(parameter).unsqueeze(0)
        if not self.lrp:
            return value
        leaf = value.repeat(self.batch, *([1] * parameter.ndim)).requires_grad_(True)
        self.leaves.append(leaf)
        return leaf

    @staticmethod
    def _channels_last(bias: torch.Tensor, ndim: int) -> torch.Tensor:
        """``(B|1, C)`` to ``(B|1, 1, ..., 1, C)`` with ``ndim`` dimensions."""
        return bias.reshape(bias.shape[0], *([1] * (ndim - 2)), bias.shape[1])

    # -- layers -----------------------------------------------------------------------------
    def affine(
        self,
        x: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        op: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        shape_bias: Callable[[torch.Tensor], torch.Tensor],
    ) -> torch.Tensor:
        """``op(x, W) + b`` (a linear map or convolution) with the chosen linear rule."""
        w = self.const(weight)
        b = None if bias is None else self.additive(bias)
        z = op(x, w)
        if b is not None:
            z = z + shape_bias(b)
        if not self.lrp or (self.linear_rule == "epsilon" and self.epsilon == 0):
            return z
        z_value = z.detach()
        if self.linear_rule == "epsilon":
            return _with_value(z, z * _safe_divide(z_value, _stabilise(z_value, self.epsilon)))
        positive = op(x.clamp(min=0), w.clamp(min=0)) + op(x.clamp(max=0), w.clamp(max=0))
        if b is not None:
            positive = positive + shape_bias(b.clamp(min=0))
        boosted = z + self.gamma * torch.where(z_value > 0, positive, z - positive)
        scale = _safe_divide(z_value, _stabilise(boosted.detach(), self.epsilon))
        return _with_value(z, boosted * scale)

    def linear(self, x: torch.Tensor, layer: nn.Linear) -> torch.Tensor:
        if not self.lrp:
            bias = None if layer.bias is None else self.const(layer.bias)
            return F.linear(x, self.const(layer.weight), bias)
        return self.affine(x, layer.weight, layer.bias, F.linear, lambda b: self._channels_last(b, x.ndim))

    def conv(self, x: torch.Tensor, layer: nn.Conv2d) -> torch.Tensor:
        def op(inputs: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
            return F.conv2d(inputs, weight, None, layer.stride, layer.padding, layer.dilation, layer.groups)

        if layer.padding_mode != "zeros":
            raise TypeError(f"patch_embed.proj uses padding_mode={layer.padding_mode!r}; only 'zeros' is supported")
        return self.affine(x, layer.weight, layer.bias, op, lambda b: b[:, :, None, None])

    def norm(self, x: torch.Tensor, module: nn.Module) -> torch.Tensor:
        if isinstance(module, nn.Identity):
            return x
        weight = None if module.weight is None else self.const(module.weight)
        if not self.lrp:
            bias = None if module.bias is None else self.const(module.bias)
            return F.layer_norm(x, module.normalized_shape, weight, bias, module.eps)
        beta = None if module.bias is None else self.additive(module.bias)
        value = F.layer_norm(x.detach(), module.normalized_shape, weight, None if beta is None else beta[0].detach(), module.eps)
        std = torch.sqrt(x.detach().var(dim=-1, unbiased=False, keepdim=True) + module.eps)
        y = (x - x.mean(dim=-1, keepdim=True)) / std
        if weight is not None:
            y = y * weight
        if beta is not None:
            y = y + self._channels_last(beta, x.ndim)
        return _with_value(value, y)

    def activation(self, x: torch.Tensor, act: nn.Module) -> torch.Tensor:
        if not self.lrp:
            return act(x)
        x_value = x.detach()
        value = act(x_value)
        zero = x_value == 0
        ratio = torch.where(zero, torch.full_like(x_value, 0.5), value / torch.where(zero, torch.ones_like(x_value), x_value))
        return _with_value(value, x * ratio)

    @staticmethod
    def layer_scale(x: torch.Tensor, module: nn.Module, const: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
        return x if isinstance(module, nn.Identity) else x * const(module.gamma)

    def attention_block(self, x: torch.Tensor, attn: nn.Module) -> torch.Tensor:
        batch, tokens, _ = x.shape
        qkv = self.linear(x, attn.qkv).reshape(batch, tokens, 3, attn.num_heads, attn.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        q, k = self.norm(q, attn.q_norm), self.norm(k, attn.k_norm)
        q = q * attn.scale
        if not self.lrp:
            scores = q @ k.transpose(-2, -1)
            probs = scores.softmax(dim=-1)
            out = probs @ v
        elif self.attention == "cp":
            with torch.no_grad():
                scores = q @ k.transpose(-2, -1)
                probs = scores.softmax(dim=-1)
            out = probs @ v
        else:
            scores = _HalfGradMatmul.apply(q, k.transpose(-2, -1))
            probs = scores.softmax(dim=-1)
            out = _HalfGradMatmul.apply(probs, v)
        if self.record:
            self.scores.append(scores)
            self.probs.append(probs)
        out = out.transpose(1, 2).reshape(batch, tokens, attn.attn_dim)
        out = self.norm(out, attn.norm)
        return self.linear(out, attn.proj)

    def mlp_block(self, x: torch.Tensor, mlp: nn.Module) -> torch.Tensor:
        x = self.linear(x, mlp.fc1)
        x = self.activation(x, mlp.act)
        x = self.norm(x, mlp.norm)
        return self.linear(x, mlp.fc2)

    def embed(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """Patch embedding, prefix tokens and position embedding: ``(B, T, D)``."""
        x = self.conv(x, model.patch_embed.proj).flatten(2).transpose(1, 2)
        x = self.norm(x, model.patch_embed.norm)
        batch = x.shape[0]
        prefix = []
        for token in (model.cls_token, getattr(model, "reg_token", None)):
            if token is not None:
                prefix.append(self.additive(token)[:, 0].expand(batch, -1, -1))
        pos = None if model.pos_embed is None else self.additive(model.pos_embed)[:, 0]
        if pos is None:
            x = torch.cat(prefix + [x], dim=1)
        elif getattr(model, "no_embed_class", False):
            x = torch.cat(prefix + [x + pos], dim=1)
        else:
            x = torch.cat(prefix + [x], dim=1) + pos
        return self.norm(x, model.norm_pre)

    def __call__(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, num_classes)`` of ``model`` for images ``x`` ``(B, C, H, W)`` (already in ``dtype``)."""
        x = self.embed(model, x)
        for block in model.blocks:
            x = x + self.layer_scale(self.attention_block(self.norm(x, block.norm1), block.attn), block.ls1, self.const)
            x = x + self.layer_scale(self.mlp_block(self.norm(x, block.norm2), block.mlp), block.ls2, self.const)
        x = self.norm(x, model.norm)
        if model.global_pool == "token":
            x = x[:, 0]
        else:
            x = (x if getattr(model, "pool_include_prefix", False) else x[:, model.num_prefix_tokens :]).mean(dim=1)
        x = self.norm(x, model.fc_norm)
        return x if isinstance(model.head, nn.Identity) else self.linear(x, model.head)


def vit_forward(model: nn.Module, inputs: torch.Tensor, *, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Logits of a timm ViT computed by the functional re-implementation (no LRP rules).

    Parameters
    ----------
    model : timm.models.vision_transformer.VisionTransformer
        Read only; its weights are copied to ``dtype``. Evaluation semantics regardless of
        ``model.training`` (dropout, drop-path and patch dropout are the identity).
    inputs : torch.Tensor
        ``(B, C, H, W)`` images.
    dtype : torch.dtype
        Computation dtype.

    Returns
    -------
    torch.Tensor
        ``(B, num_classes)`` logits in ``dtype``; differentiable w.r.t. ``inputs`` when it requires grad.

    Raises
    ------
    TypeError
        ``model`` is not a supported timm ``VisionTransformer``.
    """
    _check_supported(model)
    _check_inputs(model, inputs)
    run = _Pass(lrp=False, batch=inputs.shape[0], dtype=dtype, device=inputs.device)
    return run(model, inputs.to(dtype))


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
    """LRP relevance of the ``target`` logit of a timm ViT over the input pixels.

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
    """Signed LRP pixel relevance (AttnLRP rules by default) with the attributor calling convention."""

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
        """``(B, H, W)`` float32 signed pixel relevance of the ``target`` logit (raw scale).

        Parameters
        ----------
        inputs : torch.Tensor
            ``(B, C, H, W)`` images.
        target : int or torch.Tensor
            Class index, or ``(B,)`` indices.
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
    """

    name = "chefer2021"
    signed = False

    def __init__(self, model: nn.Module, *, dtype: torch.dtype = torch.float32) -> None:
        _check_supported(model)
        _check_options("epsilon", 0.0, 0.0, "attnlrp", dtype)
        self.model = model
        self.dtype = dtype

    def attribute(self, inputs: torch.Tensor, *, target: torch.Tensor | int) -> np.ndarray:
        """``(B, H, W)`` float32 non-negative relevance of the ``target`` logit.

        Parameters
        ----------
        inputs : torch.Tensor
            ``(B, C, H, W)`` images.
        target : int or torch.Tensor
            Class index, or ``(B,)`` indices.
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
