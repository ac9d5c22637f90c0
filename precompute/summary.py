"""``summary``: the headline figures of a results database, as plain text."""

from __future__ import annotations

from pathlib import Path

import duckdb

REGRESSION = """
SELECT experiment_id, e.split_name, count(DISTINCT seed) AS seeds,
       avg(value) FILTER (metric = 'pearson_r') AS r, coalesce(stddev_samp(value) FILTER (metric = 'pearson_r'), 0) AS r_sd,
       avg(value) FILTER (metric = 'mse') AS mse, coalesce(stddev_samp(value) FILTER (metric = 'mse'), 0) AS mse_sd
FROM metrics JOIN experiments e USING (experiment_id)
WHERE target = 'all' AND split = 'test' GROUP BY ALL ORDER BY experiment_id
"""
CLASSIFICATION = """
SELECT experiment_id, seed, metric, value FROM metrics
WHERE target = 'happy_vs_sad' AND metric IN ('accuracy', 'recall_happy', 'recall_sad', 'weighted_f1') ORDER BY ALL
"""


class SummaryError(Exception):
    """The database cannot be summarised; the message says why."""


def summarise(db: Path) -> str:
    """Mean and SD over seeds of Pearson r and MSE (mean over targets) per experiment, and the
    classifiers' test metrics, with the run that produced them."""
    if not db.is_file():
        raise SummaryError(f"{db}: no results database")
    try:
        con = duckdb.connect(str(db), read_only=True)
    except duckdb.Error as error:
        raise SummaryError(f"{db}: cannot open ({error})") from error
    try:
        run = con.execute(
            "SELECT run_id, profile, dataset, git_revision, finished_at FROM runs WHERE status = 'finished' ORDER BY run_id DESC LIMIT 1"
        ).fetchone()
        regression = con.execute(REGRESSION).fetchall()
        classification = con.execute(CLASSIFICATION).fetchall()
    finally:
        con.close()
    if run is None:
        raise SummaryError(f"{db}: holds no finished run")
    lines = [f"{db}: run {run[0]}, profile {run[1]}, dataset {run[2]}, code {run[3]}, finished {run[4]:%Y-%m-%d %H:%M}"]
    splits = sorted({row[1] for row in regression})
    lines += [f"split: {s}" for s in splits]
    lines.append(f"\n{'experiment':62s} {'seeds':>5s} {'r (mean ± SD)':>16s} {'MSE (mean ± SD)':>17s}")
    for experiment, _, seeds, r, r_sd, mse, mse_sd in regression:
        lines.append(f"{experiment:62s} {seeds:5d} {_num(r, 8)} ± {_num(r_sd, 5)} {_num(mse, 8)} ± {_num(mse_sd, 6)}")
    for experiment, seed, metric, value in classification:
        lines.append(f"{experiment} seed {seed}: {metric} {_num(value, 0)}")
    return "\n".join(lines)


def _num(value: float | None, width: int) -> str:
    """A metric to 3 decimals; ``n/a`` where it is undefined (e.g. r of a constant prediction)."""
    return f"{value:{width}.3f}" if value is not None else f"{'n/a':>{width}s}"
