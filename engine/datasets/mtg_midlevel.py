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

Reading the metadata (see ``docs/bad_metadata.md`` for every case):

* Both files are read with :func:`engine.datasets.soundtracks.read_table`: UTF-8 with or without
  a byte-order mark, blank rows skipped, cells stripped. Either file may be separated by ``;`` or
  by ``,`` (the separator is sniffed on the header line); a file separated otherwise (e.g. by
  tabs) raises an error saying what it looks like. Columns beyond the required ones are ignored.
* Every rating must be a finite number within ``RATING_RANGE`` (all rows are checked, those of
  excluded sources too). Song ids are unique in each file and must be usable as file names.
  Annotated songs without a metadata row are an error; metadata rows without annotations are
  ignored.
* A missing or empty file, a missing column, a repeated song id or a malformed value raise
  :class:`~engine.datasets.soundtracks.DatasetError` naming the file, the line and, for a value,
  the column and the value.
* An annotated song whose audio file is missing is not fatal: it is left out of :meth:`records`
  and listed in :attr:`MTGMidlevelDataset.skipped` as ``(clip_id, reason)``; the split is drawn
  over the songs that remain. MP3 files that no annotation row names are ignored and listed in
  :attr:`MTGMidlevelDataset.unlisted`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.audio.io import AudioLoadError, load_audio
from engine.datasets.base import ClipRecord
from engine.datasets.soundtracks import DatasetError, parse_number, read_table
from engine.datasets.splits import group_split
from engine.vocabulary import SAMPLE_RATE

METADATA_FILE = "metadata.csv"
ANNOTATIONS_FILE = "annotations.csv"
RATING_RANGE = (1.0, 10.0)
METADATA_DELIMITERS = (";", ",")
"""Separators accepted in ``metadata.csv`` (published with ``;``)."""
ANNOTATIONS_DELIMITERS = (",", ";")
"""Separators accepted in ``annotations.csv`` (published with ``,``)."""
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
    """Say where the data is, which sources to drop and how to split.

    Attributes
    ----------
    root : pathlib.Path
        Folder laid out as in the module docstring.
    exclude_sources : tuple of str, default ()
        Values of the ``Source`` column whose rows are dropped (case-insensitive).
    fractions : tuple of float, default (0.8, 0.1, 0.1)
        Train, validation and test shares of songs.
    split_seed : int, default 0
        Seed of the split.

    Examples
    --------
    >>> MTGMidlevelConfig(root=Path("mid-level"), exclude_sources=("soundtracks",)).fractions
    (0.8, 0.1, 0.1)
    """

    root: Path
    exclude_sources: tuple[str, ...] = ()
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
    split_seed: int = 0


class MTGMidlevelDataset:
    r"""Read the mid-level features dataset; see the module docstring.

    Parameters
    ----------
    config : MTGMidlevelConfig
        Where the data is, which sources to drop and how to split.

    Attributes
    ----------
    skipped : list of tuple of (str, str)
        ``(clip_id, reason)`` for every annotated song left out because its audio is
        missing (songs of excluded sources are not listed: they are dropped on purpose).
    unlisted : list of str
        Paths (relative to ``root``) of MP3 files that no row of ``annotations.csv``
        names; they are ignored.

    Raises
    ------
    DatasetError
        Malformed or missing metadata, or no usable song.

    Examples
    --------
    A tiny copy of the layout: three songs, one of them a Soundtracks excerpt that is excluded:

    >>> import tempfile
    >>> import numpy as np
    >>> import soundfile as sf
    >>> tone = 0.3 * np.sin(2 * np.pi * 440.0 * np.arange(4410) / 22_050)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     root = Path(folder)
    ...     (root / "audio").mkdir()
    ...     metadata, annotations = ["song id;Source;ID at file source"], ["song_id," + ",".join(ANNOTATION_COLUMNS.values())]
    ...     for song, source in ((1, "jamendo"), (2, "soundtracks"), (3, "jamendo")):
    ...         metadata.append(f"{song};{source};{100 + song}")
    ...         annotations.append(f"{song}," + ",".join(["10", "1"] + ["5.5"] * 5))
    ...         sf.write(root / "audio" / f"{song}.mp3", tone, 22_050)
    ...     _ = (root / METADATA_FILE).write_text("\n".join(metadata) + "\n")
    ...     _ = (root / ANNOTATIONS_FILE).write_text("\n".join(annotations) + "\n")
    ...     dataset = MTGMidlevelDataset(MTGMidlevelConfig(root=root, exclude_sources=("Soundtracks",)))
    ...     waveform = dataset.load("3")
    >>> [record.clip_id for record in dataset.records()]
    ['1', '3']
    >>> record = dataset.records()[0]
    >>> record.midlevel["melodiousness"], record.midlevel["articulation"], record.midlevel["minorness"]
    (1.0, 0.0, 0.5)
    >>> waveform.dtype
    dtype('float32')
    """

    name = "mtg_midlevel"

    def __init__(self, config: MTGMidlevelConfig) -> None:
        self.config = config
        self.root = Path(config.root)
        self.skipped: list[tuple[str, str]] = []
        self.unlisted: list[str] = []
        self._records = self._read()

    @property
    def split_name(self) -> str:
        """Describe the split in words (for display).

        Returns
        -------
        str
            E.g. ``"group-aware by song id, 80/10/10 train/val/test (seed 0)"``.
        """
        shares = "/".join(f"{round(100 * f)}" for f in self.config.fractions)
        return f"group-aware by song id, {shares} train/val/test (seed {self.config.split_seed})"

    def records(self) -> list[ClipRecord]:
        """Return the annotated songs that have audio and are not excluded, by song id.

        Returns
        -------
        list of ClipRecord
            One record per song (its own group), with split and the 7 mid-level descriptors in [0, 1].
        """
        return list(self._records)

    def load(self, clip_id: str) -> np.ndarray:
        """Load one song as a mono float32 waveform at :data:`engine.vocabulary.SAMPLE_RATE`.

        Parameters
        ----------
        clip_id : str
            A song id.

        Returns
        -------
        numpy.ndarray
            Float32 waveform, shape ``(n_samples,)``.

        Raises
        ------
        engine.audio.io.AudioLoadError
            The song was skipped (no audio file), or its audio cannot be read.
        """
        skipped = dict(self.skipped)
        if clip_id in skipped:
            raise AudioLoadError(f"{self.root}: song {clip_id!r} unavailable ({skipped[clip_id]})")
        return load_audio(self.audio_path(clip_id), sample_rate=SAMPLE_RATE)

    def audio_path(self, clip_id: str) -> Path:
        """Return where a song's MP3 is: ``audio/{clip_id}.mp3`` if it exists, else ``{clip_id}.mp3`` in ``root``.

        Parameters
        ----------
        clip_id : str
            A song id.

        Returns
        -------
        pathlib.Path
            The path (which need not exist).
        """
        nested = self.root / "audio" / f"{clip_id}.mp3"
        return nested if nested.is_file() else self.root / f"{clip_id}.mp3"

    def _read(self) -> list[ClipRecord]:
        metadata_path, annotations_path = self.root / METADATA_FILE, self.root / ANNOTATIONS_FILE
        metadata = read_table(
            metadata_path,
            key="song id",
            required=("song id", "Source", "ID at file source"),
            delimiters=METADATA_DELIMITERS,
            normalise=_song_id,
        )
        annotations = read_table(
            annotations_path,
            key="song_id",
            required=("song_id", *ANNOTATION_COLUMNS.values()),
            delimiters=ANNOTATIONS_DELIMITERS,
            normalise=_song_id,
        )
        if not annotations:
            raise DatasetError(f"{annotations_path}: no rows below the header")
        unknown = [i for i in annotations if i not in metadata]
        if unknown:
            where = ", ".join(f"{i!r} (line {annotations[i][0]} of {ANNOTATIONS_FILE})" for i in unknown[:5])
            more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
            raise DatasetError(f"{metadata_path}: no row for {len(unknown)} annotated song id(s): {where}{more}")
        low, high = RATING_RANGE
        midlevel: dict[str, dict[str, float]] = {}
        for song_id, (line, row) in annotations.items():
            midlevel[song_id] = {
                name: (parse_number(annotations_path, line, column, row[column], bounds=RATING_RANGE) - low) / (high - low)
                for name, column in ANNOTATION_COLUMNS.items()
            }
        excluded = {s.strip().lower() for s in self.config.exclude_sources}
        ids = [i for i in sorted(annotations, key=_natural) if metadata[i][1]["Source"].lower() not in excluded]
        kept: list[str] = []
        for song_id in ids:
            if not self.audio_path(song_id).is_file():
                reason = (
                    f"{self.root / 'audio' / f'{song_id}.mp3'}: no such file (nor {song_id}.mp3 in {self.root}; "
                    f"line {annotations[song_id][0]} of {ANNOTATIONS_FILE})"
                )
                self.skipped.append((song_id, reason))
                continue
            kept.append(song_id)
        self.unlisted = sorted(
            str(path.relative_to(self.root))
            for folder in (self.root / "audio", self.root)
            if folder.is_dir()
            for path in folder.iterdir()
            if path.suffix == ".mp3" and not path.name.startswith(".") and path.is_file() and path.stem not in annotations
        )
        if not kept:
            raise DatasetError(
                f"{self.root}: no usable songs ({len(annotations)} annotated, {len(annotations) - len(ids)} excluded by source, "
                f"{len(self.skipped)} without audio)"
            )
        splits = group_split(kept, fractions=self.config.fractions, seed=self.config.split_seed)
        return [
            ClipRecord(
                dataset=self.name,
                clip_id=song_id,
                group=song_id,
                split=split,
                midlevel=midlevel[song_id],
                path=str(self.audio_path(song_id)),
            )
            for song_id, split in zip(kept, splits)
        ]


def _natural(song_id: str) -> tuple[int, str]:
    return (int(song_id), "") if song_id.isascii() and song_id.isdigit() else (1 << 62, song_id)


def _song_id(raw: str) -> str:
    if raw in (".", "..") or any(c in raw for c in "/\\\0"):
        raise ValueError(f"{raw!r} cannot be a file name")
    return raw
