"""Time and memory of a whole profile run, per work unit and per stage.

    python benchmarks/bench_profile.py --profile demo
    python benchmarks/bench_profile.py --profile soundtracks --data-root ../shared/data
    python benchmarks/bench_profile.py --from-db data/soundtracks.duckdb   # report a finished run


Runs ``python -m precompute run --fresh`` into a temporary database (the default database is left
alone), then prints wall time, peak resident memory, and each unit's seconds and the process's peak
memory when it finished. Feature caches under data/cache are used if present; pass --cold to time
feature extraction too.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

REPOSITORY = Path(__file__).resolve().parents[1]


def main() -> None:
    """Run the profile into a temporary database (or read ``--from-db``) and print its time and memory."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="demo")
    parser.add_argument("--data-root", type=Path)
    parser.add_argument("--cold", action="store_true", help="delete the feature caches first")
    parser.add_argument("--from-db", type=Path, help="only report the units of an existing database's runs")
    args = parser.parse_args()
    if args.from_db:
        con = duckdb.connect(str(args.from_db), read_only=True)
        units = con.execute("SELECT unit, seconds, peak_rss_mb FROM work_units ORDER BY finished_at").fetchall()
        wall = con.execute("SELECT sum(date_diff('millisecond', started_at, finished_at)) / 1000 FROM runs").fetchone()[0]
        print(f"{args.from_db}: runs took {wall:.1f} s in all ({wall / 60:.2f} min), peak memory {max(u[2] for u in units):.0f} MB")
        report(units, wall)
        return
    if args.cold:
        shutil.rmtree(REPOSITORY / "data" / "cache", ignore_errors=True)
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / f"{args.profile}.duckdb"
        command = [sys.executable, "-m", "precompute", "run", "--profile", args.profile, "--db", str(db), "--fresh", "--no-progress"]
        if args.data_root:
            command += ["--data-root", str(args.data_root)]
        started = time.perf_counter()
        subprocess.run(command, cwd=REPOSITORY, check=True)
        wall = time.perf_counter() - started
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        con = duckdb.connect(str(db), read_only=True)
        units = con.execute("SELECT unit, seconds, peak_rss_mb FROM work_units ORDER BY finished_at").fetchall()
        size_mb = db.stat().st_size / 2**20
    print(f"\nprofile {args.profile}: wall {wall:.1f} s ({wall / 60:.2f} min), peak memory {peak_mb:.0f} MB, database {size_mb:.1f} MB")
    report(units, wall)


def report(units: list[tuple[str, float, float]], wall: float) -> None:
    """Per-unit seconds and peak memory, then the sum per stage."""
    print(f"{'unit':66s} {'seconds':>8s} {'peak MB':>8s}")
    stages: dict[str, float] = {}
    for unit, seconds, peak in units:
        print(f"{unit:66s} {seconds:8.1f} {peak:8.0f}")
        stage = unit.split("/")[0].split("#")[0]
        stages[stage] = stages.get(stage, 0.0) + seconds
    print("\nper stage: " + ", ".join(f"{k} {v:.1f} s" for k, v in stages.items()))
    print(f"start-up, imports and writing (wall minus units): {wall - sum(stages.values()):.1f} s")


if __name__ == "__main__":
    main()
