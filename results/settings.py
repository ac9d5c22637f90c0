"""Typed readers of the settings a run stored: what a stored model was trained and explained with.

Stored configs and settings are resolved (every key present, :mod:`results.schema`), so these
readers supply no defaults: a key a database lacks is a database of another schema version, which
:func:`results.store.open_results` refuses.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import duckdb

from engine.audio.sonify import Gain
from results.schema import PERCEPTUAL_ROUTE


@dataclass(frozen=True, kw_only=True)
class NamedGain(Gain):
    """A sonification gain (:class:`engine.audio.sonify.Gain`) with the label its stored audio carries.

    Parameters
    ----------
    name : str
        The label stored with its sonifications (``sonifications.gain``), e.g. ``"R^2"``.
    power, floor, smooth_frames
        As :class:`engine.audio.sonify.Gain`.

    Examples
    --------
    >>> NamedGain(name="R^2", power=2.0).plain
    True
    >>> NamedGain(name="soft", power=1.0, floor=0.1).plain
    False
    """

    name: str


@dataclass(frozen=True)
class PerceptualModel:
    """A stored perceptual model (ViT or CNN) with the settings it was trained and explained with.

    Parameters
    ----------
    experiment_id : str
        Its experiment (route ``Perceptual``).
    seed : int
        Its training seed.
    dataset : str
        The dataset it was trained on.
    backbone : str
        ``"vit"`` or ``"cnn"``.
    clip_seconds : float
        The clip length of its run; a new file is cut to this length before it is explained.
    methods : tuple of str
        The attribution methods the run stored maps for (the first is the pages' default).
    method_options : dict
        Options per method, as :func:`engine.explain.attribution.make_attributor` takes them.
    gains : tuple of NamedGain
        The sonification gains the run stored audio for.

    Examples
    --------
    >>> m = PerceptualModel("Perceptual/linear_spectrogram/cnn", 0, "synthetic", "cnn", 10.0,
    ...                     ("gradient_x_input",), {}, (NamedGain(name="R^2"),))
    >>> m.plain_gain(power=2.0).name
    'R^2'
    >>> m.plain_gain(power=1.0) is None
    True
    """

    experiment_id: str
    seed: int
    dataset: str
    backbone: str
    clip_seconds: float
    methods: tuple[str, ...]
    method_options: dict[str, dict[str, Any]]
    gains: tuple[NamedGain, ...]

    def plain_gain(self, *, power: float) -> NamedGain | None:
        """Return the stored plain gain ``R ** power`` (floor 0, no smoothing), or ``None`` when none was stored."""
        for gain in self.gains:
            if gain.plain and abs(gain.power - power) < 1e-9:
                return gain
        return None


def run_config(con: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    """Return the resolved profile of the newest finished run (``None`` when no run finished).

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        A results database.

    Returns
    -------
    dict or None
        Section name to its resolved keys, as ``runs.config`` holds it.

    Examples
    --------
    >>> con = duckdb.connect()
    >>> _ = con.execute("CREATE TABLE runs (run_id INTEGER, status VARCHAR, config JSON)")
    >>> _ = con.execute('''INSERT INTO runs VALUES (1, 'finished', '{"dataset": {"clip_seconds": 3.0}}')''')
    >>> run_config(con)["dataset"]["clip_seconds"]
    3.0
    """
    row = con.cursor().execute("SELECT config FROM runs WHERE status = 'finished' ORDER BY run_id DESC LIMIT 1").fetchone()
    return None if row is None else json.loads(row[0])


_MODELS_SQL = (
    "SELECT m.experiment_id, m.seed, e.dataset, e.settings FROM models m JOIN experiments e USING (experiment_id) "
    "WHERE e.route = ? "
    # the pages' default first: a ViT (the thesis's model) before a CNN, a model before its clean twin
    "ORDER BY e.head NOT LIKE 'vit%', contains(m.experiment_id, '@'), m.experiment_id, m.seed"
)


def perceptual_models(con: duckdb.DuckDBPyConnection) -> list[PerceptualModel]:
    """Return every stored perceptual model, the pages' default first.

    The default is a ViT (the thesis's model) before a CNN, and a model before its clean twin
    (an experiment id with ``@``); then by experiment id and seed.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        A results database.

    Returns
    -------
    list of PerceptualModel
        Empty when the run stored no perceptual model.

    Examples
    --------
    >>> con = duckdb.connect()
    >>> _ = con.execute("CREATE TABLE runs (run_id INTEGER, status VARCHAR, config JSON)")
    >>> _ = con.execute("CREATE TABLE models (experiment_id VARCHAR, seed INTEGER, data BLOB)")
    >>> _ = con.execute("CREATE TABLE experiments (experiment_id VARCHAR, route VARCHAR, head VARCHAR, "
    ...                 "dataset VARCHAR, settings JSON)")
    >>> perceptual_models(con)
    []
    """
    config = run_config(con)
    if config is None:
        return []
    rows = con.cursor().execute(_MODELS_SQL, [PERCEPTUAL_ROUTE]).fetchall()
    return [_perceptual_model(row, clip_seconds=float(config["dataset"]["clip_seconds"])) for row in rows]


def _perceptual_model(row: tuple, *, clip_seconds: float) -> PerceptualModel:
    experiment_id, seed, dataset, settings_json = row
    settings = json.loads(settings_json)
    return PerceptualModel(
        experiment_id=str(experiment_id),
        seed=int(seed),
        dataset=str(dataset),
        backbone=str(settings["backbone"]),
        clip_seconds=clip_seconds,
        methods=tuple(settings["methods"]),
        method_options={str(k): dict(v) for k, v in settings["method_options"].items()},
        gains=tuple(NamedGain(**gain) for gain in settings["sonification"]["gains"]),
    )


def model_bytes(con: duckdb.DuckDBPyConnection, experiment_id: str, *, seed: int) -> bytes | None:
    """Return the stored weights of one model (:mod:`engine.models.store` format), or ``None``.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        A results database.
    experiment_id : str
        The model's experiment.
    seed : int
        Its training seed.

    Returns
    -------
    bytes or None
        What :func:`engine.models.store.model_from_bytes` reads.

    Examples
    --------
    >>> con = duckdb.connect()
    >>> _ = con.execute("CREATE TABLE models (experiment_id VARCHAR, seed INTEGER, data BLOB)")
    >>> model_bytes(con, "Perceptual/linear_spectrogram/cnn", seed=0) is None
    True
    """
    row = con.cursor().execute("SELECT data FROM models WHERE experiment_id = ? AND seed = ?", [experiment_id, seed]).fetchone()
    return None if row is None else bytes(row[0])
