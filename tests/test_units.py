"""Units declare the units whose rows they read, and the pipeline orders them by those needs."""

from __future__ import annotations

import pytest

from precompute.pipeline import DATA_DIR, _dataset_context, _plan
from precompute.profile import load_profile
from precompute.stages import Unit, order_units


def unit(name: str, *needs: str) -> Unit:
    return Unit(name, lambda: {}, needs=tuple(needs))


def test_units_come_after_what_they_need_and_keep_their_order_otherwise():
    listed = [unit("mid2e#0", "a2mid#0"), unit("a2e#0"), unit("a2mid#0"), unit("contrast", "cnn", "clean"),
              unit("cnn"), unit("clean")]
    ordered = [u.name for u in order_units(listed)]
    assert ordered == ["a2e#0", "a2mid#0", "mid2e#0", "cnn", "clean", "contrast"]


def test_unplanned_needs_duplicates_and_cycles_are_refused():
    with pytest.raises(ValueError, match=r"'mid2e#0' needs \['a2mid#0'\], which the run does not plan"):
        order_units([unit("mid2e#0", "a2mid#0")])
    with pytest.raises(ValueError, match="two units share a name"):
        order_units([unit("a"), unit("a")])
    with pytest.raises(ValueError, match="cycle"):
        order_units([unit("a", "b"), unit("b", "a")])


def test_the_demo_plan_declares_what_its_units_read():
    profile = load_profile("demo")
    ctx = _dataset_context(profile, profile.dataset, representations=set(), writer=None, data_root=DATA_DIR,
                           device="cpu", show_progress=False, jobs=1, cache_root=DATA_DIR / "cache")
    units = _plan(ctx, data_root=DATA_DIR)
    position = {u.name: i for i, u in enumerate(units)}
    needs = {u.name: u.needs for u in units if u.needs}
    # Mid2E on predicted descriptors reads A2Mid's rows of its seed; the drum contrast reads both CNNs'
    predicted = {name: need for name, need in needs.items() if name.startswith("Mid2E/predicted_midlevel/")}
    assert predicted and all(need == (f"A2Mid/chromagram+spectrogram/cnn#seed{name[-1]}",) for name, need in predicted.items())
    assert needs["Perceptual/spectrogram_224/cnn#seed0#contrast"] == (
        "Perceptual/spectrogram_224/cnn#seed0#explain", "Perceptual/spectrogram_224/cnn@confound0#seed0#explain")
    assert not any(name.startswith(("Mid2E/annotated", "Mid2E/estimated")) for name in needs)
    for name, required in needs.items():
        assert all(position[r] < position[name] for r in required), name
