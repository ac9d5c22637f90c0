"""Writing the results database: build into a side file, commit per work unit, swap in at the end.

A run writes ``<db>.building``. Each unit of work (one experiment and seed, the corpus, ...)
inserts all its rows and marks itself done in one transaction, so an interrupted run loses at
most the unit in flight; re-running with the same configuration skips finished units. When every
unit is done the side file atomically replaces ``<db>``, so a dashboard never reads a half-built
database.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping

import duckdb
import pandas as pd

from results.schema import SCHEMA_VERSION, TABLES, columns, create_statements
from results.store import ResultsError, connect_read_only, open_results, schema_version

Rows = Mapping[str, "pd.DataFrame | ParquetRows"]
"""Rows a unit produced, by table name: a data frame, or (from a cluster worker) a Parquet file of them."""


@dataclass(frozen=True)
class ParquetRows:
    """Rows of one table that a cluster worker wrote as a Parquet file on shared storage (see precompute.cluster).

    The writer ingests the file with DuckDB inside the unit's transaction; the file is the caller's to delete.
    """

    path: str
    rows: int


def building_path(db_path: Path) -> Path:
    """Return the side file a run writes before swapping it in."""
    return db_path.with_name(db_path.name + ".building")


class DatabaseLockedError(RuntimeError):
    """Another precompute run is writing the same results database."""


@contextlib.contextmanager
def write_lock(db_path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``<db>.lock`` for a whole run, so that two runs never write one database.

    The operating system releases the lock when the process ends, however it ends (even SIGKILL), so a
    killed run never blocks the next one. The lock file stays; it holds the owner's pid for messages.

    Raises
    ------
        DatabaseLockedError: another process holds the lock.
    """
    lock_path = db_path.with_name(db_path.name + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    handle = lock_path.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        owner = handle.read().strip() or "unknown process"
        handle.close()
        raise DatabaseLockedError(
            f"{db_path}: another precompute run is writing it ({owner}); wait for it to finish or stop it"
        ) from None
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}, since {_now():%Y-%m-%d %H:%M:%S} UTC")
        handle.flush()
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def discard(path: Path) -> None:
    """Delete a database file and its write-ahead log (a stale log must never be replayed into a new file)."""
    for file in (path, path.with_name(path.name + ".wal")):
        file.unlink(missing_ok=True)


class SchemaMismatchError(RuntimeError):
    """A partly built database was written by another schema version and cannot be resumed."""


class ResultsWriter:
    """The one writer of a results database file (the ``.building`` side file during a run)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.con = duckdb.connect(str(self.path))
        self.con.execute(f"CREATE TABLE IF NOT EXISTS schema_info ({TABLES['schema_info'].strip()})")
        found = self.con.execute("SELECT max(version) FROM schema_info").fetchone()[0]
        if found is not None and found != SCHEMA_VERSION:
            self.con.close()
            raise SchemaMismatchError(
                f"{self.path}: written with schema version {found}, this code writes version {SCHEMA_VERSION}; "
                "start again with --fresh"
            )
        for statement in create_statements():
            self.con.execute(statement)
        if found is None:
            self.con.execute("INSERT INTO schema_info VALUES (?)", [SCHEMA_VERSION])
        for table in TABLES:
            present = [row[0] for row in self.con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
                [table]).fetchall()]
            if tuple(present) != columns(table):
                self.con.close()
                raise SchemaMismatchError(
                    f"{self.path}: table {table} has columns {present}, this code writes {list(columns(table))} "
                    f"(an earlier layout of schema version {SCHEMA_VERSION}); start again with --fresh"
                )

    def close(self) -> None:
        """Checkpoint and close the database."""
        self.con.execute("CHECKPOINT")
        self.con.close()

    # runs -------------------------------------------------------------------------------------
    def latest_config_hash(self) -> str | None:
        """Return the config hash of the newest run in this file (finished or not), or ``None``."""
        row = self.con.execute("SELECT config_hash FROM runs ORDER BY run_id DESC LIMIT 1").fetchone()
        return None if row is None else str(row[0])

    def start_run(
        self,
        *,
        profile: str,
        dataset: str,
        config: Mapping[str, Any],
        config_hash: str,
        versions: Mapping[str, str],
        git_revision: str,
        device: str,
        cluster: Mapping[str, Any] | None = None,
    ) -> int:
        """Record a new run as ``running``; return its id. ``cluster`` describes the Ray cluster of a ``--ray`` run."""
        run_id = int(self.con.execute("SELECT coalesce(max(run_id), 0) + 1 FROM runs").fetchone()[0])
        self.con.execute(
            "INSERT INTO runs (run_id, profile, dataset, config, config_hash, versions, git_revision, device, started_at, "
            "finished_at, status, cluster) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, 'running', ?)",
            [run_id, profile, dataset, json.dumps(config), config_hash, json.dumps(versions), git_revision, device, _now(),
             None if cluster is None else json.dumps(cluster, sort_keys=True)],
        )
        return run_id

    def mark_killed_runs(self) -> int:
        """Mark runs a killed process left as ``running`` as ``killed``; returns how many.

        Only called under :func:`write_lock`, so no other process can be running them.
        """
        count = self.con.execute("SELECT count(*) FROM runs WHERE status = 'running'").fetchone()[0]
        self.con.execute("UPDATE runs SET status = 'killed', finished_at = ? WHERE status = 'running'", [_now()])
        return int(count)

    def finish_run(self, run_id: int, *, status: str) -> None:
        """Record how a run ended (``finished``, ``interrupted``, ``failed``) and when."""
        self.con.execute("UPDATE runs SET finished_at = ?, status = ? WHERE run_id = ?", [_now(), status, run_id])

    # units ------------------------------------------------------------------------------------
    def done_units(self) -> set[str]:
        """Return the names of the units whose rows are committed."""
        return {row[0] for row in self.con.execute("SELECT unit FROM work_units").fetchall()}

    def write_unit(self, unit: str, rows: Rows, *, run_id: int, seconds: float, peak_rss_mb: float) -> None:
        """Insert every table's rows and mark ``unit`` done, all in one transaction.

        ``peak_rss_mb`` is the process's peak resident memory so far (it only grows). A table's rows are
        a data frame or a :class:`ParquetRows` file, which DuckDB reads straight from disk.
        """
        self.con.execute("BEGIN TRANSACTION")
        try:
            for table, frame in rows.items():
                if isinstance(frame, ParquetRows):
                    if frame.rows:
                        self.con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM read_parquet(?)", [frame.path])
                    continue
                if frame is None or frame.empty:
                    continue
                self.con.register("unit_rows", frame)
                self.con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM unit_rows")
                self.con.unregister("unit_rows")
            self.con.execute("INSERT INTO work_units VALUES (?, ?, ?, ?, ?)", [unit, run_id, seconds, peak_rss_mb, _now()])
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise

    def query(self, sql: str, parameters: list[Any] | None = None) -> pd.DataFrame:
        """Read back rows written earlier in this build (e.g. predictions a later unit needs)."""
        return self.con.execute(sql, parameters or []).df()


def swap_in(building: Path, final: Path) -> None:
    """Atomically replace ``final`` with the finished ``building`` file (same directory)."""
    os.replace(building, final)
    wal = building.with_name(building.name + ".wal")
    if wal.exists():
        wal.unlink()


def compact_copy(source: Path, target: Path) -> int:
    """Write a read-only copy of a results database for hosting; returns its size in bytes.

    Every table is copied row for row but without its primary-key indexes, which the builder needs
    for resuming and which make up more than half of a built file (the demo: 92 MB → about 35 MB).
    The copy is for the dashboard only: resuming a run on it is refused by the missing keys.

    Raises
    ------
        ResultsError: ``source`` is not a finished results database of this schema version, or
            ``target`` is ``source``.
    """
    if target.resolve() == source.resolve():
        raise ResultsError(f"{target}: the compact copy must be a new file, not the source")
    open_results(source).close()  # version and readability check
    partial = target.with_name(target.name + ".building")
    discard(partial)
    con = duckdb.connect()
    try:
        con.execute("ATTACH ? AS src (READ_ONLY)", [str(source)])
        con.execute("ATTACH ? AS dst", [str(partial)])
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_catalog = 'src' ORDER BY table_name").fetchall()]
        for table in tables:
            con.execute(f'CREATE TABLE dst."{table}" AS SELECT * FROM src."{table}"')
        con.execute("CHECKPOINT dst")
    finally:
        con.close()
    os.replace(partial, target)
    return target.stat().st_size


def read_config_hash(path: Path) -> str | None:
    """Config hash of the last *finished* run in a database file of this schema version, or ``None``."""
    if not path.is_file():
        return None
    try:
        con = connect_read_only(path)
        try:
            version = schema_version(con)
            row = con.execute(
                "SELECT config_hash FROM runs WHERE status = 'finished' ORDER BY run_id DESC LIMIT 1"
            ).fetchone()
            if version != SCHEMA_VERSION:
                row = None  # written by another schema version: never "up to date"
        finally:
            con.close()
    except duckdb.Error:
        return None
    return None if row is None else str(row[0])


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
