"""Wall time of LRP attributions against a plain forward, an input gradient and a training step's passes.

    python benchmarks/bench_attribution.py                                   # vit_base_patch16_224
    python benchmarks/bench_attribution.py --architecture vit_tiny_patch16_224 --repeats 10
    python benchmarks/bench_attribution.py --threads 4

Builds the model from scratch (``pretrained=False``, ``in_chans=1``, ``num_classes=2``, eval mode)
and times one ``(1, 1, 224, 224)`` input; each row is the median of ``--repeats`` calls after one
warm-up call. Rows:

- ``forward``: ``model(x)`` under ``torch.no_grad()``;
- ``forward+backward (input)``: gradient of the target logit w.r.t. the input only
  (``torch.autograd.grad``; no parameter gradients are computed);
- ``forward+backward (params)``: ``logit.backward()`` filling every parameter's ``.grad``
  (a training step's passes, no optimizer step);
- ``AttnLRP float32`` / ``AttnLRP float64``: :class:`engine.explain.vit_lrp.AttnLRP` (epsilon rule,
  AttnLRP attention rules), including the weight copies to the computation dtype;
- ``Chefer2021``: :class:`engine.explain.vit_lrp.Chefer2021` (float32).

The ratio columns divide each median by the three reference rows.
"""

from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import timm
import torch
from timing import median_seconds  # benchmarks/timing.py (the script's folder is on sys.path)

from engine.explain.vit_lrp import AttnLRP, Chefer2021


def main() -> None:
    """Time each attribution and reference pass on one input and print the medians with their ratios."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--architecture", default="vit_base_patch16_224", help="timm ViT name")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per row (after one warm-up)")
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")
    if args.threads > 0:
        torch.set_num_threads(args.threads)

    torch.manual_seed(0)
    model = timm.create_model(args.architecture, pretrained=False, in_chans=1, num_classes=2).eval()
    x = torch.rand(1, 1, 224, 224)
    target = 0

    def forward() -> None:
        with torch.no_grad():
            model(x)

    def input_gradient() -> None:
        inputs = x.clone().requires_grad_(True)
        torch.autograd.grad(model(inputs)[:, target].sum(), inputs)

    def parameter_gradients() -> None:
        model(x)[:, target].sum().backward()
        model.zero_grad(set_to_none=True)

    attn_lrp32 = AttnLRP(model, dtype=torch.float32)
    attn_lrp64 = AttnLRP(model, dtype=torch.float64)
    chefer = Chefer2021(model)
    rows = [
        ("forward", forward),
        ("forward+backward (input)", input_gradient),
        ("forward+backward (params)", parameter_gradients),
        ("AttnLRP float32", lambda: attn_lrp32.attribute(x, target=target)),
        ("AttnLRP float64", lambda: attn_lrp64.attribute(x, target=target)),
        ("Chefer2021 (float32)", lambda: chefer.attribute(x, target=target)),
    ]
    parameters = sum(p.numel() for p in model.parameters())
    print(
        f"{args.architecture}: {parameters / 1e6:.1f} M parameters, input (1, 1, 224, 224), "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.processor() or platform.machine()}, "
        f"median of {args.repeats} after 1 warm-up"
    )
    medians = {name: median_seconds(call, args.repeats) for name, call in rows}
    forward_s = medians["forward"]
    input_s = medians["forward+backward (input)"]
    train_s = medians["forward+backward (params)"]
    header = f"{'method':<27} {'median s':>9} {'x forward':>10} {'x fwd+bwd(input)':>17} {'x fwd+bwd(params)':>18}"
    print(header)
    print("-" * len(header))
    for name, seconds in medians.items():
        print(f"{name:<27} {seconds:>9.3f} {seconds / forward_s:>10.2f} {seconds / input_s:>17.2f} {seconds / train_s:>18.2f}")


if __name__ == "__main__":
    main()
