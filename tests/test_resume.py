"""Reliability of the precompute engine.

Kill it at random moments, resume, and lose nothing; a reader keeps seeing the old database until
the new one is complete; one writer per database.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import numpy as np
from helpers import query

from precompute.database import building_path, write_lock

REPOSITORY = Path(__file__).resolve().parents[1]


def start_run(db: Path, data_root: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "precompute", "run", "--profile", "tiny", "--db", str(db),
               "--data-root", str(data_root), "--no-progress"]
    return subprocess.Popen(command, cwd=REPOSITORY, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)  # its own process group: the kill takes its workers too


def test_killed_runs_resume_to_the_same_database_and_readers_see_the_old_one(tiny_db, tmp_path):
    db = tmp_path / "resumed.duckdb"
    shutil.copy(tiny_db, db)  # the "old" database a dashboard is reading
    old_run = query(db, "SELECT run_id, started_at FROM runs")
    # Another data root gives another configuration hash, so the run rebuilds instead of finding
    # the database up to date (the tiny synthetic corpus does not read the data root otherwise).
    data_root = tmp_path / "root"
    data_root.mkdir()
    rng = np.random.default_rng(2026)
    kills, attempts = 0, 0
    while True:
        attempts += 1
        assert attempts <= 12, "the run never finished"
        process = start_run(db, data_root)
        deadline = time.monotonic() + (float(rng.uniform(3.0, 20.0)) if kills < 5 else 600.0)
        while process.poll() is None and time.monotonic() < deadline:
            # What a dashboard sees meanwhile: the old, complete database, never the one being built
            # (or, in the moment between the swap and the process's exit, the new and finished one).
            seen = query(db, "SELECT run_id, started_at FROM runs")
            assert seen == old_run or ("finished",) in query(db, "SELECT status FROM runs"), seen
            time.sleep(0.5)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            kills += 1
            continue
        _, stderr = process.communicate()
        assert process.returncode == 0, stderr.decode()
        break
    assert kills >= 3
    assert not building_path(db).exists()
    runs = query(db, "SELECT status, count(*) FROM runs GROUP BY ALL ORDER BY 1")
    assert dict(runs)["finished"] == 1 and dict(runs).get("killed", 0) <= kills
    # The same experiments and work units as an uninterrupted run, nothing duplicated.
    for table in ("experiments", "work_units", "metrics", "predictions", "classifications", "relevance_maps",
                  "sonifications", "shap_values", "faithfulness", "sanity_checks"):
        assert query(db, f"SELECT count(*) FROM {table}") == query(tiny_db, f"SELECT count(*) FROM {table}"), table
    assert query(db, "SELECT unit FROM work_units ORDER BY 1") == query(tiny_db, "SELECT unit FROM work_units ORDER BY 1")
    # The same metrics within float tolerance.
    con = duckdb.connect(str(db), read_only=True)
    try:
        con.execute(f"ATTACH '{tiny_db}' AS reference (READ_ONLY)")
        worst = con.execute(
            "SELECT max(abs(coalesce(a.value, 0) - coalesce(b.value, 0))), count(*), count(b.value IS NOT NULL OR NULL) "
            "FROM metrics a FULL JOIN reference.metrics b USING (experiment_id, seed, split, target, metric)"
        ).fetchone()
    finally:
        con.close()
    assert worst[0] < 1e-4, f"metrics differ by up to {worst[0]}"
    print(f"survived {kills} kills in {attempts} attempts")


def test_a_second_run_on_the_same_database_refuses_clearly(tmp_path):
    db = tmp_path / "busy.duckdb"
    with write_lock(db):
        result = subprocess.run(
            [sys.executable, "-m", "precompute", "run", "--profile", "tiny", "--db", str(db), "--no-progress"],
            cwd=REPOSITORY, capture_output=True, text=True, timeout=120,
        )
    assert result.returncode == 2
    assert "another precompute run is writing it" in result.stderr and f"pid {os.getpid()}" in result.stderr
    assert "Traceback" not in result.stderr and not db.exists()


def test_feature_cache_files_keep_other_runs_arrays_and_concurrent_writers_do_not_collide(tmp_path):
    """Two runs may share a cache without losing each other's arrays or colliding.

    One needing other representations adds to a clip's file, and writers racing on the same clip
    each write through a temporary file of their own.
    """
    from concurrent.futures import ThreadPoolExecutor

    from engine.datasets.synthetic import SyntheticConfig, SyntheticCorpus
    from precompute.context import _cache_file, _clip_features

    corpus = SyntheticCorpus(SyntheticConfig(n_songs=3, clips_per_song=1, clip_seconds=1.0))
    clip = corpus.records()[0].clip_id
    first = _clip_features(corpus, clip, representations=("chromagram",), cache_dir=tmp_path, clip_seconds=1.0)
    second = _clip_features(corpus, clip, representations=("mean_chroma",), cache_dir=tmp_path, clip_seconds=1.0)
    with np.load(_cache_file(tmp_path, clip)) as cached:
        assert sorted(cached.files) == ["chromagram", "mean_chroma"]
        np.testing.assert_array_equal(cached["chromagram"], first["chromagram"])
        np.testing.assert_array_equal(cached["mean_chroma"], second["mean_chroma"])
    _cache_file(tmp_path, clip).unlink()
    with ThreadPoolExecutor(4) as pool:  # four writers of the same clip at once
        results = list(pool.map(lambda _: _clip_features(corpus, clip, representations=("chromagram",), cache_dir=tmp_path,
                                                         clip_seconds=1.0), range(4)))
    assert all(np.array_equal(r["chromagram"], first["chromagram"]) for r in results)
    assert not list(tmp_path.rglob("*.tmp.npz"))  # every temporary file was renamed into place
