"""Explanations: ViT relevance methods, faithfulness, SHAP additivity, stem shares."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.explain.attribution import make_attributor, methods_for
from engine.explain.faithfulness import area_under_curve, patch_scores
from engine.explain.sanity import randomisation_check, randomised_copy, rank_similarity
from engine.explain.shap_values import explain_tabular
from engine.explain.stems import relevance_by_stem
from engine.explain.vit_relevance import capture_attention
from engine.models.linear import make_ridge
from engine.models.mlp import MLPRegressor
from engine.models.training import predict
from engine.models.vit import create_vit


@pytest.fixture(scope="module", params=[0, 1], ids=["seed0", "seed1"])
def vit(request):
    torch.manual_seed(request.param)
    return create_vit(architecture="vit_tiny_patch16_224", depth=2).eval()


@pytest.mark.parametrize("method", methods_for("vit"))
def test_every_method_returns_deterministic_finite_maps_over_the_image(vit, method):
    x = torch.rand(2, 1, 224, 224)
    attributor = make_attributor(method, vit)
    maps = attributor.attribute(x, target=torch.tensor([0, 1]))
    assert maps.shape == (2, 224, 224) and maps.dtype == np.float32 and np.isfinite(maps).all()
    assert np.ptp(maps[0]) > 0, "a constant map explains nothing"
    if not attributor.signed:
        assert maps.min() >= 0
    assert np.array_equal(maps, make_attributor(method, vit).attribute(x, target=torch.tensor([0, 1])))
    assert all(p.grad is None for p in vit.parameters())


def test_integrated_gradients_are_complete():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    x = torch.rand(1, 1, 4, 4)
    maps = make_attributor("integrated_gradients", model).attribute(x, target=1)
    with torch.no_grad():
        difference = float(model(x)[0, 1] - model(torch.zeros_like(x))[0, 1])
    assert maps.sum() == pytest.approx(difference, rel=0.02, abs=1e-4)


def test_attention_hooks_are_removed_and_fused_attention_restored(vit):
    before = [block.attn.fused_attn for block in vit.blocks]
    with capture_attention(vit) as attentions:
        vit(torch.rand(1, 1, 224, 224))
    assert len(attentions) == len(vit.blocks) and attentions[0].shape == (1, 3, 197, 197)
    assert torch.allclose(attentions[0].sum(-1), torch.ones(1, 3, 197), atol=1e-5)
    assert [block.attn.fused_attn for block in vit.blocks] == before
    assert all(not block.attn.attn_drop._forward_hooks for block in vit.blocks)


def test_gradient_methods_are_class_specific_and_rollout_is_not(vit):
    x = torch.rand(1, 1, 224, 224)
    for method in ("grad_rollout", "gradient_x_input", "integrated_gradients", "chefer2021", "attnlrp"):
        a = make_attributor(method, vit).attribute(x, target=0)
        b = make_attributor(method, vit).attribute(x, target=1)
        assert not np.allclose(a, b)
    rollout = make_attributor("rollout", vit)
    assert np.allclose(rollout.attribute(x, target=0), rollout.attribute(x, target=1))


def test_unknown_method_is_named(vit):
    with pytest.raises(ValueError, match="unknown attribution method 'lime'"):
        make_attributor("lime", vit)


def test_tile_scores_and_area_under_curve():
    relevance = np.zeros((224, 224), dtype=np.float32)
    relevance[:16, :16] = 1.0
    scores = patch_scores(relevance, patch=16)
    assert scores.shape == (196,) and scores[0] == 1.0 and scores[1:].sum() == 0
    assert area_under_curve(np.array([1.0, 1.0]), (0.0, 1.0)) == pytest.approx(1.0)


def test_randomised_copy_changes_only_its_scope_and_leaves_the_model_alone(vit):
    before = {k: v.clone() for k, v in vit.state_dict().items()}
    head = randomised_copy(vit, scope="head", seed=0)
    everything = randomised_copy(vit, scope="all", seed=0)
    assert all(torch.equal(v, vit.state_dict()[k]) for k, v in before.items())
    assert not torch.equal(head.head.weight, vit.head.weight)
    assert torch.equal(head.blocks[0].attn.qkv.weight, vit.blocks[0].attn.qkv.weight)
    assert not torch.equal(everything.blocks[0].attn.qkv.weight, vit.blocks[0].attn.qkv.weight)
    with pytest.raises(ValueError, match="scope"):
        randomised_copy(vit, scope="middle")


def test_randomisation_check_separates_model_dependent_from_model_blind_maps(vit):
    images = torch.rand(2, 1, 224, 224)
    attribute = lambda method: (lambda m, x, t: make_attributor(method, m).attribute(x, target=t)[0])
    blind = randomisation_check(attribute("random"), vit, images, [0, 1], scopes=("all",))
    dependent = randomisation_check(attribute("grad_rollout"), vit, images, [0, 1], scopes=("all",))
    assert np.allclose(blind["all"], 1.0)  # ignores the model entirely: fails the check
    assert dependent["all"].mean() < 0.9
    assert rank_similarity(np.ones((4, 4)), np.random.rand(4, 4)) == 0.0


@pytest.mark.parametrize("n_features", [7, 19])
@pytest.mark.parametrize("head", ["ridge", "ridge_interactions", "shallow_nn"])
def test_shap_additivity_base_plus_contributions_equals_prediction(head, n_features):
    rng = np.random.default_rng(n_features)
    x = rng.normal(size=(120, n_features)).astype(np.float32)
    y = np.column_stack([x[:, 0] - x[:, 1] * x[:, 2], x[:, 3] ** 2]).astype(np.float32)
    if head.startswith("ridge"):
        model = make_ridge(interactions=head == "ridge_interactions").fit(x[:100], y[:100])
        predict_fn = model.predict
    else:
        torch.manual_seed(0)
        net = MLPRegressor(n_inputs=n_features, n_outputs=2, hidden=(32,), batch_norm=False).eval()
        predict_fn = lambda v: predict(net, [np.asarray(v, dtype=np.float32)])
    result = explain_tabular(predict_fn, background=x[:100], data=x[100:], feature_names=[f"f{i}" for i in range(n_features)],
                             target_names=["a", "b"], max_background=50)
    assert result.values.shape == (20, n_features, 2)
    reconstructed = result.base_values + result.values.sum(axis=1)
    assert np.allclose(reconstructed, predict_fn(x[100:]), atol=1e-4)
    assert result.mean_abs().shape == (n_features, 2)


def test_linear_shap_equals_coefficient_times_centred_feature():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 3))
    weights = np.array([[1.0], [-2.0], [0.5]])
    result = explain_tabular(lambda v: v @ weights, background=x, data=x[:5], feature_names=["a", "b", "c"], target_names=["y"])
    expected = (x[:5] - x.mean(axis=0)) * weights[:, 0]
    assert np.allclose(result.values[:, :, 0], expected, atol=1e-5)


def test_relevance_by_stem_shares_each_bin_by_stem_energy():
    drums, melody, relevance = np.zeros((4, 4)), np.zeros((4, 4)), np.zeros((4, 4))
    drums[:, :2] = 1.0
    melody[:, 2:] = 1.0
    relevance[:, 0] = 1.0
    shares = relevance_by_stem(relevance, {"drums": drums, "melody": melody})
    assert shares["drums"] == pytest.approx((1.0, 0.5)) and shares["melody"] == pytest.approx((0.0, 0.5))
    melody[:, 0] = 1.0  # equal energy in column 0: its relevance is split evenly
    shares = relevance_by_stem(relevance - 0.5, {"drums": drums, "melody": melody})  # negatives count as 0
    assert shares["drums"][0] == pytest.approx(0.5) and sum(s for s, _ in shares.values()) == pytest.approx(1.0)


def test_shap_of_constant_inputs_is_zero_and_additive():
    x = np.ones((10, 3))
    result = explain_tabular(lambda v: v @ np.ones((3, 2)), background=x, data=x[:2], feature_names=["a", "b", "c"], target_names=["y", "z"])
    assert np.all(result.values == 0) and np.allclose(result.base_values, [3.0, 3.0])
