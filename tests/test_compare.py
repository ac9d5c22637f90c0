"""Run comparison: which models match, the paired and unpaired CIs of their differences, and the page.

The statistics are checked against direct computations (numpy's correlation, scipy's Welch interval)
on made-up outputs; the page runs under AppTest on copies of the tiny profile's database, one of them
changed so that the runs differ, and is opened from a URL that holds both runs.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from scipy import stats
from streamlit.testing.v1 import AppTest

from dashboard import comparison, queries
from results import store
from results.store import connect_read_only

DASHBOARD = Path(__file__).resolve().parents[1] / "dashboard"
NAMES = np.array([f"c{i:03d}" for i in range(40)])


def run_outputs(path: Path) -> dict[str, pd.DataFrame]:
    con = connect_read_only(path)
    try:
        return {"experiments": queries.experiments(con), "regression": queries.regression_outputs(con),
                "decisions": queries.classifier_outputs(con)}
    finally:
        con.close()


def made_up(seed: int = 0, *, own_a: float = 0.1, own_b: float = 1.0, seeds: int = 1, n: int = 40):
    """Two regression models whose errors share a large per-clip part (the clips' difficulty); A's own noise is smaller."""
    rng = np.random.default_rng(seed)
    actual = rng.normal(size=(n, 3))
    shared = rng.normal(size=(n, 3))
    a = actual + shared + rng.normal(scale=own_a, size=(seeds, n, 3))
    b = actual + shared + rng.normal(scale=own_b, size=(seeds, n, 3))
    return (comparison.Outputs("d", NAMES[:n], a, actual, ("x", "y", "z")),
            comparison.Outputs("d", NAMES[:n], b, actual, ("x", "y", "z")))


def direct(outputs: comparison.Outputs, metric: str) -> float:
    """Compute the metric by the textbook formula, seed by seed, averaged over seeds."""
    values = []
    for predicted in outputs.predicted:
        if metric == "pearson_r":
            values.append(np.mean([np.corrcoef(predicted[:, t], outputs.actual[:, t])[0, 1] for t in range(predicted.shape[1])]))
        elif metric == "mse":
            values.append(np.mean((predicted - outputs.actual) ** 2))
        else:
            values.append(np.mean([np.mean(predicted[outputs.actual == k] == k) for k in (True, False)]))
    return float(np.mean(values))


# --- statistics --------------------------------------------------------------------------------------


@pytest.mark.parametrize("metric", ["pearson_r", "mse", "balanced_accuracy"])
def test_each_bootstrap_resample_equals_the_metric_computed_directly(metric):
    a, _ = made_up(seeds=2)
    if metric == "balanced_accuracy":
        a = comparison.Outputs("d", a.clips, a.predicted[..., 0] > 0, a.actual[:, 0] > 0, ("happy (classifier)",))
    rows = np.random.default_rng(1).integers(0, len(a.clips), size=(5, len(a.clips)))
    resampled = comparison._resampled(a, rows, metric=metric)
    for row, value in zip(rows, resampled):
        picked = comparison.Outputs("d", a.clips[row], a.predicted[:, row], a.actual[row], a.targets)
        assert value == pytest.approx(direct(picked, metric), abs=1e-9)
    assert np.mean(comparison.metric_values(a, metric=metric)) == pytest.approx(direct(a, metric), abs=1e-12)


def test_the_same_clips_give_a_paired_ci_narrower_than_an_unpaired_one():
    a, b = made_up(seed=0)
    paired = comparison.compare(a, b, metric="pearson_r")
    assert paired.method == comparison.PAIRED and paired.n_a == paired.n_b == 40
    assert paired.difference == pytest.approx(direct(a, "pearson_r") - direct(b, "pearson_r"))
    assert paired.low > 0 and comparison.verdict(paired, metric="pearson_r") == "A better"
    # The same outputs under other clip names: another split, so the clips' shared difficulty no longer cancels.
    elsewhere = comparison.Outputs("d", np.char.add("x", b.clips), b.predicted, b.actual, b.targets)
    unpaired = comparison.compare(a, elsewhere, metric="pearson_r")
    assert unpaired.method == comparison.UNPAIRED
    assert unpaired.difference == pytest.approx(paired.difference)
    assert unpaired.low < 0 < unpaired.high and comparison.verdict(unpaired, metric="pearson_r") == "within noise"
    assert (paired.high - paired.low) < 0.6 * (unpaired.high - unpaired.low)
    # Other labels on the same clip names are not the same test either.
    relabelled = comparison.Outputs("d", b.clips, b.predicted, b.actual + 1.0, b.targets)
    assert not comparison.same_clips(a, relabelled) and comparison.same_clips(a, b)


def test_welch_over_seeds_matches_scipy_and_needs_two_seeds_a_side():
    a, b = made_up(seed=2, seeds=4)
    elsewhere = comparison.Outputs("other", b.clips, b.predicted, b.actual, b.targets)
    found = comparison.compare(a, elsewhere, metric="mse", unpaired=comparison.WELCH)
    per_seed_a, per_seed_b = comparison.metric_values(a, metric="mse"), comparison.metric_values(b, metric="mse")
    expected = stats.ttest_ind(per_seed_a, per_seed_b, equal_var=False).confidence_interval(0.95)
    assert found.method == comparison.WELCH and found.seeds_a == found.seeds_b == 4
    assert (found.low, found.high) == pytest.approx((expected.low, expected.high))
    assert comparison.verdict(found, metric="mse") == "A better"  # lower MSE
    one, _ = made_up(seed=2, seeds=1)
    fallback = comparison.compare(one, elsewhere, metric="mse", unpaired=comparison.WELCH)
    assert fallback.method.startswith(comparison.UNPAIRED) and "Welch needs 2 seeds" in fallback.method
    assert fallback.low < fallback.difference < fallback.high


def test_the_verdict_follows_the_metrics_direction():
    better_mse = comparison.Difference(1.0, 2.0, -1.0, -1.5, -0.5, comparison.PAIRED, 10, 10, 1, 1)
    assert comparison.verdict(better_mse, metric="mse") == "A better"
    assert comparison.verdict(better_mse, metric="pearson_r") == "B better"
    touching = comparison.Difference(1.0, 1.2, -0.2, -0.4, 0.0, comparison.PAIRED, 10, 10, 1, 1)
    assert comparison.verdict(touching, metric="pearson_r") == "within noise"
    flat = comparison.Difference(np.nan, 1.2, np.nan, np.nan, np.nan, comparison.PAIRED, 10, 10, 1, 1)
    assert comparison.verdict(flat, metric="pearson_r") == "undefined"


def test_models_match_by_experiment_or_across_heads_and_variants():
    def frame(*ids: str) -> pd.DataFrame:
        rows = [dict(zip(("route", "input", "head", "feature_set"), (i.split("/") + [""])[:4])) for i in ids]
        return pd.DataFrame(rows).assign(experiment_id=list(ids), dataset="d")

    a = frame("A2E/spectrogram/cnn", "Perceptual/spec/vit", "Perceptual/spec/cnn", "Perceptual/spec/cnn@confound0")
    b = frame("A2E/spectrogram/cnn", "A2E/chromagram/cnn", "Perceptual/spec/cnn")
    same = comparison.match_models(a, b)
    assert list(zip(same["experiment_a"], same["experiment_b"])) == [("A2E/spectrogram/cnn", "A2E/spectrogram/cnn"),
                                                                       ("Perceptual/spec/cnn", "Perceptual/spec/cnn")]
    across = comparison.match_models(a, b, match=comparison.MATCH_ACROSS)
    assert set(zip(across["experiment_a"], across["experiment_b"])) == {("Perceptual/spec/vit", "Perceptual/spec/cnn"),
                                                                         ("Perceptual/spec/cnn@confound0", "Perceptual/spec/cnn")}
    within = comparison.match_models(a, a, match=comparison.MATCH_ACROSS, same_run=True)
    assert len(within) == 3  # vit, cnn and its clean twin: each unordered pair once, none with itself
    assert not (within["experiment_a"] == within["experiment_b"]).any()
    with pytest.raises(ValueError, match="match must be one of"):
        comparison.match_models(a, b, match="anything")


def test_a_run_against_itself_recomputes_the_stored_metrics_with_no_difference(tiny_db):
    run = run_outputs(tiny_db)
    con = connect_read_only(tiny_db)
    try:
        stored = {m: queries.metric_summary(con, metric=m).set_index("experiment_id")["mean"] for m in ("pearson_r", "mse")}
        stored["balanced_accuracy"] = queries.metric_summary(con, metric="macro_recall", target="happy_vs_sad").set_index(
            "experiment_id")["mean"]
    finally:
        con.close()
    for regression_metric in ("pearson_r", "mse"):
        found = comparison.compare_runs(run, run, regression_metric=regression_metric, resamples=200)
        assert set(found["experiment_a"]) == set(run["experiments"]["experiment_id"])
        assert (found["CI"] == comparison.PAIRED).all()
        undefined = found["a"].isna()  # flat predictions have no r: stored as NaN too
        assert (found.loc[undefined, "verdict"] == "undefined").all()
        assert np.allclose(found.loc[~undefined, ["difference", "low", "high"]].to_numpy(), 0.0)
        for row in found.itertuples():
            assert row.a == pytest.approx(stored[row.metric][row.experiment_a], abs=1e-9, nan_ok=True), row.experiment_a
        assert set(found.loc[found["route"] == "Perceptual", "metric"]) == {"balanced_accuracy"}
    within = comparison.compare_runs(run, run, match=comparison.MATCH_ACROSS, same_run=True, resamples=200)
    perceptual = within[within["route"] == "Perceptual"]
    assert len(perceptual) == 3  # ViT, CNN, CNN@confound0: three pairs on the same clips
    assert (perceptual["CI"] == comparison.PAIRED).all()


# --- the page ----------------------------------------------------------------------------------------


@pytest.fixture()
def runs(tiny_db, tmp_path, monkeypatch) -> dict[str, Path]:
    """Three runs in data/: alpha (the tiny build), beta (one model made perfect), gamma (other test clips)."""
    paths = {name: tmp_path / f"{name}.duckdb" for name in ("alpha", "beta", "gamma")}
    for path in paths.values():
        shutil.copy(tiny_db, path)
    con = duckdb.connect(str(paths["beta"]))
    con.execute("UPDATE predictions SET predicted = actual WHERE experiment_id = 'A2E/spectrogram/cnn'")
    con.close()
    con = duckdb.connect(str(paths["gamma"]))
    for table in ("predictions", "classifications"):
        con.execute(f"UPDATE {table} SET clip_id = 'other-' || clip_id")
    con.close()
    monkeypatch.delenv("MER_DB", raising=False)
    monkeypatch.setattr(store, "available_databases", lambda *args, **kwargs: list(paths.values()))
    return paths


def open_compare(**query: str) -> AppTest:
    """Open the dashboard at ``/?page=compare&...``: a deep link to the comparison page."""
    app = AppTest.from_file(str(DASHBOARD / "Home.py"), default_timeout=120)
    app.query_params.update({"page": "compare", **query})
    return app.run()


def assert_clean(app: AppTest) -> None:
    assert not app.exception, app.exception
    assert not app.error, [e.value for e in app.error]


def test_the_page_compares_the_two_runs_named_in_the_url(runs):
    app = open_compare(run="beta", against="alpha")
    assert_clean(app)
    assert app.title[0].value == "Run comparison"
    assert app.sidebar.selectbox(key="run").value == "beta" and app.selectbox(key="against").value == "alpha"
    # Both runs are in the URL: run A through the sidebar's bound selector (which, like every bound widget, leaves its
    # default, the newest run, out), run B always, written by the page (its default is whichever other run is newest).
    assert app.sidebar.selectbox(key="run").proto.query_param_key == "run"
    assert app.query_params["run"] == "beta" and app.query_params["against"] == "alpha"
    assert app.radio(key="route").value == "A2E"
    table = app.dataframe[0].value.set_index("experiment_id")
    assert set(table.index) == {"A2E/spectrogram/cnn", "A2E/chromagram/cnn", "A2E/chromagram+spectrogram/cnn",
                                "A2E/mean_chroma_12/mlp"}
    assert (table["CI"] == comparison.PAIRED).all()
    changed = table.loc["A2E/spectrogram/cnn"]  # made perfect in beta
    assert changed["A: beta"] == pytest.approx(1.0) and changed["A − B"] == pytest.approx(1.0 - changed["B: alpha"])
    assert changed["A − B"] > 0
    unchanged = table.drop(index="A2E/spectrogram/cnn")
    assert np.allclose(unchanged["A − B"], 0.0) and (unchanged["verdict"] == "within noise").all()
    assert len(app.get("plotly_chart")) == 1  # the differences with their CIs
    assert any("**4** matched model(s)" in m.value for m in app.markdown)
    provenance = app.dataframe[1].value
    assert list(provenance["run"]) == ["A: beta", "B: alpha"]
    # Another route, chosen on the page and bound to the URL too.
    app.radio(key="route").set_value("Perceptual").run()
    assert_clean(app)
    assert app.radio(key="route").proto.query_param_key == "route"
    perceptual = app.dataframe[0].value
    assert len(perceptual) == 3 and (perceptual["A − B"] == 0).all()
    # Another run B, chosen on the page, goes to the URL; without one in the URL, the newest other run is named there.
    app.selectbox(key="against").set_value("gamma").run()
    assert_clean(app)
    assert app.query_params["against"] == "gamma" and any("B** · gamma" in c.value for c in app.caption)
    bare = open_compare(run="beta")
    assert_clean(bare)
    assert bare.selectbox(key="against").value == "alpha" and bare.query_params["against"] == "alpha"
    newest = open_compare(against="gamma")  # run A is the default, the newest run: only run B needs naming
    assert_clean(newest)
    assert newest.sidebar.selectbox(key="run").value == "alpha" and newest.query_params["against"] == "gamma"


def test_runs_on_other_clips_get_an_unpaired_ci_and_welch_on_request(runs):
    app = open_compare(run="alpha", against="gamma", route="A2Mid")
    assert_clean(app)
    table = app.dataframe[0].value
    assert (table["CI"] == comparison.UNPAIRED).all() and (table["clips"] == "4 / 4").all()
    assert any("test clips differ" in c.value for c in app.caption)
    app.radio(key="unpaired").set_value(comparison.WELCH).run()
    assert_clean(app)
    table = app.dataframe[0].value
    assert list(table["seeds"]) == ["2 / 2"] and list(table["CI"]) == [comparison.WELCH]  # A2Mid has two seeds
    linked = open_compare(run="alpha", against="gamma", route="A2Mid", unpaired=comparison.WELCH)
    assert linked.radio(key="unpaired").value == comparison.WELCH
    pd.testing.assert_frame_equal(linked.dataframe[0].value, table)


def test_one_run_against_itself_compares_its_heads_and_variants(runs):
    app = open_compare(run="alpha", against="alpha")
    assert_clean(app)
    assert any("same database" in i.value for i in app.info) and not app.dataframe
    app.radio(key="match").set_value(comparison.MATCH_ACROSS).run()
    assert_clean(app)
    app.radio(key="route").set_value("Perceptual").run()
    table = app.dataframe[0].value
    pairs = set(zip(table["experiment_a"], table["experiment_b"]))
    assert ("Perceptual/log_spectrogram_224/cnn", "Perceptual/log_spectrogram_224/cnn@confound0") in pairs
    assert len(pairs) == 3 and (table["CI"] == comparison.PAIRED).all()
    assert (table["A − B"] == table["A: alpha"] - table["B: alpha"]).all()
