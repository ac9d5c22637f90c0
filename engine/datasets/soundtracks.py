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

Reading the metadata (see ``docs/bad_metadata.md`` for every case):

* Both CSVs are read with :func:`read_table`: UTF-8 with or without a byte-order mark (a UTF-16
  file with its mark is accepted too), separated by commas, semicolons or tabs (sniffed from the
  header line), blank rows skipped, cells stripped of surrounding spaces. Columns beyond the
  required ones are ignored.
* ``number`` and ``Nro`` are excerpt numbers; ``1`` and ``001`` are the same excerpt. Every
  rating must be a finite number within ``RATING_RANGE``; ``TARGET`` must be one of the 12 design
  categories of the set (``TARGETS``, any case); ``Album name`` must not be empty. Excerpts of the
  tracklist without ratings are ignored; rated excerpts without a tracklist row are an error.
* A missing or empty file, a missing column, a repeated excerpt number, a malformed value or a
  row with more cells than the header raise :class:`DatasetError` naming the file, the line and,
  for a value, the column and the value.
* A rated excerpt whose audio file is missing is not fatal: it is left out of :meth:`records`
  and listed in :attr:`SoundtracksDataset.skipped` as ``(clip_id, reason)``; the split is drawn
  over the excerpts that remain. MP3 files in ``audio/`` that no row names are ignored and listed
  in :attr:`SoundtracksDataset.unlisted`.
"""

from __future__ import annotations

import codecs
import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from engine.audio.io import AudioLoadError, load_audio
from engine.datasets.base import ClipRecord
from engine.datasets.splits import group_split, random_split
from engine.vocabulary import EMOTIONS, SAMPLE_RATE

RATINGS_FILE = "mean_ratings_set1.csv"
TRACKLIST_FILE = "set1_tracklist.csv"
AUDIO_DIR = "audio"

RATING_RANGE: tuple[float, float] = (1.0, 9.0)
"""Bounds a mean rating must lie in: the rating scales start at 1 and none goes above 9 (the set's
observed range is 1.00 to 7.83, :data:`engine.vocabulary.EMOTION_RANGE`). A value outside is a
typo or a shifted column."""

TARGETS: tuple[str, ...] = (
    "HAPPY",
    "SAD",
    "TENDER",
    "FEAR",
    "ANGER",
    "SURPRISE",
    "HIGH VALENCE",
    "LOW VALENCE",
    "HIGH ENERGY",
    "LOW ENERGY",
    "HIGH TENSION",
    "LOW TENSION",
)
"""The design categories of ``TARGET`` (30 excerpts each in the published set); matched ignoring case."""

DELIMITERS: dict[str, str] = {",": "commas", ";": "semicolons", "\t": "tabs"}
"""Separators :func:`read_table` recognises, and how messages name them."""


class DatasetError(ValueError):
    """Signal a dataset folder that is missing a file or a column, or holds malformed metadata.

    The message names the file and, where there is one, the line, the column and the value.

    Examples
    --------
    >>> error = DatasetError("ratings.csv: line 3, column 'happy': 'x' is not a number")
    >>> isinstance(error, ValueError), str(error).split(":")[0]
    (True, 'ratings.csv')
    """


@dataclass(frozen=True, kw_only=True)
class SoundtracksConfig:
    """Say where the data is and how to split it.

    Attributes
    ----------
    root : pathlib.Path
        Folder laid out as in the module docstring.
    split : str, default "group"
        ``"group"`` (by album) or ``"random"`` (clip level, leaky).
    fractions : tuple of float, default (0.7, 0.1, 0.2)
        Train, validation and test shares of clips.
    split_seed : int, default 0
        Seed of the split.

    Examples
    --------
    >>> config = SoundtracksConfig(root=Path("Soundtracks"), split="random")
    >>> config.split, config.fractions
    ('random', (0.7, 0.1, 0.2))
    """

    root: Path
    split: str = "group"
    fractions: tuple[float, float, float] = (0.7, 0.1, 0.2)
    split_seed: int = 0


class SoundtracksDataset:
    r"""Read the Soundtracks set as a dataset; see the module docstring.

    Parameters
    ----------
    config : SoundtracksConfig
        Where the data is and how to split it.

    Attributes
    ----------
    skipped : list of tuple of (str, str)
        ``(clip_id, reason)`` for every rated excerpt left out because its audio is missing.
    unlisted : list of str
        Paths (relative to ``root``) of MP3 files in ``audio/`` that no row of the ratings
        names; they are ignored.

    Raises
    ------
    ValueError
        ``config.split`` is neither ``"group"`` nor ``"random"``.
    DatasetError
        Malformed or missing metadata, or no rated excerpt with its audio file.

    Examples
    --------
    A tiny copy of the layout, three excerpts of two films:

    >>> import tempfile
    >>> import numpy as np
    >>> import soundfile as sf
    >>> tone = 0.3 * np.sin(2 * np.pi * 440.0 * np.arange(4410) / 22_050)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     root = Path(folder)
    ...     (root / "audio").mkdir()
    ...     ratings, tracks = ["number," + ",".join(EMOTIONS) + ",TARGET"], ["Nro,Emotion,Album name,Track,Min:Sec"]
    ...     for number, (happy, sad) in enumerate([(6.0, 1.5), (2.0, 5.5), (5.0, 2.0)], start=1):
    ...         row = {**dict.fromkeys(EMOTIONS, 3.0), "happy": happy, "sad": sad}
    ...         ratings.append(f"{number:03d}," + ",".join(str(row[e]) for e in EMOTIONS) + ",HAPPY")
    ...         tracks.append(f"{number:03d},Happy,Film {number // 2},1,00:00")
    ...         sf.write(root / "audio" / f"{number:03d}.mp3", tone, 22_050)
    ...     _ = (root / RATINGS_FILE).write_text("\n".join(ratings) + "\n")
    ...     _ = (root / TRACKLIST_FILE).write_text("\n".join(tracks) + "\n")
    ...     dataset = SoundtracksDataset(SoundtracksConfig(root=root))
    ...     waveform = dataset.load("002")
    >>> [(record.clip_id, record.group, record.label) for record in dataset.records()]
    [('001', 'Film 0', 'happy'), ('002', 'Film 1', 'sad'), ('003', 'Film 1', 'happy')]
    >>> waveform.dtype, dataset.skipped
    (dtype('float32'), [])
    """

    name = "soundtracks"

    def __init__(self, config: SoundtracksConfig) -> None:
        if config.split not in ("group", "random"):
            raise ValueError(f"split must be 'group' or 'random', got {config.split!r}")
        self.config = config
        self.root = Path(config.root)
        self.skipped: list[tuple[str, str]] = []
        self.unlisted: list[str] = []
        self._records = self._read()
        self._paths = {r.clip_id: Path(r.path) for r in self._records if r.path}

    @property
    def split_name(self) -> str:
        """Describe the split in words (for display); a random split is called leaky.

        Returns
        -------
        str
            E.g. ``"group-aware by album, 70/10/20 train/val/test (seed 0)"``.
        """
        if self.config.split == "group":
            return f"group-aware by album, {self._shares()} (seed {self.config.split_seed})"
        return f"random clip-level {self._shares()}: LEAKY, excerpts of one film on both sides (seed {self.config.split_seed})"

    def records(self) -> list[ClipRecord]:
        """Return the rated excerpts that have audio, by excerpt number.

        Returns
        -------
        list of ClipRecord
            One record per excerpt: clip id ``"001"`` to ``"360"``, album as group, split, the 8
            emotion ratings and the Happy/Sad label.
        """
        return list(self._records)

    def load(self, clip_id: str) -> np.ndarray:
        """Load one excerpt as a mono float32 waveform at :data:`engine.vocabulary.SAMPLE_RATE`.

        Parameters
        ----------
        clip_id : str
            A three-digit excerpt number, e.g. ``"001"``.

        Returns
        -------
        numpy.ndarray
            Float32 waveform, shape ``(n_samples,)``.

        Raises
        ------
        engine.audio.io.AudioLoadError
            The excerpt was skipped (no audio file), or its audio cannot be read.
        """
        skipped = dict(self.skipped)
        if clip_id in skipped:
            raise AudioLoadError(f"{self.root}: excerpt {clip_id!r} unavailable ({skipped[clip_id]})")
        path = self._paths.get(clip_id, self.root / AUDIO_DIR / f"{clip_id}.mp3")
        return load_audio(path, sample_rate=SAMPLE_RATE)

    def _shares(self) -> str:
        return "/".join(f"{round(100 * f)}" for f in self.config.fractions) + " train/val/test"

    def _read(self) -> list[ClipRecord]:
        ratings_path, tracks_path = self.root / RATINGS_FILE, self.root / TRACKLIST_FILE
        ratings = read_table(ratings_path, key="number", required=("number", *EMOTIONS, "TARGET"), normalise=_excerpt_number)
        tracks = read_table(tracks_path, key="Nro", required=("Nro", "Album name"), normalise=_excerpt_number)
        if not ratings:
            raise DatasetError(f"{ratings_path}: no rows below the header")
        ids = sorted(ratings, key=int)
        missing = [i for i in ids if i not in tracks]
        if missing:
            where = ", ".join(f"{i} (line {ratings[i][0]} of {RATINGS_FILE})" for i in missing[:5])
            more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
            raise DatasetError(f"{tracks_path}: no row (no album) for {len(missing)} rated excerpt(s): {where}{more}")
        # Every row is checked before any audio is looked at: malformed metadata always stops the run.
        parsed: list[tuple[str, int, dict[str, float], str]] = []
        for clip_id in ids:
            line, row = ratings[clip_id]
            emotions = {e: parse_number(ratings_path, line, e, row[e], bounds=RATING_RANGE) for e in EMOTIONS}
            target = " ".join(row["TARGET"].split()).upper()
            if target not in TARGETS:
                raise DatasetError(
                    f"{ratings_path}: line {line}, column 'TARGET': {row['TARGET']!r} is not one of the set's categories {list(TARGETS)}"
                )
            track_line, track = tracks[clip_id]
            album = track["Album name"]
            if not album:
                raise DatasetError(f"{tracks_path}: line {track_line}, column 'Album name': empty (excerpt {clip_id})")
            parsed.append((clip_id, line, emotions, album))
        audio_dir = self.root / AUDIO_DIR
        if not audio_dir.is_dir():
            raise DatasetError(f"{audio_dir}: audio folder not found")
        files = _mp3_files(audio_dir)
        kept: list[tuple[str, dict[str, float], str, Path]] = []
        for clip_id, line, emotions, album in parsed:
            path = _find(audio_dir, f"{clip_id}.mp3", files)
            if path is None:
                self.skipped.append((clip_id, f"{audio_dir / f'{clip_id}.mp3'}: no such file (line {line} of {RATINGS_FILE})"))
                continue
            kept.append((clip_id, emotions, album, path))
        self.unlisted = sorted(
            f"{AUDIO_DIR}/{name}" for name in files.values() if _excerpt_number_or_none(Path(name).stem) not in ratings
        )
        if not kept:
            raise DatasetError(f"{audio_dir}: none of the {len(ids)} rated excerpts has its audio file (expected e.g. {ids[0]}.mp3)")
        groups = [album for _, _, album, _ in kept]
        if self.config.split == "group":
            splits = group_split(groups, fractions=self.config.fractions, seed=self.config.split_seed)
        else:
            splits = random_split(len(kept), fractions=self.config.fractions, seed=self.config.split_seed)
        return [
            ClipRecord(
                dataset=self.name,
                clip_id=clip_id,
                group=album,
                split=split,
                emotions=emotions,
                label="happy" if emotions["happy"] > emotions["sad"] else "sad",
                path=str(path),
            )
            for (clip_id, emotions, album, path), split in zip(kept, splits)
        ]


def _excerpt_number(raw: str) -> str:
    if not (raw.isascii() and raw.isdigit()):
        raise ValueError(f"{raw!r} is not an excerpt number")
    return str(int(raw)).zfill(3)


def _excerpt_number_or_none(raw: str) -> str | None:
    try:
        return _excerpt_number(raw)
    except ValueError:
        return None


def _mp3_files(folder: Path) -> dict[str, str]:
    """Lower-case name to name of every visible ``.mp3`` file (any case) directly in ``folder``."""
    return {
        entry.name.lower(): entry.name
        for entry in sorted(folder.iterdir())
        if entry.suffix.lower() == ".mp3" and not entry.name.startswith(".") and entry.is_file()
    }


def _find(folder: Path, name: str, files: dict[str, str]) -> Path | None:
    """``folder / name`` if it is a file, else a file of ``files`` whose name matches ignoring case."""
    exact = folder / name
    if exact.is_file():
        return exact
    other = files.get(name.lower())
    return folder / other if other is not None else None


def read_table(
    path: Path,
    *,
    key: str,
    required: Sequence[str],
    delimiters: Sequence[str] = tuple(DELIMITERS),
    normalise: Callable[[str], str] | None = None,
) -> dict[str, tuple[int, dict[str, str]]]:
    r"""Read the rows of a small CSV keyed by the (normalised) value of ``key``.

    The text is UTF-8 (a byte-order mark is dropped; UTF-16 is read when the file starts with its
    mark). The separator is sniffed on the header line among commas, semicolons and tabs; when the
    sniffed one does not give every required column, the other accepted ones are tried. Column names
    and cells are stripped of spaces; columns beyond ``required`` are kept in the row but nothing
    checks them. Rows whose cells are all empty are skipped; extra cells are allowed when empty.

    Parameters
    ----------
    path : pathlib.Path
        The file.
    key : str
        The id column; its values must be non-empty and unique (after ``normalise``).
    required : Sequence[str]
        Columns that must be present (``key`` among them).
    delimiters : Sequence[str], default tuple(DELIMITERS)
        The separators accepted (the others are only recognised, for the message).
    normalise : callable or None, default None
        Maps a raw id to the id, raising ``ValueError`` (with a message) for a bad one.

    Returns
    -------
    dict of str to tuple of (int, dict of str to str)
        ``{id: (line, {column: cell})}``, ``line`` counting from 1 in the file, in file order.

    Raises
    ------
    DatasetError
        Missing, unreadable or empty file; no ``key`` column under any accepted
        separator ("looks like it is separated by ..."); missing or repeated required columns;
        a row with non-empty cells beyond the header or without a required cell; an empty,
        malformed or repeated id. The message names the file and the line.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder) / "ratings.csv"
    ...     _ = path.write_text("number; valence ;note\n1;4.5;x\n\n002;3.0;\n", encoding="utf-8")
    ...     rows = read_table(path, key="number", required=("number", "valence"), normalise=lambda raw: raw.zfill(3))
    >>> list(rows)
    ['001', '002']
    >>> line, cells = rows["002"]
    >>> line, cells["number"], cells["valence"]
    (4, '002', '3.0')
    """
    text = _read_text(path)
    buffer = io.StringIO(text, newline="")
    header_line, line = buffer.readline(), 1
    while header_line and not header_line.strip():
        header_line, line = buffer.readline(), line + 1
    if not header_line:
        raise DatasetError(f"{path}: file is empty")
    header_at = line
    sniffed = _sniff(header_line)
    order = list(dict.fromkeys(([sniffed] if sniffed else []) + list(DELIMITERS) + list(delimiters)))
    headers = {d: _split_header(header_line, d) for d in order}
    usable = [d for d in order if d in delimiters]
    chosen = next((d for d in usable if all(c in headers[d] for c in required)), None)
    if chosen is None:
        keyed = next((d for d in usable if key in headers[d]), None)
        if keyed is None and sniffed in delimiters and len(headers[sniffed]) > 1:
            keyed = sniffed  # the separator is right: the id column itself is what is missing
        if keyed is None:
            looks = f"it is separated by {DELIMITERS.get(sniffed, repr(sniffed))}" if sniffed else "a single column"
            accepted = " or ".join(DELIMITERS.get(d, repr(d)) for d in delimiters)
            raise DatasetError(
                f"{path}: line {header_at}: no {key!r} column; the header looks like {looks}; expected columns "
                f"{list(required)} separated by {accepted} (found {headers[sniffed or usable[0]]})"
            )
        absent = [c for c in required if c not in headers[keyed]]
        raise DatasetError(f"{path}: missing column(s) {absent} (found {headers[keyed]})")
    fields = headers[chosen]
    for column in required:
        places = [i + 1 for i, f in enumerate(fields) if f == column]
        if len(places) > 1:
            raise DatasetError(f"{path}: line {header_at}: column {column!r} appears {len(places)} times (columns {places})")
    index = {f: i for i, f in reversed(list(enumerate(fields))) if f}
    out: dict[str, tuple[int, dict[str, str]]] = {}
    reader = csv.reader(buffer, delimiter=chosen)
    name = DELIMITERS.get(chosen, repr(chosen))
    try:
        for cells in reader:
            line = header_at + reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if len(cells) > len(fields) and any(c.strip() for c in cells[len(fields) :]):
                raise DatasetError(
                    f"{path}: line {line}: {len(cells)} cells, the header has {len(fields)} "
                    f"(a value containing a separator, {name}, that is not quoted?)"
                )
            short = [c for c in required if index[c] >= len(cells)]
            if short:
                raise DatasetError(
                    f"{path}: line {line}: no value for column(s) {short} (the row has {len(cells)} cells, the header {len(fields)})"
                )
            values = {f: cells[i].replace("\ufeff", "").strip() for f, i in index.items() if i < len(cells)}
            raw = values[key]
            if not raw:
                raise DatasetError(f"{path}: line {line}: empty {key!r}")
            try:
                ident = normalise(raw) if normalise is not None else raw
            except ValueError as error:
                raise DatasetError(f"{path}: line {line}, column {key!r}: {error}") from error
            if ident in out:
                same = f" (the same id {ident!r})" if out[ident][1][key] != raw else ""
                raise DatasetError(f"{path}: line {line}: {key} {raw!r} repeats line {out[ident][0]}{same}")
            out[ident] = (line, values)
    except csv.Error as error:
        raise DatasetError(f"{path}: line {header_at + reader.line_num}: {error}") from error
    return out


def parse_number(path: Path, line: int, column: str, value: str, *, bounds: tuple[float, float]) -> float:
    """Parse a cell as a float within ``bounds`` (inclusive).

    Parameters
    ----------
    path : pathlib.Path
        The file the cell comes from (for the message).
    line : int
        Its line number (for the message).
    column : str
        Its column name (for the message).
    value : str
        The cell, already stripped of spaces.
    bounds : tuple of float
        Lowest and highest accepted value.

    Returns
    -------
    float
        The number.

    Raises
    ------
    DatasetError
        The cell is empty, not a number (a decimal comma gets a hint), not finite or outside
        ``bounds``; the message names file, line, column and value.

    Examples
    --------
    >>> parse_number(Path("ratings.csv"), 2, "valence", "4.25", bounds=RATING_RANGE)
    4.25
    >>> try:
    ...     parse_number(Path("ratings.csv"), 3, "valence", "4,25", bounds=RATING_RANGE)
    ... except DatasetError as error:
    ...     print(error)
    ratings.csv: line 3, column 'valence': '4,25' is not a number (a decimal comma? write the number with a point)
    """
    where = f"{path}: line {line}, column {column!r}"
    if not value:
        raise DatasetError(f"{where}: empty")
    try:
        number = float(value)
    except ValueError:
        hint = " (a decimal comma? write the number with a point)" if "," in value else ""
        raise DatasetError(f"{where}: {value!r} is not a number{hint}") from None
    if not math.isfinite(number):
        raise DatasetError(f"{where}: {value!r} is not a finite number")
    low, high = bounds
    if not low <= number <= high:
        raise DatasetError(f"{where}: {value!r} is outside the rating range {low:g} to {high:g}")
    return number


def _read_text(path: Path) -> str:
    if not path.exists():
        raise DatasetError(f"{path}: file not found")
    if not path.is_file():
        raise DatasetError(f"{path}: not a file")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise DatasetError(f"{path}: cannot read ({error.strerror or error})") from error
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and not data.startswith(codecs.BOM_UTF32_LE):
        encoding = "utf-16"
    else:
        encoding = "utf-8-sig"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        raise DatasetError(f"{path}: not {encoding.replace('-sig', '').upper()} text (byte {error.start}: {error.reason}); save it as UTF-8") from error


def _sniff(header: str) -> str | None:
    """Return the separator of a header line among :data:`DELIMITERS`, or ``None`` when it has none of them."""
    try:
        return csv.Sniffer().sniff(header, delimiters="".join(DELIMITERS)).delimiter
    except csv.Error:
        counts = {d: header.count(d) for d in DELIMITERS}
        best = max(counts, key=lambda d: counts[d])
        return best if counts[best] else None


def _split_header(header: str, delimiter: str) -> list[str]:
    cells = next(csv.reader([header.rstrip("\r\n")], delimiter=delimiter), [])
    return [c.replace("\ufeff", "").strip() for c in cells]
