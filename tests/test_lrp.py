"""LRP for timm ViTs.

Functional forward (engine/explain/vit_replay.py), rules and conservation (lrp_rules.py), the LRP
pass and its attributors (vit_lrp.py).
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import timm
import torch

from engine.explain.lrp_rules import _HalfGradMatmul
from engine.explain.vit_lrp import AttnLRP, Chefer2021, LRPResult, lrp
from engine.explain.vit_relevance import capture_attention
from engine.explain.vit_replay import _Pass, vit_forward
from engine.models.vit import conv_stem

TARGETS = torch.tensor([0, 1])

# Variants exercising every optional part the functional forward reads.
CONFIGS = {
    "plain": {},
    "avg_qknorm_layerscale": dict(global_pool="avg", class_token=False, qk_norm=True, init_values=0.1, no_embed_class=True),
    "registers_prenorm_fcnorm": dict(reg_tokens=2, no_embed_class=True, init_values=0.5, qk_norm=True, pre_norm=True, fc_norm=True),
    "conv_stem": dict(stem="conv"),  # engine.models.vit.conv_stem: Conv2d and ReLU layers before the tokens
}


def make_vit(seed: int = 0, *, randomise: bool = False, depth: int = 2, stem: str = "patch", **overrides) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = timm.create_model(
        "vit_tiny_patch16_224", pretrained=False, num_classes=2, in_chans=1, depth=depth, **overrides
    ).eval()
    if stem == "conv":
        model.patch_embed.proj = conv_stem(model.patch_embed.proj)
    if randomise:  # timm initialises biases to 0 and LayerNorms to (1, 0): make the additive terms matter
        with torch.no_grad():
            for name, parameter in model.named_parameters():
                if name.endswith("bias") or "norm" in name or name.endswith("gamma"):
                    parameter.add_(0.1 * torch.randn_like(parameter))
    return model


@pytest.fixture(scope="module")
def vit() -> torch.nn.Module:
    return make_vit(0)


@pytest.fixture(scope="module", params=sorted(CONFIGS))
def rich_vit(request) -> torch.nn.Module:
    return make_vit(1, randomise=True, **CONFIGS[request.param])


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    torch.manual_seed(42)
    return torch.rand(2, 1, 224, 224)


def target_logits(model: torch.nn.Module, images: torch.Tensor, dtype=torch.float64) -> np.ndarray:
    with torch.no_grad():
        return vit_forward(model, images, dtype=dtype).gather(1, TARGETS[:, None])[:, 0].numpy()


def deviation(result: LRPResult, *, with_softmax: bool = True) -> np.ndarray:
    """``|pixel + bias (+ softmax) - logit| / max(1, |logit|)`` per sample."""
    total = result.relevance.sum(axis=(1, 2)) + result.bias_relevance
    if with_softmax:
        total = total + result.softmax_relevance
    return np.abs(total - result.logit) / np.maximum(1.0, np.abs(result.logit))


# ---------------------------------------------------------------- functional forward


def test_vit_forward_equals_the_model(rich_vit, images):
    with torch.no_grad():
        expected32 = rich_vit(images)
        expected64 = copy.deepcopy(rich_vit).double()(images.double())
    got = vit_forward(rich_vit, images)
    assert got.dtype == torch.float64 and got.shape == (2, 2)
    assert torch.allclose(got, expected32.double(), atol=1e-4, rtol=0)
    assert torch.allclose(got, expected64, atol=1e-10, rtol=0)
    assert torch.allclose(vit_forward(rich_vit, images, dtype=torch.float32), expected32, atol=1e-5, rtol=0)


def test_functional_attention_and_its_gradient_match_the_model(vit, images):
    with torch.enable_grad(), capture_attention(vit, keep_grad=True) as attentions:
        logits = vit(images)
        model_grads = torch.autograd.grad(logits[:, 0].sum(), attentions)
    run = _Pass(lrp=False, batch=2, dtype=torch.float64, device=images.device, record=True)
    x = images.double().requires_grad_(True)
    with torch.enable_grad():
        ours = torch.autograd.grad(run(vit, x)[:, 0].sum(), run.probs)
    for model_attention, attention, model_grad, grad in zip(attentions, run.probs, model_grads, ours):
        assert torch.allclose(model_attention.double(), attention, atol=1e-6)
        assert torch.allclose(model_grad.double(), grad, atol=1e-5 * grad.abs().max().item())


@pytest.mark.parametrize("linear_rule", ["epsilon", "gamma"])
@pytest.mark.parametrize("attention", ["attnlrp", "cp"])
def test_lrp_forward_keeps_the_model_logits(rich_vit, images, linear_rule, attention):
    result = lrp(rich_vit, images, target=TARGETS, linear_rule=linear_rule, attention=attention, epsilon=1e-6)
    with torch.no_grad():
        model_logits = rich_vit(images).gather(1, TARGETS[:, None])[:, 0].double().numpy()
    np.testing.assert_allclose(result.logit, model_logits, atol=1e-4, rtol=0)
    np.testing.assert_allclose(result.logit, target_logits(rich_vit, images), atol=1e-12, rtol=0)


# ---------------------------------------------------------------- conservation


@pytest.mark.parametrize("linear_rule", ["epsilon", "gamma"])
def test_cp_lrp_with_epsilon_zero_is_exactly_conservative(rich_vit, images, linear_rule):
    result = lrp(rich_vit, images, target=TARGETS, linear_rule=linear_rule, attention="cp", epsilon=0.0)
    assert np.all(result.softmax_relevance == 0)
    assert np.all(np.abs(result.bias_relevance) > 1e-4)  # the additive terms carry a real share
    assert deviation(result).max() < 1e-8  # observed <= 7e-16


@pytest.mark.parametrize("linear_rule", ["epsilon", "gamma"])
def test_attnlrp_is_conservative_up_to_the_softmax_share(rich_vit, images, linear_rule):
    result = lrp(rich_vit, images, target=TARGETS, linear_rule=linear_rule, attention="attnlrp", epsilon=0.0)
    assert np.isfinite(result.relevance).all()
    # proved: every rule but the softmax one is conservative, and the softmax absorption is returned
    assert deviation(result).max() < 1e-8  # observed <= 3e-16
    # the softmax rule is genuinely non-conservative, by a bounded share (observed <= 0.11)
    assert np.abs(result.softmax_relevance).max() > 1e-5
    assert deviation(result, with_softmax=False).max() < 0.25


def test_epsilon_absorbs_a_small_share(rich_vit, images):
    result = lrp(rich_vit, images, target=TARGETS, attention="cp", epsilon=1e-6)
    assert 0 < deviation(result).max() < 1e-4  # observed <= 5e-6


def test_float32_pass_is_conservative_to_single_precision(rich_vit, images):
    result = lrp(rich_vit, images, target=TARGETS, attention="attnlrp", epsilon=0.0, dtype=torch.float32)
    assert result.relevance.dtype == np.float32
    assert deviation(result).max() < 1e-5  # observed <= 4e-7


def test_softmax_rule_equals_gradient_times_input():
    torch.manual_seed(3)
    scores = torch.randn(2, 3, 5, 5, dtype=torch.float64, requires_grad=True)
    upstream = torch.randn(2, 3, 5, 5, dtype=torch.float64)
    probs = scores.softmax(-1)
    (grad,) = torch.autograd.grad((probs * upstream).sum(), scores)
    relevance_out = probs.detach() * upstream
    rule = scores.detach() * (relevance_out - probs.detach() * relevance_out.sum(-1, keepdim=True))
    assert torch.allclose(scores.detach() * grad, rule, atol=1e-12)


def test_uniform_rule_gives_each_operand_half():
    torch.manual_seed(4)
    a = torch.randn(2, 3, 4, 6, dtype=torch.float64, requires_grad=True)
    b = torch.randn(2, 3, 6, 5, dtype=torch.float64, requires_grad=True)
    upstream = torch.randn(2, 3, 4, 5, dtype=torch.float64)
    out = _HalfGradMatmul.apply(a, b)
    assert torch.equal(out, a.detach() @ b.detach())
    grad_a, grad_b = torch.autograd.grad((out * upstream).sum(), (a, b))
    half = 0.5 * (out.detach() * upstream).sum()
    assert torch.allclose((a * grad_a).sum(), half) and torch.allclose((b * grad_b).sum(), half)


# ---------------------------------------------------------------- maps


def test_maps_are_pixel_level_class_specific_and_deterministic(vit, images):
    first = lrp(vit, images, target=0)
    again = lrp(vit, images, target=0)
    other = lrp(vit, images, target=1)
    assert first.relevance.shape == (2, 224, 224) and first.logit.shape == (2,) and first.bias_relevance.shape == (2,)
    assert np.array_equal(first.relevance, again.relevance) and np.array_equal(first.bias_relevance, again.bias_relevance)
    assert not np.allclose(first.relevance, other.relevance)
    for sample in first.relevance:
        patch = sample[16:32, 16:32]
        assert patch.std() > 0 and np.unique(patch).size > 1
    maps = AttnLRP(vit).attribute(images, target=TARGETS)
    assert maps.dtype == np.float32 and maps.shape == (2, 224, 224)
    assert (maps < 0).any() and (maps > 0).any()  # signed


def test_keep_attention_returns_each_blocks_relevance(vit, images):
    result = lrp(vit, images, target=TARGETS, keep_attention=True)
    assert result.attention_relevance is not None and len(result.attention_relevance) == len(vit.blocks)
    for relevance in result.attention_relevance:
        assert relevance.shape == (2, 3, 197, 197) and np.isfinite(relevance).all()
    assert lrp(vit, images, target=TARGETS).attention_relevance is None
    with pytest.raises(ValueError, match="keep_attention"):
        lrp(vit, images, target=TARGETS, attention="cp", keep_attention=True)


def test_chefer2021(vit, images):
    method = Chefer2021(vit)
    assert method.name == "chefer2021"
    first = method.attribute(images, target=0)
    again = method.attribute(images, target=0)
    other = method.attribute(images, target=1)
    assert first.shape == (2, 224, 224) and first.dtype == np.float32
    assert np.isfinite(first).all() and first.min() >= 0 and first.max() > 0
    assert np.array_equal(first, again)
    assert not np.allclose(first, other)


# ---------------------------------------------------------------- model untouched, errors


def test_model_is_left_exactly_as_it_was(images):
    model = make_vit(5).train()
    model.pos_embed.requires_grad_(False)
    model.blocks[1].attn.fused_attn = False
    flags = {name: p.requires_grad for name, p in model.named_parameters()}
    fused = [block.attn.fused_attn for block in model.blocks]
    state = {name: t.clone() for name, t in model.state_dict().items()}
    lrp(model, images, target=TARGETS, keep_attention=True)
    lrp(model, images, target=TARGETS, linear_rule="gamma", attention="cp", dtype=torch.float32)
    AttnLRP(model).attribute(images, target=0)
    Chefer2021(model).attribute(images, target=1)
    assert model.training and all(module.training for module in model.modules())
    assert all(p.grad is None for p in model.parameters())
    assert {name: p.requires_grad for name, p in model.named_parameters()} == flags
    assert [block.attn.fused_attn for block in model.blocks] == fused
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert all(torch.equal(state[name], t) for name, t in model.state_dict().items())
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


def test_unsupported_models_raise_type_error(images):
    sequential = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(224 * 224, 2))
    for call in (
        lambda: lrp(sequential, images, target=0),
        lambda: vit_forward(sequential, images),
        lambda: AttnLRP(sequential),
        lambda: Chefer2021(sequential),
    ):
        with pytest.raises(TypeError, match="timm VisionTransformer models only, got Sequential"):
            call()
    with pytest.raises(TypeError, match="RmsNorm"):
        lrp(make_vit(depth=1, norm_layer="rmsnorm"), images, target=0)
    with pytest.raises(TypeError, match="global_pool='map'"):
        lrp(make_vit(depth=1, global_pool="map", class_token=False), images, target=0)


def test_bad_options_raise_value_error(vit, images):
    with pytest.raises(ValueError, match="linear_rule"):
        lrp(vit, images, target=0, linear_rule="alpha_beta")
    with pytest.raises(ValueError, match="attention"):
        lrp(vit, images, target=0, attention="rollout")
    with pytest.raises(ValueError, match="epsilon"):
        lrp(vit, images, target=0, epsilon=-1.0)
    with pytest.raises(ValueError, match="inputs must be"):
        lrp(vit, images[:, :, :200], target=0)
