"""``new-profile``: a commented profile for a researcher's own labelled clips, sized to a time budget.

It asks nothing. It opens the data with the adapter named on the command line (``folder`` or
``kaggle_mec``), counts clips, labels, groups and splits, and then sizes the perceptual route
(seeds, epochs, explained clips, removal-test clips, sanity clips) so that the estimated run time
fits ``--budget-minutes``. The estimate uses per-clip costs measured on this machine and stored in
``precompute/costs.json`` (``python benchmarks/bench_costs.py --write`` measures them again). It
writes the profile with a comment on every choice and returns what it chose and why.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from engine.vocabulary import CLASSES
from precompute.datasets import open_dataset
from precompute.profile import CnnSection, DatasetSection, PerceptualSection, ProfileError, VitSection

COSTS = Path(__file__).parent / "costs.json"
KINDS = ("folder", "kaggle_mec")  # datasets with Happy/Sad labels: the perceptual route
METHODS = {
    "cnn": ("lrp_epsilon_plus_flat", "lrp_epsilon_gamma_box", "gradient_x_input", "integrated_gradients", "random"),
    "vit": ("chefer2021", "attnlrp", "gradient_x_input", "integrated_gradients", "random"),
}
METHOD_OPTIONS = {"integrated_gradients": {"steps": 16}}
# From the richest plan to the leanest: the first whose estimate fits the budget is written.
# (seeds, epochs, explained clips per confusion-matrix cell, removal-test clips, sanity clips)
LADDER = (
    (3, 40, 5, 32, 4), (3, 30, 4, 24, 3), (2, 30, 4, 24, 3), (2, 24, 3, 16, 3), (1, 30, 3, 16, 2),
    (1, 24, 3, 12, 2), (1, 16, 2, 8, 2), (1, 12, 2, 6, 1), (1, 8, 1, 4, 1),
)


def backbone_section(backbone: str) -> PerceptualSection:
    """Return the section ``new-profile`` writes for a backbone, before it is sized (methods and their options)."""
    if backbone == "cnn":
        return CnnSection(image="log", epochs=30, batch_size=16, learning_rate=1e-3, schedule="onecycle", time_shift=True,
                          select="balanced_accuracy", patience=8, methods=METHODS["cnn"], method_options=METHOD_OPTIONS)
    if backbone == "vit":
        return VitSection(architecture="vit_tiny_patch16_224", overrides={"depth": 4}, epochs=30, batch_size=8,
                          learning_rate=3e-4, time_shift=True, select="balanced_accuracy", patience=8,
                          methods=METHODS["vit"], method_options=METHOD_OPTIONS)
    raise ProfileError(f"backbone must be 'cnn' or 'vit', got {backbone!r}")


@dataclass(frozen=True)
class DataSummary:
    """What ``new-profile`` found in the data: clips per split and label, groups, the split, skipped files."""

    clips: dict[str, int]
    labels: dict[str, dict[str, int]]
    groups: int
    split: str
    skipped: int


@dataclass(frozen=True)
class Plan:
    """The sizes chosen for the perceptual route and the run time they are estimated to take."""

    seeds: int
    epochs: int
    explain_per_cell: int
    faithfulness_clips: int
    sanity_clips: int
    minutes: float


def inspect(section: DatasetSection, *, data_root: Path) -> DataSummary:
    """Open the data and count what is in it.

    Raises
    ------
    precompute.profile.ProfileError
        The data has no usable split (no training, validation or test clips) or only one label.
    engine.datasets.soundtracks.DatasetError
        The data cannot be read.
    """
    dataset, records, split_name = open_dataset(section, data_root=data_root)
    clips = {s: sum(r.split == s for r in records) for s in ("train", "val", "test")}
    labels = {s: {c: sum(r.split == s and r.label == c for r in records) for c in CLASSES} for s in clips}
    where = section.root
    for split, count in clips.items():
        if count == 0:
            raise ProfileError(f"{where}: no {split} clips ({split_name}); give a split column with train, val and test, "
                               "or leave the column out for a group-aware split")
    if any(sum(labels[s][c] for s in labels) == 0 for c in CLASSES):
        raise ProfileError(f"{where}: every clip has the same label; the perceptual route needs Happy and Sad clips")
    return DataSummary(clips=clips, labels=labels, groups=len({r.group for r in records}), split=split_name,
                       skipped=len(getattr(dataset, "skipped", [])))


def estimate_minutes(plan: Plan, data: DataSummary, costs: dict[str, float], *, n_methods: int) -> float:
    """Run time of a plan from the measured per-clip costs (training assumes no early stop: an upper bound)."""
    n_clips = sum(data.clips.values())
    explained = min(len(CLASSES) ** 2 * plan.explain_per_cell, data.clips["test"])
    measured = min(plan.faithfulness_clips, data.clips["test"])
    seconds = (
        n_clips * costs["feature_s_per_clip"]
        + plan.seeds * plan.epochs * data.clips["train"] * costs["train_s_per_clip_epoch"]
        + plan.seeds * (explained + measured) * n_methods * costs["explain_s_per_clip_method"]
        + plan.seeds * measured * (n_methods + 1) * costs["removal_s_per_clip_method"]
        + plan.seeds * min(plan.sanity_clips, measured) * n_methods * costs["sanity_s_per_clip_method"]
    )
    return seconds / 60


def choose(data: DataSummary, *, backbone: str, budget_minutes: float, costs_file: Path = COSTS) -> tuple[Plan, list[str]]:
    """Return the richest plan of :data:`LADDER` whose estimate fits the budget, with the reasons in words."""
    record = json.loads(costs_file.read_text())
    costs = record["backbones"][backbone]
    n_methods = len(METHODS[backbone])
    plans = [Plan(*rung, minutes=0.0) for rung in LADDER]
    plans = [dataclasses.replace(p, minutes=estimate_minutes(p, data, costs, n_methods=n_methods)) for p in plans]
    fitting = [p for p in plans if p.minutes <= budget_minutes]
    plan = fitting[0] if fitting else plans[-1]
    reasons = [
        f"costs measured on {record['machine']} ({costs_file.name}): training {costs['train_s_per_clip_epoch'] * 1000:.0f} ms "
        f"per clip and epoch, removal tests {costs['removal_s_per_clip_method']:.2f} s per clip and method",
        f"{data.clips['train']} training clips: {plan.seeds} seed(s) x up to {plan.epochs} epochs",
    ]
    if plan is plans[0]:
        reasons.append(f"the richest plan fits: about {plan.minutes:.1f} of {budget_minutes:g} minutes")
    elif fitting:
        reasons.append(f"about {plan.minutes:.1f} of {budget_minutes:g} minutes; the next richer plan would take "
                       f"{plans[plans.index(plan) - 1].minutes:.1f}")
    else:
        reasons.append(f"even the leanest plan takes about {plan.minutes:.1f} minutes, over the {budget_minutes:g}-minute "
                       "budget: it is written anyway (raise --budget-minutes, or use fewer clips)")
    if plan.seeds == 1:
        reasons.append("1 seed: figures get no spread over seeds; a larger budget buys 2 or 3")
    elif plan.seeds == 2:
        reasons.append("2 seeds: a spread from two values only; a larger budget buys 3")
    return plan, reasons


def render(*, name: str, section: DatasetSection, backbone: str, plan: Plan, data: DataSummary, reasons: list[str],
           budget_minutes: float) -> str:
    """Return the profile as TOML text, each choice commented."""
    model = dataclasses.replace(backbone_section(backbone), seeds=tuple(range(plan.seeds)), epochs=plan.epochs,
                                explain_per_cell=plan.explain_per_cell, faithfulness_clips=plan.faithfulness_clips,
                                sanity_clips=plan.sanity_clips)
    counts = ", ".join(f"{s} {n} ({data.labels[s]['happy']} happy, {data.labels[s]['sad']} sad)" for s, n in data.clips.items())
    dataset_keys = {k: v for k, v in section.options().items() if k != "clip_seconds"}
    lines = [
        f"# Written by `python -m precompute new-profile` for {section.root}.",
        f"# Found: {counts}; {data.groups} groups; {data.skipped} listed file(s) missing.",
        f"# Split: {data.split}.",
        f"# Sized for a budget of {budget_minutes:g} minutes (estimate {plan.minutes:.1f}):",
        *[f"#   - {reason}" for reason in reasons],
        "# Only the perceptual route runs: the data has Happy/Sad labels, no ratings or descriptors.",
        "# Every key is explained in precompute/profiles/demo.toml; an unknown key is refused.",
        "",
        "[profile]",
        f"name = {json.dumps(name)}",
        f"description = {json.dumps(f'{backbone.upper()} on {Path(str(section.root)).name}, Happy vs Sad')}",
        "",
        "[dataset]",
        *[f"{k} = {_toml(v)}" for k, v in dataset_keys.items()],
        f"clip_seconds = {section.clip_seconds:g}            # the excerpt each clip is cut or padded to",
        "",
        f"[{backbone}]",
    ]
    comments = {
        "seeds": "training seeds: figures are a mean with its spread over these",
        "epochs": "an upper bound: the best validation epoch is kept",
        "explain_per_cell": "maps and audio for the most confident clips of each confusion-matrix cell",
        "faithfulness_clips": "removal tests (the costliest part) on this many test clips, spread over groups",
        "sanity_clips": "model-randomisation check on this many of those clips",
    }
    for field in dataclasses.fields(model):
        value = getattr(model, field.name)
        if value is None or field.name in ("clean_confound", "clean_without"):  # synthetic corpus only
            continue
        comment = f"   # {comments[field.name]}" if field.name in comments else ""
        lines.append(f"{field.name} = {_toml(value)}{comment}")
    lines += ["", "[sonification]", 'gains = [{ name = "R^2", power = 2.0, floor = 0.0, smooth_frames = 1 }]   # the thesis\'s gain', ""]
    return "\n".join(lines)


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return f"{value:g}" if isinstance(value, float) else str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML form for {value!r}")


def new_profile(
    *, kind: str, root: Path, labels_csv: str | None, backbone: str, budget_minutes: float, name: str, out: Path,
    clip_seconds: float = 10.0, costs_file: Path = COSTS,
) -> list[str]:
    """Inspect the data, choose the sizes and write the profile to ``out``; return what was chosen and why.

    Raises
    ------
    precompute.profile.ProfileError
        An unsupported dataset kind or backbone, or data the route cannot use.
    engine.datasets.soundtracks.DatasetError
        The data cannot be read.
    """
    if kind not in KINDS:
        raise ProfileError(f"new-profile writes profiles for {', '.join(KINDS)} data (Happy/Sad labels), not {kind!r}")
    backbone_section(backbone)  # refuses an unknown backbone before the data is read
    section = DatasetSection(name=kind, root=str(Path(root).resolve()), clip_seconds=clip_seconds,
                             labels_csv=labels_csv if kind == "folder" else None)
    data = inspect(section, data_root=Path.cwd())
    plan, reasons = choose(data, backbone=backbone, budget_minutes=budget_minutes, costs_file=costs_file)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(name=name, section=section, backbone=backbone, plan=plan, data=data, reasons=reasons,
                          budget_minutes=budget_minutes))
    counts = ", ".join(f"{s} {n}" for s, n in data.clips.items())
    return [f"found {counts} clips in {data.groups} groups; split: {data.split}",
            f"chose {plan.seeds} seed(s), up to {plan.epochs} epochs, {plan.explain_per_cell} explained clips per cell, "
            f"removal tests on {plan.faithfulness_clips} clips, sanity check on {plan.sanity_clips}",
            *reasons, f"wrote {out}; next: python -m precompute run --profile {out}"]
