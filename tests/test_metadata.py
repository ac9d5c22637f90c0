"""Bad dataset metadata (Soundtracks, MTG mid-level): every case gives a specific error or a documented outcome.

Fixtures are written by the tests: CSV text, and audio files that are empty placeholders (the adapters
only check that they exist) except where a test loads one (a real WAV under the adapter's ``.mp3``
name: ``load_audio`` decodes by content). ``docs/bad_metadata.md`` tabulates the same cases.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine.audio.io import AudioLoadError
from engine.datasets.mtg_midlevel import ANNOTATION_COLUMNS, MTGMidlevelConfig, MTGMidlevelDataset
from engine.datasets.soundtracks import DatasetError, SoundtracksConfig, SoundtracksDataset
from engine.vocabulary import EMOTIONS, MIDLEVEL

RATINGS = "mean_ratings_set1.csv"
TRACKLIST = "set1_tracklist.csv"


def write_wav(path: Path, *, seconds: float = 0.5, rate: int = 44_100) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * rate)) / rate
    sf.write(path, 0.3 * np.sin(2 * np.pi * 330 * t), rate, format="WAV")


# --- Soundtracks -----------------------------------------------------------------------------------


def soundtracks_rows(n: int = 12) -> tuple[list[list[str]], list[list[str]]]:
    """Ratings rows (header first) and tracklist rows: three excerpts per album, ratings in [1, 7.83]."""
    ratings = [["number", *EMOTIONS, "TARGET"]]
    tracks = [["Nro", "Emotion", "Album name", "Track", "Min:Sec"]]
    rng = np.random.default_rng(0)
    for i in range(1, n + 1):
        ratings.append([f"{i:03d}", *(f"{r:.2f}" for r in rng.uniform(1, 7.83, size=8)), "HAPPY" if i % 2 else "low valence"])
        tracks.append([f"{i:03d}", "Happy", f"Film {(i - 1) // 3}", "1", "00:00-00:15"])
    return ratings, tracks


def write_soundtracks(
    root: Path,
    *,
    n: int = 12,
    ratings: list[list[str]] | None = None,
    tracks: list[list[str]] | None = None,
    sep: str = ",",
    bom: bool = True,
    audio: bool = True,
) -> Path:
    """Write the Soundtracks layout under ``root``, with placeholder audio for every excerpt 1..n."""
    default_ratings, default_tracks = soundtracks_rows(n)
    ratings = default_ratings if ratings is None else ratings
    tracks = default_tracks if tracks is None else tracks
    root.mkdir(parents=True, exist_ok=True)
    (root / RATINGS).write_text(("\ufeff" if bom else "") + "".join(sep.join(r) + "\r\n" for r in ratings), encoding="utf-8")
    (root / TRACKLIST).write_text("".join(sep.join(r) + "\n" for r in tracks), encoding="utf-8")
    (root / "audio").mkdir(exist_ok=True)
    if audio:
        for i in range(1, n + 1):
            (root / "audio" / f"{i:03d}.mp3").write_bytes(b"")
    return root


def soundtracks(root: Path, **options) -> SoundtracksDataset:
    return SoundtracksDataset(SoundtracksConfig(root=root, **options))


def set_cell(rows: list[list[str]], row: int, column: str, value: str) -> list[list[str]]:
    """Return a copy of ``rows`` with one cell changed (``row`` 1 is the first data row, on line 2)."""
    out = [list(r) for r in rows]
    out[row][out[0].index(column)] = value
    return out


def raises(pattern: str):
    return pytest.raises(DatasetError, match=pattern)


def test_soundtracks_fixture_loads_without_skips(tmp_path):
    root = write_soundtracks(tmp_path)
    write_wav(root / "audio" / "004.mp3")  # a real WAV under the .mp3 name: decoded by content
    dataset = soundtracks(root)
    records = dataset.records()
    assert [r.clip_id for r in records] == [f"{i:03d}" for i in range(1, 13)]
    assert dataset.skipped == [] and dataset.unlisted == []
    assert records[3].group == "Film 1" and records[3].path == str(root / "audio" / "004.mp3")
    assert dataset.load("004").shape == (22_050 // 2,)


def test_soundtracks_missing_columns_list_missing_and_found(tmp_path):
    ratings, tracks = soundtracks_rows()
    no_tender = [r[:8] + r[9:] for r in ratings]  # drop "tender"
    write_soundtracks(tmp_path, ratings=no_tender)
    with raises(re.escape(f"{RATINGS}: missing column(s) ['tender'] (found ['number', 'valence', ") + r".*'sad', 'TARGET'\]\)"):
        soundtracks(tmp_path)
    renamed = [["Nro", "Emotion", "Album", "Track", "Min:Sec"], *tracks[1:]]
    write_soundtracks(tmp_path, tracks=renamed)
    with raises(re.escape(f"{TRACKLIST}: missing column(s) ['Album name'] (found ['Nro', 'Emotion', 'Album', 'Track', 'Min:Sec'])")):
        soundtracks(tmp_path)


def test_soundtracks_extra_columns_are_ignored(tmp_path):
    plain = [(r.clip_id, r.group, r.split, dict(r.emotions)) for r in soundtracks(write_soundtracks(tmp_path / "a")).records()]
    ratings, tracks = soundtracks_rows()
    ratings = [[*r, "note" if i == 0 else "seen twice"] for i, r in enumerate(ratings)]
    tracks = [["Composer", *r] if i == 0 else ["someone", *r] for i, r in enumerate(tracks)]
    wider = soundtracks(write_soundtracks(tmp_path / "b", ratings=ratings, tracks=tracks)).records()
    assert [(r.clip_id, r.group, r.split, dict(r.emotions)) for r in wider] == plain


def test_soundtracks_duplicate_ids_name_both_lines(tmp_path):
    ratings, tracks = soundtracks_rows()
    write_soundtracks(tmp_path, ratings=set_cell(ratings, 5, "number", "003"))
    with raises(re.escape(f"{RATINGS}: line 6: number '003' repeats line 4")):
        soundtracks(tmp_path)
    # "3" and "003" are the same excerpt.
    write_soundtracks(tmp_path, ratings=set_cell(ratings, 5, "number", "3"))
    with raises(re.escape(f"{RATINGS}: line 6: number '3' repeats line 4 (the same id '003')")):
        soundtracks(tmp_path)
    write_soundtracks(tmp_path, tracks=set_cell(tracks, 12, "Nro", "001"))
    with raises(re.escape(f"{TRACKLIST}: line 13: Nro '001' repeats line 2")):
        soundtracks(tmp_path)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("abc", "'abc' is not a number"),
        ("4,5", "'4,5' is not a number (a decimal comma?"),
        ("nan", "'nan' is not a finite number"),
        ("inf", "'inf' is not a finite number"),
        ("0.5", "'0.5' is outside the rating range 1 to 9"),
        ("12", "'12' is outside the rating range 1 to 9"),
        ("", "empty"),
    ],
)
def test_soundtracks_bad_rating_names_file_line_column_value(tmp_path, value, problem):
    ratings, _ = soundtracks_rows()
    rows = set_cell(ratings, 2, "anger", value)
    write_soundtracks(tmp_path, ratings=[[f'"{c}"' if "," in c else c for c in r] for r in rows])
    with raises(re.escape(f"{RATINGS}: line 3, column 'anger': {problem}")):
        soundtracks(tmp_path)


def test_soundtracks_target_outside_the_known_categories(tmp_path):
    ratings, _ = soundtracks_rows()
    write_soundtracks(tmp_path, ratings=set_cell(ratings, 4, "TARGET", "JOY"))
    with raises(re.escape(f"{RATINGS}: line 5, column 'TARGET': 'JOY' is not one of the set's categories ['HAPPY', 'SAD'")):
        soundtracks(tmp_path)
    # Case and spacing do not matter.
    write_soundtracks(tmp_path, ratings=set_cell(ratings, 4, "TARGET", " high  Tension "))
    assert len(soundtracks(tmp_path).records()) == 12


def test_soundtracks_malformed_ids_and_albums(tmp_path):
    ratings, tracks = soundtracks_rows()
    write_soundtracks(tmp_path, ratings=set_cell(ratings, 2, "number", "x2"))
    with raises(re.escape(f"{RATINGS}: line 3, column 'number': 'x2' is not an excerpt number")):
        soundtracks(tmp_path)
    write_soundtracks(tmp_path, ratings=set_cell(ratings, 2, "number", " "))
    with raises(re.escape(f"{RATINGS}: line 3: empty 'number'")):
        soundtracks(tmp_path)
    write_soundtracks(tmp_path, tracks=set_cell(tracks, 7, "Album name", ""))
    with raises(re.escape(f"{TRACKLIST}: line 8, column 'Album name': empty (excerpt 007)")):
        soundtracks(tmp_path)


def test_soundtracks_rated_excerpt_without_tracklist_row_is_an_error(tmp_path):
    ratings, tracks = soundtracks_rows()
    write_soundtracks(tmp_path, tracks=tracks[:10])  # rows of 010..012 gone
    with raises(re.escape(f"{TRACKLIST}: no row (no album) for 3 rated excerpt(s): 010 (line 11 of {RATINGS}), 011 (line 12")):
        soundtracks(tmp_path)


def test_soundtracks_tracklist_rows_without_ratings_are_ignored(tmp_path):
    ratings, tracks = soundtracks_rows()
    write_soundtracks(tmp_path, ratings=ratings[:9])  # excerpts 009..012 have an album but no ratings
    dataset = soundtracks(tmp_path)
    assert [r.clip_id for r in dataset.records()] == [f"{i:03d}" for i in range(1, 9)]
    assert dataset.unlisted == [f"audio/{i:03d}.mp3" for i in range(9, 13)]  # their audio is unlisted


def test_soundtracks_missing_audio_is_skipped_with_reason(tmp_path):
    root = write_soundtracks(tmp_path, n=30)
    for name in ("005.mp3", "017.mp3"):
        (root / "audio" / name).unlink()
    dataset = soundtracks(root)
    records = dataset.records()
    assert len(records) == 28 and {"005", "017"}.isdisjoint(r.clip_id for r in records)
    assert [c for c, _ in dataset.skipped] == ["005", "017"]
    assert dataset.skipped[0][1] == f"{root / 'audio' / '005.mp3'}: no such file (line 6 of {RATINGS})"
    # The split is drawn over the excerpts that remain, albums kept whole.
    splits_of: dict[str, set[str]] = {}
    for r in records:
        splits_of.setdefault(r.group, set()).add(r.split)
    assert all(len(s) == 1 for s in splits_of.values()) and {r.split for r in records} == {"train", "val", "test"}
    with pytest.raises(AudioLoadError, match=r"excerpt '005' unavailable \(.*005\.mp3: no such file"):
        dataset.load("005")
    # The extension may differ in case.
    (root / "audio" / "017.MP3").write_bytes(b"")
    again = soundtracks(root)
    assert [c for c, _ in again.skipped] == ["005"] and again.records()[15].path == str(root / "audio" / "017.MP3")


def test_soundtracks_no_audio_at_all_is_an_error(tmp_path):
    write_soundtracks(tmp_path, audio=False)
    with raises(re.escape(f"{tmp_path / 'audio'}: none of the 12 rated excerpts has its audio file (expected e.g. 001.mp3)")):
        soundtracks(tmp_path)
    (tmp_path / "audio").rmdir()
    with raises(re.escape(f"{tmp_path / 'audio'}: audio folder not found")):
        soundtracks(tmp_path)


def test_soundtracks_audio_without_ratings_is_ignored_and_listed(tmp_path):
    root = write_soundtracks(tmp_path)
    for name in ("013.mp3", "intro.mp3", ".hidden.mp3", "notes.txt"):
        (root / "audio" / name).write_bytes(b"")
    dataset = soundtracks(root)
    assert len(dataset.records()) == 12 and dataset.skipped == []
    assert dataset.unlisted == ["audio/013.mp3", "audio/intro.mp3"]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16"])
def test_soundtracks_byte_order_marks(tmp_path, encoding):
    expected = [(r.clip_id, dict(r.emotions)) for r in soundtracks(write_soundtracks(tmp_path / "ref")).records()]
    root = write_soundtracks(tmp_path / "enc", bom=False)
    for name in (RATINGS, TRACKLIST):
        text = (root / name).read_text(encoding="utf-8")
        (root / name).write_text(text, encoding=encoding)  # utf-8-sig and utf-16 write a mark
    assert [(r.clip_id, dict(r.emotions)) for r in soundtracks(root).records()] == expected


@pytest.mark.parametrize("sep", [";", "\t"])
def test_soundtracks_other_delimiters_are_sniffed(tmp_path, sep):
    expected = [(r.clip_id, r.group, r.split, dict(r.emotions)) for r in soundtracks(write_soundtracks(tmp_path / "ref")).records()]
    got = soundtracks(write_soundtracks(tmp_path / "other", sep=sep)).records()
    assert [(r.clip_id, r.group, r.split, dict(r.emotions)) for r in got] == expected


def test_soundtracks_header_with_a_comma_inside_a_semicolon_file(tmp_path):
    ratings, tracks = soundtracks_rows()
    tracks = [[*r[:4], "Min, Sec" if i == 0 else "0, 15"] for i, r in enumerate(tracks)]
    assert len(soundtracks(write_soundtracks(tmp_path, tracks=tracks, sep=";")).records()) == 12


def test_soundtracks_unknown_separator_says_what_the_header_looks_like(tmp_path):
    write_soundtracks(tmp_path, sep="|")
    with raises(
        re.escape(f"{RATINGS}: line 1: no 'number' column; the header looks like a single column; expected columns ['number', ")
        + r".*separated by commas or semicolons or tabs \(found \['number\|valence"
    ):
        soundtracks(tmp_path)


def test_soundtracks_empty_files(tmp_path):
    root = write_soundtracks(tmp_path)
    (root / RATINGS).write_bytes(b"")
    with raises(re.escape(f"{RATINGS}: file is empty")):
        soundtracks(root)
    (root / RATINGS).write_text("\ufeff\r\n  \r\n", encoding="utf-8")
    with raises(re.escape(f"{RATINGS}: file is empty")):
        soundtracks(root)
    ratings, _ = soundtracks_rows()
    write_soundtracks(root, ratings=ratings[:1])
    with raises(re.escape(f"{RATINGS}: no rows below the header")):
        soundtracks(root)
    write_soundtracks(root)
    (root / TRACKLIST).write_text("\n")
    with raises(re.escape(f"{TRACKLIST}: file is empty")):
        soundtracks(root)


def test_soundtracks_row_shapes(tmp_path):
    ratings, tracks = soundtracks_rows()
    # Blank rows and empty trailing cells are fine.
    loose = [ratings[0], *ratings[1:6], [""], [""] * 10, *[[*r, "", ""] for r in ratings[6:]]]
    assert len(soundtracks(write_soundtracks(tmp_path, ratings=loose)).records()) == 12
    # An unquoted album name with a comma shifts the row.
    shifted = [list(r) for r in tracks]
    shifted[3][2] = "Crouching Tiger, Hidden Dragon"
    write_soundtracks(tmp_path, tracks=shifted)
    with raises(re.escape(f"{TRACKLIST}: line 4: 6 cells, the header has 5 (a value containing a separator, commas, that is not quoted?)")):
        soundtracks(tmp_path)
    short = [list(r) for r in ratings]
    short[4] = short[4][:7]
    write_soundtracks(tmp_path, ratings=short)
    with raises(re.escape(f"{RATINGS}: line 5: no value for column(s) ['sad', 'tender', 'TARGET'] (the row has 7 cells, the header 10)")):
        soundtracks(tmp_path)


def test_soundtracks_repeated_header_column_and_bad_encoding(tmp_path):
    ratings, _ = soundtracks_rows()
    write_soundtracks(tmp_path, ratings=[[*r, r[1]] for r in ratings])
    with raises(re.escape(f"{RATINGS}: line 1: column 'valence' appears 2 times (columns [2, 11])")):
        soundtracks(tmp_path)
    write_soundtracks(tmp_path)
    (tmp_path / TRACKLIST).write_bytes("Nro,Album name\n001,Amélie\n".encode("latin-1"))
    with raises(re.escape(f"{TRACKLIST}: not UTF-8 text (byte 21: invalid continuation byte); save it as UTF-8")):
        soundtracks(tmp_path)


def test_real_soundtracks_loads_360_without_skips(shared_data):
    dataset = soundtracks(shared_data / "soundtracks-set1")
    assert len(dataset.records()) == 360 and dataset.skipped == [] and dataset.unlisted == []


# --- MTG mid-level ---------------------------------------------------------------------------------


def mtg_rows(n: int = 8) -> tuple[list[list[str]], list[list[str]]]:
    """Metadata rows (header first; two Soundtracks excerpts among them) and annotation rows."""
    metadata = [["song id", "Source", "ID at file source", "Artist"]]
    annotations = [["song_id", *ANNOTATION_COLUMNS.values()]]
    for i in range(1, n + 1):
        source = "soundtracks" if i in (3, 4) else "jamendo"
        metadata.append([str(i), source, str(100 + i), f"artist {i}"])
        annotations.append([str(i), *(str(1 + (i + k) % 10) for k in range(7))])
    return metadata, annotations


def write_mtg(
    root: Path,
    *,
    n: int = 8,
    metadata: list[list[str]] | None = None,
    annotations: list[list[str]] | None = None,
    metadata_sep: str = ";",
    annotations_sep: str = ",",
    bom: bool = False,
    audio: bool = True,
) -> Path:
    default_metadata, default_annotations = mtg_rows(n)
    metadata = default_metadata if metadata is None else metadata
    annotations = default_annotations if annotations is None else annotations
    root.mkdir(parents=True, exist_ok=True)
    mark = "\ufeff" if bom else ""
    (root / "metadata.csv").write_text(mark + "".join(metadata_sep.join(r) + "\n" for r in metadata), encoding="utf-8")
    (root / "annotations.csv").write_text(mark + "".join(annotations_sep.join(r) + "\n" for r in annotations), encoding="utf-8")
    (root / "audio").mkdir(exist_ok=True)
    if audio:
        for i in range(1, n + 1):
            (root / "audio" / f"{i}.mp3").write_bytes(b"")
    return root


def mtg(root: Path, **options) -> MTGMidlevelDataset:
    return MTGMidlevelDataset(MTGMidlevelConfig(root=root, **options))


def test_mtg_fixture_loads_without_skips(tmp_path):
    root = write_mtg(tmp_path)
    write_wav(root / "audio" / "2.mp3")
    dataset = mtg(root, exclude_sources=("Soundtracks",))
    records = dataset.records()
    assert [r.clip_id for r in records] == ["1", "2", "5", "6", "7", "8"]
    assert dataset.skipped == [] and dataset.unlisted == []
    assert set(records[0].midlevel) == set(MIDLEVEL) and records[0].midlevel["melodiousness"] == pytest.approx(1 / 9)
    assert dataset.load("2").shape == (22_050 // 2,)


def test_mtg_missing_columns_list_missing_and_found(tmp_path):
    metadata, annotations = mtg_rows()
    write_mtg(tmp_path, metadata=[[r[0], *r[2:]] for r in metadata])
    with raises(re.escape("metadata.csv: missing column(s) ['Source'] (found ['song id', 'ID at file source', 'Artist'])")):
        mtg(tmp_path)
    write_mtg(tmp_path, annotations=[r[:-1] for r in annotations])
    with raises(re.escape("annotations.csv: missing column(s) ['minorness'] (found ['song_id', 'melodiousness', ")):
        mtg(tmp_path)


def test_mtg_extra_columns_are_ignored(tmp_path):
    plain = [(r.clip_id, r.split, dict(r.midlevel)) for r in mtg(write_mtg(tmp_path / "a")).records()]
    metadata, annotations = mtg_rows()
    annotations = [[*r, "n_raters" if i == 0 else "5"] for i, r in enumerate(annotations)]
    metadata = [[*r, "Genre" if i == 0 else "rock"] for i, r in enumerate(metadata)]
    wider = mtg(write_mtg(tmp_path / "b", metadata=metadata, annotations=annotations)).records()
    assert [(r.clip_id, r.split, dict(r.midlevel)) for r in wider] == plain


def test_mtg_duplicate_ids_name_both_lines(tmp_path):
    metadata, annotations = mtg_rows()
    write_mtg(tmp_path, metadata=set_cell(metadata, 6, "song id", "2"))
    with raises(re.escape("metadata.csv: line 7: song id '2' repeats line 3")):
        mtg(tmp_path)
    write_mtg(tmp_path, annotations=set_cell(annotations, 8, "song_id", "1"))
    with raises(re.escape("annotations.csv: line 9: song_id '1' repeats line 2")):
        mtg(tmp_path)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("high", "'high' is not a number"),
        ("nan", "'nan' is not a finite number"),
        ("-inf", "'-inf' is not a finite number"),
        ("0", "'0' is outside the rating range 1 to 10"),
        ("10.5", "'10.5' is outside the rating range 1 to 10"),
        ("", "empty"),
    ],
)
def test_mtg_bad_rating_names_file_line_column_value(tmp_path, value, problem):
    _, annotations = mtg_rows()
    # Row 3 is a Soundtracks excerpt: it is checked even when its source is excluded.
    write_mtg(tmp_path, annotations=set_cell(annotations, 3, "dissonance", value))
    with raises(re.escape(f"annotations.csv: line 4, column 'dissonance': {problem}")):
        mtg(tmp_path, exclude_sources=("soundtracks",))


def test_mtg_annotation_without_metadata_is_an_error_and_the_reverse_is_ignored(tmp_path):
    metadata, annotations = mtg_rows()
    write_mtg(tmp_path, metadata=[metadata[0], *metadata[1:6]])  # songs 6..8 have no metadata
    with raises(re.escape("metadata.csv: no row for 3 annotated song id(s): '6' (line 7 of annotations.csv), '7' (line 8")):
        mtg(tmp_path)
    write_mtg(tmp_path, annotations=annotations[:6])  # songs 6..8 have metadata, no annotations
    dataset = mtg(tmp_path)
    assert [r.clip_id for r in dataset.records()] == ["1", "2", "3", "4", "5"]
    assert dataset.unlisted == ["audio/6.mp3", "audio/7.mp3", "audio/8.mp3"]


def test_mtg_missing_audio_is_skipped_with_reason(tmp_path):
    root = write_mtg(tmp_path, n=20)
    (root / "audio" / "5.mp3").unlink()
    (root / "audio" / "4.mp3").unlink()  # a Soundtracks excerpt: excluded below, so not reported
    (root / "audio" / "9.mp3").rename(root / "9.mp3")  # directly in root: found there
    dataset = mtg(root, exclude_sources=("soundtracks",))
    ids = [r.clip_id for r in dataset.records()]
    assert len(ids) == 17 and "5" not in ids and "9" in ids
    assert dataset.skipped == [("5", f"{root / 'audio' / '5.mp3'}: no such file (nor 5.mp3 in {root}; line 6 of annotations.csv)")]
    assert {r.split for r in dataset.records()} == {"train", "val", "test"}
    with pytest.raises(AudioLoadError, match=r"song '5' unavailable \(.*5\.mp3: no such file"):
        dataset.load("5")
    assert [c for c, _ in mtg(root).skipped] == ["4", "5"]  # without the exclusion both are reported


def test_mtg_no_usable_songs_is_an_error(tmp_path):
    write_mtg(tmp_path, audio=False)
    with raises(re.escape(f"{tmp_path}: no usable songs (8 annotated, 2 excluded by source, 6 without audio)")):
        mtg(tmp_path, exclude_sources=("soundtracks",))


def test_mtg_audio_without_annotations_is_ignored_and_listed(tmp_path):
    root = write_mtg(tmp_path)
    for path in (root / "audio" / "99.mp3", root / "100.mp3", root / "audio" / "readme.txt"):
        path.write_bytes(b"")
    dataset = mtg(root)
    assert len(dataset.records()) == 8 and dataset.skipped == []
    assert dataset.unlisted == ["100.mp3", "audio/99.mp3"]


def test_mtg_byte_order_marks(tmp_path):
    expected = [(r.clip_id, dict(r.midlevel)) for r in mtg(write_mtg(tmp_path / "ref")).records()]
    got = mtg(write_mtg(tmp_path / "bom", bom=True)).records()
    assert [(r.clip_id, dict(r.midlevel)) for r in got] == expected


def test_mtg_either_file_may_use_either_separator(tmp_path):
    expected = [(r.clip_id, r.split, dict(r.midlevel)) for r in mtg(write_mtg(tmp_path / "ref")).records()]
    swapped = mtg(write_mtg(tmp_path / "swapped", metadata_sep=",", annotations_sep=";")).records()
    assert [(r.clip_id, r.split, dict(r.midlevel)) for r in swapped] == expected


def test_mtg_tab_separated_file_is_named(tmp_path):
    write_mtg(tmp_path, metadata_sep="\t")
    with raises(
        re.escape(
            "metadata.csv: line 1: no 'song id' column; the header looks like it is separated by tabs; "
            "expected columns ['song id', 'Source', 'ID at file source'] separated by semicolons or commas "
            "(found ['song id', 'Source', 'ID at file source', 'Artist'])"
        )
    ):
        mtg(tmp_path)
    write_mtg(tmp_path, annotations_sep="\t")
    with raises(r"annotations\.csv: line 1: no 'song_id' column; the header looks like it is separated by tabs"):
        mtg(tmp_path)


def test_mtg_empty_files_and_bad_ids(tmp_path):
    root = write_mtg(tmp_path)
    (root / "annotations.csv").write_text("\ufeff")
    with raises(re.escape("annotations.csv: file is empty")):
        mtg(root)
    metadata, annotations = mtg_rows()
    write_mtg(root, annotations=annotations[:1])
    with raises(re.escape("annotations.csv: no rows below the header")):
        mtg(root)
    write_mtg(root, metadata=set_cell(metadata, 2, "song id", "../2"), annotations=set_cell(annotations, 2, "song_id", "../2"))
    with raises(re.escape("metadata.csv: line 3, column 'song id': '../2' cannot be a file name")):
        mtg(root)
    (root / "metadata.csv").unlink()
    with raises(re.escape("metadata.csv: file not found")):
        mtg(root)
