"""Every read the dashboard makes from a results database, as pure functions of a connection.

Pages never write SQL; they call these. Each function takes a DuckDB connection (read-only) and
returns a DataFrame, an array or bytes. The schema is documented in ``data/SCHEMA.md``.
"""

from __future__ import annotations

from typing import Any

import duckdb
import numpy as np
import pandas as pd

from dashboard.verdicts import compare_with_best
from engine.stats import mean_ci
from results import settings
from results.codecs import decode_array
from results.schema import PERCEPTUAL_ROUTE
from results.settings import PerceptualModel, model_bytes
from results.store import schema_version

__all__ = ["model_bytes", "schema_version"]  # read through results.*, offered to the pages with the other queries



def _df(con: duckdb.DuckDBPyConnection, sql: str, parameters: list | None = None) -> pd.DataFrame:
    return con.cursor().execute(sql, parameters or []).df()


# overview -------------------------------------------------------------------------------------
def runs(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every run (newest first) with its provenance."""
    return _df(
        con,
        "SELECT run_id, profile, dataset, status, started_at, finished_at, "
        "date_diff('second', started_at, finished_at) AS seconds, device, git_revision, config_hash, versions "
        "FROM runs ORDER BY run_id DESC",
    )


def clip_counts(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Clips per dataset and split, with Happy/Sad counts and skipped clips."""
    return _df(
        con,
        "SELECT dataset, split, count(*) AS clips, count(*) FILTER (label = 'happy') AS happy, "
        "count(*) FILTER (label = 'sad') AS sad FROM clips GROUP BY dataset, split "
        "ORDER BY dataset, CASE split WHEN 'train' THEN 0 WHEN 'val' THEN 1 ELSE 2 END",
    )


def skipped_clips(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return _df(con, "SELECT dataset, clip_id, reason FROM skipped_clips ORDER BY dataset, clip_id")


def experiments(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Experiment definitions with the number of seeds trained."""
    return _df(
        con,
        "SELECT e.experiment_id, e.route, e.input, e.head, e.feature_set, e.dataset, e.split_name, e.description, "
        "count(DISTINCT t.seed) AS seeds FROM experiments e LEFT JOIN trainings t USING (experiment_id) "
        "GROUP BY ALL ORDER BY e.route, e.experiment_id",
    )


# metrics --------------------------------------------------------------------------------------
def metric_summary(con: duckdb.DuckDBPyConnection, *, metric: str, target: str = "all") -> pd.DataFrame:
    """Mean and SD over seeds of one metric and target, per experiment."""
    return _df(
        con,
        "SELECT e.experiment_id, e.route, e.input, e.head, e.feature_set, avg(m.value) AS mean, "
        "coalesce(stddev_samp(m.value), 0) AS sd, count(*) AS seeds "
        "FROM metrics m JOIN experiments e USING (experiment_id) "
        "WHERE m.metric = ? AND m.target = ? AND m.split = 'test' GROUP BY ALL ORDER BY e.route, e.experiment_id",
        [metric, target],
    )


def metric_per_seed(con: duckdb.DuckDBPyConnection, *, metric: str, target: str = "all") -> pd.DataFrame:
    """One test metric per experiment and seed: ``experiment_id``, ``route``, ``input``, ``head``, ``seed``, ``value``."""
    return _df(
        con,
        "SELECT e.experiment_id, e.route, e.input, e.head, m.seed, m.value FROM metrics m JOIN experiments e USING (experiment_id) "
        "WHERE m.metric = ? AND m.target = ? AND m.split = 'test' ORDER BY e.route, e.experiment_id, m.seed",
        [metric, target],
    )


FLAT_SHARE = 0.05
"""A prediction is flat when its SD over test clips is below this share of the labels' SD."""


def model_flags(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Models whose test predictions say little: ``experiment_id`` and ``flag`` (one sentence each).

    - *flat*: a target whose predictions vary by less than ``FLAT_SHARE`` of its labels' SD (per seed);
    - *worse than a constant*: mean MSE over targets above that of predicting each target's test mean;
    - *one class*: a classifier that gives every test clip the same class (per seed);
    - *flat inputs*: a Mid2E model on A2Mid-predicted descriptors one of which is flat.
    """
    cursor = con.cursor()
    flat = cursor.execute(
        "SELECT experiment_id, target, list(DISTINCT seed ORDER BY seed) AS seeds FROM ("
        "  SELECT experiment_id, seed, target, stddev_pop(predicted) AS sd_p, stddev_pop(actual) AS sd_a "
        "  FROM predictions GROUP BY ALL) WHERE sd_a > 0 AND sd_p < ? * sd_a GROUP BY ALL ORDER BY ALL",
        [FLAT_SHARE],
    ).fetchall()
    worse = cursor.execute(
        "SELECT experiment_id, avg(mse) AS mse, avg(var_a) AS constant FROM ("
        "  SELECT experiment_id, seed, target, avg((predicted - actual) ^ 2) AS mse, var_pop(actual) AS var_a "
        "  FROM predictions GROUP BY ALL) GROUP BY ALL HAVING avg(mse) > avg(var_a) ORDER BY ALL"
    ).fetchall()
    one_class = cursor.execute(
        "SELECT experiment_id, list(seed ORDER BY seed), any_value(predicted) FROM ("
        "  SELECT experiment_id, seed, count(DISTINCT predicted) AS n, any_value(predicted) AS predicted "
        "  FROM classifications GROUP BY ALL) WHERE n = 1 GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    flat_inputs = cursor.execute(
        "SELECT list(DISTINCT name ORDER BY name) FROM ("
        "  SELECT name, seed, stddev_pop(value) AS sd FROM clip_features WHERE source = 'predicted_midlevel' GROUP BY ALL) "
        "WHERE sd < 0.01"
    ).fetchone()
    rows = [(e, f"flat {t} (seed {', '.join(map(str, seeds))})") for e, t, seeds in flat]
    rows += [(e, f"worse than a constant: MSE {m:.3f} vs {c:.3f} for the test mean") for e, m, c in worse]
    rows += [(e, f"predicts {p.capitalize()} for every clip (seed {', '.join(map(str, seeds))})") for e, seeds, p in one_class]
    if flat_inputs and flat_inputs[0]:
        built = cursor.execute("SELECT experiment_id FROM experiments WHERE input = 'predicted_midlevel' ORDER BY 1").fetchall()
        rows += [(e, f"built on flat predicted descriptors: {', '.join(flat_inputs[0])}") for (e,) in built]
    frame = pd.DataFrame(rows, columns=["experiment_id", "flag"])
    return frame.groupby("experiment_id", sort=True)["flag"].agg("; ".join).reset_index() if not frame.empty else frame


def comparison_with_best(con: duckdb.DuckDBPyConnection, *, route: str) -> pd.DataFrame:
    """Compare every experiment of a regression route with the route's best by mean r.

    The comparison is on the same test clips, with a paired bootstrap CI (see
    ``dashboard.verdicts.compare_with_best``).
    """
    summary = metric_summary(con, metric="pearson_r")
    summary = summary[summary["route"] == route]
    rows = _df(
        con,
        "SELECT p.experiment_id, p.clip_id, p.target, p.predicted, p.actual FROM predictions p "
        "JOIN experiments e USING (experiment_id) WHERE e.route = ?",
        [route],
    )
    return compare_with_best(summary, rows)


def per_target_metrics(con: duckdb.DuckDBPyConnection, *, metric: str, route: str) -> pd.DataFrame:
    """Mean and SD over seeds of ``metric`` per experiment and target (targets other than 'all')."""
    return _df(
        con,
        "SELECT m.experiment_id, m.target, avg(m.value) AS mean, coalesce(stddev_samp(m.value), 0) AS sd "
        "FROM metrics m JOIN experiments e USING (experiment_id) "
        "WHERE m.metric = ? AND e.route = ? AND m.target <> 'all' AND m.split = 'test' "
        "GROUP BY ALL ORDER BY m.experiment_id, m.target",
        [metric, route],
    )


def explainability_cost(con: duckdb.DuckDBPyConnection, *, metric: str = "pearson_r", target: str = "all") -> pd.DataFrame:
    """Measure what the interpretable bottleneck costs: every Mid2E model against the best direct A2E model.

    One row per Mid2E experiment with ``input`` (which descriptors), ``feature_set``, ``head``,
    ``mean``/``sd`` over seeds of ``metric`` on ``target``, the direct model's ``direct_mean`` and
    ``direct_experiment``, and ``change`` = bottleneck − direct (for Pearson r, negative is a cost; for
    MSE, positive is). Empty when either route is missing.
    """
    summary = metric_summary(con, metric=metric, target=target)
    direct = summary[summary["route"] == "A2E"]
    bottleneck = summary[summary["route"] == "Mid2E"]
    if direct.empty or bottleneck.empty:
        return pd.DataFrame(columns=["experiment_id", "input", "feature_set", "head", "mean", "sd", "seeds",
                                     "direct_experiment", "direct_mean", "change"])
    best = direct.sort_values("mean", ascending=metric == "mse").iloc[0]
    out = bottleneck[["experiment_id", "input", "feature_set", "head", "mean", "sd", "seeds"]].copy()
    out["direct_experiment"] = best["experiment_id"]
    out["direct_mean"] = best["mean"]
    out["change"] = out["mean"] - best["mean"]
    return out.sort_values("mean", ascending=metric == "mse").reset_index(drop=True)


def reference_figures(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Return the thesis's reported figures, when the run had them (empty otherwise)."""
    return _df(con, "SELECT * FROM reference_figures ORDER BY table_ref, route, input, head, feature_set, target")


def training_history(con: duckdb.DuckDBPyConnection, experiment_id: str) -> pd.DataFrame:
    return _df(
        con,
        "SELECT seed, epoch, train_loss, val_loss FROM training_history WHERE experiment_id = ? ORDER BY seed, epoch",
        [experiment_id],
    )


def predictions(con: duckdb.DuckDBPyConnection, experiment_id: str, *, seed: int) -> pd.DataFrame:
    return _df(
        con,
        "SELECT clip_id, target, predicted, actual FROM predictions WHERE experiment_id = ? AND seed = ? "
        "ORDER BY clip_id, target",
        [experiment_id, seed],
    )


def seeds(con: duckdb.DuckDBPyConnection, experiment_id: str) -> list[int]:
    rows = con.cursor().execute("SELECT DISTINCT seed FROM trainings WHERE experiment_id = ? ORDER BY seed", [experiment_id])
    return [int(r[0]) for r in rows.fetchall()]


def perceptual_models(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Return the perceptual experiments in the order the pages offer them.

    ViTs come first (the thesis's model), then the CNNs, each before its clean twins (``@confound``).
    """
    frame = experiments(con)
    frame = frame[frame["route"] == PERCEPTUAL_ROUTE]
    rank = (~frame["head"].str.startswith("vit")).astype(int) * 2 + frame["experiment_id"].str.contains("@").astype(int)
    return frame.assign(_rank=rank).sort_values(["_rank", "experiment_id"], kind="stable").drop(columns="_rank")


def default_vit(con: duckdb.DuckDBPyConnection) -> tuple[str, str, int] | None:
    """Return the perceptual model the pages open on.

    That is ``(experiment_id, dataset, seed)`` of the first of :func:`perceptual_models` and its
    lowest seed, or ``None`` when the database holds none.
    """
    vits = perceptual_models(con)
    if vits.empty:
        return None
    experiment = str(vits["experiment_id"].iloc[0])
    return experiment, str(vits["dataset"].iloc[0]), seeds(con, experiment)[0]


# mid-level explanations -------------------------------------------------------------------------
def coefficients(con: duckdb.DuckDBPyConnection, experiment_id: str) -> pd.DataFrame:
    """Standardised coefficients averaged over seeds: long format (feature, target, value)."""
    return _df(
        con,
        "SELECT feature, target, avg(value) AS value FROM coefficients WHERE experiment_id = ? GROUP BY ALL",
        [experiment_id],
    )


def shap_global(con: duckdb.DuckDBPyConnection, experiment_id: str) -> pd.DataFrame:
    """Mean |SHAP| over clips and seeds, per feature and target."""
    return _df(
        con,
        "SELECT feature, target, avg(abs(value)) AS value FROM shap_values WHERE experiment_id = ? GROUP BY ALL",
        [experiment_id],
    )


def shap_values(con: duckdb.DuckDBPyConnection, experiment_id: str, *, seed: int, target: str) -> pd.DataFrame:
    """Per-clip SHAP values of one target (clip_id, feature, value, feature_value)."""
    return _df(
        con,
        "SELECT clip_id, feature, value, feature_value FROM shap_values "
        "WHERE experiment_id = ? AND seed = ? AND target = ? ORDER BY clip_id, feature",
        [experiment_id, seed, target],
    )


def shap_base_value(con: duckdb.DuckDBPyConnection, experiment_id: str, *, seed: int, target: str) -> float:
    row = con.cursor().execute(
        "SELECT base_value FROM shap_base_values WHERE experiment_id = ? AND seed = ? AND target = ?",
        [experiment_id, seed, target],
    ).fetchone()
    return float("nan") if row is None else float(row[0])


# perceptual route -------------------------------------------------------------------------------
def classifications(con: duckdb.DuckDBPyConnection, experiment_id: str, *, seed: int) -> pd.DataFrame:
    """Test-set decisions of a classifier (clip_id, actual, predicted, confidence, p_happy)."""
    return _df(
        con,
        "SELECT clip_id, actual, predicted, confidence, p_happy FROM classifications "
        "WHERE experiment_id = ? AND seed = ? ORDER BY clip_id",
        [experiment_id, seed],
    )


def classification_metrics(
    con: duckdb.DuckDBPyConnection, experiment_id: str, *, seed: int, target: str = "happy_vs_sad"
) -> dict[str, float]:
    """Return the test metrics of one perceptual model at one decision rule.

    The rule is ``happy_vs_sad`` (p = 0.5) or ``happy_vs_sad@calibrated`` (the threshold chosen on
    validation clips).
    """
    frame = _df(
        con, "SELECT metric, value FROM metrics WHERE experiment_id = ? AND seed = ? AND split = 'test' AND target = ?",
        [experiment_id, seed, target],
    )
    return dict(zip(frame["metric"], frame["value"]))


def relevance_methods(con: duckdb.DuckDBPyConnection, experiment_id: str) -> list[str]:
    rows = con.cursor().execute(
        "SELECT DISTINCT method FROM relevance_maps WHERE experiment_id = ? ORDER BY method", [experiment_id]
    )
    return [r[0] for r in rows.fetchall()]


def stored_model(con: duckdb.DuckDBPyConnection, experiment_id: str) -> PerceptualModel | None:
    """Return the stored perceptual model of an experiment (its lowest seed) with its settings, or ``None``."""
    return next((m for m in settings.perceptual_models(con) if m.experiment_id == experiment_id), None)


def image(con: duckdb.DuckDBPyConnection, *, dataset: str, clip_id: str, kind: str = "vit_spectrogram") -> tuple[np.ndarray, float, float] | None:
    """Return a stored display image ``(H, W)`` with its top frequency (Hz) and duration (s), or ``None``."""
    row = con.cursor().execute(
        "SELECT data, height, width, max_hz, seconds FROM images WHERE dataset = ? AND clip_id = ? AND kind = ?",
        [dataset, clip_id, kind],
    ).fetchone()
    return None if row is None else (decode_array(row[0], height=row[1], width=row[2]), float(row[3]), float(row[4]))


def relevance_map(
    con: duckdb.DuckDBPyConnection, experiment_id: str, *, seed: int, clip_id: str, method: str
) -> tuple[np.ndarray, bool] | None:
    """Return a stored map ``(H, W)`` scaled to a maximum magnitude of 1, and whether it is signed; or ``None``."""
    row = con.cursor().execute(
        "SELECT data, height, width, signed FROM relevance_maps WHERE experiment_id = ? AND seed = ? AND clip_id = ? AND method = ?",
        [experiment_id, seed, clip_id, method],
    ).fetchone()
    return None if row is None else (decode_array(row[0], height=row[1], width=row[2]), bool(row[3]))


def explained_clips(con: duckdb.DuckDBPyConnection, experiment_id: str, *, seed: int) -> list[str]:
    """Clips whose relevance maps and sonifications are stored."""
    rows = con.cursor().execute(
        "SELECT DISTINCT clip_id FROM relevance_maps WHERE experiment_id = ? AND seed = ? ORDER BY clip_id", [experiment_id, seed]
    )
    return [r[0] for r in rows.fetchall()]


def original_audio(con: duckdb.DuckDBPyConnection, *, dataset: str, clip_id: str) -> bytes | None:
    row = con.cursor().execute(
        "SELECT data FROM audio_originals WHERE dataset = ? AND clip_id = ?", [dataset, clip_id]
    ).fetchone()
    return None if row is None else bytes(row[0])


def sonified_audio(
    con: duckdb.DuckDBPyConnection, experiment_id: str, *, seed: int, clip_id: str, method: str, gain: str, variant: str = "sonified"
) -> bytes | None:
    """Return the encoded audio of a sonification.

    ``variant`` is ``sonified`` (what the model used) or ``complement``.
    """
    row = con.cursor().execute(
        "SELECT data FROM sonifications WHERE experiment_id = ? AND seed = ? AND clip_id = ? AND method = ? AND gain = ? AND variant = ?",
        [experiment_id, seed, clip_id, method, gain, variant],
    ).fetchone()
    return None if row is None else bytes(row[0])


def study_candidates(con: duckdb.DuckDBPyConnection, experiment_id: str, *, seed: int, gain: str, dataset: str) -> pd.DataFrame:
    """Return the clips and methods a listening study can play: both sonification variants stored at ``gain``.

    One row per clip and method with the model's test decision (``actual``, ``predicted``,
    ``confidence``) and whether the clip's original audio is stored (``has_original``).
    """
    return _df(
        con,
        "SELECT s.clip_id, s.method, c.actual, c.predicted, c.confidence, a.clip_id IS NOT NULL AS has_original "
        "FROM sonifications s JOIN sonifications o ON o.experiment_id = s.experiment_id AND o.seed = s.seed "
        "AND o.clip_id = s.clip_id AND o.method = s.method AND o.gain = s.gain AND o.variant = 'complement' "
        "JOIN classifications c ON c.experiment_id = s.experiment_id AND c.seed = s.seed AND c.clip_id = s.clip_id "
        "LEFT JOIN audio_originals a ON a.dataset = ? AND a.clip_id = s.clip_id "
        "WHERE s.experiment_id = ? AND s.seed = ? AND s.gain = ? AND s.variant = 'sonified' ORDER BY s.clip_id, s.method",
        [dataset, experiment_id, seed, gain],
    )


def stem_shares(con: duckdb.DuckDBPyConnection, experiment_id: str, *, seed: int, clip_id: str, method: str) -> pd.DataFrame:
    return _df(
        con,
        "SELECT stem, relevance_share, area_share FROM relevance_by_stem "
        "WHERE experiment_id = ? AND seed = ? AND clip_id = ? AND method = ? ORDER BY stem",
        [experiment_id, seed, clip_id, method],
    )


def stem_shares_by_cell(con: duckdb.DuckDBPyConnection, experiment_id: str, *, seed: int, method: str) -> pd.DataFrame:
    """Mean relevance and area share per stem for each confusion-matrix cell."""
    return _df(
        con,
        "SELECT c.actual, c.predicted, s.stem, avg(s.relevance_share) AS relevance_share, avg(s.area_share) AS area_share, "
        "count(*) AS clips FROM relevance_by_stem s JOIN classifications c USING (experiment_id, seed, clip_id) "
        "WHERE s.experiment_id = ? AND s.seed = ? AND s.method = ? GROUP BY ALL ORDER BY c.actual, c.predicted, s.stem",
        [experiment_id, seed, method],
    )


def faithfulness_summary(con: duckdb.DuckDBPyConnection, experiment_id: str, *, seed: int) -> pd.DataFrame:
    """Summarise faithfulness per method and removal rule.

    Mean MoRF AUC (lower = more faithful), LeRF AUC (higher) and their gap (LeRF - MoRF, higher),
    each with a 95 % bootstrap CI over the measured clips; ``random order`` is the chance reference.
    Sorted by the ROAD gap.
    """
    frame = _df(
        con,
        "SELECT method, clip_id, metric, value FROM faithfulness WHERE experiment_id = ? AND seed = ? ORDER BY ALL",
        [experiment_id, seed],
    )
    if frame.empty:
        return pd.DataFrame()
    rows = []
    for method, part in frame.groupby("method", sort=True):
        values = part.pivot(index="clip_id", columns="metric", values="value")
        row: dict[str, Any] = {"method": method}
        for removal in ("floor", "road"):
            for score in ("morf_auc", "lerf_auc", "gap"):
                column = f"{removal}_{score}"
                if column in values:
                    estimate = mean_ci(values[column].to_numpy())
                    row |= {column: estimate.value, f"{column}_low": estimate.low, f"{column}_high": estimate.high}
        row["clips"] = len(values)
        rows.append(row)
    out = pd.DataFrame(rows)
    order = "road_gap" if "road_gap" in out else out.columns[1]
    return out.sort_values(order, ascending=False, kind="stable").reset_index(drop=True)


def faithfulness_curves(con: duckdb.DuckDBPyConnection, experiment_id: str, *, seed: int) -> pd.DataFrame:
    """Mean removal curves per method (``random order``: the chance reference), removal rule and order."""
    return _df(
        con,
        "SELECT method, removal, curve, fraction, probability, probability_sd, clips FROM faithfulness_curves "
        "WHERE experiment_id = ? AND seed = ? ORDER BY method, removal, curve, fraction",
        [experiment_id, seed],
    )


def attribution_agreement(con: duckdb.DuckDBPyConnection, experiment_id: str, *, seed: int) -> pd.DataFrame:
    """Return the causal evidence per method.

    ``causal_spearman`` (excess relevance per stem against the probability drop when the stem is
    removed, over clips x stems) and ``drum_contrast`` (excess drum relevance of this model minus the
    clean model's, same clips), each with its 95 % CI and n clips; and the ground truth of the contrast,
    ``reliance_contrast`` (method ``"causal reliance"``: this model's causal drum reliance minus the
    clean model's, same clips).
    """
    return _df(
        con,
        "SELECT method, measure, reference_experiment_id, value, low, high, n FROM attribution_agreement "
        "WHERE experiment_id = ? AND seed = ? ORDER BY measure, value DESC NULLS LAST",
        [experiment_id, seed],
    )


def stem_reliance(con: duckdb.DuckDBPyConnection, experiment_id: str, *, seed: int, clip_id: str) -> pd.DataFrame:
    """For one clip: the probability of the explained class with and without each stem."""
    return _df(
        con,
        "SELECT stem, target_class, p_with, p_without FROM stem_reliance "
        "WHERE experiment_id = ? AND seed = ? AND clip_id = ? ORDER BY stem",
        [experiment_id, seed, clip_id],
    )


def reliance_summary(con: duckdb.DuckDBPyConnection, experiment_id: str, *, seed: int) -> pd.DataFrame:
    """Per stem: mean drop of the explained class's probability when the stem is removed, over the clips."""
    return _df(
        con,
        "SELECT stem, avg(p_with - p_without) AS reliance, stddev_samp(p_with - p_without) AS reliance_sd, "
        "count(*) AS clips FROM stem_reliance WHERE experiment_id = ? AND seed = ? GROUP BY stem ORDER BY reliance DESC",
        [experiment_id, seed],
    )


def ear_checks(con: duckdb.DuckDBPyConnection, experiment_id: str, *, seed: int, gain: str | None = None,
               clip_id: str | None = None) -> pd.DataFrame:
    """Return the model's-ear rows: p(explained class) for each explained clip, its sonification (B) and complement (C).

    One row per clip, method and gain (optionally one gain, one clip); see ``engine/explain/model_ear.py``.
    """
    return _df(
        con,
        "SELECT clip_id, method, gain, target_class, p_original, p_sonified, p_complement FROM ear_checks "
        "WHERE experiment_id = ? AND seed = ? AND (? IS NULL OR gain = ?) AND (? IS NULL OR clip_id = ?) "
        "ORDER BY method, gain, clip_id",
        [experiment_id, seed, gain, gain, clip_id, clip_id],
    )


def sanity_summary(con: duckdb.DuckDBPyConnection, experiment_id: str, *, seed: int) -> pd.DataFrame:
    """Return the mean Spearman similarity between maps of the trained and of the randomised model.

    Per method and scope, with a 95 % bootstrap CI over the checked clips (``low``, ``high``) and
    their number.
    """
    frame = _df(
        con,
        "SELECT method, randomised, clip_id, spearman FROM sanity_checks WHERE experiment_id = ? AND seed = ? ORDER BY ALL",
        [experiment_id, seed],
    )
    rows = []
    for (method, scope), part in frame.groupby(["method", "randomised"], sort=True):
        estimate = mean_ci(part["spearman"].to_numpy())
        rows.append({"method": method, "randomised": scope, "spearman": estimate.value, "low": estimate.low,
                     "high": estimate.high, "clips": estimate.n})
    return pd.DataFrame(rows, columns=["method", "randomised", "spearman", "low", "high", "clips"])


def stem_share_summary(con: duckdb.DuckDBPyConnection, experiment_id: str, *, seed: int) -> pd.DataFrame:
    """Mean relevance and area share per method and stem over the measured test clips."""
    return _df(
        con,
        "SELECT method, stem, avg(relevance_share) AS relevance_share, avg(area_share) AS area_share, count(*) AS clips "
        "FROM relevance_by_stem WHERE experiment_id = ? AND seed = ? GROUP BY ALL ORDER BY method, stem",
        [experiment_id, seed],
    )


def clip_values(con: duckdb.DuckDBPyConnection, *, dataset: str, clip_id: str) -> pd.DataFrame:
    """Everything known about a clip before any model: labels, descriptors, factors."""
    return _df(
        con, "SELECT kind, name, value FROM clip_values WHERE dataset = ? AND clip_id = ? ORDER BY kind, name", [dataset, clip_id]
    )


# descriptors and harmony ------------------------------------------------------------------------
def feature_sources(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Which per-clip feature groups the database holds (dataset, source, seeds, clips)."""
    return _df(
        con,
        "SELECT dataset, source, count(DISTINCT seed) AS seeds, count(DISTINCT clip_id) AS clips "
        "FROM clip_features GROUP BY ALL ORDER BY dataset, source",
    )


_COMPARISON_SQL = (
    "WITH est AS (SELECT clip_id, name, value FROM clip_features WHERE dataset = ? AND source = 'estimated_midlevel'), "
    "pred AS (SELECT clip_id, name, avg(value) AS value FROM clip_features WHERE dataset = ? "
    "AND source = 'predicted_midlevel' GROUP BY ALL), "
    "ann AS (SELECT clip_id, name, value FROM clip_values WHERE dataset = ? AND kind = 'midlevel') "
    "SELECT est.clip_id, c.split, est.name, ann.value AS annotated, est.value AS estimated, pred.value AS predicted "
    "FROM est JOIN clips c ON c.dataset = ? AND c.clip_id = est.clip_id "
    "LEFT JOIN ann ON ann.clip_id = est.clip_id AND ann.name = est.name "
    "LEFT JOIN pred ON pred.clip_id = est.clip_id AND pred.name = est.name ORDER BY est.name, est.clip_id"
)


def descriptor_comparison(con: duckdb.DuckDBPyConnection, *, dataset: str) -> pd.DataFrame:
    """Compare annotated, estimated and predicted descriptors per clip and descriptor.

    Each row holds the annotated value (if any), the signal-based estimate, and the A2Mid prediction
    averaged over seeds (if any), with the clip's split.
    """
    return _df(con, _COMPARISON_SQL, [dataset] * 4)


def chord_counts(con: duckdb.DuckDBPyConnection, *, dataset: str, source: str = "thesis_harmony") -> pd.DataFrame:
    """Count the clips that contain each chord flag (or key-relative degree).

    Key facts (root, mode, whether the tonic is among the 3 most frequent chords) and interval
    classes are not chords and are left out.
    """
    return _df(
        con,
        "SELECT name, sum(value) AS clips, avg(value) AS share FROM clip_features "
        "WHERE dataset = ? AND source = ? AND seed = 0 AND name NOT IN ('key_root', 'key_mode', 'tonic_top3') "
        "AND name NOT LIKE 'ic%' "
        "GROUP BY name ORDER BY clips DESC",
        [dataset, source],
    )


def clips_with_audio(con: duckdb.DuckDBPyConnection, *, dataset: str) -> list[str]:
    """Clips whose original audio is stored (the test clips), sorted."""
    rows = con.cursor().execute("SELECT clip_id FROM audio_originals WHERE dataset = ? ORDER BY 1", [dataset]).fetchall()
    return [r[0] for r in rows]


def clip_features(con: duckdb.DuckDBPyConnection, *, dataset: str, clip_id: str) -> pd.DataFrame:
    """Every per-clip feature of one clip (source, seed, name, value)."""
    return _df(
        con,
        "SELECT source, seed, name, value FROM clip_features WHERE dataset = ? AND clip_id = ? ORDER BY source, seed, name",
        [dataset, clip_id],
    )


def descriptor_rank_agreement(con: duckdb.DuckDBPyConnection, *, dataset: str) -> pd.DataFrame:
    """Return the Spearman rank correlation with the annotated descriptors, per descriptor and split.

    Computed for the signal-based estimates and for the A2Mid predictions (seed-averaged).
    """
    return _df(
        con,
        "WITH d AS (SELECT * FROM (" + _COMPARISON_SQL + ") WHERE annotated IS NOT NULL), "
        "r AS (SELECT name, split, rank() OVER (PARTITION BY name, split ORDER BY annotated) AS ra, "
        "rank() OVER (PARTITION BY name, split ORDER BY estimated) AS re, "
        "rank() OVER (PARTITION BY name, split ORDER BY predicted) AS rp, predicted FROM d) "
        "SELECT name, split, corr(ra, re) AS estimated_spearman, "
        "CASE WHEN count(predicted) > 2 THEN corr(ra, rp) END AS predicted_spearman, count(*) AS clips "
        "FROM r GROUP BY ALL ORDER BY name, split",
        [dataset] * 4,
    )


def stored_models(con: duckdb.DuckDBPyConnection) -> list[PerceptualModel]:
    """Every stored perceptual model (ViT or CNN) with its settings and clip length, the pages' default first."""
    return settings.perceptual_models(con)


# run comparison and report ----------------------------------------------------------------------
def regression_outputs(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every regression model's test predictions: ``experiment_id``, ``seed``, ``clip_id``, ``target``, ``predicted``, ``actual``."""
    return _df(
        con,
        "SELECT experiment_id, seed, clip_id, target, predicted, actual FROM predictions ORDER BY experiment_id, seed, clip_id, target",
    )


def classifier_outputs(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every perceptual model's test decisions: ``experiment_id``, ``seed``, ``clip_id``, ``actual``, ``predicted``."""
    return _df(con, "SELECT experiment_id, seed, clip_id, actual, predicted FROM classifications ORDER BY experiment_id, seed, clip_id")


def matched_reference(con: duckdb.DuckDBPyConnection, *, route: str, metric: str) -> pd.DataFrame:
    """Return the thesis's figures for a route's experiments, matched on route, input, head and feature set.

    Columns ``experiment_id``, ``target``, ``mean``, ``sd``, ``thesis_input``. Mid2E experiments on
    other descriptors than the thesis's (it used A2Mid-*predicted* ones) are matched on head and
    feature set; ``thesis_input`` says which descriptors the thesis's figure is for. Empty when the
    run had no thesis figures.
    """
    columns = ["experiment_id", "target", "mean", "sd", "thesis_input"]
    reference = reference_figures(con)
    if reference.empty:
        return pd.DataFrame(columns=columns)
    reference = reference[(reference["metric"] == metric) & (reference["route"] == route)]
    keys = ["route", "input", "head", "feature_set"]
    found = experiments(con)[["experiment_id", *keys]]
    exact = found.merge(reference.assign(thesis_input=reference["input"]), on=keys)
    if route != "Mid2E":
        return exact[columns].reset_index(drop=True)
    loose = found.merge(reference.rename(columns={"input": "thesis_input"}), on=["route", "head", "feature_set"])
    return pd.concat([exact, loose[~loose["experiment_id"].isin(exact["experiment_id"])]])[columns].reset_index(drop=True)


def has_table(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    """Tell whether the database has a table (a reader of a table added later can say "not computed for this run")."""
    row = con.cursor().execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [table]).fetchone()
    return bool(row and row[0])


def most_confident_explained(con: duckdb.DuckDBPyConnection, experiment_id: str, *, seed: int) -> pd.DataFrame:
    """Per confusion-matrix cell, the most confident test clip whose relevance maps are stored.

    Columns ``actual``, ``predicted``, ``clip_id``, ``confidence``; one row per cell that has such a clip.
    """
    return _df(
        con,
        "SELECT c.actual, c.predicted, c.clip_id, c.confidence FROM classifications c "
        "WHERE c.experiment_id = ? AND c.seed = ? AND c.clip_id IN "
        "(SELECT clip_id FROM relevance_maps WHERE experiment_id = ? AND seed = ?) "
        "QUALIFY row_number() OVER (PARTITION BY c.actual, c.predicted ORDER BY c.confidence DESC, c.clip_id) = 1 "
        "ORDER BY c.actual, c.predicted",
        [experiment_id, seed, experiment_id, seed],
    )
