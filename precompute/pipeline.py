"""``run``: build a results database from a profile, resumably, and swap it in when complete."""

from __future__ import annotations

import dataclasses
import functools
import os
import resource
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import torch

from engine.datasets.splits import describe_split
from engine.models.training import resolve_device
from engine.music.features import MUSIC_FEATURES
from precompute import provenance
from precompute.context import RunContext, dataset_fingerprint
from precompute.database import ResultsWriter, building_path, discard, read_config_hash, swap_in, write_lock
from precompute.datasets import open_dataset
from precompute.profile import DatasetSection, Profile, load_profile
from precompute.progress import bar, say
from precompute.stages import Unit, audio_regression, corpus, mid2e, order_units, perceptual
from results.store import DATA_DIR, default_database

if TYPE_CHECKING:  # Ray is imported only for --ray runs
    from precompute.cluster import Cluster


def run(
    profile_name: str,
    *,
    db: Path | None = None,
    data_root: Path = DATA_DIR,
    fresh: bool = False,
    device: str = "auto",
    show_progress: bool = True,
    jobs: int = 0,
    cache_dir: Path | None = None,
    ray: str | None = None,
    ray_parquet_rows: int | None = None,
) -> Path:
    """Build (or resume building) the results database of a profile; returns its path.

    ``jobs`` processes extract features in parallel (0: one per CPU core, at most 8). Features are
    cached under ``cache_dir``, else the profile's ``[profile] cache_dir``, else ``data/cache``.
    ``ray`` (``auto``, ``local`` or ``HOST:PORT``) runs the work on a Ray cluster
    (:mod:`precompute.cluster`); this process stays the only writer of the database. Then ``jobs``
    caps the feature tasks in flight (0: twice the cluster's CPUs), and a table of at least
    ``ray_parquet_rows`` rows (default :data:`precompute.cluster.PARQUET_MIN_ROWS`) comes back from a
    worker as a Parquet file under the cache folder, which must then be shared by every node.

    Raises
    ------
        KeyboardInterrupt: the run was interrupted; finished units are kept for the next run.
        precompute.database.DatabaseLockedError: another run is writing the same database.
        precompute.cluster.ClusterError: the Ray cluster cannot be reached.
    """
    profile = load_profile(profile_name)
    final = Path(db) if db else default_database(profile.name)
    cache_root = Path(cache_dir or profile.info.cache_dir or DATA_DIR / "cache")
    cluster = None
    if ray is not None:
        from precompute.cluster import connect

        cluster = connect(ray)
    try:
        with write_lock(final):
            return _run_locked(profile, final=final, data_root=Path(data_root), fresh=fresh, device=device,
                               show_progress=show_progress, jobs=jobs, cache_root=cache_root, cluster=cluster,
                               ray_parquet_rows=ray_parquet_rows)
    finally:
        if cluster is not None:
            cluster.close()


def _run_locked(
    profile: Profile, *, final: Path, data_root: Path, fresh: bool, device: str, show_progress: bool, jobs: int,
    cache_root: Path, cluster: "Cluster | None" = None, ray_parquet_rows: int | None = None,
) -> Path:
    config_hash = profile.config_hash(data_root=str(data_root.resolve()))
    if not fresh and read_config_hash(final) == config_hash:
        say(f"{final} is up to date with profile {profile.name!r} (config {config_hash}); --fresh rebuilds it")
        return final

    building = building_path(final)
    if building.exists():
        previous = _building_hash(building)
        if fresh or previous != config_hash:
            say(f"discarding unfinished build {building} ({'--fresh' if fresh else 'profile changed'})")
            discard(building)
        else:
            say(f"resuming unfinished build {building}")
    writer = ResultsWriter(building)
    if writer.mark_killed_runs():
        say("an earlier run on this database was killed; its finished units are kept")
    device = cluster.resolve_device(device) if cluster else resolve_device(device)
    if cluster:
        device_label = cluster.device_label(device)
    else:
        device_label = device if device == "cpu" else f"{device} ({torch.cuda.get_device_name(0)})"
    run_id = writer.start_run(
        profile=profile.name,
        dataset=profile.dataset.name,
        config=profile.resolved(),
        config_hash=config_hash,
        versions=provenance.library_versions(),
        git_revision=provenance.git_revision(),
        device=device_label,
        cluster=cluster.description if cluster else None,
    )
    status = "failed"
    try:
        if cluster is None:
            jobs = jobs or min(8, os.cpu_count() or 1)
        ctx = _context(profile, writer=writer, data_root=data_root, device=device, show_progress=show_progress, jobs=jobs,
                       cache_root=cache_root)
        _run_units(ctx, _plan(ctx, data_root=data_root), run_id=run_id, data_root=data_root,
                   cluster=cluster, cache_root=cache_root, ray_parquet_rows=ray_parquet_rows)
        status = "finished"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        writer.finish_run(run_id, status=status)
        writer.close()
    swap_in(building, final)
    say(f"results database ready: {final}")
    return final


def _context(
    profile: Profile, *, writer: ResultsWriter, data_root: Path, device: str, show_progress: bool, jobs: int,
    cache_root: Path,
) -> RunContext:
    """Build the main dataset's context and, when ``[a2mid]`` trains elsewhere, that dataset's context."""
    main = _dataset_context(
        profile, profile.dataset, representations=needed_representations(profile),
        writer=writer, data_root=data_root, device=device, show_progress=show_progress, jobs=jobs, cache_root=cache_root,
    )
    if profile.a2mid is not None and profile.a2mid.train_dataset is not None:
        main.a2mid_train = _dataset_context(
            profile, profile.a2mid.train_dataset, representations=audio_regression.representations_for(profile.a2mid),
            writer=writer, data_root=data_root, device=device, show_progress=show_progress, jobs=jobs, cache_root=cache_root,
        )
    if main.dataset.name == "synthetic":
        confounds = {s.clean_confound for s in profile.backbones.values() if s.clean_confound is not None}
        for confound in sorted(confounds):
            main.confound_variants[confound] = _dataset_context(
                profile, dataclasses.replace(profile.dataset, confound=confound), representations=perceptual.representations_for(profile),
                writer=writer, data_root=data_root, device=device, show_progress=show_progress, jobs=jobs, cache_root=cache_root,
            )
    return main


def needed_representations(profile: Profile) -> set[str]:
    """Every per-clip array the main dataset needs: model inputs, display images, music features."""
    needed = {"vit_spectrogram"} | perceptual.representations_for(profile)  # the display image, and the models' inputs
    for section in (profile.a2e, profile.a2mid):
        if section is not None:
            needed |= audio_regression.representations_for(section)
    if profile.mid2e is not None:
        needed |= {"mean_chroma", *MUSIC_FEATURES}
    return needed


def _dataset_context(
    profile: Profile, section: DatasetSection, *, representations: set[str], writer: ResultsWriter, data_root: Path,
    device: str, show_progress: bool, jobs: int, cache_root: Path,
) -> RunContext:
    dataset, records, split_name = open_dataset(section, data_root=data_root)
    split_name = f"{split_name}; {describe_split([r.group for r in records], [r.split for r in records])}"
    clip_seconds = section.clip_seconds
    fingerprint = dataset_fingerprint(section.options(), data_root=str(data_root.resolve()), clip_seconds=clip_seconds)
    return RunContext(
        profile=profile,
        dataset=dataset,
        records=records,
        clip_seconds=clip_seconds,
        device=device,
        cache_dir=cache_root / f"{dataset.name}-{fingerprint}",
        writer=writer,
        representations=tuple(sorted(representations)),
        split_name=split_name,
        show_progress=show_progress,
        jobs=jobs,
    )


def _plan(ctx: RunContext, *, data_root: Path) -> list[Unit]:
    reference = data_root / "thesis-figures.csv"
    experiment_rows = (
        audio_regression.experiments(ctx, "A2Mid")
        + audio_regression.experiments(ctx, "A2E")
        + mid2e.experiments(ctx)
        + perceptual.experiments(ctx)
    )
    return order_units([
        Unit("experiments", lambda: {"experiments": pd.DataFrame(experiment_rows)}),
        *corpus.units(ctx, reference_csv=reference if reference.is_file() else None),
        *audio_regression.units(ctx, "A2Mid"),
        *audio_regression.units(ctx, "A2E"),
        *mid2e.units(ctx),
        *perceptual.units(ctx),
    ])


def _run_units(
    ctx: RunContext, units: list[Unit], *, run_id: int, data_root: Path = DATA_DIR, cluster: "Cluster | None" = None,
    cache_root: Path = DATA_DIR / "cache", ray_parquet_rows: int | None = None,
) -> None:
    done = ctx.writer.done_units()
    todo = [unit for unit in units if unit.name not in done]
    if len(todo) < len(units):
        say(f"{len(units) - len(todo)} of {len(units)} units already done; {len(todo)} to go")
    if cluster is not None and todo:
        _run_units_on(ctx, todo, done=done, total=len(units), run_id=run_id, data_root=data_root,
                      cache_root=cache_root, parquet_rows=ray_parquet_rows)
        return
    overall = bar(total=len(units), desc="run", unit="unit", enabled=ctx.show_progress)
    overall.update(len(units) - len(todo))
    for unit in todo:
        overall.set_postfix_str(unit.name)
        started = time.perf_counter()
        rows = unit.run()
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB
        ctx.writer.write_unit(unit.name, rows, run_id=run_id, seconds=time.perf_counter() - started, peak_rss_mb=peak_mb)
        overall.update(1)
    overall.close()


def _run_units_on(
    ctx: RunContext, todo: list[Unit], *, done: set[str], total: int, run_id: int, data_root: Path, cache_root: Path,
    parquet_rows: int | None,
) -> None:
    """Run the units on the connected Ray cluster (:mod:`precompute.cluster`), committing each here as it finishes."""
    from precompute.cluster import PARQUET_MIN_ROWS, extract_features, map_on_actors, run_units, spill_folder

    extract_features(ctx, jobs=ctx.jobs)
    ctx.clip_map = map_on_actors  # per-clip explanation work goes to an actor pool
    overall = bar(total=total, desc="run", unit="unit", enabled=ctx.show_progress)
    overall.update(total - len(todo))

    def commit(name: str, rows, seconds: float, peak_mb: float) -> None:
        ctx.writer.write_unit(name, rows, run_id=run_id, seconds=seconds, peak_rss_mb=peak_mb)

    def on_commit(name: str) -> None:
        overall.set_postfix_str(name)
        overall.update(1)

    try:
        run_units(ctx, todo, done=done, planner=functools.partial(_plan, data_root=data_root), commit=commit,
                  on_commit=on_commit, spill_dir=spill_folder(cache_root, ctx.writer.path),
                  parquet_min_rows=PARQUET_MIN_ROWS if parquet_rows is None else parquet_rows)
    finally:
        overall.close()


def _building_hash(path: Path) -> str | None:
    try:
        writer = ResultsWriter(path)
    except Exception:  # noqa: BLE001 - an unreadable side file is simply discarded
        return None
    try:
        return writer.latest_config_hash()
    finally:
        writer.close()
