"""Evidence for explanations.

Causal stem reliance, bootstrap CIs, ROAD removal, zennit LRP on the CNN, methods against backbones,
and the profile check that refuses a method its backbone cannot take.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.audio.representations import vit_spectrogram_input
from engine.datasets.synthetic import SyntheticConfig, SyntheticCorpus
from engine.explain.attribution import BACKBONES_OF, check_methods, make_attributor, methods_for
from engine.explain.causal import model_contrast, per_clip_agreement, stem_reliance
from engine.explain.cnn_lrp import ZennitLRP
from engine.explain.faithfulness import faithfulness, random_orders, tile_orders
from engine.explain.removal import noisy_linear_imputation, remove, tile_masks
from engine.explain.sanity import randomised_copy
from engine.models.cnn import CNNClassifier
from engine.models.perceptual import create_perceptual_model
from engine.models.store import model_from_bytes, model_to_bytes
from engine.stats import bootstrap, mean_ci
from precompute.profile import ProfileError, load_profile
from precompute.stages.perceptual import spread_over_groups

SMALL = (4, 4, 8, 8, 8, 8, 8, 8, 8)


# --- causal reliance -------------------------------------------------------------------------------


def test_stem_reliance_recovers_the_reliance_of_a_toy_model_that_only_hears_loud_stems():
    """Stem reliance is recovered for a toy model whose p(class 0) is the input's mean level.

    Removing the loud stem costs a lot, the silent one nothing, and a stem whose removal leaves the
    input unchanged has reliance exactly 0.
    """
    rng = np.random.default_rng(0)
    stems = {"loud": rng.normal(0, 0.3, 8000).astype(np.float32), "quiet": rng.normal(0, 0.003, 8000).astype(np.float32),
             "silent": np.zeros(8000, np.float32)}

    def to_input(wave):
        return np.full((4, 4), float(np.sqrt(np.mean(wave**2))), dtype=np.float32)

    def classify(inputs):
        level = np.clip(inputs.mean(axis=(1, 2)) * 3, 0, 1)
        return np.stack([level, 1 - level], axis=1)

    result = stem_reliance(classify, to_input, stems, target=0)
    reliance = {k: with_ - without for k, (with_, without) in result.items()}
    assert reliance["silent"] == 0.0
    assert reliance["loud"] > 0.8 and abs(reliance["quiet"]) < 0.01
    p_with = {v[0] for v in result.values()}
    assert len(p_with) == 1  # the same full mix for every stem


def test_stem_reliance_on_the_synthetic_corpus_sums_the_stems_as_the_mixture():
    corpus = SyntheticCorpus(SyntheticConfig(n_songs=3, clips_per_song=1, clip_seconds=2.0, seed=3))
    clip = corpus.render(corpus.records()[0].clip_id)
    seen = []

    def to_input(wave):
        seen.append(wave)
        return vit_spectrogram_input(wave, clip_seconds=2.0)

    stem_reliance(lambda x: np.tile([0.5, 0.5], (len(x), 1)), to_input, clip.stems, target=0)
    np.testing.assert_allclose(seen[0], clip.mixture, atol=1e-6)
    np.testing.assert_allclose(seen[0] - seen[1 + list(clip.stems).index("drums")], clip.stems["drums"], atol=1e-6)


def test_agreement_is_high_for_a_faithful_method_and_near_zero_for_noise():
    rng = np.random.default_rng(1)
    reliance = rng.normal(size=(30, 4))
    faithful = per_clip_agreement(reliance + 0.1 * rng.normal(size=(30, 4)), reliance)
    noise = per_clip_agreement(rng.normal(size=(30, 4)), reliance)
    assert faithful.low > 0.8 and faithful.n == 30
    assert noise.low < 0 < noise.high
    contrast = model_contrast(np.full(10, 0.2) + 0.01 * rng.normal(size=10), np.zeros(10))
    assert contrast.excludes_zero() and contrast.value == pytest.approx(0.2, abs=0.01)
    with pytest.raises(ValueError, match="differ in shape"):
        per_clip_agreement(np.zeros((3, 4)), np.zeros((3, 3)))


def test_bootstrap_interval_covers_the_mean_and_shrinks_with_n():
    rng = np.random.default_rng(2)
    small, large = mean_ci(rng.normal(1.0, 1.0, 20)), mean_ci(rng.normal(1.0, 1.0, 500))
    assert small.low < small.value < small.high and large.low < 1.0 < large.high
    assert (large.high - large.low) < (small.high - small.low) / 3
    single = bootstrap(np.mean, np.array([3.0]))
    assert (single.value, single.low, single.high, single.n) == (3.0, 3.0, 3.0, 1)
    assert bootstrap(np.mean, np.arange(10.0), seed=4) == bootstrap(np.mean, np.arange(10.0), seed=4)


def test_explained_clips_are_spread_over_songs():
    groups = ["a"] * 6 + ["b"] * 2 + ["c"] * 2
    chosen = spread_over_groups(groups, n=3)
    assert {groups[i] for i in chosen} == {"a", "b", "c"}
    assert spread_over_groups(groups, n=0) == list(range(10))


# --- removal rules ---------------------------------------------------------------------------------


def spectrogram_image(seed: int = 0) -> torch.Tensor:
    corpus = SyntheticCorpus(SyntheticConfig(n_songs=3, clips_per_song=1, clip_seconds=4.0, seed=seed))
    wave = corpus.load(corpus.records()[0].clip_id)
    return torch.from_numpy(vit_spectrogram_input(wave, clip_seconds=4.0))[None, None]


def test_road_imputation_keeps_the_input_statistics_where_the_floor_does_not():
    """ROAD keeps a real spectrogram's statistics with 30 % of its tiles removed.

    It keeps the image mean within 0.03 and its SD within 15 % (the floor moves the mean by much
    more), reproduces a linear ramp inside interior holes within 0.01, leaves known pixels untouched
    and stays in [0, 1].
    """
    image = spectrogram_image()
    masks = tile_masks(np.random.default_rng(0).permutation(196), np.array([0.3]), height=224, width=224, patch=16)
    road = remove(image, masks, rule="road", seed=0)
    floor = remove(image, masks, rule="floor")
    mean, sd = float(image.mean()), float(image.std())
    assert abs(float(road.mean()) - mean) < 0.03 and abs(float(road.std()) - sd) < 0.15 * sd
    assert abs(float(floor.mean()) - mean) > 3 * abs(float(road.mean()) - mean)
    kept = masks[0, 0] == 0
    assert torch.equal(road[0, 0][kept], image[0, 0][kept])
    assert 0.0 <= float(road.min()) and float(road.max()) <= 1.0
    yy, xx = np.mgrid[0:224, 0:224]
    ramp = torch.tensor((0.2 + 0.5 * yy / 224 + 0.2 * xx / 224)[None, None], dtype=torch.float32)
    hole = torch.zeros(1, 1, 224, 224)
    hole[..., 64:112, 96:160] = 1.0
    filled = noisy_linear_imputation(ramp, hole, noise_sd=0.0)
    assert float((filled - ramp).abs().max()) < 0.01
    everything = noisy_linear_imputation(image, torch.ones(1, 1, 224, 224), noise_sd=0.0)
    assert torch.allclose(everything, torch.full_like(everything, float(image.mean())), atol=1e-5)


class LeftHalfModel(torch.nn.Module):
    """Toy classifier: class 0's logit is the mean of the left image half."""

    def forward(self, x):
        score = (x[..., :, :112].mean(dim=(1, 2, 3)) - 0.3) * 20
        return torch.stack([score, -score], dim=1)


@pytest.mark.parametrize("removal", ["floor", "road"])
def test_a_truly_relevant_map_beats_the_random_order_under_both_removal_rules(removal):
    model = LeftHalfModel()
    image = torch.full((1, 1, 224, 224), 0.05)
    image[..., :, :112] = 0.6
    truth = np.zeros((224, 224), dtype=np.float32)
    truth[:, :112] = 1.0
    truth += np.linspace(0, 0.01, 224)[None, :]  # a fixed order inside each half
    ours = faithfulness(model, image, tile_orders(truth), target=0, removal=removal).scores
    chance = faithfulness(model, image, random_orders(196, seed=0), target=0, removal=removal).scores
    assert ours[f"{removal}_morf_auc"] < chance[f"{removal}_morf_auc"]
    assert ours[f"{removal}_gap"] > chance[f"{removal}_gap"] + 0.2


# --- the CNN backbone and zennit ----------------------------------------------------------------------


def randomised_cnn(seed: int = 0) -> CNNClassifier:
    torch.manual_seed(seed)
    model = CNNClassifier(widths=SMALL).double().eval()
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):  # trained-looking statistics, so that merging matters
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.1, 0.1)
    return model


def bias_share(model: CNNClassifier, x: torch.Tensor, target: int) -> tuple[float, float]:
    """Return ``(log-odds margin, sum over every (effective) bias of bias x d margin / d bias)``.

    Computed by autograd, independently of zennit: BatchNorm's effective bias is
    ``beta - gamma mu / sqrt(var + eps)``.
    """
    outputs = []

    def keep(module, _inputs, output):
        output.retain_grad()
        outputs.append((module, output))

    hooks = [m.register_forward_hook(keep) for m in model.modules() if isinstance(m, (torch.nn.BatchNorm2d, torch.nn.Linear))]
    logits = model(x)
    margin = logits[0, target] - logits[0, 1 - target]
    margin.backward()
    for hook in hooks:
        hook.remove()
    share = 0.0
    for module, output in outputs:
        if isinstance(module, torch.nn.BatchNorm2d):
            scale = module.weight / torch.sqrt(module.running_var + module.eps)
            bias = module.bias - scale * module.running_mean
            share += float((bias[None, :, None, None] * output.grad).sum().detach())
        else:
            share += float((module.bias * output.grad).sum().detach())
    return float(margin.detach()), share


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("target", [0, 1])
def test_zennit_lrp_on_the_cnn_conserves_relevance_with_the_bias_share(seed, target):
    model = randomised_cnn(seed)
    x = torch.rand(1, 1, 224, 224, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    relevance = ZennitLRP(model, composite="lrp_epsilon").attribute(x, target=target)
    assert relevance.dtype == np.float64 and relevance.shape == (1, 224, 224)
    margin, share = bias_share(model, x.clone(), target)
    assert relevance.sum() + share == pytest.approx(margin, rel=1e-6)


def test_every_method_runs_on_every_backbone_it_claims():
    models = {"cnn": CNNClassifier(widths=SMALL).eval(),
              "vit": create_perceptual_model({"backbone": "vit", "architecture": "vit_tiny_patch16_224", "depth": 1,
                                              "num_classes": 2, "in_chans": 1}).eval()}
    conv_stem_vit = create_perceptual_model({"backbone": "vit", "architecture": "vit_tiny_patch16_224", "depth": 1,
                                             "num_classes": 2, "in_chans": 1, "stem": "conv"}).eval()
    x = torch.rand(2, 1, 224, 224)
    for method, backbones in BACKBONES_OF.items():
        for backbone in backbones:
            for model in [models[backbone]] + ([conv_stem_vit] if backbone == "vit" else []):
                maps = make_attributor(method, model).attribute(x, target=torch.tensor([0, 1]))
                assert maps.shape == (2, 224, 224) and np.isfinite(maps).all(), (method, backbone)
                assert np.ptp(maps[0]) > 0, (method, backbone)
    assert "chefer2021" not in methods_for("cnn") and "lrp_epsilon_plus_flat" not in methods_for("vit")


def test_a_method_that_does_not_fit_the_backbone_is_refused_in_one_line(tmp_path):
    with pytest.raises(ValueError, match="method 'chefer2021' does not fit backbone 'cnn'; choices for cnn"):
        check_methods(["random", "chefer2021"], backbone="cnn")
    profile = tmp_path / "wrong.toml"
    profile.write_text('[dataset]\nname = "synthetic"\n[cnn]\nmethods = ["chefer2021"]\n')
    with pytest.raises(ProfileError, match=r"wrong.toml \[cnn\] methods: method 'chefer2021' does not fit backbone 'cnn'"):
        load_profile(str(profile))
    profile.write_text('[dataset]\nname = "synthetic"\n[vit]\nmethods = ["lrp_epsilon_gamma_box"]\n')
    with pytest.raises(ProfileError, match="does not fit backbone 'vit'"):
        load_profile(str(profile))
    profile.write_text('[dataset]\nname = "synthetic"\n[cnn]\nmethods = ["random"]\nclean_confound = 2\n')
    with pytest.raises(ProfileError, match="clean_confound must be a number in"):
        load_profile(str(profile))


def test_a_stored_cnn_reloads_to_the_same_outputs_and_its_randomised_copy_differs():
    model = CNNClassifier(widths=SMALL).eval()
    spec = {"backbone": "cnn", "widths": list(SMALL), "num_classes": 2, "dropout": 0.3}
    restored, restored_spec = model_from_bytes(model_to_bytes(model, spec=spec))
    x = torch.rand(2, 1, 224, 224)
    assert restored_spec == spec and torch.allclose(restored(x), model(x))
    head = randomised_copy(model, scope="head", seed=0)
    everything = randomised_copy(model, scope="all", seed=0)
    first_conv = lambda m: m.backbone.features[0][0].weight  # noqa: E731
    assert not torch.equal(head.head.weight, model.head.weight) and torch.equal(first_conv(head), first_conv(model))
    assert not torch.equal(first_conv(everything), first_conv(model))


# --- training recipe -------------------------------------------------------------------------------


def test_onecycle_runs_every_epoch_keeps_the_best_and_time_shift_rolls_images():
    from engine.models.training import TrainConfig, _shift_in_time, fit

    torch.manual_seed(0)
    x = np.random.default_rng(0).random((24, 1, 6, 10)).astype(np.float32)
    y = x.mean(axis=(1, 2, 3))[:, None].astype(np.float32)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(60, 1))
    config = TrainConfig(epochs=5, batch_size=8, learning_rate=1e-2, patience=1, schedule="onecycle", time_shift=True)
    result = fit(model, train_inputs=[x], train_targets=y, val_inputs=[x], val_targets=y, loss_fn=torch.nn.MSELoss(), config=config)
    assert len(result.history) == 5  # no early stop under a schedule
    assert result.best_val_loss == min(h["val_loss"] for h in result.history)
    batch = torch.arange(20.0).reshape(2, 1, 1, 10)
    shifted = _shift_in_time(batch, torch.Generator().manual_seed(3))
    assert torch.equal(torch.sort(shifted, dim=-1).values, batch) and not torch.equal(shifted, batch)
    vector = torch.rand(4, 3)
    assert _shift_in_time(vector, torch.Generator()) is vector
    with pytest.raises(ValueError, match="schedule must be one of"):
        TrainConfig(schedule="cosine")


def test_a_profile_with_an_unknown_schedule_is_refused(tmp_path):
    profile = tmp_path / "schedule.toml"
    profile.write_text('[dataset]\nname = "synthetic"\n[a2e]\nschedule = "cosine"\n')
    with pytest.raises(ProfileError, match=r"\[a2e\] schedule must be one of"):
        load_profile(str(profile))


def test_selection_by_balanced_accuracy_keeps_an_informative_epoch():
    """With noisy validation labels, growing confidence raises the validation loss while the classes separate.

    Each criterion keeps the epoch that is best by its own measure, and the result reports the kept
    epoch's validation loss either way.
    """
    from engine.models.training import TrainConfig, fit

    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 2)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    val_x = x.copy()
    val_y = np.where(rng.random(64) < 0.25, 1 - y, y)  # noisy labels: confidence raises the loss
    runs = {}
    for select in ("loss", "balanced_accuracy"):
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(2, 2))
        with torch.no_grad():
            model[0].weight.zero_()
            model[0].bias.zero_()
        config = TrainConfig(epochs=12, batch_size=16, learning_rate=0.5, patience=20, select=select)
        runs[select] = fit(model, train_inputs=[x], train_targets=y, val_inputs=[val_x], val_targets=val_y,
                           loss_fn=torch.nn.CrossEntropyLoss(), config=config)
    by_accuracy = runs["balanced_accuracy"]
    best = max(h["val_balanced_accuracy"] for h in by_accuracy.history)
    assert by_accuracy.history[by_accuracy.best_epoch - 1]["val_balanced_accuracy"] == best > 0.6
    assert by_accuracy.best_val_loss == by_accuracy.history[by_accuracy.best_epoch - 1]["val_loss"]
    assert runs["loss"].best_val_loss == min(h["val_loss"] for h in runs["loss"].history)
    with pytest.raises(ValueError, match="select must be one of"):
        TrainConfig(select="f1")


def test_selection_by_pearson_r_keeps_the_epoch_that_ranks_validation_clips_best():
    """Validation targets carry an offset no training target has, so the validation loss says little.

    r (free of offset and scale) still finds the epoch that ranks the clips best, and the kept epoch
    is the one whose recorded validation r is the highest.
    """
    from engine.models.training import TrainConfig, _pearson_r_on, fit

    rng = np.random.default_rng(1)
    x = rng.normal(size=(64, 3)).astype(np.float32)
    y = (x @ np.array([1.0, -0.5, 0.2], dtype=np.float32))[:, None].repeat(2, axis=1)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 2))
    config = TrainConfig(epochs=10, batch_size=16, learning_rate=0.05, patience=20, select="pearson_r")
    result = fit(model, train_inputs=[x], train_targets=y, val_inputs=[x], val_targets=y + 5.0,
                 loss_fn=torch.nn.MSELoss(), config=config)
    scores = [h["val_pearson_r"] for h in result.history]
    assert result.history[result.best_epoch - 1]["val_pearson_r"] == max(scores) > 0.95
    # r of a perfect ranking is 1 whatever the offset; a constant column counts 0
    inputs = [torch.as_tensor(x)]
    identity = torch.nn.Linear(3, 2)
    with torch.no_grad():
        identity.weight.copy_(torch.tensor([[1.0, -0.5, 0.2], [0.0, 0.0, 0.0]]))
        identity.bias.zero_()
    r = _pearson_r_on(identity, inputs, torch.as_tensor(y + 3.0), 16)
    assert r == pytest.approx(0.5, abs=1e-6)  # column 0 perfect, column 1 constant


def test_transpose_rolls_chromagrams_only():
    from engine.models.training import _transpose_chroma

    chroma = torch.arange(2 * 12 * 5, dtype=torch.float32).reshape(2, 1, 12, 5)
    rolled = _transpose_chroma(chroma, torch.Generator().manual_seed(4))
    offset = int(torch.nonzero(rolled[0, 0, :, 0] == chroma[0, 0, 0, 0])[0])
    assert offset != 0 and torch.equal(rolled, torch.roll(chroma, shifts=offset, dims=-2))
    spectrogram = torch.rand(2, 1, 149, 5)
    assert _transpose_chroma(spectrogram, torch.Generator()) is spectrogram


def test_spec_augment_masks_at_most_two_bands_and_two_spans_per_clip_with_its_mean():
    from engine.models.training import _mask_bands

    torch.manual_seed(0)
    images = torch.rand(16, 1, 64, 48) + torch.arange(16.0)[:, None, None, None]  # each clip its own level
    masked = _mask_bands(images, torch.Generator().manual_seed(1))
    changed = masked != images
    assert changed.any()
    for clip in range(16):
        fill = images[clip].mean()
        assert torch.allclose(masked[clip][changed[clip]], fill.expand(int(changed[clip].sum())))
        rows = changed[clip, 0].all(dim=1)  # a masked band covers the whole row
        columns = changed[clip, 0].all(dim=0)
        assert int(rows.sum()) <= 2 * 64 // 8 and int(columns.sum()) <= 2 * 48 // 8
        # every changed pixel lies in a masked row or column
        assert torch.equal(changed[clip, 0], rows[:, None] | columns[None, :])
    chroma = torch.rand(4, 1, 12, 48)
    assert _mask_bands(chroma, torch.Generator()) is chroma  # a chromagram's 12 rows are not masked
    vector = torch.rand(4, 3)
    assert _mask_bands(vector, torch.Generator()) is vector


def test_mixup_and_spec_augment_train_deterministically_and_still_learn():
    from engine.models.training import TrainConfig, fit

    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 32).astype(np.int64)
    x = rng.normal(size=(64, 1, 32, 8)).astype(np.float32)
    x[y == 1, :, :16] += 1.5  # Happy clips are louder in the lower half: a mask hides part of it, mixup blends it

    def run() -> tuple[list[float], float]:
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(256, 2))
        config = TrainConfig(epochs=8, batch_size=16, learning_rate=1e-2, patience=20, mixup=0.4, spec_augment=True,
                             select="balanced_accuracy", seed=3)
        result = fit(model, train_inputs=[x], train_targets=y, val_inputs=[x], val_targets=y,
                     loss_fn=torch.nn.CrossEntropyLoss(), config=config)
        return [h["train_loss"] for h in result.history], max(h["val_balanced_accuracy"] for h in result.history)

    (losses, accuracy), (again, _) = run(), run()
    assert losses == again  # the masks and the mixing weights come from the seed
    assert accuracy > 0.95
    with pytest.raises(ValueError, match="mixup must be 0"):
        TrainConfig(mixup=-0.2)


def test_training_crops_spread_windows_over_an_excerpt_and_window_zero_is_the_clip():
    from engine.audio.perceptual_images import image_crops, image_input
    from engine.vocabulary import SAMPLE_RATE

    t = np.arange(3 * SAMPLE_RATE) / SAMPLE_RATE
    y = np.where(t < 2.0, np.sin(2 * np.pi * 220.0 * t), np.sin(2 * np.pi * 1760.0 * t)).astype(np.float32)  # 220 Hz, then 1760 Hz
    windows = image_crops(y, clip_seconds=1.0, image="log", crops=3)  # starts 0, 1 and 2 s
    assert windows.shape == (3, 224, 224)
    np.testing.assert_array_equal(windows[0], image_input(y[:SAMPLE_RATE], clip_seconds=1.0, image="log"))
    peak_row = [int(np.argmax(w.mean(axis=1))) for w in windows]
    assert peak_row[0] == peak_row[1] < peak_row[2]  # only the last window hears the high tone
    assert image_crops(y[:SAMPLE_RATE], clip_seconds=1.0, image="log", crops=3).shape == (1, 224, 224)


def test_training_set_adds_cached_windows_of_long_excerpts_and_skips_unreadable_audio(tmp_path):
    from types import SimpleNamespace

    from engine.audio.io import AudioLoadError
    from engine.vocabulary import SAMPLE_RATE
    from precompute.profile import CnnSection
    from precompute.stages.perceptual import training_set

    loads = []

    def load(clip_id: str) -> np.ndarray:
        loads.append(clip_id)
        if clip_id == "broken":
            raise AudioLoadError("broken.mp3: cannot be decoded")
        seconds = {"long": 3.0, "short": 1.0}[clip_id]
        return np.random.default_rng(0).normal(size=int(seconds * SAMPLE_RATE)).astype(np.float32)

    features = SimpleNamespace(clip_ids=["long", "short", "broken"])
    ctx = SimpleNamespace(cache_dir=tmp_path, clip_seconds=1.0, show_progress=False, dataset=SimpleNamespace(load=load),
                          features=lambda: features)
    images = np.random.default_rng(1).random((3, 224, 224)).astype(np.float32)
    labels = np.array([0, 1, 0])
    section = CnnSection(image="log", train_crops=3)
    x, y = training_set(ctx, section, np.array([0, 1, 2]), images=images, labels=labels)
    assert x.shape == (5, 224, 224) and y.tolist() == [0, 1, 0, 0, 0]  # the clips, then 2 more windows of "long"
    np.testing.assert_array_equal(x[:3], images)
    again, _ = training_set(ctx, section, np.array([0, 1, 2]), images=images, labels=labels)
    assert loads == ["long", "short", "broken"] and np.array_equal(again, x)  # the second call reads the cache
    same, _ = training_set(ctx, CnnSection(image="log"), np.array([0, 1]), images=images, labels=labels)
    assert same.shape == (2, 224, 224)  # train_crops = 1: the stored images only


def test_training_set_adds_each_clip_without_the_named_stems_as_the_causal_test_hears_it(tmp_path):
    from types import SimpleNamespace

    from engine.audio.perceptual_images import image_input
    from engine.datasets.synthetic import SyntheticCorpus
    from engine.synth.corpus import SyntheticConfig
    from precompute.profile import CnnSection
    from precompute.stages.perceptual import training_set

    corpus = SyntheticCorpus(SyntheticConfig(n_songs=3, clips_per_song=1, clip_seconds=1.0, confound=0.0))
    clip_ids = [record.clip_id for record in corpus.records()][:2]
    renders = []

    def render(clip_id: str):
        renders.append(clip_id)
        return corpus.render(clip_id)

    features = SimpleNamespace(clip_ids=clip_ids)
    ctx = SimpleNamespace(cache_dir=tmp_path, clip_seconds=1.0, show_progress=False, features=lambda: features,
                          dataset=SimpleNamespace(name="synthetic", render=render, load=corpus.load))
    images = np.stack([image_input(corpus.load(c), clip_seconds=1.0, image="linear") for c in clip_ids])
    labels = np.array([0, 1])
    x, y = training_set(ctx, CnnSection(), np.array([0, 1]), images=images, labels=labels, without=("drums", "bass"))
    assert x.shape == (6, 224, 224) and y.tolist() == [0, 1, 0, 0, 1, 1]  # the clips, then each clip without each stem
    stems = corpus.render(clip_ids[1]).stems
    mixture = np.stack(list(stems.values())).sum(axis=0, dtype=np.float32)
    np.testing.assert_array_equal(x[4], image_input(mixture - stems["drums"], clip_seconds=1.0, image="linear"))
    assert not np.array_equal(x[4], x[1]) and not np.array_equal(x[4], x[5])
    again, _ = training_set(ctx, CnnSection(), np.array([0, 1]), images=images, labels=labels, without=("drums", "bass"))
    assert renders == clip_ids and np.array_equal(again, x)  # the second call reads the cache
    real = SimpleNamespace(**{**vars(ctx), "dataset": SimpleNamespace(name="folder", load=corpus.load)})
    with pytest.raises(ValueError, match="folder: clips are not rendered from stems"):
        training_set(real, CnnSection(), np.array([0]), images=images, labels=labels, without=("drums",))


def test_a_profile_refuses_clean_without_an_unknown_stem_or_a_clean_model(tmp_path):
    for body, message in (('[cnn]\nclean_confound = 0.0\nclean_without = ["kick"]\n',
                           r"\[cnn\] clean_without names no stem \['kick'\]; choose among \['melody', 'chords', 'bass', 'drums'\]"),
                          ('[cnn]\nclean_without = ["drums"]\n', r"\[cnn\] clean_without shapes the clean model's training; set clean_confound")):
        profile = tmp_path / "recipe.toml"
        profile.write_text('[dataset]\nname = "synthetic"\n' + body)
        with pytest.raises(ProfileError, match=message):
            load_profile(str(profile))


def test_a_profile_refuses_a_wrong_stem_or_mixup_in_one_line(tmp_path):
    for body, message in (('[vit]\nstem = "shifted"\n', r"\[vit\] stem must be one of \['patch', 'conv'\]"),
                          ('[vit]\nstem = "conv"\nweights = "hub"\n', r"\[vit\] stem = 'conv' has no ImageNet weights"),
                          ('[cnn]\nmixup = -1\n', r"\[cnn\] mixup must be 0 \(off\) or a positive Beta parameter"),
                          ('[cnn]\ntrain_crops = 0\n', r"\[cnn\] train_crops must be a whole number of windows, at least 1")):
        profile = tmp_path / "recipe.toml"
        profile.write_text('[dataset]\nname = "synthetic"\n' + body)
        with pytest.raises(ProfileError, match=message):
            load_profile(str(profile))


def test_a_conv_stem_vit_is_stored_and_rebuilt_from_its_spec(tmp_path):
    from engine.models.vit import create_vit

    spec = {"backbone": "vit", "architecture": "vit_tiny_patch16_224", "depth": 1, "num_classes": 2, "in_chans": 1,
            "stem": "conv", "image": "log"}
    torch.manual_seed(0)
    model = create_perceptual_model(spec).eval()
    rebuilt, stored_spec = model_from_bytes(model_to_bytes(model, spec=spec))
    x = torch.rand(1, 1, 224, 224)
    assert stored_spec == spec and torch.equal(rebuilt.eval()(x), model(x))
    checkpoint = tmp_path / "conv_vit.pth"  # a checkpoint of exactly this model loads by path
    torch.save(model.state_dict(), checkpoint)
    loaded = create_vit(depth=1, stem="conv", weights=checkpoint).eval()
    assert torch.equal(loaded(x), model(x))
    torch.save(create_vit(depth=1).state_dict(), checkpoint)  # a patch-stem checkpoint does not fit
    with pytest.raises(ValueError, match="not a checkpoint of this conv-stem ViT"):
        create_vit(depth=1, stem="conv", weights=checkpoint)


def test_standardised_targets_round_trip_to_the_label_scale():
    from precompute.stages.audio_regression import target_scaling

    labels = np.array([[1.0, 5.0], [3.0, 7.0], [5.0, 6.0]])
    offset, scale = target_scaling("standardised", labels, kind="emotions")
    learned = (labels - offset) * scale
    np.testing.assert_allclose(learned.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(learned.std(axis=0), 1.0, atol=1e-5)
    np.testing.assert_allclose(learned / scale + offset, labels)
    offset, scale = target_scaling("thesis", labels, kind="emotions")  # the thesis's x 0.1
    np.testing.assert_allclose((labels - offset) * scale, labels * 0.1)
    with pytest.raises(ValueError, match="targets must be one of"):
        target_scaling("minmax", labels, kind="emotions")


def test_chroma_backbone_reaches_the_chromagram_branch_only():
    from engine.models.cnn import ChowdhuryBackbone, CircularChromaBackbone
    from precompute.profile import AudioRegressionSection
    from precompute.stages.audio_regression import _build_model, _model_input

    arrays = {"spectrogram": np.zeros((4, 149, 40), np.float32), "chromagram": np.zeros((4, 12, 40), np.float32)}
    inputs = [_model_input(arrays[name], np.arange(4)) for name in ("spectrogram", "chromagram")]
    for choice, chroma_type in (("thesis", ChowdhuryBackbone), ("circular", CircularChromaBackbone)):
        section = AudioRegressionSection(widths=(2,) * 9, chroma_backbone=choice)
        fusion = _build_model("cnn", inputs, n_outputs=8, section=section, representations=("spectrogram", "chromagram"))
        assert [type(b) for b in fusion.branches] == [ChowdhuryBackbone, chroma_type]
        alone = _build_model("cnn", inputs[1:], n_outputs=8, section=section, representations=("chromagram",))
        assert type(alone.backbone) is chroma_type
        spectrogram = _build_model("cnn", inputs[:1], n_outputs=8, section=section, representations=("spectrogram",))
        assert type(spectrogram.backbone) is ChowdhuryBackbone


def test_a_profile_with_two_a2mid_inputs_an_unknown_target_scaling_or_chroma_backbone_is_refused(tmp_path):
    profile = tmp_path / "a2mid.toml"
    profile.write_text('[dataset]\nname = "synthetic"\n[a2mid]\ninputs = ["spectrogram", "chromagram"]\n')
    with pytest.raises(ProfileError, match=r"\[a2mid\] inputs takes one input"):
        load_profile(str(profile))
    profile.write_text('[dataset]\nname = "synthetic"\n[a2e]\ntargets = "minmax"\n')
    with pytest.raises(ProfileError, match=r"\[a2e\] targets must be one of"):
        load_profile(str(profile))
    profile.write_text('[dataset]\nname = "synthetic"\n[a2mid]\nchroma_backbone = "circle"\n')
    with pytest.raises(ProfileError, match=r"\[a2mid\] chroma_backbone must be one of \['thesis', 'circular'\], got 'circle'"):
        load_profile(str(profile))
    profile.write_text('[dataset]\nname = "synthetic"\n[a2e]\nfusion = "early"\n')
    with pytest.raises(ProfileError, match=r"\[a2e\] fusion must be one of \['joint', 'branches_first'\], got 'early'"):
        load_profile(str(profile))


def test_fusing_trained_branches_averages_the_two_models_in_float64():
    from engine.models.cnn import CNNRegressor, LateFusionRegressor, fuse_trained_branches

    torch.manual_seed(0)
    spectrogram = CNNRegressor(input_height=16, n_outputs=4, widths=(3,) * 9).double().eval()
    chroma = CNNRegressor(input_height=12, n_outputs=4, widths=(3,) * 9, backbone="circular_chroma").double().eval()
    fused = LateFusionRegressor(input_heights=(16, 12), n_outputs=4, widths=(3,) * 9,
                                backbones=("chowdhury", "circular_chroma")).double()
    fused = fuse_trained_branches(fused, [spectrogram, chroma]).eval()
    a, b = torch.randn(5, 1, 16, 24, dtype=torch.float64), torch.randn(5, 1, 12, 24, dtype=torch.float64)
    torch.testing.assert_close(fused(a, b), (spectrogram(a) + chroma(b)) / 2, rtol=1e-12, atol=1e-12)
    thesis_chroma = CNNRegressor(input_height=12, n_outputs=4, widths=(3,) * 9).double()
    with pytest.raises(ValueError, match="does not fit its branch"):  # a thesis chroma network in a circular branch
        fuse_trained_branches(fused, [spectrogram, thesis_chroma])
    with pytest.raises(ValueError, match="1 models for 2 branches"):
        fuse_trained_branches(fused, [spectrogram])


def test_a_branches_first_fusion_of_the_tiny_build_predicts_the_mean_of_its_branches(tiny_db):
    import duckdb

    assert load_profile("tiny").a2e.fusion == "branches_first"
    con = duckdb.connect(str(tiny_db), read_only=True)
    rows = con.execute(
        "SELECT experiment_id, seed, clip_id, target, predicted FROM predictions WHERE experiment_id LIKE 'A2E/%/cnn'"
    ).df().pivot(index=["seed", "clip_id", "target"], columns="experiment_id", values="predicted")
    con.close()
    assert len(rows) > 0 and not rows.isna().any().any()
    mean = (rows["A2E/spectrogram/cnn"] + rows["A2E/chromagram/cnn"]) / 2
    np.testing.assert_allclose(rows["A2E/chromagram+spectrogram/cnn"], mean, atol=1e-4)


def test_attribution_options_reach_the_method_and_unknown_ones_are_refused(tmp_path):
    from engine.explain.attribution import options_of

    model = CNNClassifier(input_height=16, widths=(2, 2, 2, 2, 2, 2, 2, 2, 2)).eval()
    assert options_of("integrated_gradients") == ["batch_size", "steps"]
    assert options_of("lrp_epsilon_plus_flat") == []  # the composite is fixed by the name
    assert make_attributor("integrated_gradients", model, steps=3).steps == 3
    with pytest.raises(ValueError, match=r"integrated_gradients takes the options \['batch_size', 'steps'\], not \['step'\]"):
        make_attributor("integrated_gradients", model, step=3)
    profile = tmp_path / "options.toml"
    profile.write_text('[dataset]\nname = "synthetic"\n[cnn]\nmethods = ["integrated_gradients"]\n'
                       'method_options = { integrated_gradients = { step = 3 } }\n')
    with pytest.raises(ProfileError, match=r"options.toml \[cnn\] method_options: integrated_gradients takes the options"):
        load_profile(str(profile))
    profile.write_text('[dataset]\nname = "synthetic"\n[cnn]\nmethod_options = { integrated_gradient = { steps = 3 } }\n')
    with pytest.raises(ProfileError, match=r"unknown attribution method 'integrated_gradient'"):
        load_profile(str(profile))


def test_selection_last_keeps_the_final_annealed_weights():
    """``select="last"`` keeps the weights of the final epoch, even when an earlier epoch had a lower validation loss."""
    from engine.models.training import TrainConfig, fit

    rng = np.random.default_rng(2)
    x = rng.normal(size=(32, 3)).astype(np.float32)
    y = (x @ np.array([1.0, -0.5, 0.2], dtype=np.float32))[:, None]
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 1))
    config = TrainConfig(epochs=6, batch_size=8, learning_rate=0.05, schedule="onecycle", select="last")
    # validation targets far from the training ones: the validation loss would pick an early epoch
    result = fit(model, train_inputs=[x], train_targets=y, val_inputs=[x], val_targets=-y,
                 loss_fn=torch.nn.MSELoss(), config=config)
    assert result.best_epoch == 6 and len(result.history) == 6
    losses = [h["val_loss"] for h in result.history]
    assert min(losses) < losses[-1]  # loss selection would have kept another epoch


def test_a_branches_first_fusion_without_its_branches_at_hand_trains_them_as_the_single_units_do(tmp_path):
    import pandas as pd

    from precompute.pipeline import DATA_DIR, _dataset_context
    from precompute.stages.audio_regression import train_and_evaluate
    from results.schema import A2E_ROUTE

    profile = load_profile("tiny")

    def context():
        return _dataset_context(profile, profile.dataset, representations={"spectrogram", "chromagram"}, writer=None,
                                data_root=DATA_DIR, device="cpu", show_progress=False, jobs=1, cache_root=tmp_path)

    alone = train_and_evaluate(context(), A2E_ROUTE, "chromagram+spectrogram", 0)  # as in a resumed run or on a Ray worker
    ctx = context()
    singles = [train_and_evaluate(ctx, A2E_ROUTE, name, 0)["predictions"] for name in ("spectrogram", "chromagram")]
    assert sorted(ctx.trained_models) == [(A2E_ROUTE, "chromagram", 0), (A2E_ROUTE, "spectrogram", 0)]
    after = train_and_evaluate(ctx, A2E_ROUTE, "chromagram+spectrogram", 0)
    pd.testing.assert_frame_equal(alone["predictions"], after["predictions"])
    np.testing.assert_allclose(after["predictions"]["predicted"], (singles[0]["predicted"] + singles[1]["predicted"]) / 2,
                               rtol=1e-5)
    assert after["trainings"]["epochs_run"].tolist() == [0] and after["training_history"].empty
