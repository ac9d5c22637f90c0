"""Rows from Ray workers to the driver's database: through Ray's object store, or as Parquet on shared storage.

    python benchmarks/bench_ray.py [--ray HOST:PORT] [--rows 1000 10000 100000 300000 1000000] [--repeats 5] [--folder DIR]

A worker task builds N per-clip rows shaped like the ``predictions`` table (experiment id, seed,
clip id, target, two floats) and hands them to the driver, which commits them into a results
database with :meth:`precompute.database.ResultsWriter.write_unit`, as a ``--ray`` run does:

- **object store**: the task returns the data frame; the driver receives and deserialises it;
- **parquet**: the task writes it as a Parquet file into ``--folder`` (shared storage on a real
  cluster) and returns the path; DuckDB on the driver reads the file inside the commit.

Both go through the functions a run uses (``precompute.cluster._spill``). The time is from submitting
the task to the commit, median of ``--repeats``; building the rows, the same for both, is printed
apart. The crossover is the smallest N at which Parquet is faster; ``precompute.cluster.PARQUET_MIN_ROWS``
is set from it. Without ``--ray`` a cluster of two nodes with one CPU each is started on this
machine (loopback only), so the "network" is local: on a real cluster the object store's transfer
between machines and the shared file system's speed both move the crossover.
"""

from __future__ import annotations

import argparse
import os
import pickle
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import pandas as pd

from precompute.cluster import _delete_spilled, _spill, connect
from precompute.database import ParquetRows, ResultsWriter


def make_rows(n: int, seed: int = 0) -> pd.DataFrame:
    """Return ``n`` rows shaped like ``predictions`` (8 targets per clip) for one ``seed`` (a key column)."""
    targets = np.array(["angry", "anxious", "beauty", "happy", "sad", "tender", "valence", "energy"], dtype=object)
    clips = (n + len(targets) - 1) // len(targets)
    rng = np.random.default_rng(n)
    return pd.DataFrame({
        "experiment_id": "A2E/spectrogram/cnn",
        "seed": seed,
        "clip_id": np.repeat(np.array([f"catalogue/album{c // 12:05d}/track{c:07d}" for c in range(clips)], dtype=object),
                             len(targets))[:n],
        "target": np.tile(targets, clips)[:n],
        "predicted": rng.normal(4.0, 1.0, n),
        "actual": rng.normal(4.0, 1.0, n),
    })


def produce(n: int, seed: int, folder: str, min_rows: int) -> dict:
    """On a worker: build the rows and hand them back as a run's unit does (Parquet from ``min_rows`` rows on)."""
    return _spill({"predictions": make_rows(n, seed)}, Path(folder), min_rows=min_rows)


def build_only(n: int) -> int:
    """On a worker: build the rows and return nothing (the part both ways share)."""
    return len(make_rows(n))


def main() -> None:
    """Time both ways for each row count and print the figures and the crossover."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ray", default=None, help="HOST:PORT of a running cluster (default: start two nodes here)")
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000, 10_000, 100_000, 300_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--folder", type=Path, default=None, help="shared folder for the Parquet files (default: a temporary one)")
    args = parser.parse_args()

    import ray

    local = None
    if args.ray is None:
        os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # keep every address on loopback (precompute.cluster)
        from ray.cluster_utils import Cluster

        local = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "node_ip_address": "127.0.0.1",
                                                              "include_dashboard": False,
                                                              "object_store_memory": 1_000_000_000})
        local.add_node(num_cpus=1, node_ip_address="127.0.0.1", object_store_memory=1_000_000_000)
        local.wait_for_nodes()
    cluster = connect(args.ray or local.address)
    work = Path(tempfile.mkdtemp(prefix="bench_ray-"))
    folder = args.folder or work / "shared"
    folder.mkdir(parents=True, exist_ok=True)
    writer = ResultsWriter(work / "bench.duckdb")
    task = ray.remote(num_cpus=1)(produce)
    build = ray.remote(num_cpus=1)(build_only)
    counter = iter(range(1_000_000))

    def once(n: int, min_rows: int) -> tuple[float, float]:
        unit = next(counter)
        started = time.perf_counter()
        rows = ray.get(task.remote(n, unit, str(folder), min_rows))
        writer.write_unit(f"unit{unit}", rows, run_id=1, seconds=0.0, peak_rss_mb=0.0)
        seconds = time.perf_counter() - started
        frame = rows["predictions"]
        moved = os.path.getsize(frame.path) if isinstance(frame, ParquetRows) else _pickled_size(frame)
        _delete_spilled(rows)
        return seconds, moved / 1e6

    def median_of(n: int, min_rows: int) -> tuple[float, float]:
        runs = [once(n, min_rows) for _ in range(args.repeats)]
        return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)

    figures = []
    try:
        for n in args.rows:
            ray.get(build.remote(n))  # warm-up: worker start and imports
            building = statistics.median(_timed(lambda n=n: ray.get(build.remote(n))) for _ in range(args.repeats))
            store, store_mb = median_of(n, min_rows=n + 1)
            parquet, parquet_mb = median_of(n, min_rows=0)
            figures.append((n, building, store, parquet, store_mb, parquet_mb))
            writer.con.execute("DELETE FROM predictions")
    finally:
        writer.close()
        cluster.close()
        if local is not None:
            local.shutdown()
        shutil.rmtree(work, ignore_errors=True)

    d = cluster.description
    print(f"Ray {d['ray_version']}, {d['nodes']} nodes, {d['cpus']:g} CPUs; median of {args.repeats}; seconds from "
          "submitting the task to the committed unit; MB: what crosses from the worker (pickled frame, Parquet file)")
    print(f"{'rows':>10}{'build rows':>12}{'object store':>14}{'parquet':>10}{'parquet/store':>15}"
          f"{'store MB':>10}{'parquet MB':>12}")
    for n, building, store, parquet, store_mb, parquet_mb in figures:
        print(f"{n:>10,}{building:>12.3f}{store:>14.3f}{parquet:>10.3f}{parquet / store:>15.2f}{store_mb:>10.0f}"
              f"{parquet_mb:>12.0f}")
    faster = [n for n, _, store, parquet, _, _ in figures if parquet < store]
    print(f"crossover: Parquet is faster from {faster[0]:,} rows on" if faster else "crossover: Parquet was never faster")


def _pickled_size(frame: pd.DataFrame) -> int:
    """Bytes of the frame as Ray serialises it (pickle 5, buffers out of band)."""
    buffers: list[pickle.PickleBuffer] = []
    head = pickle.dumps(frame, protocol=5, buffer_callback=buffers.append)
    return len(head) + sum(buffer.raw().nbytes for buffer in buffers)


def _timed(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
