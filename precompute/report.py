"""``python -m precompute report``: a run's one-file HTML report, and a PDF of it printed by the system Chromium.

The HTML is :func:`dashboard.report.build_report`'s, the same the dashboard's Home page offers for
download. The PDF is printed by Debian's ``chromium`` driven by Playwright (no browser download): one
page per report section, each page as tall as the tallest section, so that no section is cut.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
PAGE_WIDTH = 1000
"""Width (CSS px) of the printed page, and of the window the report is laid out in before printing."""


class ReportError(Exception):
    """The report cannot be written (no Chromium for the PDF, or the browser failed); the message says why."""


@dataclass(frozen=True)
class Written:
    """What :func:`write_report` wrote: the files, their figures and sections, and how long each took."""

    html: Path
    sections: int
    figures: int
    html_seconds: float
    pdf: Path | None = None
    pages: int = 0
    pdf_seconds: float = 0.0


def write_report(db: Path, out: Path, *, pdf: Path | None = None, base_url: str | None = None) -> Written:
    """Write the report of the results database ``db`` to ``out`` (HTML), and to ``pdf`` when given.

    Raises
    ------
    results.store.ResultsError
        ``db`` is not a finished results database of this schema version.
    ReportError
        The PDF cannot be printed.
    """
    from dashboard.report import build_report
    from results.store import open_results

    started = time.perf_counter()
    con = open_results(db)
    try:
        document = build_report(con, run=db.stem, base_url=base_url)
    finally:
        con.close()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(document, encoding="utf-8")
    written = Written(out, sections=document.count("<section "), figures=document.count('class="chart"'),
                      html_seconds=time.perf_counter() - started)
    if pdf is None:
        return written
    started = time.perf_counter()
    pages = print_pdf(out, pdf)
    return Written(out, written.sections, written.figures, written.html_seconds, pdf, pages, time.perf_counter() - started)


def print_pdf(html: Path, pdf: Path, *, chromium: Path = CHROMIUM) -> int:
    """Print an HTML report to PDF with the system Chromium, one page per ``<section>``; return the page count.

    Each section begins a page (the report's ``break-before: page``); the page is made as tall as the
    tallest section (measured in print layout), so that none spills onto a second page.

    Raises
    ------
    ReportError
        No Chromium at ``chromium``, or Playwright is missing or failed.
    """
    if not chromium.exists():
        raise ReportError(f"{chromium}: no Chromium to print the PDF with (Debian: apt-get install chromium)")
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError as error:
        raise ReportError("printing the PDF needs Playwright (pip install playwright; no browser download)") from error
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": PAGE_WIDTH, "height": 1200})
                page.goto(html.resolve().as_uri(), wait_until="load")
                page.emulate_media(media="print")
                # Page k runs from the top of section k (the document's top for the first) to the top of the next.
                height = page.evaluate(
                    """() => {
                        const tops = Array.from(document.querySelectorAll("section"), s => s.getBoundingClientRect().top + scrollY);
                        tops[0] = 0;
                        tops.push(document.documentElement.scrollHeight);
                        let tallest = 0;
                        for (let i = 1; i < tops.length; i++) tallest = Math.max(tallest, tops[i] - tops[i - 1]);
                        return Math.ceil(tallest);
                    }"""
                )
                # a margin of 120 px: what a forced break keeps of the heading's top margin, and rounding
                page.add_style_tag(content=f"@page {{ size: {PAGE_WIDTH}px {height + 120}px; margin: 0; }}")
                pdf.parent.mkdir(parents=True, exist_ok=True)
                page.pdf(path=str(pdf), print_background=True, prefer_css_page_size=True)
            finally:
                browser.close()
    except Error as error:
        raise ReportError(f"printing {html} failed: {error}") from error
    return pdf_pages(pdf.read_bytes())


def pdf_pages(data: bytes) -> int:
    """Count the pages of a PDF: its ``/Type /Page`` objects (Chromium writes them uncompressed).

    Examples
    --------
    >>> pdf_pages(b"<< /Type /Pages /Count 2 >> << /Type /Page >> << /Type/Page /Parent 1 0 R >>")
    2
    """
    return len(re.findall(rb"/Type\s*/Page(?![A-Za-z])", data))
