"""Every shipped profile is valid: known sections and names, and its models build at their sizes."""

from __future__ import annotations

import pytest
import torch

from engine.models.cnn import CNNRegressor, LateFusionRegressor
from precompute.profile import ProfileError, available_profiles, load_profile
from precompute.stages import audio_regression, mid2e, perceptual


@pytest.mark.parametrize("name", available_profiles())
def test_profile_sections_and_names_are_known(name):
    profile = load_profile(name)
    assert profile.dataset in ("synthetic", "soundtracks", "mtg_midlevel")
    for section in ("a2e", "a2mid"):
        for input_name in profile.section(section).get("inputs", []):
            assert input_name in audio_regression.INPUTS
    m = profile.section("mid2e")
    assert set(m.get("feature_sets", [])) <= set(mid2e.FEATURE_SETS)
    assert set(m.get("heads", [])) <= set(mid2e.HEADS)
    assert set(m.get("sources", [])) <= set(mid2e.SOURCES)


@pytest.mark.parametrize("name", available_profiles())
def test_profile_models_build_at_their_sizes(name):
    profile = load_profile(name)
    widths = profile.section("a2e").get("widths")
    if widths:
        fusion = LateFusionRegressor(input_heights=(149, 12), n_outputs=8, widths=widths).eval()
        assert fusion(torch.zeros(1, 1, 149, 313), torch.zeros(1, 1, 12, 431)).shape == (1, 8)
        assert CNNRegressor(input_height=149, n_outputs=7, widths=widths).eval()(torch.zeros(1, 1, 149, 313)).shape == (1, 7)
    for backbone in perceptual.SECTIONS:
        if profile.section(backbone):
            from engine.models.perceptual import create_perceptual_model

            model = create_perceptual_model(perceptual.model_spec(backbone, profile.section(backbone))).eval()  # random weights
            assert model(torch.zeros(1, 1, 224, 224)).shape == (1, 2)


def test_thesis_profile_follows_the_thesis():
    profile = load_profile("thesis")
    assert profile.section("a2e")["widths"] == [64, 64, 128, 128, 256, 256, 384, 512, 256]
    assert len(profile.section("a2e")["seeds"]) == 4 and len(profile.section("a2mid")["seeds"]) == 6
    assert len(profile.section("mid2e")["seeds"]) == 6
    assert profile.section("vit")["architecture"] == "vit_base_patch16_224"
    assert profile.section("vit")["learning_rate"] == 1e-4 and profile.section("vit")["batch_size"] == 8
    assert profile.section("vit")["epochs"] == 60 and profile.section("vit")["patience"] == 10


def test_a_malformed_profile_is_named(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[dataset]\nname = 'synthetic'\n[typo_section]\nx = 1\n")
    with pytest.raises(ProfileError, match="bad.toml: unknown section"):
        load_profile(str(bad))
    broken = tmp_path / "broken.toml"
    broken.write_text("[dataset\n")
    with pytest.raises(ProfileError, match="broken.toml: not valid TOML"):
        load_profile(str(broken))


def test_a_misspelt_key_is_refused_with_the_nearest_valid_one(tmp_path):
    profile = tmp_path / "typo.toml"
    profile.write_text('[dataset]\nname = "synthetic"\n[a2e]\nepoch = 5\n')
    with pytest.raises(ProfileError, match=r"typo.toml: \[a2e\] unknown key 'epoch' \(did you mean 'epochs'\?\); known: "):
        load_profile(str(profile))
    profile.write_text('[dataset]\nname = "synthetic"\n[cnn]\nexplain_per_cel = 3\n')
    with pytest.raises(ProfileError, match=r"did you mean 'explain_per_cell'\?"):
        load_profile(str(profile))
    profile.write_text('[dataset]\nname = "synthetic"\n[sonifcation]\ngains = []\n')
    with pytest.raises(ProfileError, match=r"unknown section \[sonifcation\] \(did you mean 'sonification'\?\)"):
        load_profile(str(profile))
    profile.write_text('[dataset]\nname = "synthetic"\n[mid2e]\nzzz = 1\n')  # nothing close: no suggestion
    with pytest.raises(ProfileError, match=r"\[mid2e\] unknown key 'zzz'; known: "):
        load_profile(str(profile))


def test_every_known_key_is_read_somewhere():
    """KNOWN_KEYS lists only keys the code reads (as a quoted key, or a config field such as
    ``SyntheticConfig.n_songs``): a key dropped from the code must leave the list."""
    import re
    from pathlib import Path

    from precompute.profile import KNOWN_KEYS

    root = Path(__file__).resolve().parents[1]
    sources = [p for folder in ("precompute", "engine") for p in (root / folder).rglob("*.py") if p.name != "profile.py"]
    words = {word for p in sources for word in re.findall(r"[a-z_0-9]+", p.read_text())}
    unread = {f"[{section}] {key}" for section, keys in KNOWN_KEYS.items() for key in keys if key not in words}
    assert not unread, sorted(unread)
