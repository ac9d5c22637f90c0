"""From a folder of labelled clips to a finished perceptual-route run: the time ``new-profile`` promises and the time taken.

Generates a folder of ``--clips`` ten-second clips (Happy: bright, fast major notes; Sad: dark, slow
minor ones; five clips per "song", a CSV with path, label, group and a train/test split), then runs
the README's commands in a scratch folder and prints the profile's estimate beside the measured
wall time of each step.

    python benchmarks/bench_own_data.py --clips 2000 --budget-minutes 20
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

REPOSITORY = Path(__file__).resolve().parents[1]
RATE = 22_050


def clip(*, happy: bool, seed: int, seconds: float) -> np.ndarray:
    """Return a ten-second tone clip: bright, fast major notes (happy) or dark, slow minor ones (sad)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    root = rng.uniform(330, 440) if happy else rng.uniform(110, 165)
    steps, note, decay = ((0, 4, 7, 12), 0.15, 8) if happy else ((0, 3, 7, 10), 0.6, 2)
    start = np.floor(t / note) * note
    pitch = root * 2 ** (np.take(steps, (start / note).astype(int) % 4) / 12)
    y = np.sin(2 * np.pi * pitch * t) * np.exp(-(t - start) * decay)
    return (0.3 * y + 0.01 * rng.normal(size=t.size)).astype(np.float32)


def write_folder(root: Path, *, n_clips: int, seconds: float, clips_per_song: int = 5) -> None:
    """Write ``n_clips`` WAVs under ``root`` and ``root/labels.csv`` (a fifth of the songs in test)."""
    rows = ["path,label,group,split"]
    for i in range(n_clips):
        song = i // clips_per_song
        label = "Happy" if song % 2 == 0 else "Sad"
        split = "test" if song % 5 == 4 else "train"
        relative = f"{split}/{label}/{label}{i:05d}.wav"
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        sf.write(root / relative, clip(happy=label == "Happy", seed=i, seconds=seconds), RATE)
        rows.append(f"{relative},{label},song{song:04d},{split}")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")


def timed(args: list[str], *, cwd: Path) -> tuple[float, subprocess.CompletedProcess]:
    """Run ``python -m precompute <args>`` in ``cwd``; return its wall time and result (exits on failure)."""
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "precompute", *args], cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"python -m precompute {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return seconds, result


def main() -> None:
    """Generate the folder, run new-profile and the run it writes, and print estimate and measured times."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each clip")
    parser.add_argument("--budget-minutes", type=float, default=20.0)
    parser.add_argument("--backbone", default="cnn", choices=("cnn", "vit"))
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder (its path is printed)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="own_data_"))
    try:
        started = time.perf_counter()
        write_folder(work / "clips", n_clips=args.clips, seconds=args.seconds)
        print(f"generated {args.clips} clips of {args.seconds:g} s in {time.perf_counter() - started:.0f} s ({work / 'clips'})")
        seconds, result = timed(["new-profile", "--root", "clips", "--labels-csv", "labels.csv", "--backbone", args.backbone,
                                 "--budget-minutes", str(args.budget_minutes), "--clip-seconds", f"{args.seconds:g}"], cwd=work)
        print(f"new-profile: {seconds:.1f} s\n  " + result.stdout.strip().replace("\n", "\n  "))
        estimate = next(line for line in (work / "clips.toml").read_text().splitlines() if line.startswith("# Sized for"))
        seconds, _ = timed(["run", "--profile", "clips.toml", "--db", "clips.duckdb", "--cache-dir", "cache", "--no-progress"],
                           cwd=work)
        print(f"run: {seconds / 60:.1f} min measured; profile says: {estimate.removeprefix('# ')}")
        _, summary = timed(["summary", "--db", "clips.duckdb"], cwd=work)
        print("\n".join(summary.stdout.splitlines()[:8]))
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
