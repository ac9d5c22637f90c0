"""Streamlit glue shared by the pages: database choice, cached queries, audio and relevance views."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Concatenate, ParamSpec, TypeVar

import duckdb
import pandas as pd
import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError

from dashboard import export, figures, queries
from results import store
from results.schema import SCHEMA_VERSION

P = ParamSpec("P")
R = TypeVar("R")

BUILD_HELP = """
No results database yet. Build the demo one (synthetic corpus, a few minutes on a laptop CPU):

```
python -m precompute run --profile demo
```

then reload this page. To use your own data, see the README ("Real data").
"""


@st.cache_resource(max_entries=4, show_spinner=False)
def _connection(path: str, modified: float) -> duckdb.DuckDBPyConnection:
    # ``modified`` is part of the cache key: a rebuilt (swapped-in) database gets a new connection.
    return store.connect_read_only(Path(path))


@st.cache_data(max_entries=256, show_spinner=False)
def _cached(path: str, modified: float, name: str, args: tuple, kwargs: tuple) -> Any:
    return getattr(queries, name)(_connection(path, modified), *args, **dict(kwargs))


def read(path: Path, query: Callable[Concatenate[duckdb.DuckDBPyConnection, P], R], *args: P.args, **kwargs: P.kwargs) -> R:
    """``query(connection, *args, **kwargs)`` on the results database at ``path``, cached on the file's modification time.

    ``query`` is a function of :mod:`dashboard.queries` (pages pass the function, so its signature and
    return type are checked and go-to-definition works); the cache keys on its name and arguments.
    """
    name = query.__name__
    if getattr(queries, name, None) is not query:
        raise ValueError(f"{name} is not a query of dashboard.queries")
    return _cached(str(path), path.stat().st_mtime, name, args, tuple(sorted(kwargs.items())))


def page(title: str) -> None:
    """Show the page's title; call first on every page (the entry script sets the layout)."""
    st.title(title)


def redirect_to_page_parameter(pages: dict[str, list[Any]]) -> None:
    """Honour ``?page=<url_path>``, a deep link that names its page as a parameter.

    Switch to that page and keep the other parameters. Unknown names are ignored.
    """
    wanted = st.query_params.get("page")
    if not wanted:
        return
    by_path = {p.url_path: p for section in pages.values() for p in section}
    rest = {k: v for k, v in st.query_params.to_dict().items() if k != "page"}
    if wanted in by_path:
        st.switch_page(by_path[wanted], query_params=rest)
    del st.query_params["page"]


def pinned_database() -> Path | None:
    """Return the database a hosted deployment pins: ``$MER_DB``, else ``MER_DB`` in ``.streamlit/secrets.toml``."""
    if os.environ.get("MER_DB"):
        return Path(os.environ["MER_DB"])
    try:
        value = st.secrets.get("MER_DB")
    except (FileNotFoundError, StreamlitSecretNotFoundError):
        value = None
    return Path(str(value)) if value else None


def run_label(path: Path) -> str:
    """``demo · synthetic · finished 2026-11-25 14:03`` for a results database (its newest run)."""
    try:
        runs = read(path, queries.runs)
    except duckdb.Error:
        return f"{path.stem} · unreadable"
    if runs.empty:
        return f"{path.stem} · no run recorded"
    newest = runs.iloc[0]
    when = newest["finished_at"] if newest["status"] == "finished" else newest["started_at"]
    stamp = f" {when:%Y-%m-%d %H:%M}" if when is not None and when == when else ""
    return f"{path.stem} · {newest['dataset']} · {newest['status']}{stamp}"


def run_selector() -> None:
    """Sidebar choice of the run (one results database = one profile build), kept in ``?run=``.

    In hosted mode the pinned database is shown instead and nothing can be chosen. Every page reads
    the choice through :func:`database`.
    """
    pinned = pinned_database()
    if pinned is not None:
        st.sidebar.caption(f"Results database: `{pinned.name}` (read-only)")
        return
    found = {p.stem: p for p in store.available_databases()}
    if not found:
        return
    # Bound widgets keep their *label* in the URL, so the options are the plain file stems.
    chosen = st.sidebar.selectbox("Run", list(found), key="run", bind="query-params",
                                  help="One results database per profile build (`data/<run>.duckdb`), newest first. "
                                       "Its provenance is on Home.")
    st.sidebar.caption(run_label(found[chosen]))


def database() -> Path | None:
    """Return the results database every page reads.

    That is the pinned one (hosted mode), else the run chosen in the sidebar, else the newest
    database in ``data/``.
    """
    pinned = pinned_database()
    if pinned is not None:
        return pinned
    found = store.available_databases()
    chosen = st.session_state.get("run")
    for path in found:
        if path.stem == chosen:
            return path
    return found[0] if found else None


def databases() -> dict[str, Path]:
    """Return the runs on offer by name (file stem), newest first: the pinned database alone in hosted mode."""
    pinned = pinned_database()
    if pinned is not None:
        return {pinned.stem: pinned}
    return {p.stem: p for p in store.available_databases()}


def require_database(path: Path | None = None) -> Path:
    """Return the chosen database (or ``path``), or show why it cannot be read (and the page stops there)."""
    path = database() if path is None else path
    if path is None or not path.is_file():
        if path is not None:
            st.warning(f"{path} does not exist.")
        st.info(BUILD_HELP)
        st.stop()
    try:
        version = read(path, queries.schema_version)
    except duckdb.Error as error:
        st.error(f"{path} is not a readable results database: {error}")
        st.stop()
    if version != SCHEMA_VERSION:
        st.error(f"{path} was written with schema version {version}; this dashboard reads version {SCHEMA_VERSION}. "
                 "Rebuild it: `python -m precompute run --profile demo --fresh` (or your profile).")
        st.stop()
    return path


def vit_model(db: Path) -> tuple[str, str, int]:
    """Model and seed selectors for the perceptual models (ViT or CNN); returns ``(experiment_id, dataset, seed)``.

    Stops the page with a note when the database holds no perceptual model.
    """
    vits = read(db, queries.perceptual_models)
    if vits.empty:
        st.info("This database holds no perceptual (ViT or CNN) model.")
        st.stop()
    left, right = st.columns([3, 1])
    experiment = left.selectbox("Model", vits["experiment_id"].tolist(), key="model", bind="query-params")
    dataset = str(vits[vits["experiment_id"] == experiment]["dataset"].iloc[0])
    seed = right.selectbox("Seed", read(db, queries.seeds, experiment), key="seed", bind="query-params")
    return experiment, dataset, seed


@st.cache_resource(max_entries=8, show_spinner=False)
def _clip_spectrum(path: str, modified: float, dataset: str, clip_id: str) -> Any:
    from dashboard import listening  # on use: its STFT code costs every page about 0.5 s of imports

    encoded = read(Path(path), queries.original_audio, dataset=dataset, clip_id=clip_id)
    return None if encoded is None else listening.clip_spectrum(encoded)


@st.cache_data(max_entries=24, show_spinner=False)
def _resonified(path: str, modified: float, experiment: str, seed: int, dataset: str, clip_id: str, method: str,
                power: float, complement: bool) -> bytes | None:
    db = Path(path)
    clip = _clip_spectrum(path, modified, dataset, clip_id)
    stored = read(db, queries.relevance_map, experiment, seed=seed, clip_id=clip_id, method=method)
    if clip is None or stored is None:
        return None
    from dashboard import listening

    return listening.resonify(clip, stored[0], power=power, complement=complement)


def resonified(db: Path, experiment: str, *, seed: int, dataset: str, clip_id: str, method: str, power: float,
               complement: bool = False) -> bytes | None:
    """Return a WAV of the clip re-sonified live with ``A(R) = R**power``.

    It is made from the clip's stored audio and relevance map (``None`` when either is missing);
    cached per clip, method and power.
    """
    return _resonified(str(db), db.stat().st_mtime, experiment, seed, dataset, clip_id, method, float(power), complement)


def audio_player(label: str, data: bytes | None, *, format: str = "audio/ogg") -> None:
    """Show a labelled audio player for encoded audio (OGG by default), or a note when it is missing."""
    st.caption(label)
    if data is None:
        st.write("— not stored —")
    else:
        st.audio(data, format=format)


def _run_outputs(path: Path) -> dict[str, pd.DataFrame]:
    return {"experiments": read(path, queries.experiments), "regression": read(path, queries.regression_outputs),
            "decisions": read(path, queries.classifier_outputs)}


@st.cache_data(max_entries=32, show_spinner="Comparing the runs (bootstrap over clips)…")
def _compared(a: str, a_modified: float, b: str, b_modified: float, options: tuple) -> pd.DataFrame:
    from dashboard import comparison

    return comparison.compare_runs(_run_outputs(Path(a)), _run_outputs(Path(b)), same_run=a == b, **dict(options))


def compare_runs(a: Path, b: Path, **options: Any) -> pd.DataFrame:
    """Return ``comparison.compare_runs`` of two results databases (cached on both files' modification times)."""
    a, b = a.resolve(), b.resolve()
    return _compared(str(a), a.stat().st_mtime, str(b), b.stat().st_mtime, tuple(sorted(options.items())))


@st.cache_data(max_entries=4, show_spinner=False)
def _report(path: str, modified: float, base_url: str | None) -> bytes:
    from dashboard import report

    con = store.connect_read_only(Path(path))
    try:
        return report.build_report(con, run=Path(path).stem, base_url=base_url).encode("utf-8")
    finally:
        con.close()


def report_html(db: Path, *, base_url: str | None = None) -> bytes:
    """Return the one-file HTML report of a results database: the same as ``python -m precompute report`` writes."""
    return _report(str(db), db.stat().st_mtime, base_url)


def dashboard_url() -> str | None:
    """Return the address this dashboard is served at (``http://host:8501``, with its base path), or ``None``."""
    from urllib.parse import urlsplit

    url = getattr(st.context, "url", None)
    if not url:
        return None
    parts = urlsplit(url)
    base = (st.get_option("server.baseUrlPath") or "").strip("/")
    return f"{parts.scheme}://{parts.netloc}" + (f"/{base}" if base else "")


@st.cache_resource(max_entries=64, show_spinner=False)
def _figure(builder: str, args: tuple, kwargs: tuple) -> Any:
    # Building a Plotly figure (validation of every trace) costs 30-250 ms; the same data gives the same
    # figure, which Streamlit only serialises and the exports only read, so one object is shared.
    return figures.finish(getattr(figures, builder)(*args, **dict(kwargs)))


def chart(figure_builder: Callable[..., Any], *args: Any, name: str, key: str | None = None, **kwargs: Any) -> None:
    """Draw a figure from :mod:`dashboard.figures` full width, with PNG and SVG export.

    ``name`` names the exported files and must be unique on the page; ``key`` is Streamlit's element key.
    """
    if getattr(figures, figure_builder.__name__, None) is not figure_builder:
        raise ValueError(f"{figure_builder.__name__} is not a builder of dashboard.figures")
    figure = _figure(figure_builder.__name__, args, tuple(sorted(kwargs.items())))
    stem = export.file_stem(name)
    # theme=None: keep the figure's own colour scales (Streamlit's theme would recolour heatmaps).
    st.plotly_chart(figure, width="stretch", key=key, theme=None,
                    config={"toImageButtonOptions": {"format": "svg", "filename": stem}})
    if export.image_export_available():
        row = st.container(horizontal=True)
        for format in export.FIGURE_FORMATS:
            # A callable renders only when clicked: a rerun pays nothing for the export.
            row.download_button(format.upper(), data=lambda f=format: export.figure_image(figure, format=f),
                                file_name=f"{stem}.{format}", mime="image/png" if format == "png" else "image/svg+xml",
                                key=f"{key or stem}-{format}", type="tertiary", icon=":material/download:",
                                on_click="ignore")


def table(frame: pd.DataFrame, *, name: str, latex: bool = True, key: str | None = None, style: str | None = None,
          css: pd.DataFrame | None = None, na_rep: str | None = None, **kwargs: Any) -> Any:
    """``st.dataframe`` (full width, sortable, no index unless it is named) with CSV and LaTeX export.

    ``name`` is the exported file's stem and the LaTeX caption; ``style`` a format for every cell's
    display (e.g. ``"{:.2f}"``; exports keep full precision); ``css`` a same-shaped frame of CSS per
    cell (e.g. ``verdicts.heat_styles``); ``na_rep`` what a missing value shows with ``style`` (e.g.
    blank); other keyword arguments go to
    ``st.dataframe`` (e.g. ``column_config``, ``on_select``). Returns what ``st.dataframe`` returns.
    """
    kwargs.setdefault("hide_index", not export.has_named_index(frame))
    styler = frame.style if style or css is not None else None
    if style:
        styler = styler.format(style, na_rep=na_rep)
    if css is not None:
        styler = styler.apply(lambda _: css, axis=None)
    shown = st.dataframe(frame if styler is None else styler, width="stretch", key=key, **kwargs)
    stem = export.file_stem(name)
    row = st.container(horizontal=True)
    row.download_button("CSV", data=lambda: export.table_csv(frame), file_name=f"{stem}.csv", mime="text/csv",
                        key=f"{key or stem}-csv", type="tertiary", icon=":material/download:", on_click="ignore")
    if latex:
        row.download_button("LaTeX", data=lambda: export.table_latex(frame, caption=name), file_name=f"{stem}.tex",
                            mime="text/x-tex", key=f"{key or stem}-tex", type="tertiary", icon=":material/download:",
                            on_click="ignore")
    return shown


HIGHLIGHTS: list[str] = [f"top {p} %" for p in figures.TOP_PERCENTS] + ["whole map"]
"""The overlay choices of every page that shows a relevance map (the same defaults everywhere: top 10 %)."""


def top_percent(highlight: str) -> float | None:
    """``"top 10 %"`` to 10.0; ``"whole map"`` (or anything else) to None (see ``figures.relevance_overlay``)."""
    parts = highlight.split()
    return float(parts[1]) if len(parts) == 3 and parts[0] == "top" else None


def lazy_expander(label: str, *, key: str) -> Any | None:
    """Return an expander whose content is drawn only while it is open: the container when open, else None.

    A plain expander's content is computed and sent on every rerun even when closed; opening this one
    reruns the page once, and closing it stops paying for what it holds.
    """
    box = st.expander(label, key=key, on_change="rerun")
    return box if box.open else None


__all__ = ["page", "run_selector", "database", "require_database", "read", "vit_model", "audio_player", "chart", "top_percent", "HIGHLIGHTS",
           "table", "figures"]
