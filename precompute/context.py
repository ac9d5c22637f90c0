"""What every stage of a run shares: the dataset, its clips with splits, and the feature arrays.

Features are computed once per clip (audio loading plus every representation the profile needs)
and cached under ``data/cache/`` keyed by the dataset's configuration, so a resumed or repeated
run does not decode the corpus again. A clip whose audio cannot be read is reported, recorded in
``skipped_clips`` and left out of every experiment; the run goes on.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import multiprocessing
import os
import uuid
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Protocol

import numpy as np

from engine.audio.io import AudioLoadError, fit_length
from engine.audio.representations import compute_representation
from engine.datasets.base import ClipRecord, Dataset
from engine.music.features import MUSIC_FEATURES, music_features
from engine.vocabulary import EMOTIONS, MIDLEVEL, SAMPLE_RATE
from precompute.database import ResultsWriter
from precompute.profile import Profile
from precompute.progress import bar, say

FEATURE_VERSION = 4  # bump when a representation's computation changes, to invalidate caches


@dataclass
class Features:
    """Stacked model inputs of the usable clips.

    Attributes
    ----------
        clip_ids: usable clips, in record order, length ``N``.
        arrays: representation name to array ``(N, ...)`` (e.g. ``(N, 149, 313)``).
        skipped: clip id to the reason it was left out.
    """

    clip_ids: list[str]
    arrays: dict[str, np.ndarray]
    skipped: dict[str, str] = field(default_factory=dict)


class ClipMap(Protocol):
    """Runs per-clip work: ``work(state, task)`` for every task, with ``state = setup(payload)`` made once per worker.

    Yields the results in the order of ``tasks``. ``device`` is where ``setup`` puts its model
    (an actor pool asks its cluster for a GPU per worker when it is ``cuda``).
    """

    def __call__(
        self, *, setup: Callable[[Any], Any], payload: Any, work: Callable[[Any, Any], Any], tasks: list[Any], device: str,
    ) -> Iterator[Any]:
        """Yield ``work(state, task)`` for every task, in order."""
        ...


def map_in_process(
    *, setup: Callable[[Any], Any], payload: Any, work: Callable[[Any, Any], Any], tasks: list[Any], device: str,
) -> Iterator[Any]:
    """Run per-clip work on one machine: one state, every task in turn, in this process (a :class:`ClipMap`)."""
    state = setup(payload)
    for task in tasks:
        yield work(state, task)


@dataclass
class RunContext:
    """Shared state of one run, handed to every stage."""

    profile: Profile
    dataset: Dataset
    records: list[ClipRecord]
    clip_seconds: float
    device: str
    cache_dir: Path
    writer: ResultsWriter
    representations: tuple[str, ...]
    split_name: str = ""
    show_progress: bool = True
    jobs: int = 1
    """Processes for feature extraction (1: in this process)."""
    a2mid_train: "RunContext | None" = None
    """Context of the dataset A2Mid trains on, when it is not this one (e.g. MTG for Soundtracks)."""
    confound_variants: "dict[float, RunContext]" = field(default_factory=dict)
    """Synthetic corpus only: contexts of the corpus re-planned at other confounds (the clean models' data)."""
    clip_map: ClipMap = map_in_process
    """How per-clip work runs (:func:`map_in_process`, or an actor pool on a Ray cluster)."""
    trained_models: dict[tuple[str, str, int], Any] = field(default_factory=dict)
    """Models trained in this process by (route, input, seed): a ``branches_first`` late fusion reuses its branches."""
    _features: Features | None = None

    def with_confound(self, confound: float) -> "RunContext":
        """Return the context of this corpus re-planned at ``confound`` (built by the pipeline when a profile asks)."""
        try:
            return self.confound_variants[float(confound)]
        except KeyError:
            raise ValueError(f"no corpus variant at confound {confound:g} was prepared for this run") from None

    @property
    def records_by_id(self) -> dict[str, ClipRecord]:
        """Every record of the dataset by clip id."""
        return {record.clip_id: record for record in self.records}

    def features(self) -> Features:
        """Every needed representation of every readable clip (computed on first use, cached)."""
        if self._features is None:
            self._features = _compute_features(self)
        return self._features

    def use_features(self, features: Features) -> None:
        """Take features computed elsewhere (on a Ray cluster, :mod:`precompute.cluster`) instead of computing them."""
        self._features = features

    def contexts(self) -> "list[RunContext]":
        """Return this context and every context it holds (``a2mid_train``, ``confound_variants``), each once."""
        found: list[RunContext] = [self]
        for other in (self.a2mid_train, *self.confound_variants.values()):
            if other is not None and all(other is not seen for seen in found):
                found += [c for c in other.contexts() if all(c is not seen for seen in found)]
        return found

    def split_index(self, split: str) -> np.ndarray:
        """Row indices (into ``features().clip_ids``) of the usable clips in ``split``."""
        by_id = self.records_by_id
        return np.array(
            [i for i, clip_id in enumerate(self.features().clip_ids) if by_id[clip_id].split == split], dtype=np.int64
        )

    def targets(self, kind: str) -> np.ndarray:
        """Labels of the usable clips: ``"emotions"`` ``(N, 8)`` on 1..7.83 or ``"midlevel"`` ``(N, 7)``."""
        names = EMOTIONS if kind == "emotions" else MIDLEVEL
        by_id = self.records_by_id
        return np.array(
            [[getattr(by_id[c], kind).get(n, np.nan) for n in names] for c in self.features().clip_ids],
            dtype=np.float32,
        )

    def waveform(self, clip_id: str) -> np.ndarray:
        """Audio of one clip, cut or padded to the profile's clip length."""
        return fit_length(self.dataset.load(clip_id), n_samples=int(round(self.clip_seconds * SAMPLE_RATE)))


def dataset_fingerprint(options: dict[str, Any], *, data_root: str, clip_seconds: float) -> str:
    """Cache key of a dataset's features: its options, data location and clip length."""
    payload: dict[str, Any] = {
        "dataset": options,
        "data_root": data_root,
        "clip_seconds": clip_seconds,
        "feature_version": FEATURE_VERSION,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def _compute_features(ctx: RunContext) -> Features:
    ctx.cache_dir.mkdir(parents=True, exist_ok=True)
    progress = bar(total=len(ctx.records), desc="features", unit="clip", enabled=ctx.show_progress)
    job = partial(
        clip_features_or_reason, ctx.dataset, representations=ctx.representations, cache_dir=ctx.cache_dir,
        clip_seconds=ctx.clip_seconds,
    )
    clip_order = [record.clip_id for record in ctx.records]
    uncached = sum(not _cache_file(ctx.cache_dir, c).is_file() for c in clip_order)
    with contextlib.ExitStack() as stack:
        results: Iterator[tuple[dict[str, np.ndarray] | None, str]]
        if ctx.jobs > 1 and uncached >= 2 * ctx.jobs:
            # fork: spawn would re-run the parent's __main__ in every worker, which breaks when that is
            # not this command (a notebook, a Streamlit script). The workers use one torch thread, so
            # the parent's thread pools, which a forked child does not inherit, are never needed.
            pool = stack.enter_context(
                ProcessPoolExecutor(max_workers=ctx.jobs, mp_context=multiprocessing.get_context("fork"), initializer=_worker_init)
            )
            results = pool.map(job, clip_order, chunksize=4)
        else:
            results = map(job, clip_order)
        features = gather_features(ctx, zip(clip_order, results), on_clip=lambda: progress.update(1))
    progress.close()
    return features


def gather_features(
    ctx: RunContext, results: Iterable[tuple[str, tuple[dict[str, np.ndarray] | None, str]]],
    *, on_clip: Callable[[], None] = lambda: None,
) -> Features:
    """Stack per-clip results ``(clip_id, (arrays, reason))``, given in record order, into the run's features.

    A clip with ``arrays`` None is reported and recorded as skipped with its ``reason``, as are the
    clips the dataset adapter itself left out. ``on_clip`` is called once per clip (progress).

    Raises
    ------
        RuntimeError: no clip was readable.
    """
    clip_ids: list[str] = []
    per_clip: dict[str, list[np.ndarray]] = {name: [] for name in ctx.representations}
    # Clips the adapter itself left out (e.g. a listed file that is missing) are reported the same way.
    skipped: dict[str, str] = {str(clip): str(reason) for clip, reason in getattr(ctx.dataset, "skipped", [])}
    for clip_id, (arrays, reason) in results:
        if arrays is None:
            skipped[clip_id] = reason
            say(f"skipped {clip_id}: {reason}")
        else:
            clip_ids.append(clip_id)
            for name in ctx.representations:
                per_clip[name].append(arrays[name])
        on_clip()
    if not clip_ids:
        raise RuntimeError(f"no readable clips in dataset {ctx.dataset.name!r} ({len(skipped)} skipped)")
    return Features(
        clip_ids=clip_ids, arrays={name: np.stack(values) for name, values in per_clip.items()}, skipped=skipped
    )


def _worker_init() -> None:
    # One thread per worker: the workers already use every core between them.
    import torch

    torch.set_num_threads(1)


def _cache_file(cache_dir: Path, clip_id: str) -> Path:
    return cache_dir / f"{clip_id}.npz"


def clip_features_or_reason(
    dataset: Dataset, clip_id: str, *, representations: tuple[str, ...], cache_dir: Path, clip_seconds: float
) -> tuple[dict[str, np.ndarray] | None, str]:
    """``(arrays, "")`` for a usable clip, ``(None, reason)`` for one to skip (runs in a worker process)."""
    try:
        return _clip_features(dataset, clip_id, representations=representations, cache_dir=cache_dir, clip_seconds=clip_seconds), ""
    except AudioLoadError as error:
        return None, str(error)
    except (ValueError, RuntimeError) as error:
        return None, f"{clip_id}: feature extraction failed ({error})"


def _clip_features(
    dataset: Dataset, clip_id: str, *, representations: tuple[str, ...], cache_dir: Path, clip_seconds: float
) -> dict[str, np.ndarray]:
    cache_file = _cache_file(cache_dir, clip_id)
    kept: dict[str, np.ndarray] = {}
    if cache_file.is_file():
        with np.load(cache_file) as cached:
            if all(name in cached for name in representations):
                return {name: cached[name] for name in representations}
            kept = {name: cached[name] for name in cached.files}  # another profile's arrays stay in the file
    y = fit_length(dataset.load(clip_id), n_samples=int(round(clip_seconds * SAMPLE_RATE)))
    arrays = {
        name: compute_representation(name, y, clip_seconds=clip_seconds)
        for name in representations
        if name not in MUSIC_FEATURES
    }
    if any(name in MUSIC_FEATURES for name in representations):
        arrays.update({k: v for k, v in music_features(y).items() if k in representations})
    cache_file.parent.mkdir(parents=True, exist_ok=True)  # clip ids may hold a folder, e.g. "train/song_12"
    write_atomically(cache_file, lambda temporary: np.savez(temporary, **{**kept, **arrays}))
    return arrays


def write_atomically(path: Path, write: Callable[[Path], None]) -> None:
    """Write a cache file through ``write(temporary)`` and rename it into place.

    The rename is atomic, so an interrupted run never leaves a truncated file; the temporary name
    is this process's own (pid and a random suffix), since two runs sharing a cache may write the
    same clip at once. ``temporary`` keeps ``path``'s suffix (NumPy adds none to a name that has it).
    """
    temporary = path.with_name(f"{path.stem}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp{path.suffix}")
    write(temporary)
    temporary.replace(path)
