"""Running a profile on a Ray cluster: ``python -m precompute run --ray ADDRESS``.

Ray is imported here only, and only when ``--ray`` is given: a run on one machine and the
dashboard never import it. The design:

- **Features** are extracted by batched Ray tasks over the clips (one CPU each, retried on another
  node when a node is lost). Each task reads the audio from the dataset's path, which must be the
  same on every node, writes the per-clip feature cache (shared too) and returns the arrays through
  the object store; the driver stacks them in record order, as :func:`precompute.context.gather_features`
  does for a local run. A clip a worker cannot read is skipped with the usual reason and the node's name.
- **Units** (:class:`precompute.stages.Unit`) become Ray tasks, submitted as soon as the units they
  need have finished. A task does not receive the unit's closure (it holds the driver's database
  connection): it receives a copy of the run's context without the writer, the features through the
  object store (one copy per node, read without copying), and the unit's name; it re-plans the run
  on the worker (cheap: no data is read) and runs that unit. Training units ask for a GPU when the
  run's device is ``cuda``. Seeds are set by each unit (``seed_everything``), never per process.
- **Threads** are those of a run on the driver's machine: a unit's task uses as many torch and BLAS
  threads as the driver would (a feature task one torch thread, as a local feature process does),
  because the order of a parallel sum, and so the last bit of a result, depends on the thread
  count, and training amplifies it. So a Ray run gives the rows that a local run on the driver gives.
  A unit's task reserves as many CPUs as it uses threads, up to the largest node's CPUs.
- **Units that read the database** (those with ``needs``: Mid2E on predicted descriptors, the
  perceptual drum contrast) run on the driver, where the one database connection is, once the units
  they need are committed. They are light (ridge, small MLPs, a bootstrap).
- **Rows** come back to the driver, which stays the only writer and commits unit by unit into the
  ``.building`` database, so resuming, provenance and the atomic swap work as on one machine. A
  table of at least :data:`PARQUET_MIN_ROWS` rows is written by the worker as a Parquet file in a
  folder on shared storage (under the feature cache) and ingested by DuckDB on the driver, instead
  of travelling through the object store (``benchmarks/bench_ray.py`` measured where that pays).

- **Per-clip work** of a trained model (its relevance maps per method, sonifications, removal curves,
  causal stem checks and randomisation checks: :func:`precompute.stages.perceptual.explain`) runs on
  an actor pool (:func:`map_on_actors`): each actor loads the model once, from its stored weights,
  and takes batches of clips; results come back in clip order. The explanation unit that submits
  it reads the model from the database, so it runs on the driver, as the driver's share of the work.
  An actor asks for a GPU when the run's device is ``cuda``, so training and explanation share the
  GPUs; on CPUs the pool has as many actors as the cluster has room for at the driver's thread count.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import logging
import math
import os
import resource
import shutil
import socket
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator

from precompute.context import Features, RunContext, clip_features_or_reason, gather_features, map_in_process
from precompute.database import ParquetRows, Rows
from precompute.progress import bar, say
from precompute.stages import Unit
from results.schema import A2E_ROUTE, A2MID_ROUTE, PERCEPTUAL_ROUTE

CONNECT_TIMEOUT_S = 5.0
"""Seconds to wait for the cluster's address to answer before giving up."""
MAX_RETRIES = 3
"""Times Ray retries a task whose worker or node died (an exception raised by the code itself is not retried)."""
PARQUET_MIN_ROWS = 1_000_000
"""Tables of at least this many rows travel as Parquet files on shared storage.

Measured with ``benchmarks/bench_ray.py`` on one 2-core machine (two loopback nodes): the object store is
faster below this (Parquet takes 2.2x as long at 1,000 rows, 1.2x at 300,000), the two cost the same
from about 1,000,000 rows (1.02x), where the Parquet file is 6x smaller than the pickled frame (17 MB
against 106 MB) and is read by DuckDB without passing through the driver's memory as a data frame.
Between machines the object store moves those 6x more bytes over the network, which brings the
crossover lower; ``--ray-parquet-rows`` sets another threshold.
"""
OVERSUBSCRIBED_ENVIRONMENT = {"env_vars": {"OMP_WAIT_POLICY": "PASSIVE"}}
"""Ray's ``runtime_env`` for a task or actor that runs more threads than the CPUs it reserves.

A task uses the driver's thread count, which may exceed the CPUs of a node smaller than the
driver's machine. OpenMP threads that wait actively then spin against each other: two Mid2E units
on two 1-CPU nodes of a 2-core machine, two threads each, ran for more than 15 minutes instead of
seconds. Waiting passively cures that, but where threads and CPUs match it is slower (the demo on a
1-node cluster: 614 s against 454 s), so only oversubscribed tasks get it. Results do not change.
"""


def worker_environment(*, reserved_cpus: int, threads: int) -> dict[str, Any] | None:
    """Return the ``runtime_env`` of a task reserving ``reserved_cpus`` CPUs that runs ``threads`` threads."""
    return OVERSUBSCRIBED_ENVIRONMENT if threads > reserved_cpus else None


GPU_ROUTES = (A2E_ROUTE, A2MID_ROUTE, PERCEPTUAL_ROUTE)
"""Routes whose units train on the run's device (Mid2E's heads train on the CPU)."""
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


class ClusterError(RuntimeError):
    """The Ray cluster cannot be reached or used; the message is one line."""


@dataclasses.dataclass
class Cluster:
    """A connection of this process (the driver) to a Ray cluster."""

    address: str
    description: dict[str, Any]
    """What ``runs.cluster`` stores: address, nodes, CPUs, GPUs, Ray version and each node's share."""

    @property
    def gpus(self) -> int:
        """GPUs in the cluster."""
        return int(self.description["gpus"])

    def resolve_device(self, device: str) -> str:
        """``auto`` becomes ``cuda`` when the cluster has GPUs (the driver itself may have none), else ``cpu``."""
        if device == "auto":
            return "cuda" if self.gpus else "cpu"
        if device.startswith("cuda") and not self.gpus:
            raise ClusterError(f"--device {device}: the Ray cluster at {self.address} has no GPU")
        return device

    def device_label(self, device: str) -> str:
        """Return the device as ``runs.device`` records it."""
        return device if device == "cpu" else f"{device} ({self.gpus} GPUs on the Ray cluster)"

    def close(self) -> None:
        """Disconnect (a cluster this process started for ``--ray local`` stops)."""
        import ray

        ray.shutdown()


def connect(address: str, *, timeout_s: float = CONNECT_TIMEOUT_S) -> Cluster:
    """Connect to the Ray cluster at ``address`` (``auto``, ``local`` or ``HOST:PORT``).

    ``local`` starts a Ray instance on this machine, listening on loopback only. ``auto`` finds the
    cluster that ``ray start`` last started on this machine (or ``RAY_ADDRESS``). A ``HOST:PORT`` is
    first checked with a plain connection and a gRPC greeting, so that a wrong address fails in
    seconds instead of Ray retrying it for minutes.

    Raises
    ------
        ClusterError: Ray is not installed, or the address is malformed, unreachable or not a Ray cluster.
    """
    try:
        import ray
    except ImportError:
        raise ClusterError("--ray needs the ray package: pip install ray==2.60.0 (see requirements.txt)") from None
    options: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING}
    if address == "local":
        _pin_to_loopback()
        options.update(address="local", _node_ip_address="127.0.0.1", include_dashboard=False)
        shown = "a local Ray instance"
    else:
        target = _auto_address() if address == "auto" else address
        host, port = _host_port(target, given=address)
        _probe(host, port, timeout_s=timeout_s, given=address)
        if host in _LOOPBACK:
            _pin_to_loopback()
            host = "127.0.0.1" if host == "localhost" else host
        options.update(address=f"{host}:{port}")
        shown = f"the Ray cluster at {host}:{port}"
    try:
        ray.init(**options)
    except Exception as error:  # noqa: BLE001 - whatever Ray raises, the user gets one line
        raise ClusterError(f"cannot use {shown}: {_first_line(error)}{'' if address == 'local' else _auth_hint()}") from None
    cluster = Cluster(address=str(options["address"]), description=describe())
    d = cluster.description
    say(f"connected to {shown}: {_count(d['nodes'], 'node')}, {_count(d['cpus'], 'CPU')}, {_count(d['gpus'], 'GPU')} "
        f"(Ray {d['ray_version']})")
    return cluster


def describe() -> dict[str, Any]:
    """Describe the connected cluster: nodes alive, CPUs, GPUs, Ray version, and each node's resources."""
    import ray

    nodes = [n for n in ray.nodes() if n.get("Alive")]
    listed = [
        {"address": n.get("NodeManagerAddress", ""), "cpus": n["Resources"].get("CPU", 0.0),
         "gpus": n["Resources"].get("GPU", 0.0)}
        for n in nodes
    ]
    return {
        "address": ray.get_runtime_context().gcs_address,
        "nodes": len(nodes),
        "cpus": sum(n["cpus"] for n in listed),
        "gpus": sum(n["gpus"] for n in listed),
        "ray_version": ray.__version__,
        "node_list": sorted(listed, key=lambda n: (n["address"], -n["cpus"])),
    }


def _pin_to_loopback() -> None:
    """Keep Ray on loopback: Ray 2.60 rewrites a loopback address to the machine's outward IP.

    That rewrite serves multi-machine clusters; a cluster started with ``--node-ip-address=127.0.0.1``
    listens on loopback only, so for it (and for ``--ray local``) the rewrite is turned off, in this
    process and in the processes it starts.
    """
    import ray._private.ray_constants as constants

    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    constants.ENABLE_RAY_CLUSTER = False


def _auth_hint() -> str:
    """Return a hint for a failed connection when a token exists but the run does not send it.

    Ray 2.60 turns token authentication on for a cluster that ``ray start`` runs on loopback and
    keeps its token in ``~/.ray/auth_token``; a driver sends it only with ``RAY_AUTH_MODE=token``. The
    mode cannot be chosen for the user: a token-mode driver joins a cluster without authentication,
    but that cluster's workers then cannot fetch the driver's objects.
    """
    if os.environ.get("RAY_AUTH_MODE"):
        return ""
    if os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH") or (Path.home() / ".ray" / "auth_token").is_file():
        return " (if the cluster uses token authentication, as `ray start` on loopback does, set RAY_AUTH_MODE=token)"
    return ""


def _auto_address() -> str:
    from ray._private.services import get_ray_address_from_environment

    try:
        found = get_ray_address_from_environment("auto", None)
    except Exception as error:  # noqa: BLE001 - no running cluster, or several
        raise ClusterError(f"--ray auto: no Ray cluster found on this machine ({_first_line(error)})") from None
    if not found or found == "auto":
        raise ClusterError("--ray auto: no Ray cluster found on this machine (start one with `ray start --head`)")
    return found


def _host_port(address: str, *, given: str) -> tuple[str, int]:
    host, _, port = address.strip().rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ClusterError(f"--ray {given}: expected auto, local or HOST:PORT (e.g. 10.0.0.1:6379)")
    return host, int(port)


# The client's HTTP/2 preface and an empty SETTINGS frame: a gRPC server (Ray's GCS) answers with its own SETTINGS.
_HTTP2_GREETING = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])


def _probe(host: str, port: int, *, timeout_s: float, given: str) -> None:
    """Check that ``host:port`` accepts a connection and speaks gRPC, within ``timeout_s``."""
    try:
        connection = socket.create_connection((host, port), timeout=timeout_s)
    except OSError as error:
        reason = f"no answer within {timeout_s:g} s" if isinstance(error, TimeoutError) else (error.strerror or str(error))
        raise ClusterError(f"cannot reach the Ray cluster at {given} ({host}:{port}): {reason}") from None
    with connection:
        if os.environ.get("RAY_USE_TLS", "0") not in ("", "0"):
            return  # a TLS cluster answers only after a TLS handshake
        try:
            connection.settimeout(timeout_s)
            connection.sendall(_HTTP2_GREETING)
            header = connection.recv(9)
        except OSError:
            header = b""
    if len(header) < 4 or header[3] != 4:  # frame type 4: SETTINGS
        raise ClusterError(f"{given} ({host}:{port}) accepts connections but is not a Ray cluster (no gRPC answer "
                           f"within {timeout_s:g} s)")


def _count(n: float, noun: str) -> str:
    return f"{n:g} {noun}" + ("" if n == 1 else "s")


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]


# features -------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Threads:
    """Thread counts of the maths libraries: torch's intra-op threads and the BLAS threads (None: left as found)."""

    torch: int
    blas: int | None

    @classmethod
    def here(cls) -> "Threads":
        """Return the counts this process uses (on the driver: what a local run would use)."""
        import torch
        from threadpoolctl import threadpool_info

        blas = [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]
        return cls(torch=torch.get_num_threads(), blas=max(blas) if blas else None)

    def apply(self) -> None:
        """Use these counts in this process (a Ray worker: Ray starts it with one thread per reserved CPU)."""
        import torch
        from threadpoolctl import threadpool_limits

        if self.blas is not None:
            threadpool_limits(limits={"blas": self.blas})
        torch.set_num_threads(self.torch)


def extract_features(ctx: RunContext, *, jobs: int = 0) -> None:
    """Extract the features of every context of the run (``ctx.contexts()``) with Ray tasks.

    Each context gets its features (:meth:`RunContext.use_features`). ``jobs`` caps the tasks in
    flight (0: twice the cluster's CPUs). A task uses one torch thread and the driver's BLAS threads,
    as a local feature process does.
    """
    import ray

    cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
    extract = ray.remote(num_cpus=1, max_retries=MAX_RETRIES)(_extract_batch)
    threads = dataclasses.replace(Threads.here(), torch=1)
    for context in ctx.contexts():
        if context._features is not None:
            continue
        context.cache_dir.mkdir(parents=True, exist_ok=True)
        clip_order = [record.clip_id for record in context.records]
        size = max(1, min(64, math.ceil(len(clip_order) / (4 * cpus))))
        batches = [clip_order[i:i + size] for i in range(0, len(clip_order), size)]
        dataset = ray.put(context.dataset)
        options = {"representations": context.representations, "cache_dir": str(context.cache_dir),
                   "clip_seconds": context.clip_seconds, "threads": threads}
        progress = bar(total=len(clip_order), desc=f"features ({context.dataset.name}, {len(batches)} Ray tasks)",
                       unit="clip", enabled=ctx.show_progress)
        results: dict[str, tuple[Any, str]] = {}
        submit = functools.partial(_submit_batch, extract, dataset, options)
        for finished in _bounded(submit, batches, limit=jobs or 2 * cpus):
            for clip_id, arrays, reason in finished:
                results[clip_id] = (arrays, reason)
                progress.update(1)
        progress.close()
        context.use_features(gather_features(context, ((c, results[c]) for c in clip_order)))


def _submit_batch(extract: Any, dataset: Any, options: dict[str, Any], batch: list[str]) -> Any:
    return extract.remote(dataset, batch, **options)


def _bounded(submit: Callable[[Any], Any], items: list[Any], *, limit: int) -> Iterator[Any]:
    """Submit ``submit(item)`` for every item, at most ``limit`` in flight; yield results as they finish."""
    import ray

    waiting, in_flight = list(items), []
    while waiting or in_flight:
        while waiting and len(in_flight) < limit:
            in_flight.append(submit(waiting.pop(0)))
        done, in_flight = ray.wait(in_flight, num_returns=1)
        yield ray.get(done[0])


def _extract_batch(
    dataset: Any, clip_ids: list[str], *, representations: tuple[str, ...], cache_dir: str, clip_seconds: float,
    threads: Threads,
) -> list[tuple[str, dict | None, str]]:
    """Features of a batch of clips on a worker: ``(clip_id, arrays, "")`` or ``(clip_id, None, reason)``."""
    threads.apply()
    node = _node_name()
    out = []
    for clip_id in clip_ids:
        arrays, reason = clip_features_or_reason(dataset, clip_id, representations=representations,
                                                 cache_dir=Path(cache_dir), clip_seconds=clip_seconds)
        out.append((clip_id, arrays, f"{reason} (on node {node})" if arrays is None else ""))
    return out


def _node_name() -> str:
    import ray

    return f"{socket.gethostname()} {ray.util.get_node_ip_address()}"


# per-clip work ---------------------------------------------------------------------------------
class _ClipActor:
    """A Ray actor holding one worker's state (a loaded model) across the batches it is given."""

    def __init__(self, setup: Callable[[Any], Any], payload: Any, threads: Threads) -> None:
        threads.apply()
        self.state = setup(payload)

    def run(self, work: Callable[[Any, Any], Any], batch: list[Any]) -> list[Any]:
        return [work(self.state, task) for task in batch]


def map_on_actors(
    *, setup: Callable[[Any], Any], payload: Any, work: Callable[[Any, Any], Any], tasks: list[Any], device: str,
) -> Iterator[Any]:
    """Run per-clip work on a Ray actor pool, yielding ``work(state, task)`` in task order (a ``ClipMap``).

    Each actor makes ``state = setup(payload)`` once (``payload`` travels once through the object
    store) and takes batches of tasks, about two batches per actor so that a slow batch does not
    hold the rest. Actors use the driver's thread counts (results do not depend on where a task
    ran) and reserve that many CPUs, up to the largest node's; on ``cuda`` each asks for a GPU. An
    actor whose node is lost is restarted elsewhere and its batch retried.
    """
    import ray
    from ray.util import ActorPool

    if not tasks:
        return
    threads = Threads.here()
    nodes = [n["Resources"] for n in ray.nodes() if n.get("Alive")]
    gpu = device.startswith("cuda")
    cpus = max(1, min(threads.torch, int(max((n.get("CPU", 1.0) for n in nodes), default=1.0))))
    room = sum(int(n.get("GPU", 0.0)) for n in nodes) if gpu else sum(int(n.get("CPU", 0.0)) // cpus for n in nodes)
    size = max(1, min(room, len(tasks)))
    step = max(1, math.ceil(len(tasks) / (2 * size)))
    batches = [tasks[i:i + step] for i in range(0, len(tasks), step)]
    actor = ray.remote(num_cpus=cpus, num_gpus=1 if gpu else 0, max_restarts=MAX_RETRIES,
                       max_task_retries=MAX_RETRIES,
                       runtime_env=worker_environment(reserved_cpus=cpus, threads=threads.torch))(_ClipActor)
    shipped = ray.put(payload)
    actors = [actor.remote(setup, shipped, threads) for _ in range(min(size, len(batches)))]
    try:
        for results in ActorPool(actors).map(lambda a, batch: a.run.remote(work, batch), batches):
            yield from results
    finally:
        for one in actors:
            ray.kill(one)


# units ----------------------------------------------------------------------------------------
def runs_on_driver(unit: Unit) -> bool:
    """Say whether a unit runs on the driver: one that reads rows of other units (``needs``), beside the database."""
    return bool(unit.needs)


def wants_gpu(unit: Unit, device: str) -> bool:
    """Whether the unit's task asks Ray for a GPU: a training unit of a route that trains on the run's device."""
    return device.startswith("cuda") and unit.name.split("/", 1)[0] in GPU_ROUTES


def spill_folder(cache_root: Path, database: Path) -> Path:
    """Folder (under the shared feature cache) where workers leave the large tables of one database's build."""
    key = hashlib.sha256(str(database.resolve()).encode()).hexdigest()[:8]
    return cache_root / "ray-rows" / f"{database.name}-{key}"


def run_units(
    ctx: RunContext,
    todo: list[Unit],
    *,
    done: set[str],
    planner: Callable[[RunContext], list[Unit]],
    commit: Callable[[str, Rows, float, float], None],
    on_commit: Callable[[str], None],
    spill_dir: Path,
    parquet_min_rows: int = PARQUET_MIN_ROWS,
) -> None:
    """Run ``todo`` (in dependency order) on the cluster; ``commit`` each unit's rows on the driver as it finishes.

    ``commit(name, rows, seconds, peak_rss_mb)`` writes one unit; ``on_commit(name)`` follows it
    (progress). ``planner(ctx)`` rebuilds the run's units on a worker. Every context must have its
    features (:func:`extract_features`). On an error or an interrupt, the tasks still running are
    cancelled; committed units stay.
    """
    import ray

    device = ctx.device
    shutil.rmtree(spill_dir, ignore_errors=True)  # files a killed driver never ingested
    spill_dir.mkdir(parents=True, exist_ok=True)
    threads = Threads.here()
    biggest = max((n["Resources"].get("CPU", 1.0) for n in ray.nodes() if n.get("Alive")), default=1.0)
    cpus = max(1, min(threads.torch, int(biggest)))  # as many CPUs as threads, where a node has them
    remote = ray.remote(num_cpus=cpus, max_retries=MAX_RETRIES, retry_exceptions=False,
                        runtime_env=worker_environment(reserved_cpus=cpus, threads=threads.torch))(_run_unit)
    contexts = ctx.contexts()
    shipped = ray.put(_detached(ctx))
    features = [ray.put(c.features()) for c in contexts]
    finished = set(done)
    waiting = list(todo)
    in_flight: dict[Any, Unit] = {}
    shipped_as = {"parquet": [0, 0], "object store": [0, 0]}  # tables and rows that came back each way

    def submit_ready() -> None:
        for unit in [u for u in waiting if not runs_on_driver(u) and set(u.needs) <= finished]:
            waiting.remove(unit)
            task = remote.options(num_gpus=1 if wants_gpu(unit, device) else 0, name=unit.name)
            in_flight[task.remote(shipped, unit.name, planner, str(spill_dir), parquet_min_rows, threads, *features)] = unit

    def collect(timeout: float | None) -> None:
        ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=timeout)
        for ref in ready:
            unit = in_flight.pop(ref)
            rows, seconds, peak_mb = ray.get(ref)
            unseen = [f.path for f in rows.values() if isinstance(f, ParquetRows) and not Path(f.path).is_file()]
            if unseen:
                raise ClusterError(f"unit {unit.name}: a worker wrote {unseen[0]}, which the driver cannot see; "
                                   "the feature cache folder must be shared storage, at the same path on every node")
            try:
                commit(unit.name, rows, seconds, peak_mb)
            finally:
                _delete_spilled(rows)
            for frame in rows.values():
                count = frame.rows if isinstance(frame, ParquetRows) else (0 if frame is None else len(frame))
                if count:
                    way = shipped_as["parquet" if isinstance(frame, ParquetRows) else "object store"]
                    way[0] += 1
                    way[1] += count
            finished.add(unit.name)
            on_commit(unit.name)

    try:
        while waiting or in_flight:
            submit_ready()
            here = next((u for u in waiting if runs_on_driver(u) and set(u.needs) <= finished), None)
            if here is None:
                if not in_flight:
                    raise RuntimeError(f"units wait for units that never run: {[u.name for u in waiting]}")
                collect(timeout=None)
                continue
            while in_flight:  # commit what finished meanwhile (non-blocking), then run the driver's unit
                before = len(in_flight)
                collect(timeout=0)
                if len(in_flight) == before:
                    break
            waiting.remove(here)
            started = time.perf_counter()
            rows = here.run()
            commit(here.name, rows, time.perf_counter() - started, _peak_rss_mb())
            finished.add(here.name)
            on_commit(here.name)
    finally:
        for ref in in_flight:
            ray.cancel(ref, force=True)
        shutil.rmtree(spill_dir, ignore_errors=True)
    (pq_tables, pq_rows), (os_tables, os_rows) = shipped_as["parquet"], shipped_as["object store"]
    say(f"rows from workers: {os_tables} tables ({os_rows:,} rows) through the object store, "
        f"{pq_tables} ({pq_rows:,} rows) as Parquet files")


def _detached(ctx: RunContext) -> RunContext:
    """Copy the context tree to ship it to workers: no database writer, no progress bars, features sent apart."""
    copies: dict[int, RunContext] = {}  # by id: a context held twice is copied once

    def copy(context: RunContext) -> RunContext:
        if id(context) not in copies:
            copies[id(context)] = dataclasses.replace(
                context, writer=None, show_progress=False, _features=None, clip_map=map_in_process,
                a2mid_train=None if context.a2mid_train is None else copy(context.a2mid_train),
                confound_variants={k: copy(v) for k, v in context.confound_variants.items()},
            )
        return copies[id(context)]

    return copy(ctx)


def _run_unit(
    ctx: RunContext, name: str, planner: Callable[[RunContext], list[Unit]], spill_dir: str, parquet_min_rows: int,
    threads: Threads, *features: Features,
) -> tuple[Rows, float, float]:
    """On a worker: give the contexts their features, re-plan, run unit ``name``; return its rows, seconds and peak MB."""
    threads.apply()
    for context, own in zip(ctx.contexts(), features):
        context.use_features(own)
    unit = next((u for u in planner(ctx) if u.name == name), None)
    if unit is None:
        raise RuntimeError(f"unit {name!r} is not in the plan rebuilt on the worker")
    started = time.perf_counter()
    rows = unit.run()
    seconds = time.perf_counter() - started
    return _spill(rows, Path(spill_dir), min_rows=parquet_min_rows), seconds, _peak_rss_mb()


def _spill(rows: Rows, folder: Path, *, min_rows: int) -> dict[str, Any]:
    """Write every table of at least ``min_rows`` rows to a Parquet file in ``folder``; keep the rest as they are."""
    import duckdb

    out: dict[str, Any] = {}
    for table, frame in rows.items():
        if frame is None or isinstance(frame, ParquetRows) or len(frame) < min_rows:
            out[table] = frame
            continue
        path = folder / f"{uuid.uuid4().hex}-{table}.parquet"
        con = duckdb.connect()
        try:
            con.register("unit_rows", frame)  # the same pandas-to-DuckDB conversion as the writer's
            con.execute(f"COPY unit_rows TO '{_quoted(path)}' (FORMAT parquet)")
        finally:
            con.close()
        out[table] = ParquetRows(str(path), len(frame))
    return out


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")


def _delete_spilled(rows: Rows) -> None:
    for frame in rows.values():
        if isinstance(frame, ParquetRows):
            Path(frame.path).unlink(missing_ok=True)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB

