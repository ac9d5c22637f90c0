"""Model shapes, metrics, ridge heads, splits and the ViT factory's weight loading."""

from __future__ import annotations

import numpy as np
import pytest
import timm
import torch

from engine.datasets.splits import group_split, random_split
from engine.models.cnn import THESIS_WIDTHS, CircularChromaBackbone, CNNRegressor, LateFusionRegressor, make_backbone
from engine.models.linear import interaction_names, make_ridge, pairwise_products, standardised_coefficients
from engine.models.metrics import classification_metrics, mse, pearson_r, regression_metrics
from engine.models.mlp import MLPRegressor
from engine.models.store import model_from_bytes, model_to_bytes
from engine.models.training import TrainConfig, balanced_class_weights, fit, predict
from engine.models.vit import create_vit

SMALL = (4, 4, 8, 8, 8, 8, 8, 8, 16)


@pytest.mark.parametrize("height, width", [(149, 313), (12, 431), (149, 94)])
def test_cnn_regressor_shapes(height, width):
    model = CNNRegressor(input_height=height, n_outputs=8, widths=SMALL).eval()
    assert model(torch.zeros(2, 1, height, width)).shape == (2, 8)


def test_thesis_backbone_gives_256_d_embeddings_and_512_d_fusion():
    fusion = LateFusionRegressor(input_heights=(149, 12), n_outputs=8, widths=THESIS_WIDTHS).eval()
    assert all(branch.embedding_size == 256 for branch in fusion.branches)
    assert fusion.head.in_features == 512
    assert fusion(torch.zeros(1, 1, 149, 313), torch.zeros(1, 1, 12, 431)).shape == (1, 8)


def test_circular_chroma_backbone_is_invariant_to_transposition_where_the_thesis_network_is_not():
    # Circular padding in pitch, no pooling in pitch and a global average make the embedding of a
    # chromagram rolled by k semitones equal to that of the original: a key-free harmony encoder.
    torch.manual_seed(0)
    chroma = torch.rand(3, 1, 12, 64, dtype=torch.float64)
    circular = CircularChromaBackbone(widths=SMALL, dropout=0.0).double().eval()
    thesis = make_backbone("chowdhury", input_height=12, widths=SMALL, dropout=0.0).double().eval()
    with torch.no_grad():
        for k in (1, 3, 7):
            rolled = torch.roll(chroma, shifts=k, dims=2)
            torch.testing.assert_close(circular(rolled), circular(chroma), rtol=1e-10, atol=1e-12)
            assert not torch.allclose(thesis(rolled), thesis(chroma), rtol=1e-3, atol=1e-6)
    fusion = LateFusionRegressor(input_heights=(149, 12), n_outputs=7, widths=SMALL, backbones=("chowdhury", "circular_chroma"))
    assert fusion.eval()(torch.zeros(2, 1, 149, 313), torch.zeros(2, 1, 12, 431)).shape == (2, 7)
    assert CNNRegressor(input_height=12, n_outputs=8, widths=SMALL, backbone="circular_chroma").eval()(chroma.float()).shape == (3, 8)


def test_a_backbone_that_does_not_fit_its_input_is_refused():
    with pytest.raises(ValueError, match="circular_chroma backbone takes 12 pitch-class rows, got 149"):
        make_backbone("circular_chroma", input_height=149)
    with pytest.raises(ValueError, match=r"unknown backbone 'resnet'; known: \['chowdhury', 'circular_chroma'\]"):
        make_backbone("resnet", input_height=12)
    with pytest.raises(ValueError, match="backbones names 1 branches for 2 input heights"):
        LateFusionRegressor(input_heights=(149, 12), n_outputs=8, backbones=("chowdhury",))


def test_mlp_shapes_and_thesis_shallow_net():
    assert MLPRegressor(n_inputs=12, n_outputs=8).eval()(torch.zeros(3, 12)).shape == (3, 8)
    shallow = MLPRegressor(n_inputs=7, n_outputs=8, hidden=(32,), dropout=0.3, batch_norm=False)
    assert [type(m).__name__ for m in shallow.net] == ["Linear", "ReLU", "Dropout", "Linear"]
    assert shallow.net[0].out_features == 32


def test_training_learns_a_linear_map_and_restores_best_weights():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 5)).astype(np.float32)
    y = (x @ rng.normal(size=(5, 2))).astype(np.float32)
    model = MLPRegressor(n_inputs=5, n_outputs=2, hidden=(32,), dropout=0.0, batch_norm=False)
    result = fit(model, train_inputs=[x[:200]], train_targets=y[:200], val_inputs=[x[200:]], val_targets=y[200:],
                 loss_fn=torch.nn.MSELoss(), config=TrainConfig(epochs=60, learning_rate=1e-2, patience=10))
    assert result.best_val_loss == min(h["val_loss"] for h in result.history)
    assert np.mean(pearson_r(y[200:], predict(result.model, [x[200:]]))) > 0.95


def test_pearson_and_mse():
    a = np.array([[1.0, 2.0], [2.0, 4.0], [3.0, 5.0]])
    assert pearson_r(a, a) == pytest.approx([1.0, 1.0])
    assert pearson_r(a[:, 0], -a[:, 0]) == pytest.approx(-1.0)
    assert np.isnan(pearson_r(a, np.ones_like(a))).all()
    assert mse(a, a + 1) == pytest.approx([1.0, 1.0])
    metrics = regression_metrics(a, a + 1, targets=["x", "y"])
    assert metrics[("all", "pearson_r")] == pytest.approx(1.0) and metrics[("x", "mse")] == pytest.approx(1.0)


def test_classification_metrics_match_the_thesis_confusion_matrix():
    # Thesis Section 5.2.2: sad 122 right, 13 wrong; happy 62 right, 40 wrong (0 = happy, 1 = sad).
    actual = np.array([1] * 135 + [0] * 102)
    predicted = np.array([1] * 122 + [0] * 13 + [0] * 62 + [1] * 40)
    m = classification_metrics(actual, predicted, classes=["happy", "sad"])
    assert m["accuracy"] == pytest.approx(0.776, abs=1e-3)
    assert m["recall_sad"] == pytest.approx(0.9037, abs=1e-4) and m["recall_happy"] == pytest.approx(0.6078, abs=1e-4)
    assert m["precision_sad"] == pytest.approx(0.7531, abs=1e-4) and m["precision_happy"] == pytest.approx(0.8267, abs=1e-4)
    assert m["macro_precision"] == pytest.approx(0.79, abs=5e-3) and m["weighted_f1"] == pytest.approx(0.77, abs=5e-3)
    assert m["cm_sad_happy"] == 13 and m["cm_happy_sad"] == 40


def test_balanced_class_weights_favour_the_minority():
    weights = balanced_class_weights(np.array([0] * 102 + [1] * 135), n_classes=2)
    assert weights[0] > weights[1]
    assert float((weights * torch.tensor([102.0, 135.0])).sum()) == pytest.approx(237.0)


def test_pairwise_interaction_terms():
    x = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    products = pairwise_products(x)
    assert products.shape == (2, 6)
    assert np.allclose(products[:, 3:], [[2.0, 3.0, 6.0], [20.0, 24.0, 30.0]])
    assert interaction_names(["a", "b", "c"]) == ["a", "b", "c", "a x b", "a x c", "b x c"]


def test_ridge_standardised_coefficients_recover_effect_directions():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 3))
    y = np.column_stack([2 * x[:, 0] - x[:, 1], -3 * x[:, 2]]) + rng.normal(scale=0.1, size=(300, 2))
    model = make_ridge().fit(x, y)
    beta = standardised_coefficients(model, y_train=y)
    assert beta.shape == (2, 3)
    assert beta[0, 0] > 0.5 and beta[0, 1] < -0.2 and beta[1, 2] < -0.9
    with_interactions = make_ridge(interactions=True).fit(x, y)
    assert standardised_coefficients(with_interactions, y_train=y).shape == (2, 6)


def test_group_split_keeps_groups_whole_and_follows_fractions():
    groups = [f"film{i // 3}" for i in range(360)]
    splits = group_split(groups, fractions=(0.7, 0.1, 0.2), seed=3)
    by_group: dict[str, set[str]] = {}
    for group, split in zip(groups, splits):
        by_group.setdefault(group, set()).add(split)
    assert all(len(s) == 1 for s in by_group.values())
    shares = {s: splits.count(s) / len(splits) for s in ("train", "val", "test")}
    assert shares["train"] == pytest.approx(0.7, abs=0.03) and shares["test"] == pytest.approx(0.2, abs=0.03)
    assert group_split(groups, seed=3) == group_split(groups, seed=3)


def test_random_split_is_clip_level():
    splits = random_split(100, fractions=(0.8, 0.0, 0.2), seed=0)
    assert splits.count("train") == 80 and splits.count("test") == 20 and "val" not in splits
    with pytest.raises(ValueError, match="fractions"):
        random_split(10, fractions=(0.5, 0.5, 0.5))


def test_vit_loads_a_local_checkpoint_adapting_channels_and_head(tmp_path):
    source = timm.create_model("vit_tiny_patch16_224", pretrained=False, num_classes=1000, depth=2)
    path = tmp_path / "vit_tiny.pth"
    torch.save(source.state_dict(), path)
    model = create_vit(architecture="vit_tiny_patch16_224", weights=path, num_classes=2, in_chans=1, depth=2)
    assert torch.allclose(model.patch_embed.proj.weight[:, 0], source.patch_embed.proj.weight.sum(dim=1), atol=1e-6)
    assert torch.equal(model.blocks[1].attn.qkv.weight, source.blocks[1].attn.qkv.weight)
    assert model.head.out_features == 2
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        create_vit(weights=tmp_path / "missing.pth")


def test_a_saved_checkpoint_reloads_and_predicts_identically(tmp_path):
    torch.manual_seed(5)
    model = create_vit(architecture="vit_tiny_patch16_224", num_classes=2, in_chans=1, depth=2).eval()
    path = tmp_path / "happy_sad.pth"
    torch.save(model.state_dict(), path)
    reloaded = create_vit(architecture="vit_tiny_patch16_224", num_classes=2, in_chans=1, depth=2, weights=path).eval()
    x = torch.rand(3, 1, 224, 224)
    with torch.no_grad():
        assert torch.equal(model(x), reloaded(x))


def test_stored_vit_round_trip():
    spec = {"architecture": "vit_tiny_patch16_224", "num_classes": 2, "in_chans": 1, "depth": 1}
    model = create_vit(**spec).eval()
    restored, restored_spec = model_from_bytes(model_to_bytes(model, spec=spec))
    x = torch.rand(1, 1, 224, 224)
    assert restored_spec == spec
    assert torch.allclose(model(x), restored(x), atol=1e-6)
    with pytest.raises(ValueError, match="cannot be read"):
        model_from_bytes(b"garbage")
