"""Exports for a reviewer's report: tables as CSV or LaTeX, figures as PNG or SVG.

Pure functions (no Streamlit). Figures are rendered by Kaleido, which drives the system's Chromium
(Debian ``chromium``): the same browser the end-to-end tests use, so no extra download.
"""

from __future__ import annotations

import re
import shutil
from typing import Iterable

import pandas as pd
import plotly.graph_objects as go

FIGURE_FORMATS: tuple[str, ...] = ("png", "svg")


def file_stem(name: str) -> str:
    """Return a safe file name stem: ``"A2E: r per target"`` → ``"a2e_r_per_target"``."""
    stem = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    return stem or "export"


def has_named_index(frame: pd.DataFrame) -> bool:
    """Whether the index carries names (a pivot table's rows), and so belongs in what is shown and exported."""
    return any(name is not None for name in frame.index.names)


def table_csv(frame: pd.DataFrame) -> bytes:
    """UTF-8 CSV of ``frame`` (index kept only when it carries names, e.g. a pivot table)."""
    return frame.to_csv(index=has_named_index(frame)).encode("utf-8")


def table_latex(frame: pd.DataFrame, *, caption: str, digits: int = 3) -> str:
    """Return a ``booktabs`` LaTeX table of ``frame`` with its caption.

    Text is escaped, floats get ``digits`` decimals.
    """
    return frame.to_latex(
        index=has_named_index(frame),
        escape=True,
        float_format=f"%.{digits}f",
        caption=caption.replace("_", r"\_"),
        label=f"tab:{file_stem(caption)}",
        na_rep="--",
    )


def image_export_available() -> bool:
    """Whether figures can be rendered to PNG/SVG here (Kaleido needs a Chromium on the PATH)."""
    try:
        import kaleido  # noqa: F401
    except ImportError:
        return False
    return any(shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome", "chrome"))


def figure_image(figure: go.Figure, *, format: str, width: int = 1000, height: int | None = None) -> bytes:
    """``figure`` as PNG (2× scale) or SVG bytes.

    Raises
    ------
    ValueError
        ``format`` is not one of :data:`FIGURE_FORMATS`.
    """
    if format not in FIGURE_FORMATS:
        raise ValueError(f"figure format must be one of {FIGURE_FORMATS}, got {format!r}")
    height = height or int(figure.layout.height or 450)
    return figure.to_image(format=format, width=width, height=height, scale=2 if format == "png" else 1)


def figure_images(figures: Iterable[tuple[go.Figure, int]], *, format: str = "png", scale: float = 1.5) -> list[bytes]:
    """Render many figures in one Kaleido browser session: ``(figure, width in px)`` each, in order.

    One session costs a few seconds to start and a fraction of a second per figure, against a new
    browser per :func:`figure_image` call. ``figures`` may be a generator that waits for figures still
    being made (the browser starts meanwhile). Runs in a worker thread, so it works whether or not
    the caller is inside an event loop.

    Raises
    ------
    ValueError
        ``format`` is not one of :data:`FIGURE_FORMATS`.
    """
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    import kaleido

    if format not in FIGURE_FORMATS:
        raise ValueError(f"figure format must be one of {FIGURE_FORMATS}, got {format!r}")
    pending = iter(figures)

    async def render() -> list[bytes]:
        out = []
        async with kaleido.Kaleido(n=1) as browser:
            while (item := await asyncio.to_thread(next, pending, None)) is not None:
                figure, width = item
                out.append(await browser.calc_fig(figure.to_dict(), opts=dict(format=format, width=width, scale=scale,
                                                                              height=int(figure.layout.height or 450))))
        return out

    with ThreadPoolExecutor(max_workers=1) as worker:
        return worker.submit(asyncio.run, render()).result()
