"""Per-clip costs of the perceptual route on this machine, the figures ``precompute new-profile`` sizes profiles with.

Measures, for the CNN and the ViT that ``new-profile`` writes (a small CNN on the log image, a 4-block
ViT-Tiny), or for the ``[cnn]`` and ``[vit]`` sections of ``--profile`` (e.g. ``catalogue``: the
thesis-width CNN and ViT-B/16), on ``--device``:
reading and transforming one 10 s clip, one training epoch per training clip (forward, backward and
the validation pass), explaining one clip with one method (attribution and sonification of the map
and its complement), the removal tests of one clip for one method (both removal rules, both
orders) and the randomisation check; the means over methods and each method's own figures. Prints
them and, with ``--write``, stores the default models' figures in ``precompute/costs.json`` (what
``new-profile`` sizes with); ``--json FILE`` writes any run's figures (``benchmarks/capacity_plan.py`` reads them).

    python benchmarks/bench_costs.py --write
    python benchmarks/bench_costs.py --profile catalogue --json /tmp/catalogue_costs.json
"""

from __future__ import annotations

import argparse
import functools
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
from precompute.profile import CnnSection, VitSection, load_profile

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


def _synchronised(function, device: str):
    def run() -> None:
        function()
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    return run


def training_cost(model: torch.nn.Module, *, batch_size: int, device: str = "cpu") -> float:
    """Seconds per training clip and epoch: forward and backward of a batch, plus a validation forward pass."""
    model.train()
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x, y = torch.rand(batch_size, 1, 224, 224, device=device), torch.randint(0, 2, (batch_size,), device=device)

    @functools.partial(_synchronised, device=device)
    def step() -> None:
        optimiser.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimiser.step()

    train = median_seconds(step, repeats=3) / batch_size
    model.eval()
    with torch.no_grad():
        validate = median_seconds(_synchronised(lambda: model(x), device), repeats=3) / batch_size
    # validation clips are about a seventh of the training clips (70/10/20 splits)
    return train + validate / 7


def method_costs(
    model: torch.nn.Module, section: CnnSection | VitSection, *, device: str = "cpu"
) -> dict[str, tuple[float, float, float]]:
    """Per method, seconds per clip: explaining (attribute and sonify), the removal tests, the sanity check."""
    model.eval()
    y = _clip(1)
    x = image_input(y, clip_seconds=CLIP_SECONDS, image=section.image)
    tensor = torch.from_numpy(x)[None, None].to(device)
    costs = {}
    for method in section.methods:
        attributor = {method: make_attributor(method, model, **section.method_options.get(method, {}))}
        started = time.perf_counter()
        explained = explain_clip(attributor, x, target=0, image=section.image, y=y, gains=[Gain()], device=device)
        explain = time.perf_counter() - started
        orders = tile_orders(explained[method].relevance)
        started = time.perf_counter()
        for rule in REMOVALS:
            faithfulness(model, tensor, orders, target=0, removal=rule, seed=0)
        removal = time.perf_counter() - started
        started = time.perf_counter()
        options = section.method_options.get(method, {})
        randomisation_check(lambda m, x, t, method=method, options=options: make_attributor(method, m, **options).attribute(
            x, target=t)[0], model, tensor, [0], seed=0)
        costs[method] = (explain, removal, time.perf_counter() - started)
    return costs


def main() -> None:
    """Measure and print the per-clip costs; with ``--write``, store them for ``new-profile``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help=f"store the figures in {COSTS.relative_to(COSTS.parents[1])}")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--profile", help="measure this profile's [cnn] and [vit] sections instead of new-profile's models")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--json", type=Path, help="write the figures (with each method's) to this file")
    args = parser.parse_args()
    if args.write and (args.profile or args.device != "cpu"):
        parser.error("--write stores new-profile's CPU figures: use --json for a profile's or a GPU's")
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    sections = load_profile(args.profile).backbones if args.profile else {n: backbone_section(n) for n in ("cnn", "vit")}
    backbones: dict[str, dict[str, object]] = {}
    for name, section in sections.items():
        model = create_perceptual_model(section.model_spec()).to(args.device)
        per_method = method_costs(model, section, device=args.device)
        explain, removal, sanity = (float(np.mean([costs[i] for costs in per_method.values()])) for i in range(3))
        backbones[name] = {
            "model": section.model_spec().get("architecture", f"cnn widths {list(getattr(section, 'widths', []))}"),
            "feature_s_per_clip": feature_cost(section.image),
            "train_s_per_clip_epoch": training_cost(model, batch_size=section.batch_size, device=args.device),
            "explain_s_per_clip_method": explain,
            "removal_s_per_clip_method": removal,
            "sanity_s_per_clip_method": sanity,
            "per_method": {m: dict(zip(("explain", "removal", "sanity"), costs)) for m, costs in per_method.items()},
        }
        print(f"[{name}] {backbones[name]['model']}: " + ", ".join(
            f"{k} {v:.3f}" for k, v in backbones[name].items() if isinstance(v, float)))
        for method, costs in per_method.items():
            print(f"    {method:24s} explain {costs[0]:.3f} s, removal tests {costs[1]:.3f} s, sanity {costs[2]:.3f} s")
    record = {
        "measured_with": "python benchmarks/bench_costs.py" + (f" --profile {args.profile}" if args.profile else " --write"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch threads {args.threads}",
        "device": args.device if args.device == "cpu" else f"{args.device} ({torch.cuda.get_device_name(0)})",
        "clip_seconds": CLIP_SECONDS,
        "backbones": backbones,
    }
    if args.write:
        COSTS.write_text(json.dumps(record, indent=1) + "\n")
        print(f"wrote {COSTS}")
    if args.json:
        args.json.write_text(json.dumps(record, indent=1) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
