"""Every dashboard page renders real rows of a results database without an exception (AppTest)."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from engine.explain.attribution import ATTRIBUTION_METHODS

DASHBOARD = Path(__file__).resolve().parents[1] / "dashboard"
PAGES = sorted((DASHBOARD / "pages").glob("*.py"))


def run_page(path: Path, db: Path | None, monkeypatch) -> AppTest:
    if db is not None:
        monkeypatch.setenv("MER_DB", str(db))
    app = AppTest.from_file(str(path), default_timeout=60)
    return app.run()


def all_text(app: AppTest) -> str:
    parts = [e.value for e in app.markdown] + [e.value for e in app.caption] + [e.value for e in app.title]
    parts += [e.value for e in app.info] + [e.value for e in app.header] + [e.value for e in app.subheader]
    return "\n".join(str(p) for p in parts)


def test_home_without_a_database_says_how_to_build_one(tmp_path, monkeypatch):
    monkeypatch.setenv("MER_DB", str(tmp_path / "missing.duckdb"))
    app = run_page(DASHBOARD / "Home.py", None, monkeypatch)
    assert not app.exception
    assert "python -m precompute run --profile demo" in all_text(app)


def test_home_shows_runs_datasets_and_headline_figures(tiny_db, monkeypatch):
    app = run_page(DASHBOARD / "Home.py", tiny_db, monkeypatch)
    assert not app.exception
    labels = [m.label for m in app.metric]
    assert any("Audio → emotion" in label for label in labels)
    assert any("ViT" in label for label in labels)
    assert all(m.value != "not run" for m in app.metric)  # tiny runs every family
    frames = [df.value for df in app.dataframe]
    assert any("split" in f.columns and f["clips"].sum() == 20 for f in frames)
    assert any("profile" in f.columns and (f["status"] == "finished").any() for f in frames)


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_every_page_renders_without_exception(page, tiny_db, monkeypatch):
    app = run_page(page, tiny_db, monkeypatch)
    assert not app.exception, app.exception
    assert not app.error


def test_compare_models_switches_route_and_metric(tiny_db, monkeypatch):
    app = run_page(DASHBOARD / "pages" / "1_Compare_models.py", tiny_db, monkeypatch)
    assert app.radio[0].options == ["A2E", "A2Mid", "Mid2E"]
    table = app.dataframe[0].value
    assert set(table["input"]) == {"spectrogram", "chromagram", "chromagram+spectrogram", "mean_chroma_12"}
    app.radio[0].set_value("Mid2E").run()
    app.radio[1].set_value("mse").run()
    assert not app.exception
    table = app.dataframe[0].value
    assert set(table["head"]) == {"ridge", "ridge_interactions", "shallow_nn"}
    assert set(table["feature_set"]) == {"7", "19", "34", "key_relative"}
    assert (table["mean"] > 0).all()


def test_midlevel_page_shows_coefficients_and_shap_for_each_model(tiny_db, monkeypatch):
    app = run_page(DASHBOARD / "pages" / "2_Mid-level_explanations.py", tiny_db, monkeypatch)
    assert len(app.selectbox(key="source").options) == 3
    shown = 0
    for source in app.selectbox(key="source").options:
        app.selectbox(key="source").set_value(source).run()
        for feature_set in app.selectbox(key="feature_set").options:
            app.selectbox(key="feature_set").set_value(feature_set).run()
            for head in app.selectbox(key="head").options:
                app.selectbox(key="head").set_value(head).run()
                assert not app.exception
                assert "Base value" in all_text(app)
                assert len(app.get("plotly_chart")) >= 3
                shown += 1
    assert shown == 3 * 4 * 3


def test_descriptor_page_compares_estimates_with_annotations(tiny_db, monkeypatch):
    app = run_page(DASHBOARD / "pages" / "4_Descriptors_and_harmony.py", tiny_db, monkeypatch)
    assert not app.exception
    agreement = app.dataframe[0].value
    assert len(agreement) == 7  # one row per descriptor
    app.radio[0].set_value("predicted").run()
    assert not app.exception
    assert "Chords present" in all_text(app) and "Key" in all_text(app)


def test_confusion_browser_every_cell_and_method(tiny_db, monkeypatch):
    app = run_page(DASHBOARD / "pages" / "3_Confusion_browser.py", tiny_db, monkeypatch)
    cells = app.radio(key="cell").options
    assert len(cells) == 4
    shown_audio = 0
    for cell in cells:
        app.radio(key="cell").set_value(cell).run()
        assert not app.exception
        if "No test clip" in all_text(app):
            continue
        methods = app.selectbox(key="method").options
        assert set(methods) == set(ATTRIBUTION_METHODS)
        for method in methods:
            app.selectbox(key="method").set_value(method).run()
            assert not app.exception
            shown_audio = max(shown_audio, len(app.get("audio")))
    assert shown_audio == 3  # original, sonified and complement side by side


def test_attribution_quality_shows_faithfulness_sanity_and_stems(tiny_db, monkeypatch):
    app = run_page(DASHBOARD / "pages" / "5_Attribution_quality.py", tiny_db, monkeypatch)
    assert not app.exception and not app.error
    frames = [df.value for df in app.dataframe]
    faithful = next(f for f in frames if "insertion_gain" in f.columns)
    assert set(faithful["method"]) == set(ATTRIBUTION_METHODS)
    sanity = next(f for f in frames if "all" in f.columns)
    assert sanity.loc["random"].eq(1.0).all()  # the model-blind reference fails the check by construction
    stems = next(f for f in frames if "drums" in f.columns or "percussion" in f.columns)
    assert len(stems) == len(ATTRIBUTION_METHODS)
    assert len(app.get("plotly_chart")) == 2  # deletion and insertion curves


def wav_bytes(seconds: float = 3.0, rate: int = 44_100) -> bytes:
    import io

    import numpy as np
    import soundfile as sf

    t = np.arange(int(seconds * rate)) / rate
    buffer = io.BytesIO()
    sf.write(buffer, np.stack([0.3 * np.sin(2 * np.pi * 440 * t), 0.2 * np.sin(2 * np.pi * 660 * t)], axis=1), rate, format="WAV")
    return buffer.getvalue()


def test_explain_your_clip_explains_a_real_upload_and_rejects_bad_ones(tiny_db, monkeypatch):
    app = run_page(DASHBOARD / "pages" / "6_Explain_your_clip.py", tiny_db, monkeypatch)
    assert not app.exception and not app.error
    assert "Nothing uploaded yet" in all_text(app)
    app.file_uploader(key="upload").upload("stereo_44k.wav", wav_bytes(), "audio/wav").run()
    assert not app.exception and not app.error
    assert app.metric[0].label == "Prediction" and app.metric[0].value in ("Happy", "Sad")
    assert len(app.get("audio")) == 3 and len(app.get("plotly_chart")) == 2
    app.slider(key="power").set_value(3.0).run()
    app.selectbox(key="upload_method").set_value("attnlrp").run()
    assert not app.exception and not app.error
    for name, content, reason in [
        ("corrupt.wav", b"RIFF\x00\x00\x00\x00WAVEjunkjunk" * 20, "corrupt.wav:"),
        ("empty.flac", b"", "empty"),
        ("notes.mp3", b"hello, not audio", "notes.mp3:"),  # other extensions never reach the app: the widget refuses them
    ]:
        app.file_uploader(key="upload").upload(name, content).run()
        assert not app.exception, app.exception
        assert app.error and reason in app.error[0].value and "Traceback" not in app.error[0].value
    app.file_uploader(key="upload").upload("stereo_44k.wav", wav_bytes(seconds=2.0)).run()
    app.number_input(key="offset").set_value(30.0).run()
    assert not app.exception and app.error and "past the end" in app.error[0].value


def test_hosted_mode_pins_the_database_given_in_secrets(tiny_db, monkeypatch):
    monkeypatch.delenv("MER_DB", raising=False)
    app = AppTest.from_file(str(DASHBOARD / "Home.py"), default_timeout=60)
    app.secrets["MER_DB"] = str(tiny_db)
    app.run()
    assert not app.exception and not app.error
    assert not app.sidebar.selectbox  # no other database on offer
    assert any("read-only" in c.value and tiny_db.name in c.value for c in app.sidebar.caption)
