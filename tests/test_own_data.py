"""A researcher's own folder of labelled clips, from the README's three commands to the dashboard.

The walk-through of the README's "Bring your own data" runs here on a generated folder (two classes,
clips grouped in "songs", a CSV with path, label, group and a train/test split column), and so do the
points a first user tripped over: where the feature cache goes, what ``summary`` says about a
classifier-only run, how the split is described, the validation hold-out, clip ids, the removal-test
default and the MP3 decoder's chatter on stderr.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pytest
import soundfile as sf
from test_pages import all_text, assert_clean, open_app

REPOSITORY = Path(__file__).resolve().parents[1]
RATE = 22_050


def tone_clip(*, happy: bool, seed: int, seconds: float = 3.0) -> np.ndarray:
    """Return a clip a small model can tell apart: bright, fast major notes (happy) or dark, slow minor ones (sad)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    root = rng.uniform(330, 440) if happy else rng.uniform(110, 165)
    steps = (0, 4, 7, 12) if happy else (0, 3, 7, 10)
    note = 0.15 if happy else 0.6
    y = np.zeros_like(t)
    for i, start in enumerate(np.arange(0, seconds, note)):
        on = (t >= start) & (t < start + note)
        pitch = root * 2 ** (steps[i % 4] / 12)
        y[on] = np.sin(2 * np.pi * pitch * t[on]) * np.exp(-(t[on] - start) * (8 if happy else 2))
    return (0.3 * y + 0.01 * rng.normal(size=t.size)).astype(np.float32)


def write_folder(root: Path, *, songs_per_class: int = 8, clips_per_song: int = 3, split_column: bool = True) -> Path:
    """``root/Train|Test/<Class>/<song>_<k>.wav`` and ``root/labels.csv`` (path,label,group[,split])."""
    rows = ["path,label,group" + (",split" if split_column else "")]
    for label in ("Happy", "Sad"):
        for song in range(songs_per_class):
            part = "Test" if song % 4 == 3 else "Train"
            for k in range(clips_per_song):
                relative = f"{part}/{label}/{label}{song:02d}_{k}.wav"
                (root / relative).parent.mkdir(parents=True, exist_ok=True)
                sf.write(root / relative, tone_clip(happy=label == "Happy", seed=song * 10 + k), RATE)
                rows.append(f"{relative},{label},{label}{song:02d}" + (f",{part.lower()}" if split_column else ""))
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    return root


def command(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "precompute", *args], cwd=cwd, capture_output=True, text=True, timeout=900)


@dataclass(frozen=True)
class Walkthrough:
    folder: Path
    profile: Path
    db: Path
    cache: Path
    new_profile: subprocess.CompletedProcess
    run: subprocess.CompletedProcess
    summary: subprocess.CompletedProcess
    new_in_checkout_cache: set[Path]


@pytest.fixture(scope="module")
def walkthrough(tmp_path_factory) -> Walkthrough:
    """Run the README's commands on a generated folder, from a working folder outside the checkout."""
    work = tmp_path_factory.mktemp("own_data")
    folder = write_folder(work / "my_clips")
    new = command("new-profile", "--root", "my_clips", "--labels-csv", "labels.csv", "--budget-minutes", "1",
                  "--clip-seconds", "3", cwd=work)
    profile, db, cache = work / "my_clips.toml", work / "my_clips.duckdb", work / "feature-cache"
    checkout_cache = REPOSITORY / "data" / "cache"
    before = set(checkout_cache.glob("*"))
    run = command("run", "--profile", str(profile), "--db", str(db), "--cache-dir", str(cache), "--no-progress", cwd=work)
    summary = command("summary", "--db", str(db), cwd=work)
    return Walkthrough(folder, profile, db, cache, new, run, summary, set(checkout_cache.glob("*")) - before)


@pytest.mark.slow
def test_new_profile_inspects_the_data_and_says_what_it_chose(walkthrough):
    assert walkthrough.new_profile.returncode == 0, walkthrough.new_profile.stderr
    said = walkthrough.new_profile.stdout
    assert "found train 30, val 6, test 12 clips in 16 groups" in said, said
    assert "chose 1 seed(s), up to" in said and "costs measured on" in said and "wrote my_clips.toml" in said
    text = walkthrough.profile.read_text()
    assert "[cnn]" in text and "[a2e]" not in text and "# Sized for a budget of 1 minutes" in text
    assert "validation: 10% of the training clips (in whole groups), held out (seed 0)" in text


@pytest.mark.slow
def test_the_run_finishes_and_caches_features_where_it_is_told(walkthrough):
    assert walkthrough.run.returncode == 0, walkthrough.run.stderr[-3000:]
    assert any(walkthrough.cache.rglob("*.npz")), "nothing cached under --cache-dir"
    assert not walkthrough.new_in_checkout_cache, walkthrough.new_in_checkout_cache


@pytest.mark.slow
def test_summary_of_a_classifier_only_run_gives_split_clips_and_per_class_figures(walkthrough):
    assert walkthrough.summary.returncode == 0, walkthrough.summary.stderr
    text = walkthrough.summary.stdout
    assert "r (mean ± SD)" not in text  # no empty regression table
    assert "split of folder: as given in the split column of labels.csv; validation: 10% of the training clips (in whole groups)" in text
    assert "each group in one split" in text and "clips of folder: train 30 (" in text
    assert "balanced_accuracy" in text and "precision_happy" in text and "precision_sad" in text


@pytest.mark.slow
def test_clip_ids_leave_out_split_and_class_folders(walkthrough):
    con = duckdb.connect(str(walkthrough.db), read_only=True)
    ids = [row[0] for row in con.execute("SELECT clip_id FROM clips ORDER BY clip_id").fetchall()]
    con.close()
    assert ids[0] == "Happy00_0" and not any("/" in clip for clip in ids)


@pytest.mark.slow
@pytest.mark.parametrize("view", ["overview", "confusion", "attribution_quality", "explain_clip"])
def test_the_dashboard_reads_the_run(walkthrough, monkeypatch, view):
    app = open_app(walkthrough.db, monkeypatch, view)
    assert_clean(app)
    if view == "confusion":  # the clip on screen is named without its split and class folders
        heading = next(h.value for h in app.subheader if "predicted" in h.value)
        assert heading.startswith(("Happy", "Sad")) and "/" not in heading.split(":")[0], heading
    if view == "overview":
        assert "my_clips" in all_text(app)


def test_a_train_test_csv_gets_a_group_aware_validation_split(tmp_path):
    from engine.datasets.folder import FolderConfig, FolderDataset

    write_folder(tmp_path, songs_per_class=10, clips_per_song=2)
    dataset = FolderDataset(FolderConfig(root=tmp_path, labels_csv="labels.csv", val_fraction=0.2, split_seed=3))
    records = dataset.records()
    val_groups = {r.group for r in records if r.split == "val"}
    assert val_groups and all(r.split == "val" for r in records if r.group in val_groups)  # whole groups
    assert not {r.group for r in records if r.split == "test"} & val_groups  # held out of training only
    assert "validation: 20% of the training clips (in whole groups), held out (seed 3)" in dataset.split_name
    none = FolderDataset(FolderConfig(root=tmp_path, labels_csv="labels.csv", val_fraction=0.0)).records()
    assert not any(r.split == "val" for r in none)


def test_the_split_description_counts_groups_and_says_whether_they_stay_whole():
    from engine.datasets.splits import describe_split

    assert describe_split(["a", "a", "b", "c"], ["train", "train", "val", "test"]).endswith("each group in one split")
    assert "1 group(s) in more than one split" in describe_split(["a", "a"], ["train", "test"])


def test_kaggle_mec_says_its_validation_clips_may_share_songs(tmp_path):
    from test_datasets_perceptual import write_kaggle

    from engine.datasets.kaggle_mec import KaggleMECConfig, KaggleMECDataset

    write_kaggle(tmp_path, n_train=4, n_test=1)
    assert "may share songs with training clips" in KaggleMECDataset(KaggleMECConfig(root=tmp_path)).split_name


def test_removal_tests_default_to_a_sample_of_clips_not_every_clip():
    from precompute.profile import PerceptualSection

    assert PerceptualSection().faithfulness_clips == 32


def test_a_damaged_mp3_decodes_without_decoder_chatter(tmp_path):
    t = np.arange(RATE * 3) / RATE
    sf.write(tmp_path / "ok.mp3", 0.3 * np.sin(2 * np.pi * 440 * t), RATE, format="MP3")
    data = bytearray((tmp_path / "ok.mp3").read_bytes())
    for i in range(2000, len(data), 700):
        data[i : i + 40] = bytes(40)
    (tmp_path / "bad.mp3").write_bytes(bytes(data))
    script = f"from engine.audio.io import load_audio; print(load_audio({str(tmp_path / 'bad.mp3')!r}).shape)"
    result = subprocess.run([sys.executable, "-c", script], cwd=REPOSITORY, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip().startswith("("), result.stderr
    assert result.stderr == "", result.stderr  # mpg123's "Illegal Audio-MPEG-Header" notes are gone


def test_the_cache_location_is_a_run_option_not_part_of_the_results(tmp_path):
    from precompute.profile import load_profile

    path = tmp_path / "p.toml"
    path.write_text('[profile]\nname = "p"\n[dataset]\nname = "synthetic"\n')
    plain = load_profile(str(path))
    path.write_text('[profile]\nname = "p"\ncache_dir = "/elsewhere"\n[dataset]\nname = "synthetic"\n')
    moved = load_profile(str(path))
    assert moved.info.cache_dir == "/elsewhere"
    assert moved.config_hash(data_root="x") == plain.config_hash(data_root="x")
