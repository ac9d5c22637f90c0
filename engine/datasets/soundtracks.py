"""Soundtracks Stimulus Set 1 (Eerola & Vuoskoski, 2011): 360 film-music excerpts, 8 rating scales.

Expected layout (the folder given as ``root``)::

    audio/001.mp3 ... audio/360.mp3
    mean_ratings_set1.csv     number,valence,energy,...,tender,TARGET  (UTF-8 with byte-order mark)
    set1_tracklist.csv        Nro,Emotion,Album name,Track,Min:Sec

The album is the group key: excerpts of one film never straddle train and test with
``split="group"`` (the default). ``split="random"`` reproduces the thesis's plain random split,
which lets excerpts of one film land on both sides; it is labelled leaky wherever it is shown.
The Happy/Sad label of the perceptual route is ``happy`` when the happy rating exceeds the sad
rating, else ``sad``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.audio.io import load_audio
from engine.datasets.base import EMOTIONS, SAMPLE_RATE, ClipRecord
from engine.datasets.splits import group_split, random_split

RATINGS_FILE = "mean_ratings_set1.csv"
TRACKLIST_FILE = "set1_tracklist.csv"


class DatasetError(ValueError):
    """A dataset folder is missing a file or a column; the message names which."""


@dataclass(frozen=True, kw_only=True)
class SoundtracksConfig:
    """Where the data is and how to split it.

    Attributes:
        root: folder laid out as in the module docstring.
        split: ``"group"`` (by album) or ``"random"`` (clip level, leaky).
        fractions: train, validation and test shares.
        split_seed: seed of the split.
    """

    root: Path
    split: str = "group"
    fractions: tuple[float, float, float] = (0.7, 0.1, 0.2)
    split_seed: int = 0


class SoundtracksDataset:
    """Adapter for the Soundtracks set; see the module docstring."""

    name = "soundtracks"

    def __init__(self, config: SoundtracksConfig) -> None:
        if config.split not in ("group", "random"):
            raise ValueError(f"split must be 'group' or 'random', got {config.split!r}")
        self.config = config
        self.root = Path(config.root)
        self._records = self._read()

    @property
    def split_name(self) -> str:
        if self.config.split == "group":
            return f"group-aware by album, {self._shares()} (seed {self.config.split_seed})"
        return f"random clip-level {self._shares()}: LEAKY, excerpts of one film on both sides (seed {self.config.split_seed})"

    def records(self) -> list[ClipRecord]:
        return list(self._records)

    def load(self, clip_id: str) -> np.ndarray:
        return load_audio(self.root / "audio" / f"{clip_id}.mp3", sample_rate=SAMPLE_RATE)

    def _shares(self) -> str:
        return "/".join(f"{round(100 * f)}" for f in self.config.fractions) + " train/val/test"

    def _read(self) -> list[ClipRecord]:
        ratings = _read_csv(self.root / RATINGS_FILE, key="number", required=("number", *EMOTIONS, "TARGET"))
        tracks = _read_csv(self.root / TRACKLIST_FILE, key="Nro", required=("Nro", "Album name"))
        ids = sorted(ratings)
        missing = [i for i in ids if i not in tracks]
        if missing:
            raise DatasetError(f"{self.root / TRACKLIST_FILE}: no album for excerpt(s) {missing[:5]}")
        groups = [tracks[i]["Album name"].strip() for i in ids]
        if self.config.split == "group":
            splits = group_split(groups, fractions=self.config.fractions, seed=self.config.split_seed)
        else:
            splits = random_split(len(ids), fractions=self.config.fractions, seed=self.config.split_seed)
        records = []
        for clip_id, group, split in zip(ids, groups, splits):
            row = ratings[clip_id]
            try:
                emotions = {e: float(row[e]) for e in EMOTIONS}
            except ValueError as error:
                raise DatasetError(f"{self.root / RATINGS_FILE}: excerpt {clip_id}: {error}") from error
            records.append(
                ClipRecord(
                    dataset=self.name,
                    clip_id=clip_id,
                    group=group,
                    split=split,
                    emotions=emotions,
                    label="happy" if emotions["happy"] > emotions["sad"] else "sad",
                    path=str(self.root / "audio" / f"{clip_id}.mp3"),
                )
            )
        return records


def _read_csv(path: Path, *, key: str, required: tuple[str, ...]) -> dict[str, dict[str, str]]:
    if not path.is_file():
        raise DatasetError(f"{path}: file not found")
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        absent = [c for c in required if c not in (reader.fieldnames or [])]
        if absent:
            raise DatasetError(f"{path}: missing column(s) {absent}")
        return {row[key].strip().zfill(3): row for row in reader if row.get(key, "").strip()}
