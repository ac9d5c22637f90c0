"""The blind listening study: its analysis on hand-computed examples, its store, and simulated raters.

Raters are simulated with Streamlit's AppTest on the tiny profile's database (two at once, a restart
in the middle: a new AppTest after the process's writer is dropped, and a writer process killed
outright), and one full trial is played in Debian's chromium against a real server, which is then
restarted: the rater's link resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import io
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from contextlib import contextmanager
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
import streamlit as st
from scipy.stats import binomtest
from streamlit.testing.v1 import AppTest

from dashboard import queries, study_analysis
from dashboard.study_store import (
    MAX_STUDY_TRIALS,
    MAX_TRIALS_PER_RATER,
    QUESTIONS,
    StudyError,
    StudyStore,
    choose_trials,
    study_file,
    valid_rater_id,
    valid_study_id,
)

REPOSITORY = Path(__file__).resolve().parents[1]
HOME = str(REPOSITORY / "dashboard" / "Home.py")


# --- analysis: hand-computed examples ------------------------------------------------------------------------------


def test_wilson_interval_matches_the_formula_worked_by_hand():
    # p = 0.8, n = 10, z = 1.95996: centre (0.8 + z²/20) / (1 + z²/10) = 0.71674, half-width 0.22657
    low, high = study_analysis.wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-4) and high == pytest.approx(0.9433, abs=1e-4)
    assert study_analysis.wilson_interval(0, 5)[0] == 0.0 and study_analysis.wilson_interval(5, 5)[1] == 1.0
    low, high = study_analysis.wilson_interval(0, 10)
    assert high == pytest.approx(0.2775, abs=1e-4)  # z² / (n + z²) when no success
    assert all(np.isnan(study_analysis.wilson_interval(0, 0)))
    # scipy's implementation agrees on other cases
    for k, n in [(3, 7), (50, 100), (99, 100), (1, 2)]:
        reference = binomtest(k, n).proportion_ci(method="wilson")
        assert study_analysis.wilson_interval(k, n) == pytest.approx((reference.low, reference.high), abs=1e-9)


def test_clopper_pearson_interval_is_the_exact_binomial_interval():
    low, high = study_analysis.clopper_pearson_interval(8, 10)
    assert low == pytest.approx(0.4439, abs=1e-4) and high == pytest.approx(0.9748, abs=1e-4)
    # k = 0: the upper bound solves (1 − p)^n = α/2, i.e. 1 − 0.025^(1/n)
    assert study_analysis.clopper_pearson_interval(0, 10) == pytest.approx((0.0, 1 - 0.025 ** 0.1))
    assert study_analysis.clopper_pearson_interval(10, 10) == pytest.approx((0.025 ** 0.1, 1.0))
    for k, n in [(3, 7), (50, 100), (1, 2)]:
        reference = binomtest(k, n).proportion_ci(method="exact")
        assert study_analysis.clopper_pearson_interval(k, n) == pytest.approx((reference.low, reference.high), abs=1e-9)


def test_fleiss_kappa_on_the_textbook_example():
    # Fleiss (1971) as worked on Wikipedia: 10 items, 14 raters, 5 categories; P̄ = 0.378, P_e = 0.213, kappa = 0.210.
    counts = np.array([
        [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
    ])
    assert study_analysis.fleiss_kappa(counts) == pytest.approx(0.20993, abs=1e-5)


def test_fleiss_kappa_with_unequal_raters_per_item_by_hand():
    # Item A: 3 raters, 2 + 1 → P = (4 + 1 − 3) / 6 = 1/3; item B: 2 raters agree → P = 1; item C: 1 rating, left out.
    # P̄ = 2/3; p = (4/5, 1/5) → P_e = 0.68; kappa = (2/3 − 0.68) / 0.32 = −1/24.
    counts = np.array([[2, 1], [2, 0], [1, 0]])
    assert study_analysis.fleiss_kappa(counts) == pytest.approx(-1 / 24)
    # Every rating in one category: chance agreement is 1 and kappa undefined; no item rated twice: undefined.
    assert np.isnan(study_analysis.fleiss_kappa(np.array([[3, 0], [2, 0]])))
    assert np.isnan(study_analysis.fleiss_kappa(np.array([[1, 0], [0, 1]])))
    # Perfect agreement over two categories.
    assert study_analysis.fleiss_kappa(np.array([[2, 0], [0, 2]])) == 1.0


def test_pairwise_agreement_by_hand():
    # [2, 1]: 1 agreeing pair of 3; [3, 0]: 3 of 3; [0, 4]: 6 of 6 → (2 + 6 + 12) / (6 + 6 + 12) ordered pairs = 20 / 24
    assert study_analysis.pairwise_agreement(np.array([[2, 1], [3, 0], [0, 4]])) == pytest.approx(20 / 24)
    assert np.isnan(study_analysis.pairwise_agreement(np.array([[1, 0], [0, 1]])))


def answers(rows: list[tuple]) -> pd.DataFrame:
    """Build stored answers from ``(rater, trial, method, predicted, sonified_first, choice, rating_1, rating_2)``."""
    frame = pd.DataFrame(rows, columns=["rater_id", "trial", "method", "predicted", "sonified_first", "choice", "rating_1",
                                        "rating_2"])
    frame["clip_id"] = "c" + frame["trial"].astype(str)
    for column in ("choice", "rating_1", "rating_2"):
        frame[column] = frame[column].astype("Int64")
    return frame


def test_a_verdict_undoes_the_random_order_and_the_question():
    # Sound 1 chosen as happier: the sonified clip if it was played first.
    happier = answers([
        ("r", 0, "m", "happy", True, 1, None, None),   # sonified heard happier, model predicted happy: agrees
        ("r", 1, "m", "happy", False, 1, None, None),  # the other one heard happier: disagrees
        ("r", 2, "m", "sad", False, 1, None, None),    # the other one happier, so the sonified sadder: agrees
        ("r", 3, "m", "sad", True, 1, None, None),     # sonified happier for a sad prediction: disagrees
    ])
    judged = study_analysis.judgements(happier, question="happier")
    assert list(judged["verdict"]) == ["sonified", "other", "other", "sonified"]
    assert list(judged["agrees"]) == [True, False, True, False]
    # "Which sounds sadder?": choosing the sonified clip says it is the sadder one.
    judged = study_analysis.judgements(happier, question="sadder")
    assert list(judged["verdict"]) == ["other", "sonified", "sonified", "other"]
    assert list(judged["agrees"]) == [False, True, False, True]
    ratings = answers([
        ("r", 0, "m", "happy", True, None, 6, 2),   # sonified 6 vs 2: happier, agrees
        ("r", 1, "m", "happy", False, None, 6, 2),  # sonified is sound 2: 2 vs 6, disagrees
        ("r", 2, "m", "sad", False, None, 5, 3),    # sonified 3 vs 5: sadder, agrees
        ("r", 3, "m", "sad", True, None, 4, 4),     # a tie: no verdict on the model
    ])
    judged = study_analysis.judgements(ratings, question="valence")
    assert list(judged["verdict"]) == ["sonified", "other", "other", "tie"]
    assert judged["agrees"].tolist()[:3] == [True, False, True] and pd.isna(judged["agrees"].iloc[3])
    with pytest.raises(ValueError, match="unknown question"):
        study_analysis.judgements(ratings, question="louder")


def test_agreement_by_method_counts_answers_and_leaves_ties_out():
    rows = [(f"r{i}", i, "chefer2021", "happy", True, 1, None, None) for i in range(8)]  # 8 agree
    rows += [(f"r{i}", i, "chefer2021", "happy", True, 2, None, None) for i in range(8, 10)]  # 2 disagree
    rows += [("r0", 20, "random", "sad", True, 1, None, None), ("r1", 21, "random", "sad", False, 1, None, None)]
    table = study_analysis.agreement_by_method(study_analysis.judgements(answers(rows), question="happier"))
    chefer = table.set_index("method").loc["chefer2021"]
    assert (chefer["answers"], chefer["agree"], chefer["agreement"]) == (10, 8, 0.8)
    assert (chefer["wilson_low"], chefer["wilson_high"]) == pytest.approx((0.4902, 0.9433), abs=1e-4)
    assert (chefer["cp_low"], chefer["cp_high"]) == pytest.approx((0.4439, 0.9748), abs=1e-4)
    assert chefer["vs_chance"] == "undecided" and chefer["raters"] == 10 and chefer["clips"] == 10
    random_row = table.set_index("method").loc["random"]
    assert (random_row["answers"], random_row["agree"]) == (2, 1)
    ties = answers([("r0", 0, "m", "happy", True, None, 4, 4), ("r1", 0, "m", "happy", True, None, 7, 1)])
    row = study_analysis.agreement_by_method(study_analysis.judgements(ties, question="valence")).iloc[0]
    assert (row["answers"], row["agree"], row["ties"]) == (1, 1, 1)
    many = answers([(f"r{i}", i, "m", "happy", True, 1, None, None) for i in range(30)])
    assert study_analysis.agreement_by_method(study_analysis.judgements(many, question="happier")).iloc[0]["vs_chance"] == "above"


def test_rater_agreement_uses_trials_heard_twice():
    # Trial 0: both raters heard the sonified clip happier; trial 1: both the other; trial 2: they differ;
    # trial 3: one rater only (left out). Counts [[2,0],[0,2],[1,1]]: P̄ = 2/3, P_e = 0.5, kappa = 1/3; pairs 4 of 6.
    rows = [("a", 0, "m", "happy", True, 1, None, None), ("b", 0, "m", "happy", False, 2, None, None),
            ("a", 1, "m", "sad", True, 2, None, None), ("b", 1, "m", "sad", False, 1, None, None),
            ("a", 2, "m", "happy", True, 1, None, None), ("b", 2, "m", "happy", True, 2, None, None),
            ("a", 3, "m", "happy", True, 1, None, None)]
    table = study_analysis.rater_agreement(study_analysis.judgements(answers(rows), question="happier"), resamples=200)
    assert list(table["method"]) == ["m", "all"]
    row = table.iloc[-1]
    assert row["trials"] == 3 and row["raters_per_trial"] == 2
    assert row["fleiss_kappa"] == pytest.approx(1 / 3) and row["percent_agreement"] == pytest.approx(4 / 6)
    assert row["kappa_low"] <= row["fleiss_kappa"] <= row["kappa_high"]
    assert row["agreement_low"] <= row["percent_agreement"] <= row["agreement_high"]


# --- the store ----------------------------------------------------------------------------------------------------


TRIALS = [(f"clip{i}", method, "happy" if i % 2 else "sad") for i in range(4) for method in ("chefer2021", "random")]


def new_study(store: StudyStore, **changes) -> str:
    settings = dict(name="pilot", results_db="/results/tiny.duckdb", experiment_id="Perceptual/x/vit", seed=0,
                    dataset="synthetic", gain="R^2", comparison="complement", question="happier", trials_per_rater=3,
                    max_raters=10, trials=TRIALS)
    return store.create_study(**(settings | changes))


def test_the_store_refuses_bad_study_settings(tmp_path):
    store = StudyStore(tmp_path / "s.sqlite")
    for changes, message in [
        ({"name": ""}, "name"), ({"name": "x" * 61}, "name"), ({"name": "a\nb"}, "name"),
        ({"question": "louder"}, "question"), ({"comparison": "silence"}, "comparison"),
        ({"trials_per_rater": 0}, "Trials per rater"), ({"trials_per_rater": MAX_TRIALS_PER_RATER + 1}, "Trials per rater"),
        ({"trials_per_rater": 2.5}, "Trials per rater"), ({"max_raters": 0}, "raters"),
        ({"trials": []}, "trials"), ({"trials": [("c", "m", "happy")] * 2}, "only once"),
        ({"trials": [(f"c{i}", "m", "happy") for i in range(MAX_STUDY_TRIALS + 1)]}, "trials"),
        ({"trials": [("c", "m", "angry")]}, "predicted class"), ({"experiment_id": "x\x00y"}, "Invalid value"),
    ]:
        with pytest.raises(StudyError, match=message):
            new_study(store, **changes)
    assert store.studies().empty  # nothing half-written


def test_ids_and_file_names_are_validated():
    assert valid_study_id("0123456789ab") and not valid_study_id("0123456789AB") and not valid_study_id("x")
    assert not valid_study_id(None) and not valid_study_id("0123456789ab' OR 1=1 --")
    assert valid_rater_id("ab" * 12) and not valid_rater_id("ab" * 11)
    assert study_file("pilot-2", Path("data/studies")) == Path("data/studies/pilot-2.sqlite")
    for bad in ("../results", "a/b", "x.duckdb", "", " pilot", "x" * 41):
        with pytest.raises(StudyError):
            study_file(bad, Path("data/studies"))


def test_a_write_is_one_transaction(tmp_path):
    store = StudyStore(tmp_path / "s.sqlite")
    with pytest.raises(RuntimeError), store._write() as cursor:
        cursor.execute("INSERT INTO studies (study_id, name, created_at, results_db, experiment_id, seed, dataset, gain, "
                       "comparison, question, trials_per_rater, max_raters) VALUES ('0123456789ab', 'n', 't', 'r', 'e', 0, "
                       "'d', 'g', 'complement', 'happier', 1, 1)")
        raise RuntimeError("the server fails mid-write")
    assert store.studies().empty
    assert sqlite3.connect(tmp_path / "s.sqlite").execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_new_rater_gets_the_trials_heard_least_in_random_order():
    assigned = {0: 2, 1: 0, 2: 1, 3: 0, 4: 2}
    chosen = choose_trials(assigned, 3, random.Random(1))
    assert sorted(t for t, _ in chosen) == [1, 2, 3]  # the two unheard trials, then the one heard once
    orders = [choose_trials({i: 0 for i in range(6)}, 6, random.Random(seed)) for seed in range(20)]
    assert len({tuple(t for t, _ in o) for o in orders}) > 10  # the order is random
    firsts = [first for o in orders for _, first in o]
    assert 0.3 < np.mean(firsts) < 0.7  # so is which sound comes first


def test_the_store_limits_trials_and_raters_and_checks_every_answer(tmp_path):
    store = StudyStore(tmp_path / "s.sqlite", rng=random.Random(0))
    study = new_study(store, max_raters=3)
    raters = [store.add_rater(study) for _ in range(3)]
    assert all(valid_rater_id(r) for r in raters) and len(set(raters)) == 3
    with pytest.raises(StudyError, match="all the raters"):
        store.add_rater(study)
    assert [store.progress(r) for r in raters] == [(0, 3)] * 3  # 3 trials each, of the study's 8
    heard = pd.read_sql("SELECT trial, count(*) AS n FROM assignments GROUP BY trial", sqlite3.connect(store.path))
    assert len(heard) == 8 and heard["n"].max() - heard["n"].min() <= 1  # spread evenly over the trials
    rater = raters[0]
    trial = store.next_trial(rater)
    assert trial.position == 0 and trial.total == 3
    for bad in [{"choice": 3}, {"choice": 0}, {"choice": "1"}, {"choice": True}, {"ratings": (4, 5)}, {}]:
        with pytest.raises(StudyError, match="Choose sound 1 or sound 2"):
            store.record(rater, 0, **bad)
    with pytest.raises(StudyError, match="not the next one"):
        store.record(rater, 1, choice=1)
    with pytest.raises(StudyError, match="Unknown rater"):
        store.record("f" * 24, 0, choice=1)
    assert store.record(rater, 0, choice=2) is True
    assert store.record(rater, 0, choice=1) is False  # a repeated submit changes nothing
    assert store.responses(study)["choice"].tolist() == [2]
    assert store.next_trial(rater).position == 1
    store.stop(rater)
    with pytest.raises(StudyError, match="stopped"):
        store.record(rater, 1, choice=1)
    assert store.rater_study(rater) == (study, True) and store.progress(rater) == (1, 3)
    store.set_open(study, False)
    with pytest.raises(StudyError, match="closed"):
        store.add_rater(study)
    valence = new_study(store, question="valence", trials_per_rater=50)
    rater = store.add_rater(valence)
    assert store.progress(rater) == (0, len(TRIALS))  # never more trials than the study has
    for bad in [{"ratings": (0, 4)}, {"ratings": (4, 8)}, {"ratings": (4,)}, {"ratings": (4.0, 5)}, {"choice": 1}]:
        with pytest.raises(StudyError, match="Rate both sounds"):
            store.record(rater, 0, **bad)
    assert store.record(rater, 0, ratings=(7, 1))
    assert store.responses(valence)[["rating_1", "rating_2"]].values.tolist() == [[7, 1]]


def test_nothing_personal_is_stored(tmp_path):
    store = StudyStore(tmp_path / "s.sqlite")
    study = new_study(store)
    rater = store.add_rater(study)
    store.record(rater, 0, choice=1)
    con = sqlite3.connect(store.path)
    columns = {table: [row[1] for row in con.execute(f"PRAGMA table_info({table})")]
               for (table,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    # Every column there is: a rater is a random id with the times it started and stopped; an answer is its values
    # and time. ("name" is the study's, given by the experimenter.)
    assert columns == {
        "studies": ["study_id", "name", "created_at", "results_db", "experiment_id", "seed", "dataset", "gain", "comparison",
                    "question", "trials_per_rater", "max_raters", "open"],
        "trials": ["study_id", "trial", "clip_id", "method", "predicted"],
        "raters": ["rater_id", "study_id", "started_at", "stopped_at"],
        "assignments": ["rater_id", "position", "trial", "sonified_first"],
        "responses": ["rater_id", "position", "choice", "rating_1", "rating_2", "answered_at"],
    }
    assert con.execute("SELECT rater_id FROM raters").fetchall() == [(rater,)] and valid_rater_id(rater)


def test_many_raters_at_once_through_one_writer(tmp_path):
    store = StudyStore(tmp_path / "s.sqlite")
    study = new_study(store, trials_per_rater=8, max_raters=50)
    errors: list[BaseException] = []

    def rate() -> None:
        try:
            rater = store.add_rater(study)
            while (trial := store.next_trial(rater)) is not None:
                assert store.record(rater, trial.position, choice=1 + trial.position % 2)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=rate) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    stored = store.responses(study)
    assert len(stored) == 12 * 8 and stored.groupby("rater_id").size().eq(8).all()
    assert stored.groupby("trial").size().eq(12).all()  # every rater heard every trial


KILLED_WRITER = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from dashboard.study_store import StudyStore
    store = StudyStore(Path(sys.argv[1]))
    rater = sys.argv[2]
    for _ in range(int(sys.argv[3])):
        trial = store.next_trial(rater)
        store.record(rater, trial.position, choice=2)
    print("answered", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # the server dies: no close, no clean exit
""")


def test_answers_survive_a_killed_server_process(tmp_path):
    store = StudyStore(tmp_path / "s.sqlite")
    study = new_study(store, trials_per_rater=6)
    rater = store.add_rater(study)
    store.close()
    done = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(tmp_path / "s.sqlite"), rater, "4"], cwd=REPOSITORY,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == -signal.SIGKILL and "answered" in done.stdout, done.stderr
    reopened = StudyStore(tmp_path / "s.sqlite")
    assert reopened.progress(rater) == (4, 6)
    assert reopened.next_trial(rater).position == 4  # the rater resumes at the first unanswered trial
    assert reopened.responses(study)["choice"].tolist() == [2, 2, 2, 2]


# --- the page, with simulated raters ---------------------------------------------------------------------------------


def make_study(results_db: Path, study_db: Path, *, question: str = "happier", per_rater: int = 3,
               comparison: str = "complement", methods: tuple[str, ...] = ("random",), clips: int = 3) -> tuple[str, int]:
    """Create a study on the tiny database's first perceptual model; return its id and number of trials."""
    con = duckdb.connect(str(results_db), read_only=True)
    try:
        experiment, dataset, seed = queries.default_vit(con)
        candidates = queries.study_candidates(con, experiment, seed=seed, gain="R^2", dataset=dataset)
    finally:
        con.close()
    candidates = candidates[candidates["method"].isin(methods)]
    candidates = candidates[candidates["clip_id"].isin(candidates["clip_id"].unique()[:clips])]
    assert len(candidates) >= 2, "the tiny profile stores too few sonifications"
    store = StudyStore(study_db)
    try:
        study = store.create_study(name="tiny test", results_db=str(results_db), experiment_id=experiment, seed=seed,
                                   dataset=dataset, gain="R^2", comparison=comparison, question=question,
                                   trials_per_rater=per_rater, max_raters=20,
                                   trials=list(candidates[["clip_id", "method", "predicted"]].itertuples(index=False)))
    finally:
        store.close()
    return study, len(candidates)


def study_app(results_db: Path | None, study_db: Path | None, monkeypatch, **query: str) -> AppTest:
    """Open the study page (``?page=listening_study``) with both databases pinned (``None``: leave as set)."""
    if results_db is not None:
        monkeypatch.setenv("MER_DB", str(results_db))
    if study_db is not None:
        monkeypatch.setenv("MER_STUDY_DB", str(study_db))
    app = AppTest.from_file(HOME, default_timeout=90)
    app.query_params.update({"page": "listening_study", **query})
    return app.run()


def assert_clean(app: AppTest) -> None:
    assert not app.exception, app.exception
    assert not app.error, [e.value for e in app.error]


def pair_label(app: AppTest) -> str:
    progress = app.get("progress")
    return progress[0].proto.text if progress else ""


def answer(app: AppTest, value: str | tuple[int, int]) -> AppTest:
    """Answer the trial shown (``"Sound 1"``/``"Sound 2"``, or two ratings) and submit it."""
    if isinstance(value, str):
        next(r for r in app.radio if (r.key or "").startswith("choice-")).set_value(value)
    else:
        for number, rating in zip((1, 2), value):
            next(r for r in app.radio if (r.key or "").startswith(f"rating{number}-")).set_value(rating)
    return next(b for b in app.button if b.label == "Next").click().run()


def consent(app: AppTest) -> str:
    """Agree on the consent screen; return the rater's id the link now carries."""
    assert any("Only your answers" in m.value for m in app.markdown)
    app.button(key="consent").click().run()
    assert_clean(app)
    return app.query_params["rater"]


def served_files(monkeypatch) -> dict[str, tuple[bytes, str | None]]:
    """Record every file the app hands Streamlit's media store (audio, downloads): ``{file id: (bytes, file name)}``."""
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    served: dict[str, tuple[bytes, str | None]] = {}
    original = MemoryMediaFileStorage.load_and_get_id

    def keep(self, path_or_data, mimetype, kind, filename=None):
        file_id = original(self, path_or_data, mimetype, kind, filename)
        served[file_id] = (path_or_data, filename)
        return file_id

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", keep)
    return served


def downloaded(app: AppTest, served: dict, label: str) -> tuple[bytes, str | None]:
    """Return the bytes and file name a download button of the app serves."""
    button = next(b for b in app.get("download_button") if b.label == label)
    return served[button.proto.url.rsplit("/", 1)[1].split(".")[0]]


def table_with(app: AppTest, column: str) -> pd.DataFrame:
    return next(d.value for d in app.dataframe if column in d.value.columns)


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_experimenter_creates_a_study_and_reads_its_results(tiny_db, tmp_path, monkeypatch):
    before = file_digest(tiny_db)
    study_db = tmp_path / "studies.sqlite"
    app = study_app(tiny_db, study_db, monkeypatch)
    assert_clean(app)
    assert app.title[0].value == "Listening study"
    assert not study_db.exists()  # looking does not create the study database
    assert app.radio(key="study_question").options == list(QUESTIONS.values())
    methods = app.multiselect(key="study_methods")
    assert "random" in methods.options and methods.value == methods.options
    app.multiselect(key="study_methods").set_value(["random"]).run()
    clips = app.multiselect(key="study_clips").value
    assert any(c.value.startswith(f"{len(clips)} trials: {len(clips)} clips") for c in app.caption)
    app.text_input(key="study_name").set_value("  ").run()
    app.button(key="create_study").click().run()
    assert not app.exception and app.error and "name must have" in app.error[0].value
    assert StudyStore(study_db).studies().empty
    app.text_input(key="study_name").set_value("pilot").run()
    app.number_input(key="study_per_rater").set_value(2).run()
    app.button(key="create_study").click().run()
    assert not app.exception and not app.error
    link = next(s.value for s in app.success if "listening_study?study=" in s.value)
    study = link.rsplit("study=", 1)[1]
    assert valid_study_id(study)
    stored = StudyStore(study_db).study(study)
    assert (stored.name, stored.trials_per_rater, stored.question) == ("pilot", 2, "happier")
    assert StudyStore(study_db).studies()["trials"].tolist() == [len(clips)]  # one trial per clip of the one method
    app.radio(key="study_view").set_value("Results").run()
    assert_clean(app)
    assert "No answers yet." in [i.value for i in app.info]
    assert [m.value for m in app.metric] == ["0", "0", "0", "0"]
    assert file_digest(tiny_db) == before  # the results database is never written


def test_two_raters_at_once_and_the_analysis_of_their_answers(tiny_db, tmp_path, monkeypatch):
    """Two raters' sessions are open at the same time and answer in turn (A, B, A, B, ...).

    Streamlit's AppTest is not thread-safe, so the two sessions interleave in one thread; writes from
    many threads at once are tested on the store itself (``test_many_raters_at_once_through_one_writer``).
    """
    study_db = tmp_path / "studies.sqlite"
    study, trials = make_study(tiny_db, study_db, per_rater=3, clips=3)
    monkeypatch.setenv("MER_DB", str(tiny_db))
    monkeypatch.setenv("MER_STUDY_DB", str(study_db))
    sessions = {}
    for choice in ("Sound 1", "Sound 2"):
        app = study_app(None, None, monkeypatch, study=study)
        sessions[choice] = [app, consent(app), []]
    while any(not app.success for app, _, _ in sessions.values()):
        for choice, session in sessions.items():
            app, rater, pairs = session
            if app.success:
                continue
            pairs.append(pair_label(app))
            assert len(app.get("audio")) == 2
            session[0] = answer(app, choice)
            assert_clean(session[0])
    out = {rater: (pairs, app.success[0].value) for app, rater, pairs in sessions.values()}
    assert len(out) == 2
    for pairs, done in out.values():
        assert pairs == ["Pair 1 of 3", "Pair 2 of 3", "Pair 3 of 3"]
        assert done.startswith("All 3 pairs are done")
    stored = StudyStore(study_db).responses(study)
    assert len(stored) == 6 and set(stored["rater_id"]) == set(out)
    assert stored.groupby("rater_id")["choice"].nunique().eq(1).all()  # each rater's own answers, none mixed up
    # The experimenter's view of the two raters' answers.
    served = served_files(monkeypatch)
    app = study_app(tiny_db, study_db, monkeypatch, study_view="Results")
    assert_clean(app)
    assert [m.value for m in app.metric] == ["2", "2", "0", "6"]
    agreement = table_with(app, "wilson_low")
    expected = study_analysis.agreement_by_method(study_analysis.judgements(stored, question="happier"))
    pd.testing.assert_frame_equal(agreement.reset_index(drop=True), expected)
    assert agreement["answers"].sum() == 6
    between = table_with(app, "fleiss_kappa")
    assert between.iloc[-1]["method"] == "all" and between.iloc[-1]["trials"] == trials
    data, file_name = downloaded(app, served, "Raw answers (CSV)")
    assert file_name == f"study_{study}_answers.csv"
    exported = pd.read_csv(io.BytesIO(data))
    assert len(exported) == 6 and {"rater_id", "clip_id", "method", "first_sound", "choice", "verdict", "agrees"} <= set(exported)
    assert set(exported["first_sound"]) <= {"sonified", "complement"}
    assert exported[["rater_id", "position", "choice"]].values.tolist() == stored[["rater_id", "position", "choice"]] \
        .astype(object).values.tolist()
    assert ((exported["first_sound"] == "sonified") == exported["sonified_first"]).all()


def test_a_restart_in_the_middle_loses_nothing(tiny_db, tmp_path, monkeypatch):
    study_db = tmp_path / "studies.sqlite"
    study, _ = make_study(tiny_db, study_db, question="valence", per_rater=4, clips=4, methods=("random", "gradient_x_input"))
    app = study_app(tiny_db, study_db, monkeypatch, study=study)
    rater = consent(app)
    assert pair_label(app) == "Pair 1 of 4"
    app = answer(app, (6, 2))
    app = answer(app, (3, 5))
    assert pair_label(app) == "Pair 3 of 4"
    # The server restarts: this process's writer is gone, a new session opens the rater's link.
    st.cache_resource.clear()
    resumed = study_app(tiny_db, study_db, monkeypatch, study=study, rater=rater)
    assert_clean(resumed)
    assert pair_label(resumed) == "Pair 3 of 4" and not any(b.key == "consent" for b in resumed.button)
    resumed = answer(resumed, (4, 4))
    resumed = answer(resumed, (1, 7))
    assert_clean(resumed)
    assert resumed.success and resumed.success[0].value.startswith("All 4 pairs are done")
    stored = StudyStore(study_db).responses(study)
    assert stored["position"].tolist() == [0, 1, 2, 3] and set(stored["rater_id"]) == {rater}
    assert stored[["rating_1", "rating_2"]].values.tolist() == [[6, 2], [3, 5], [4, 4], [1, 7]]
    # The finished link says so, and takes no more answers.
    again = study_app(tiny_db, study_db, monkeypatch, study=study, rater=rater)
    assert again.success and not any(b.label == "Next" for b in again.button)


def test_a_rater_can_stop_at_any_time(tiny_db, tmp_path, monkeypatch):
    study_db = tmp_path / "studies.sqlite"
    study, _ = make_study(tiny_db, study_db, per_rater=3, comparison="original")
    app = study_app(tiny_db, study_db, monkeypatch, study=study)
    rater = consent(app)
    app = answer(app, "Sound 2")
    app.button(key="stop").click().run()
    assert_clean(app)
    assert any("You stopped after 1 of 3 pairs" in i.value for i in app.info)
    assert not app.get("audio") and not app.radio
    store = StudyStore(study_db)
    assert store.rater_study(rater) == (study, True) and len(store.responses(study)) == 1
    later = study_app(tiny_db, study_db, monkeypatch, study=study, rater=rater)
    assert any("You stopped" in i.value for i in later.info) and not later.get("audio")


def stored_pair(results_db: Path, study_db: Path, study: str, rater: str, comparison: str) -> tuple[bytes, bytes, bool]:
    """Return the stored sonified clip and its comparison for the rater's next trial, and whether it comes first."""
    store = StudyStore(study_db)
    trial, settings = store.next_trial(rater), store.study(study)
    con = duckdb.connect(str(results_db), read_only=True)
    try:
        keys = dict(seed=settings.seed, clip_id=trial.clip_id, method=trial.method, gain=settings.gain)
        sonified = queries.sonified_audio(con, settings.experiment_id, **keys)
        other = queries.original_audio(con, dataset=settings.dataset, clip_id=trial.clip_id) if comparison == "original" \
            else queries.sonified_audio(con, settings.experiment_id, **keys, variant="complement")
    finally:
        con.close()
    return sonified, other, trial.sonified_first


@pytest.mark.parametrize("comparison", ["complement", "original"])
def test_a_rater_hears_the_pair_in_its_stored_order_without_labels(tiny_db, tmp_path, monkeypatch, comparison):
    study_db = tmp_path / "studies.sqlite"
    study, _ = make_study(tiny_db, study_db, per_rater=3, comparison=comparison)
    served = served_files(monkeypatch)
    app = study_app(tiny_db, study_db, monkeypatch, study=study)
    rater = consent(app)
    for _ in range(3):
        sonified, other, sonified_first = stored_pair(tiny_db, study_db, study, rater, comparison)
        assert sonified != other
        played = [served[a.proto.url.rsplit("/", 1)[1].split(".")[0]][0] for a in app.get("audio")]
        assert played == ([sonified, other] if sonified_first else [other, sonified])
        assert [m.value for m in app.markdown if m.value.startswith("**Sound")] == ["**Sound 1**", "**Sound 2**"]
        app = answer(app, "Sound 1")
    assert app.success
    stored = StudyStore(study_db).responses(study)
    assert stored["choice"].tolist() == [1, 1, 1]


def test_a_rater_must_answer_before_going_on(tiny_db, tmp_path, monkeypatch):
    study_db = tmp_path / "studies.sqlite"
    study, _ = make_study(tiny_db, study_db, per_rater=2)
    app = study_app(tiny_db, study_db, monkeypatch, study=study)
    consent(app)
    next(b for b in app.button if b.label == "Next").click().run()
    assert not app.exception
    assert [w.value for w in app.warning] == ["Choose Sound 1 or Sound 2 first."]
    assert pair_label(app) == "Pair 1 of 2" and StudyStore(study_db).responses(study).empty
    radios = [r for r in app.radio if (r.key or "").startswith("choice-")]
    assert len(radios) == 1 and radios[0].options == ["Sound 1", "Sound 2"] and radios[0].value is None
    answer(app, "Sound 2")
    assert pair_label(app) == "Pair 2 of 2" and not app.warning
    assert StudyStore(study_db).responses(study)["choice"].tolist() == [2]


@pytest.mark.parametrize("query", [
    {"study": "nonsense"}, {"study": "0123456789ab"}, {"study": "0123456789ab", "studies": "../../etc"},
    {"study": "'; DROP TABLE responses; --"},
])
def test_a_bad_study_link_gets_a_message_and_creates_nothing(tiny_db, tmp_path, monkeypatch, query):
    study_db = tmp_path / "studies.sqlite"
    make_study(tiny_db, study_db)
    app = study_app(tiny_db, study_db, monkeypatch, **query)
    assert_clean(app)
    assert [i.value for i in app.info] == ["This study link is not valid. Check the link you were given."]
    assert not app.button and not app.get("audio")
    con = sqlite3.connect(study_db)
    assert con.execute("SELECT count(*) FROM raters").fetchone() == (0,)  # nobody was enrolled
    assert {p.suffix for p in tmp_path.iterdir()} <= {".sqlite", ".sqlite-wal", ".sqlite-shm"} and len(list(tmp_path.glob("*.sqlite"))) == 1


def test_a_study_file_name_in_a_link_cannot_leave_the_studies_folder(tiny_db, tmp_path, monkeypatch):
    monkeypatch.delenv("MER_STUDY_DB", raising=False)
    folder = REPOSITORY / "data" / "studies"
    before = sorted(folder.iterdir()) if folder.is_dir() else None
    for name in ("../../etc/passwd", "..", "x.duckdb", "no-such-file"):
        app = study_app(tiny_db, None, monkeypatch, study="0123456789ab", studies=name)
        assert_clean(app)
        assert [i.value for i in app.info] == ["This study link is not valid. Check the link you were given."]
    assert (sorted(folder.iterdir()) if folder.is_dir() else None) == before  # a rater's link never creates a file


def test_a_rater_of_another_study_or_a_forged_id_starts_afresh(tiny_db, tmp_path, monkeypatch):
    study_db = tmp_path / "studies.sqlite"
    first, _ = make_study(tiny_db, study_db)
    second, _ = make_study(tiny_db, study_db)
    rater = StudyStore(study_db).add_rater(first)
    for linked in (rater, "0" * 24, "not-a-rater"):
        app = study_app(tiny_db, study_db, monkeypatch, study=second, rater=linked)
        assert_clean(app)
        assert app.button(key="consent") and not app.get("audio")  # the consent screen, not someone's trials


def test_a_closed_study_takes_no_new_rater(tiny_db, tmp_path, monkeypatch):
    study_db = tmp_path / "studies.sqlite"
    study, _ = make_study(tiny_db, study_db)
    StudyStore(study_db).set_open(study, False)
    app = study_app(tiny_db, study_db, monkeypatch, study=study)
    assert_clean(app)
    assert "This study is closed" in app.info[0].value and not app.button


def test_the_study_database_is_never_a_results_database(tiny_db, tmp_path, monkeypatch):
    before = file_digest(tiny_db)
    for query in ({}, {"study": "0123456789ab"}):
        app = study_app(tiny_db, tiny_db, monkeypatch, **query)
        assert not app.exception
        assert [e.value for e in app.error] == [f"The study database must be a file of its own (`.sqlite`), not a results "
                                                f"database: {tiny_db}"]
        assert not [r for r in app.radio if r.key == "study_question"] and not app.button
    assert file_digest(tiny_db) == before


def test_a_database_without_sonifications_says_so_once(tiny_db, tmp_path, monkeypatch):
    silent = tmp_path / "silent.duckdb"
    shutil.copy(tiny_db, silent)
    con = duckdb.connect(str(silent))
    con.execute("DELETE FROM sonifications")
    con.close()
    app = study_app(silent, tmp_path / "studies.sqlite", monkeypatch)
    assert_clean(app)
    assert [i.value for i in app.info] == [
        "This model has no stored sonified audio (the sonified clip and its complement) to play. A listening study needs a "
        "run whose perceptual stage stored sonifications; the demo profile does."]
    assert not any(b.key == "create_study" for b in app.button)


# --- one full trial in a real browser, across a server restart ------------------------------------------------------


@contextmanager
def streamlit_server(results_db: Path, study_db: Path):
    """Run the dashboard (as tests/test_browser.py does) with both databases pinned; yield its address."""
    from test_browser import streamlit_server as serve

    with serve(MER_DB=str(results_db), MER_STUDY_DB=str(study_db)) as url:
        yield url


def play_one_trial(page, choice: str) -> None:
    """Check the pair is two playable, unlabelled sounds; choose one and submit."""
    from test_browser import assert_no_exception, play_and_check, wait_until_idle

    page.locator("audio").nth(1).wait_for(state="attached", timeout=60_000)
    wait_until_idle(page)
    assert page.locator("audio").count() == 2
    for index in (0, 1):
        play_and_check(page.locator("audio").nth(index))
        page.locator("audio").nth(index).evaluate("e => e.pause()")
    page.locator('[data-testid="stRadio"] label').filter(has_text=choice).click()
    page.get_by_role("button", name="Next").click()
    assert_no_exception(page)


@pytest.mark.browser
@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="Debian chromium not installed (make browser-deps)")
def test_a_full_trial_in_a_browser_and_a_server_restart(tiny_db, tmp_path):
    screenshots = Path(os.environ.get("MER_SCREENSHOTS", tmp_path))  # kept there when set, as in tests/test_browser.py
    import re

    from playwright.sync_api import sync_playwright
    from test_browser import CHROMIUM, CHROMIUM_ARGS, assert_no_exception, wait_until_idle

    study_db = tmp_path / "studies.sqlite"
    study, _ = make_study(tiny_db, study_db, per_rater=2)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        with streamlit_server(tiny_db, study_db) as url:
            page.goto(f"{url}/listening_study?study={study}")
            page.get_by_text("Only your answers", exact=False).wait_for(timeout=90_000)
            page.locator('[data-testid="stSidebar"]').wait_for(state="hidden", timeout=30_000)  # nothing to browse in the test
            page.get_by_role("button", name="I agree, start").click()
            page.wait_for_url(re.compile(r"[?&]rater=[0-9a-f]{24}"), timeout=60_000)
            rater = re.search(r"rater=([0-9a-f]{24})", page.url).group(1)
            page.get_by_text("Pair 1 of 2").wait_for(timeout=60_000)
            wait_until_idle(page)
            page.screenshot(path=str(screenshots / "listening_study_trial.png"), full_page=True)
            play_one_trial(page, "Sound 1")
            page.get_by_text("Pair 2 of 2").wait_for(timeout=60_000)
        stored = StudyStore(study_db).responses(study)
        assert stored[["rater_id", "position", "choice"]].values.tolist() == [[rater, 0, 1]]
        # A new server process: the rater's link resumes at the second pair.
        with streamlit_server(tiny_db, study_db) as url:
            page.goto(f"{url}/listening_study?study={study}&rater={rater}")
            page.get_by_text("Pair 2 of 2").wait_for(timeout=90_000)
            play_one_trial(page, "Sound 2")
            page.get_by_text("All 2 pairs are done", exact=False).wait_for(timeout=60_000)
            assert_no_exception(page)
        browser.close()
    stored = StudyStore(study_db).responses(study)
    assert stored[["position", "choice"]].values.tolist() == [[0, 1], [1, 2]] and set(stored["rater_id"]) == {rater}
