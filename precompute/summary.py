"""``summary``: the headline figures of a results database, as plain text."""

from __future__ import annotations

from pathlib import Path

from engine.explain.model_ear import ear_summary
from results.store import open_results

REGRESSION = """
SELECT experiment_id, e.split_name, count(DISTINCT seed) AS seeds,
       avg(value) FILTER (metric = 'pearson_r') AS r, coalesce(stddev_samp(value) FILTER (metric = 'pearson_r'), 0) AS r_sd,
       avg(value) FILTER (metric = 'mse') AS mse, coalesce(stddev_samp(value) FILTER (metric = 'mse'), 0) AS mse_sd
FROM metrics JOIN experiments e USING (experiment_id)
WHERE target = 'all' AND split = 'test' GROUP BY ALL ORDER BY experiment_id
"""
SPLITS = """
SELECT DISTINCT dataset, split_name FROM experiments ORDER BY ALL
"""
CLIPS = """
SELECT dataset, split, count(*) AS clips, count(DISTINCT group_id) AS groups,
       CASE split WHEN 'train' THEN 0 WHEN 'val' THEN 1 WHEN 'test' THEN 2 ELSE 3 END AS position
FROM clips GROUP BY ALL ORDER BY dataset, position
"""
CLASSIFICATION = """
SELECT experiment_id, seed, target, metric, value FROM metrics
WHERE target LIKE 'happy_vs_sad%' AND (metric IN ('accuracy', 'recall_happy', 'recall_sad', 'precision_happy',
      'precision_sad', 'macro_f1', 'weighted_f1',
      'threshold_p_happy') OR metric LIKE 'cm_%')
ORDER BY experiment_id, seed, target, metric
"""
ATTRIBUTION = """
SELECT f.experiment_id, f.seed, f.method,
       avg(value) FILTER (metric = 'floor_morf_auc') AS floor_morf, avg(value) FILTER (metric = 'floor_gap') AS floor_gap,
       avg(value) FILTER (metric = 'road_morf_auc') AS road_morf, avg(value) FILTER (metric = 'road_gap') AS road_gap,
       count(DISTINCT clip_id) AS clips,
       (SELECT avg(spearman) FROM sanity_checks s WHERE s.experiment_id = f.experiment_id AND s.seed = f.seed
        AND s.method = f.method AND s.randomised = 'all') AS sanity_all
FROM faithfulness f GROUP BY ALL ORDER BY f.experiment_id, f.seed, f.method
"""
AGREEMENT = """
SELECT experiment_id, seed, method, measure, value, low, high, n FROM attribution_agreement ORDER BY ALL
"""
RELIANCE = """
SELECT experiment_id, seed, stem, avg(p_with - p_without) AS reliance, stddev_samp(p_with - p_without) AS sd, count(*) AS clips
FROM stem_reliance GROUP BY ALL ORDER BY ALL
"""
EAR = """
SELECT experiment_id, seed, gain, method, clip_id, p_sonified, p_complement FROM ear_checks ORDER BY ALL
"""
STEMS = """
SELECT experiment_id, seed, method, stem, avg(relevance_share) AS relevance, avg(area_share) AS area
FROM relevance_by_stem GROUP BY ALL ORDER BY ALL
"""


class SummaryError(Exception):
    """The database cannot be summarised; the message says why."""


def summarise(db: Path) -> str:
    """Summarise a results database as text.

    Mean and SD over seeds of Pearson r and MSE (mean over targets) per experiment, and the
    classifiers' test metrics, with the run that produced them.
    """
    con = open_results(db)
    try:
        run = con.execute(
            "SELECT run_id, profile, dataset, git_revision, finished_at FROM runs WHERE status = 'finished' ORDER BY run_id DESC LIMIT 1"
        ).fetchone()
        regression = con.execute(REGRESSION).fetchall()
        splits = con.execute(SPLITS).fetchall()
        clips = con.execute(CLIPS).fetchall()
        classification = con.execute(CLASSIFICATION).fetchall()
        attribution = con.execute(ATTRIBUTION).fetchall()
        stems = con.execute(STEMS).fetchall()
        agreement = con.execute(AGREEMENT).fetchall()
        reliance = con.execute(RELIANCE).fetchall()
        ear = con.execute(EAR).fetchall()
    finally:
        con.close()
    if run is None:
        raise SummaryError(f"{db}: holds no finished run")
    lines = [f"{db}: run {run[0]}, profile {run[1]}, dataset {run[2]}, code {run[3]}, finished {run[4]:%Y-%m-%d %H:%M}"]
    lines += [f"split of {dataset}: {description}" for dataset, description in splits]
    by_dataset: dict[str, list[str]] = {}
    for dataset, split, count, groups, _ in clips:
        by_dataset.setdefault(dataset, []).append(f"{split or '(none)'} {count} ({groups} groups)")
    lines += [f"clips of {dataset}: " + ", ".join(parts) for dataset, parts in by_dataset.items()]
    if regression:  # a classifier-only run has no regression table
        lines.append(f"\n{'experiment':62s} {'seeds':>5s} {'r (mean ± SD)':>16s} {'MSE (mean ± SD)':>17s}")
    for experiment, _, seeds, r, r_sd, mse, mse_sd in regression:
        lines.append(f"{experiment:62s} {seeds:5d} {_num(r, 8)} ± {_num(r_sd, 5)} {_num(mse, 8)} ± {_num(mse_sd, 6)}")
    grouped: dict[tuple[str, int, str], list[str]] = {}
    for experiment, seed, target, metric, value in classification:
        text = f"{value:.0f}" if metric.startswith("cm_") else _num(value, 0)
        grouped.setdefault((experiment, seed, target), []).append(f"{metric} {text}")
    recalls: dict[tuple[str, int, str], dict[str, float]] = {}
    for experiment, seed, target, metric, value in classification:
        if metric in ("recall_happy", "recall_sad"):
            recalls.setdefault((experiment, seed, target), {})[metric] = value
    for (experiment, seed, target), parts in grouped.items():
        recall = recalls.get((experiment, seed, target), {})
        balanced = sum(recall.values()) / len(recall) if len(recall) == 2 else None
        flag = _flat_flag(recall)
        lines.append(f"\n{experiment} seed {seed}, {target}:{flag}\n  balanced_accuracy {_num(balanced, 0)}, " + ", ".join(parts))
    if attribution:
        lines.append(f"\n{'experiment':44s} {'attribution method':24s} {'floor MoRF':>10s} {'floor gap':>10s} {'ROAD MoRF':>10s} "
                     f"{'ROAD gap':>10s} {'sanity ρ':>9s} {'clips':>6s}")
        for experiment, seed, method, floor_morf, floor_gap, road_morf, road_gap, clips, sanity in attribution:
            lines.append(f"{experiment + f' #{seed}':44s} {method:24s} {_num(floor_morf, 10)} {_num(floor_gap, 10)} {_num(road_morf, 10)} "
                         f"{_num(road_gap, 10)} {_num(sanity, 9)} {clips:6d}")
        lines.append("MoRF AUC: lower is faithful; gap = LeRF - MoRF AUC: higher is faithful ('random order' is chance); "
                     "sanity ρ: similarity to the map of a fully randomised model (near 1 fails)")
    if reliance:
        lines.append("\ncausal reliance: drop of p(explained class) when a stem is removed (mean ± SD over clips)")
        for experiment, seed, stem, value, sd, clips in reliance:
            lines.append(f"{experiment + f' #{seed}':44s} {stem:8s} {value:+.3f} ± {(sd or 0.0):.3f}  ({clips} clips)")
    if agreement:
        lines.append("\ncausal agreement (value [95 % CI], n clips)")
        for experiment, seed, method, measure, value, low, high, n in agreement:
            text = "n/a" if value is None else f"{value:+.3f} [{low:+.3f}, {high:+.3f}]"
            lines.append(f"{experiment + f' #{seed}':44s} {method:24s} {measure:16s} {text}  n={n}")
    if ear:
        lines += _ear_lines(ear)
    if stems:
        lines.append("\nrelevance share (area share) per stem")
        by_method: dict[tuple[str, str], list[str]] = {}
        for experiment, _, method, stem, relevance, area in stems:
            by_method.setdefault((experiment, method), []).append(f"{stem} {relevance:.3f} ({area:.3f})")
        lines += [f"{experiment:44s} {method:24s} " + ", ".join(parts) for (experiment, method), parts in by_method.items()]
    return "\n".join(lines)


def _ear_lines(ear: list[tuple]) -> list[str]:
    """Format the model's-ear check per model, gain and method: p(class | B), p(class | C), the gap and its excess over random."""
    lines = ["\nmodel's ear: the model re-classifies the sonified explanation B and its complement C "
             "(gap = p(class | B) - p(class | C), mean [95 % CI] over clips; vs random: paired)"]
    models: dict[tuple[str, int, str], list[tuple[str, str, float, float]]] = {}
    for experiment, seed, gain, method, clip_id, kept, ignored in ear:
        models.setdefault((experiment, seed, gain), []).append((method, clip_id, kept, ignored))
    for (experiment, seed, gain), records in models.items():
        for method, row in ear_summary(records).items():
            gap, against = row["gap"], row["against_reference"]
            versus = "" if against is None else f"  vs random {against.value:+.3f} [{against.low:+.3f}, {against.high:+.3f}]"
            lines.append(f"{experiment + f' #{seed} {gain}':44s} {method:24s} B {row['p_sonified']:.3f}  C {row['p_complement']:.3f}  "
                         f"gap {gap.value:+.3f} [{gap.low:+.3f}, {gap.high:+.3f}] n={gap.n}{versus}")
    return lines


def _flat_flag(recall: dict[str, float]) -> str:
    """`` FLAT: predicts only <class>`` when one class is never predicted on the test clips, else ``""``."""
    for predicted, other in (("happy", "sad"), ("sad", "happy")):
        if recall.get(f"recall_{predicted}") == 1.0 and recall.get(f"recall_{other}") == 0.0:
            return f"  FLAT: predicts only {predicted.capitalize()}"
    return ""


def _num(value: float | None, width: int) -> str:
    """Format a metric to 3 decimals; ``n/a`` where it is undefined (e.g. r of a constant prediction)."""
    return f"{value:{width}.3f}" if value is not None else f"{'n/a':>{width}s}"
