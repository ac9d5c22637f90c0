"""Every shipped profile is valid: known sections and names, and its models build at their sizes."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from engine.models.cnn import CNNRegressor, LateFusionRegressor
from precompute.profile import ProfileError, available_profiles, load_profile
from precompute.stages import audio_regression, mid2e


@pytest.mark.parametrize("name", available_profiles())
def test_profile_sections_and_names_are_known(name):
    profile = load_profile(name)
    assert profile.dataset.name in ("synthetic", "soundtracks", "mtg_midlevel", "folder")
    for section in (profile.a2e, profile.a2mid):
        for input_name in section.inputs if section else ():
            assert input_name in audio_regression.INPUTS
    m = profile.mid2e
    if m is not None:
        assert set(m.feature_sets) <= set(mid2e.FEATURE_SETS)
        assert set(m.heads) <= set(mid2e.HEADS)
        assert set(m.sources) <= set(mid2e.SOURCES)


@pytest.mark.parametrize("name", available_profiles())
def test_profile_models_build_at_their_sizes(name):
    profile = load_profile(name)
    if profile.a2e is not None:
        widths = profile.a2e.widths
        fusion = LateFusionRegressor(input_heights=(149, 12), n_outputs=8, widths=widths).eval()
        assert fusion(torch.zeros(1, 1, 149, 313), torch.zeros(1, 1, 12, 431)).shape == (1, 8)
        assert CNNRegressor(input_height=149, n_outputs=7, widths=widths).eval()(torch.zeros(1, 1, 149, 313)).shape == (1, 7)
    for section in profile.backbones.values():
        from engine.models.perceptual import create_perceptual_model

        model = create_perceptual_model(section.model_spec()).eval()  # random weights
        assert model(torch.zeros(1, 1, 224, 224)).shape == (1, 2)


def test_the_catalogue_profile_loads_without_its_data_and_sizes_for_a_cluster():
    profile = load_profile("catalogue")  # reads no file: /shared/catalogue need not exist here
    assert profile.dataset.name == "folder" and Path(profile.dataset.root).is_absolute()
    assert profile.info.cache_dir and Path(profile.info.cache_dir).is_absolute()  # shared by every node
    assert set(profile.backbones) == {"cnn", "vit"} and all(len(s.seeds) >= 5 for s in profile.backbones.values())


def test_thesis_profile_follows_the_thesis():
    profile = load_profile("thesis")
    assert profile.a2e.widths == (64, 64, 128, 128, 256, 256, 384, 512, 256)
    assert len(profile.a2e.seeds) == 4 and len(profile.a2mid.seeds) == 6
    assert len(profile.mid2e.seeds) == 6
    assert profile.vit.architecture == "vit_base_patch16_224"
    assert profile.vit.learning_rate == 1e-4 and profile.vit.batch_size == 8
    assert profile.vit.epochs == 60 and profile.vit.patience == 10


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
    """KNOWN_KEYS lists only keys the code reads.

    A key is read as a quoted key, or as a config field such as ``SyntheticConfig.n_songs``; a key
    dropped from the code must leave the list.
    """
    import re
    from pathlib import Path

    from precompute.profile import KNOWN_KEYS

    root = Path(__file__).resolve().parents[1]
    sources = [p for folder in ("precompute", "engine") for p in (root / folder).rglob("*.py") if p.name != "profile.py"]
    words = {word for p in sources for word in re.findall(r"[a-z_0-9]+", p.read_text())}
    unread = {f"[{section}] {key}" for section, keys in KNOWN_KEYS.items() for key in keys if key not in words}
    assert not unread, sorted(unread)


def test_a_value_of_the_wrong_type_is_refused_with_its_key(tmp_path):
    profile = tmp_path / "types.toml"
    profile.write_text('[dataset]\nname = "synthetic"\n[a2e]\nepochs = "five"\n')
    with pytest.raises(ProfileError, match=r"types.toml: \[a2e\] epochs must be an integer, got 'five'"):
        load_profile(str(profile))
    profile.write_text('[dataset]\nname = "synthetic"\n[vit]\nseeds = [0, 1.5]\n')
    with pytest.raises(ProfileError, match=r"\[vit\] seeds must be an integer, got 1.5"):
        load_profile(str(profile))
    profile.write_text('[dataset]\nname = "synthetic"\n[a2mid]\ntrain_dataset = { name = "mtg_midlevel", rot = "x" }\n')
    with pytest.raises(ProfileError, match=r"\[a2mid\] train_dataset: unknown key 'rot' \(did you mean 'root'\?\)"):
        load_profile(str(profile))
    profile.write_text('[dataset]\nname = "synthetic"\nclip_seconds = 5\n[cnn]\ntime_shift = 1\n')
    with pytest.raises(ProfileError, match=r"\[cnn\] time_shift must be true or false, got 1"):
        load_profile(str(profile))


def test_defaults_live_in_the_section_classes_and_are_stored_resolved(tmp_path):
    from engine.models.cnn import THESIS_WIDTHS
    from precompute import profile as profiles

    assert profiles.THESIS_WIDTHS == THESIS_WIDTHS
    path = tmp_path / "short.toml"
    path.write_text('[dataset]\nname = "synthetic"\nclip_seconds = 5\n[cnn]\nepochs = 3\n')
    loaded = load_profile(str(path))
    assert loaded.dataset.clip_seconds == 5.0 and isinstance(loaded.dataset.clip_seconds, float)
    assert loaded.cnn.epochs == 3 and loaded.cnn.learning_rate == profiles.PerceptualSection.learning_rate
    assert loaded.a2e is None and loaded.vit is None  # families left out are not run
    resolved = loaded.resolved()
    assert resolved["cnn"]["methods"] == list(profiles.PerceptualSection.methods) or resolved["cnn"]["methods"] == profiles.PerceptualSection.methods
    assert resolved["sonification"]["gains"][0]["name"] == "R^2" and "a2e" not in resolved
