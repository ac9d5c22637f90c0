"""Kaggle "Musical Emotions Classification": short music clips labelled Happy or Sad.

Expected layout (the folder given as ``root``)::

    Train.csv     ImageID,Target      e.g. song_12.wav,Happy   (a byte-order mark is fine)
    Test.csv      ImageID,Target
    Audio_Files/Audio_Files/Train/Happy/{ImageID}
    Audio_Files/Audio_Files/Train/Sad/{ImageID}
    Audio_Files/Audio_Files/Test/Happy/{ImageID}
    Audio_Files/Audio_Files/Test/Sad/{ImageID}

(The doubled ``Audio_Files`` is how the Kaggle archive unpacks; a single ``Audio_Files/`` level is
accepted too, and the ``Train``/``Test``/``Happy``/``Sad`` folder names are matched
case-insensitively.) ``Target`` is ``Happy`` or ``Sad`` in any case; it becomes the label
``"happy"``/``"sad"``, and it also names the folder the file is looked up in.

Clip ids are ``train/{stem}`` and ``test/{stem}`` (``stem`` being ``ImageID`` without its
extension), so one name may appear in both CSVs. Rows of ``Test.csv`` form the test split; rows of
``Train.csv`` are divided into train and validation by a seeded split stratified by label, holding
out ``val_fraction`` of each class (at least one clip per class with two or more clips, when
``val_fraction`` is positive).

Groups: the file names carry no song or artist identity, so every clip is its own group
(``group == clip_id``). If the archive holds several excerpts of one song, they may straddle the
dataset's own train/test boundary; that split is used as published.

Rows whose audio file is absent are not fatal: they are left out of :meth:`records` and listed in
:attr:`KaggleMECDataset.skipped` as ``(clip_id, reason)``. The split is computed over the clips
that remain. A root without any audio folder, and malformed CSVs (missing file or column, a label
other than Happy/Sad, an empty or repeated ``ImageID``), raise
:class:`~engine.datasets.soundtracks.DatasetError` naming the file and the line.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from engine.audio.io import AudioLoadError, load_audio
from engine.datasets.base import ClipRecord
from engine.datasets.soundtracks import DatasetError
from engine.vocabulary import CLASSES, SAMPLE_RATE

CSV_FILES = {"train": "Train.csv", "test": "Test.csv"}
"""The label file of each published part, keyed by the lower-case part name."""

AUDIO_DIRS: tuple[tuple[str, ...], ...] = (("Audio_Files", "Audio_Files"), ("Audio_Files",))
"""Candidate audio folders under ``root``, first existing one wins."""

ID_COLUMN = "ImageID"
LABEL_COLUMN = "Target"


@dataclass(frozen=True, kw_only=True)
class KaggleMECConfig:
    """Say where the data is and how much of ``Train.csv`` to hold out for validation.

    Attributes
    ----------
    root : pathlib.Path
        Folder laid out as in the module docstring.
    val_fraction : float, default 0.1
        Share of each class of ``Train.csv`` that becomes the validation split, in ``[0, 1)``.
    split_seed : int, default 0
        Seed of the validation split.

    Examples
    --------
    >>> KaggleMECConfig(root=Path("kaggle_mec"), val_fraction=0.2).split_seed
    0
    """

    root: Path
    val_fraction: float = 0.1
    split_seed: int = 0


class KaggleMECDataset:
    r"""Read the Kaggle Musical Emotions Classification set as a dataset; see the module docstring.

    Parameters
    ----------
    config : KaggleMECConfig
        Where the data is and how much to hold out for validation.

    Attributes
    ----------
    skipped : list of tuple of (str, str)
        ``(clip_id, reason)`` for every CSV row left out because its audio is missing.

    Raises
    ------
    ValueError
        ``config.val_fraction`` is not in ``[0, 1)``.
    DatasetError
        No dataset or audio folder, or a malformed CSV.

    Examples
    --------
    A tiny copy of the layout (one ``Audio_Files`` level), one row without its file:

    >>> import tempfile
    >>> import numpy as np
    >>> import soundfile as sf
    >>> tone = 0.3 * np.sin(2 * np.pi * 440.0 * np.arange(2205) / 22_050)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     root = Path(folder)
    ...     rows = {"Train": ["a.wav,Happy", "b.wav,happy", "c.wav,Sad", "d.wav,Sad"], "Test": ["e.wav,Sad"]}
    ...     for part, lines in rows.items():
    ...         _ = (root / f"{part}.csv").write_text("\n".join(["ImageID,Target", *lines]) + "\n")
    ...         for line in lines[:3]:
    ...             name, label = line.split(",")
    ...             (root / "Audio_Files" / part / label.title()).mkdir(parents=True, exist_ok=True)
    ...             sf.write(root / "Audio_Files" / part / label.title() / name, tone, 22_050)
    ...     dataset = KaggleMECDataset(KaggleMECConfig(root=root, val_fraction=0.5))
    ...     waveform = dataset.load("test/e")
    >>> [(record.clip_id, record.label, record.split) for record in dataset.records()]
    [('train/a', 'happy', 'val'), ('train/b', 'happy', 'train'), ('train/c', 'sad', 'train'), ('test/e', 'sad', 'test')]
    >>> [clip_id for clip_id, _ in dataset.skipped], waveform.shape
    (['train/d'], (2205,))
    """

    name = "kaggle_mec"

    def __init__(self, config: KaggleMECConfig) -> None:
        if not 0.0 <= float(config.val_fraction) < 1.0:
            raise ValueError(f"val_fraction must be in [0, 1), got {config.val_fraction}")
        self.config = config
        self.root = Path(config.root)
        self.skipped: list[tuple[str, str]] = []
        self._records = self._read()
        self._paths = {r.clip_id: Path(r.path) for r in self._records if r.path}

    @property
    def split_name(self) -> str:
        """Describe the split in words (for display).

        Returns
        -------
        str
            The published train/test split and how validation is held out of it.
        """
        val = round(100 * self.config.val_fraction)
        return (
            f"published Train.csv/Test.csv split; validation: {val}% of Train.csv stratified by label "
            f"(seed {self.config.split_seed}); clip-level: every clip is its own group (no song grouping is known), "
            "so validation and test clips may share songs with training clips"
        )

    def records(self) -> list[ClipRecord]:
        """Return the clips that have audio: rows of ``Train.csv``, then of ``Test.csv``.

        Returns
        -------
        list of ClipRecord
            One record per clip, its own group, with label and split.
        """
        return list(self._records)

    def load(self, clip_id: str) -> np.ndarray:
        """Load one clip as a mono float32 waveform at :data:`engine.vocabulary.SAMPLE_RATE`.

        Parameters
        ----------
        clip_id : str
            ``"train/{stem}"`` or ``"test/{stem}"``.

        Returns
        -------
        numpy.ndarray
            Float32 waveform, shape ``(n_samples,)``.

        Raises
        ------
        engine.audio.io.AudioLoadError
            The clip is not in the dataset (or was skipped), or its audio cannot be read.
        """
        path = self._paths.get(clip_id)
        if path is None:
            reason = dict(self.skipped).get(clip_id, "not in Train.csv or Test.csv")
            raise AudioLoadError(f"{self.root}: clip {clip_id!r} unavailable ({reason})")
        return load_audio(path, sample_rate=SAMPLE_RATE)

    def _read(self) -> list[ClipRecord]:
        if not self.root.is_dir():
            raise DatasetError(f"{self.root}: dataset folder not found")
        audio_root = self._audio_root()
        if audio_root is None:
            raise DatasetError(f"{self.root}: no audio folder Audio_Files/Audio_Files/ (or Audio_Files/) holding Train/ or Test/")
        rows: dict[str, list[tuple[str, str, Path]]] = {}
        for part, filename in CSV_FILES.items():
            rows[part] = []
            for clip_id, label, image_id in _read_labels(self.root / filename, part=part):
                part_dir = _child(audio_root, part.title()) or audio_root / part.title()
                path = (_child(part_dir, label.title()) or part_dir / label.title()) / image_id
                if not path.is_file():
                    self.skipped.append((clip_id, f"{path}: no such file (row of {filename})"))
                    continue
                rows[part].append((clip_id, label, path))
        train_labels = [label for _, label, _ in rows["train"]]
        splits = stratified_holdout(train_labels, fraction=float(self.config.val_fraction), seed=self.config.split_seed)
        records = []
        for part, part_splits in (("train", splits), ("test", ["test"] * len(rows["test"]))):
            for (clip_id, label, path), split in zip(rows[part], part_splits):
                records.append(
                    ClipRecord(dataset=self.name, clip_id=clip_id, group=clip_id, split=split, label=label, path=str(path))
                )
        return records

    def _audio_root(self) -> Path | None:
        for parts in AUDIO_DIRS:
            folder: Path | None = self.root
            for part in parts:
                folder = _child(folder, part) if folder is not None else None
            # The outer Audio_Files of the doubled layout exists too: accept a folder only if it holds Train/Test.
            if folder is not None and (_child(folder, "Train") or _child(folder, "Test")):
                return folder
        return None


def stratified_holdout(labels: list[str], *, fraction: float, seed: int) -> list[str]:
    """Hold out a seeded ``fraction`` of each label's clips as ``"val"``, leaving the rest ``"train"``.

    Each label with at least two clips gives ``round(fraction * n)`` clips, but at least one and
    never all of them, when ``fraction`` is positive.

    Parameters
    ----------
    labels : list of str
        Label per clip.
    fraction : float
        Share of each label's clips to hold out.
    seed : int
        Seed of the choice.

    Returns
    -------
    list of str
        ``"train"`` or ``"val"`` per clip, length ``len(labels)``.

    Examples
    --------
    >>> splits = stratified_holdout(["happy"] * 4 + ["sad"] * 2 + ["tender"], fraction=0.25, seed=0)
    >>> splits[:4].count("val"), splits[4:6].count("val"), splits[6]
    (1, 1, 'train')
    """
    out = ["train"] * len(labels)
    rng = np.random.default_rng(seed)
    for label in sorted(set(labels)):
        indices = [i for i, value in enumerate(labels) if value == label]
        if fraction <= 0 or len(indices) < 2:
            continue
        n_val = min(len(indices) - 1, max(1, int(round(fraction * len(indices)))))
        for i in rng.permutation(indices)[:n_val]:
            out[int(i)] = "val"
    return out


def _read_labels(path: Path, *, part: str) -> list[tuple[str, str, str]]:
    """``(clip_id, label, ImageID)`` per row of one label file, in file order."""
    if not path.is_file():
        raise DatasetError(f"{path}: file not found")
    try:
        return _parse_labels(path, part=part)
    except UnicodeDecodeError as error:
        raise DatasetError(f"{path}: not UTF-8 text (byte {error.start})") from None


def _parse_labels(path: Path, *, part: str) -> list[tuple[str, str, str]]:
    out: list[tuple[str, str, str]] = []
    seen: dict[str, int] = {}
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        fields = [f.strip() for f in (reader.fieldnames or [])]
        reader.fieldnames = fields
        absent = [c for c in (ID_COLUMN, LABEL_COLUMN) if c not in fields]
        if absent:
            raise DatasetError(f"{path}: missing column(s) {absent} (found {fields})")
        for row in reader:
            line = reader.line_num
            image_id = (row.get(ID_COLUMN) or "").strip()
            target = (row.get(LABEL_COLUMN) or "").strip()
            if not image_id:
                raise DatasetError(f"{path}: line {line}: empty {ID_COLUMN}")
            label = target.lower()
            if label not in CLASSES:
                raise DatasetError(f"{path}: line {line} ({ID_COLUMN} {image_id!r}): {LABEL_COLUMN} {target!r} is not Happy or Sad")
            if image_id in seen:
                raise DatasetError(f"{path}: line {line}: {ID_COLUMN} {image_id!r} repeats line {seen[image_id]}")
            seen[image_id] = line
            out.append((f"{part}/{PurePosixPath(image_id).stem}", label, image_id))
    stems: dict[str, str] = {}
    for clip_id, _, image_id in out:
        if clip_id in stems:
            raise DatasetError(f"{path}: {ID_COLUMN}s {stems[clip_id]!r} and {image_id!r} give the same clip id {clip_id!r}")
        stems[clip_id] = image_id
    return out


def _child(folder: Path | None, name: str) -> Path | None:
    """``folder / name`` if it is a directory, else a sub-directory whose name matches ignoring case."""
    if folder is None or not folder.is_dir():
        return None
    exact = folder / name
    if exact.is_dir():
        return exact
    for entry in sorted(folder.iterdir()):
        if entry.is_dir() and entry.name.lower() == name.lower():
            return entry
    return None
