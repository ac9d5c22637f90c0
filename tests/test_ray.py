"""Precompute on a Ray cluster (``run --ray``), on a real cluster of two nodes started on this machine.

The nodes (a head and a worker, one CPU each) listen on loopback only. Runs are the command line
in a subprocess, as a user starts them; their rows are compared, by ``tests/fingerprint.py``, with the
local run of the tiny profile (the ``tiny_db`` fixture, which ``tests/test_fingerprint.py`` checks against
the recorded reference) or with the tiny run on the cluster. The faults: a node
lost while units run, the driver killed and the run resumed, a clip a worker cannot read, and an
address that is no cluster.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # keep Ray's addresses on loopback (precompute.cluster)
ray = pytest.importorskip("ray")  # the only reason to skip: Ray is not installed

from fingerprint import fingerprint  # noqa: E402
from helpers import query  # noqa: E402
from test_fingerprint import close  # noqa: E402

from precompute.database import building_path  # noqa: E402

REPOSITORY = Path(__file__).resolve().parents[1]
LOOPBACK = "127.0.0.1"
TINY = (REPOSITORY / "precompute" / "profiles" / "tiny.toml").read_text()


@pytest.fixture(scope="module")
def cluster():
    """Start a head and a second node, one CPU each, on loopback, for the tests of this module."""
    from ray.cluster_utils import Cluster

    started = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "node_ip_address": LOOPBACK,
                                                            "include_dashboard": False})
    try:
        started.add_node(num_cpus=1, node_ip_address=LOOPBACK)
        started.wait_for_nodes()
        yield started
    finally:
        started.shutdown()


@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> Path:
    """Return the cluster's "shared storage": the feature cache every node reads and writes."""
    return tmp_path_factory.mktemp("shared")


def command(profile: str, db: Path, address: str, cache: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "precompute", "run", "--profile", profile, "--db", str(db), "--cache-dir", str(cache),
            "--ray", address, *extra]


@pytest.fixture(scope="module")
def tiny_on_ray(cluster, shared, tmp_path_factory) -> tuple[Path, str]:
    """Build the tiny profile on the cluster, tables of 100 rows or more coming back as Parquet files."""
    db = tmp_path_factory.mktemp("tiny_on_ray") / "tiny.duckdb"
    result = subprocess.run(command("tiny", db, cluster.address, shared / "cache", "--no-progress", "--ray-parquet-rows", "100"),
                            cwd=REPOSITORY, capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stderr
    return db, result.stderr


def smaller_profile(folder: Path) -> Path:
    """Write the tiny profile without its perceptual models: the same dataset, A2E, A2Mid and Mid2E units, quicker."""
    text = TINY[: TINY.index("[vit]")] + TINY[TINY.index("[sonification]"):]
    path = folder / "tiny_cluster.toml"
    path.write_text(text.replace('name = "tiny"', 'name = "tiny_cluster"'))
    return path


def restricted_fingerprint(db: Path, experiments_of: Path, folder: Path) -> dict:
    """Fingerprint of ``db`` keeping, in tables with an experiment id, only the experiments of ``experiments_of``."""
    copy = folder / f"{db.stem}-restricted-{experiments_of.stem}.duckdb"
    copy.unlink(missing_ok=True)
    con = duckdb.connect(str(copy))
    try:
        con.execute(f"ATTACH '{db}' AS source (READ_ONLY)")
        con.execute(f"ATTACH '{experiments_of}' AS chosen (READ_ONLY)")
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_catalog = 'source'").fetchall()]
        for table in tables:
            names = [r[0] for r in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_catalog = 'source' AND table_name = ?",
                [table]).fetchall()]
            where = "WHERE experiment_id IN (SELECT experiment_id FROM chosen.experiments)" if "experiment_id" in names else ""
            con.execute(f'CREATE TABLE "{table}" AS SELECT * FROM source."{table}" {where}')
    finally:
        con.close()
    return fingerprint(copy)


def differences(recorded: dict, now: dict) -> list[str]:
    assert sorted(now) == sorted(recorded), "tables differ"
    return [f"{table}.{column}: expected {recorded[table].get(column)!r}, got {value!r}"
            for table, columns in now.items() for column, value in columns.items()
            if not close(recorded[table].get(column), value)]


class Driver:
    """A run in a subprocess whose progress (the ``run`` bar on stderr) is followed as it goes."""

    def __init__(self, args: list[str]) -> None:
        self.process = subprocess.Popen(args, cwd=REPOSITORY, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                        start_new_session=True)
        self.stderr = b""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for chunk in iter(lambda: self.process.stderr.read1(4096), b""):
            self.stderr += chunk

    def units_done(self) -> int:
        counts = re.findall(rb"run: +\d+%\|[^|]*\| (\d+)/\d+", self.stderr)
        return int(counts[-1]) if counts else 0

    def wait_for_units(self, at_least: int, timeout: float = 600) -> None:
        deadline = time.monotonic() + timeout
        while self.units_done() < at_least:
            assert self.process.poll() is None, self.text()
            assert time.monotonic() < deadline, f"no {at_least} units done in {timeout} s:\n{self.text()}"
            time.sleep(0.2)

    def finish(self, timeout: float = 900) -> int:
        code = self.process.wait(timeout=timeout)
        self._reader.join(timeout=10)
        return code

    def text(self) -> str:
        return self.stderr.decode(errors="replace").replace("\r", "\n")


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


@pytest.mark.slow
def test_the_tiny_profile_on_a_two_node_cluster_gives_the_rows_of_the_local_run(tiny_on_ray, tiny_db):
    db, stderr = tiny_on_ray
    problems = differences(fingerprint(tiny_db), fingerprint(db))  # tiny_db: the local run (conftest.py)
    assert not problems, "\n".join(problems)
    (cluster_json, device), = query(db, "SELECT cluster, device FROM runs WHERE status = 'finished'")
    described = json.loads(cluster_json)
    assert described["nodes"] == 2 and described["cpus"] == 2 and described["gpus"] == 0
    assert described["ray_version"] == ray.__version__ and device == "cpu"
    assert re.search(r"as Parquet files", stderr) and not re.search(r"0 \(0 rows\) as Parquet", stderr), stderr


@pytest.mark.slow
def test_a_node_lost_while_units_run_leaves_a_run_that_finishes_with_the_same_rows(cluster, shared, tiny_on_ray, tmp_path):
    reference, _ = tiny_on_ray
    profile = smaller_profile(tmp_path)
    db = tmp_path / "lost_node.duckdb"
    driver = Driver(command(str(profile), db, cluster.address, shared / "cache"))
    worker = next(node for node in cluster.list_all_nodes() if not node.head)  # the driver is attached to the head
    try:
        driver.wait_for_units(at_least=3)
        lost_at = now_utc()
        cluster.remove_node(worker, allow_graceful=False)  # killed, as a machine that goes away
        assert driver.finish() == 0, driver.text()
    finally:
        if driver.process.poll() is None:
            os.killpg(driver.process.pid, signal.SIGKILL)
        cluster.add_node(num_cpus=1, node_ip_address=LOOPBACK)  # back to two nodes for the next tests
        cluster.wait_for_nodes()
    finished = [row[0] for row in query(db, "SELECT finished_at FROM work_units")]
    assert min(finished) < lost_at < max(finished)  # units finished before the loss and after it
    expected = restricted_fingerprint(reference, db, tmp_path)
    problems = differences(expected, restricted_fingerprint(db, db, tmp_path))
    assert not problems, "\n".join(problems)


@pytest.mark.slow
def test_a_killed_driver_resumes_from_its_finished_units(cluster, shared, tiny_on_ray, tmp_path):
    reference, _ = tiny_on_ray
    profile = smaller_profile(tmp_path)
    db = tmp_path / "killed.duckdb"
    first = Driver(command(str(profile), db, cluster.address, shared / "cache"))
    try:
        first.wait_for_units(at_least=5)
    finally:
        os.killpg(first.process.pid, signal.SIGKILL)
        first.finish()
    assert building_path(db).exists() and not db.exists()
    second = subprocess.run(command(str(profile), db, cluster.address, shared / "cache", "--no-progress"), cwd=REPOSITORY,
                            capture_output=True, text=True, timeout=900)
    assert second.returncode == 0, second.stderr
    assert "resuming unfinished build" in second.stderr and "an earlier run on this database was killed" in second.stderr
    done_before = int(re.search(r"(\d+) of (\d+) units already done", second.stderr)[1])
    assert done_before >= 5
    assert dict(query(db, "SELECT status, count(*) FROM runs GROUP BY ALL")) == {"killed": 1, "finished": 1}
    expected = restricted_fingerprint(reference, db, tmp_path)
    problems = differences(expected, restricted_fingerprint(db, db, tmp_path))
    assert not problems, "\n".join(problems)


def test_a_clip_a_worker_cannot_read_is_skipped_with_the_node_named(cluster, tmp_path):
    import numpy as np
    import soundfile as sf

    from engine.datasets.folder import FolderConfig, FolderDataset
    from engine.vocabulary import SAMPLE_RATE
    from precompute.cluster import connect, extract_features
    from precompute.context import RunContext

    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    for label in ("happy", "sad"):
        (tmp_path / "clips" / label).mkdir(parents=True)
        for i in range(3):
            tone = (0.1 * np.sin(2 * np.pi * (220 + 40 * i) * t)).astype(np.float32)
            sf.write(tmp_path / "clips" / label / f"{i}.wav", tone, SAMPLE_RATE)
    dataset = FolderDataset(FolderConfig(root=tmp_path / "clips"))
    ctx = RunContext(profile=None, dataset=dataset, records=dataset.records(), clip_seconds=1.0, device="cpu",
                     cache_dir=tmp_path / "cache", writer=None, representations=("mean_chroma",), show_progress=False)
    (tmp_path / "clips" / "sad" / "1.wav").unlink()  # listed by the driver, gone for the worker
    connected = connect(cluster.address)
    try:
        extract_features(ctx)
    finally:
        connected.close()
    features = ctx.features()
    assert len(features.clip_ids) == 5 and features.arrays["mean_chroma"].shape == (5, 12)
    (reason,) = features.skipped.values()
    assert reason.endswith(f"no such file (on node {socket.gethostname()} {LOOPBACK})"), reason
    assert "\n" not in reason


def test_per_clip_work_runs_on_an_actor_pool_that_sets_up_once_per_actor_and_keeps_task_order(cluster):
    from precompute.cluster import connect, map_on_actors

    def setup(payload):  # stands for loading a model: runs once per actor
        import os
        import uuid

        return {"actor": f"{os.getpid()}-{uuid.uuid4().hex}", "scale": payload}

    def work(state, task):
        return state["actor"], task * state["scale"]

    connected = connect(cluster.address)
    try:
        results = list(map_on_actors(setup=setup, payload=3, work=work, tasks=list(range(9)), device="cpu"))
    finally:
        connected.close()
    assert [value for _, value in results] == [3 * t for t in range(9)]  # in task order, whichever actor ran it
    actors = [actor for actor, _ in results]
    assert len(set(actors)) == 2  # one actor per 1-CPU node, each set up once for its several batches
    assert all(actors.count(a) > 1 for a in set(actors))


@pytest.mark.parametrize(("environment", "token_file", "hinted"), [
    ({}, True, True),                                   # ray start on loopback wrote ~/.ray/auth_token
    ({}, False, False),                                 # no token anywhere
    ({"RAY_AUTH_TOKEN": "secret"}, False, True),
    ({"RAY_AUTH_MODE": "token"}, True, False),          # the token is sent already
])
def test_a_failed_connection_hints_at_token_mode_when_a_token_is_found(monkeypatch, tmp_path, environment, token_file, hinted):
    from precompute.cluster import _auth_hint

    for name in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HOME", str(tmp_path))
    if token_file:
        (tmp_path / ".ray").mkdir()
        (tmp_path / ".ray" / "auth_token").write_text("secret")
    assert ("RAY_AUTH_MODE=token" in _auth_hint()) is hinted


def test_only_a_task_with_more_threads_than_cpus_waits_passively():
    from precompute.cluster import worker_environment

    assert worker_environment(reserved_cpus=1, threads=2) == {"env_vars": {"OMP_WAIT_POLICY": "PASSIVE"}}
    assert worker_environment(reserved_cpus=2, threads=2) is None  # spinning is faster when threads fit


def test_an_unreachable_address_gives_one_line_and_exit_2_at_once(tmp_path):
    closed = socket.socket()
    closed.bind((LOOPBACK, 0))
    free_port = closed.getsockname()[1]
    closed.close()
    db = tmp_path / "never.duckdb"
    started = time.monotonic()
    result = subprocess.run(command("tiny", db, f"{LOOPBACK}:{free_port}", tmp_path / "cache"), cwd=REPOSITORY,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        f"error: cannot reach the Ray cluster at {LOOPBACK}:{free_port} ({LOOPBACK}:{free_port}): Connection refused"]
    assert time.monotonic() - started < 60 and not db.exists() and not building_path(db).exists()


def test_an_address_that_answers_but_is_no_cluster_and_a_malformed_one_are_refused_in_one_line():
    from precompute.cluster import ClusterError, connect

    silent = socket.socket()  # accepts connections, says nothing
    silent.bind((LOOPBACK, 0))
    silent.listen()
    try:
        for address, expected in ((f"{LOOPBACK}:{silent.getsockname()[1]}", "accepts connections but is not a Ray cluster"),
                                  ("no-port-here", "expected auto, local or HOST:PORT")):
            started = time.monotonic()
            with pytest.raises(ClusterError, match=expected) as refused:
                connect(address, timeout_s=2.0)
            assert "\n" not in str(refused.value) and time.monotonic() - started < 10
    finally:
        silent.close()


def test_without_ray_the_engine_and_the_command_line_never_import_it():
    code = ("import sys; import precompute.cli, precompute.pipeline, precompute.cluster; "
            "sys.exit(1 if 'ray' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code], cwd=REPOSITORY, timeout=120).returncode == 0
