"""What the evidence for one explained clip costs: removal curves under each rule, causal reliance, LRP.

    python benchmarks/bench_evidence.py                 # the demo's CNN widths, 10 s clips
    python benchmarks/bench_evidence.py --repeats 10 --threads 2

Times, for one ``(1, 1, 224, 224)`` input of a perceptual CNN built from scratch (eval mode): each
zennit LRP composite and gradient x input; one map's MoRF+LeRF curves (8 fractions each) under the
``floor`` and the ``road`` rule, and ROAD's imputation alone for those 16 masks; and the causal
reliance of one synthetic clip (re-render without each of 4 stems, 5 spectrogram images, one batch
through the model). Each row is the median of ``--repeats`` calls after one warm-up call.
"""

from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import torch
from timing import median_seconds  # benchmarks/timing.py (the script's folder is on sys.path)

from engine.audio.representations import vit_spectrogram_input
from engine.datasets.synthetic import SyntheticConfig, SyntheticCorpus
from engine.explain.attribution import make_attributor
from engine.explain.causal import stem_reliance
from engine.explain.faithfulness import DEFAULT_FRACTIONS, faithfulness, tile_orders
from engine.explain.perceptual import classify
from engine.explain.removal import noisy_linear_imputation, tile_masks
from engine.models.cnn import CNNClassifier


def main() -> None:
    """Time each map, removal-curve, imputation and causal-reliance row and print the medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", default="8,8,16,16,32,32,48,64,64", help="CNN channel counts (the demo's)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = CNNClassifier(widths=tuple(int(w) for w in args.widths.split(","))).eval()
    corpus = SyntheticCorpus(SyntheticConfig(n_songs=3, clips_per_song=1, seed=0))
    clip_id = corpus.records()[0].clip_id
    image = torch.from_numpy(vit_spectrogram_input(corpus.load(clip_id), clip_seconds=10.0))[None, None]
    relevance = make_attributor("gradient_x_input", model).attribute(image, target=0)[0]
    orders = tile_orders(relevance)
    masks = torch.cat([tile_masks(orders[o], np.asarray(DEFAULT_FRACTIONS), height=224, width=224, patch=16) for o in orders])

    rows: list[tuple[str, float]] = []
    for method in ("lrp_epsilon_plus_flat", "lrp_epsilon_gamma_box", "gradient_x_input"):
        attributor = make_attributor(method, model)
        rows.append((f"map: {method}", median_seconds(lambda a=attributor: a.attribute(image, target=0), args.repeats)))
    for rule in ("floor", "road"):
        rows.append((f"MoRF+LeRF curves, {rule}",
                     median_seconds(lambda r=rule: faithfulness(model, image, orders, target=0, removal=r), args.repeats)))
    rows.append(("ROAD imputation of 16 masks", median_seconds(lambda: noisy_linear_imputation(image, masks), args.repeats)))
    rows.append(("causal reliance (render, 4 stems)", median_seconds(
        lambda: stem_reliance(lambda x: classify(model, x), lambda w: vit_spectrogram_input(w, clip_seconds=10.0),
                              corpus.render(clip_id).stems, target=0), args.repeats)))

    print(f"perceptual CNN widths {args.widths}; torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{platform.processor() or platform.machine()}; median of {args.repeats}")
    for name, seconds in rows:
        print(f"{name:40s} {seconds * 1000:9.1f} ms")


if __name__ == "__main__":
    main()
