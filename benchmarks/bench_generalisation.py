"""How well a profile's perceptual recipe generalises: every seed, with CIs over songs or albums.

    python benchmarks/bench_generalisation.py                        # the demo's [cnn], seeds 0 1 2
    python benchmarks/bench_generalisation.py --section vit --seeds 0
    python benchmarks/bench_generalisation.py --songs 96 --image log  # another input image
    python benchmarks/bench_generalisation.py --profile soundtracks --data-root ../shared/data \
        --section vit --set stem='"conv"' --set spec_augment=true --set mixup=0.2   # a recipe variant

The demo's test split has 36 clips of 9 songs, so its balanced accuracy moves by +-0.1 from seed to
seed. This script trains the section's recipe (``[cnn]`` or ``[vit]`` of ``--profile``, with any
``--set key=value`` overrides, values in TOML) on the profile's train split, selects the
checkpoint on its val split as the precompute stage does, then scores it on the profile's own test
split. It prints, per seed, balanced accuracy at p = 0.5 and at the threshold calibrated on the
val split, with a 95 % bootstrap CI over the test split's groups (songs or albums: clips of one
group are resampled together), and the mean and SD over seeds.

On the synthetic corpus the model is trained at ``clean_confound`` (0: no drum shortcut;
``--confound`` overrides) and is also scored on an independent corpus (another seed, confound 0,
``--songs`` songs of ``--clips-per-song`` clips), whose features are cached under data/cache like
any run's, and its causal reliance on the drums is measured on the test split (mean over clips of
p(predicted class) with minus without the drums, as the stored causal rows). ``--set
clean_without='["drums"]'`` trains on each clip also re-rendered without its drums. On real data (e.g. Soundtracks, album split) only the test split is scored.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
import tomllib
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import torch
from torch import nn

from engine.audio.io import fit_length
from engine.audio.perceptual_images import IMAGES, REPRESENTATION_OF, image_input
from engine.explain.causal import stem_reliance
from engine.explain.perceptual import classify
from engine.models.metrics import calibrate_threshold, classification_metrics
from engine.models.perceptual import create_perceptual_model
from engine.models.training import balanced_class_weights, fit, seed_everything
from engine.stats import bootstrap
from engine.vocabulary import CLASSES
from precompute.pipeline import DATA_DIR, _dataset_context
from precompute.profile import load_profile
from precompute.stages.common import train_config
from precompute.stages.perceptual import training_set


def balanced_accuracy(predicted: np.ndarray, actual: np.ndarray) -> float:
    """Mean recall over the classes (the stored ``macro_recall``)."""
    return classification_metrics(actual, predicted, classes=CLASSES)["macro_recall"]


def overridden(section, settings: list[str]):
    """Return the section with ``key=value`` settings applied (values in TOML, e.g. ``mixup=0.2``, ``stem="conv"``)."""
    values = tomllib.loads("\n".join(settings)) if settings else {}
    known = {f.name for f in dataclasses.fields(section)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise SystemExit(f"--set: unknown key(s) {unknown} for [{section.head()}]; known: {sorted(known)}")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    return dataclasses.replace(section, **values)


def group_bootstrap(decisions: np.ndarray, labels: np.ndarray, groups: np.ndarray, *, seed: int):
    """Balanced accuracy with a 95 % bootstrap CI that resamples groups (songs, albums), not clips."""
    names = np.unique(groups)
    members = [np.flatnonzero(groups == g) for g in names]

    def statistic(chosen: np.ndarray) -> float:
        rows = np.concatenate([members[int(i)] for i in chosen])
        return balanced_accuracy(decisions[rows], labels[rows])

    return bootstrap(statistic, np.arange(len(names)), seed=seed, resamples=1000)


def drum_reliance(model, ctx, positions: np.ndarray, *, image: str) -> tuple[float, float]:
    """Mean and SD over clips of p(predicted class) with minus without the drums (the stored causal reliance)."""
    n_samples = int(round(ctx.clip_seconds * ctx.dataset.config.sample_rate))
    values = []
    for position in positions:
        clip_id = ctx.features().clip_ids[position]
        stems = {n: fit_length(a, n_samples=n_samples) for n, a in ctx.dataset.render(clip_id).stems.items()}
        mixture = np.stack(list(stems.values())).sum(axis=0, dtype=np.float32)
        target = int(classify(model, image_input(mixture, clip_seconds=ctx.clip_seconds, image=image)[None]).argmax())
        p_with, p_without = stem_reliance(lambda x: classify(model, x),
                                          lambda w: image_input(w, clip_seconds=ctx.clip_seconds, image=image),
                                          {"drums": stems["drums"], "rest": mixture - stems["drums"]}, target=target)["drums"]
        values.append(p_with - p_without)
    return float(np.mean(values)), float(np.std(values, ddof=1))


def factor_ceiling(trained_on, judged_on, extra, *, train: np.ndarray, test: np.ndarray) -> str:
    """Score what the generator's own factors allow: logistic regression on the true 7 descriptors and tempo.

    Fitted on the train clips, scored (balanced accuracy) on the test split and the independent corpus:
    a model that read every factor perfectly from the audio would score about this.
    """
    from sklearn.linear_model import LogisticRegression

    def table(ctx, positions=None):
        records = [ctx.records_by_id[c] for c in ctx.features().clip_ids]
        records = records if positions is None else [records[i] for i in positions]
        x = np.array([[*r.midlevel.values(), r.factors["tempo_bpm"] / 100.0] for r in records])
        return x, np.array([CLASSES.index(r.label) for r in records])

    x, y = table(trained_on, train)
    model = LogisticRegression(C=10.0, max_iter=1000).fit(x, y)
    scores = [balanced_accuracy(model.predict(xs), ys) for xs, ys in (table(judged_on, test), table(extra))]
    return (f"ceiling (logistic regression on the true descriptors and tempo): test {scores[0]:.3f}, "
            f"independent {scores[1]:.3f}")


def main() -> None:
    """Train the section's recipe per seed and print its balanced accuracy on the test split (and an independent corpus)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="demo")
    parser.add_argument("--data-root", type=Path, default=DATA_DIR, help="folder holding real datasets (e.g. ../shared/data)")
    parser.add_argument("--section", default="cnn", choices=("cnn", "vit"))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE",
                        help="override a key of the section (TOML value), e.g. --set mixup=0.2; repeatable")
    parser.add_argument("--confound", type=float, default=None, help="synthetic: train-split confound (default: clean_confound or 0)")
    parser.add_argument("--image", choices=IMAGES, default=None, help="input image (default: the section's)")
    parser.add_argument("--songs", type=int, default=96, help="synthetic: songs of the independent corpus")
    parser.add_argument("--clips-per-song", type=int, default=2)
    parser.add_argument("--corpus-seed", type=int, default=7, help="synthetic: seed of the independent corpus (the demo's is 0)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    profile = load_profile(args.profile)
    section = profile.backbones.get(args.section)
    if section is None:
        raise SystemExit(f"{profile.path}: no [{args.section}] section")
    section = overridden(section, args.settings + ([f'image = "{args.image}"'] if args.image else []))
    image = section.image
    representation = REPRESENTATION_OF[image]
    dataset = profile.dataset
    synthetic = dataset.name == "synthetic"
    confound = (args.confound if args.confound is not None else (section.clean_confound or 0.0)) if synthetic else None

    def context(**options):
        return _dataset_context(profile, dataclasses.replace(dataset, **options), representations={representation}, writer=None,
                                data_root=args.data_root, device="cpu", show_progress=False, jobs=args.threads,
                                cache_root=DATA_DIR / "cache")

    trained_on, judged_on = (context(confound=confound), context()) if synthetic else (context(),) * 2

    def labelled(ctx):
        by_id = ctx.records_by_id
        labels = np.array([CLASSES.index(by_id[c].label) if by_id[c].label in CLASSES else -1 for c in ctx.features().clip_ids])
        groups = np.array([by_id[c].group for c in ctx.features().clip_ids])
        return ctx.features().arrays[representation], labels, groups

    x, y, _ = labelled(trained_on)
    x_test, y_test, test_groups = labelled(judged_on)
    labelled_rows = np.flatnonzero(y >= 0)
    train, val = (np.intersect1d(trained_on.split_index(s), labelled_rows) for s in ("train", "val"))
    test = np.intersect1d(judged_on.split_index("test"), np.flatnonzero(y_test >= 0))
    # with train_crops, more windows per clip; with clean_without, each clip also without those stems
    x_fit, y_fit = training_set(trained_on, section, train, images=x, labels=y, without=section.clean_without if synthetic else ())
    extra = context(confound=0.0, seed=args.corpus_seed, n_songs=args.songs, clips_per_song=args.clips_per_song) if synthetic else None
    if extra is not None:
        x_extra, y_extra, extra_groups = labelled(extra)
    changed = ", ".join(args.settings) or "as written"
    print(f"{profile.name} [{args.section}] image={image} ({changed}); trained"
          f"{f' at confound {confound:g}' if synthetic else ''} on {len(train)} clips ({len(y_fit)} windows; val {len(val)}); "
          f"test split {len(test)} clips of {len(np.unique(test_groups[test]))} groups"
          + (f"; independent corpus {len(y_extra)} clips of {len(np.unique(extra_groups))} songs" if extra is not None else ""))
    if extra is not None:
        print(factor_ceiling(trained_on, judged_on, extra, train=train, test=test))
    header = f"{'seed':>4}  {'test BA [95 % CI over groups]':>30}  {'calibrated BA':>13}"
    print(header + (f"  {'independent BA [95 % CI]':>26}  {'drum reliance (SD)':>18}" if extra is not None else "")
          + f"  {'epoch':>5}  {'train s':>7}")
    scores: dict[str, list[float]] = {"test": [], "calibrated": [], "independent": [], "drums": []}
    happy = CLASSES.index("happy")
    for seed in (int(s) for s in args.seeds.split(",")):
        seed_everything(seed)
        model = create_perceptual_model(section.model_spec())
        config = train_config(section, seed=seed, device="cpu")
        started = time.perf_counter()
        result = fit(model, train_inputs=[x_fit[:, None]], train_targets=y_fit, val_inputs=[x[val][:, None]],
                     val_targets=y[val], config=config,
                     loss_fn=nn.CrossEntropyLoss(weight=balanced_class_weights(y_fit, n_classes=len(CLASSES))))
        seconds = time.perf_counter() - started
        threshold = calibrate_threshold(classify(result.model, x[val])[:, happy], y[val] == happy)
        p_test = classify(result.model, x_test[test])
        on_test = group_bootstrap(p_test.argmax(axis=1), y_test[test], test_groups[test], seed=seed)
        calibrated = balanced_accuracy(np.where(p_test[:, happy] >= threshold, happy, 1 - happy), y_test[test])
        scores["test"].append(on_test.value)
        scores["calibrated"].append(calibrated)
        line = f"{seed:>4}  {on_test.value:>13.3f} [{on_test.low:.3f}, {on_test.high:.3f}]  {calibrated:>13.3f}"
        if extra is not None:
            independent = group_bootstrap(classify(result.model, x_extra).argmax(axis=1), y_extra, extra_groups, seed=seed)
            scores["independent"].append(independent.value)
            line += f"  {independent.value:>9.3f} [{independent.low:.3f}, {independent.high:.3f}]"
            drums, drums_sd = drum_reliance(result.model, judged_on, test, image=image)
            scores["drums"].append(drums)
            line += f"  {drums:>11.3f} ({drums_sd:.3f})"
        print(f"{line}  {result.best_epoch:>5}  {seconds:>7.0f}", flush=True)

    def mean_sd(values: list[float]) -> str:
        return f"{np.mean(values):.3f} +- {np.std(values, ddof=1) if len(values) > 1 else 0.0:.3f}"

    summary = f"mean +- SD over {len(scores['test'])} seeds: test {mean_sd(scores['test'])}, calibrated {mean_sd(scores['calibrated'])}"
    print(summary + (f", independent {mean_sd(scores['independent'])}, drum reliance on test {mean_sd(scores['drums'])}"
                     if extra is not None else ""))


if __name__ == "__main__":
    main()
