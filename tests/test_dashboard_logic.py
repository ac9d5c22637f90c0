"""The dashboard's pure parts.

Exports, live re-sonification, the explainability-cost query, the interaction heatmap, and the
compact copy for hosting.
"""

from __future__ import annotations

import dataclasses

import duckdb
import numpy as np
import pandas as pd
import pytest

from dashboard import export, figures, listening, queries, verdicts
from engine.audio.io import encode_audio
from engine.audio.representations import VIT_HOP, VIT_N_FFT
from engine.audio.sonify import sonify
from engine.vocabulary import SAMPLE_RATE
from precompute.database import compact_copy
from results.store import ResultsError, connect_read_only


# exports ---------------------------------------------------------------------------------------
def test_csv_keeps_named_index_and_drops_a_plain_one():
    plain = pd.DataFrame({"a": [1.5, 2.0], "b": ["x", "y"]})
    assert export.table_csv(plain).decode().splitlines() == ["a,b", "1.5,x", "2.0,y"]
    pivot = plain.set_index("b")
    assert export.table_csv(pivot).decode().splitlines()[0] == "b,a"


def test_latex_is_a_booktabs_table_with_escaped_text_and_caption():
    frame = pd.DataFrame({"feature": ["rhythm_stability", "50% major"], "r": [0.71234, -0.5]})
    tex = export.table_latex(frame, caption="Mid2E r_per target")
    assert "\\toprule" in tex and "\\bottomrule" in tex
    assert "rhythm\\_stability" in tex and "50\\% major" in tex
    assert "0.712" in tex and "0.71234" not in tex
    assert "\\caption{Mid2E r\\_per target}" in tex and "\\label{tab:mid2e_r_per_target}" in tex


def test_file_stem_is_safe():
    assert export.file_stem("A2E: r / MSE (per target)") == "a2e_r_mse_per_target"
    assert export.file_stem("***") == "export"


def test_figure_export_renders_png_and_svg():
    if not export.image_export_available():
        pytest.skip("no chromium for Kaleido on this machine")
    fig = figures.finish(figures.ranking_bars(pd.Series({"a": 1.0, "b": 0.5}), xaxis_title="x"))
    png = export.figure_image(fig, format="png", width=400, height=300)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    svg = export.figure_image(fig, format="svg", width=400, height=300)
    assert b"<svg" in svg[:500]
    with pytest.raises(ValueError, match="format"):
        export.figure_image(fig, format="gif")


# live re-sonification ----------------------------------------------------------------------------
def test_live_resonification_equals_the_engine_on_the_same_audio():
    seconds = 3.0
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    y = (0.3 * np.sin(2 * np.pi * 220 * t) + 0.2 * np.sin(2 * np.pi * 3300 * t)).astype(np.float32)
    clip = listening.clip_spectrum(encode_audio(y))
    relevance = np.zeros((224, 224), dtype=np.float32)
    relevance[:20] = 1.0  # the lowest band only
    wav = listening.resonify(clip, relevance, power=1.5)
    import io

    import soundfile as sf

    live, rate = sf.read(io.BytesIO(wav), dtype="float32")
    assert rate == SAMPLE_RATE and live.shape == clip.waveform.shape
    expected = sonify(clip.waveform, relevance, n_fft=VIT_N_FFT, hop_length=VIT_HOP, power=1.5)
    assert np.abs(live - expected).max() < 2 / 32768 + 1e-6  # 16-bit quantisation
    spectrum = np.abs(np.fft.rfft(live))
    freqs = np.fft.rfftfreq(live.size, 1 / SAMPLE_RATE)
    assert spectrum[np.argmin(abs(freqs - 220))] > 20 * spectrum[np.argmin(abs(freqs - 3300))]
    complement, _ = sf.read(io.BytesIO(listening.resonify(clip, relevance, power=1.5, complement=True)), dtype="float32")
    spectrum = np.abs(np.fft.rfft(complement))
    assert spectrum[np.argmin(abs(freqs - 3300))] > 20 * spectrum[np.argmin(abs(freqs - 220))]


def test_stored_gain_is_found_only_for_a_plain_matching_power():
    from results.settings import NamedGain, PerceptualModel

    model = PerceptualModel("Perceptual/x/cnn", 0, "synthetic", "cnn", 10.0, ("random",), {},
                            (NamedGain(name="R^2", power=2.0), NamedGain(name="soft", power=1.0, floor=0.1)))
    assert model.plain_gain(power=2.0).name == "R^2"
    assert model.plain_gain(power=1.0) is None  # floored: not R^1
    assert model.plain_gain(power=1.5) is None
    assert dataclasses.replace(model, gains=()).plain_gain(power=2.0) is None


# figures and queries ---------------------------------------------------------------------------------
def test_interaction_heatmap_is_symmetric_with_main_effects_on_the_diagonal():
    coefficients = pd.DataFrame({"feature": ["a", "b", "c", "a x b", "b x c"], "value": [0.5, -0.2, 0.1, 0.8, -0.3]})
    z = np.asarray(figures.interaction_heatmap(coefficients, target="happy").data[0].z, dtype=float)
    assert np.allclose(np.diag(z), [0.5, -0.2, 0.1])
    assert z[0, 1] == z[1, 0] == 0.8 and z[1, 2] == z[2, 1] == -0.3
    assert np.isnan(z[0, 2])
    heat = figures.interaction_heatmap(coefficients, target="happy").data[0]
    assert heat.zmin == -heat.zmax == -0.8  # symmetric colour scale


def test_relevance_overlay_is_transparent_at_zero_and_reaches_the_chosen_opacity():
    image, relevance = np.zeros((224, 224)), np.zeros((224, 224))
    fig = figures.relevance_overlay(image, relevance, max_hz=11025, seconds=10, title="t", signed=True, opacity=0.4)
    scale = fig.data[1].colorscale
    middle = [color for position, color in scale if abs(position - 0.5) < 1e-9][0]
    assert middle.endswith(",0.000)")
    assert scale[0][1].endswith(",0.400)") and scale[-1][1].endswith(",0.400)")
    # the whole map (no percentile highlight) uses the same endpoints
    whole = figures.relevance_overlay(image, relevance, max_hz=11025, seconds=10, title="t", signed=True, opacity=0.4,
                                      top_percent=None).data[1].colorscale
    assert whole[0][1].endswith(",0.400)") and [c for p, c in whole if abs(p - 0.5) < 1e-9][0].endswith(",0.000)")


def test_explainability_cost_compares_every_bottleneck_with_the_best_direct_model(tmp_path):
    con = duckdb.connect(str(tmp_path / "m.duckdb"))
    con.execute("CREATE TABLE experiments (experiment_id TEXT, route TEXT, input TEXT, head TEXT, feature_set TEXT)")
    con.execute("CREATE TABLE metrics (experiment_id TEXT, seed INT, split TEXT, target TEXT, metric TEXT, value DOUBLE)")
    con.executemany("INSERT INTO experiments VALUES (?, ?, ?, ?, ?)", [
        ("A2E/spec", "A2E", "spectrogram", "cnn", ""), ("A2E/chroma", "A2E", "chromagram", "cnn", ""),
        ("Mid2E/pred/ridge/7", "Mid2E", "predicted_midlevel", "ridge", "7"),
        ("Mid2E/ann/ridge/7", "Mid2E", "annotated_midlevel", "ridge", "7")])
    values = {"A2E/spec": [0.70, 0.72], "A2E/chroma": [0.50, 0.52], "Mid2E/pred/ridge/7": [0.60, 0.62], "Mid2E/ann/ridge/7": [0.80, 0.80]}
    con.executemany("INSERT INTO metrics VALUES (?, ?, 'test', 'all', 'pearson_r', ?)",
                    [(e, seed, v) for e, vs in values.items() for seed, v in enumerate(vs)])
    cost = queries.explainability_cost(con, metric="pearson_r").set_index("experiment_id")
    assert list(cost.index) == ["Mid2E/ann/ridge/7", "Mid2E/pred/ridge/7"]
    assert (cost["direct_experiment"] == "A2E/spec").all()
    assert cost.loc["Mid2E/pred/ridge/7", "change"] == pytest.approx(0.61 - 0.71)
    assert cost.loc["Mid2E/ann/ridge/7", "change"] == pytest.approx(0.80 - 0.71)
    assert queries.explainability_cost(con, metric="pearson_r", target="valence").empty
    # the sentence judges the best usable bottleneck (not the annotated ceiling), whichever way it goes
    table = cost.reset_index()
    assert "trails the direct model by 0.100" in verdicts.cost_sentence(table, metric="pearson_r")
    table.loc[table["experiment_id"] == "Mid2E/pred/ridge/7", ["mean", "change"]] = [0.76, 0.05]
    sentence = verdicts.cost_sentence(table, metric="pearson_r")
    assert "beats the direct model by 0.050" in sentence and "Mid2E/pred/ridge/7" in sentence
    assert verdicts.cost_sentence(table[table["input"] == "annotated_midlevel"], metric="pearson_r") == ""



def test_default_vit_is_the_model_and_seed_the_perceptual_pages_open_on(tiny_db):
    con = connect_read_only(tiny_db)
    experiment, dataset, seed = queries.default_vit(con)
    vits = queries.perceptual_models(con)
    assert experiment == vits["experiment_id"].iloc[0] and dataset == vits["dataset"].iloc[0]
    # the thesis's ViT first, then the CNN, each before its clean twin
    assert vits["experiment_id"].tolist() == ["Perceptual/spectrogram_224/vit_tiny_patch16_224",
                                              "Perceptual/log_spectrogram_224/cnn", "Perceptual/log_spectrogram_224/cnn@confound0"]
    assert seed == min(queries.seeds(con, experiment))
    assert queries.explained_clips(con, experiment, seed=seed)  # its maps and audio are stored
    con.close()

# hosting -------------------------------------------------------------------------------------
def test_compact_copy_keeps_every_row_and_is_smaller(tiny_db, tmp_path):
    out = tmp_path / "hosted.duckdb"
    size = compact_copy(tiny_db, out)
    assert size == out.stat().st_size < tiny_db.stat().st_size
    with duckdb.connect(str(tiny_db), read_only=True) as source, duckdb.connect(str(out), read_only=True) as copy:
        tables = [r[0] for r in source.execute("SELECT table_name FROM information_schema.tables").fetchall()]
        for table in tables:
            assert copy.execute(f"SELECT count(*) FROM {table}").fetchone() == source.execute(f"SELECT count(*) FROM {table}").fetchone()
        assert queries.schema_version(copy) == queries.schema_version(source)
    with pytest.raises(ResultsError, match="new file"):
        compact_copy(tiny_db, tiny_db)
    with pytest.raises(ResultsError, match="no results database"):
        compact_copy(tmp_path / "missing.duckdb", tmp_path / "x.duckdb")


def test_top_relevance_mask_paints_the_concentrated_block_and_nothing_else():
    from dashboard.figures import top_relevance_mask

    rng = np.random.default_rng(0)
    relevance = rng.normal(scale=0.05, size=(64, 64))
    relevance[10:20, 30:40] = 1.0  # 100 pixels of strong evidence for the class
    relevance[40:45, 0:10] = -1.0  # 50 against
    mask = top_relevance_mask(relevance, percent=150 / 4096 * 100, signed=True)
    assert np.nansum(mask == 1) == 100 and np.nansum(mask == -1) == 50
    assert np.all(mask[10:20, 30:40] == 1) and np.all(mask[40:45, 0:10] == -1)
    # unsigned maps keep positive relevance only; a flat map paints everything, an empty one nothing
    unsigned = top_relevance_mask(np.clip(relevance, 0, None), percent=100 / 4096 * 100, signed=False)
    assert np.nansum(unsigned == 1) == 100
    assert np.isfinite(top_relevance_mask(np.ones((8, 8)), percent=10, signed=False)).all()
    assert not np.isfinite(top_relevance_mask(np.zeros((8, 8)), percent=10, signed=True)).any()
    for percent in (5, 10, 20):
        share = np.isfinite(top_relevance_mask(rng.normal(size=(224, 224)), percent=percent, signed=True)).mean()
        assert abs(share - percent / 100) < 0.002


def test_seed_figures_say_deterministic_or_give_a_ci_and_their_n():
    from dashboard.verdicts import seed_summary
    from engine.stats import seed_ci

    assert seed_summary(pd.Series([0.877]), head="ridge") == "0.877 (deterministic)"
    assert seed_summary(pd.Series([0.5]), head="cnn") == "0.500 (1 seed)"
    text = seed_summary(pd.Series([0.4, 0.5, 0.6]), head="cnn")
    assert text.startswith("0.500 [") and text.endswith("3 seeds") and "±" not in text
    estimate = seed_ci(np.array([0.4, 0.5, 0.6]))
    # Student t with 2 degrees of freedom: 4.303 * 0.1 / sqrt(3)
    assert estimate.high - estimate.value == pytest.approx(4.303 * 0.1 / np.sqrt(3), rel=1e-3)


def test_headline_is_the_best_model_usable_on_new_audio_and_names_the_ceiling():
    from dashboard.verdicts import headline

    per_seed = pd.DataFrame({
        "experiment_id": ["M/annotated/ridge/7", "M/estimated/ridge/7", "M/estimated/nn/7", "M/estimated/nn/7"],
        "route": "Mid2E", "input": ["annotated_midlevel", "estimated_midlevel", "estimated_midlevel", "estimated_midlevel"],
        "head": ["ridge", "ridge", "shallow_nn", "shallow_nn"], "seed": [0, 0, 0, 1], "value": [0.88, 0.77, 0.70, 0.72]})
    best = headline(per_seed, route="Mid2E")
    assert best["experiment_id"] == "M/estimated/ridge/7" and best["value"] == "0.770 (deterministic)"
    assert "Ceiling" in best["ceiling"] and "0.880 (deterministic)" in best["ceiling"]
    assert headline(per_seed, route="A2E") is None


def test_paired_difference_separates_a_better_model_and_not_a_copy():
    from dashboard.verdicts import paired_r_difference

    rng = np.random.default_rng(0)
    actual = rng.normal(size=(60, 4))
    good = actual + rng.normal(scale=0.5, size=actual.shape)
    poor = actual + rng.normal(scale=3.0, size=actual.shape)
    better = paired_r_difference(good, poor, actual)
    assert better.low > 0 and better.n == 60
    same = paired_r_difference(good, good.copy(), actual)
    assert same.value == 0 and same.low == 0 and same.high == 0


def test_flags_name_models_worse_than_a_constant_and_one_class_classifiers(tiny_db):
    con = connect_read_only(tiny_db)
    flags = queries.model_flags(con)
    predictions = con.execute(
        "SELECT experiment_id, avg(mse) > avg(v) FROM (SELECT experiment_id, seed, target, avg((predicted - actual) ^ 2) AS mse, "
        "var_pop(actual) AS v FROM predictions GROUP BY ALL) GROUP BY 1").fetchall()
    one_class = {e for (e,) in con.execute("SELECT experiment_id FROM classifications GROUP BY experiment_id, seed "
                                           "HAVING count(DISTINCT predicted) = 1").fetchall()}
    con.close()
    worse = {e for e, is_worse in predictions if is_worse}
    flagged = dict(zip(flags["experiment_id"], flags["flag"]))
    for experiment in worse:
        assert "worse than a constant" in flagged[experiment]
    for experiment in one_class:
        assert "for every clip" in flagged[experiment]
    assert all(e in worse | one_class or "flat" in f for e, f in flagged.items())


def test_regions_show_where_speckled_relevance_concentrates():
    """Scattered strong pixels inside one region outrank a single stronger pixel elsewhere.

    That holds once relevance is summed per 8 x 8 region; the painted share stays the requested
    percentile.
    """
    from dashboard.figures import pooled_relevance, top_relevance_mask

    relevance = np.zeros((224, 224))
    relevance[16:24:2, 40:48:2] = 1.0  # 16 speckles in one region: 16 in total
    relevance[100, 100] = 5.0  # one hot pixel: 5
    assert pooled_relevance(relevance, size=8)[16, 40] == 16.0
    mask = top_relevance_mask(relevance, percent=100 * 64 / 224**2, signed=True, region=8)
    assert np.all(mask[16:24, 40:48] == 1) and np.isnan(mask[100, 100])
    assert np.isfinite(top_relevance_mask(np.random.default_rng(1).normal(size=(224, 224)), percent=10, signed=True,
                                          region=8)).mean() == pytest.approx(0.1, abs=0.01)


# the attribution verdict ----------------------------------------------------------------------------
def _agreement(rows):
    return pd.DataFrame(rows, columns=["method", "measure", "reference_experiment_id", "value", "low", "high", "n"])


def test_the_verdict_names_the_supported_method_its_contrast_and_the_contrast_s_ground_truth():
    agreement = _agreement([
        ("integrated_gradients", "causal_spearman", "", 0.40, 0.25, 0.55, 19),
        ("random", "causal_spearman", "", 0.05, -0.10, 0.20, 19),
        ("integrated_gradients", "drum_contrast", "clean", 0.06, 0.02, 0.10, 13),
        ("causal reliance", "reliance_contrast", "clean", 0.18, 0.05, 0.31, 13),
    ])
    verdict = verdicts.attribution_verdict(agreement)
    assert verdict.startswith("**This run strongly supports `integrated_gradients`** (causal ρ +0.400 [+0.250, +0.550], 19 clips).")
    assert "it sees the drums (contrast +0.060 [+0.020, +0.100])" in verdict
    assert "costs this model +0.180 [+0.050, +0.310] more of its class's probability than the clean model (13 clips), so a " \
           "faithful method's drum contrast is positive" in verdict
    table = verdicts.agreement_table(agreement)
    assert set(table["method"]) == {"integrated_gradients", "random"}  # the ground truth is stated, not ranked
    # the same agreement clip by clip, but no more drum relevance for the shortcut model: it fails the contrast
    blind = agreement.copy()
    blind.loc[blind["measure"] == "drum_contrast", ["value", "low", "high"]] = [-0.005, -0.032, 0.023]
    verdict = verdicts.attribution_verdict(blind)
    assert verdict.startswith("**This run only weakly supports `integrated_gradients`**")
    assert "it does not clearly see the drums (contrast -0.005 [-0.032, +0.023])" in verdict


def test_the_verdict_says_when_the_contrast_cannot_rank_methods_and_when_no_method_is_supported():
    agreement = _agreement([
        ("gradient_x_input", "causal_spearman", "", 0.10, -0.05, 0.25, 19),
        ("random", "causal_spearman", "", 0.02, -0.12, 0.16, 19),
        ("causal reliance", "reliance_contrast", "clean", 0.03, -0.08, 0.14, 13),
    ])
    verdict = verdicts.attribution_verdict(agreement)
    assert verdict.startswith("**No method is supported**: the best, `gradient_x_input`")
    assert "which does not clearly exceed 0, so the drum contrast cannot rank the methods" in verdict
    assert verdicts.attribution_verdict(agreement.iloc[0:0]) == "This run stores no causal evidence for its maps."
