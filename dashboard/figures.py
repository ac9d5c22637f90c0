"""Plot builders: pure functions from DataFrames/arrays to Plotly figures (no Streamlit here)."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

DIVERGING = "RdBu_r"
RELEVANCE = "Inferno"
OURS = "#1f77b4"
THESIS = "#b0b0b0"


def finish(fig: go.Figure) -> go.Figure:
    """House style: white template, and margins that grow to fit tick labels."""
    fig.update_layout(template="plotly_white")
    fig.update_xaxes(automargin=True)
    fig.update_yaxes(automargin=True)
    return fig


def metric_bars(summary: pd.DataFrame, *, metric_label: str, reference: pd.DataFrame | None = None) -> go.Figure:
    """Horizontal bars of mean +/- SD over seeds per experiment; thesis figures beside them in grey.

    Parameters
    ----------
    summary : pd.DataFrame
        Rows with ``experiment_id``, ``mean``, ``sd``, ``seeds``.
    metric_label : str
        Title of the value axis.
    reference : pd.DataFrame or None
        Optional rows with ``experiment_id``, ``mean``, ``sd`` (the thesis's numbers).
    """
    fig = go.Figure()
    labels = summary["experiment_id"].tolist()
    fig.add_bar(
        y=labels,
        x=summary["mean"],
        error_x=dict(type="data", array=summary["sd"], visible=True),
        orientation="h",
        name="this project",
        marker_color=OURS,
        customdata=summary["seeds"],
        hovertemplate="%{y}<br>%{x:.3f} ± %{error_x.array:.3f} (%{customdata} seeds)<extra></extra>",
    )
    if reference is not None and not reference.empty:
        fig.add_bar(
            y=reference["experiment_id"],
            x=reference["mean"],
            error_x=dict(type="data", array=reference["sd"].fillna(0), visible=True),
            orientation="h",
            name="thesis (reported)",
            marker_color=THESIS,
            hovertemplate="%{y}<br>thesis: %{x:.3f}<extra></extra>",
        )
    fig.update_layout(
        barmode="group",
        xaxis_title=metric_label,
        yaxis=dict(autorange="reversed"),
        height=max(260, 60 + 38 * len(labels)),
        margin=dict(l=10, r=10, t=30, b=40),
        legend=dict(orientation="h", y=1.08),
    )
    return fig


def per_target_bars(frame: pd.DataFrame, *, metric_label: str, reference: pd.DataFrame | None = None) -> go.Figure:
    """Draw grouped bars: one group per target, one bar per experiment (mean +/- SD over seeds).

    The thesis's per-target figures (``reference``: ``experiment_id``, ``target``, ``mean``, ``sd``)
    are drawn as hatched grey bars.
    """
    fig = go.Figure()
    for experiment_id, rows in frame.groupby("experiment_id", sort=False):
        fig.add_bar(
            x=rows["target"], y=rows["mean"], error_y=dict(type="data", array=rows["sd"], visible=True), name=experiment_id
        )
    if reference is not None:
        for experiment_id, rows in reference.groupby("experiment_id", sort=False):
            fig.add_bar(x=rows["target"], y=rows["mean"], error_y=dict(type="data", array=rows["sd"].fillna(0), visible=True),
                        name=f"thesis: {experiment_id}", marker=dict(color=THESIS, pattern_shape="/"))
    fig.update_layout(barmode="group", yaxis_title=metric_label, height=380, margin=dict(l=10, r=10, t=30, b=40),
                      legend=dict(orientation="h", y=-0.25))
    return fig


def cost_bars(cost: pd.DataFrame, *, metric_label: str) -> go.Figure:
    """Draw Mid2E (bottleneck) models as bars of mean +/- SD, coloured by descriptor source.

    A dashed line marks the best direct A2E model (see ``queries.explainability_cost``).
    """
    fig = go.Figure()
    for source, rows in cost.groupby("input", sort=False):
        fig.add_bar(y=rows["experiment_id"], x=rows["mean"], error_x=dict(type="data", array=rows["sd"], visible=True),
                    orientation="h", name=source, customdata=rows["change"],
                    hovertemplate="%{y}<br>%{x:.3f} (change %{customdata:+.3f})<extra></extra>")
    if not cost.empty:
        fig.add_vline(x=float(cost["direct_mean"].iloc[0]), line_dash="dash", line_color="black",
                      annotation_text=f"direct: {cost['direct_experiment'].iloc[0]}", annotation_position="top")
    fig.update_layout(xaxis_title=metric_label, yaxis=dict(autorange="reversed"), height=max(300, 60 + 24 * len(cost)),
                      margin=dict(l=10, r=10, t=40, b=40), legend=dict(orientation="h", y=-0.1), barmode="overlay")
    return fig


def matrix_heatmap(matrix: pd.DataFrame, *, title: str = "", colorbar_title: str = "β", signed: bool = True) -> go.Figure:
    """Features (rows) x targets (columns), values printed in the cells.

    ``signed`` values get a symmetric diverging scale centred on 0 (coefficients); unsigned ones
    (mean |SHAP|) a sequential scale from 0.
    """
    limit = float(np.nanmax(np.abs(matrix.to_numpy()))) if matrix.size else 1.0
    fig = go.Figure(
        go.Heatmap(
            z=matrix.to_numpy(),
            x=list(matrix.columns),
            y=list(matrix.index),
            colorscale=DIVERGING if signed else "Reds",
            zmin=-limit if signed else 0.0,
            zmax=limit,
            colorbar=dict(title=colorbar_title),
            text=np.round(matrix.to_numpy(), 2),
            texttemplate="%{text}",
            hovertemplate="%{y} → %{x}: %{z:.3f}<extra></extra>",
        )
    )
    fig.update_layout(title=title, height=max(300, 80 + 26 * len(matrix.index)), margin=dict(l=10, r=10, t=40, b=40),
                      yaxis=dict(autorange="reversed"))
    return fig


def interaction_heatmap(coefficients: pd.DataFrame, *, target: str, order: Sequence[str] = ()) -> go.Figure:
    """Draw a symmetric descriptors × descriptors matrix of one emotion's ridge coefficients.

    Main effects are on the diagonal, the interaction term ``a x b`` in cells (a, b) and (b, a);
    symmetric colour scale.

    Parameters
    ----------
    coefficients : pd.DataFrame
        Rows with ``feature`` (``"a"`` or ``"a x b"``) and ``value`` (standardised β).
    target : str
        The emotion the coefficients belong to (named in the figure's title).
    order : Sequence[str]
        Descriptor order of the axes (others follow in order of appearance).
    """
    names: list[str] = [name for name in order if any(name in f.split(" x ") for f in coefficients["feature"])]
    for feature in coefficients["feature"]:
        for part in feature.split(" x "):
            if part not in names:
                names.append(part)
    z = np.full((len(names), len(names)), np.nan)
    for feature, value in zip(coefficients["feature"], coefficients["value"]):
        parts = feature.split(" x ")
        i, j = names.index(parts[0]), names.index(parts[-1])
        z[i, j] = z[j, i] = value
    bound = float(np.nanmax(np.abs(z))) if np.isfinite(z).any() else 1.0
    fig = go.Figure(go.Heatmap(z=z, x=names, y=names, colorscale="RdBu_r", zmin=-bound, zmax=bound, colorbar=dict(title="β"),
                               hovertemplate="%{y} × %{x}: β %{z:+.3f}<extra></extra>"))
    fig.update_layout(title=f"{target}: main effects (diagonal) and interactions", height=460,
                      yaxis=dict(autorange="reversed"), margin=dict(l=10, r=10, t=40, b=10))
    return fig


def ranking_bars(values: pd.Series, *, xaxis_title: str, top: int = 20) -> go.Figure:
    """Horizontal bars of the ``top`` largest values, largest first."""
    ranked = values.sort_values(ascending=False).head(top)
    fig = go.Figure(go.Bar(x=ranked.to_numpy(), y=list(ranked.index), orientation="h", marker_color=OURS))
    fig.update_layout(xaxis_title=xaxis_title, yaxis=dict(autorange="reversed"), height=max(260, 60 + 24 * len(ranked)),
                      margin=dict(l=10, r=10, t=20, b=40))
    return fig


def shap_waterfall(contributions: pd.Series, *, base_value: float, target: str, top: int = 12) -> go.Figure:
    """How one clip's prediction is built: base value, then each feature's SHAP contribution.

    Features beyond ``top`` (by |contribution|) are summed into one bar, so the last bar always
    ends at the prediction (base value plus all contributions).
    """
    ordered = contributions.reindex(contributions.abs().sort_values(ascending=False).index)
    shown, rest = ordered.head(top), ordered.iloc[top:]
    names = ["base value", *shown.index]
    values = [base_value, *shown.to_numpy()]
    measures = ["absolute"] + ["relative"] * len(shown)
    if len(rest):
        names.append(f"{len(rest)} other features")
        values.append(float(rest.sum()))
        measures.append("relative")
    names.append("prediction")
    values.append(0.0)
    measures.append("total")
    fig = go.Figure(go.Waterfall(x=values, y=names, measure=measures, orientation="h",
                                 increasing=dict(marker_color="#d62728"), decreasing=dict(marker_color="#1f77b4")))
    fig.update_layout(xaxis_title=f"{target} rating", yaxis=dict(autorange="reversed"), height=max(300, 60 + 26 * len(names)),
                      margin=dict(l=10, r=10, t=20, b=40))
    return fig


def shap_beeswarm(frame: pd.DataFrame, *, target: str) -> go.Figure:
    """One dot per clip and feature: SHAP value (x), feature (row), coloured by the feature's value."""
    order = frame.groupby("feature")["value"].apply(lambda v: v.abs().mean()).sort_values(ascending=False).index
    fig = go.Figure()
    for row, feature in enumerate(order):
        rows = frame[frame["feature"] == feature]
        spread = rows["feature_value"].to_numpy()
        scaled = (spread - spread.min()) / (np.ptp(spread) or 1.0)
        jitter = np.random.default_rng(row).uniform(-0.25, 0.25, len(rows))
        fig.add_scatter(
            x=rows["value"], y=row + jitter, mode="markers", showlegend=False,
            marker=dict(color=scaled, colorscale="Bluered", size=6, opacity=0.8, showscale=row == 0,
                        colorbar=dict(title="feature<br>value", tickvals=[0, 1], ticktext=["low", "high"])),
            customdata=np.column_stack([rows["clip_id"], spread]),
            hovertemplate=f"{feature}<br>clip %{{customdata[0]}}<br>value %{{customdata[1]:.2f}}<br>SHAP %{{x:.3f}}<extra></extra>",
        )
    fig.update_layout(xaxis_title=f"SHAP, {target} (points)", height=max(300, 60 + 30 * len(order)),
                      yaxis=dict(tickvals=list(range(len(order))), ticktext=list(order), autorange="reversed"),
                      margin=dict(l=10, r=10, t=20, b=40))
    return fig


def spectrogram_figure(
    image: np.ndarray, *, max_hz: float, seconds: float, title: str, relevance: bool = False, signed: bool = False
) -> go.Figure:
    """Draw a ``(H, W)`` image (rows = frequency, low first) on axes in seconds and Hz.

    ``relevance`` maps use a white-to-red scale over [0, 1]; ``signed`` ones a diverging blue-white-red
    scale over [-1, 1] (blue: evidence against the explained class).
    """
    h, w = image.shape
    fig = go.Figure(
        go.Heatmap(
            z=image,
            x=np.linspace(0, seconds, w),
            y=np.linspace(0, max_hz, h),
            colorscale="RdBu_r" if signed else (RELEVANCE if relevance else "Viridis"),
            zmin=-1 if signed else 0,
            zmax=1,
            colorbar=dict(title="relevance" if relevance else "level"),
            hovertemplate="%{x:.2f} s, %{y:.0f} Hz: %{z:.2f}<extra></extra>",
        )
    )
    fig.update_layout(title=title, xaxis_title="time (s)", yaxis_title="frequency (Hz)", height=320, margin=dict(l=10, r=10, t=40, b=40))
    return fig


TOP_PERCENTS: tuple[int, ...] = (5, 10, 20)
"""Shares of a map's pixels the overlay can highlight: its most relevant 5, 10 or 20 %."""


REGION = 8
"""Side (pixels) of the square regions the overlay ranks: pixel-level maps are speckle, regions show
where relevance concentrates (a 224 x 224 map has 28 x 28 regions)."""


def pooled_relevance(relevance: np.ndarray, *, size: int) -> np.ndarray:
    """Relevance summed over ``size`` x ``size`` regions, spread back over each region's pixels: ``(H, W)``.

    Edge regions of a map whose sides are not multiples of ``size`` are summed over what they hold.
    """
    if size <= 1:
        return relevance
    h, w = relevance.shape
    padded = np.zeros((-(-h // size) * size, -(-w // size) * size), dtype=np.float64)
    padded[:h, :w] = relevance
    sums = padded.reshape(padded.shape[0] // size, size, padded.shape[1] // size, size).sum(axis=(1, 3))
    return np.repeat(np.repeat(sums, size, axis=0), size, axis=1)[:h, :w]


def top_relevance_mask(relevance: np.ndarray, *, percent: float, signed: bool, region: int = 1) -> np.ndarray:
    """Mark the ``percent`` % of pixels with the largest |R| (per-map percentile scale).

    The result is a float map: ``+1`` (evidence for the explained class), ``-1`` (against; signed
    maps only), NaN elsewhere.

    With ``region > 1`` the ranking is of ``region`` x ``region`` regions by their summed relevance
    (net evidence for a signed map), each region painted whole. Ties at the cut are all kept, so a
    flat map highlights everything (it does not single anything out).
    """
    relevance = pooled_relevance(np.asarray(relevance, dtype=np.float64), size=region)
    magnitude = np.abs(relevance) if signed else np.clip(relevance, 0.0, None)
    if not np.any(magnitude > 0):
        return np.full(relevance.shape, np.nan, dtype=np.float32)
    cut = np.quantile(magnitude, 1.0 - percent / 100.0)
    chosen = (magnitude >= cut) & (magnitude > 0)
    return np.where(chosen, np.sign(relevance) if signed else 1.0, np.nan).astype(np.float32)


def _compact(values: np.ndarray) -> np.ndarray:
    """Return a figure's array as float32.

    Plotly ships arrays as typed binary, so this halves what a page sends to the browser, and a map
    drawn in colour needs no more precision.
    """
    return np.asarray(values, dtype=np.float32)


def relevance_overlay(
    image: np.ndarray, relevance: np.ndarray, *, max_hz: float, seconds: float, title: str, signed: bool, opacity: float,
    top_percent: float | None = 10, height: int = 380, show_scale: bool = True,
) -> go.Figure:
    """Draw the spectrogram ``(H, W)`` in grey with a relevance map ``(h, w)`` laid over it.

    With ``top_percent`` (the default, 10) only the map's most relevant 8 x 8 regions are painted, at
    ``opacity``: red where they are evidence for the explained class, blue (signed maps) where they
    are evidence against it; every other pixel shows the spectrogram. The percentile is per map, so
    maps of methods with different units read alike. ``top_percent=None`` paints the whole map with
    alpha rising like sqrt(|R|) (maps are scaled to max |R| = 1). ``opacity`` 0 shows the spectrogram alone.
    """
    h, w = image.shape
    x, y = np.linspace(0, seconds, w), np.linspace(0, max_hz, h)
    rx, ry = np.linspace(0, seconds, relevance.shape[1]), np.linspace(0, max_hz, relevance.shape[0])
    a = float(np.clip(opacity, 0.0, 1.0))
    image, relevance = _compact(image), _compact(relevance)
    fig = go.Figure()
    fig.add_heatmap(z=image, x=x, y=y, colorscale="Greys", reversescale=True, showscale=False,
                    hovertemplate="%{x:.2f} s, %{y:.0f} Hz: level %{z:.2f}<extra></extra>")
    if top_percent is not None:
        mask = top_relevance_mask(relevance, percent=float(top_percent), signed=signed, region=REGION).astype(np.float32)
        colours = [[0.0, f"rgba(31,119,180,{a:.3f})"], [0.5, "rgba(255,255,255,0.000)"], [1.0, f"rgba(214,39,40,{a:.3f})"]]
        fig.add_heatmap(z=mask, x=rx, y=ry, colorscale=colours, zmin=-1, zmax=1, showscale=False,
                        customdata=relevance, hoverongaps=False,
                        hovertemplate=f"%{{x:.2f}} s, %{{y:.0f}} Hz: in the top {top_percent:g} %, relevance %{{customdata:.2f}}<extra></extra>")
    else:
        # Alpha rises like sqrt(|R|): maps are scaled to max |R| = 1, and most relevance sits well below it.
        ramp = np.linspace(0.0, 1.0, 11)
        red = [[float(r), f"rgba(214,39,40,{a * np.sqrt(r):.3f})"] for r in ramp]
        diverging = [[float(0.5 - r / 2), f"rgba(31,119,180,{a * np.sqrt(r):.3f})"] for r in ramp[::-1]] + [
            [float(0.5 + r / 2), f"rgba(214,39,40,{a * np.sqrt(r):.3f})"] for r in ramp[1:]]
        fig.add_heatmap(z=relevance, x=rx, y=ry, colorscale=diverging if signed else red, zmin=-1 if signed else 0, zmax=1,
                        showscale=show_scale, colorbar=dict(title="relevance"),
                        hovertemplate="%{x:.2f} s, %{y:.0f} Hz: relevance %{z:.2f}<extra></extra>")
    fig.update_layout(title=title, xaxis_title="time (s)", yaxis_title="frequency (Hz)", height=height,
                      margin=dict(l=10, r=10, t=40, b=40))
    return finish(fig)


def relevance_grid(
    image: np.ndarray, maps: dict[str, tuple[np.ndarray, bool]], *, max_hz: float, seconds: float, top_percent: float,
    columns: int = 3, reference: str = "random",
) -> go.Figure:
    """Every method's map for one clip, side by side: one panel per ``maps`` entry ``name -> (R, signed)``.

    Each panel highlights the map's top ``top_percent`` % of 8 x 8 regions by summed relevance over the
    spectrogram in grey (red:
    for the explained class, blue: against). The ``reference`` method (the random map) is titled as
    the chance reference, so that structure in it is read as what chance looks like.
    """
    from plotly.subplots import make_subplots

    names = list(maps)
    rows = max(1, -(-len(names) // columns))
    titles = [f"{n} (chance reference)" if n == reference else n for n in names]
    fig = make_subplots(rows=rows, cols=columns, subplot_titles=titles, horizontal_spacing=0.03, vertical_spacing=0.12)
    h, w = image.shape
    x, y = np.linspace(0, seconds, w), np.linspace(0, max_hz, h)
    image = _compact(image)
    colours = [[0.0, "rgba(31,119,180,0.85)"], [0.5, "rgba(255,255,255,0.000)"], [1.0, "rgba(214,39,40,0.85)"]]
    for i, name in enumerate(names):
        relevance, signed = maps[name]
        row, col = i // columns + 1, i % columns + 1
        fig.add_heatmap(z=image, x=x, y=y, colorscale="Greys", reversescale=True, showscale=False, hoverinfo="skip",
                        row=row, col=col)
        mask = top_relevance_mask(relevance, percent=top_percent, signed=signed, region=REGION).astype(np.float32)
        fig.add_heatmap(z=mask, x=np.linspace(0, seconds, relevance.shape[1]), y=np.linspace(0, max_hz, relevance.shape[0]),
                        colorscale=colours, zmin=-1, zmax=1, showscale=False, hoverongaps=False,
                        hovertemplate=f"{name}: %{{x:.2f}} s, %{{y:.0f}} Hz<extra></extra>", row=row, col=col)
    fig.update_xaxes(showticklabels=False)
    fig.update_yaxes(showticklabels=False)
    fig.update_layout(height=230 * rows + 40, margin=dict(l=10, r=10, t=40, b=10),
                      title=f"Top {top_percent:g} % of 8 × 8 regions per method (red: for the predicted class, blue: against)")
    return finish(fig)


def stem_share_bars(shares: pd.DataFrame) -> go.Figure:
    """Relevance share against area share per stem (synthetic corpus only)."""
    fig = go.Figure()
    fig.add_bar(x=shares["stem"], y=shares["relevance_share"], name="share of relevance", marker_color="#d62728")
    fig.add_bar(x=shares["stem"], y=shares["area_share"], name="share of time-frequency bins", marker_color=THESIS)
    fig.update_layout(barmode="group", yaxis=dict(title="share", tickformat=".0%"), height=280,
                      margin=dict(l=10, r=10, t=20, b=40), legend=dict(orientation="h", y=1.15))
    return fig


def training_curves(history: pd.DataFrame) -> go.Figure:
    """Training and validation loss per epoch, one pair of lines per seed."""
    fig = go.Figure()
    for seed, rows in history.groupby("seed"):
        fig.add_scatter(x=rows["epoch"], y=rows["train_loss"], mode="lines", name=f"train, seed {seed}")
        fig.add_scatter(x=rows["epoch"], y=rows["val_loss"], mode="lines", line=dict(dash="dash"), name=f"validation, seed {seed}")
    fig.update_layout(xaxis_title="epoch", yaxis_title="loss", height=300, margin=dict(l=10, r=10, t=20, b=40))
    return fig


def descriptor_scatter(frame: pd.DataFrame, *, estimate: str, names: Sequence[str]) -> go.Figure:
    """One panel per descriptor: annotated value (x) against ``estimate`` column (y), test clips highlighted."""
    from plotly.subplots import make_subplots

    columns = min(4, len(names))
    rows = (len(names) + columns - 1) // columns
    fig = make_subplots(rows=rows, cols=columns, subplot_titles=list(names), horizontal_spacing=0.06, vertical_spacing=0.15)
    for i, name in enumerate(names):
        panel = frame[frame["name"] == name]
        # grey train, orange val, red test: distinct in hue and lightness (colour-blind safe)
        for split, colour, symbol in (("train", "#bdbdbd", "circle"), ("val", "#ff7f0e", "diamond"), ("test", "#d62728", "circle")):
            part = panel[panel["split"] == split]
            fig.add_scatter(
                x=part["annotated"], y=part[estimate], mode="markers", marker=dict(size=5, color=colour, opacity=0.8, symbol=symbol),
                name=split, legendgroup=split, showlegend=i == 0, row=i // columns + 1, col=i % columns + 1,
                customdata=part["clip_id"], hovertemplate="%{customdata}: annotated %{x:.2f}, " + estimate + " %{y:.2f}<extra></extra>",
            )
    fig.update_xaxes(range=[-0.05, 1.05], title_text="annotated")
    fig.update_yaxes(range=[-0.05, 1.05], title_text=estimate)
    fig.update_layout(height=max(300 * rows, 380), margin=dict(l=10, r=10, t=40, b=40), legend=dict(orientation="h", y=1.08))
    return fig


def perturbation_curves(curves: pd.DataFrame, *, removal: str, curve: str) -> go.Figure:
    """Draw the probability of the explained class against the share of tiles removed.

    ``curve`` is ``morf`` (most relevant first) or ``lerf`` (least relevant first); one line per
    method, and the random tile order as a dashed grey reference.
    """
    rows = curves[(curves["removal"] == removal) & (curves["curve"] == curve)]
    fig = go.Figure()
    for method, part in rows[rows["method"] != "random order"].groupby("method"):
        fig.add_scatter(x=part["fraction"], y=part["probability"], mode="lines+markers", name=method)
    chance = rows[rows["method"] == "random order"]
    fig.add_scatter(x=chance["fraction"], y=chance["probability"], mode="lines", name="random order",
                    line=dict(dash="dash", color="grey"))
    better = "lower is more faithful" if curve == "morf" else "higher is more faithful"
    label = "most relevant first" if curve == "morf" else "least relevant first"
    fig.update_layout(title=f"{removal}: {label} ({better})", xaxis=dict(title="share of tiles removed", tickformat=".0%"),
                      yaxis=dict(title="p(explained class)", range=[0, 1]), height=340, margin=dict(l=10, r=10, t=40, b=40))
    return fig


def interval_forest(frame: pd.DataFrame, *, xaxis_title: str, reference: float = 0.0) -> go.Figure:
    """Draw one point with its 95 % CI per row, a dashed line at ``reference`` (no difference, no agreement).

    Parameters
    ----------
    frame : pd.DataFrame
        Rows with ``label`` (the y axis, top to bottom), ``value``, ``low``, ``high``.
    xaxis_title : str
        What the values are.
    reference : float
        Where the dashed line goes. A point whose CI excludes it is drawn in colour, one whose CI
        contains it in grey.
    """
    excludes = (frame["low"] > reference) | (frame["high"] < reference)
    fig = go.Figure()
    for clear, name, colour in ((True, f"CI excludes {reference:g}", OURS), (False, f"CI contains {reference:g}", THESIS)):
        rows = frame[excludes == clear]
        fig.add_scatter(
            x=rows["value"], y=rows["label"], mode="markers", name=name, marker=dict(color=colour, size=9),
            error_x=dict(type="data", symmetric=False, array=rows["high"] - rows["value"],
                         arrayminus=rows["value"] - rows["low"], visible=True, color=colour),
            hovertemplate="%{y}<br>%{x:+.3f}<extra></extra>",
        )
    fig.add_vline(x=reference, line_dash="dash", line_color="black")
    fig.update_layout(xaxis_title=xaxis_title, height=max(240, 80 + 28 * len(frame)), margin=dict(l=10, r=10, t=30, b=40),
                      yaxis=dict(autorange="reversed", categoryorder="array", categoryarray=list(frame["label"])),
                      legend=dict(orientation="h", y=1.08))
    return fig


def confusion_heatmap(counts: pd.DataFrame, *, title: str = "") -> go.Figure:
    """Draw a confusion matrix (rows: true class, columns: predicted) as a heatmap with the counts printed."""
    fig = go.Figure(go.Heatmap(
        z=counts.to_numpy(), x=[f"predicted {c}" for c in counts.columns], y=[f"true {c}" for c in counts.index],
        colorscale="Blues", showscale=False, text=counts.to_numpy(), texttemplate="%{text}", textfont=dict(size=18),
        hovertemplate="%{y}, %{x}: %{z}<extra></extra>",
    ))
    fig.update_layout(title=title, height=300, margin=dict(l=10, r=10, t=50, b=40), yaxis=dict(autorange="reversed"))
    return fig
