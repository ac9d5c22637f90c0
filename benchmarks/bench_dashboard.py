"""Dashboard speed and memory as a user in a browser sees them: page render times and server memory.

    python benchmarks/bench_dashboard.py                                   # data/demo.duckdb, 10 repeats, 50 clips
    python benchmarks/bench_dashboard.py --db data/soundtracks.duckdb --repeats 5 --clips 20

Starts ``streamlit run dashboard/Home.py --server.headless true --server.port <free port>`` (plus
``--server.address 127.0.0.1``) as a subprocess with ``MER_DB`` pinned to ``--db``, waits for
``/_stcore/health``, drives Debian's chromium through Playwright (1400 x 1000 viewport), and stops the
server at the end, also on error. Rows:

- ``first render``: each page once, in a fresh browser context (empty HTTP cache, new session) on the
  freshly started server, pages in menu order: Streamlit's and the dashboard's caches are cold (the
  first page also pays the server's first script run; later pages profit from queries an earlier page
  cached, as a user opening the pages one after the other would). Target: at most 2 s.
- ``warm p50 / p95``: then ``--repeats`` full reloads (``page.reload()``) of each page's URL in one
  browser context. Target: p95 at most 300 ms, per page and over all pages' reloads together.
- ``in-app switches``: then ``--repeats`` rounds of clicking each page's sidebar link in turn (no reload:
  the frontend's code, the websocket and the session stay, as when a user moves between pages), from
  the click until the new page settled. Target: p95 at most 300 ms.
- Confusion-browser interactions, each a deep link (``page.goto`` in the warm context):
  ``clip change`` moves to another explained clip (cycling over the cells; a clip the server has not
  shown before, so its spectrogram, map and audio queries run once; ``p`` = 2, precomputed audio);
  ``p live`` keeps the default clip and sets ``p`` to a value not precomputed and not asked for before
  (0.5 .. 4.0 in steps of 0.25, 2 excluded), so both players are re-sonified on the server.
- ``server script run``: first, each page's script run without a browser, under Streamlit's AppTest in
  this process (the entry script, then ``switch_page`` to the page; the same ``st.cache_data`` and
  ``st.cache_resource`` caches as the server): the first run, then ``--repeats`` warm reruns, timed
  around ``AppTest.run()``. This is the part of a render the dashboard's own code controls; the
  browser rows add the websocket, the frontend and the drawing.
- Memory: resident set size of the server process and its descendants (``VmRSS`` from ``/proc``; psutil
  is not needed), after the first render of every page (the warm-up), after the warm reloads and
  interactions, and after browsing ``--clips`` different (cell, clip, method, p) deep links on the
  confusion browser, each waited until rendered. The clips are the explained ones (those with stored
  maps and audio: the expensive path), taken round-robin over the cells; methods rotate so that no
  (clip, method) pair repeats before all have been seen; ``p`` cycles over 2, 1.5, 3, 2, 0.75, so two
  in five are re-sonified live. Target: growth under 200 MB from the warm-up.

What "rendered" means. A render's time runs from navigation start (``performance.timeOrigin``, the
zero of ``performance.now()`` in the new document, so no Python-side overhead is counted) to the first
animation frame from which all of these hold for ``--quiet-ms`` (default 250 ms) on end; the start of
that quiet spell is the render time:

- ``stApp``'s ``data-test-script-state`` is ``notRunning`` and ``data-test-connection-state`` is
  ``CONNECTED``. Streamlit 1.67's frontend sets these from the server's session events: the script
  state reads ``initial`` until the first run has an id, ``running`` while the script runs and
  ``notRunning`` once the server reported the run finished. (Streamlit's own end-to-end tests wait on
  the same attribute.) The quiet spell catches a run that starts again right away (``st.rerun``,
  ``st.switch_page``, a bound widget writing the URL);
- the page's title (``h1`` in ``stMain``) is drawn, so the element tree of this run is on screen;
- no element is stale (``[data-stale="true"]``: left over from a previous run) and no skeleton is
  shown (``stAppSkeleton``, ``stSkeleton``: the Suspense fallback while an element's lazily loaded
  code arrives, ``stSkeletonElement``);
- every visible Plotly chart has drawn its SVG (``.main-svg`` inside each ``stPlotlyChart``) and every
  visible dataframe its canvas: a script run is finished before its charts are, and a user waits for
  those (charts and tables in a collapsed expander are not drawn until it opens, so they are skipped).

The status widget (the running man) is not used: it shows only after a delay while the script runs
and leaves with a 200 ms fade-out transition, so its disappearance lags the run by a constant. A page
that shows an exception (``stException``) or does not settle in 120 s is reported, not timed.

The machine is shared (other processes may run), so figures are noisy: run on an idle machine for
numbers to quote, and compare only figures from the same machine.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import shlex
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
if str(REPOSITORY) not in sys.path:  # run as a script: make the repository root importable
    sys.path.insert(0, str(REPOSITORY))

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required",
]
PAGES = ["home", "feature_sets", "midlevel", "descriptors", "confusion", "attribution_quality", "explain_clip"]
FIRST_TARGET_MS = 2000.0
WARM_P95_TARGET_MS = 300.0
GROWTH_TARGET_MB = 200.0
BROWSE_P = [2.0, 1.5, 3.0, 2.0, 0.75]
INTERACTION_TARGET_MS = 1000.0  # p95 of each in-page interaction (issue 12)
INTERACTIONS = ["cell click", "clip change", "method change", "p change", "opacity move"]
LIVE_P = [p / 4 for p in range(2, 17) if p != 8]  # 0.5 .. 4.0 step 0.25 without 2
TIMEOUT_MS = 120_000

# Shared by the two waits below. drawn(): the page's run is over and it is on screen: script state
# notRunning, the title (``title``, or any when null) drawn, nothing stale or still a skeleton, every
# visible chart and table drawn (a collapsed expander's charts and tables are not drawn until it
# opens, so only what can be seen counts). frame(): the next animation frame.
DRAWN = """
const drawn = (app, title) => {
  if (app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  const heading = document.querySelector('[data-testid="stMain"] h1');
  if (!heading || (title !== null && heading.innerText.trim() !== title)) return false;
  if (document.querySelector('[data-stale="true"], [data-testid="stAppSkeleton"], [data-testid="stSkeleton"], '
                             + '[data-testid="stSkeletonElement"]')) return false;
  for (const chart of document.querySelectorAll('[data-testid="stPlotlyChart"]'))
    if (chart.checkVisibility() && !chart.querySelector('.main-svg')) return false;
  for (const grid of document.querySelectorAll('[data-testid="stDataFrame"]'))
    if (grid.checkVisibility() && !grid.querySelector('canvas')) return false;
  return true;
};
// rAF is the paint-aligned clock; the timeout keeps polling should frames be throttled.
const frame = () => new Promise(resolve => {
  const timer = setTimeout(resolve, 50);
  requestAnimationFrame(() => { clearTimeout(timer); resolve(); });
});
"""

# Resolves with {end: ms since navigation start at which the page settled} or {timeout: true, ...}.
WAIT_RENDERED = """
async ({quietMs, timeoutMs}) => {
/*DRAWN*/
  const done = () => {
    const app = document.querySelector('[data-testid="stApp"]');
    if (!app || app.getAttribute('data-test-connection-state') !== 'CONNECTED') return false;
    return drawn(app, null);
  };
  // Phases: when the script state turned to running (first and last time) and back to notRunning.
  const marks = {firstRun: null, lastRunStart: null, lastRunEnd: null};
  let watched = null, last = null;
  const note = () => {
    const state = watched.getAttribute('data-test-script-state');
    if (state === last) return;
    const t = performance.now();
    if (state === 'running') { if (marks.firstRun === null) marks.firstRun = t; marks.lastRunStart = t; }
    if (state === 'notRunning' && last === 'running') marks.lastRunEnd = t;
    last = state;
  };
  const observer = new MutationObserver(note);
  const started = performance.now();
  let since = null;
  for (;;) {
    if (watched === null && (watched = document.querySelector('[data-testid="stApp"]'))) {
      note();
      observer.observe(watched, {attributes: true, attributeFilter: ['data-test-script-state']});
    }
    await frame();
    const now = performance.now();
    if (done()) {
      if (since === null) since = now;
      if (now - since >= quietMs) {
        observer.disconnect();
        const navigation = performance.getEntriesByType('navigation')[0];
        return {end: since, ...marks, loaded: navigation ? navigation.domContentLoadedEventEnd : null};
      }
    } else {
      since = null;
    }
    if (now - started > timeoutMs) {
      const app = document.querySelector('[data-testid="stApp"]');
      return {timeout: true, state: app && app.getAttribute('data-test-script-state'),
              stale: document.querySelectorAll('[data-stale="true"]').length};
    }
  }
}
""".replace("/*DRAWN*/", DRAWN)


# In-app navigation: click a sidebar link (no reload: the page's code, websocket and session stay) and
# resolve with the ms from the click until the new page settled, by the same rule as WAIT_RENDERED plus
# "the title is the new page's".
SWITCH_IN_APP = """
async ({href, title, quietMs, timeoutMs}) => {
/*DRAWN*/
  const app = document.querySelector('[data-testid="stApp"]');
  const link = [...document.querySelectorAll('[data-testid="stSidebarNav"] a')].find(a => a.href.endsWith(href));
  if (!link) return {missing: true};
  // The new page's title appears only once its run has drawn it (a short run may change the script
  // state and back within one frame, so the state alone cannot tell that a run happened).
  const done = () => drawn(app, title);
  const started = performance.now();
  link.click();
  let since = null;
  for (;;) {
    await frame();
    const now = performance.now();
    if (done()) { if (since === null) since = now; if (now - since >= quietMs) return {ms: since - started}; }
    else since = null;
    if (now - started > timeoutMs) return {timeout: true};
  }
}
""".replace("/*DRAWN*/", DRAWN)
TITLES = {"home": "Explainable Music Emotion Recognition", "feature_sets": "Feature sets", "midlevel": "Mid-level explanations",
          "descriptors": "Descriptors and harmony", "confusion": "Confusion browser",
          "attribution_quality": "Attribution quality", "explain_clip": "Explain your clip"}


def switch_in_app(page, name: str, quiet_ms: float) -> float:
    """Milliseconds from a click on the sidebar link of page ``name`` until it settled (no reload)."""
    result = page.evaluate(SWITCH_IN_APP, {"href": "/" if name == "home" else f"/{name}", "title": TITLES[name], "quietMs": quiet_ms,
                                           "timeoutMs": TIMEOUT_MS})
    if result.get("missing") or result.get("timeout"):
        raise Failure(f"in-app switch to {name}: {'no sidebar link' if result.get('missing') else 'did not settle'}")
    return float(result["ms"])

# In-page interactions (a widget used on the page: no navigation). ARM starts counting script runs
# (a MutationObserver sees every change of the script state, however short the run); the action is
# then done through Playwright; SETTLED resolves with the ms from arming until the page settled after
# at least one run (a full rerun or a fragment's), by the drawn() rule.
ARM = """
() => {
  const app = document.querySelector('[data-testid="stApp"]');
  const marks = {runs: 0, started: performance.now()};
  marks.observer = new MutationObserver(() => {
    if (app.getAttribute('data-test-script-state') === 'running') marks.runs += 1;
  });
  marks.observer.observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
  window.__merInteraction = marks;
}
"""
SETTLED = """
async ({quietMs, timeoutMs}) => {
/*DRAWN*/
  const app = document.querySelector('[data-testid="stApp"]');
  const marks = window.__merInteraction;
  let since = null;
  for (;;) {
    await frame();
    const now = performance.now();
    if (marks.runs > 0 && drawn(app, null)) {
      if (since === null) since = now;
      if (now - since >= quietMs) { marks.observer.disconnect(); return {ms: since - marks.started, runs: marks.runs}; }
    } else since = null;
    if (now - marks.started > timeoutMs) { marks.observer.disconnect(); return {timeout: true, runs: marks.runs}; }
  }
}
""".replace("/*DRAWN*/", DRAWN)


def interact(page, action, what: str, quiet_ms: float) -> float:
    """Milliseconds from just before ``action(page)`` (a click or key press) until the page settled."""
    page.evaluate(ARM)
    action(page)
    result = page.evaluate(SETTLED, {"quietMs": quiet_ms, "timeoutMs": TIMEOUT_MS})
    if result.get("timeout"):
        raise Failure(f"{what}: the page did not settle ({result.get('runs')} runs seen)")
    errors = page.locator('[data-testid="stException"]')
    if errors.count():
        raise Failure(f"{what}: the page shows an exception: {errors.first.inner_text()[:500]}")
    return float(result["ms"])


def choose_option(page, label: str, option: str) -> None:
    """Open the selectbox labelled ``label`` (a combobox) and click ``option``."""
    page.get_by_role("combobox", name=label, exact=True).click()
    page.get_by_role("option", name=option, exact=True).click()


def press_slider(page, label: str, key: str) -> None:
    """Move the slider whose label starts with ``label`` one step with a key press (ArrowLeft or ArrowRight).

    Its range input is visually hidden (the thumb is drawn), so it is found by its label, not its role.
    """
    page.locator(f'input[type="range"][aria-label^="{label}"]').press(key)


def in_page_interactions(page, base: str, plan: dict, repeats: int, quiet_ms: float) -> dict[str, list[float]]:
    """Time each in-page interaction of the confusion browser, ``repeats`` times, from its default view.

    The interactions are a cell click (the cell radio), a clip change and a method change
    (selectboxes), a p change and an opacity move (one slider step each, alternating direction).
    """
    cell0, clip0, method0 = plan["default"]
    visit(page, confusion_url(base, cell0, clip0, method0, 2.0), quiet_ms)
    times: dict[str, list[float]] = {name: [] for name in INTERACTIONS}
    cells = [cell for cell in plan["cells"] if cell != cell0] + [cell0]
    for i in range(repeats):
        cell = cells[i % len(cells)]
        radio = page.locator('[data-testid="stRadio"]').filter(has_text="Cell (true-predicted)").first
        times["cell click"].append(interact(page, lambda pg, radio=radio, cell=cell: radio.get_by_text(cell, exact=True).click(),
                                             "cell click", quiet_ms))
    visit(page, confusion_url(base, cell0, clip0, method0, 2.0), quiet_ms)
    clips = plan["cells"][cell0]
    for i in range(repeats):
        clip = clips[(i + 1) % len(clips)]
        times["clip change"].append(interact(page, lambda pg, clip=clip: choose_option(pg, "Clip", clip), "clip change", quiet_ms))
        method = plan["methods"][(i + 1) % len(plan["methods"])]
        times["method change"].append(interact(page, lambda pg, method=method: choose_option(pg, "Attribution method", method),
                                               "method change", quiet_ms))
        key = "ArrowRight" if i % 2 == 0 else "ArrowLeft"
        times["p change"].append(interact(page, lambda pg, key=key: press_slider(pg, "Gain exponent", key), "p change", quiet_ms))
        times["opacity move"].append(interact(page, lambda pg, key=key: press_slider(pg, "Relevance opacity", key), "opacity move",
                                              quiet_ms))
    return times


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1 (the operating system picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default method) of a non-empty list."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


# memory ------------------------------------------------------------------------------------------
def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def _status_kb(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_mb(pid: int) -> tuple[float, int]:
    """Resident memory (MB) of ``pid`` and all its descendants, and how many processes that is."""
    tree = _children()
    pids, stack = [], [pid]
    while stack:
        current = stack.pop()
        pids.append(current)
        stack.extend(tree.get(current, []))
    return sum(_status_kb(p, "VmRSS") for p in pids) / 1024, len(pids)


def settled_rss_mb(pid: int) -> tuple[float, int]:
    """Return :func:`rss_mb` of ``pid`` after a second's pause for its last work to finish."""
    time.sleep(1.0)  # let the last session's work and garbage collection finish
    return rss_mb(pid)


# server ------------------------------------------------------------------------------------------
def start_server(db: Path, port: int) -> tuple[subprocess.Popen, list[str], str]:
    """Start a headless Streamlit server of the dashboard on ``db`` and wait (up to 90 s) until it answers.

    Its output goes to a log file under ``$TMPDIR``.

    Returns
    -------
    tuple[subprocess.Popen, list[str], str]
        The server process, its command line and its URL.
    """
    command = [sys.executable, "-m", "streamlit", "run", "dashboard/Home.py", "--server.headless", "true",
               "--server.port", str(port), "--server.address", "127.0.0.1"]
    env = {**os.environ, "MER_DB": str(db)}
    log = open(Path(os.environ.get("TMPDIR", "/tmp")) / f"bench_dashboard_{port}.log", "w")
    process = subprocess.Popen(command, cwd=REPOSITORY, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with {process.returncode}; see {log.name}")
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                return process, command, url
        except OSError:
            time.sleep(0.3)
    stop_server(process)
    raise RuntimeError(f"streamlit did not answer in 90 s; see {log.name}")


def stop_server(process: subprocess.Popen) -> None:
    """Terminate the server if it still runs (kill it after 20 s)."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# browser -----------------------------------------------------------------------------------------
class Failure(RuntimeError):
    """A page did not render as it should: it showed an exception or did not settle in time."""

    pass


@dataclass
class Render:
    """One render's times, in ms since navigation start.

    Settled (``end``), DOMContentLoaded, first script run started, last script run reported finished
    (``None`` where the browser did not see it).
    """

    end: float
    loaded: float | None
    run_start: float | None
    run_end: float | None


def ends(renders: list[Render]) -> list[float]:
    """Return the settled time (``end``) of each render."""
    return [r.end for r in renders]


def phases(renders: list[Render]) -> str:
    """Median of each phase: page loaded, waiting for the run, the run, drawing after the run."""
    def median(values: list[float | None]) -> str:
        known = [v for v in values if v is not None]
        return f"{statistics.median(known):>9.0f}" if known else f"{'-':>9}"
    return (median([r.loaded for r in renders])
            + median([r.run_start - r.loaded if None not in (r.run_start, r.loaded) else None for r in renders])
            + median([r.run_end - r.run_start if None not in (r.run_end, r.run_start) else None for r in renders])
            + median([r.end - r.run_end if r.run_end is not None else None for r in renders])
            + median([r.end for r in renders]))


def wait_rendered(page, quiet_ms: float, url: str) -> Render:
    """Milliseconds from the current document's navigation start until it settled (see the docstring)."""
    result = page.evaluate(WAIT_RENDERED, {"quietMs": quiet_ms, "timeoutMs": TIMEOUT_MS})
    if result.get("timeout"):
        raise Failure(f"{url} did not settle in {TIMEOUT_MS / 1000:.0f} s (script state {result.get('state')}, "
                      f"{result.get('stale')} stale elements)")
    errors = page.locator('[data-testid="stException"]')
    if errors.count():
        raise Failure(f"{url} shows an exception: {errors.first.inner_text()[:500]}")
    return Render(float(result["end"]), result.get("loaded"), result.get("firstRun"), result.get("lastRunEnd"))


def visit(page, url: str, quiet_ms: float, *, reload: bool = False) -> Render:
    """Open ``url`` (or reload the page) and time its render with :func:`wait_rendered`."""
    if reload:
        page.reload(wait_until="commit")
    else:
        page.goto(url, wait_until="commit")
    return wait_rendered(page, quiet_ms, url)


def new_page(browser):
    """Open a browser context with a 1400 x 1000 viewport and a page in it; return both."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    return context, context.new_page()


def expect_text(page, text: str, problems: list[str], url: str) -> None:
    """Record (do not fail on) a deep link that did not land where it should."""
    if page.get_by_text(text, exact=False).count() == 0:
        problems.append(f"{url}: '{text}' not on the page")


# server-side script runs ----------------------------------------------------------------------
VIEW_FILES = {"home": "overview", **{name: name for name in PAGES if name != "home"}}


def server_runs(db: Path, repeats: int) -> dict[str, list[float]]:
    """Time each page's script runs under AppTest (no browser), in milliseconds per run.

    The first run, then ``repeats`` warm reruns.

    Raises
    ------
    Failure
        A page shows an exception.
    """
    from streamlit.testing.v1 import AppTest

    # AppTest runs pages outside a server session: Streamlit warns about that on every run.
    # (a filter, not a level: Streamlit resets its loggers' levels when it loads its configuration)
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").addFilter(
        lambda record: "missing ScriptRunContext" not in record.getMessage())
    previous = os.environ.get("MER_DB")
    os.environ["MER_DB"] = str(db)
    try:
        runs: dict[str, list[float]] = {}
        for name in PAGES:
            app = AppTest.from_file(str(REPOSITORY / "dashboard" / "Home.py"), default_timeout=TIMEOUT_MS / 1000)
            started = time.perf_counter()
            app.run()
            if name != "home":
                started = time.perf_counter()
                app.switch_page(f"views/{VIEW_FILES[name]}.py").run()
            times = [1000 * (time.perf_counter() - started)]
            for _ in range(repeats):
                started = time.perf_counter()
                app.run()
                times.append(1000 * (time.perf_counter() - started))
            if app.exception:
                raise Failure(f"page {name} raised under AppTest: {app.exception[0].message}")
            runs[name] = times
        return runs
    finally:
        if previous is None:
            os.environ.pop("MER_DB", None)
        else:
            os.environ["MER_DB"] = previous


# confusion-browser deep links ------------------------------------------------------------------
def confusion_plan(db: Path) -> dict:
    """Return the ViT model's cells, explained clips per cell (most confident first), default clip and methods."""
    from dashboard import queries
    from engine.vocabulary import CLASSES
    from results.store import connect_read_only

    con = connect_read_only(db)
    vit, _, seed = queries.default_vit(con)
    decisions = queries.classifications(con, vit, seed=seed)
    explained = set(queries.explained_clips(con, vit, seed=seed))
    methods = queries.relevance_methods(con, vit)
    cells = {}
    for actual in CLASSES:
        for predicted in CLASSES:
            rows = decisions[(decisions["actual"] == actual) & (decisions["predicted"] == predicted)]
            rows = rows.assign(stored=rows["clip_id"].isin(explained)).sort_values(["stored", "confidence"], ascending=False)
            chosen = rows[rows["stored"]]["clip_id"].tolist() or rows["clip_id"].tolist()
            if chosen:
                cells[f"{actual}-{predicted}"] = chosen
    con.close()
    # What the page shows without parameters: cell sad-happy, its first clip, the first method.
    default_cell = "sad-happy" if "sad-happy" in cells else next(iter(cells))
    round_robin = [(cell, clips[i]) for i in range(max(map(len, cells.values()))) for cell, clips in cells.items()
                   if i < len(clips)]
    return {"cells": cells, "methods": methods, "default": (default_cell, cells[default_cell][0], methods[0]),
            "clips": round_robin}


def confusion_url(base: str, cell: str, clip: str, method: str, p: float) -> str:
    """Return the confusion browser's deep link to a cell, clip, method and gain exponent ``p``."""
    query = urllib.parse.urlencode({"cell": cell, "clip": clip, "method": method, "p": f"{p:g}"})
    return f"{base}/confusion?{query}"


def browse_combinations(plan: dict, count: int) -> list[tuple[str, str, str, float]]:
    """Return ``count`` deep links' ``(cell, clip, method, p)``: clips round-robin, methods and p values in turn."""
    clips, methods = plan["clips"], plan["methods"]
    combos = []
    for turn in range(max(1, -(-count // (len(clips) * len(methods)))) * len(methods)):
        for j, (cell, clip) in enumerate(clips):
            combos.append((cell, clip, methods[(j + turn) % len(methods)], BROWSE_P[len(combos) % len(BROWSE_P)]))
    return combos[:count]


# report ------------------------------------------------------------------------------------------
def verdict(ok: bool) -> str:
    """Return ``PASS`` or ``MISS``."""
    return "PASS" if ok else "MISS"


def summary_row(name: str, times: list[float]) -> str:
    """Format a report row: name, count, median, 95th percentile and maximum of ``times`` (ms)."""
    return f"{name:<34}{len(times):>4}{percentile(times, 50):>10.0f}{percentile(times, 95):>10.0f}{max(times):>10.0f}"


def main() -> None:
    """Measure the dashboard (script runs, render and interaction times, memory) and print the report."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", type=Path, default=REPOSITORY / "data" / "demo.duckdb", help="results database (MER_DB)")
    parser.add_argument("--repeats", type=int, default=10, help="warm reloads per page and timed interactions of each kind")
    parser.add_argument("--clips", type=int, default=50, help="confusion-browser deep links browsed for the memory figure")
    parser.add_argument("--quiet-ms", type=float, default=250.0, help="how long a page must stay settled to count as rendered")
    args = parser.parse_args()
    if args.repeats < 1 or args.clips < 1:
        parser.error("--repeats and --clips must be >= 1")
    db = args.db.resolve()
    if not db.is_file():
        parser.error(f"{db} does not exist (make demo builds data/demo.duckdb)")
    if not Path(CHROMIUM).exists():
        parser.error(f"{CHROMIUM} not found (apt-get install chromium)")

    from playwright.sync_api import sync_playwright

    plan = confusion_plan(db)
    wall_started = time.perf_counter()
    script_runs = server_runs(db, args.repeats)
    port = free_port()
    process, command, base = start_server(db, port)
    problems: list[str] = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                # 1. first renders: fresh context per page, fresh server
                first: dict[str, Render] = {}
                for name in PAGES:
                    context, page = new_page(browser)
                    first[name] = visit(page, f"{base}/{name}", args.quiet_ms)
                    context.close()
                rss_warm, processes = settled_rss_mb(process.pid)

                # 2. warm reloads, one context
                context, page = new_page(browser)
                warm: dict[str, list[Render]] = {}
                for name in PAGES:
                    url = f"{base}/{name}"
                    visit(page, url, args.quiet_ms)  # this context's first visit: not timed
                    warm[name] = [visit(page, url, args.quiet_ms, reload=True) for _ in range(args.repeats)]

                # 2b. in-app page switches (sidebar clicks, no reload), each page from the previous one
                in_app: dict[str, list[float]] = {name: [] for name in PAGES}
                for _ in range(args.repeats):
                    for name in PAGES[1:] + PAGES[:1]:
                        in_app[name].append(switch_in_app(page, name, args.quiet_ms))

                # 3. confusion-browser interactions by deep link
                cell0, clip0, method0 = plan["default"]
                others = [(cell, clip) for cell, clip in plan["clips"] if clip != clip0]
                clip_change = []
                for i in range(args.repeats):
                    cell, clip = others[i % len(others)]
                    url = confusion_url(base, cell, clip, method0, 2.0)
                    clip_change.append(visit(page, url, args.quiet_ms))
                    expect_text(page, f"{clip}: true", problems, url)
                p_live = []
                for i in range(args.repeats):
                    url = confusion_url(base, cell0, clip0, method0, LIVE_P[i % len(LIVE_P)])
                    p_live.append(visit(page, url, args.quiet_ms))
                    expect_text(page, "re-sonified live", problems, url)
                interactions = in_page_interactions(page, base, plan, args.repeats, args.quiet_ms)
                rss_after_warm, _ = settled_rss_mb(process.pid)

                # 4. memory: browse --clips deep links
                combos = browse_combinations(plan, args.clips)
                browse = []
                for cell, clip, method, power in combos:
                    url = confusion_url(base, cell, clip, method, power)
                    browse.append(visit(page, url, args.quiet_ms))
                    expect_text(page, f"{clip}: true", problems, url)
                    if power != 2.0:
                        expect_text(page, "re-sonified live", problems, url)
                context.close()
                rss_after_browse, processes_after = settled_rss_mb(process.pid)
                peak_mb = _status_kb(process.pid, "VmHWM") / 1024
            finally:
                browser.close()
    finally:
        stop_server(process)
    wall = time.perf_counter() - wall_started

    # report
    print(f"machine: {os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), {platform.platform()}")
    print(f"python {platform.python_version()}, streamlit {metadata.version('streamlit')}, "
          f"playwright {metadata.version('playwright')}, chromium {CHROMIUM}")
    print(f"command: {shlex.join([sys.executable, *sys.argv])}")
    print(f"server:  MER_DB={db} {shlex.join(command)}")
    print(f"database: {db} ({db.stat().st_size / 2**20:.1f} MB); wall {wall:.0f} s; render = navigation start until "
          f"settled for {args.quiet_ms:.0f} ms (times in ms)")
    print()
    print("server script run (AppTest in this process, no browser: what the dashboard's code spends per run)")
    print(f"{'page':<22}{'first':>8}{'warm p50':>10}{'warm p95':>10}{'warm max':>10}   warm p95<=300")
    for name in PAGES:
        first_run, *warm_runs = script_runs[name]
        print(f"{name:<22}{first_run:>8.0f}{percentile(warm_runs, 50):>10.0f}{percentile(warm_runs, 95):>10.0f}"
              f"{max(warm_runs):>10.0f}   {verdict(percentile(warm_runs, 95) <= WARM_P95_TARGET_MS):>13}")
    all_runs = [t for times in script_runs.values() for t in times[1:]]
    print(f"{'all pages':<22}{max(t[0] for t in script_runs.values()):>8.0f}{percentile(all_runs, 50):>10.0f}"
          f"{percentile(all_runs, 95):>10.0f}{max(all_runs):>10.0f}   {verdict(percentile(all_runs, 95) <= WARM_P95_TARGET_MS):>13}")
    print("  (first column: the page's first run in this process; the first page also pays importing the dashboard)")
    print()
    print("in the browser (render = navigation start until settled)")
    print(f"{'page':<22}{'first':>8}{'warm p50':>10}{'warm p95':>10}{'warm max':>10}   first<=2000  warm p95<=300")
    for name in PAGES:
        times = ends(warm[name])
        p95 = percentile(times, 95)
        print(f"{name:<22}{first[name].end:>8.0f}{percentile(times, 50):>10.0f}{p95:>10.0f}{max(times):>10.0f}"
              f"   {verdict(first[name].end <= FIRST_TARGET_MS):>11}  {verdict(p95 <= WARM_P95_TARGET_MS):>13}")
    everything = [t for renders in warm.values() for t in ends(renders)]
    overall_p95 = percentile(everything, 95)
    slowest_first = max(r.end for r in first.values())
    print(f"{'all pages':<22}{slowest_first:>8.0f}{percentile(everything, 50):>10.0f}{overall_p95:>10.0f}"
          f"{max(everything):>10.0f}   {verdict(slowest_first <= FIRST_TARGET_MS):>11}  "
          f"{verdict(overall_p95 <= WARM_P95_TARGET_MS):>13}")
    print(f"  (first column of 'all pages': the slowest first render; {args.repeats} warm reloads per page, "
          f"{len(everything)} in all)")
    print()
    print("in-app page switches (a click on the sidebar link: no reload, the session and its caches kept)")
    print(f"{'page':<22}{'p50':>8}{'p95':>10}{'max':>10}   p95<=300")
    for name in PAGES:
        times = in_app[name]
        print(f"{name:<22}{percentile(times, 50):>8.0f}{percentile(times, 95):>10.0f}{max(times):>10.0f}"
              f"   {verdict(percentile(times, 95) <= WARM_P95_TARGET_MS):>8}")
    switches = [t for times in in_app.values() for t in times]
    print(f"{'all pages':<22}{percentile(switches, 50):>8.0f}{percentile(switches, 95):>10.0f}{max(switches):>10.0f}"
          f"   {verdict(percentile(switches, 95) <= WARM_P95_TARGET_MS):>8}   ({len(switches)} switches)")
    print()
    print(f"{'confusion browser, deep links':<34}{'n':>4}{'p50':>10}{'p95':>10}{'max':>10}")
    print(summary_row("clip change (p = 2, precomputed)", ends(clip_change)))
    print(summary_row("p live (re-sonified)", ends(p_live)))
    print(summary_row(f"browsing {len(combos)} combinations", ends(browse)))
    print()
    print(f"{'confusion browser, in the page':<34}{'n':>4}{'p50':>10}{'p95':>10}{'max':>10}   p95<=1000")
    for name in INTERACTIONS:
        times = interactions[name]
        print(f"{summary_row(name, times)}   {verdict(percentile(times, 95) <= INTERACTION_TARGET_MS):>8}")
    print("  (from the click or key press until the page settled after its rerun; p and opacity rerun only their fragment)")
    live = sum(1 for combo in combos if combo[3] != 2.0)
    print(f"  (browsing: {len({c[1] for c in combos})} clips over {len({c[0] for c in combos})} cells, "
          f"{len({c[2] for c in combos})} methods, {live} of {len(combos)} with live p)")
    print()
    print("where the time goes, as the browser sees it (medians, ms): 'loaded' = DOMContentLoaded (HTML and the")
    print("frontend's code); 'to run' = from there until the script state turned to running (websocket, session);")
    print("'run' = until the frontend marked the last run finished (the script on the server, and the browser")
    print("handling the elements it streams meanwhile); 'draw' = from then until settled (lazy element code,")
    print("charts, tables; the quiet spell excluded)")
    print(f"{'':<34}{'loaded':>9}{'to run':>9}{'run':>9}{'draw':>9}{'total':>9}")
    for name in PAGES:
        print(f"{name + ' first':<34}{phases([first[name]])}")
        print(f"{name + ' warm':<34}{phases(warm[name])}")
    print(f"{'confusion clip change':<34}{phases(clip_change)}")
    print(f"{'confusion p live':<34}{phases(p_live)}")
    print(f"{'confusion browsing':<34}{phases(browse)}")
    print()
    growth = rss_after_browse - rss_warm
    print(f"server memory (RSS of the streamlit process and its children, {processes} -> {processes_after} processes)")
    print(f"  after first render of every page   {rss_warm:8.0f} MB")
    print(f"  after warm reloads + interactions  {rss_after_warm:8.0f} MB")
    print(f"  after browsing {len(combos):>3} clips            {rss_after_browse:8.0f} MB   (server peak {peak_mb:.0f} MB)")
    print(f"  growth from the warm-up            {growth:8.0f} MB   target < {GROWTH_TARGET_MB:.0f} MB: "
          f"{verdict(growth < GROWTH_TARGET_MB)}   (browsing alone {rss_after_browse - rss_after_warm:+.0f} MB)")
    if problems:
        print()
        print(f"{len(problems)} deep link(s) did not land as expected:")
        for problem in problems[:10]:
            print(f"  {problem}")


if __name__ == "__main__":
    main()
