"""The main pages in a real headless browser: Debian's chromium, driven by Playwright.

A Streamlit server is started on the tiny profile's database (or on ``$MER_BROWSER_DB``); with
``$MER_SCREENSHOTS`` set to a folder, each page is also saved there as a PNG (the README's
screenshot is made this way from the demo database).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

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


@pytest.fixture(scope="module")
def server(tiny_db):
    db = Path(os.environ.get("MER_BROWSER_DB", tiny_db))
    port = free_port()
    env = {**os.environ, "MER_DB": str(db)}
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "dashboard/Home.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true"],
        cwd=REPOSITORY, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
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
    process.terminate()
    process.wait(timeout=20)


@pytest.fixture(scope="module")
def page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        yield page
        browser.close()


def open_page(page, url: str, *, wait_for: str, charts: int = 0) -> None:
    """Load a page, wait for a text and for ``charts`` Plotly charts, and check no exception is shown."""
    page.goto(url)
    page.get_by_text(wait_for, exact=False).first.wait_for(timeout=90_000)
    if charts:
        page.locator(".js-plotly-plot").nth(charts - 1).wait_for(timeout=90_000)
    assert page.locator('[data-testid="stException"]').count() == 0, page.locator('[data-testid="stException"]').first.inner_text()


def screenshot(page, name: str) -> None:
    folder = os.environ.get("MER_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def test_home_in_a_browser(server, page):
    open_page(page, server, wait_for="Headline figures")
    page.locator('[data-testid="stMetric"]').nth(3).wait_for(timeout=60_000)
    assert page.get_by_text("ViT Happy/Sad accuracy").count() == 1
    screenshot(page, "home")


def test_confusion_browser_plays_original_sonified_and_complement_audio(server, page):
    open_page(page, f"{server}/Confusion_browser", wait_for="Listen", charts=3)
    page.locator("audio").first.wait_for(timeout=60_000)
    sources = page.locator("audio").evaluate_all("els => els.map(e => e.src)")
    assert len(sources) == 3 and all(sources)  # original, sonified, complement
    ready = page.locator("audio").evaluate_all(
        "async els => Promise.all(els.map(e => new Promise(r => { if (e.readyState >= 1) r(e.duration); "
        "e.addEventListener('loadedmetadata', () => r(e.duration)); e.addEventListener('error', () => r(-1)); e.load(); })))"
    )
    assert all(d > 0 for d in ready), ready  # every clip decodes in the browser
    screenshot(page, "confusion_browser")


def test_compare_and_midlevel_pages_draw_their_charts(server, page):
    open_page(page, f"{server}/Compare_models", wait_for="mean over targets", charts=2)
    screenshot(page, "compare_models")
    open_page(page, f"{server}/Mid-level_explanations", wait_for="SHAP: global importance", charts=4)
    screenshot(page, "midlevel_explanations")
