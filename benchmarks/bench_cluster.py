"""A profile run on this machine alone, on a 1-node and on a 2-node Ray cluster: wall time, peak memory, Ray's overhead.

    python benchmarks/bench_cluster.py [--profile demo] [--modes local ray1 ray2]

Each mode runs ``python -m precompute run --profile P --fresh`` into a temporary database:

- **local**: no ``--ray`` (feature processes and units on this machine, as ``make database`` runs them);
- **ray1**: ``ray start --head`` with every CPU of this machine, then ``--ray 127.0.0.1:PORT`` (the
  README's commands, on loopback);
- **ray2**: a head and a second node with half the CPUs each, on this machine. They are started with
  ``ray.cluster_utils.Cluster``, as the tests do: a second ``ray start --address`` on one machine
  either refuses to join a loopback head or rewrites its address to the machine's outward IP.

Every Ray address is on loopback (``127.0.0.1``). The feature cache is used as
found (run ``make database`` once first, so that no mode pays for decoding the corpus), so the
modes compare the units. Peak memory is that of the whole machine (``MemTotal - MemAvailable``,
sampled every 0.2 s) above what was in use before the mode started: Ray's own processes (GCS,
raylets, workers, object store) count, as they would on a cluster. The overhead is each mode's wall
time over the local run's. The cluster is stopped after each mode. Nothing else may run meanwhile.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Iterator

REPOSITORY = Path(__file__).resolve().parents[1]
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # keep every Ray address on loopback (precompute.cluster)
RAY = str(Path(sys.executable).with_name("ray"))
PORT = 6391


def used_mb() -> float:
    """Memory in use on the machine, in MB (MemTotal - MemAvailable)."""
    values = {}
    for line in Path("/proc/meminfo").read_text().splitlines():
        name, amount = line.split(":", 1)
        values[name] = int(amount.split()[0])
    return (values["MemTotal"] - values["MemAvailable"]) / 1024


class PeakMemory:
    """Samples the machine's used memory in a thread; ``peak_mb`` is the largest sample above the first."""

    def __init__(self) -> None:
        self.baseline = used_mb()
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.2):
            self.peak_mb = max(self.peak_mb, used_mb() - self.baseline)

    def __enter__(self) -> "PeakMemory":
        """Start sampling."""
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        """Stop sampling."""
        self._stop.set()
        self._thread.join()


def ray(*args: str) -> None:
    """Run the ``ray`` command line of this environment, Ray kept on loopback."""
    subprocess.run([RAY, *args], check=True, capture_output=True, text=True)


@contextlib.contextmanager
def cluster(nodes: int) -> Iterator[str]:
    """Run a Ray cluster of ``nodes`` nodes on loopback, sharing this machine's CPUs; yield its address."""
    each = max(1, (os.cpu_count() or 2) // nodes)
    if nodes == 1:
        ray("start", "--head", f"--port={PORT}", "--node-ip-address=127.0.0.1", f"--num-cpus={each}", "--num-gpus=0",
            "--include-dashboard=false", "--disable-usage-stats")
        try:
            yield f"127.0.0.1:{PORT}"
        finally:
            ray("stop", "--force")
        return
    from ray.cluster_utils import Cluster

    started = Cluster(initialize_head=True, head_node_args={"num_cpus": each, "node_ip_address": "127.0.0.1",
                                                            "include_dashboard": False})
    try:
        for _ in range(nodes - 1):
            started.add_node(num_cpus=each, node_ip_address="127.0.0.1")
        started.wait_for_nodes()
        yield started.address
    finally:
        started.shutdown()


def run_profile(profile: str, *, ray_address: str | None, token: bool = False) -> float:
    """Run the profile into a temporary database (on the cluster at ``ray_address``); return the wall seconds."""
    with tempfile.TemporaryDirectory() as folder:
        environment = dict(os.environ)
        if token:
            environment["RAY_AUTH_MODE"] = "token"  # ray start on loopback turns token authentication on
        command = [sys.executable, "-m", "precompute", "run", "--profile", profile, "--db", str(Path(folder) / "bench.duckdb"),
                   "--fresh", "--no-progress"]
        if ray_address:
            command += ["--ray", ray_address]
        started = time.perf_counter()
        done = subprocess.run(command, cwd=REPOSITORY, capture_output=True, text=True, env=environment)
        if done.returncode:
            raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
        return time.perf_counter() - started


def main() -> None:
    """Run the profile in each mode and print wall time, peak memory and overhead."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="demo")
    parser.add_argument("--modes", nargs="+", default=["local", "ray1", "ray2"], choices=["local", "ray1", "ray2"])
    args = parser.parse_args()
    print(f"profile {args.profile}, {os.cpu_count()} CPUs", flush=True)
    rows = []
    for mode in args.modes:
        with PeakMemory() as memory:  # the cluster's own processes count
            if mode == "local":
                wall = run_profile(args.profile, ray_address=None)
            else:
                with cluster(1 if mode == "ray1" else 2) as address:
                    wall = run_profile(args.profile, ray_address=address, token=mode == "ray1")
        rows.append((mode, wall, memory.peak_mb))
        print(f"{mode:6s} wall {wall:7.1f} s   peak memory +{memory.peak_mb:6.0f} MB", flush=True)
    local = next((wall for mode, wall, _ in rows if mode == "local"), None)
    print(f"\n{'mode':6s} {'wall s':>8s} {'peak MB':>8s} {'overhead':>9s}")
    for mode, wall, peak in rows:
        overhead = f"{100 * (wall / local - 1):+8.1f}%" if local else "        -"
        print(f"{mode:6s} {wall:8.1f} {peak:8.0f} {overhead}")


if __name__ == "__main__":
    main()
