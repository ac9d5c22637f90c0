"""End to end on the tiny profile: database contents, resume after interruption, bad clips, CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pytest
import soundfile as sf

from engine.audio.io import AudioLoadError
from engine.datasets.synthetic import SyntheticCorpus
from engine.explain.attribution import methods_for
from precompute.database import building_path
from precompute.pipeline import run
from precompute.stages import audio_regression
from results.schema import TABLES

REPOSITORY = Path(__file__).resolve().parents[1]


def rows(db: Path, sql: str):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_tiny_run_fills_every_table_the_dashboard_reads(tiny_db):
    counts = {table: rows(tiny_db, f"SELECT count(*) FROM {table}")[0][0] for table in TABLES}
    empty = {t for t, n in counts.items() if n == 0}
    # No clip failed and the tiny profile has no thesis reference file nor A2Mid labels beyond the corpus.
    assert empty <= {"skipped_clips", "reference_figures"}
    status, profile, versions, revision = rows(tiny_db, "SELECT status, profile, versions, git_revision FROM runs")[0]
    assert status == "finished" and profile == "tiny" and "torch" in versions and revision
    # 4 A2E inputs, 1 A2Mid, 3 sources x 4 feature sets x 3 heads of Mid2E, a ViT, a CNN and its clean twin.
    assert rows(tiny_db, "SELECT count(DISTINCT experiment_id) FROM metrics")[0][0] == 4 + 1 + 36 + 3
    # Mid2E on predicted descriptors pairs seed k with A2Mid seed k.
    assert rows(tiny_db, "SELECT count(DISTINCT seed) FROM metrics WHERE experiment_id LIKE 'Mid2E/predicted%'")[0][0] == 2
    sources = {r[0]: r[1] for r in rows(tiny_db, "SELECT source, count(DISTINCT name) FROM clip_features GROUP BY 1")}
    assert sources == {"estimated_midlevel": 7, "thesis_harmony": 27, "key_relative": 31, "predicted_midlevel": 7}
    # SHAP additivity holds in what was stored: base + contributions = stored prediction.
    check = rows(
        tiny_db,
        "SELECT max(abs(b.base_value + s.total - p.predicted)) FROM "
        "(SELECT experiment_id, seed, clip_id, target, sum(value) AS total FROM shap_values GROUP BY ALL) s "
        "JOIN shap_base_values b USING (experiment_id, seed, target) "
        "JOIN predictions p USING (experiment_id, seed, clip_id, target)",
    )[0][0]
    assert check < 1e-3
    # The perceptual route: a ViT, a CNN and the CNN's clean twin (trained at confound 0). Every clip
    # with a map has a map for every method, its stem shares and its causal rows (the same clips).
    perceptual = [r[0] for r in rows(tiny_db, "SELECT experiment_id FROM experiments WHERE route = 'Perceptual' ORDER BY 1")]
    assert perceptual == ["Perceptual/log_spectrogram_224/cnn", "Perceptual/log_spectrogram_224/cnn@confound0",
                          "Perceptual/spectrogram_224/vit_tiny_patch16_224"]
    n_test = rows(tiny_db, "SELECT count(*) FROM clips WHERE split = 'test'")[0][0]
    for experiment, n_methods, n_measured in zip(perceptual, (4, 4, 7), (3, 3, 2)):
        mapped = {r[0]: r[1] for r in rows(tiny_db, f"SELECT clip_id, count(*) FROM relevance_maps WHERE experiment_id = '{experiment}' GROUP BY 1")}
        assert mapped and set(mapped.values()) == {n_methods}
        causal = {r[0]: r[1] for r in rows(tiny_db, f"SELECT clip_id, count(*) FROM stem_reliance WHERE experiment_id = '{experiment}' GROUP BY 1")}
        assert causal == {clip: 4 for clip in mapped}  # melody, chords, bass, drums
        shares = {r[0] for r in rows(tiny_db, f"SELECT DISTINCT clip_id FROM relevance_by_stem WHERE experiment_id = '{experiment}'")}
        assert shares == set(mapped)
        measured = rows(tiny_db, f"SELECT count(DISTINCT clip_id), count(DISTINCT method) FROM faithfulness WHERE experiment_id = '{experiment}'")[0]
        assert measured == (min(n_measured, n_test), n_methods + 1)  # + the random tile order
        agreement = rows(tiny_db, f"SELECT count(*) FROM attribution_agreement WHERE experiment_id = '{experiment}' AND measure = 'causal_spearman'")
        assert agreement[0][0] == n_methods
        targets = {r[0] for r in rows(tiny_db, f"SELECT DISTINCT target FROM metrics WHERE experiment_id = '{experiment}'")}
        assert targets == {"happy_vs_sad", "happy_vs_sad@calibrated"}
    # The model contrast pairs the CNN with its clean twin, per method.
    contrast = rows(tiny_db, "SELECT DISTINCT reference_experiment_id FROM attribution_agreement WHERE measure = 'drum_contrast'")
    assert contrast == [("Perceptual/log_spectrogram_224/cnn@confound0",)]
    # ...with its ground truth: the shortcut model's drum reliance minus the clean one's, on the clips both explained
    shortcut, clean = "Perceptual/log_spectrogram_224/cnn", "Perceptual/log_spectrogram_224/cnn@confound0"
    truth = rows(tiny_db, "SELECT method, value, n FROM attribution_agreement WHERE measure = 'reliance_contrast'")
    paired = rows(tiny_db, f"""SELECT avg(a.p_with - a.p_without - (b.p_with - b.p_without)), count(*)
        FROM stem_reliance a JOIN stem_reliance b USING (clip_id, seed, stem)
        WHERE a.experiment_id = '{shortcut}' AND b.experiment_id = '{clean}' AND stem = 'drums' AND seed = 0""")[0]
    assert len(truth) == 1 and truth[0][0] == "causal reliance" and truth[0][2] == paired[1] > 0
    assert truth[0][1] == pytest.approx(paired[0], abs=1e-12)
    assert {r[0] for r in rows(tiny_db, "SELECT DISTINCT removal || '/' || curve FROM faithfulness_curves")} == {
        "floor/morf", "floor/lerf", "road/morf", "road/lerf"}
    n_sonified = rows(tiny_db, "SELECT count(*) FROM sonifications")[0][0]
    assert n_sonified > 0 and rows(tiny_db, "SELECT count(DISTINCT variant) FROM sonifications")[0][0] == 2
    # The model's ear: one check per stored sonification pair, probabilities in [0, 1].
    ears = rows(tiny_db, "SELECT count(*), min(least(p_original, p_sonified, p_complement)), "
                         "max(greatest(p_original, p_sonified, p_complement)) FROM ear_checks")[0]
    assert ears[0] == n_sonified // 2 and 0.0 <= ears[1] and ears[2] <= 1.0
    assert rows(tiny_db, "SELECT count(DISTINCT method) FROM sanity_checks WHERE experiment_id LIKE '%vit%'")[0][0] == 7
    assert rows(tiny_db, "SELECT count(*) FROM audio_originals")[0][0] == n_test


def test_interrupted_run_resumes_without_redoing_finished_units(tmp_path, monkeypatch):
    db = tmp_path / "resume.duckdb"
    calls: list[str] = []
    original = audio_regression.train_and_evaluate

    def interrupt(*args, **kwargs):
        calls.append("a2e")
        raise KeyboardInterrupt

    monkeypatch.setattr(audio_regression, "train_and_evaluate", interrupt)
    with pytest.raises(KeyboardInterrupt):
        run("tiny", db=db, show_progress=False)
    assert not db.exists() and building_path(db).exists()
    assert rows(building_path(db), "SELECT status FROM runs")[0][0] == "interrupted"
    done_before = {r[0] for r in rows(building_path(db), "SELECT unit FROM work_units")}
    assert done_before == {"experiments", "corpus"}  # interrupted in the first CNN unit (A2Mid seed 0)

    def count(*args, **kwargs):
        calls.append("a2e-again")
        return original(*args, **kwargs)

    monkeypatch.setattr(audio_regression, "train_and_evaluate", count)
    run("tiny", db=db, show_progress=False)
    assert db.exists() and not building_path(db).exists()
    assert calls == ["a2e"] + ["a2e-again"] * 6  # 2 A2Mid seeds and 4 A2E inputs, each once
    assert [r[0] for r in rows(db, "SELECT status FROM runs ORDER BY run_id")] == ["interrupted", "finished"]
    assert rows(db, "SELECT count(*) FROM clips")[0][0] == 20  # corpus rows written once, not twice

    modified = db.stat().st_mtime_ns
    run("tiny", db=db, show_progress=False)  # up to date: nothing is rebuilt
    assert db.stat().st_mtime_ns == modified


def test_an_unreadable_clip_is_reported_and_skipped(tmp_path, monkeypatch):
    load = SyntheticCorpus.load

    def flaky(self, clip_id):
        if clip_id == "s001c0":
            raise AudioLoadError("s001c0.wav: cannot decode audio (corrupt header)")
        return load(self, clip_id)

    monkeypatch.setattr(SyntheticCorpus, "load", flaky)
    # jobs=1: the monkeypatched loader lives in this process only (spawned workers would not see it).
    db = run("tiny", db=tmp_path / "skip.duckdb", show_progress=False, data_root=tmp_path, jobs=1)
    assert rows(db, "SELECT clip_id, reason FROM skipped_clips") == [("s001c0", "s001c0.wav: cannot decode audio (corrupt header)")]
    assert rows(db, "SELECT count(*) FROM predictions WHERE clip_id = 's001c0'")[0][0] == 0
    assert rows(db, "SELECT status FROM runs")[0][0] == "finished"


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "precompute", *args], cwd=REPOSITORY, capture_output=True, text=True, timeout=300)


def test_explain_command_writes_prediction_relevance_and_sonification(tiny_db, tmp_path):
    clip = tmp_path / "clip.flac"
    sf.write(clip, SyntheticCorpus().load("s000c0"), 22_050)
    out = tmp_path / "explained"
    result = cli("explain", str(clip), "--db", str(tiny_db), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "clip.flac:" in result.stdout and ("happy" in result.stdout or "sad" in result.stdout)
    for method in methods_for("vit"):  # the default stored model is the ViT
        for kind in ("sonified", "complement"):
            audio, rate = sf.read(out / f"{kind}_{method}.wav")
            assert rate == 22_050 and len(audio) == 3 * 22_050 and np.isfinite(audio).all()
        assert (out / f"relevance_{method}.png").stat().st_size > 1000
    assert (out / "prediction.json").is_file()


@pytest.mark.parametrize("make_input, message", [
    (lambda d: d / "missing.mp3", "no such file"),
    (lambda d: (d / "broken.wav").write_bytes(b"RIFF0000WAVEjunk" * 10) and d / "broken.wav", "cannot decode"),
])
def test_explain_command_bad_input_one_line_and_exit_2(tiny_db, tmp_path, make_input, message):
    result = cli("explain", str(make_input(tmp_path)), "--db", str(tiny_db), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr and result.stderr.startswith("error: ")


def test_explain_command_without_database(tmp_path):
    clip = tmp_path / "clip.wav"
    sf.write(clip, np.zeros(22_050, dtype=np.float32), 22_050)
    result = cli("explain", str(clip), "--db", str(tmp_path / "none.duckdb"))
    assert result.returncode == 2 and "python -m precompute run --profile demo" in result.stderr


def test_unknown_profile_is_named():
    result = cli("run", "--profile", "nonexistent")
    assert result.returncode == 2 and "nonexistent" in result.stderr and "demo" in result.stderr


def test_summary_command_prints_every_experiment(tiny_db):
    result = cli("summary", "--db", str(tiny_db))
    assert result.returncode == 0, result.stderr
    assert "profile tiny" in result.stdout and "A2E/chromagram+spectrogram/cnn" in result.stdout
    assert "Mid2E/predicted_midlevel/ridge/key_relative" in result.stdout and "balanced_accuracy" in result.stdout
    assert "causal agreement" in result.stdout and "drum_contrast" in result.stdout and "ROAD gap" in result.stdout
    assert cli("summary", "--db", "nowhere.duckdb").returncode == 2


def test_summary_flags_a_classifier_that_predicts_one_class():
    from precompute.summary import _flat_flag

    assert _flat_flag({"recall_happy": 0.0, "recall_sad": 1.0}) == "  FLAT: predicts only Sad"
    assert _flat_flag({"recall_happy": 1.0, "recall_sad": 0.0}) == "  FLAT: predicts only Happy"
    assert _flat_flag({"recall_happy": 0.5, "recall_sad": 0.9}) == ""


class WithBadClip(SyntheticCorpus):
    """A corpus whose second clip cannot be read (module level, so worker processes can unpickle it)."""

    def load(self, clip_id):
        if clip_id == self.records()[1].clip_id:
            raise AudioLoadError(f"{clip_id}.wav: truncated file")
        return super().load(clip_id)


def test_parallel_feature_extraction_matches_serial_and_reports_bad_clips(tmp_path):
    from engine.datasets.synthetic import SyntheticConfig
    from precompute.context import RunContext
    from precompute.profile import parse_profile

    dataset = WithBadClip(SyntheticConfig(n_songs=3, clips_per_song=2, clip_seconds=2.0, seed=3))

    def features(jobs: int):
        ctx = RunContext(
            profile=parse_profile({"dataset": {"name": "synthetic"}}, path=tmp_path / "t.toml"), dataset=dataset, records=dataset.records(),
            clip_seconds=2.0, device="cpu", cache_dir=tmp_path / f"cache{jobs}", writer=None,
            representations=("mean_chroma", "vit_spectrogram"), show_progress=False, jobs=jobs,
        )
        return ctx.features()

    serial, parallel = features(1), features(2)
    assert serial.clip_ids == parallel.clip_ids and len(serial.clip_ids) == 5
    assert all(np.array_equal(serial.arrays[k], parallel.arrays[k]) for k in serial.arrays)
    assert list(parallel.skipped.values()) == [f"{dataset.records()[1].clip_id}.wav: truncated file"]
