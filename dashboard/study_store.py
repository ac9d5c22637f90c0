"""The listening study's own database: studies, anonymous raters, their trials and their answers.

A study database is a writable SQLite file of its own (``data/studies/<name>.sqlite`` or
``$MER_STUDY_DB``), never the read-only results database. Why SQLite and not DuckDB: a study makes
many tiny transactions (one per answer) while DuckDB is built for analytical scans; DuckDB lets only
one process open a file for writing, whereas SQLite's file locks let a restarted server (or an
analysis script) open the file while the old process still holds it; and SQLite comes with Python.

One :class:`StudyStore` per file and server process is the single writer (the page creates it with
``st.cache_resource``): it holds one connection guarded by a lock, so the sessions of many raters
queue their writes, and every write is one ``BEGIN IMMEDIATE … COMMIT`` transaction. The file is in
WAL mode with ``synchronous=FULL``: an answer whose transaction committed survives the server
process being killed, and a rater's link (``?study=…&rater=…``) resumes at the first unanswered
trial.

Nothing personal is stored: a rater is a random id; the answers, the time of each and the trial
order are all there is. Every value is validated here, whatever the page already checked.
"""

from __future__ import annotations

import random
import re
import secrets
import sqlite3
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator, Sequence

import pandas as pd

from engine.vocabulary import CLASSES

QUESTIONS: dict[str, str] = {
    "happier": "Which of the two sounds happier?",
    "sadder": "Which of the two sounds sadder?",
    "valence": "How positive or negative does each sound? 1 = very sad or negative, 7 = very happy or positive.",
}
"""The questions a study can ask: two pairwise choices and a 1–7 valence rating of each sound."""
COMPARISONS: tuple[str, ...] = ("complement", "original")
"""What the sonified clip is played against: its complement (what the model ignored) or the original clip."""
RATING_SCALE: tuple[int, ...] = tuple(range(1, 8))
MAX_TRIALS_PER_RATER = 100
"""No rater is given more trials than this, whatever the study asks for."""
MAX_STUDY_TRIALS = 500
"""A study holds at most this many trials (clips × methods)."""
MAX_RATERS = 1000
"""A study accepts at most this many raters."""
MAX_NAME = 60

_STUDY_ID = re.compile(r"^[0-9a-f]{12}$")
_RATER_ID = re.compile(r"^[0-9a-f]{24}$")
_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")
_TEXT = re.compile(r"^[^\x00-\x1f\x7f]+$")

SCHEMA = """
BEGIN IMMEDIATE;
CREATE TABLE IF NOT EXISTS studies (
    study_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL,
    results_db TEXT NOT NULL,
    experiment_id TEXT NOT NULL,
    seed INTEGER NOT NULL,
    dataset TEXT NOT NULL,
    gain TEXT NOT NULL,
    comparison TEXT NOT NULL CHECK (comparison IN ('complement', 'original')),
    question TEXT NOT NULL CHECK (question IN ('happier', 'sadder', 'valence')),
    trials_per_rater INTEGER NOT NULL CHECK (trials_per_rater BETWEEN 1 AND 100),
    max_raters INTEGER NOT NULL CHECK (max_raters BETWEEN 1 AND 1000),
    open INTEGER NOT NULL DEFAULT 1 CHECK (open IN (0, 1))
);
CREATE TABLE IF NOT EXISTS trials (
    study_id TEXT NOT NULL REFERENCES studies (study_id),
    trial INTEGER NOT NULL,
    clip_id TEXT NOT NULL,
    method TEXT NOT NULL,
    predicted TEXT NOT NULL CHECK (predicted IN ('happy', 'sad')),
    PRIMARY KEY (study_id, trial),
    UNIQUE (study_id, clip_id, method)
);
CREATE TABLE IF NOT EXISTS raters (
    rater_id TEXT PRIMARY KEY,
    study_id TEXT NOT NULL REFERENCES studies (study_id),
    started_at TEXT NOT NULL,
    stopped_at TEXT
);
CREATE TABLE IF NOT EXISTS assignments (
    rater_id TEXT NOT NULL REFERENCES raters (rater_id),
    position INTEGER NOT NULL,
    trial INTEGER NOT NULL,
    sonified_first INTEGER NOT NULL CHECK (sonified_first IN (0, 1)),
    PRIMARY KEY (rater_id, position)
);
CREATE TABLE IF NOT EXISTS responses (
    rater_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    choice INTEGER CHECK (choice IN (1, 2)),
    rating_1 INTEGER CHECK (rating_1 BETWEEN 1 AND 7),
    rating_2 INTEGER CHECK (rating_2 BETWEEN 1 AND 7),
    answered_at TEXT NOT NULL,
    PRIMARY KEY (rater_id, position),
    FOREIGN KEY (rater_id, position) REFERENCES assignments (rater_id, position),
    CHECK ((choice IS NOT NULL AND rating_1 IS NULL AND rating_2 IS NULL)
           OR (choice IS NULL AND rating_1 IS NOT NULL AND rating_2 IS NOT NULL))
);
COMMIT;
"""
"""The tables, created in one transaction when missing."""

_STUDY_COLUMNS = ("study_id, name, created_at, results_db, experiment_id, seed, dataset, gain, comparison, question, "
                  "trials_per_rater, max_raters, open")


class StudyError(ValueError):
    """An input a study refuses (bad value, closed or full study, unknown rater); the message says which."""


@dataclass(frozen=True)
class Study:
    """A listening study's settings.

    Attributes
    ----------
    study_id : str
        12 random hex digits (what a rater's link carries).
    name : str
        The experimenter's label.
    created_at : str
        ISO time (UTC).
    results_db : str
        The results database its sounds are read from.
    experiment_id, dataset : str
        The perceptual model and the dataset of its clips.
    seed : int
        The model's seed.
    gain : str
        The stored sonification gain played (e.g. ``"R^2"``).
    comparison : str
        ``"complement"`` or ``"original"``: what the sonified clip is paired with.
    question : str
        A key of :data:`QUESTIONS`.
    trials_per_rater, max_raters : int
        Limits.
    open : bool
        Whether new raters are accepted.
    """

    study_id: str
    name: str
    created_at: str
    results_db: str
    experiment_id: str
    seed: int
    dataset: str
    gain: str
    comparison: str
    question: str
    trials_per_rater: int
    max_raters: int
    open: bool

    @property
    def pairwise(self) -> bool:
        """Whether a trial asks for a choice between the two sounds (else for a rating of each)."""
        return self.question != "valence"


@dataclass(frozen=True)
class Trial:
    """A rater's next trial.

    Attributes
    ----------
    position : int
        Its place in the rater's sequence (0-based).
    total : int
        How many trials the rater was given.
    clip_id, method : str
        What is played.
    sonified_first : bool
        Whether "Sound 1" is the sonified clip (else its comparison is).
    """

    position: int
    total: int
    clip_id: str
    method: str
    sonified_first: bool


def valid_study_id(value: object) -> bool:
    """Tell whether ``value`` has the form of a study id (12 lowercase hex digits)."""
    return isinstance(value, str) and bool(_STUDY_ID.match(value))


def valid_rater_id(value: object) -> bool:
    """Tell whether ``value`` has the form of a rater id (24 lowercase hex digits)."""
    return isinstance(value, str) and bool(_RATER_ID.match(value))


def study_file(name: str, folder: Path) -> Path:
    """Return ``folder/<name>.sqlite`` for a plain file name (letters, digits, ``_`` and ``-``, at most 40).

    Raises
    ------
    StudyError
        Any other name (a path, dots, spaces).
    """
    if not isinstance(name, str) or not _FILE_NAME.match(name):
        raise StudyError("A study file name has 1 to 40 letters, digits, '_' or '-' (no dots or slashes).")
    return Path(folder) / f"{name}.sqlite"


def choose_trials(assigned: dict[int, int], count: int, rng: random.Random) -> list[tuple[int, bool]]:
    """Pick a new rater's trials and the order of each pair.

    The ``count`` trials given to the fewest raters so far (ties broken at random) come in a random
    order, each with a random choice of which sound is played first.

    Parameters
    ----------
    assigned : dict of int to int
        Every trial of the study with how many raters were given it.
    count : int
        How many trials the rater gets (at most ``len(assigned)``).
    rng : random.Random
        The source of randomness.

    Returns
    -------
    list of (int, bool)
        ``(trial, sonified_first)`` in the order the rater hears them.
    """
    ranked = sorted(assigned, key=lambda trial: (assigned[trial], rng.random()))
    chosen = ranked[:count]
    rng.shuffle(chosen)
    return [(trial, rng.random() < 0.5) for trial in chosen]


def _df(cursor: sqlite3.Cursor, sql: str, parameters: Sequence[object] = ()) -> pd.DataFrame:
    cursor.execute(sql, list(parameters))
    return pd.DataFrame(cursor.fetchall(), columns=[d[0] for d in cursor.description])


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class StudyStore:
    """The one writer of a study database (see the module's docstring); safe to share between threads.

    Parameters
    ----------
    path : pathlib.Path
        The SQLite file; it and its folder are created when missing.
    rng : random.Random, optional
        Source of the trial choice and order (ids always come from :mod:`secrets`).
    """

    def __init__(self, path: Path, *, rng: random.Random | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._rng = rng or random.Random(secrets.randbits(64))
        self._lock = threading.Lock()
        # Autocommit mode: every transaction is opened and closed explicitly (BEGIN IMMEDIATE ... COMMIT).
        self._con = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        self._con.execute("PRAGMA journal_mode = WAL")
        self._con.execute("PRAGMA synchronous = FULL")
        self._con.execute("PRAGMA foreign_keys = ON")
        with self._lock:
            self._con.executescript(SCHEMA)

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Cursor]:
        """Yield a cursor in one transaction, committed when the block ends and rolled back when it raises."""
        with self._lock:
            cursor = self._con.cursor()
            cursor.execute("BEGIN IMMEDIATE")
            try:
                yield cursor
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
            cursor.execute("COMMIT")

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Cursor]:
        """Yield a cursor for reads, holding the connection for the block (each statement sees one committed state)."""
        with self._lock:
            yield self._con.cursor()

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._con.close()

    # studies -----------------------------------------------------------------------------------
    def create_study(self, *, name: str, results_db: str, experiment_id: str, seed: int, dataset: str, gain: str,
                     comparison: str, question: str, trials_per_rater: int, max_raters: int,
                     trials: Sequence[tuple[str, str, str]]) -> str:
        """Create a study and its trials in one transaction and return its id.

        Parameters
        ----------
        name, results_db, experiment_id, dataset, gain, comparison, question, trials_per_rater, max_raters, seed
            As :class:`Study`.
        trials : sequence of (str, str, str)
            ``(clip_id, method, predicted class)`` per trial, each pair of clip and method once.

        Returns
        -------
        str
            The new study's id.

        Raises
        ------
        StudyError
            A value out of range or of the wrong kind.
        """
        name = name.strip() if isinstance(name, str) else ""
        if not name or len(name) > MAX_NAME or not _TEXT.match(name):
            raise StudyError(f"The study's name must have 1 to {MAX_NAME} characters and no control characters.")
        if comparison not in COMPARISONS:
            raise StudyError(f"Unknown comparison {comparison!r}.")
        if question not in QUESTIONS:
            raise StudyError(f"Unknown question {question!r}.")
        if not isinstance(trials_per_rater, int) or not 1 <= trials_per_rater <= MAX_TRIALS_PER_RATER:
            raise StudyError(f"Trials per rater must be between 1 and {MAX_TRIALS_PER_RATER}.")
        if not isinstance(max_raters, int) or not 1 <= max_raters <= MAX_RATERS:
            raise StudyError(f"The number of raters must be between 1 and {MAX_RATERS}.")
        if not trials or len(trials) > MAX_STUDY_TRIALS:
            raise StudyError(f"A study needs 1 to {MAX_STUDY_TRIALS} trials (clips × methods); {len(trials)} chosen.")
        pairs = [(str(clip), str(method)) for clip, method, _ in trials]
        if len(set(pairs)) != len(pairs):
            raise StudyError("Each clip and method may be a trial only once.")
        if any(predicted not in CLASSES for *_, predicted in trials):
            raise StudyError(f"A trial's predicted class must be one of {CLASSES}.")
        for text in (results_db, experiment_id, dataset, gain, *(p for pair in pairs for p in pair)):
            if not text or not _TEXT.match(text):
                raise StudyError(f"Invalid value {text!r}.")
        study_id = secrets.token_hex(6)
        with self._write() as cursor:
            cursor.execute(
                "INSERT INTO studies (study_id, name, created_at, results_db, experiment_id, seed, dataset, gain, comparison, "
                "question, trials_per_rater, max_raters, open) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
                [study_id, name, _now(), results_db, experiment_id, int(seed), dataset, gain, comparison, question,
                 min(trials_per_rater, len(trials)), max_raters])
            cursor.executemany("INSERT INTO trials (study_id, trial, clip_id, method, predicted) VALUES (?, ?, ?, ?, ?)",
                               [(study_id, i, clip, method, predicted) for i, (clip, method, predicted) in enumerate(trials)])
        return study_id

    def study(self, study_id: str) -> Study | None:
        """Return a study's settings, or ``None`` for an unknown (or malformed) id."""
        if not valid_study_id(study_id):
            return None
        with self._read() as cursor:
            row = cursor.execute("SELECT " + _STUDY_COLUMNS + " FROM studies WHERE study_id = ?", [study_id]).fetchone()
        if row is None:
            return None
        *head, is_open = row
        return Study(*head, open=bool(is_open))

    def studies(self) -> pd.DataFrame:
        """Every study of the file, newest first, with its numbers of trials, raters and answers."""
        with self._read() as cursor:
            return _df(
                cursor,
                "SELECT s.study_id, s.name, s.created_at, s.experiment_id, s.question, s.comparison, s.open, "
                "(SELECT count(*) FROM trials t WHERE t.study_id = s.study_id) AS trials, "
                "(SELECT count(*) FROM raters r WHERE r.study_id = s.study_id) AS raters, "
                "(SELECT count(*) FROM responses x JOIN raters r USING (rater_id) WHERE r.study_id = s.study_id) AS responses "
                "FROM studies s ORDER BY s.created_at DESC, s.study_id")

    def set_open(self, study_id: str, is_open: bool) -> None:
        """Open a study to new raters or close it (raters already in it may finish)."""
        with self._write() as cursor:
            cursor.execute("UPDATE studies SET open = ? WHERE study_id = ?", [int(bool(is_open)), study_id])

    # raters ------------------------------------------------------------------------------------
    def add_rater(self, study_id: str) -> str:
        """Enrol a new anonymous rater: a random id and its trials, chosen and ordered at random.

        The trials given to the fewest raters so far are chosen first (see :func:`choose_trials`).

        Returns
        -------
        str
            The rater's id.

        Raises
        ------
        StudyError
            Unknown or closed study, or one that has all its raters.
        """
        study = self.study(study_id)
        if study is None:
            raise StudyError("No such study.")
        rater_id = secrets.token_hex(12)
        with self._write() as cursor:
            is_open, max_raters, per_rater = cursor.execute(
                "SELECT open, max_raters, trials_per_rater FROM studies WHERE study_id = ?", [study_id]).fetchone()
            if not is_open:
                raise StudyError("This study is closed.")
            (raters,) = cursor.execute("SELECT count(*) FROM raters WHERE study_id = ?", [study_id]).fetchone()
            if raters >= max_raters:
                raise StudyError("This study has all the raters it needs.")
            assigned = dict(cursor.execute(
                "SELECT t.trial, (SELECT count(*) FROM assignments a JOIN raters r USING (rater_id) "
                "WHERE r.study_id = t.study_id AND a.trial = t.trial) FROM trials t WHERE t.study_id = ?",
                [study_id]).fetchall())
            chosen = choose_trials(assigned, min(per_rater, MAX_TRIALS_PER_RATER, len(assigned)), self._rng)
            cursor.execute("INSERT INTO raters (rater_id, study_id, started_at) VALUES (?, ?, ?)", [rater_id, study_id, _now()])
            cursor.executemany("INSERT INTO assignments (rater_id, position, trial, sonified_first) VALUES (?, ?, ?, ?)",
                               [(rater_id, position, trial, int(first)) for position, (trial, first) in enumerate(chosen)])
        return rater_id

    def rater_study(self, rater_id: str) -> tuple[str, bool] | None:
        """Return ``(study_id, stopped)`` of a rater, or ``None`` for an unknown (or malformed) id."""
        if not valid_rater_id(rater_id):
            return None
        with self._read() as cursor:
            row = cursor.execute("SELECT study_id, stopped_at IS NOT NULL FROM raters WHERE rater_id = ?", [rater_id]).fetchone()
        return (row[0], bool(row[1])) if row else None

    def progress(self, rater_id: str) -> tuple[int, int]:
        """Return ``(answered, total)``: how many of the rater's trials are answered, of how many."""
        with self._read() as cursor:
            answered, total = cursor.execute(
                "SELECT count(r.rater_id), count(*) FROM assignments a LEFT JOIN responses r USING (rater_id, position) "
                "WHERE a.rater_id = ?", [rater_id]).fetchone()
        return int(answered), int(total)

    def next_trial(self, rater_id: str) -> Trial | None:
        """Return the rater's first unanswered trial, or ``None`` when every one is answered."""
        with self._read() as cursor:
            row = cursor.execute(
                "SELECT a.position, (SELECT count(*) FROM assignments b WHERE b.rater_id = a.rater_id), t.clip_id, t.method, "
                "a.sonified_first FROM assignments a JOIN raters r USING (rater_id) "
                "JOIN trials t ON t.study_id = r.study_id AND t.trial = a.trial "
                "LEFT JOIN responses x ON x.rater_id = a.rater_id AND x.position = a.position "
                "WHERE a.rater_id = ? AND x.rater_id IS NULL ORDER BY a.position LIMIT 1", [rater_id]).fetchone()
        if row is None:
            return None
        position, total, clip_id, method, first = row
        return Trial(int(position), int(total), clip_id, method, bool(first))

    def record(self, rater_id: str, position: int, *, choice: int | None = None,
               ratings: tuple[int, int] | None = None) -> bool:
        """Store one answer in one transaction.

        Parameters
        ----------
        rater_id : str
            The rater.
        position : int
            The trial answered: it must be the rater's first unanswered one.
        choice : int, optional
            1 or 2, the sound chosen (pairwise questions).
        ratings : (int, int), optional
            The 1–7 ratings of sound 1 and sound 2 (the valence question).

        Returns
        -------
        bool
            True when stored; False when that trial was already answered (a repeated submit changes nothing).

        Raises
        ------
        StudyError
            Unknown or stopped rater, an answer of the wrong kind or range, or a trial out of turn.
        """
        if not valid_rater_id(rater_id):
            raise StudyError("Unknown rater.")
        if not isinstance(position, int) or isinstance(position, bool):
            raise StudyError("Invalid trial.")
        with self._write() as cursor:
            row = cursor.execute(
                "SELECT r.stopped_at IS NOT NULL, s.question FROM raters r JOIN studies s USING (study_id) WHERE r.rater_id = ?",
                [rater_id]).fetchone()
            if row is None:
                raise StudyError("Unknown rater.")
            stopped, question = row
            if stopped:
                raise StudyError("This rater has stopped.")
            if question == "valence":
                if choice is not None or ratings is None or len(ratings) != 2 or \
                        not all(type(r) is int and r in RATING_SCALE for r in ratings):
                    raise StudyError("Rate both sounds from 1 to 7.")
                values = [None, ratings[0], ratings[1]]
            else:
                if ratings is not None or type(choice) is not int or choice not in (1, 2):
                    raise StudyError("Choose sound 1 or sound 2.")
                values = [choice, None, None]
            if cursor.execute("SELECT 1 FROM responses WHERE rater_id = ? AND position = ?", [rater_id, position]).fetchone():
                return False
            expected = cursor.execute(
                "SELECT min(a.position) FROM assignments a LEFT JOIN responses x USING (rater_id, position) "
                "WHERE a.rater_id = ? AND x.rater_id IS NULL", [rater_id]).fetchone()[0]
            if expected is None or position != expected:
                raise StudyError("That trial is not the next one.")
            cursor.execute("INSERT INTO responses (rater_id, position, choice, rating_1, rating_2, answered_at) "
                           "VALUES (?, ?, ?, ?, ?, ?)", [rater_id, position, *values, _now()])
        return True

    def stop(self, rater_id: str) -> None:
        """Mark a rater as stopped: the answers given so far are kept, no more are taken."""
        with self._write() as cursor:
            cursor.execute("UPDATE raters SET stopped_at = ? WHERE rater_id = ? AND stopped_at IS NULL", [_now(), rater_id])

    # analysis ----------------------------------------------------------------------------------
    def responses(self, study_id: str) -> pd.DataFrame:
        """Every answer of a study, one row per rater and trial, as stored (no derived values).

        Columns: ``rater_id``, ``position``, ``trial``, ``clip_id``, ``method``, ``predicted``,
        ``sonified_first``, ``choice`` (1 or 2, pairwise questions), ``rating_1``, ``rating_2`` (valence) and
        ``answered_at``.
        """
        with self._read() as cursor:
            frame = _df(
                cursor,
                "SELECT x.rater_id, x.position, t.trial, t.clip_id, t.method, t.predicted, a.sonified_first, x.choice, "
                "x.rating_1, x.rating_2, x.answered_at FROM responses x JOIN assignments a USING (rater_id, position) "
                "JOIN raters r ON r.rater_id = x.rater_id JOIN trials t ON t.study_id = r.study_id AND t.trial = a.trial "
                "WHERE r.study_id = ? ORDER BY x.rater_id, x.position", [study_id])
        frame["sonified_first"] = frame["sonified_first"].astype(bool)
        for column in ("choice", "rating_1", "rating_2"):
            frame[column] = frame[column].astype("Int64")
        return frame

    def raters(self, study_id: str) -> pd.DataFrame:
        """Every rater of a study: ``rater_id``, ``started_at``, ``stopped_at``, ``answered`` and ``trials``."""
        with self._read() as cursor:
            return _df(
                cursor,
                "SELECT r.rater_id, r.started_at, r.stopped_at, count(x.rater_id) AS answered, count(a.rater_id) AS trials "
                "FROM raters r LEFT JOIN assignments a USING (rater_id) "
                "LEFT JOIN responses x ON x.rater_id = a.rater_id AND x.position = a.position "
                "WHERE r.study_id = ? GROUP BY r.rater_id ORDER BY r.started_at, r.rater_id", [study_id])
