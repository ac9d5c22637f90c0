"""The main pages in a real headless browser: Debian's chromium, driven by Playwright.

A Streamlit server is started on the entry script (``dashboard/Home.py``) with the tiny profile's
database (or ``$MER_BROWSER_DB``) pinned through ``$MER_DB``. Every page is saved as a PNG and checked
not to be blank; with ``$MER_SCREENSHOTS`` set to a folder the PNGs are kept there (the README's
screenshot is made this way from the demo database), otherwise in the test's temporary folder.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

CHROMIUM = Path("/usr/bin/chromium")
REPOSITORY = Path(__file__).resolve().parents[1]
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium not installed (make browser-deps)"),
]
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def streamlit_server(**env: str):
    """Run ``streamlit run dashboard/Home.py`` on a free loopback port with ``env`` added; yield its address."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "dashboard/Home.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=REPOSITORY, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while time.time() < deadline:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.5)
        else:
            process.kill()
            pytest.fail("streamlit did not start: " + process.stdout.read().decode(errors="replace")[-2000:])
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.fixture(scope="module")
def server(tiny_db):
    with streamlit_server(MER_DB=os.environ.get("MER_BROWSER_DB", str(tiny_db))) as url:
        yield url


@pytest.fixture(scope="module")
def page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        yield page
        browser.close()


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory) -> Path:
    folder = os.environ.get("MER_SCREENSHOTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


def open_page(page, url: str, *, wait_for: str, charts: int = 0) -> None:
    """Load a page, wait for a text and for ``charts`` Plotly charts, and check no exception is shown."""
    page.goto(url)
    page.get_by_text(wait_for, exact=False).first.wait_for(timeout=90_000)
    if charts:
        page.locator(".js-plotly-plot").nth(charts - 1).wait_for(timeout=90_000)
    assert_no_exception(page)


def assert_no_exception(page) -> None:
    errors = page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]')
    assert errors.count() == 0, errors.first.inner_text()


def assert_not_blank(path: Path) -> None:
    """Assert that a screenshot shows a page: many distinct colours and a spread of brightness.

    A blank, a one-colour or a skeleton-only page has a few dozen colours and almost no spread.
    """
    from PIL import Image

    with Image.open(path) as image:
        rgb = image.convert("RGB")
        width, height = rgb.size
        colours = rgb.getcolors(maxcolors=width * height)
        pixels = np.asarray(rgb, dtype=np.float32)
    assert width >= 800 and height >= 600, (width, height)
    assert len(colours) > 300, f"{path.name}: only {len(colours)} distinct colours"
    assert pixels.std() > 15, f"{path.name}: pixel standard deviation {pixels.std():.1f}"
    # Something is drawn beyond the sidebar and the title: the lower half of the page is not empty.
    assert pixels[height // 2:].std() > 10, f"{path.name}: the lower half is blank"


def screenshot(page, folder: Path, name: str) -> Path:
    """Save the whole page as ``<folder>/<name>.png`` once it has stopped running, and check it is not blank."""
    wait_until_idle(page)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert_not_blank(path)
    return path


def wait_until_idle(page, timeout: float = 90) -> None:
    """Wait until the script has finished its run (Streamlit shows a status widget while it runs)."""
    deadline = time.time() + timeout
    page.wait_for_timeout(300)
    while page.locator('[data-testid="stStatusWidget"]').count() and time.time() < deadline:
        page.wait_for_timeout(200)


def test_home_in_a_browser(server, page, screenshots):
    open_page(page, server, wait_for="Headline figures")
    page.locator('[data-testid="stMetric"]').nth(3).wait_for(timeout=60_000)
    assert page.get_by_role("heading", name="Explainable Music Emotion Recognition").is_visible()
    assert page.get_by_text("Perceptual Happy/Sad, balanced accuracy").count() == 1
    links = page.locator('[data-testid="stPageLink"]')
    links.nth(5).wait_for(timeout=60_000)
    assert links.count() == 6
    for text in ("1 · Which input", "4 · Where does the ViT err", "6 · Explain a clip of your own"):
        assert page.get_by_text(text, exact=False).first.is_visible(), text
    assert page.get_by_text("read-only").first.is_visible()  # hosted mode: the database is pinned
    screenshot(page, screenshots, "home")
    # The guided path leads to the confusion browser.
    page.get_by_text("4 · Where does the ViT err", exact=False).first.click()
    page.wait_for_url(re.compile(r"/confusion(\?.*)?$"), timeout=30_000)
    page.get_by_role("heading", name="Confusion browser").wait_for(timeout=60_000)


def click_matrix_cell(page, row: int, column: int) -> None:
    """Click a count of the confusion matrix, the first dataframe on the page.

    It is drawn on a canvas: the header row then "true Happy" and "true Sad", all of one height; the
    index column "actual" (short labels, the narrowest) then "predicted Happy" and "predicted Sad" of
    about equal widths.
    """
    grid = page.locator('[data-testid="stDataFrame"]').first
    grid.scroll_into_view_if_needed()
    box = grid.bounding_box()
    assert box and box["height"] > 60, box
    row_height = box["height"] / 3
    index_width = min(box["width"] * 0.3, 120)
    count_width = (box["width"] - index_width) / 2
    page.mouse.click(box["x"] + index_width + count_width * (column + 0.5), box["y"] + row_height * (row + 1.5))


def grid_cells(page, index: int, at_least: int) -> list[str]:
    """Return the texts of the cells the ``index``-th dataframe's grid renders.

    They come from its accessible table, row by row (only the rows in view), once there are
    ``at_least``: the grid redraws while the script runs.
    """
    return page.wait_for_function(
        """([index, atLeast]) => { const grid = document.querySelectorAll('[data-testid="stDataFrame"]')[index];
                   const cells = grid ? Array.from(grid.querySelectorAll('[role="gridcell"]')).map(c => c.textContent) : [];
                   return cells.length >= atLeast ? cells : null; }""", arg=[index, at_least], timeout=60_000).json_value()


def matrix_counts(page) -> dict[str, int]:
    """Return the confusion matrix's counts as ``{"<true>-<predicted>": n}``.

    The matrix is the dataframe whose first cell is "true Happy" (2 rows of the index column and two
    counts); it is found by content, since the grids of a rerun do not all appear in page order.
    """
    texts = page.wait_for_function(
        """() => { for (const grid of document.querySelectorAll('[data-testid="stDataFrame"]')) {
                     const cells = Array.from(grid.querySelectorAll('[role="gridcell"]')).map(c => c.textContent);
                     if (cells.length >= 6 && cells[0] === 'true Happy') return cells; }
                   return null; }""", timeout=60_000).json_value()
    return {f"{actual}-{predicted}": int(texts[3 * i + 1 + j])
            for i, actual in enumerate(("happy", "sad")) for j, predicted in enumerate(("happy", "sad"))}


def select_cell(page, cell: str) -> None:
    """Click a matrix cell and wait until the page shows it.

    That is the URL (which drops the default cell), the radio, its caption and the clip's heading.
    """
    actual, predicted = cell.split("-")
    row, column = ("happy", "sad").index(actual), ("happy", "sad").index(predicted)
    click_matrix_cell(page, row, column)
    caption = f"{actual.capitalize()} → {predicted.capitalize()} ("
    heading = f"true {actual.capitalize()}, predicted {predicted.capitalize()}"
    if cell == "sad-happy":
        page.wait_for_url(lambda url: "cell=" not in url, timeout=60_000)
    else:
        page.wait_for_url(re.compile(rf"[?&]cell={cell}(&|$)"), timeout=60_000)
    page.get_by_text(caption, exact=False).first.wait_for(timeout=60_000)
    page.get_by_role("heading", name=re.compile(heading)).wait_for(timeout=60_000)
    wait_until_idle(page)
    assert page.get_by_role("radio", name=cell).is_checked()
    assert_no_exception(page)


def audio_sources(page) -> list[str]:
    return page.locator("audio").evaluate_all("els => els.map(e => e.src)")


def play_and_check(audio) -> None:
    """Play an <audio> element (autoplay is allowed by the browser's flags) and check it really plays."""
    audio.scroll_into_view_if_needed()
    duration = audio.evaluate(
        "e => new Promise(r => { if (e.readyState >= 1) r(e.duration); e.addEventListener('loadedmetadata', () => r(e.duration)); "
        "e.addEventListener('error', () => r(-1)); e.load(); })")
    assert duration > 0, duration  # the clip decodes in the browser
    audio.evaluate("e => e.play()")
    audio.page.wait_for_function("e => !e.paused && e.currentTime > 0.2", arg=audio.element_handle(), timeout=20_000)
    state = audio.evaluate("e => ({paused: e.paused, time: e.currentTime, error: e.error && e.error.code})")
    assert state["paused"] is False and state["time"] > 0.2 and state["error"] is None, state


def test_confusion_browser_selects_a_cell_and_plays_its_sonification(server, page, screenshots):
    open_page(page, f"{server}/confusion", wait_for="Click a cell")
    counts = matrix_counts(page)
    filled = [c for c in ("happy-sad", "sad-sad", "happy-happy") if counts[c] > 0]
    if not filled or counts["sad-happy"] == 0:
        pytest.skip(f"the model fills too few cells of the matrix to click between them: {counts}")
    page.locator(".js-plotly-plot").first.wait_for(timeout=90_000)
    page.locator("audio").nth(2).wait_for(state="attached", timeout=60_000)
    assert page.get_by_text("Sad → Happy (", exact=False).count() == 1  # the default cell
    default_sources = audio_sources(page)
    assert len(default_sources) == 3 and all(default_sources)  # original, sonified, complement

    # Click another filled cell, "true Happy" × "predicted Sad" if it has clips: the URL, the cell radio and
    # its caption, the clip and its audio follow.
    select_cell(page, filled[0])
    # the players are replaced after the heading: wait for the new clip's audio
    page.wait_for_function("old => { const s = [...document.querySelectorAll('audio')].map(e => e.src); "
                           "return s.length === 3 && s.every(Boolean) && JSON.stringify(s) !== JSON.stringify(old); }",
                           arg=default_sources, timeout=30_000)
    sources = audio_sources(page)
    assert len(sources) == 3 and all(sources) and sources != default_sources
    play_and_check(page.locator("audio").nth(1))  # what the model used
    screenshot(page, screenshots, "confusion_browser_listen")
    page.locator("audio").nth(1).evaluate("e => e.pause()")

    # Back to "true Sad" × "predicted Happy" (the default: the URL drops it), the view the README shows.
    select_cell(page, "sad-happy")
    assert audio_sources(page) == default_sources
    play_and_check(page.locator("audio").nth(1))
    page.locator("audio").nth(1).evaluate("e => e.pause()")
    page.get_by_text("Relevance opacity").scroll_into_view_if_needed()
    page.locator(".js-plotly-plot").first.scroll_into_view_if_needed()
    screenshot(page, screenshots, "confusion_browser_relevance")  # the spectrogram with the map laid over it
    page.get_by_role("heading", name="Confusion browser").scroll_into_view_if_needed()
    screenshot(page, screenshots, "confusion_browser")


def clip_table_ids(page) -> list[str]:
    """Return the clip ids of the clip table's visible rows (the second dataframe: clip_id, confidence, map_stored)."""
    return grid_cells(page, 1, 3)[::3]


def test_confusion_browser_row_click_selects_the_clip(server, page):
    open_page(page, f"{server}/confusion", wait_for="Click a cell")
    counts = matrix_counts(page)
    cell = max(counts, key=counts.get)
    if counts[cell] < 2:
        pytest.skip(f"no cell holds two clips: {counts}")
    open_page(page, f"{server}/confusion?cell={cell}", wait_for="Click a row")
    clips = clip_table_ids(page)
    assert 2 <= len(clips) <= counts[cell]
    page.get_by_role("heading", name=re.compile(f"^{clips[0]}: true")).wait_for(timeout=60_000)
    # The grid is drawn on a canvas: a header row, then rows of the same height (35 px); the row's
    # selection box sits in the marker column at its left.
    grid = page.locator('[data-testid="stDataFrame"]').nth(1)
    grid.scroll_into_view_if_needed()
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 15, box["y"] + 35 * 1.5 + 35)
    page.wait_for_url(re.compile(rf"[?&]clip={clips[1]}(&|$)"), timeout=60_000)
    page.get_by_role("heading", name=re.compile(f"^{clips[1]}: true")).wait_for(timeout=60_000)
    wait_until_idle(page)
    assert_no_exception(page)
    assert page.locator("audio").count() == 3


def test_confusion_browser_deep_link_with_a_live_gain(server, page):
    # ?page= names the page; the other parameters travel with it. p = 1.5 is no precomputed gain.
    open_page(page, f"{server}/?page=confusion&method=rollout&p=1.5", wait_for="rollout; re-sonified live", charts=1)
    page.wait_for_url(re.compile(r"/confusion\?"), timeout=30_000)
    assert "method=rollout" in page.url and "p=1.5" in page.url and "page=" not in page.url
    assert page.locator("audio").count() == 3
    play_and_check(page.locator("audio").nth(1))
    page.locator("audio").nth(1).evaluate("e => e.pause()")


# Every drawn Plotly title (chart and axes) with the box of its chart's SVG, in page pixels.
TITLE_BOXES = """
() => [...document.querySelectorAll('.js-plotly-plot')].flatMap(plot => {
  const svg = plot.querySelector('.main-svg');
  if (!svg || !plot.checkVisibility()) return [];
  const frame = svg.getBoundingClientRect();
  return [...plot.querySelectorAll('.gtitle, .g-xtitle text, .g-ytitle text, .g-x2title text, .g-y2title text')]
    .filter(t => t.textContent.trim())
    .map(t => { const b = t.getBoundingClientRect();
                return {text: t.textContent, left: b.left - frame.left, top: b.top - frame.top,
                        right: frame.right - b.right, bottom: frame.bottom - b.bottom}; });
})
"""


def assert_titles_inside_their_charts(page, where: str) -> None:
    """No chart or axis title runs past its chart's edge, where the browser would clip it."""
    boxes = page.evaluate(TITLE_BOXES)
    assert boxes, f"{where}: no titles drawn"
    clipped = [b for b in boxes if min(b["left"], b["top"], b["right"], b["bottom"]) < -1]
    assert not clipped, f"{where}: titles cut at the chart's edge: {clipped}"


def test_feature_sets_and_midlevel_pages_draw_their_charts(server, page, screenshots):
    open_page(page, f"{server}/feature_sets", wait_for="mean over the emotion scales", charts=1)
    wait_until_idle(page)
    assert_titles_inside_their_charts(page, "feature sets")
    screenshot(page, screenshots, "feature_sets")
    open_page(page, f"{server}/midlevel", wait_for="Standardised coefficients", charts=2)
    wait_until_idle(page)
    assert_titles_inside_their_charts(page, "mid-level explanations")
    screenshot(page, screenshots, "midlevel_explanations")


def test_attribution_quality_leads_with_the_causal_verdict(server, page, screenshots):
    open_page(page, f"{server}/attribution_quality?model=Perceptual/log_spectrogram_224/cnn",
              wait_for="Ground truth: does the map find what the model needs?", charts=2)
    assert page.get_by_text("support", exact=False).count() >= 1  # the one-sentence verdict
    screenshot(page, screenshots, "attribution_quality")
