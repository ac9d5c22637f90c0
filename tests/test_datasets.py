"""Dataset adapters on fixtures the tests write, and on the real data when it is present."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine.audio.io import AudioLoadError, load_audio
from engine.datasets.soundtracks import DatasetError, SoundtracksConfig, SoundtracksDataset
from engine.vocabulary import EMOTIONS


def write_soundtracks(root: Path, n: int = 12) -> None:
    (root / "audio").mkdir(parents=True)
    header = "number," + ",".join(EMOTIONS) + ",TARGET\n"
    lines = [header]
    tracks = ["Nro,Emotion,Album name,Track,Min:Sec\n"]
    rng = np.random.default_rng(0)
    for i in range(1, n + 1):
        ratings = rng.uniform(1, 7.83, size=8)
        lines.append(f"{i:03d}," + ",".join(f"{r:.2f}" for r in ratings) + ",HAPPY\n")
        tracks.append(f"{i:03d},Happy,Film {i // 3},1,00:00-00:15\n")
        t = np.arange(44_100) / 44_100
        sf.write(root / "audio" / f"{i:03d}.mp3", np.stack([np.sin(2 * np.pi * 220 * t)] * 2, axis=1) * 0.3, 44_100)
    (root / "mean_ratings_set1.csv").write_text("\ufeff" + "".join(lines), encoding="utf-8")
    (root / "set1_tracklist.csv").write_text("".join(tracks), encoding="utf-8")


def test_soundtracks_adapter_reads_ratings_albums_and_audio(tmp_path):
    write_soundtracks(tmp_path)
    dataset = SoundtracksDataset(SoundtracksConfig(root=tmp_path))
    records = dataset.records()
    assert [r.clip_id for r in records[:2]] == ["001", "002"] and len(records) == 12
    assert set(records[0].emotions) == set(EMOTIONS) and records[0].group == "Film 0"
    assert all(r.label == ("happy" if r.emotions["happy"] > r.emotions["sad"] else "sad") for r in records)
    assert len(dataset.load("003")) == 22_050
    by_group: dict[str, set[str]] = {}
    for r in records:
        by_group.setdefault(r.group, set()).add(r.split)
    assert all(len(s) == 1 for s in by_group.values())
    assert "group-aware by album" in dataset.split_name
    leaky = SoundtracksDataset(SoundtracksConfig(root=tmp_path, split="random"))
    assert "LEAKY" in leaky.split_name


def test_soundtracks_adapter_names_missing_files(tmp_path):
    write_soundtracks(tmp_path)
    (tmp_path / "set1_tracklist.csv").unlink()
    with pytest.raises(DatasetError, match="set1_tracklist.csv: file not found"):
        SoundtracksDataset(SoundtracksConfig(root=tmp_path))


def test_soundtracks_missing_audio_is_a_load_error(tmp_path):
    write_soundtracks(tmp_path)
    (tmp_path / "audio" / "005.mp3").unlink()
    with pytest.raises(AudioLoadError, match="005.mp3: no such file"):
        SoundtracksDataset(SoundtracksConfig(root=tmp_path)).load("005")


def test_real_soundtracks_set(shared_data):
    dataset = SoundtracksDataset(SoundtracksConfig(root=shared_data / "soundtracks-set1"))
    records = dataset.records()
    assert len(records) == 360 and len({r.group for r in records}) > 40  # 46 albums
    assert min(min(r.emotions.values()) for r in records) >= 1.0 and max(max(r.emotions.values()) for r in records) <= 7.83
    y = dataset.load("001")
    assert y.dtype == np.float32 and 10 * 22_050 < len(y) < 40 * 22_050


def test_thesis_examples_mp3_inside_wav_load(shared_data):
    folder = shared_data / "thesis-examples"
    for original in sorted(folder.glob("*_original.wav")):
        y = load_audio(original)
        assert y.ndim == 1 and abs(len(y) / 22_050 - 10.0) < 0.5, original
        sonified = load_audio(original.with_name(original.name.replace("_original", "_sonification")))
        assert len(sonified) == 220_324  # 988 x 223, as the thesis wrote it


def write_mtg(root: Path) -> None:
    """Six MTG-style rows: four from other sources, two Soundtracks excerpts."""
    from engine.datasets.mtg_midlevel import ANNOTATION_COLUMNS

    (root / "audio").mkdir(parents=True)
    metadata = ["song id;Source;ID at file source;Artist\n"]
    annotations = ["song_id," + ",".join(ANNOTATION_COLUMNS.values()) + "\n"]
    sources = ["jamendo", "jamendo", "magnatagatune", "soundtracks", "soundtracks", "jamendo"]
    for index, source in enumerate(sources, start=1):
        metadata.append(f"{index};{source};{100 + index};someone\n")
        annotations.append(f"{index}," + ",".join(str(1 + (index + k) % 10) for k in range(7)) + "\n")
        sf.write(root / "audio" / f"{index}.mp3", np.zeros((22_050, 2)) + 0.01, 44_100)
    (root / "metadata.csv").write_text("".join(metadata))
    (root / "annotations.csv").write_text("".join(annotations))


def test_mtg_midlevel_adapter_scales_ratings_and_excludes_soundtracks(tmp_path):
    from engine.datasets.mtg_midlevel import ANNOTATION_COLUMNS, MTGMidlevelConfig, MTGMidlevelDataset
    from engine.vocabulary import MIDLEVEL

    assert set(ANNOTATION_COLUMNS) == set(MIDLEVEL)
    write_mtg(tmp_path)
    everything = MTGMidlevelDataset(MTGMidlevelConfig(root=tmp_path)).records()
    assert [r.clip_id for r in everything] == ["1", "2", "3", "4", "5", "6"]
    first = everything[0]
    assert set(first.midlevel) == set(MIDLEVEL)
    assert first.midlevel["melodiousness"] == pytest.approx((2 - 1) / 9)  # rating 1 + (1 + 0) % 10 = 2
    assert all(0.0 <= v <= 1.0 for r in everything for v in r.midlevel.values())
    dataset = MTGMidlevelDataset(MTGMidlevelConfig(root=tmp_path, exclude_sources=("Soundtracks",)))
    assert [r.clip_id for r in dataset.records()] == ["1", "2", "3", "6"]
    assert dataset.load("2").shape == (11_025,)


def test_mtg_midlevel_adapter_names_a_wrong_separator(tmp_path):
    from engine.datasets.mtg_midlevel import MTGMidlevelConfig, MTGMidlevelDataset

    write_mtg(tmp_path)
    text = (tmp_path / "metadata.csv").read_text().replace(";", "\t")
    (tmp_path / "metadata.csv").write_text(text)
    with pytest.raises(DatasetError, match="metadata.csv: line 1: no 'song id' column; the header looks like it is separated by tabs"):
        MTGMidlevelDataset(MTGMidlevelConfig(root=tmp_path))
