"""Time the harmony analysis (chords, key) and the mid-level estimators per 10 s clip.

    python benchmarks/bench_harmony.py [--clips 10] [--repeats 5]

Clips come from the synthetic corpus. The target is at most 100 ms of harmony analysis per 10 s clip
(it runs once per clip of every dataset); the estimators' time is printed beside it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.datasets.synthetic import SyntheticConfig, SyntheticCorpus
from engine.music.descriptors import estimate_midlevel
from engine.music.harmony import analyse_harmony

TARGET_MS = 100.0


def main() -> None:
    """Time the harmony analysis and the estimators per clip and print whether the target is met."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    corpus = SyntheticCorpus(SyntheticConfig(n_songs=args.clips, clips_per_song=1, clip_seconds=10.0, seed=3))
    clips = [corpus.load(record.clip_id) for record in corpus.records()]
    analyse_harmony(clips[0])  # warm-up: imports and Essentia's set-up
    rows = {}
    for name, function in (("harmony", analyse_harmony), ("mid-level estimators", estimate_midlevel)):
        times = []
        for _ in range(args.repeats):
            for y in clips:
                started = time.perf_counter()
                function(y)
                times.append(1000 * (time.perf_counter() - started))
        rows[name] = times
    print(f"{len(clips)} synthetic 10 s clips x {args.repeats} repeats (ms per clip)")
    print(f"{'':<24}{'p50':>8}{'p95':>8}{'max':>8}")
    for name, times in rows.items():
        ordered = sorted(times)
        print(f"{name:<24}{statistics.median(times):>8.1f}{ordered[int(0.95 * (len(times) - 1))]:>8.1f}{max(times):>8.1f}")
    median = statistics.median(rows["harmony"])
    print(f"harmony target <= {TARGET_MS:.0f} ms per clip (median): {'met' if median <= TARGET_MS else 'NOT met'}")


if __name__ == "__main__":
    main()
