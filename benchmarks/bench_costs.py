"""Per-clip costs of the perceptual route on this machine, the figures ``precompute new-profile`` sizes profiles with.

Measures, for the CNN (``[cnn]`` defaults of ``precompute/profile.py``, log image) and a ViT-Tiny:
reading and transforming one 10 s clip, one training epoch per training clip (forward, backward and
the validation pass), explaining one clip with one method (attribution and sonification of the map
and its complement), and the removal tests of one clip for one method (both removal rules, both
orders). Prints the figures and, with ``--write``, stores them in ``precompute/costs.json``.

    python benchmarks/bench_costs.py --write
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import soundfile as sf
import torch
from timing import median_seconds  # benchmarks/timing.py (the script's folder is on sys.path)

from engine.audio.io import load_audio
from engine.audio.perceptual_images import REPRESENTATION_OF, image_input
from engine.audio.representations import compute_representation
from engine.audio.sonify import Gain
from engine.explain.attribution import make_attributor
from engine.explain.faithfulness import faithfulness, tile_orders
from engine.explain.perceptual import explain_clip
from engine.explain.removal import REMOVALS
from engine.explain.sanity import randomisation_check
from engine.models.perceptual import create_perceptual_model
from engine.vocabulary import SAMPLE_RATE
from precompute.new_profile import backbone_section
from precompute.profile import CnnSection, VitSection

COSTS = Path(__file__).resolve().parents[1] / "precompute" / "costs.json"
CLIP_SECONDS = 10.0


def _clip(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(CLIP_SECONDS * SAMPLE_RATE)) / SAMPLE_RATE
    return (0.2 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.normal(size=t.size)).astype(np.float32)


def feature_cost(image: str) -> float:
    """Seconds to read one 10 s WAV and compute the display image and the model's image."""
    folder = Path(tempfile.mkdtemp())
    path = folder / "clip.wav"
    sf.write(path, _clip(0), SAMPLE_RATE)

    def once() -> None:
        y = load_audio(path)
        compute_representation("vit_spectrogram", y, clip_seconds=CLIP_SECONDS)
        if image != "linear":
            compute_representation(REPRESENTATION_OF[image], y, clip_seconds=CLIP_SECONDS)

    seconds = median_seconds(once, repeats=5)
    path.unlink()
    folder.rmdir()
    return seconds


def training_cost(model: torch.nn.Module, *, batch_size: int) -> float:
    """Seconds per training clip and epoch: forward and backward of a batch, plus a validation forward pass."""
    model.train()
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x, y = torch.rand(batch_size, 1, 224, 224), torch.randint(0, 2, (batch_size,))

    def step() -> None:
        optimiser.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimiser.step()

    train = median_seconds(step, repeats=3) / batch_size
    model.eval()
    with torch.no_grad():
        validate = median_seconds(lambda: model(x), repeats=3) / batch_size
    # validation clips are about a seventh of the training clips (70/10/20 splits)
    return train + validate / 7


def method_costs(model: torch.nn.Module, section: CnnSection | VitSection) -> tuple[float, float, float]:
    """Mean seconds per clip and method: explaining (attribute and sonify), the removal tests, the sanity check."""
    model.eval()
    y = _clip(1)
    x = image_input(y, clip_seconds=CLIP_SECONDS, image=section.image)
    tensor = torch.from_numpy(x)[None, None]
    explain, removal, sanity = [], [], []
    for method in section.methods:
        attributor = {method: make_attributor(method, model, **section.method_options.get(method, {}))}
        started = time.perf_counter()
        explained = explain_clip(attributor, x, target=0, image=section.image, y=y, gains=[Gain()])
        explain.append(time.perf_counter() - started)
        orders = tile_orders(explained[method].relevance)
        started = time.perf_counter()
        for rule in REMOVALS:
            faithfulness(model, tensor, orders, target=0, removal=rule, seed=0)
        removal.append(time.perf_counter() - started)
        started = time.perf_counter()
        options = section.method_options.get(method, {})
        randomisation_check(lambda m, x, t, method=method, options=options: make_attributor(method, m, **options).attribute(
            x, target=t)[0], model, tensor, [0], seed=0)
        sanity.append(time.perf_counter() - started)
    return float(np.mean(explain)), float(np.mean(removal)), float(np.mean(sanity))


def main() -> None:
    """Measure and print the per-clip costs; with ``--write``, store them for ``new-profile``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help=f"store the figures in {COSTS.relative_to(COSTS.parents[1])}")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    backbones: dict[str, dict[str, float]] = {}
    for name in ("cnn", "vit"):
        section = backbone_section(name)
        model = create_perceptual_model(section.model_spec())
        explain, removal, sanity = method_costs(model, section)
        backbones[name] = {
            "feature_s_per_clip": feature_cost(section.image),
            "train_s_per_clip_epoch": training_cost(model, batch_size=section.batch_size),
            "explain_s_per_clip_method": explain,
            "removal_s_per_clip_method": removal,
            "sanity_s_per_clip_method": sanity,
        }
        print(f"[{name}] " + ", ".join(f"{k} {v:.3f}" for k, v in backbones[name].items()))
    record = {
        "measured_with": "python benchmarks/bench_costs.py --write",
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch threads {args.threads}",
        "clip_seconds": CLIP_SECONDS,
        "backbones": backbones,
    }
    if args.write:
        COSTS.write_text(json.dumps(record, indent=1) + "\n")
        print(f"wrote {COSTS}")


if __name__ == "__main__":
    main()
