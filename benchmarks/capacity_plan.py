"""Capacity plan: hours for a catalogue-sized run on 1, 8 and 64 GPU nodes, from measured per-clip costs.

    python benchmarks/bench_costs.py --profile catalogue --json /tmp/catalogue_costs.json   # measure (CPU or --device cuda)
    python benchmarks/capacity_plan.py --costs /tmp/catalogue_costs.json [--clips 50000] [--nodes 1 8 64]

The work is that of ``precompute/profiles/catalogue.toml`` on ``--clips`` ten-second clips (split
80/10/10), and a second scenario that explains *every* clip with every method of both backbones
(``--clips`` x 2 backbones x their methods: maps and sonified audio, no removal tests). Each node has
one GPU and ``--cpus-per-node`` CPUs. What is measured and what is assumed:

- **measured** (the costs file): features per clip, training per clip and epoch, explaining one clip
  with one method, the removal tests and the randomisation check per clip and method, all on the
  device the costs file names; and here, the driver's write rate into DuckDB for relevance-map and
  audio rows (``write_rate_mb_s``: the same :class:`precompute.database.ResultsWriter` a run uses)
  and the size of a stored map and of a sonified clip (``--db``, a built database);
- **assumed** when the costs were measured on a CPU: how much faster a GPU node trains
  (``--gpu-train-speedup``) and explains one clip (``--gpu-explain-speedup``: batch-1 attribution is
  bound by kernel launches, so it gains far less than batched training), and the start-up of one
  explanation actor (process, CUDA, model; ``--actor-start-s``). The plan prints them as ASSUMED;
  ``bench_costs.py --device cuda`` on one GPU node replaces the first two with measurements.

Times: features spread over every CPU; training units (model x seed) placed longest first on the
GPUs; explanation units run one after another on the driver, each over an actor pool of up to one
actor per GPU (so their sum is an upper bound: an explanation overlaps the training of later seeds).
"""

from __future__ import annotations

import argparse
import heapq
import json
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import duckdb
import numpy as np
import pandas as pd

from precompute.database import ResultsWriter
from precompute.profile import load_profile

CELLS = 4  # confusion-matrix cells of a Happy/Sad model
DEFAULT_MAP_BYTES = 224 * 224 * 2  # a float16 224 x 224 map
DEFAULT_AUDIO_BYTES = 55_000  # a stored 10 s clip (measured on the demo: 54,908 bytes)


def write_rate_mb_s(*, rows: int = 400, blob_bytes: int = DEFAULT_MAP_BYTES) -> float:
    """Measure the driver's commit rate (MB/s) of relevance-map rows into a results database."""
    frame = pd.DataFrame({
        "experiment_id": "Perceptual/spectrogram_224/cnn", "seed": 0, "clip_id": [f"clip{i}" for i in range(rows)],
        "method": "gradient_x_input", "target_class": "happy", "signed": True, "scale": 1.0, "height": 224, "width": 224,
        "data": [np.random.default_rng(i).bytes(blob_bytes) for i in range(rows)],
    })
    with tempfile.TemporaryDirectory() as folder:
        writer = ResultsWriter(Path(folder) / "rate.duckdb")
        try:
            started = time.perf_counter()
            writer.write_unit("rate", {"relevance_maps": frame}, run_id=0, seconds=0.0, peak_rss_mb=0.0)
            seconds = time.perf_counter() - started
        finally:
            writer.close()
    return rows * blob_bytes / 2**20 / seconds


def stored_sizes(db: Path | None) -> tuple[float, float]:
    """Mean bytes of one stored relevance map and one stored audio clip (from ``db``, else typical values)."""
    if db is None or not db.is_file():
        return DEFAULT_MAP_BYTES, DEFAULT_AUDIO_BYTES
    con = duckdb.connect(str(db), read_only=True)
    try:
        maps = con.execute("SELECT avg(octet_length(data)) FROM relevance_maps").fetchone()[0]
        audio = con.execute("SELECT avg(octet_length(data)) FROM sonifications").fetchone()[0]
    finally:
        con.close()
    return float(maps or DEFAULT_MAP_BYTES), float(audio or DEFAULT_AUDIO_BYTES)


def makespan(durations: list[float], machines: int) -> float:
    """Longest-first greedy placement of independent jobs on ``machines``: the time the last one ends."""
    ends = [0.0] * max(1, machines)  # a heap of the machines' end times
    for duration in sorted(durations, reverse=True):
        heapq.heapreplace(ends, ends[0] + duration)  # onto the machine that is free first
    return max(ends)


def main() -> None:
    """Print the plan for each cluster size."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--costs", type=Path, required=True, help="a file written by bench_costs.py --json")
    parser.add_argument("--profile", default="catalogue")
    parser.add_argument("--clips", type=int, default=50_000)
    parser.add_argument("--nodes", type=int, nargs="+", default=[1, 8, 64])
    parser.add_argument("--cpus-per-node", type=int, default=8)
    parser.add_argument("--gpu-train-speedup", type=float, default=200.0)
    parser.add_argument("--gpu-explain-speedup", type=float, default=30.0)
    parser.add_argument("--actor-start-s", type=float, default=20.0)
    parser.add_argument("--db", type=Path, default=Path("data/demo.duckdb"), help="a built database, for stored sizes")
    args = parser.parse_args()
    costs = json.loads(args.costs.read_text())
    on_gpu = not str(costs.get("device", "cpu")).startswith("cpu")
    train_factor = 1.0 if on_gpu else args.gpu_train_speedup
    explain_factor = 1.0 if on_gpu else args.gpu_explain_speedup
    profile = load_profile(args.profile)
    map_bytes, audio_bytes = stored_sizes(args.db)
    rate = write_rate_mb_s(blob_bytes=int(map_bytes))
    train_clips, test_clips = int(0.8 * args.clips), int(0.1 * args.clips)

    print(f"costs: {args.costs} ({costs['measured_with']}; {costs['machine']}; device {costs.get('device', 'cpu')})")
    if not on_gpu:
        print(f"ASSUMED (no GPU measurement): a GPU trains {args.gpu_train_speedup:g}x and explains a clip "
              f"{args.gpu_explain_speedup:g}x faster than the measured device; an explanation actor starts in "
              f"{args.actor_start_s:g} s")
    print(f"measured here: driver commit rate {rate:.0f} MB/s of map rows; a stored map {map_bytes / 1e3:.0f} kB, "
          f"a stored audio clip {audio_bytes / 1e3:.0f} kB")

    units, explains, stored_bytes, rows = [], [], 0.0, 0
    for name, section in profile.backbones.items():
        c = costs["backbones"][name]
        methods = len(section.methods)
        unit_s = train_clips * section.epochs * c["train_s_per_clip_epoch"] / train_factor
        explained = min(test_clips, CELLS * section.explain_per_cell + section.faithfulness_clips)
        work_s = (explained * methods * c["explain_s_per_clip_method"]
                  + section.faithfulness_clips * (methods + 1) * c["removal_s_per_clip_method"]
                  + section.sanity_clips * methods * c["sanity_s_per_clip_method"]) / explain_factor
        for _ in section.seeds:
            units.append(unit_s)
            explains.append((work_s, explained))
            stored_bytes += explained * methods * map_bytes + CELLS * section.explain_per_cell * methods * 2 * len(
                profile.sonification.gains) * audio_bytes
            rows += explained * methods * (1 + 2 * 10)  # a map, and the removal scores and curve points
        print(f"[{name}] {c['model']}: training unit {unit_s / 3600:.2f} h on one GPU ({train_clips:,} clips x "
              f"{section.epochs} epochs), explanation {work_s / 3600:.2f} GPU-h per model ({explained} clips x {methods} methods)")
    feature_cpu_s = args.clips * np.mean([costs["backbones"][n]["feature_s_per_clip"] for n in profile.backbones])

    # the second scenario: every clip, every method of both backbones, one model each
    every_s = sum(args.clips * len(s.methods) * costs["backbones"][n]["explain_s_per_clip_method"] / explain_factor
                  for n, s in profile.backbones.items())
    every_maps = args.clips * sum(len(s.methods) for s in profile.backbones.values())
    every_bytes = every_maps * (map_bytes + 2 * audio_bytes)
    biggest_unit_gb = max(args.clips * len(s.methods) for s in profile.backbones.values()) * (map_bytes + 2 * audio_bytes) / 1e9

    print(f"\n{args.profile} profile on {args.clips:,} clips ({len(units)} training units); hours:")
    print(f"{'GPU nodes':>9s} {'features':>9s} {'training':>9s} {'explain':>8s} {'commit':>7s} {'total':>7s}")
    for nodes in args.nodes:
        features_h = feature_cpu_s / (nodes * args.cpus_per_node) / 3600
        training_h = makespan(units, nodes) / 3600
        explain_h = sum(args.actor_start_s + work / min(nodes, clips) for work, clips in explains) / 3600
        commit_h = stored_bytes / 2**20 / rate / 3600
        print(f"{nodes:9d} {features_h:9.2f} {training_h:9.2f} {explain_h:8.2f} {commit_h:7.3f} "
              f"{features_h + training_h + explain_h + commit_h:7.2f}")
    print(f"stored: {stored_bytes / 1e9:.1f} GB of maps and audio")

    print(f"\nevery clip explained: {every_maps:,} maps (+ 2 audio clips each), {every_bytes / 1e9:.0f} GB; hours:")
    print(f"{'GPU nodes':>9s} {'explain':>8s} {'commit':>7s}")
    for nodes in args.nodes:
        explain_h = (every_s / nodes + 2 * args.actor_start_s) / 3600
        print(f"{nodes:9d} {explain_h:8.2f} {every_bytes / 2**20 / rate / 3600:7.2f}")
    print(f"one explanation unit's rows gathered on the driver: {biggest_unit_gb:.0f} GB")


if __name__ == "__main__":
    main()
