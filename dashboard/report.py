"""The one-file report of a run: what a reviewer needs, in one self-contained HTML page that works offline.

Pure functions (no Streamlit): ``python -m precompute report`` and the Home page's download button
both call :func:`build_report`, so they give the same file. The report holds the run's provenance,
the feature-set comparison against the thesis, the mid-level coefficients and SHAP summaries, the
confusion matrices, the attribution verdict with its CIs, the model's-ear check, and a gallery of
the most confident clip of each confusion cell with its relevance map.

Figures are the dashboard's own (:mod:`dashboard.figures`), drawn to PNG by Kaleido and embedded
as base64; tables sort on a click on their header (a few lines of inline script, no CDN). With a
``base_url`` every section links to the dashboard view it summarises (``?run=`` and the view's own
parameters). Each section starts a new page when printed (CSS ``break-before: page``).
"""

from __future__ import annotations

import base64
import html
import json
import queue
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import urlencode

import duckdb
import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard import export, figures, queries, verdicts
from engine.explain.model_ear import ear_summary
from engine.vocabulary import CLASSES, EMOTIONS

SECTIONS: tuple[tuple[str, str], ...] = (
    ("provenance", "Run and provenance"),
    ("feature-sets", "Feature sets against the thesis"),
    ("midlevel", "Mid-level explanations: coefficients and SHAP"),
    ("confusion", "Confusion matrices"),
    ("attribution", "Attribution verdict"),
    ("models-ear", "The model's ear"),
    ("gallery", "Gallery: the most confident clip of each confusion cell"),
)
"""The report's sections in order: ``(id, title)``; each is one ``<section>`` and one printed page."""

ROUTES = {"A2E": "audio → emotion", "A2Mid": "audio → mid-level", "Mid2E": "mid-level → emotion"}
WIDE, HALF = 900, 440
"""Rendered figure widths (px): full width, and two to a row."""

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: #222; margin: 0 auto; max-width: 960px;
       padding: 16px 24px; line-height: 1.45; box-sizing: border-box; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 2px solid #1f77b4; padding-bottom: 4px; margin-top: 1.6em; }
section { break-before: page; } section:first-of-type { break-before: auto; }
figure { margin: 8px 0; break-inside: avoid; } figure img { max-width: 100%; height: auto; display: block; }
figcaption, .note { color: #555; font-size: 0.9em; }
.grid { display: flex; flex-wrap: wrap; gap: 12px; } .grid > div { flex: 0 0 440px; max-width: 440px; }
table { border-collapse: collapse; font-size: 0.85em; margin: 8px 0 14px; max-width: 100%; }
th, td { border-bottom: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; overflow-wrap: anywhere; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
table.sortable th { cursor: pointer; background: #f3f6fa; user-select: none; white-space: nowrap; }
table.sortable th[data-order="asc"]::after { content: " ▲"; } table.sortable th[data-order="desc"]::after { content: " ▼"; }
a.deep { font-size: 0.9em; } a.deep::before { content: "↗ "; }
.verdict { background: #f3f6fa; border-left: 4px solid #1f77b4; padding: 6px 10px; }
@media print { body { max-width: none; } a.deep { color: #1f77b4; } }
"""

SCRIPT = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("th").forEach(function (th) {
    th.addEventListener("click", function () {
      var ascending = th.dataset.order !== "asc", column = th.cellIndex, body = table.tBodies[0];
      table.querySelectorAll("th").forEach(function (other) { delete other.dataset.order; });
      th.dataset.order = ascending ? "asc" : "desc";
      var key = function (row) {
        var cell = row.cells[column];
        return cell.dataset.sort !== undefined ? parseFloat(cell.dataset.sort) : cell.textContent.trim();
      };
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = key(a), y = key(b), order;
        if (typeof x === "number" && typeof y === "number") { order = (isNaN(x) ? Infinity : x) - (isNaN(y) ? Infinity : y); }
        else { order = String(x).localeCompare(String(y), undefined, {numeric: true}); }
        return ascending ? order : -order;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
"""


@dataclass
class _Report:
    """What a report collects while its sections are written: figures to render, and where links point."""

    run: str
    base_url: str | None
    figures: list[tuple[go.Figure, int]] = field(default_factory=list)
    to_render: queue.Queue | None = None

    def figure(self, figure: go.Figure, *, caption: str, width: int = WIDE) -> str:
        """Return a ``<figure>`` whose image is filled in once every figure is rendered (which starts at once)."""
        self.figures.append((figures.finish(figure), width))
        if self.to_render is not None:
            self.to_render.put(self.figures[-1])
        index = len(self.figures) - 1
        return (f'<figure class="chart" data-figure="{index}"><img alt="{_e(caption)}" width="{width}" '
                f'src="@@FIGURE{index}@@"><figcaption>{_e(caption)}</figcaption></figure>')

    def link(self, page: str, text: str, **parameters: object) -> str:
        """Return a link to a dashboard view (``<base>/<page>?run=<run>&...``); nothing without a base URL.

        ``page`` is the view's ``url_path`` in ``dashboard/Home.py``; the empty string is Home, which
        Streamlit serves at the root only.
        """
        if not self.base_url:
            return ""
        query = urlencode({"run": self.run, **{k: v for k, v in parameters.items() if v is not None}})
        return f'<p><a class="deep" href="{_e(self.base_url.rstrip("/") + "/" + page + "?" + query)}">{_e(text)}</a></p>'


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _markdown(text: str) -> str:
    """Convert the little Markdown the verdict sentences use (``**bold**``, ```code```) as HTML."""
    out = _e(text)
    out = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", out)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", out)


def table(frame: pd.DataFrame, *, digits: int = 3, index: bool | None = None) -> str:
    """Return ``frame`` as a sortable HTML table (numbers right-aligned, sorted by value, shown to ``digits``).

    The index is kept when it carries names (a pivot table's rows), or when ``index`` says so.
    """
    if frame is None or frame.empty:
        return '<p class="note">No rows.</p>'
    if index if index is not None else export.has_named_index(frame):
        frame = frame.reset_index()
    head = "".join(f"<th>{_e(c)}</th>" for c in frame.columns)
    rows = []
    for values in frame.itertuples(index=False):
        cells = []
        for value in values:
            if isinstance(value, (bool, np.bool_)) or value is None:
                cells.append(f"<td>{_e('' if value is None else value)}</td>")
            elif isinstance(value, (int, np.integer)):
                cells.append(f'<td class="n" data-sort="{int(value)}">{int(value)}</td>')
            elif isinstance(value, (float, np.floating)):
                shown = "" if not np.isfinite(value) else f"{value:.{digits}f}"
                cells.append(f'<td class="n" data-sort="{value if np.isfinite(value) else "NaN"}">{shown}</td>')
            else:
                cells.append(f"<td>{_e(value)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f'<table class="sortable"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


# sections ---------------------------------------------------------------------------------------
def _provenance(con: duckdb.DuckDBPyConnection, report: _Report) -> str:
    runs = queries.runs(con)
    if runs.empty:
        return '<p class="note">This database records no run.</p>'
    finished = runs[runs["status"] == "finished"]
    latest = (finished if not finished.empty else runs).iloc[0]
    experiments = queries.experiments(con)
    parts = [
        f"<p>Profile <strong>{_e(latest['profile'])}</strong> on dataset <strong>{_e(latest['dataset'])}</strong>, run "
        f"{_e(latest['run_id'])} ({_e(latest['status'])}), device {_e(latest['device'])}, code revision "
        f"<code>{_e(latest['git_revision'])}</code>, configuration hash <code>{_e(latest['config_hash'])}</code>.</p>",
        report.link("", "Open this run in the dashboard"),
        "<h3>Runs</h3>", table(runs.drop(columns=["versions"])),
        "<h3>Clips per dataset and split</h3>", table(queries.clip_counts(con)),
    ]
    splits = experiments["split_name"].unique() if not experiments.empty else []
    if len(splits):
        parts.append("<p>Split: " + "; ".join(_e(s) for s in splits) + "</p>")
    if not experiments.empty:
        per_route = experiments.groupby("route", sort=True).agg(experiments=("experiment_id", "count"),
                                                                seeds=("seeds", "max")).reset_index()
        parts += ["<h3>Experiments per route</h3>", table(per_route.rename(columns={"seeds": "most seeds"}))]
    try:
        versions = json.loads(latest["versions"])
    except (TypeError, ValueError):
        versions = {}
    if versions:
        frame = pd.DataFrame({"library": list(versions), "version": [str(v) for v in versions.values()]})
        parts += ["<h3>Library versions of the latest run</h3>", table(frame)]
    return "\n".join(parts)


def _feature_sets(con: duckdb.DuckDBPyConnection, report: _Report) -> str:
    summary = queries.metric_summary(con, metric="pearson_r")
    per_seed = queries.metric_per_seed(con, metric="pearson_r")
    routes = [r for r in ROUTES if r in set(summary["route"])]
    if not routes:
        return '<p class="note">This run holds no regression experiment.</p>'
    parts = []
    any_thesis = not queries.reference_figures(con).empty
    if not any_thesis:
        parts.append('<p class="note">The thesis\'s figures are not in this run (its data root held no '
                     '<code>thesis-figures.csv</code>): this run\'s models are shown alone.</p>')
    for route in routes:
        rows = summary[summary["route"] == route]
        thesis = queries.matched_reference(con, route=route, metric="pearson_r")
        thesis = thesis[thesis["target"] == "all"]
        shown = rows[["experiment_id", "mean", "sd"]].copy()  # the id names input, head and feature set
        shown["mean [95 % CI], n"] = [verdicts.seed_summary(per_seed.loc[per_seed["experiment_id"] == e, "value"], head=h)
                                      for e, h in zip(rows["experiment_id"], rows["head"])]
        if not thesis.empty:
            matched = thesis.rename(columns={"mean": "thesis mean", "sd": "thesis sd", "thesis_input": "thesis input"})
            shown = shown.merge(matched[["experiment_id", "thesis mean", "thesis sd", "thesis input"]], on="experiment_id", how="left")
            shown["ours − thesis"] = shown["mean"] - shown["thesis mean"]
        parts += [
            f"<h3>{route} ({ROUTES[route]}): mean Pearson r over the scales</h3>",
            report.figure(figures.metric_bars(rows, metric_label="Pearson r (higher is better)", reference=thesis),
                          caption=f"{route}: mean ± SD over seeds" + ("; grey: the thesis's reported figure" if not thesis.empty else "")),
            table(shown),
            report.link("feature_sets", f"{route} in the dashboard", route=route, metric="pearson_r"),
        ]
    return "\n".join(parts)


def _midlevel(con: duckdb.DuckDBPyConnection, report: _Report) -> str:
    experiments = queries.experiments(con)
    mid2e = experiments[experiments["route"] == "Mid2E"]
    if mid2e.empty:
        return '<p class="note">This run holds no Mid2E (mid-level → emotion) experiment.</p>'
    summary = queries.metric_summary(con, metric="pearson_r").set_index("experiment_id")["mean"]
    usable = mid2e[~mid2e["input"].isin(verdicts.CEILING_INPUTS)]
    candidates = (usable if not usable.empty else mid2e).assign(r=lambda f: f["experiment_id"].map(summary))
    candidates = candidates.sort_values("r", ascending=False, na_position="last")
    with_coefficients = [e for e in candidates["experiment_id"] if not queries.coefficients(con, e).empty]
    chosen = candidates[candidates["experiment_id"] == (with_coefficients[0] if with_coefficients else candidates["experiment_id"].iloc[0])].iloc[0]
    experiment = chosen["experiment_id"]
    parts = [f"<p>The best Mid2E model usable on new audio with coefficients: <code>{_e(experiment)}</code> (mean r "
             f"{chosen['r']:.3f}). {_e(chosen['description'])}</p>"]
    coefficients = queries.coefficients(con, experiment)
    targets = [t for t in EMOTIONS if t in set(coefficients["target"])] if not coefficients.empty else []
    if targets:
        matrix = coefficients.pivot(index="feature", columns="target", values="value")[targets]
        matrix = matrix.loc[matrix.abs().mean(axis=1).sort_values(ascending=False).index].head(15)
        parts.append(report.figure(figures.matrix_heatmap(matrix, colorbar_title="β"),
                                   caption="Standardised ridge coefficients, the 15 strongest terms by mean |β| (averaged over seeds)"))
    shap = queries.shap_global(con, experiment)
    if not shap.empty:
        targets = [t for t in EMOTIONS if t in set(shap["target"])]
        matrix = shap.pivot(index="feature", columns="target", values="value")[targets]
        importance = matrix.mean(axis=1).sort_values(ascending=False)
        parts.append(report.figure(figures.matrix_heatmap(matrix.loc[importance.index].head(15), colorbar_title="mean |SHAP|",
                                                          signed=False),
                                   caption="Mean |SHAP| per descriptor and emotion (rating points), the 15 most important"))
        top = importance.head(10).rename("mean |SHAP| over emotions").reset_index()
        parts += ["<h3>Most important descriptors (SHAP)</h3>", table(top)]
    parts.append(report.link("midlevel", "These explanations in the dashboard", source=chosen["input"],
                             feature_set=chosen["feature_set"], head=chosen["head"], view="Coefficients"))
    return "\n".join(parts)


def _confusion(con: duckdb.DuckDBPyConnection, report: _Report) -> str:
    models = queries.perceptual_models(con)
    if models.empty:
        return '<p class="note">This run holds no perceptual (ViT or CNN) model.</p>'
    cells, rows = [], []
    for experiment in models["experiment_id"]:
        seed = queries.seeds(con, experiment)[0]
        decisions = queries.classifications(con, experiment, seed=seed)
        counts = pd.crosstab(decisions["actual"], decisions["predicted"]).reindex(index=list(CLASSES), columns=list(CLASSES),
                                                                                 fill_value=0)
        counts = counts.rename(index=str.capitalize, columns=str.capitalize)
        at_half = queries.classification_metrics(con, experiment, seed=seed)
        calibrated = queries.classification_metrics(con, experiment, seed=seed, target="happy_vs_sad@calibrated")
        rows.append({"model": experiment, "seed": seed, "test clips": len(decisions),
                     "balanced accuracy": at_half.get("macro_recall", np.nan),
                     "calibrated": calibrated.get("macro_recall", np.nan),
                     "recall Happy": at_half.get("recall_happy", np.nan), "recall Sad": at_half.get("recall_sad", np.nan)})
        cells.append("<div>" + report.figure(figures.confusion_heatmap(counts, title=experiment.split("/", 1)[-1]), width=HALF,
                                             caption=f"{experiment}, seed {seed}: rows true, columns predicted (p = 0.5)")
                     + report.link("confusion", "Browse its cells", model=experiment, seed=seed) + "</div>")
    return "\n".join(['<div class="grid">', *cells, "</div>",
                      "<p>Balanced accuracy: mean recall over the two classes (0.5 is chance); calibrated: at the "
                      "threshold chosen on validation clips.</p>", table(pd.DataFrame(rows))])


def _attribution(con: duckdb.DuckDBPyConnection, report: _Report) -> str:
    models = queries.perceptual_models(con)
    default = models["experiment_id"].iloc[0] if not models.empty else None  # the pages' default: its removal tests too
    parts, any_evidence = [], False
    for experiment in models["experiment_id"]:
        seed = queries.seeds(con, experiment)[0]
        agreement = queries.attribution_agreement(con, experiment, seed=seed)
        if agreement.empty:
            continue
        any_evidence = True
        parts += [f"<h3>{_e(experiment)} (seed {seed})</h3>",
                  f'<p class="verdict">{_markdown(verdicts.attribution_verdict(agreement))}</p>']
        causal = agreement[agreement["measure"] == "causal_spearman"].dropna(subset=["value"])
        if not causal.empty:
            forest = causal.assign(label=causal["method"])[["label", "value", "low", "high"]]
            parts.append(report.figure(figures.interval_forest(forest, xaxis_title="causal ρ (95 % bootstrap CI over clips)"),
                                       caption=f"{experiment}: agreement of each method's map with what the model causally "
                                               "needs; the random map is the chance reference"))
        parts.append(table(verdicts.agreement_table(agreement)))
        faithfulness = queries.faithfulness_summary(con, experiment, seed=seed) if experiment == default else pd.DataFrame()
        if not faithfulness.empty:
            parts += ["<p>Faithfulness (tiles removed most and least relevant first; the gap LeRF − MoRF, higher is "
                      "better; 95 % CIs over clips):</p>", table(verdicts.faithfulness_table(faithfulness))]
        parts.append(report.link("attribution_quality", "Attribution quality in the dashboard", model=experiment, seed=seed))
    if not any_evidence:
        return '<p class="note">This run stores no causal evidence for its relevance maps.</p>'
    intro = ("<p>Causal ρ: Spearman correlation between a method's excess relevance per instrument and the drop of the "
             "model's probability when that instrument is removed; drum contrast: the method's excess drum relevance for "
             "this model minus that for the model trained without the drum shortcut.</p>")
    return intro + "\n".join(parts)


def _models_ear(con: duckdb.DuckDBPyConnection, report: _Report) -> str:
    not_computed = ('<p class="note">The model\'s-ear check was <strong>not computed for this run</strong> (no stored '
                    "sonification was classified again by its model).</p>")
    if not queries.has_table(con, "ear_checks"):
        return not_computed
    parts = []
    for experiment in queries.perceptual_models(con)["experiment_id"]:
        seed = queries.seeds(con, experiment)[0]
        checks = queries.ear_checks(con, experiment, seed=seed)
        for gain, rows in checks.groupby("gain", sort=True):
            summary = ear_summary(zip(rows["method"], rows["clip_id"], rows["p_sonified"], rows["p_complement"]))
            forest = pd.DataFrame([{"label": method, "value": row["gap"].value, "low": row["gap"].low, "high": row["gap"].high}
                                   for method, row in summary.items()]).sort_values("value", ascending=False)
            parts += [f"<h3>{_e(experiment)} (seed {seed}, gain {_e(gain)})</h3>",
                      f'<p class="verdict">{_markdown(verdicts.ear_verdict(rows))}</p>',
                      report.figure(figures.interval_forest(forest, xaxis_title="ear gap p(class | B) − p(class | C), 95 % CI"),
                                    caption=f"{experiment}: how much more of the predicted class the model hears in what each "
                                            "method's map kept (B) than in what it left out (C); the random map is the reference"),
                      table(verdicts.ear_table(rows)),
                      report.link("attribution_quality", "The model's ear in the dashboard", model=experiment, seed=seed)]
    if not parts:
        return not_computed
    return ("<p>Every stored sonification is classified again by the same model: <strong>B</strong> keeps what the map "
            "marked, <strong>C</strong> the rest. A faithful map gives a B that keeps the predicted class and a C that loses "
            "it. 95 % bootstrap CIs over clips.</p>" + "\n".join(parts))


def _gallery_method(con: duckdb.DuckDBPyConnection, experiment: str, seed: int) -> str | None:
    """Choose the gallery's method: the one the causal evidence supports, else ``chefer2021``, else the first stored.

    Supported: the best causal ρ of a method other than the random map, with a CI above 0 (as
    ``verdicts.attribution_verdict`` reads it).
    """
    methods = queries.relevance_methods(con, experiment)
    if not methods:
        return None
    agreement = queries.attribution_agreement(con, experiment, seed=seed)
    causal = agreement[agreement["measure"] == "causal_spearman"].dropna(subset=["value"]).sort_values("value", ascending=False)
    supported = [] if causal.empty or causal["method"].iloc[0] == "random" or causal["low"].iloc[0] <= 0 else [causal["method"].iloc[0]]
    return next(m for m in [*supported, "chefer2021", *methods] if m in methods)


def _gallery(con: duckdb.DuckDBPyConnection, report: _Report) -> str:
    default = queries.default_vit(con)
    if default is None:
        return '<p class="note">This run holds no perceptual model, so no relevance maps.</p>'
    experiment, dataset, seed = default
    method = _gallery_method(con, experiment, seed)
    picks = queries.most_confident_explained(con, experiment, seed=seed)
    if method is None or picks.empty:
        return f'<p class="note">No relevance map is stored for <code>{_e(experiment)}</code>.</p>'
    cells = []
    for actual in CLASSES:
        for predicted in CLASSES:
            cell = f"{actual}-{predicted}"
            label = f"true {actual.capitalize()} → predicted {predicted.capitalize()}"
            pick = picks[(picks["actual"] == actual) & (picks["predicted"] == predicted)]
            stored = None if pick.empty else queries.relevance_map(con, experiment, seed=seed, clip_id=pick["clip_id"].iloc[0],
                                                                    method=method)
            image = None if pick.empty else queries.image(con, dataset=dataset, clip_id=pick["clip_id"].iloc[0])
            if stored is None or image is None:
                cells.append(f'<div><p class="note">{_e(label)}: no clip of this cell has a stored map.</p></div>')
                continue
            clip, confidence = pick["clip_id"].iloc[0], float(pick["confidence"].iloc[0])
            spectrogram, max_hz, seconds = image
            overlay = figures.relevance_overlay(spectrogram, stored[0], max_hz=max_hz, seconds=seconds, signed=stored[1],
                                                opacity=0.8, top_percent=10, height=340, title=f"{label}: {clip}")
            cells.append("<div>" + report.figure(overlay, width=HALF, caption=f"{label}: clip {clip}, {confidence:.0%} confident; "
                                                                              f"{method}, top 10 % of regions")
                         + report.link("confusion", "Open this clip", model=experiment, seed=seed, cell=cell, clip=clip, method=method)
                         + "</div>")
    return (f"<p>Model <code>{_e(experiment)}</code>, seed {seed}, method <code>{_e(method)}</code> (the one the causal "
            "evidence supports where it supports one, else the thesis's chefer2021). Red: the regions most relevant for the predicted class, over the "
            "spectrogram in grey.</p>" + '<div class="grid">' + "".join(cells) + "</div>")


_WRITERS = {"provenance": _provenance, "feature-sets": _feature_sets, "midlevel": _midlevel, "confusion": _confusion,
            "attribution": _attribution, "models-ear": _models_ear, "gallery": _gallery}


def build_report(con: duckdb.DuckDBPyConnection, *, run: str, base_url: str | None = None) -> str:
    """Write the report of a results database as one self-contained HTML document.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        A read-only connection to the results database.
    run : str
        The run's name in the dashboard (the database's file stem: what ``?run=`` takes).
    base_url : str or None
        Where the dashboard is served (``http://host:8501``): each section then links to its view.

    Returns
    -------
    str
        The HTML: figures as embedded PNGs (Kaleido), sortable tables, no outside resource. Without
        Kaleido and a Chromium, the figures are left out and the report says so.
    """
    report = _Report(run=run, base_url=base_url)
    if export.image_export_available():
        # The browser starts, and draws each figure, while the next sections are read.
        report.to_render = queue.Queue()
        with ThreadPoolExecutor(max_workers=1) as worker:
            drawn = worker.submit(export.figure_images, iter(report.to_render.get, None))
            try:
                bodies = [(key, title, _WRITERS[key](con, report)) for key, title in SECTIONS]
            finally:
                report.to_render.put(None)
            images: list[bytes | None] = list(drawn.result())
    else:
        bodies = [(key, title, _WRITERS[key](con, report)) for key, title in SECTIONS]
        images = [None] * len(report.figures)
    document = _document(run, bodies, base_url=base_url, drawn=all(i is not None for i in images))
    for index, image in enumerate(images):
        source = f"data:image/png;base64,{base64.b64encode(image).decode('ascii')}" if image is not None else ""
        document = document.replace(f'src="@@FIGURE{index}@@"', f'src="{source}"', 1)
    return document


def _document(run: str, bodies: list[tuple[str, str, str]], *, base_url: str | None, drawn: bool) -> str:
    contents = "".join(f'<li><a href="#{key}">{_e(title)}</a></li>' for key, title, _ in bodies)
    sections = "\n".join(f'<section id="{key}"><h2>{_e(title)}</h2>\n{body}\n</section>' for key, title, body in bodies)
    notes = []
    if not drawn:
        notes.append("Figures are missing: drawing them needs Kaleido and a Chromium on this machine.")
    if not base_url:
        notes.append("Built without a dashboard address (<code>--base-url</code>), so it links to no dashboard view.")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>MER workbench report: {_e(run)}</title><style>{STYLE}</style></head>
<body>
<header><h1>MER workbench report: {_e(run)}</h1>
<p class="note">Explainable music emotion recognition, read from the results database <code>{_e(run)}</code>.
Click a table's header to sort it. {' '.join(notes)}</p>
<nav><ol>{contents}</ol></nav></header>
{sections}
<script>{SCRIPT}</script>
</body></html>
"""
