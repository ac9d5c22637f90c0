"""Every dashboard page, run through the entry script and ``st.navigation`` under Streamlit's AppTest.

Each page's controls are worked (selections, sliders, uploads of a real and of a corrupt file) on the
tiny profile's database, and what the page then shows (tables, metrics, captions, audio, chart data)
is checked, as are deep links (query parameters read when a page opens, ``?page=``). Two things only a
browser does are left to tests/test_browser.py: clicks on the canvas tables (confusion matrix, clip
table), and writing a bound widget's new value into the URL (AppTest reads the URL but never writes it,
so here a widget's binding is checked on its element).
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from engine.explain.attribution import ATTRIBUTION_METHODS
from results import store

DASHBOARD = Path(__file__).resolve().parents[1] / "dashboard"
VIEWS = sorted((DASHBOARD / "views").glob("*.py"))
TITLES = {
    "overview": "Explainable Music Emotion Recognition",
    "compare": "Run comparison",
    "feature_sets": "Feature sets",
    "midlevel": "Mid-level explanations",
    "descriptors": "Descriptors and harmony",
    "confusion": "Confusion browser",
    "attribution_quality": "Attribution quality",
    "explain_clip": "Explain your clip",
    "listening_study": "Listening study",
}
CELLS = ["happy-happy", "happy-sad", "sad-happy", "sad-sad"]
# Pages whose default view shows tables, each with its CSV export (the mid-level page shows one only for
# the interaction head: see its own test; Explain your clip shows none).
PAGES_WITH_TABLES = ["overview", "feature_sets", "descriptors", "confusion", "attribution_quality"]


def open_app(db: Path | None, monkeypatch, view: str | None = None, **query: str) -> AppTest:
    """Run the entry script (Home) with ``$MER_DB`` set to ``db``, then switch to ``views/<view>.py``.

    ``query`` parameters are in the URL when the page is opened (a deep link).
    """
    if db is not None:
        monkeypatch.setenv("MER_DB", str(db))
    app = AppTest.from_file(str(DASHBOARD / "Home.py"), default_timeout=90)
    if view is None:
        app.query_params.update(query)
        return app.run()
    app.run()
    assert not app.exception, app.exception
    app.query_params.update(query)
    return app.switch_page(f"views/{view}.py").run()


def all_text(app: AppTest) -> str:
    parts = [e.value for e in app.markdown] + [e.value for e in app.caption] + [e.value for e in app.title]
    parts += [e.value for e in app.info] + [e.value for e in app.header] + [e.value for e in app.subheader]
    parts += [e.value for e in app.warning] + [e.value for e in app.error]
    return "\n".join(str(p) for p in parts)


def title(app: AppTest) -> str:
    return app.title[0].value if app.title else ""


def assert_clean(app: AppTest) -> None:
    assert not app.exception, app.exception
    assert not app.error, [e.value for e in app.error]


def frame_with(app: AppTest, *columns: str) -> pd.DataFrame:
    """Return the first table shown whose columns (or index names) include all of ``columns``."""
    for element in app.dataframe:
        frame = element.value
        names = {str(c) for c in frame.columns} | {str(n) for n in frame.index.names}
        if set(columns) <= names:
            return frame
    raise AssertionError(f"no table with columns {columns}: {[list(d.value.columns) for d in app.dataframe]}")


def downloads(app: AppTest) -> list[str]:
    return [b.label for b in app.get("download_button")]


def bound(widget) -> str:
    """Return the query parameter a widget is bound to.

    The browser writes its value there; AppTest only reads the URL, so the other direction is checked
    by the deep-link tests and in tests/test_browser.py.
    """
    return widget.proto.query_param_key


def chart_specs(app: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in app.get("plotly_chart")]


# --- Home and the database choice -------------------------------------------------------------------


def test_home_without_a_database_says_how_to_build_one(tmp_path, monkeypatch):
    app = open_app(tmp_path / "missing.duckdb", monkeypatch)
    assert not app.exception
    assert "python -m precompute run --profile demo" in all_text(app)
    assert any("missing.duckdb does not exist" in w.value for w in app.warning)
    assert not app.metric and not app.dataframe


def test_home_shows_runs_datasets_headline_figures_and_the_guided_path(tiny_db, monkeypatch):
    app = open_app(tiny_db, monkeypatch)
    assert_clean(app)
    assert title(app) == TITLES["overview"]
    labels = [m.label for m in app.metric]
    assert any("Audio → emotion" in label for label in labels)
    assert any("Perceptual" in label for label in labels)
    assert all(m.value != "not run" for m in app.metric)  # tiny runs every family
    # headline figures: the best model usable on new audio, CI and n or "deterministic", ceilings named apart
    captions = [c.value for c in app.caption]
    assert any("Mid2E/" in c and "annotated_midlevel" not in c.split("·")[0] for c in captions)
    assert any(c.startswith("Ceiling (annotated descriptors") and "(deterministic)" in c for c in captions)
    assert "± 0.000" not in all_text(app)
    assert any("seeds" in c or "seed)" in c or "deterministic" in c for c in captions)
    clips = frame_with(app, "split", "clips")
    assert clips["clips"].sum() == 20
    runs = frame_with(app, "profile", "status")
    assert (runs["status"] == "finished").any() and set(runs["profile"]) == {"tiny"}
    assert f"Database `{tiny_db}`" in all_text(app) and "profile **tiny**" in all_text(app)
    links = [link.value for link in app.get("page_link")]
    assert len(links) == 6 and links[3].startswith("4 · Where does the ViT err")
    assert any("read-only" in c.value and tiny_db.name in c.value for c in app.sidebar.caption)


def test_hosted_mode_pins_the_database_given_in_secrets(tiny_db, monkeypatch):
    monkeypatch.delenv("MER_DB", raising=False)
    app = AppTest.from_file(str(DASHBOARD / "Home.py"), default_timeout=90)
    app.secrets["MER_DB"] = str(tiny_db)
    app.run()
    assert_clean(app)
    assert not app.sidebar.selectbox  # no other database on offer
    assert any("read-only" in c.value and tiny_db.name in c.value for c in app.sidebar.caption)
    assert f"Database `{tiny_db}`" in all_text(app)


def test_run_selector_chooses_a_database_and_keeps_it_in_the_url(tiny_db, tmp_path, monkeypatch):

    first, second = tmp_path / "alpha.duckdb", tmp_path / "beta.duckdb"
    shutil.copy(tiny_db, first)
    shutil.copy(tiny_db, second)
    monkeypatch.delenv("MER_DB", raising=False)
    monkeypatch.setattr(store, "available_databases", lambda *args, **kwargs: [first, second])
    app = AppTest.from_file(str(DASHBOARD / "Home.py"), default_timeout=90).run()
    assert_clean(app)
    run = app.sidebar.selectbox(key="run")
    assert run.options == ["alpha", "beta"] and run.value == "alpha"
    assert f"Database `{first}`" in all_text(app)
    assert any(c.value.startswith("alpha · synthetic · finished") for c in app.sidebar.caption)
    run.set_value("beta").run()
    assert_clean(app)
    assert f"Database `{second}`" in all_text(app)
    assert bound(app.sidebar.selectbox(key="run")) == "run"
    # The choice holds on every page, and a deep link selects it.
    app.switch_page("views/confusion.py").run()
    assert_clean(app)
    assert app.sidebar.selectbox(key="run").value == "beta" and title(app) == TITLES["confusion"]
    linked = AppTest.from_file(str(DASHBOARD / "Home.py"), default_timeout=90)
    linked.query_params["run"] = "beta"
    linked.run()
    assert linked.sidebar.selectbox(key="run").value == "beta" and f"Database `{second}`" in all_text(linked)


def test_page_parameter_switches_to_a_known_page_and_ignores_an_unknown_one(tiny_db, monkeypatch):
    app = open_app(tiny_db, monkeypatch, page="no_such_page")
    assert_clean(app)
    assert title(app) == TITLES["overview"]
    assert "page" not in app.query_params
    app = open_app(tiny_db, monkeypatch, page="confusion", cell="sad-sad")
    assert_clean(app)
    assert title(app) == TITLES["confusion"]
    assert app.radio(key="cell").value == "sad-sad"  # the other parameters travel with it
    assert "page" not in app.query_params


# --- every page ------------------------------------------------------------------------------------


@pytest.mark.parametrize("view", VIEWS, ids=[p.stem for p in VIEWS])
def test_every_page_renders_through_the_navigation(view, tiny_db, monkeypatch):
    app = open_app(tiny_db, monkeypatch, view=view.stem)
    assert_clean(app)
    assert title(app) == TITLES[view.stem]
    if view.stem in PAGES_WITH_TABLES:
        assert app.dataframe
        labels = downloads(app)
        assert labels.count("CSV") >= 1 and "LaTeX" in labels  # every table can be exported


def test_feature_sets_switches_route_and_metric(tiny_db, monkeypatch):
    app = open_app(tiny_db, monkeypatch, view="feature_sets")
    assert_clean(app)
    assert app.radio(key="route").options == ["A2E", "A2Mid", "Mid2E"]
    table = app.dataframe[0].value
    assert set(table["input"]) == {"spectrogram", "chromagram", "chromagram+spectrogram", "mean_chroma_12"}
    assert (table["mean"].abs() <= 1).all()  # Pearson r
    app.radio(key="route").set_value("Mid2E").run()
    app.radio(key="metric").set_value("mse").run()
    assert_clean(app)
    assert bound(app.radio(key="route")) == "route" and bound(app.radio(key="metric")) == "metric"
    assert any(s.value.startswith("Mid2E (mid-level → emotion)") for s in app.subheader)
    table = app.dataframe[0].value
    assert set(table["head"]) == {"ridge", "ridge_interactions", "shallow_nn"}
    assert set(table["feature_set"]) == {"7", "19", "34", "key_relative"}
    assert (table["mean"] > 0).all()
    assert [s.value for s in app.subheader] == ["Mid2E (mid-level → emotion): mean over the emotion scales, mean ± SD over seeds"]
    assert len(app.get("plotly_chart")) == 1  # only the open tab is drawn
    # The cost of explainability: every bottleneck model against the best direct one.
    app.session_state["view"] = "Cost of explainability"
    app.run()
    assert_clean(app)
    assert any("cost of explainability" in s.value for s in app.subheader)
    cost = frame_with(app, "change", "direct_mean")
    assert len(cost) == len(table)
    assert np.allclose(cost["change"], cost["mean"] - cost["direct_mean"])
    # Narrow the per-emotion table to one experiment.
    app.session_state["view"] = "Per emotion scale"
    app.run()
    one = table["experiment_id"].iloc[0]
    app.multiselect(key="experiments").set_value([one]).run()
    assert_clean(app)
    per_emotion = frame_with(app, "experiment_id", "valence", "tender")
    assert list(per_emotion.index) == [one] and per_emotion.notna().all(axis=None)
    assert downloads(app).count("CSV") == 1 and len(app.get("plotly_chart")) == 1
    # Training curves: a ridge model has none, a network has its epochs.
    app.session_state["view"] = "Training curves"
    app.run()
    network = table.loc[table["head"] == "shallow_nn", "experiment_id"].iloc[0]
    app.selectbox(key="curves").set_value(network).run()
    assert_clean(app)
    assert len(app.get("plotly_chart")) == 1
    app.selectbox(key="curves").set_value(table.loc[table["head"] == "ridge", "experiment_id"].iloc[0]).run()
    assert "no epochs to show" in all_text(app)
    app.radio(key="route").set_value("A2E").run()  # tiny.toml fuses its A2E branches first: no epochs of its own
    app.selectbox(key="curves").set_value("A2E/chromagram+spectrogram/cnn").run()
    assert_clean(app)
    assert "separately trained branches" in all_text(app)
    # A deep link opens the same view.
    linked = open_app(tiny_db, monkeypatch, view="feature_sets", route="A2Mid", metric="mse")
    assert_clean(linked)
    assert linked.radio(key="route").value == "A2Mid" and linked.radio(key="metric").value == "mse"
    assert set(linked.dataframe[0].value["input"]) == {"spectrogram"}


def test_midlevel_page_shows_coefficients_and_shap_for_each_model(tiny_db, monkeypatch):
    app = open_app(tiny_db, monkeypatch, view="midlevel")
    assert_clean(app)
    assert len(app.selectbox(key="source").options) == 3
    shown = 0
    for source in app.selectbox(key="source").options:
        app.selectbox(key="source").set_value(source).run()
        for feature_set in app.selectbox(key="feature_set").options:
            app.selectbox(key="feature_set").set_value(feature_set).run()
            for head in app.selectbox(key="head").options:
                app.selectbox(key="head").set_value(head).run()
                # Only the open tab (bound to ?view=) is drawn: coefficients first, then one clip's SHAP.
                app.session_state["view"] = "Coefficients"
                app.run()
                assert not app.exception, app.exception
                if head == "shallow_nn":
                    assert "has no coefficients" in all_text(app)
                else:
                    assert "Standardised coefficients (features × emotions)" in all_text(app)
                    assert len(app.get("plotly_chart")) >= 2
                if head == "ridge_interactions":
                    pairs = frame_with(app, "pair", "β")
                    assert len(pairs) > 0 and pairs["pair"].str.contains(" x ").all()
                    assert downloads(app).count("CSV") == 1
                app.session_state["view"] = "SHAP per clip"
                app.run()
                assert not app.exception, app.exception
                assert "Base value" in all_text(app) and "Standardised coefficients" not in all_text(app)
                assert len(app.get("plotly_chart")) == 2  # beeswarm and waterfall
                shown += 1
    assert shown == 3 * 4 * 3
    # One clip's waterfall: emotion and clip, both bound to the URL.
    clips = app.selectbox(key="clip").options
    assert len(clips) > 1
    app.selectbox(key="emotion").set_value("tension").run()
    app.selectbox(key="clip").set_value(clips[1]).run()
    assert_clean(app)
    assert bound(app.selectbox(key="emotion")) == "emotion" and bound(app.selectbox(key="clip")) == "clip"
    predicted = next(m for m in app.metric if m.label == "Predicted tension")
    rated = next(m for m in app.metric if m.label == "Rated tension")
    assert 1 <= float(rated.value) <= 8  # the Soundtracks rating scale
    caption = next(c.value for c in app.caption if c.value.startswith("Base value"))
    base, total = float(caption.split()[2]), float(caption.split("=")[-1])
    contributions = float(caption.split("contributions")[1].split("=")[0])
    assert base + contributions == pytest.approx(total, abs=0.011)
    assert float(predicted.value) == pytest.approx(total, abs=0.02)  # SHAP adds up to the prediction
    assert len(app.get("audio")) == 1


@pytest.mark.parametrize(("view", "tab", "subheader"), [
    ("midlevel", "SHAP global", "SHAP: global importance"),
    ("feature_sets", "Cost of explainability", "The cost of explainability: mid-level bottleneck against direct audio models"),
])
def test_a_tab_is_a_deep_link(tiny_db, monkeypatch, view, tab, subheader):
    app = AppTest.from_file(str(DASHBOARD / "Home.py"), default_timeout=90)
    monkeypatch.setenv("MER_DB", str(tiny_db))
    app.run()
    app.query_params["view"] = tab
    app.switch_page(f"views/{view}.py").run()
    assert_clean(app)
    assert [s.value for s in app.subheader] == [subheader]  # the linked tab, and only it, is drawn
    assert len(app.get("plotly_chart")) == (2 if view == "midlevel" else 1)


def test_descriptor_page_compares_estimates_with_annotations(tiny_db, monkeypatch):
    app = open_app(tiny_db, monkeypatch, view="descriptors")
    assert_clean(app)
    assert app.selectbox(key="dataset").value == "synthetic"
    agreement = app.dataframe[0].value
    assert len(agreement) == 7  # one row per descriptor
    app.radio[0].set_value("predicted").run()
    assert_clean(app)
    assert "Chords present" in all_text(app) and "**Key**" in all_text(app)
    clips = app.selectbox(key="clip").options
    app.selectbox(key="clip").set_value(clips[-1]).run()
    assert_clean(app)
    assert bound(app.selectbox(key="clip")) == "clip" and bound(app.selectbox(key="dataset")) == "dataset"
    one = frame_with(app, "annotated", "estimated", "predicted")
    assert len(one) == 7 and one["annotated"].notna().all()
    assert downloads(app).count("CSV") >= 2
    linked = open_app(tiny_db, monkeypatch, view="descriptors", clip=clips[-1])
    assert linked.selectbox(key="clip").value == clips[-1]
    pd.testing.assert_frame_equal(frame_with(linked, "annotated", "estimated", "predicted"), one)


# --- the confusion browser -------------------------------------------------------------------------


def confusion_counts(app: AppTest) -> dict[str, int]:
    """Return the confusion matrix shown, as ``{"<true>-<predicted>": count}``."""
    matrix = app.dataframe(key="matrix").value
    return {f"{row.split()[1].lower()}-{column.split()[1].lower()}": int(matrix.loc[row, column])
            for row in matrix.index for column in matrix.columns}


def matrix_selection(app: AppTest) -> list:
    """Return the cells the confusion matrix shows as selected: ``[[row, column label]]``."""
    return json.loads(app.dataframe(key="matrix").proto.selection_default)["selection"]["cells"]


def clip_table(app: AppTest) -> tuple[pd.DataFrame, str]:
    """Return the clip table of the chosen cell and the clip id of the row it shows as selected."""
    clip = app.selectbox(key="clip").value
    table = app.dataframe(key=f"clip_table-{app.radio(key='cell').value}-{clip}")
    rows = json.loads(table.proto.selection_default)["selection"]["rows"]
    return table.value, table.value["clip_id"].iloc[rows[0]]


def test_confusion_browser_every_cell_and_method(tiny_db, monkeypatch):
    app = open_app(tiny_db, monkeypatch, view="confusion")
    assert_clean(app)
    assert app.selectbox(key="model").value and app.selectbox(key="seed").value == 0
    assert 0 <= float(app.metric[0].value) <= 1  # accuracy
    counts = confusion_counts(app)
    assert sum(counts.values()) > 0
    cells = app.radio(key="cell").options
    assert sorted(cells) == CELLS and cells[0] == "sad-happy" and app.radio(key="cell").value == "sad-happy"
    shown_audio = 0
    for cell in cells:
        app.radio(key="cell").set_value(cell).run()
        assert not app.exception, app.exception
        actual, predicted = cell.split("-")
        caption = f"{actual.capitalize()} → {predicted.capitalize()} ({counts[cell]}, "
        assert any(c.value.startswith(caption) for c in app.caption), caption
        assert matrix_selection(app) == [[CELLS.index(cell) // 2, f"predicted {predicted.capitalize()}"]]
        if counts[cell] == 0:
            assert "No test clip falls in this cell" in all_text(app)
            continue
        clips, highlighted = clip_table(app)
        explained = int(next(c.value for c in app.caption if "clips of this cell are explained" in c.value).split()[0])
        assert 0 < explained <= counts[cell]  # every filled cell has explained clips
        assert len(clips) == explained and clips["map_stored"].all()  # only explained clips by default
        assert list(clips["clip_id"]) == app.selectbox(key="clip").options
        assert highlighted == app.selectbox(key="clip").value  # the table marks the clip shown
        assert clips["map_stored"].iloc[0]  # explained clips first
        methods = app.selectbox(key="method").options
        assert set(methods) <= set(ATTRIBUTION_METHODS) and "random" in methods
        for method in methods:
            app.selectbox(key="method").set_value(method).run()
            assert not app.exception, app.exception
            clip = app.selectbox(key="clip").value
            assert any(s.value.startswith(f"{clip}: true {actual.capitalize()}, predicted {predicted.capitalize()}")
                       for s in app.subheader)
            assert any(f"({method}; precomputed" in c.value for c in app.caption)
            shown_audio = max(shown_audio, len(app.get("audio")))
    assert shown_audio == 3  # original, sonified and complement side by side


def first_filled_cell(app: AppTest, preferred: str = "happy-sad") -> str:
    counts = confusion_counts(app)
    filled = [c for c in [preferred, *CELLS] if counts[c] > 0 and c != "sad-happy"]
    if not filled:
        pytest.skip(f"the tiny ViT fills no cell but the default one: {counts}")
    return filled[0]


def test_confusion_browser_opens_a_deep_link(tiny_db, monkeypatch):
    probe = open_app(tiny_db, monkeypatch, view="confusion")
    cell = first_filled_cell(probe)
    probe.radio(key="cell").set_value(cell).run()
    clips = probe.selectbox(key="clip").options
    clip = clips[-1]
    app = open_app(tiny_db, monkeypatch, view="confusion", cell=cell, clip=clip, method="attnlrp", p="3.0")
    assert_clean(app)
    actual, predicted = cell.split("-")
    assert app.radio(key="cell").value == cell
    assert app.selectbox(key="clip").value == clip
    assert app.selectbox(key="method").value == "attnlrp"
    assert app.slider(key="p").value == 3.0
    assert any(s.value.startswith(f"{clip}: true {actual.capitalize()}, predicted {predicted.capitalize()}") for s in app.subheader)
    assert any(c.value.startswith(f"{actual.capitalize()} → {predicted.capitalize()}") for c in app.caption)
    table, highlighted = clip_table(app)
    assert list(table["clip_id"]) == clips and highlighted == clip
    # the matrix shows the linked cell as selected
    assert matrix_selection(app) == [[CELLS.index(cell) // 2, f"predicted {predicted.capitalize()}"]]
    # p = 3 is not precomputed in the tiny profile: it is re-sonified live
    assert len(app.get("audio")) == 3
    assert any("re-sonified live" in c.value and "R^3" in c.value for c in app.caption)


def test_confusion_browser_falls_back_to_defaults_for_a_broken_deep_link(tiny_db, monkeypatch):
    app = open_app(tiny_db, monkeypatch, view="confusion", cell="bogus", clip="no-such-clip", method="nope", p="9",
                   model="nope", seed="7")
    assert_clean(app)
    assert app.radio(key="cell").value == "sad-happy" and app.slider(key="p").value == 2.0
    assert app.selectbox(key="clip").value == app.selectbox(key="clip").options[0]
    assert app.selectbox(key="method").value == app.selectbox(key="method").options[0]
    assert app.selectbox(key="seed").value == 0 and len(app.get("audio")) == 3
    # A clip of another cell is not shown under the linked cell: the cell's first clip is.
    cell = first_filled_cell(app)
    stranger = app.selectbox(key="clip").value  # a clip of the default cell
    linked = open_app(tiny_db, monkeypatch, view="confusion", cell=cell, clip=stranger)
    assert_clean(linked)
    assert linked.radio(key="cell").value == cell and stranger not in linked.selectbox(key="clip").options
    assert linked.selectbox(key="clip").value == linked.selectbox(key="clip").options[0]


def test_confusion_browser_resonifies_live_for_any_gain_exponent(tiny_db, monkeypatch):
    app = open_app(tiny_db, monkeypatch, view="confusion", p="1.5")
    assert_clean(app)
    assert app.slider(key="p").value == 1.5
    audio = app.get("audio")
    assert len(audio) == 3
    live = [c.value for c in app.caption if "re-sonified live" in c.value]
    assert len(live) == 1 and "R^1.5" in live[0]
    # back to the thesis's p = 2: the precomputed OGG again
    app.slider(key="p").set_value(2.0).run()
    assert_clean(app)
    assert any("precomputed (R^2)" in c.value for c in app.caption)
    assert not any("re-sonified live" in c.value for c in app.caption)
    app.slider(key="p").set_value(4.0).run()
    assert_clean(app)
    assert any("re-sonified live" in c.value and "R^4" in c.value for c in app.caption)
    assert bound(app.slider(key="p")) == "p"


def test_confusion_browser_opacity_slider_changes_the_overlay(tiny_db, monkeypatch):
    app = open_app(tiny_db, monkeypatch, view="confusion")
    assert_clean(app)

    def top_alpha() -> float:
        overlay = next(s for s in chart_specs(app) if len(s["data"]) == 2 and "Relevance for" in json.dumps(s["layout"]["title"]))
        colour = overlay["data"][1]["colorscale"][-1][1]  # rgba(214,39,40,<opacity at |R| = 1>)
        return float(colour.rsplit(",", 1)[1].rstrip(")"))

    assert app.slider(key="opacity").value == 0.7 and top_alpha() == pytest.approx(0.7)
    app.slider(key="opacity").set_value(0.25).run()
    assert_clean(app)
    assert app.slider(key="opacity").value == 0.25 and top_alpha() == pytest.approx(0.25)
    app.slider(key="opacity").set_value(0.0).run()
    assert top_alpha() == 0.0


def plotly_array(value) -> np.ndarray:
    """Decode a figure array as JSON carries it: a list, or Plotly's typed array ``{dtype, bdata, shape}``."""
    if isinstance(value, dict) and "bdata" in value:
        import base64

        array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = value.get("shape")
        if isinstance(shape, str):
            shape = [int(n) for n in shape.split(",")]
        return array.reshape(shape).astype(float) if shape else array.astype(float)
    return np.array(value, dtype=float)


def test_confusion_browser_highlights_the_top_percent_and_compares_every_method(tiny_db, monkeypatch):
    app = open_app(tiny_db, monkeypatch, view="confusion")
    assert_clean(app)
    assert app.radio(key="show").value == "top 10 %" and bound(app.radio(key="show")) == "show"

    def overlay() -> dict:
        return next(s for s in chart_specs(app) if "Relevance for" in json.dumps(s["layout"]["title"]))

    masked = overlay()["data"][1]
    painted = np.isfinite(plotly_array(masked["z"]))
    assert 0.08 <= painted.mean() <= 0.12 + 1e-9  # the top 10 % of pixels (ties may add a few)
    app.radio(key="show").set_value("top 5 %").run()
    assert_clean(app)
    assert np.isfinite(plotly_array(overlay()["data"][1]["z"])).mean() < painted.mean()
    app.radio(key="show").set_value("whole map").run()
    assert_clean(app)
    assert np.isfinite(plotly_array(overlay()["data"][1]["z"])).all()  # every pixel, alpha by |R|
    # the grid of every method is drawn only when asked for (it would slow every rerun otherwise)
    assert not any("per method" in json.dumps(s["layout"].get("title", "")) for s in chart_specs(app))
    app.toggle(key="every_method").set_value(True).run()
    assert_clean(app)
    grid = next(s for s in chart_specs(app) if "per method" in json.dumps(s["layout"]["title"]))
    titles = [a["text"] for a in grid["layout"]["annotations"]]
    assert "random (chance reference)" in titles and len(titles) == len(app.selectbox(key="method").options)


def test_confusion_browser_shows_both_decision_rules_and_a_heatmap(tiny_db, monkeypatch):
    import duckdb

    app = open_app(tiny_db, monkeypatch, view="confusion")
    assert_clean(app)
    # A closed lazy expander sends nothing; opening it draws its tables.
    with pytest.raises(AssertionError):
        frame_with(app, "calibrated")
    app.session_state["metrics_open"] = True
    app.run()
    experiment, seed = app.selectbox(key="model").value, app.selectbox(key="seed").value
    decisions = frame_with(app, "calibrated")
    assert list(decisions.columns) == ["at p = 0.5", "calibrated"]
    con = duckdb.connect(str(tiny_db), read_only=True)
    stored = dict(con.execute("SELECT metric, value FROM metrics WHERE experiment_id = ? AND seed = ? "
                              "AND target = 'happy_vs_sad@calibrated'", [experiment, seed]).fetchall())
    con.close()
    assert decisions.loc["threshold p(happy)", "at p = 0.5"] == 0.5
    assert decisions.loc["threshold p(happy)", "calibrated"] == pytest.approx(stored["threshold_p_happy"])
    assert decisions.loc["balanced accuracy", "calibrated"] == pytest.approx(stored["macro_recall"])
    for name in ("precision happy", "f1 sad", "macro F1"):
        assert name in decisions.index
    assert any(m.label == "Calibrated" for m in app.metric)
    # the clickable matrix is a heatmap: every cell carries a background colour
    matrix = app.dataframe(key="matrix")
    assert "background-color" in str(matrix.proto.arrow_data.styler.styles)


def test_a_matrix_click_is_not_dropped_after_a_choice(tiny_db, monkeypatch):
    """The cell radio takes its value from Session State only.

    It had both a default and a Session State value: Streamlit warned, and in a browser the first
    matrix click after choosing a clip was ignored.
    """
    from streamlit.elements.lib import policies

    warned: list[str] = []
    monkeypatch.setattr(policies, "_shown_default_value_warning", False)
    monkeypatch.setattr(policies._LOGGER, "warning", lambda message, *args, **kwargs: warned.append(message % args))
    app = open_app(tiny_db, monkeypatch, view="confusion")
    for cell in ("happy-sad", "sad-sad", "happy-happy"):
        app.session_state["cell"] = cell  # what the matrix's click callback does
        app.run()
        assert_clean(app)
        assert app.radio(key="cell").value == cell
    assert not [w for w in warned if "default value" in w], warned


def test_confusion_browser_clip_choice_shows_that_clip(tiny_db, monkeypatch):
    app = open_app(tiny_db, monkeypatch, view="confusion")
    counts = confusion_counts(app)
    cell = max(CELLS, key=lambda c: counts[c])
    if counts[cell] < 2:
        pytest.skip(f"no cell holds two clips: {counts}")
    app.radio(key="cell").set_value(cell).run()
    clips = app.selectbox(key="clip").options
    app.selectbox(key="clip").set_value(clips[1]).run()
    assert_clean(app)
    assert app.radio(key="cell").value == cell and app.selectbox(key="clip").value == clips[1]
    assert any(s.value.startswith(f"{clips[1]}:") for s in app.subheader)
    # beside the A/B/C player: what the model itself hears in B and C for this clip and method
    assert any(m.value.startswith("The model's ear: it hears") for m in app.markdown)
    app.session_state["facts_open"] = True  # a lazy expander: drawn once opened
    app.run()
    known = frame_with(app, "name")
    assert len(known) > 0


# --- attribution quality and explain your clip -------------------------------------------------------


def test_attribution_quality_shows_faithfulness_sanity_and_stems(tiny_db, monkeypatch):
    app = open_app(tiny_db, monkeypatch, view="attribution_quality")
    assert_clean(app)
    frames = [df.value for df in app.dataframe]
    faithful = next(f for f in frames if "road gap" in f.columns)
    methods = set(faithful["method"]) - {"random order"}
    assert "random order" in set(faithful["method"]) and "random" in methods
    assert all("[" in text for text in faithful["road gap"])  # every score carries its CI
    agreement = next(f for f in frames if "causal ρ" in f.columns)
    assert set(agreement["method"]) == methods
    assert any("support" in m.value for m in app.markdown)  # the one-sentence verdict
    sanity = next(f for f in frames if "all" in f.columns)
    assert sanity.loc["random", ["head", "top_half", "all"]].eq(1.0).all()  # the model-blind reference fails by construction
    assert sanity["all: 95 % CI"].str.startswith("[").all()
    stems = next(f for f in frames if "drums" in f.columns or "percussion" in f.columns)
    assert len(stems) == len(methods)
    assert len(app.get("plotly_chart")) == 2  # MoRF and LeRF curves
    # the model's ear: one row per method, each with its gap and its difference from random's
    ear = next(f for f in frames if "ear gap B − C [95 % CI]" in f.columns)
    assert set(ear["method"]) == methods and ear["ear gap B − C [95 % CI]"].str.contains(r"\[").all()
    assert (ear.set_index("method").loc["random", "gap − random's [95 % CI]"]) == "reference"
    assert any("clips" in m.value and "random map" in m.value for m in app.markdown)  # the ear verdict
    assert downloads(app).count("CSV") == 6
    # The model and seed pickers (shared by the ViT pages) are worked and bound to the URL.
    model = app.selectbox(key="model")
    model.set_value(model.options[-1]).run()
    seed = app.selectbox(key="seed")
    seed.set_value(seed.options[-1]).run()
    assert_clean(app)
    assert app.selectbox(key="model").value == model.options[-1]
    assert bound(app.selectbox(key="model")) == "model" and bound(app.selectbox(key="seed")) == "seed"
    assert "road gap" in frame_with(app, "road gap").columns


def wav_bytes(seconds: float = 3.0, rate: int = 44_100) -> bytes:
    import soundfile as sf

    t = np.arange(int(seconds * rate)) / rate
    buffer = io.BytesIO()
    sf.write(buffer, np.stack([0.3 * np.sin(2 * np.pi * 440 * t), 0.2 * np.sin(2 * np.pi * 660 * t)], axis=1), rate, format="WAV")
    return buffer.getvalue()


def test_explain_your_clip_explains_a_real_upload_and_rejects_bad_ones(tiny_db, monkeypatch):
    app = open_app(tiny_db, monkeypatch, view="explain_clip")
    assert_clean(app)
    assert "Nothing uploaded yet" in all_text(app)
    assert not app.get("audio")
    app.file_uploader(key="upload").upload("stereo_44k.wav", wav_bytes(), "audio/wav").run()
    assert_clean(app)
    assert app.metric[0].label == "Prediction" and app.metric[0].value in ("Happy", "Sad")
    probabilities = [float(m.value.rstrip("%")) for m in app.metric[1:]]
    assert [m.label for m in app.metric[1:]] == ["p(happy)", "p(sad)"] and sum(probabilities) == pytest.approx(100, abs=0.2)
    # one overlay, the same figure and default (top 10 % of |R|) as the Confusion browser
    assert len(app.get("audio")) == 3 and len(app.get("plotly_chart")) == 1
    assert app.radio(key="upload_show").value == "top 10 %"
    overlay = chart_specs(app)[0]
    assert "top 10 % of regions" in json.dumps(overlay["layout"]["title"]) and len(overlay["data"]) == 2
    assert any("synthetic demo corpus" in w.value for w in app.warning)  # the tiny model never heard real music
    app.slider(key="power").set_value(3.0).run()
    app.selectbox(key="upload_method").set_value("attnlrp").run()
    assert_clean(app)
    assert any("R^3" in c.value for c in app.caption)
    assert any("(attnlrp)" in json.dumps(spec["layout"]["title"]) for spec in chart_specs(app))
    for name, content, reason in [
        ("corrupt.wav", b"RIFF\x00\x00\x00\x00WAVEjunkjunk" * 20, "corrupt.wav:"),
        ("empty.flac", b"", "empty"),
        ("notes.mp3", b"hello, not audio", "notes.mp3:"),  # other extensions never reach the app: the widget refuses them
    ]:
        app.file_uploader(key="upload").upload(name, content).run()
        assert not app.exception, app.exception
        assert app.error and reason in app.error[0].value and "Traceback" not in app.error[0].value
        assert not app.metric and not app.get("audio")  # nothing of the previous clip is left on show
    app.file_uploader(key="upload").upload("stereo_44k.wav", wav_bytes(seconds=2.0)).run()
    app.number_input(key="offset").set_value(30.0).run()
    assert not app.exception and app.error and "past the end" in app.error[0].value
