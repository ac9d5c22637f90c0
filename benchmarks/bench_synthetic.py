"""Time the synthetic corpus renderer on one core and print seconds per clip and real-time factor.

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_synthetic.py [--clips 40] [--seconds 10] [--repeats 3]

The requirement is at least 100x real time on one core (a 10 s clip in under 100 ms).
"""

from __future__ import annotations

import os

# Thread pools must be capped before numpy (or anything importing it) is loaded.
_THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
for _variable in _THREAD_VARIABLES:
    os.environ[_variable] = "1"

import argparse
import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from threadpoolctl import threadpool_limits

from engine.datasets.synthetic import SyntheticConfig, SyntheticCorpus


def pin_to_one_core() -> str:
    """Restrict this process to a single CPU where the OS allows it; describe the outcome."""
    if not hasattr(os, "sched_setaffinity"):
        return "affinity not supported; thread pools limited to 1"
    core = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})
    return f"pinned to CPU {core}"


def time_renders(corpus: SyntheticCorpus, clip_ids: list[str]) -> list[float]:
    """Wall-clock seconds to render each clip (mixture, stems and score)."""
    durations = []
    for clip_id in clip_ids:
        start = time.perf_counter()
        corpus.render(clip_id)
        durations.append(time.perf_counter() - start)
    return durations


def main() -> None:
    """Time the renderer on one core and print seconds per clip, the real-time factor and the verdict."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=40, help="clips rendered per repeat")
    parser.add_argument("--seconds", type=float, default=10.0, help="clip length in seconds")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes over the clips")
    args = parser.parse_args()

    placement = pin_to_one_core()
    corpus = SyntheticCorpus(SyntheticConfig(clip_seconds=args.seconds))
    clip_ids = [record.clip_id for record in corpus.records()][: args.clips]

    with threadpool_limits(limits=1):
        time_renders(corpus, clip_ids[:3])  # warm-up: imports, caches, page faults
        passes = [time_renders(corpus, clip_ids) for _ in range(args.repeats)]

    per_clip = [statistics.mean(p) for p in passes]  # mean seconds per clip of each pass
    best, median = min(per_clip), statistics.median(per_clip)
    slowest = max(max(p) for p in passes)
    print(f"synthetic corpus render benchmark ({placement})")
    print(f"clips: {len(clip_ids)} x {args.seconds:g} s, repeats: {args.repeats}")
    print(
        f"seconds per clip: best pass {best * 1e3:.1f} ms, median pass {median * 1e3:.1f} ms,"
        f" slowest single clip {slowest * 1e3:.1f} ms"
    )
    print(
        f"real-time factor: {args.seconds / best:.0f}x (best pass),"
        f" {args.seconds / median:.0f}x (median pass)"
    )
    print(f"requirement >= 100x real time: {'met' if args.seconds / median >= 100 else 'NOT met'}")


if __name__ == "__main__":
    main()
