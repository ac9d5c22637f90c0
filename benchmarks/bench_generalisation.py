"""How well a profile's perceptual model generalises beyond its 9-song demo test split.

    python benchmarks/bench_generalisation.py                        # the demo's [cnn], seeds 0 1 2
    python benchmarks/bench_generalisation.py --section vit --seeds 0
    python benchmarks/bench_generalisation.py --songs 96 --image log  # another input image

The demo's test split has 36 clips of 9 songs, so its balanced accuracy moves by +-0.1 from seed to
seed. This script trains the section's recipe (``[cnn]`` or ``[vit]`` of ``--profile``) on the
profile's train split at ``clean_confound`` (0: no drum shortcut; ``--confound`` overrides), selects
the checkpoint on its val split as the precompute stage does, then scores it on the profile's own
test split **and** on an independent synthetic corpus (another seed, confound 0, ``--songs`` songs of
``--clips-per-song`` clips). It prints, per seed, balanced accuracy on both, with a 95 % bootstrap CI
over the independent corpus's songs (clips of one song are resampled together), and the mean over seeds.

Features of the extra corpus are cached under data/cache like any run's.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import torch
from torch import nn

from engine.audio.perceptual_images import IMAGES, REPRESENTATION_OF
from engine.explain.perceptual import classify
from engine.models.metrics import classification_metrics
from engine.models.perceptual import create_perceptual_model
from engine.models.training import balanced_class_weights, fit, seed_everything
from engine.stats import bootstrap
from engine.vocabulary import CLASSES
from precompute.pipeline import DATA_DIR, _dataset_context
from precompute.profile import load_profile
from precompute.stages.common import train_config


def balanced_accuracy(predicted: np.ndarray, actual: np.ndarray) -> float:
    """Mean recall over the classes (the stored ``macro_recall``)."""
    return classification_metrics(actual, predicted, classes=CLASSES)["macro_recall"]


def main() -> None:
    """Train the section's recipe per seed and print its balanced accuracy on both test sets."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="demo")
    parser.add_argument("--section", default="cnn", choices=("cnn", "vit"))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--confound", type=float, default=None, help="train-split confound (default: clean_confound or 0)")
    parser.add_argument("--image", choices=IMAGES, default=None, help="input image (default: the section's)")
    parser.add_argument("--songs", type=int, default=96, help="songs of the independent corpus")
    parser.add_argument("--clips-per-song", type=int, default=2)
    parser.add_argument("--corpus-seed", type=int, default=7, help="seed of the independent corpus (the demo's is 0)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    profile = load_profile(args.profile)
    section = profile.backbones.get(args.section)
    if section is None:
        raise SystemExit(f"{profile.path}: no [{args.section}] section")
    if args.image:
        section = dataclasses.replace(section, image=args.image)
    image = section.image
    representation = REPRESENTATION_OF[image]
    dataset = profile.dataset
    if dataset.name != "synthetic":
        raise SystemExit(f"{profile.path}: [dataset] is {dataset.name!r}; this check needs the synthetic corpus")
    confound = args.confound if args.confound is not None else (section.clean_confound or 0.0)

    def context(**options):
        return _dataset_context(profile, dataclasses.replace(dataset, **options), representations={representation}, writer=None,
                                data_root=DATA_DIR, device="cpu", show_progress=False, jobs=args.threads,
                                cache_root=DATA_DIR / "cache")

    trained_on, judged_on = context(confound=confound), context()
    extra = context(confound=0.0, seed=args.corpus_seed, n_songs=args.songs, clips_per_song=args.clips_per_song)

    def labelled(ctx):
        by_id = ctx.records_by_id
        labels = np.array([CLASSES.index(by_id[c].label) for c in ctx.features().clip_ids])
        return ctx.features().arrays[representation], labels

    x, y = labelled(trained_on)
    x_test, y_test = labelled(judged_on)
    x_extra, y_extra = labelled(extra)
    songs = np.array([extra.records_by_id[c].group for c in extra.features().clip_ids])
    song_names = np.unique(songs)
    by_song = [np.flatnonzero(songs == s) for s in song_names]  # the bootstrap resamples songs, not clips
    train, val, test = trained_on.split_index("train"), trained_on.split_index("val"), judged_on.split_index("test")
    print(f"{profile.name} [{args.section}] image={image}, trained at confound {confound:g} on {len(train)} clips "
          f"(val {len(val)}); test split {len(test)} clips; independent corpus {len(y_extra)} clips of {len(song_names)} songs")
    print(f"{'seed':>4}  {'test bal. acc.':>14}  {'independent bal. acc. [95 % CI over songs]':>44}  {'train s':>7}")
    test_scores, extra_scores = [], []
    for seed in (int(s) for s in args.seeds.split(",")):
        seed_everything(seed)
        spec = section.model_spec()
        model = create_perceptual_model(spec)
        config = train_config(section, seed=seed, device="cpu")
        started = time.perf_counter()
        result = fit(model, train_inputs=[x[train][:, None]], train_targets=y[train], val_inputs=[x[val][:, None]],
                     val_targets=y[val], config=config,
                     loss_fn=nn.CrossEntropyLoss(weight=balanced_class_weights(y[train], n_classes=len(CLASSES))))
        seconds = time.perf_counter() - started
        on_test = balanced_accuracy(classify(result.model, x_test[test]).argmax(axis=1), y_test[test])
        decisions = classify(result.model, x_extra).argmax(axis=1)

        def statistic(chosen: np.ndarray, decisions: np.ndarray = decisions) -> float:
            rows = np.concatenate([by_song[int(i)] for i in chosen])
            return balanced_accuracy(decisions[rows], y_extra[rows])

        estimate = bootstrap(statistic, np.arange(len(song_names)), seed=seed, resamples=1000)
        test_scores.append(on_test)
        extra_scores.append(estimate.value)
        print(f"{seed:>4}  {on_test:>14.3f}  {estimate.value:>22.3f} [{estimate.low:.3f}, {estimate.high:.3f}]{'':>7}  {seconds:>7.0f}")
    print(f"mean  {np.mean(test_scores):>14.3f}  {np.mean(extra_scores):>22.3f} (SD over seeds {np.std(extra_scores, ddof=1) if len(extra_scores) > 1 else 0:.3f})")


if __name__ == "__main__":
    main()
