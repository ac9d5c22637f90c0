"""Mid-level Perceptual Features dataset (Aljanaki & Soleymani, 2018): 5000 clips, 7 descriptors.

Expected layout (the folder given as ``root``)::

    metadata.csv      separated by ';': "song id", "Source", "ID at file source", ...
    annotations.csv   separated by ',': "song_id" and the 7 ratings on 1 to 10
    audio/{song id}.mp3   (or {song id}.mp3 directly in ``root``)

Ratings are scaled to [0, 1] by ``(rating - 1) / 9``. Rows whose ``Source`` is ``soundtracks`` are
the Soundtracks Set 1 excerpts (``ID at file source`` being their number); ``exclude_sources``
drops them when a model trained here is applied to Soundtracks, so that no excerpt is both
trained on and explained. Splits are group-aware by source file: the dataset's snippets come from
distinct tracks, so the song id itself is the group.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.audio.io import load_audio
from engine.datasets.base import SAMPLE_RATE, ClipRecord
from engine.datasets.soundtracks import DatasetError
from engine.datasets.splits import group_split

METADATA_FILE = "metadata.csv"
ANNOTATIONS_FILE = "annotations.csv"
RATING_RANGE = (1.0, 10.0)
# The annotation file's column names for our descriptor names.
ANNOTATION_COLUMNS = {
    "melodiousness": "melodiousness",
    "articulation": "articulation",
    "rhythm_stability": "rhythm_stability",
    "rhythm_complexity": "rhythm_complexity",
    "dissonance": "dissonance",
    "tonal_stability": "tonal_stability",
    "minorness": "minorness",
}


@dataclass(frozen=True, kw_only=True)
class MTGMidlevelConfig:
    """Where the data is, which sources to drop and how to split.

    Attributes:
        root: folder laid out as in the module docstring.
        exclude_sources: values of the ``Source`` column whose rows are dropped (case-insensitive).
        fractions: train, validation and test shares.
        split_seed: seed of the split.
    """

    root: Path
    exclude_sources: tuple[str, ...] = ()
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
    split_seed: int = 0


class MTGMidlevelDataset:
    """Adapter for the mid-level features dataset; see the module docstring."""

    name = "mtg_midlevel"

    def __init__(self, config: MTGMidlevelConfig) -> None:
        self.config = config
        self.root = Path(config.root)
        self._records = self._read()

    @property
    def split_name(self) -> str:
        shares = "/".join(f"{round(100 * f)}" for f in self.config.fractions)
        return f"group-aware by song id, {shares} train/val/test (seed {self.config.split_seed})"

    def records(self) -> list[ClipRecord]:
        return list(self._records)

    def load(self, clip_id: str) -> np.ndarray:
        return load_audio(self.audio_path(clip_id), sample_rate=SAMPLE_RATE)

    def audio_path(self, clip_id: str) -> Path:
        nested = self.root / "audio" / f"{clip_id}.mp3"
        return nested if nested.is_file() else self.root / f"{clip_id}.mp3"

    def _read(self) -> list[ClipRecord]:
        metadata = _read(self.root / METADATA_FILE, delimiter=";", key="song id", required=("song id", "Source", "ID at file source"))
        annotations = _read(self.root / ANNOTATIONS_FILE, delimiter=",", key="song_id", required=("song_id", *ANNOTATION_COLUMNS.values()))
        excluded = {s.lower() for s in self.config.exclude_sources}
        ids = [i for i in sorted(annotations, key=_natural) if metadata.get(i, {}).get("Source", "").strip().lower() not in excluded]
        unknown = [i for i in ids if i not in metadata]
        if unknown:
            raise DatasetError(f"{self.root / METADATA_FILE}: no metadata for song id(s) {unknown[:5]}")
        splits = group_split(ids, fractions=self.config.fractions, seed=self.config.split_seed)
        low, high = RATING_RANGE
        records = []
        for song_id, split in zip(ids, splits):
            row = annotations[song_id]
            try:
                midlevel = {name: (float(row[column]) - low) / (high - low) for name, column in ANNOTATION_COLUMNS.items()}
            except ValueError as error:
                raise DatasetError(f"{self.root / ANNOTATIONS_FILE}: song {song_id}: {error}") from error
            records.append(
                ClipRecord(
                    dataset=self.name,
                    clip_id=song_id,
                    group=song_id,
                    split=split,
                    midlevel=midlevel,
                    path=str(self.audio_path(song_id)),
                )
            )
        return records


def _natural(song_id: str) -> tuple[int, str]:
    return (int(song_id), "") if song_id.isdigit() else (1 << 62, song_id)


def _read(path: Path, *, delimiter: str, key: str, required: tuple[str, ...]) -> dict[str, dict[str, str]]:
    if not path.is_file():
        raise DatasetError(f"{path}: file not found")
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle, delimiter=delimiter)
        fields = [f.strip() for f in (reader.fieldnames or [])]
        reader.fieldnames = fields
        absent = [c for c in required if c not in fields]
        if absent:
            raise DatasetError(f"{path}: missing column(s) {absent} (is the separator {delimiter!r}?)")
        return {row[key].strip(): row for row in reader if (row.get(key) or "").strip()}

