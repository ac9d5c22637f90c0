"""Functional replay of a timm Vision Transformer, plain or with the LRP rules.

The model is never modified: :func:`vit_forward` re-implements timm's ``VisionTransformer``
forward pass (evaluation semantics: dropout, drop-path and patch dropout are the identity) as plain
tensor code that reads the model's own weights, copied to ``dtype`` (float64 by default). ``_Pass``
is that replay; with ``lrp=True`` it applies the rules of :mod:`engine.explain.lrp_rules` (forward
values unchanged, backward graphs modified) and makes every additive parameter a per-sample leaf,
which is what :mod:`engine.explain.vit_lrp` differentiates. ``_check_supported`` refuses, in one
message listing every problem, a model whose forward pass the replay would not reproduce.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from engine.explain.lrp_rules import _HalfGradMatmul, _safe_divide, _stabilise, _with_value

__all__ = ["vit_forward"]


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
    if type(embed) is not PatchEmbed or not _stem_layers(embed.proj):
        problems.append(f"patch_embed is {type(embed).__name__} with a {type(getattr(embed, 'proj', None)).__name__} projection "
                        "(only timm PatchEmbed with a Conv2d projection, or a Sequential of Conv2d and ReLU layers)")
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


def _stem_layers(proj: nn.Module) -> list[nn.Module]:
    """Return the layers of a patch projection: ``[Conv2d]``, or a conv stem's Conv2d and ReLU layers (``[]``: unsupported)."""
    layers = list(proj) if isinstance(proj, nn.Sequential) else [proj]
    if not layers or not isinstance(layers[0], nn.Conv2d) or not isinstance(layers[-1], nn.Conv2d):
        return []
    return layers if all(type(layer) in (nn.Conv2d, nn.ReLU) for layer in layers) else []


def _check_inputs(model: nn.Module, inputs: torch.Tensor) -> None:
    embed = model.patch_embed
    channels = _stem_layers(embed.proj)[0].in_channels
    if inputs.ndim != 4 or inputs.shape[1] != channels:
        raise ValueError(f"inputs must be (B, {channels}, H, W), got {tuple(inputs.shape)}")
    if embed.img_size is not None and embed.strict_img_size and tuple(inputs.shape[-2:]) != tuple(embed.img_size):
        raise ValueError(f"inputs must be {tuple(embed.img_size)} pixels, got {tuple(inputs.shape[-2:])}")


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
            raise TypeError(f"a patch_embed convolution uses padding_mode={layer.padding_mode!r}; only 'zeros' is supported")
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
        for layer in _stem_layers(model.patch_embed.proj):
            # a ReLU's gradient passes relevance where it fired: the LRP rule for an activation
            x = self.conv(x, layer) if isinstance(layer, nn.Conv2d) else F.relu(x)
        x = x.flatten(2).transpose(1, 2)
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
    """Compute the logits of a timm ViT by the functional re-implementation (no LRP rules).

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
    ValueError
        ``inputs`` is not ``(B, C, H, W)`` with the model's channels and image size.

    Examples
    --------
    >>> import torch
    >>> from engine.models.vit import create_vit
    >>> _ = torch.manual_seed(0)
    >>> model = create_vit(img_size=32, depth=1, embed_dim=8, num_heads=2).eval()
    >>> images = torch.rand(2, 1, 32, 32)
    >>> logits = vit_forward(model, images)
    >>> tuple(logits.shape), logits.dtype
    ((2, 2), torch.float64)
    >>> bool(torch.allclose(logits.float(), model(images), atol=1e-5))
    True
    """
    _check_supported(model)
    _check_inputs(model, inputs)
    run = _Pass(lrp=False, batch=inputs.shape[0], dtype=dtype, device=inputs.device)
    return run(model, inputs.to(dtype))
