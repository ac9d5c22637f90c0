"""Streamlit glue shared by the pages: database choice, cached queries, audio and relevance views."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

import duckdb
import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError

from dashboard import figures, queries
from precompute.schema import SCHEMA_VERSION

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
    return queries.connect(Path(path))


@st.cache_data(max_entries=512, show_spinner=False)
def _cached(path: str, modified: float, name: str, args: tuple, kwargs: tuple) -> Any:
    return getattr(queries, name)(_connection(path, modified), *args, **dict(kwargs))


def page(title: str, *, icon: str = "🎧") -> None:
    """Page configuration and title; call first on every page."""
    st.set_page_config(page_title=f"{title} · MER workbench", page_icon=icon, layout="wide")
    st.title(title)


def pinned_database() -> Path | None:
    """The database a hosted deployment pins: ``$MER_DB``, else ``MER_DB`` in ``.streamlit/secrets.toml``."""
    if os.environ.get("MER_DB"):
        return Path(os.environ["MER_DB"])
    try:
        value = st.secrets.get("MER_DB")
    except (FileNotFoundError, StreamlitSecretNotFoundError):
        value = None
    return Path(str(value)) if value else None


def database() -> Path | None:
    """The results database to read: the pinned one (hosted mode: no choice offered), or a sidebar
    choice among the databases in ``data/`` (newest first)."""
    pinned = pinned_database()
    if pinned is not None:
        st.sidebar.caption(f"Results database: `{pinned.name}` (read-only)")
        return pinned
    found = queries.available_databases()
    if not found:
        return None
    labels = [str(p) for p in found]
    chosen = st.sidebar.selectbox("Results database", labels, index=0, key="database")
    return Path(chosen)


def require_database() -> Path:
    """The chosen database, or a message on how to build one (and the page stops there)."""
    path = database()
    if path is None or not path.is_file():
        if path is not None:
            st.warning(f"{path} does not exist.")
        st.info(BUILD_HELP)
        st.stop()
    try:
        version = query(path, "schema_version")
    except duckdb.Error as error:
        st.error(f"{path} is not a readable results database: {error}")
        st.stop()
    if version != SCHEMA_VERSION:
        st.error(f"{path} was written with schema version {version}; this dashboard reads version {SCHEMA_VERSION}. "
                 "Rebuild it: `python -m precompute run --profile demo --fresh` (or your profile).")
        st.stop()
    return path


def query(path: Path, name: str, *args: Any, **kwargs: Any) -> Any:
    """Call ``dashboard.queries.<name>`` on ``path`` with caching keyed on the file's modification time."""
    return _cached(str(path), path.stat().st_mtime, name, args, tuple(sorted(kwargs.items())))


def vit_model(db: Path) -> tuple[str, str, int]:
    """Model and seed selectors for the ViT experiments; returns ``(experiment_id, dataset, seed)``.

    Stops the page with a note when the database holds no ViT experiment.
    """
    experiments = query(db, "experiments")
    vits = experiments[experiments["route"] == "ViT"]
    if vits.empty:
        st.info("This database holds no ViT experiment.")
        st.stop()
    left, right = st.columns([3, 1])
    experiment = left.selectbox("Model", vits["experiment_id"].tolist())
    dataset = str(vits[vits["experiment_id"] == experiment]["dataset"].iloc[0])
    seed = right.selectbox("Seed", query(db, "seeds", experiment))
    return experiment, dataset, seed


def audio_player(label: str, data: bytes | None) -> None:
    """A labelled audio player for encoded audio (OGG), or a note when it is missing."""
    st.caption(label)
    if data is None:
        st.write("— not stored —")
    else:
        st.audio(data, format="audio/ogg")


def chart(figure_builder: Callable[..., Any], *args: Any, key: str | None = None, **kwargs: Any) -> None:
    """Draw a figure from :mod:`dashboard.figures` full width."""
    # theme=None: keep the figure's own colour scales (Streamlit's theme would recolour heatmaps).
    st.plotly_chart(figures.finish(figure_builder(*args, **kwargs)), width="stretch", key=key, theme=None)


__all__ = ["page", "database", "require_database", "query", "vit_model", "audio_player", "chart", "figures"]
