"""Mid-level to emotion (Mid2E): Ridge (with or without pairwise interactions) and a shallow network.

Feature sets (the first three as in the thesis):

- ``7``: the seven mid-level descriptors;
- ``19``: the descriptors and the 12-bin mean chroma;
- ``34``: the descriptors, 24 chord flags, key_root, tonic_top3 and key_mode (Essentia);
- ``key_relative``: the descriptors and transposition-invariant harmony (chord degrees relative to
  the key, interval-class profile, key mode), the thesis's proposed next step.

Descriptor sources: ``annotated`` (the dataset's labels; the synthetic corpus knows them exactly),
``estimated`` (signal-based estimators, :mod:`engine.music.descriptors`; any dataset) and
``predicted`` (this run's A2Mid CNN, the thesis's on the spectrogram, seed k feeding Mid2E seed k, as in the thesis).
Explanations: standardised ridge coefficients (targets x terms) and SHAP values of every head over
its input features, in rating units, with their base values.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np
import pandas as pd
from torch import nn

from engine.audio.chroma import PITCH_CLASSES
from engine.explain.shap_values import explain_tabular
from engine.models.linear import interaction_names, make_ridge, standardised_coefficients
from engine.models.metrics import regression_metrics
from engine.models.mlp import MLPRegressor
from engine.models.training import TrainConfig, TrainResult, fit, predict, seed_everything
from engine.music.features import MUSIC_FEATURES
from engine.vocabulary import EMOTION_SCALE, EMOTIONS, MIDLEVEL
from precompute.context import RunContext
from precompute.database import Rows
from precompute.profile import Mid2ESection
from precompute.stages import Unit, audio_regression
from precompute.stages.common import experiment_row, matrix_rows, metric_rows, prediction_rows, training_rows
from results.schema import A2MID_ROUTE, MID2E_ROUTE
from results.schema import experiment_id as make_experiment_id

HEADS = ("ridge", "ridge_interactions", "shallow_nn")
SOURCES = ("annotated", "estimated", "predicted")
FEATURE_SETS: dict[str, tuple[str, ...]] = {
    # feature set: per-clip arrays appended to the 7 descriptors
    "7": (),
    "19": ("mean_chroma",),
    "34": ("thesis_harmony",),
    "key_relative": ("key_relative",),
}
EXTRA_NAMES: dict[str, tuple[str, ...]] = {
    "mean_chroma": tuple(f"chroma_{p}" for p in PITCH_CLASSES),
    **{k: v for k, v in MUSIC_FEATURES.items() if k != "estimated_midlevel"},
}


def experiment_id(source: str, head: str, feature_set: str) -> str:
    """Return ``Mid2E/<source>_midlevel/<head>/<feature_set>``."""
    return make_experiment_id(MID2E_ROUTE, f"{source}_midlevel", head, feature_set=feature_set)


def _section(ctx: RunContext) -> Mid2ESection:
    if ctx.profile.mid2e is None:
        raise ValueError("the profile has no [mid2e] section")
    return ctx.profile.mid2e


def _sources(ctx: RunContext) -> list[str]:
    """Return the profile's descriptor sources that this run can provide."""
    wanted = list(_section(ctx).sources)
    for source in wanted:
        if source not in SOURCES:
            raise ValueError(f"unknown Mid2E source {source!r}; known: {SOURCES}")
    available = []
    for source in wanted:
        if source == "annotated" and not any(r.midlevel for r in ctx.records):
            continue  # e.g. Soundtracks: no descriptor labels
        if source == "predicted" and not audio_regression.units(ctx, A2MID_ROUTE):
            continue  # no A2Mid model in this run
        available.append(source)
    return available


def _plan(ctx: RunContext) -> list[tuple[str, str, str]]:
    section = _section(ctx)
    for name in section.feature_sets:
        if name not in FEATURE_SETS:
            raise ValueError(f"unknown Mid2E feature set {name!r}; known: {sorted(FEATURE_SETS)}")
    for head in section.heads:
        if head not in HEADS:
            raise ValueError(f"unknown Mid2E head {head!r}; known: {HEADS}")
    # Interaction terms grow as F^2; a profile may keep them to some feature sets (the thesis
    # showed them for 7 only in its figures).
    interaction_sets = set(section.feature_sets if section.interaction_sets is None else section.interaction_sets)
    return [
        (source, head, fs)
        for source in _sources(ctx)
        for fs in section.feature_sets
        for head in section.heads
        if head != "ridge_interactions" or fs in interaction_sets
    ]


def experiments(ctx: RunContext) -> list[dict[str, Any]]:
    """Return the ``experiments`` rows of ``[mid2e]`` (none when the profile leaves it out)."""
    if ctx.profile.mid2e is None:
        return []
    section = ctx.profile.mid2e
    return [
        experiment_row(
            experiment_id=experiment_id(source, head, fs),
            route=MID2E_ROUTE,
            input=f"{source}_midlevel",
            head=head,
            feature_set=fs,
            dataset=ctx.dataset.name,
            split_name=ctx.split_name,
            description=f"{head.replace('_', ' ')} on {fs} features ({source} descriptors) to emotion ratings",
            settings=section,
        )
        for source, head, fs in _plan(ctx)
    ]


def _seeds(ctx: RunContext, source: str, head: str) -> list[int]:
    if source == "predicted":  # seed k reads the descriptors predicted by A2Mid seed k
        return list(ctx.profile.a2mid.seeds) if ctx.profile.a2mid is not None else []
    if head == "shallow_nn":
        return list(_section(ctx).seeds)
    return [0]  # ridge on fixed inputs is deterministic


def units(ctx: RunContext) -> list[Unit]:
    """Return one unit per source, head, feature set and seed; ``predicted`` units need their A2Mid unit."""
    if ctx.profile.mid2e is None:
        return []
    out = []
    for source, head, fs in _plan(ctx):
        seeds = _seeds(ctx, source, head)
        out += [
            Unit(
                f"{experiment_id(source, head, fs)}#seed{seed}",
                lambda head=head, fs=fs, seed=seed, source=source: train_and_explain(ctx, source, head, fs, int(seed)),
                needs=_needs(ctx, source, int(seed)),
            )
            for seed in seeds
        ]
    return out


def _needs(ctx: RunContext, source: str, seed: int) -> tuple[str, ...]:
    """``predicted`` descriptors are read back from the A2Mid unit of the same seed; other sources need nothing."""
    if source != "predicted":
        return ()
    inputs = ctx.profile.a2mid.inputs if ctx.profile.a2mid is not None else ()
    return tuple(f"{audio_regression.experiment_id(A2MID_ROUTE, name)}#seed{seed}" for name in inputs)


def descriptors(ctx: RunContext, source: str, *, seed: int) -> np.ndarray:
    """Return the 7 descriptors of the usable clips from ``source``: ``(N, 7)``, NaN where unknown."""
    if source == "annotated":
        return ctx.targets("midlevel")
    if source == "estimated":
        return ctx.features().arrays["estimated_midlevel"]
    stored = ctx.writer.query(
        "SELECT clip_id, name, value FROM clip_features WHERE dataset = ? AND source = 'predicted_midlevel' AND seed = ?",
        [ctx.dataset.name, seed],
    )
    table = stored.pivot(index="clip_id", columns="name", values="value")
    return table.reindex(index=ctx.features().clip_ids, columns=list(MIDLEVEL)).to_numpy(dtype=np.float32)


def feature_matrix(ctx: RunContext, source: str, feature_set: str, *, seed: int) -> tuple[np.ndarray, list[str]]:
    """Return the inputs of a feature set for the usable clips: ``(N, F)`` and the ``F`` feature names."""
    columns = [descriptors(ctx, source, seed=seed)]
    names = list(MIDLEVEL)
    for extra in FEATURE_SETS[feature_set]:
        columns.append(ctx.features().arrays[extra])
        names += EXTRA_NAMES[extra]
    return np.column_stack(columns).astype(np.float64), names


def train_and_explain(ctx: RunContext, source: str, head: str, feature_set: str, seed: int) -> Rows:
    """Fit one head for one seed; return metrics, predictions, coefficients and SHAP values."""
    section = _section(ctx)
    started = time.perf_counter()
    features = ctx.features()
    x, names = feature_matrix(ctx, source, feature_set, seed=seed)
    y = ctx.targets("emotions")
    usable = ~(np.isnan(x).any(axis=1) | np.isnan(y).any(axis=1))
    index = {s: np.intersect1d(ctx.split_index(s), np.flatnonzero(usable)) for s in ("train", "val", "test")}
    eid = experiment_id(source, head, feature_set)
    rows: dict[str, pd.DataFrame] = {}
    result: TrainResult | None = None

    if head.startswith("ridge"):
        # Closed form with cross-validated lambda: validation clips join the training set.
        fit_rows = np.concatenate([index["train"], index["val"]])
        model = make_ridge(interactions=head == "ridge_interactions").fit(x[fit_rows], y[fit_rows] * EMOTION_SCALE)
        beta = standardised_coefficients(model, y_train=y[fit_rows] * EMOTION_SCALE)
        terms = interaction_names(names) if head == "ridge_interactions" else names
        rows["coefficients"] = matrix_rows(eid, seed, beta, rows=EMOTIONS, columns=terms, row_name="target", column_name="feature")
        predict_fn: Callable[[np.ndarray], np.ndarray] = lambda v: model.predict(v) / EMOTION_SCALE
        background = x[fit_rows]
    else:
        seed_everything(seed)
        mean, std = x[index["train"]].mean(axis=0), x[index["train"]].std(axis=0)
        std = np.where(std > 1e-6, std, 1.0)  # a (near-)constant input is centred, not blown up
        network = MLPRegressor(
            n_inputs=x.shape[1], n_outputs=len(EMOTIONS), hidden=section.nn_hidden,
            dropout=section.nn_dropout, batch_norm=False,
        )
        config = TrainConfig(
            epochs=section.nn_epochs,
            batch_size=section.nn_batch_size,
            learning_rate=section.nn_learning_rate,
            patience=section.nn_patience,
            seed=seed,
        )
        result = fit(
            network,
            train_inputs=[((x[index["train"]] - mean) / std).astype(np.float32)],
            train_targets=y[index["train"]] * EMOTION_SCALE,
            val_inputs=[((x[index["val"]] - mean) / std).astype(np.float32)],
            val_targets=y[index["val"]] * EMOTION_SCALE,
            loss_fn=nn.MSELoss(),
            config=config,
        )
        predict_fn = lambda v: predict(result.model, [((v - mean) / std).astype(np.float32)]) / EMOTION_SCALE
        background = x[index["train"]]

    test = index["test"]
    predicted = predict_fn(x[test])
    explanation = explain_tabular(
        predict_fn, background=background, data=x[test], feature_names=names, target_names=EMOTIONS,
        max_background=section.shap_background, seed=seed,
    )
    test_ids = [features.clip_ids[i] for i in test]
    rows.update(
        training_rows(eid, seed, result, n_train=len(index["train"]), n_val=len(index["val"]), n_test=len(test),
                      seconds=time.perf_counter() - started)
    )
    rows["metrics"] = metric_rows(eid, seed, regression_metrics(y[test], predicted, targets=EMOTIONS))
    rows["predictions"] = prediction_rows(eid, seed, test_ids, EMOTIONS, predicted, y[test])
    rows["shap_values"] = _shap_rows(eid, seed, test_ids, explanation)
    rows["shap_base_values"] = pd.DataFrame(
        {"experiment_id": eid, "seed": seed, "target": list(EMOTIONS), "base_value": explanation.base_values}
    )
    return rows


def _shap_rows(eid: str, seed: int, clip_ids: list[str], explanation) -> pd.DataFrame:
    n, f, t = explanation.values.shape
    clip = np.repeat(np.asarray(clip_ids, dtype=object), f * t)
    feature = np.tile(np.repeat(np.asarray(explanation.feature_names, dtype=object), t), n)
    target = np.tile(np.asarray(explanation.target_names, dtype=object), n * f)
    return pd.DataFrame(
        {
            "experiment_id": eid,
            "seed": seed,
            "clip_id": clip,
            "feature": feature,
            "target": target,
            "value": explanation.values.reshape(-1),
            "feature_value": np.repeat(explanation.data.reshape(-1), t),
        }
    )
