"""The one-click report: ``python -m precompute report`` on the tiny profile's database, read back in Chromium.

The HTML is checked to be one self-contained file whose figures are all drawn (pixel statistics of a
Chromium screenshot, per figure), whose tables sort on a click, and whose links open the dashboard
view they name (followed under AppTest); the PDF to have one page per section; the Home page's
button to give the same file as the command line.
"""

from __future__ import annotations

import base64
import io
import re
import shutil
import time
from html import unescape
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import duckdb
import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from dashboard import export, queries, report, verdicts
from precompute import cli
from precompute.report import CHROMIUM, CHROMIUM_ARGS, pdf_pages
from results.store import connect_read_only

DASHBOARD = Path(__file__).resolve().parents[1] / "dashboard"
BASE = "http://127.0.0.1:8599"
needs_chromium = pytest.mark.skipif(not CHROMIUM.exists() or not export.image_export_available(),
                                    reason="Debian chromium and Kaleido are needed to draw and print the report")


@pytest.fixture(scope="module")
def built(tiny_db, tmp_path_factory) -> tuple[Path, Path]:
    """Write the report of the tiny database, HTML and PDF, by the command line with a dashboard address."""
    folder = tmp_path_factory.mktemp("report")
    html, pdf = folder / "report.html", folder / "report.pdf"
    started = time.perf_counter()
    assert cli.main(["report", "--db", str(tiny_db), "--out", str(html), "--pdf", str(pdf), "--base-url", BASE]) == 0
    print(f"report of the tiny database, HTML and PDF: {time.perf_counter() - started:.1f} s")
    return html, pdf


def links(document: str) -> list[str]:
    return [unescape(h) for h in re.findall(r'href="([^"]+)"', document)]


def page_paths() -> set[str]:
    """Return the paths the dashboard serves its pages at: their ``url_path``, and the root for the default page (Home)."""
    pages = re.findall(r'url_path="([^"]+)"(, default=True)?', (DASHBOARD / "Home.py").read_text())
    return {"" if default else path for path, default in pages}


def section(document: str, key: str) -> str:
    return document.split(f'<section id="{key}">', 1)[1].split("</section>", 1)[0]


def blank_png() -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), "white").save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


@needs_chromium
def test_the_report_is_one_self_contained_file_with_every_section(built, tiny_db, capsys):
    document = built[0].read_text()
    keys = re.findall(r'<section id="([^"]+)">', document)
    assert keys == [key for key, _ in report.SECTIONS]
    # Nothing is fetched: no script or style from elsewhere, every image embedded.
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=\"(https?:)?//", document)
    sources = re.findall(r'<img[^>]+src="([^"]*)"', document)
    assert len(sources) == document.count('class="chart"') >= 12 and all(s.startswith("data:image/png;base64,") for s in sources)
    assert all(link.startswith(BASE + "/") or link.startswith("#") for link in links(document))
    assert "<script>" in document and "sortable" in document
    con = connect_read_only(tiny_db)
    try:
        models = queries.perceptual_models(con)["experiment_id"].tolist()
        default, _, seed = queries.default_vit(con)
        cells = queries.most_confident_explained(con, default, seed=seed)
    finally:
        con.close()
    assert "Profile <strong>tiny</strong>" in section(document, "provenance")
    assert section(document, "feature-sets").count('class="chart"') == 3  # A2E, A2Mid, Mid2E
    assert "thesis's figures are not in this run" in section(document, "feature-sets")
    assert section(document, "midlevel").count('class="chart"') == 2  # coefficients and SHAP
    assert section(document, "confusion").count('class="chart"') == len(models) == 3
    assert "causal ρ" in section(document, "attribution") and 'class="verdict"' in section(document, "attribution")
    con = connect_read_only(tiny_db)
    try:
        checked = queries.has_table(con, "ear_checks") and not queries.ear_checks(con, default, seed=seed).empty
    finally:
        con.close()
    assert ("not computed for this run" in section(document, "models-ear")) is not checked
    gallery = section(document, "gallery")
    assert gallery.count('class="chart"') == len(cells) > 0
    assert gallery.count("no clip of this cell has a stored map") == 4 - len(cells)


@needs_chromium
def test_every_figure_is_drawn_in_chromium_and_the_tables_sort(built):
    from playwright.sync_api import sync_playwright

    document = built[0].read_text()

    def ink(shot: np.ndarray, box: dict) -> tuple[float, int]:
        """Share of non-white pixels in a region of the page, and how many distinct colours it holds."""
        top, left = int(box["y"]), int(box["x"])
        region = shot[top:top + int(box["height"]), left:left + int(box["width"])].astype(np.int64)
        coarse = (region[..., 0] // 32) * 64 + (region[..., 1] // 32) * 8 + region[..., 2] // 32  # 512 colour bins
        return float((region < 240).any(axis=2).mean()), int(np.count_nonzero(np.bincount(coarse.ravel(), minlength=512)))

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 1200})
            page.goto(built[0].as_uri(), wait_until="load")
            boxes = page.evaluate("""() => Array.from(document.querySelectorAll("figure.chart img"), img => {
                const r = img.getBoundingClientRect();
                return {x: r.left + scrollX, y: r.top + scrollY, width: r.width, height: r.height,
                        decoded: img.complete && img.naturalWidth > 0};
            })""")
            assert len(boxes) == document.count('class="chart"')
            shot = np.asarray(Image.open(io.BytesIO(page.screenshot(full_page=True))).convert("RGB"))
            for index, box in enumerate(boxes):
                assert box["decoded"] and box["width"] > 200 and box["height"] > 150, (index, box)
                share, colours = ink(shot, box)
                assert share > 0.04 and colours >= 3, (index, share, colours)
            # The check sees an undrawn figure: a blank image in the first figure's place fails it.
            page.evaluate("src => { document.querySelector('figure.chart img').src = src; }", blank_png())
            page.wait_for_timeout(200)
            blank = np.asarray(Image.open(io.BytesIO(page.screenshot(full_page=True))).convert("RGB"))
            assert ink(blank, boxes[0])[0] < 0.01
            # Tables sort on a click on their header (numbers by value), and back on a second click.
            table = page.locator("#confusion table.sortable")
            header = table.locator("th", has_text="balanced accuracy")
            column = [h.strip() for h in table.locator("th").all_inner_texts()].index("balanced accuracy")

            def shown() -> list[float]:
                return [float(t) for t in table.locator(f"tbody tr td:nth-child({column + 1})").all_inner_texts()]

            header.click()
            assert shown() == sorted(shown()) and header.get_attribute("data-order") == "asc"
            header.click()
            assert shown() == sorted(shown(), reverse=True) and header.get_attribute("data-order") == "desc"
        finally:
            browser.close()


@needs_chromium
def test_the_pdf_has_one_page_per_section(built):
    data = built[1].read_bytes()
    assert data.startswith(b"%PDF")
    assert pdf_pages(data) == len(report.SECTIONS) == 7
    assert re.search(rb"/Type\s*/Pages\b[^>]*/Count 7\b", data) or b"/Count 7" in data


@needs_chromium
def test_the_links_open_the_views_they_name(built, tiny_db, monkeypatch):
    document = built[0].read_text()
    found = [link for link in links(document) if link.startswith(BASE)]
    assert {urlsplit(link).path.strip("/") for link in found} <= page_paths()
    assert all(dict(parse_qsl(urlsplit(link).query))["run"] == tiny_db.stem for link in found)
    monkeypatch.setenv("MER_DB", str(tiny_db))

    def follow(link: str) -> AppTest:
        """Open a link as the dashboard would: its path names the page (``?page=`` reaches it under AppTest)."""
        parts = urlsplit(link)
        app = AppTest.from_file(str(DASHBOARD / "Home.py"), default_timeout=120)
        app.query_params.update({"page": parts.path.strip("/"), **dict(parse_qsl(parts.query))})
        app.run()
        assert not app.exception, app.exception
        return app

    clip_link = next(link for link in found if "clip=" in link)
    wanted = dict(parse_qsl(urlsplit(clip_link).query))
    app = follow(clip_link)
    assert app.title[0].value == "Confusion browser"
    assert app.selectbox(key="model").value == wanted["model"] and str(app.selectbox(key="seed").value) == wanted["seed"]
    assert app.radio(key="cell").value == wanted["cell"]
    assert app.selectbox(key="clip").value == wanted["clip"] and app.selectbox(key="method").value == wanted["method"]

    midlevel = dict(parse_qsl(urlsplit(next(link for link in found if "/midlevel?" in link)).query))
    app = follow(next(link for link in found if "/midlevel?" in link))
    assert app.title[0].value == "Mid-level explanations"
    assert [app.selectbox(key=k).value for k in ("source", "feature_set", "head")] == [midlevel[k] for k in ("source", "feature_set", "head")]
    assert "Standardised coefficients (features × emotions)" in [s.value for s in app.subheader]

    attribution = next(link for link in found if "/attribution_quality?" in link and "cnn" in link)
    app = follow(attribution)
    assert app.title[0].value == "Attribution quality"
    assert app.selectbox(key="model").value == dict(parse_qsl(urlsplit(attribution).query))["model"]


@pytest.fixture()
def dashboard(tiny_db):
    """Serve the dashboard (entry script, the tiny database pinned) on a free port; yield its address."""
    from test_browser import streamlit_server

    with streamlit_server(MER_DB=str(tiny_db)) as url:
        yield url


TITLES = {"": "Explainable Music Emotion Recognition", "feature_sets": "Feature sets", "midlevel": "Mid-level explanations",
          "confusion": "Confusion browser", "attribution_quality": "Attribution quality"}


@needs_chromium
def test_the_dashboard_serves_the_same_report_and_its_links_open_their_views(built, dashboard):
    """In a browser: Home's button downloads the command line's file; each kind of link opens its page."""
    from playwright.sync_api import sync_playwright

    document = built[0].read_text()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
            page.goto(dashboard + "/")
            button = page.get_by_role("button", name="Report (HTML)")
            button.wait_for(timeout=90_000)
            with page.expect_download(timeout=180_000) as download:
                button.click()
            assert download.value.suggested_filename == "tiny-report.html"
            served = Path(download.value.path()).read_text()
            # Built for this server's address; otherwise the same file as `python -m precompute report`.
            assert served.count(f'href="{dashboard}/') == document.count(f'href="{BASE}/') > 0
            assert served.replace(dashboard, BASE) == document
            # One link of each page, followed in the browser: the page it names opens (not Streamlit's "Page not found").
            by_page = {}
            for link in links(document):
                if link.startswith(BASE):
                    by_page.setdefault(urlsplit(link).path.strip("/"), link)
            assert set(by_page) == set(TITLES)
            for path, link in by_page.items():
                page.goto(link.replace(BASE, dashboard))
                page.locator("h1", has_text=TITLES[path]).wait_for(timeout=90_000)
                assert not page.get_by_text("Page not found").count(), link
            clip = next(link for link in links(document) if "clip=" in link)
            page.goto(clip.replace(BASE, dashboard))
            page.locator("h3", has_text=dict(parse_qsl(urlsplit(clip).query))["clip"] + ": true").wait_for(timeout=90_000)
        finally:
            browser.close()


EAR_CHECKS = """CREATE TABLE IF NOT EXISTS ear_checks (experiment_id VARCHAR NOT NULL, seed INTEGER NOT NULL,
    clip_id VARCHAR NOT NULL, method VARCHAR NOT NULL, gain VARCHAR NOT NULL, target_class VARCHAR NOT NULL,
    p_original DOUBLE NOT NULL, p_sonified DOUBLE NOT NULL, p_complement DOUBLE NOT NULL)"""


def test_the_models_ear_and_the_thesis_figures_appear_when_the_run_has_them(tiny_db, tmp_path, monkeypatch):
    monkeypatch.setattr(export, "image_export_available", lambda: False)  # no figures drawn: these tests read the text
    path = tmp_path / "with_extras.duckdb"
    shutil.copy(tiny_db, path)
    con = duckdb.connect(str(path))
    con.execute("DROP TABLE IF EXISTS ear_checks")  # a run from before the check, or one that skipped it
    con.close()
    con = connect_read_only(path)
    try:
        assert "not computed for this run" in section(report.build_report(con, run=path.stem), "models-ear")
        model = queries.default_vit(con)[0]
    finally:
        con.close()
    con = duckdb.connect(str(path))
    con.execute(EAR_CHECKS)
    rows = [(model, 0, f"c{i}", method, "p2", "happy", 0.9, kept, ignored)
            for i in range(6) for method, kept, ignored in (("chefer2021", 0.8125 + 0.01 * i, 0.25), ("random", 0.5, 0.5 - 0.01 * i))]
    con.executemany("INSERT INTO ear_checks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    con.execute("INSERT INTO reference_figures VALUES ('thesis', '6', 'A2E', 'spectrogram', 'cnn', '', 'all', 'pearson_r', 0.688, 0.06, 4, ''),"
                "('thesis', '9', 'Mid2E', 'predicted_midlevel', 'ridge', '7', 'all', 'pearson_r', 0.5, 0.01, 4, '')")
    con.close()
    con = connect_read_only(path)
    try:
        document = report.build_report(con, run=path.stem)
        checks = queries.ear_checks(con, model, seed=0)
        mid2e = queries.matched_reference(con, route="Mid2E", metric="pearson_r")
    finally:
        con.close()
    ear = section(document, "models-ear")
    assert "not computed" not in ear and "chefer2021" in ear and "p(class | B: used)" in ear
    assert report._markdown(verdicts.ear_verdict(checks)) in ear and "<strong>chefer2021</strong>" in ear
    assert ear.count('class="chart"') == 1  # the ear gaps with their CIs
    features = section(document, "feature-sets")
    assert "thesis mean" in features and "ours − thesis" in features and "0.688" in features
    # The thesis's Mid2E figure is on predicted descriptors: it is matched to every source's ridge on set 7.
    assert set(mid2e["experiment_id"]) == {f"Mid2E/{s}_midlevel/ridge/7" for s in ("annotated", "estimated", "predicted")}
    assert set(mid2e["thesis_input"]) == {"predicted_midlevel"}
    assert "Figures are missing" in document and "links to no dashboard view" in document
    assert 'src=""' in document and "data:image" not in document
    # The feature-set page reads the same matched figures.
    monkeypatch.setenv("MER_DB", str(path))
    app = AppTest.from_file(str(DASHBOARD / "Home.py"), default_timeout=120).run()
    app.switch_page("views/feature_sets.py").run()
    assert not app.exception, app.exception
    table = app.dataframe[0].value.set_index("experiment_id")
    assert table.loc["A2E/spectrogram/cnn", "thesis mean"] == pytest.approx(0.688)


def test_a_run_without_perceptual_or_midlevel_models_still_gets_every_section(tiny_db, tmp_path, monkeypatch):
    monkeypatch.setattr(export, "image_export_available", lambda: False)
    path = tmp_path / "features_only.duckdb"
    shutil.copy(tiny_db, path)
    con = duckdb.connect(str(path))
    con.execute("DELETE FROM experiments WHERE route IN ('Perceptual', 'Mid2E')")
    con.close()
    con = connect_read_only(path)
    try:
        document = report.build_report(con, run=path.stem, base_url=BASE)
    finally:
        con.close()
    assert re.findall(r'<section id="([^"]+)">', document) == [key for key, _ in report.SECTIONS]
    assert "holds no Mid2E" in section(document, "midlevel")
    assert "holds no perceptual" in section(document, "confusion") and "holds no perceptual" in section(document, "gallery")
    assert "no causal evidence" in section(document, "attribution")
    assert "not computed for this run" in section(document, "models-ear")
    assert section(document, "feature-sets").count('class="chart"') == 2  # A2E and A2Mid


def test_the_command_line_says_why_it_cannot_write_a_report(tmp_path, capsys):
    assert cli.main(["report", "--db", str(tmp_path / "none.duckdb"), "--out", str(tmp_path / "r.html")]) == 2
    assert "no results database" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()
