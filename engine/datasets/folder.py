"""Any folder of Happy/Sad audio: class sub-folders, or a CSV of paths and labels.

Layout 1, class sub-folders (the folder given as ``root``; names matched ignoring case)::

    happy/a.wav  happy/live/b.mp3  ...
    sad/c.flac   sad/d.ogg  ...

Files are collected recursively under ``happy/`` and ``sad/``; only the extensions in
``AUDIO_EXTENSIONS`` count (WAV, FLAC, OGG and MP3 are read by libsndfile, M4A through the FFmpeg
fallback of :func:`engine.audio.io.load_audio`); other files and hidden files (names starting with
``.``, such as macOS ``._a.wav`` resource forks) are ignored. Both class folders must exist.

Layout 2, a label file (``labels_csv``, relative to ``root`` unless absolute)::

    path,label[,group][,split]
    clips/a.wav,Happy,song1,train
    clips/b.mp3,sad,song1,train

``path`` is relative to ``root``; ``label`` is Happy or Sad in any case; ``group`` (optional)
names clips that must share a split (e.g. excerpts of one song); ``split`` (optional) is
``train``, ``val`` (or ``validation``) or ``test`` and, when the column is present, is used as
given for every row. Files in the folder that the CSV does not list are ignored.

Clip ids are the paths relative to ``root`` without their extension, with ``/`` separators (e.g.
``happy/live/b``); two files differing only in extension are an error. In the label-file layout,
folders named after a class or a split are left out of the ids when the ids stay unique
(``Test/Happy/Happy00622`` becomes ``Happy00622``). Without a ``split``
column, splits are group-aware (:func:`engine.datasets.splits.group_split`) with ``fractions``;
without a ``group`` column every clip is its own group.

Files that are listed but absent are not fatal: they are left out of :meth:`FolderDataset.records`
and listed in :attr:`FolderDataset.skipped` as ``(path, reason)``; splits are computed over the
clips that remain. Malformed input (missing CSV or column, a label outside Happy/Sad, an unknown
split, a repeated path or clip id, no audio at all) raises
:class:`~engine.datasets.soundtracks.DatasetError` naming the file and line.
"""

from __future__ import annotations

import csv
import dataclasses
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from engine.audio.io import AudioLoadError, load_audio
from engine.datasets.base import ClipRecord
from engine.datasets.soundtracks import DatasetError
from engine.datasets.splits import group_split
from engine.vocabulary import CLASSES, SAMPLE_RATE, SPLITS

AUDIO_EXTENSIONS: tuple[str, ...] = (".wav", ".flac", ".ogg", ".mp3", ".m4a")
"""File extensions (lower case) collected from class sub-folders."""

SPLIT_ALIASES = {"validation": "val"}
"""Other spellings accepted in a CSV's ``split`` column."""


@dataclass(frozen=True, kw_only=True)
class FolderConfig:
    """Say where the audio is, where its labels are and how to split it.

    Attributes
    ----------
    root : pathlib.Path
        Folder laid out as in the module docstring.
    labels_csv : pathlib.Path, str or None, default None
        Label file (relative to ``root`` unless absolute); ``None`` reads class sub-folders instead.
    fractions : tuple of float, default (0.7, 0.1, 0.2)
        Train, validation and test shares of clips, used when the CSV has no ``split`` column.
    split_seed : int, default 0
        Seed of that split, and of the validation hold-out below.
    val_fraction : float, default 0.1
        When the CSV's ``split`` column names only train and test clips, this share of the training
        clips (whole groups, seeded) becomes the validation split; 0 leaves validation empty.

    Examples
    --------
    >>> config = FolderConfig(root=Path("my_clips"), labels_csv="labels.csv")
    >>> config.fractions, config.split_seed, config.val_fraction
    ((0.7, 0.1, 0.2), 0, 0.1)
    """

    root: Path
    labels_csv: Path | str | None = None
    fractions: tuple[float, float, float] = (0.7, 0.1, 0.2)
    split_seed: int = 0
    val_fraction: float = 0.1


@dataclass(frozen=True)
class _Entry:
    clip_id: str
    label: str
    path: Path
    group: str | None = None
    split: str | None = None


class FolderDataset:
    """Read a folder of Happy/Sad audio as a dataset; see the module docstring.

    Parameters
    ----------
    config : FolderConfig
        Where the audio and labels are, and how to split.

    Attributes
    ----------
    skipped : list of tuple of (str, str)
        ``(path, reason)`` for every listed file left out because it is missing.

    Raises
    ------
    DatasetError
        Missing folder, CSV or column, a label outside Happy/Sad, an unknown split, a repeated path
        or clip id, or no audio at all.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> import soundfile as sf
    >>> tone = 0.3 * np.sin(2 * np.pi * 440.0 * np.arange(2205) / 22_050)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     for name in ("happy/a.wav", "happy/live/b.wav", "sad/c.wav"):
    ...         (Path(folder) / name).parent.mkdir(parents=True, exist_ok=True)
    ...         sf.write(Path(folder) / name, tone, 22_050)
    ...     dataset = FolderDataset(FolderConfig(root=Path(folder)))
    ...     waveform = dataset.load("sad/c")
    >>> [(record.clip_id, record.label) for record in dataset.records()]
    [('happy/a', 'happy'), ('happy/live/b', 'happy'), ('sad/c', 'sad')]
    >>> waveform.shape, waveform.dtype
    ((2205,), dtype('float32'))
    """

    name = "folder"

    def __init__(self, config: FolderConfig) -> None:
        self.config = config
        self.root = Path(config.root)
        self.skipped: list[tuple[str, str]] = []
        self._has_groups = False
        self._has_splits = False
        self._val_held_out = False
        self._records = self._read()
        self._paths = {r.clip_id: Path(r.path) for r in self._records if r.path}

    @property
    def labels_path(self) -> Path | None:
        """Return the label file resolved against ``root``, or ``None`` for class sub-folders.

        Returns
        -------
        pathlib.Path or None
            ``config.labels_csv``, joined to ``root`` unless absolute.
        """
        if self.config.labels_csv is None:
            return None
        path = Path(self.config.labels_csv)
        return path if path.is_absolute() else self.root / path

    @property
    def split_name(self) -> str:
        """Describe how the clips were split, in words (for display).

        Returns
        -------
        str
            E.g. ``"clip-level (each clip its own group), 70/10/20 train/val/test (seed 0)"``.
        """
        labels = self.labels_path
        if labels is not None and self._has_splits:
            given = f"as given in the split column of {labels.name}"
            if self._val_held_out:
                by = "in whole groups" if self._has_groups else "each clip its own group"
                given += (f"; validation: {round(100 * self.config.val_fraction)}% of the training clips ({by}), "
                          f"held out (seed {self.config.split_seed})")
            return given
        shares = "/".join(f"{round(100 * f)}" for f in self.config.fractions)
        by = f"group-aware by the group column of {labels.name}" if self._has_groups and labels else "clip-level (each clip its own group)"
        return f"{by}, {shares} train/val/test (seed {self.config.split_seed})"

    def records(self) -> list[ClipRecord]:
        """Return all clips with their label, group and split (missing files left out).

        Returns
        -------
        list of ClipRecord
            One record per usable file, in folder or CSV order.
        """
        return list(self._records)

    def load(self, clip_id: str) -> np.ndarray:
        """Load one clip as a mono float32 waveform at :data:`engine.vocabulary.SAMPLE_RATE`.

        Parameters
        ----------
        clip_id : str
            A clip id of :meth:`records`, e.g. ``"happy/live/b"``.

        Returns
        -------
        numpy.ndarray
            Float32 waveform, shape ``(n_samples,)``.

        Raises
        ------
        engine.audio.io.AudioLoadError
            ``clip_id`` is not in the dataset, or its audio cannot be read.
        """
        path = self._paths.get(clip_id)
        if path is None:
            raise AudioLoadError(f"{self.root}: no clip {clip_id!r} in this dataset")
        return load_audio(path, sample_rate=SAMPLE_RATE)

    def _read(self) -> list[ClipRecord]:
        if not self.root.is_dir():
            raise DatasetError(f"{self.root}: dataset folder not found")
        labels = self.labels_path
        entries = self._from_csv(labels) if labels is not None else self._from_folders()
        if not entries:
            where = labels if labels is not None else self.root
            raise DatasetError(f"{where}: no usable audio files ({len(self.skipped)} listed file(s) missing)")
        if self._has_splits:
            splits = [e.split or "" for e in entries]
            if "val" not in splits and self.config.val_fraction > 0:
                splits = self._hold_out_validation(entries, splits)
        else:
            groups = [e.group or e.clip_id for e in entries]
            splits = group_split(groups, fractions=self.config.fractions, seed=self.config.split_seed)
        return [
            ClipRecord(
                dataset=self.name,
                clip_id=e.clip_id,
                group=e.group or e.clip_id,
                split=split,
                label=e.label,
                path=str(e.path),
            )
            for e, split in zip(entries, splits)
        ]

    def _hold_out_validation(self, entries: list[_Entry], splits: list[str]) -> list[str]:
        """Move ``val_fraction`` of the training clips (whole groups) to validation."""
        if not 0.0 < self.config.val_fraction < 1.0:
            raise DatasetError(f"{self.labels_path}: val_fraction must be in (0, 1), got {self.config.val_fraction}")
        train = [i for i, split in enumerate(splits) if split == "train"]
        held = group_split([entries[i].group or entries[i].clip_id for i in train],
                           fractions=(1.0 - self.config.val_fraction, self.config.val_fraction, 0.0), seed=self.config.split_seed)
        out = list(splits)
        for i, split in zip(train, held):
            out[i] = split
        self._val_held_out = True
        return out

    def _from_folders(self) -> list[_Entry]:
        entries: list[_Entry] = []
        for label in CLASSES:
            folders = [d for d in sorted(self.root.iterdir()) if d.is_dir() and d.name.lower() == label]
            if not folders:
                raise DatasetError(f"{self.root}: no '{label}' sub-folder (and no labels_csv given)")
            for folder in folders:
                for path in sorted(folder.rglob("*")):
                    relative = path.relative_to(self.root)
                    if any(part.startswith(".") for part in relative.parts):
                        continue
                    if path.is_file() and path.suffix.lower() in AUDIO_EXTENSIONS:
                        entries.append(_Entry(clip_id=_clip_id(relative), label=label, path=path))
        _check_unique(entries, where=self.root)
        return entries

    def _from_csv(self, labels: Path) -> list[_Entry]:
        if not labels.is_file():
            raise DatasetError(f"{labels}: file not found")
        try:
            return self._read_csv(labels)
        except UnicodeDecodeError as error:
            raise DatasetError(f"{labels}: not UTF-8 text (byte {error.start})") from None

    def _read_csv(self, labels: Path) -> list[_Entry]:
        entries: list[_Entry] = []
        seen: dict[str, int] = {}
        with labels.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            fields = [f.strip().lower() for f in (reader.fieldnames or [])]
            reader.fieldnames = fields
            absent = [c for c in ("path", "label") if c not in fields]
            if absent:
                raise DatasetError(f"{labels}: missing column(s) {absent} (found {fields})")
            self._has_groups = "group" in fields
            self._has_splits = "split" in fields
            for row in reader:
                line = reader.line_num
                name = (row.get("path") or "").strip()
                target = (row.get("label") or "").strip()
                if not name:
                    raise DatasetError(f"{labels}: line {line}: empty path")
                label = target.lower()
                if label not in CLASSES:
                    raise DatasetError(f"{labels}: line {line} (path {name!r}): label {target!r} is not Happy or Sad")
                relative = PurePosixPath(name.replace("\\", "/"))
                if relative.is_absolute() or ".." in relative.parts:
                    raise DatasetError(f"{labels}: line {line}: path {name!r} leaves the dataset folder; give it relative to {self.root}")
                if str(relative) in seen:
                    raise DatasetError(f"{labels}: line {line}: path {name!r} repeats line {seen[str(relative)]}")
                seen[str(relative)] = line
                split = None
                if self._has_splits:
                    given = (row.get("split") or "").strip().lower()
                    split = SPLIT_ALIASES.get(given, given)
                    if split not in SPLITS:
                        raise DatasetError(f"{labels}: line {line} (path {name!r}): split {given!r} is not one of {list(SPLITS)}")
                group = ((row.get("group") or "").strip() or None) if self._has_groups else None
                path = self.root / relative
                if not path.is_file():
                    self.skipped.append((str(path), f"{path}: no such file (line {line} of {labels.name})"))
                    continue
                entries.append(_Entry(clip_id=_clip_id(relative), label=label, path=path, group=group, split=split))
        _check_unique(entries, where=labels)
        return _without_label_folders(entries)


def _without_label_folders(entries: list[_Entry]) -> list[_Entry]:
    """Drop folders named after a class or a split from the clip ids (``Test/Happy/x`` -> ``x``), if ids stay unique.

    A label-file layout often sorts files into ``<split>/<class>/`` folders; kept in the id, they
    print the answer beside every clip on the dashboard.
    """
    redundant = {*CLASSES, *SPLITS, *SPLIT_ALIASES}
    short = ["/".join([p for p in e.clip_id.split("/")[:-1] if p.lower() not in redundant] + [e.clip_id.split("/")[-1]])
             for e in entries]
    if len(set(short)) < len(short):
        return entries
    return [dataclasses.replace(e, clip_id=clip_id) for e, clip_id in zip(entries, short)]


def _clip_id(relative: Path | PurePosixPath) -> str:
    return PurePosixPath(*relative.parts).with_suffix("").as_posix()


def _check_unique(entries: list[_Entry], *, where: Path) -> None:
    first: dict[str, Path] = {}
    for entry in entries:
        if entry.clip_id in first:
            raise DatasetError(f"{where}: {first[entry.clip_id]} and {entry.path} give the same clip id {entry.clip_id!r}")
        first[entry.clip_id] = entry.path
