"""Happy/Sad dataset adapters (Kaggle MEC layout, generic folder) on fixtures the tests write."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine.audio.io import AudioLoadError
from engine.datasets.folder import FolderConfig, FolderDataset
from engine.datasets.kaggle_mec import KaggleMECConfig, KaggleMECDataset
from engine.datasets.soundtracks import DatasetError
from engine.vocabulary import CLASSES, SAMPLE_RATE
from precompute.datasets import KNOWN, open_dataset
from precompute.profile import DatasetSection


def write_clip(path: Path, *, seed: int, rate: int = 44_100) -> None:
    """0.5 s of a sine plus a little noise (stereo, so loading must mix down and resample)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(rate // 2) / rate
    rng = np.random.default_rng(seed)
    tone = 0.3 * np.sin(2 * np.pi * (220 + 20 * seed) * t) + 0.01 * rng.standard_normal(t.size)
    sf.write(path, np.stack([tone, tone], axis=1), rate, format="WAV")


def write_kaggle(root: Path, *, n_train: int = 10, n_test: int = 3, bom: bool = False) -> None:
    """``n_train`` Train rows and ``n_test`` Test rows per class, every audio file present."""
    audio = root / "Audio_Files" / "Audio_Files"
    number = 0
    for part, n in (("Train", n_train), ("Test", n_test)):
        lines = ["ImageID,Target\n"]
        for label in ("Happy", "Sad"):
            for _ in range(n):
                number += 1
                name = f"song_{number}.wav"
                # Labels in mixed case: the adapter lower-cases them.
                lines.append(f"{name},{label.upper() if number % 3 == 0 else label}\n")
                write_clip(audio / part / label / name, seed=number % 7)
        (root / f"{part}.csv").write_text(("\ufeff" if bom else "") + "".join(lines), encoding="utf-8")


def test_kaggle_layout_gives_labels_splits_and_audio(tmp_path):
    write_kaggle(tmp_path)
    dataset = KaggleMECDataset(KaggleMECConfig(root=tmp_path))
    records = dataset.records()
    assert len(records) == 26 and dataset.skipped == []
    assert {r.label for r in records} == set(CLASSES)
    assert len({r.clip_id for r in records}) == 26 and records[0].clip_id == "train/song_1"
    assert all(r.group == r.clip_id and r.dataset == "kaggle_mec" for r in records)
    by_split = {s: [r for r in records if r.split == s] for s in ("train", "val", "test")}
    assert [len(by_split[s]) for s in ("train", "val", "test")] == [18, 2, 6]
    assert all(r.clip_id.startswith("test/") for r in by_split["test"])
    assert {r.label for r in by_split["val"]} == {"happy", "sad"}  # stratified: one per class
    assert all(Path(r.path).is_file() for r in records)
    y = dataset.load("test/song_21")
    assert y.dtype == np.float32 and y.shape == (SAMPLE_RATE // 2,)
    assert "stratified" in dataset.split_name and "Test.csv" in dataset.split_name
    # Seeded: the same seed gives the same split, the val share follows val_fraction.
    again = KaggleMECDataset(KaggleMECConfig(root=tmp_path))
    assert [r.split for r in again.records()] == [r.split for r in records]
    wider = KaggleMECDataset(KaggleMECConfig(root=tmp_path, val_fraction=0.3)).records()
    assert sum(r.split == "val" for r in wider) == 6


def test_kaggle_csv_with_byte_order_mark(tmp_path):
    write_kaggle(tmp_path, n_train=3, n_test=1, bom=True)
    records = KaggleMECDataset(KaggleMECConfig(root=tmp_path)).records()
    assert len(records) == 8 and records[0].clip_id == "train/song_1"


def test_kaggle_bad_label_names_file_and_row(tmp_path):
    write_kaggle(tmp_path, n_train=2, n_test=1)
    text = (tmp_path / "Train.csv").read_text().replace("song_2.wav,Happy", "song_2.wav,Angry")
    (tmp_path / "Train.csv").write_text(text)
    with pytest.raises(DatasetError, match=r"Train\.csv: line 3 \(ImageID 'song_2\.wav'\): Target 'Angry'"):
        KaggleMECDataset(KaggleMECConfig(root=tmp_path))


def test_kaggle_missing_column_and_missing_csv(tmp_path):
    write_kaggle(tmp_path, n_train=2, n_test=1)
    text = (tmp_path / "Test.csv").read_text().replace("Target", "Emotion")
    (tmp_path / "Test.csv").write_text(text)
    with pytest.raises(DatasetError, match=r"Test\.csv: missing column\(s\) \['Target'\]"):
        KaggleMECDataset(KaggleMECConfig(root=tmp_path))
    (tmp_path / "Test.csv").unlink()
    with pytest.raises(DatasetError, match=r"Test\.csv: file not found"):
        KaggleMECDataset(KaggleMECConfig(root=tmp_path))


def test_kaggle_missing_audio_is_skipped_and_reported(tmp_path):
    write_kaggle(tmp_path, n_train=3, n_test=2)
    (tmp_path / "Audio_Files" / "Audio_Files" / "Train" / "Sad" / "song_5.wav").unlink()
    dataset = KaggleMECDataset(KaggleMECConfig(root=tmp_path))
    assert len(dataset.records()) == 9
    assert [clip for clip, _ in dataset.skipped] == ["train/song_5"]
    assert "song_5.wav: no such file" in dataset.skipped[0][1]
    with pytest.raises(AudioLoadError, match="train/song_5"):
        dataset.load("train/song_5")


def test_kaggle_duplicate_ids_are_an_error(tmp_path):
    write_kaggle(tmp_path, n_train=2, n_test=1)
    with (tmp_path / "Train.csv").open("a") as handle:
        handle.write("song_1.wav,Sad\n")
    with pytest.raises(DatasetError, match=r"Train\.csv: line 6: ImageID 'song_1\.wav' repeats line 2"):
        KaggleMECDataset(KaggleMECConfig(root=tmp_path))


def test_folder_with_class_subfolders(tmp_path):
    for i in range(4):
        write_clip(tmp_path / "Happy" / f"h{i}.wav", seed=i)
        write_clip(tmp_path / "sad" / ("deep" if i % 2 else "") / f"s{i}.wav", seed=i + 4)
    (tmp_path / "sad" / "notes.txt").write_text("not audio")
    write_clip(tmp_path / "sad" / "._s0.wav", seed=0)  # macOS resource fork: hidden, ignored
    dataset = FolderDataset(FolderConfig(root=tmp_path))
    records = dataset.records()
    assert sorted(r.clip_id for r in records) == sorted(
        [f"Happy/h{i}" for i in range(4)] + ["sad/s0", "sad/deep/s1", "sad/s2", "sad/deep/s3"]
    )
    assert {r.clip_id: r.label for r in records}["Happy/h0"] == "happy"
    assert sum(r.label == "sad" for r in records) == 4
    assert {r.split for r in records} <= {"train", "val", "test"} and all(r.group == r.clip_id for r in records)
    assert "clip-level" in dataset.split_name
    y = dataset.load("sad/deep/s1")
    assert y.dtype == np.float32 and y.shape == (SAMPLE_RATE // 2,)
    (tmp_path / "Happy").rename(tmp_path / "joyful")
    with pytest.raises(DatasetError, match="no 'happy' sub-folder"):
        FolderDataset(FolderConfig(root=tmp_path))


def test_folder_csv_with_groups_keeps_groups_whole(tmp_path):
    lines = ["path,label,group\n"]
    for i in range(20):
        name = f"clips/c{i:02d}.wav"
        write_clip(tmp_path / name, seed=i)
        lines.append(f"{name},{'Happy' if i % 2 else 'SAD'},song{i // 4}\n")
    lines.append("clips/gone.wav,happy,song9\n")
    write_clip(tmp_path / "clips" / "unlisted.wav", seed=1)  # not in the CSV: ignored
    (tmp_path / "labels.csv").write_text("\ufeff" + "".join(lines))
    dataset = FolderDataset(FolderConfig(root=tmp_path, labels_csv="labels.csv", fractions=(0.6, 0.2, 0.2)))
    records = dataset.records()
    assert len(records) == 20 and "clips/unlisted" not in {r.clip_id for r in records}
    assert records[0].clip_id == "clips/c00" and records[0].label == "sad" and records[1].label == "happy"
    splits_of: dict[str, set[str]] = {}
    for r in records:
        splits_of.setdefault(r.group, set()).add(r.split)
    assert len(splits_of) == 5 and all(len(s) == 1 for s in splits_of.values())
    assert {r.split for r in records} == {"train", "val", "test"}
    assert [Path(p).name for p, _ in dataset.skipped] == ["gone.wav"] and "line 22" in dataset.skipped[0][1]
    assert "group column of labels.csv" in dataset.split_name


def test_folder_csv_split_column_is_honoured(tmp_path):
    given = ["train", "train", "Validation", "test", "val", "TEST"]
    lines = ["path,label,split\n"]
    for i, split in enumerate(given):
        write_clip(tmp_path / f"x{i}.flac", seed=i)
        lines.append(f"x{i}.flac,{CLASSES[i % 2]},{split}\n")
    (tmp_path / "labels.csv").write_text("".join(lines))
    dataset = FolderDataset(FolderConfig(root=tmp_path, labels_csv="labels.csv"))
    assert [r.split for r in dataset.records()] == ["train", "train", "val", "test", "val", "test"]
    assert [r.clip_id for r in dataset.records()] == [f"x{i}" for i in range(6)]
    assert "split column of labels.csv" in dataset.split_name


def test_folder_csv_errors_name_file_and_row(tmp_path):
    write_clip(tmp_path / "a.wav", seed=0)
    write_clip(tmp_path / "b.wav", seed=1)
    csv_path = tmp_path / "labels.csv"
    csv_path.write_text("path,label\na.wav,happy\nb.wav,calm\n")
    with pytest.raises(DatasetError, match=r"labels\.csv: line 3 \(path 'b\.wav'\): label 'calm' is not Happy or Sad"):
        FolderDataset(FolderConfig(root=tmp_path, labels_csv="labels.csv"))
    csv_path.write_text("file,label\na.wav,happy\n")
    with pytest.raises(DatasetError, match=r"labels\.csv: missing column\(s\) \['path'\]"):
        FolderDataset(FolderConfig(root=tmp_path, labels_csv="labels.csv"))
    csv_path.write_text("path,label\na.wav,happy\nb.wav,sad\na.wav,sad\n")
    with pytest.raises(DatasetError, match=r"line 4: path 'a\.wav' repeats line 2"):
        FolderDataset(FolderConfig(root=tmp_path, labels_csv="labels.csv"))
    csv_path.write_text("path,label,split\na.wav,happy,train\nb.wav,sad,holdout\n")
    with pytest.raises(DatasetError, match=r"line 3 \(path 'b\.wav'\): split 'holdout'"):
        FolderDataset(FolderConfig(root=tmp_path, labels_csv="labels.csv"))
    with pytest.raises(DatasetError, match=r"nope\.csv: file not found"):
        FolderDataset(FolderConfig(root=tmp_path, labels_csv="nope.csv"))


def test_open_dataset_builds_both_by_name(tmp_path):
    assert {"kaggle_mec", "folder"} <= set(KNOWN)
    write_kaggle(tmp_path / "kaggle-mec", n_train=4, n_test=1)
    dataset, records, split_name = open_dataset(
        DatasetSection(name="kaggle_mec", clip_seconds=10.0, val_fraction=0.25, split_seed=3), data_root=tmp_path
    )
    assert isinstance(dataset, KaggleMECDataset) and len(records) == 10 and "25%" in split_name
    assert sum(r.split == "val" for r in records) == 2 and dataset.config.split_seed == 3
    for i in range(3):
        write_clip(tmp_path / "mine" / "happy" / f"h{i}.wav", seed=i)
        write_clip(tmp_path / "mine" / "sad" / f"s{i}.wav", seed=i)
    dataset, records, split_name = open_dataset(
        DatasetSection(name="folder", root="mine", fractions=(0.5, 0.0, 0.5), split_seed=1), data_root=tmp_path
    )
    assert isinstance(dataset, FolderDataset) and len(records) == 6 and "50/0/50" in split_name
    assert {r.split for r in records} == {"train", "test"}
    with pytest.raises(ValueError, match="needs a root"):
        open_dataset(DatasetSection(name="folder"), data_root=tmp_path)


def test_folder_csv_paths_must_stay_inside_the_dataset_and_text_must_be_utf8(tmp_path):
    from engine.datasets.folder import FolderConfig, FolderDataset

    (tmp_path / "labels.csv").write_text("path,label\n../outside.wav,happy\n")
    with pytest.raises(DatasetError, match=r"labels.csv: line 2: path '../outside.wav' leaves the dataset folder"):
        FolderDataset(FolderConfig(root=tmp_path, labels_csv="labels.csv"))
    (tmp_path / "labels.csv").write_bytes("path,label\ncaf\xe9.wav,happy\n".encode("latin-1"))
    with pytest.raises(DatasetError, match="labels.csv: not UTF-8 text"):
        FolderDataset(FolderConfig(root=tmp_path, labels_csv="labels.csv"))
