"""Audio to emotion (A2E) and audio to mid-level (A2Mid): CNNs and an MLP regressing from audio inputs.

Inputs (names as in the thesis's tables):

==========================  ======================  =========================================
input                       head                    model
==========================  ======================  =========================================
spectrogram                 cnn                     Chowdhury backbone on (149, T)
chromagram                  cnn                     Chowdhury backbone on (12, T)
chromagram+spectrogram      cnn                     late fusion: two backbones, one head (*)
mean_chroma_12              mlp                     Dense/BatchNorm/Dropout MLP on (12,)
==========================  ======================  =========================================

(*) ``fusion = "joint"`` (the thesis) trains the two backbones and the head end to end;
``fusion = "branches_first"`` builds the same network from the seed's trained spectrogram and
chromagram CNNs, its head the mean of theirs, so it predicts their average and costs no training
when those units ran in this process first.

Targets are scaled for training as the section's ``targets`` key says: ``"thesis"`` (emotions x 0.1,
descriptors as they are, in [0, 1]) or ``"standardised"`` (each target column to zero mean and unit
SD over the training clips, so every scale weighs the same in the loss and the head starts at the
mean). Predictions and MSE are reported on the label scale (emotions 1 to 7.83, descriptors 0 to 1).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from engine.models.cnn import CNNRegressor, LateFusionRegressor, fuse_trained_branches
from engine.models.metrics import regression_metrics
from engine.models.mlp import MLPRegressor
from engine.models.training import TrainResult, fit, predict, seed_everything
from engine.vocabulary import EMOTION_SCALE, EMOTIONS, MIDLEVEL
from precompute.context import RunContext
from precompute.database import Rows
from precompute.profile import TARGET_SCALINGS, AudioRegressionSection
from precompute.progress import bar
from precompute.stages import Unit
from precompute.stages.common import experiment_row, metric_rows, prediction_rows, train_config, training_rows
from results.schema import A2E_ROUTE, A2MID_ROUTE
from results.schema import experiment_id as make_experiment_id

INPUTS: dict[str, tuple[str, tuple[str, ...]]] = {
    # input name: (head, representations it is built from)
    "spectrogram": ("cnn", ("spectrogram",)),
    "chromagram": ("cnn", ("chromagram",)),
    "chromagram+spectrogram": ("cnn", ("spectrogram", "chromagram")),
    "mean_chroma_12": ("mlp", ("mean_chroma",)),
}
ROUTES = {A2E_ROUTE: ("a2e", "emotions", EMOTIONS), A2MID_ROUTE: ("a2mid", "midlevel", MIDLEVEL)}


def representations_for(section: AudioRegressionSection) -> set[str]:
    """Representations the inputs of an ``[a2e]`` or ``[a2mid]`` section are built from."""
    return {representation for name in section.inputs for representation in _input(name)[1]}


def _section(ctx: RunContext, route: str) -> AudioRegressionSection | None:
    return getattr(ctx.profile, ROUTES[route][0])


def training_context(ctx: RunContext, route: str) -> RunContext:
    """Where a route trains: A2Mid may train on another dataset (``[a2mid] train_dataset``)."""
    return ctx.a2mid_train if route == A2MID_ROUTE and ctx.a2mid_train is not None else ctx


def experiment_id(route: str, input_name: str) -> str:
    """Return ``A2E/<input>/<head>`` (or ``A2Mid/...``) for an input of :data:`INPUTS`."""
    return make_experiment_id(route, input_name, _input(input_name)[0])


def experiments(ctx: RunContext, route: str) -> list[dict[str, Any]]:
    """Return the ``experiments`` rows of a route's section (none when the profile leaves it out)."""
    _, kind, _ = ROUTES[route]
    section = _section(ctx, route)
    if section is None:
        return []
    trained_on = training_context(ctx, route)
    rows = []
    for input_name in section.inputs:
        head, _ = _input(input_name)
        what = "emotion ratings" if kind == "emotions" else "mid-level descriptors"
        rows.append(
            experiment_row(
                experiment_id=experiment_id(route, input_name),
                route=route,
                input=input_name,
                head=head,
                dataset=trained_on.dataset.name,
                split_name=trained_on.split_name,
                description=f"{head.upper()} from {input_name} to {what}",
                settings=section,
            )
        )
    return rows


def units(ctx: RunContext, route: str) -> list[Unit]:
    """Return one unit per input and seed (none without the section, or for A2Mid without descriptor labels)."""
    _, kind, _ = ROUTES[route]
    section = _section(ctx, route)
    if section is None:
        return []
    if kind == "midlevel" and not any(r.midlevel for r in training_context(ctx, route).records):
        return []  # nothing to learn from: no descriptor annotations
    return [
        Unit(
            f"{experiment_id(route, input_name)}#seed{seed}",
            lambda input_name=input_name, seed=seed: train_and_evaluate(ctx, route, input_name, int(seed)),
        )
        for input_name in section.inputs
        for seed in section.seeds
    ]


def train_and_evaluate(ctx: RunContext, route: str, input_name: str, seed: int) -> Rows:
    """Train one model for one seed; return its training record, test metrics and predictions.

    A two-input late fusion under ``fusion = "branches_first"`` is not trained end to end: it is the
    average of the same seed's single-input models (:func:`engine.models.cnn.fuse_trained_branches`),
    reused when this process already trained them, trained here otherwise. Its training record then
    has no epochs (the branches' curves are their own experiments').

    A2Mid models also predict the descriptors of every clip of the main dataset (``clip_features``,
    source ``predicted_midlevel``), the input of the Mid2E models built on predicted descriptors. Where
    A2Mid trains on the main dataset itself, its training clips' predictions are in-sample.
    """
    main = ctx
    ctx = training_context(ctx, route)
    _, kind, targets = ROUTES[route]
    section = _section(ctx, route)
    started = time.perf_counter()
    head, representations = _input(input_name)
    labels, index, offset, scale, inputs = _training_data(ctx, route, input_name)
    eid = experiment_id(route, input_name)

    if len(representations) == 2 and section.fusion == "branches_first":
        branches = [_trained_model(main, route, name, seed) for name in _single_inputs(representations)]
        seed_everything(seed)
        model = fuse_trained_branches(
            _build_model(head, inputs, n_outputs=len(targets), section=section, representations=representations), branches
        ).eval()
        result = None
    else:
        result = _fit(ctx, route, input_name, seed)
        model = result.model
        if section.fusion == "branches_first" and head == "cnn" and len(representations) == 1:  # a later fusion's branch
            main.trained_models[(route, input_name, seed)] = model
    predicted = predict(model, [array(index["test"]) for array in inputs], device=ctx.device) / scale + offset
    actual = labels[index["test"]]
    test_ids = [ctx.features().clip_ids[i] for i in index["test"]]
    extra = {"clip_features": _predicted_descriptors(main, model, input_name, seed, ctx, index["train"], offset=offset, scale=scale)} if kind == "midlevel" else {}
    return {
        **extra,
        **training_rows(
            eid, seed, result, n_train=len(index["train"]), n_val=len(index["val"]), n_test=len(index["test"]),
            seconds=time.perf_counter() - started,
        ),
        "metrics": metric_rows(eid, seed, regression_metrics(actual, predicted, targets=targets)),
        "predictions": prediction_rows(eid, seed, test_ids, targets, predicted, actual),
    }


def _trained_model(main: RunContext, route: str, input_name: str, seed: int) -> torch.nn.Module:
    """Return the model of one single input and seed: the one this process trained, or one trained the same way now."""
    key = (route, input_name, seed)
    if key not in main.trained_models:
        main.trained_models[key] = _fit(training_context(main, route), route, input_name, seed).model
    return main.trained_models[key]


def _single_inputs(representations: tuple[str, ...]) -> list[str]:
    """Return the single-input names of :data:`INPUTS` built from each representation, in order."""
    single = {reps[0]: name for name, (head, reps) in INPUTS.items() if head == "cnn" and len(reps) == 1}
    return [single[representation] for representation in representations]


def _training_data(ctx: RunContext, route: str, input_name: str):
    """Return ``(labels, index, offset, scale, inputs)`` of one input on ``ctx``.

    ``labels`` ``(N, n_targets)`` on the label scale; ``index``: row indices of the train, val and test
    clips whose labels are complete; ``offset``, ``scale``: see :func:`target_scaling`; ``inputs``: one
    :func:`_model_input` accessor per representation of the input.
    """
    _, kind, _ = ROUTES[route]
    labels = ctx.targets(kind)
    usable = np.flatnonzero(~np.isnan(labels).any(axis=1))
    index = {split: np.intersect1d(ctx.split_index(split), usable) for split in ("train", "val", "test")}
    offset, scale = target_scaling(_section(ctx, route).targets, labels[index["train"]], kind=kind)
    arrays = ctx.features().arrays
    inputs = [_model_input(arrays[name], index["train"]) for name in _input(input_name)[1]]
    return labels, index, offset, scale, inputs


def _fit(ctx: RunContext, route: str, input_name: str, seed: int) -> TrainResult:
    """Train the model of one input and seed on ``ctx``'s train split, selecting on its val split."""
    _, _, targets = ROUTES[route]
    section = _section(ctx, route)
    head, representations = _input(input_name)
    labels, index, offset, scale, inputs = _training_data(ctx, route, input_name)

    seed_everything(seed)
    model = _build_model(head, inputs, n_outputs=len(targets), section=section, representations=representations)
    config = train_config(section, seed=seed, device=ctx.device)
    progress = bar(total=config.epochs, desc=f"{experiment_id(route, input_name)} seed {seed}", unit="epoch", leave=False,
                   enabled=ctx.show_progress)

    def on_epoch(epoch: int, _total: int, train_loss: float, val_loss: float) -> None:
        progress.set_postfix(train=f"{train_loss:.4f}", val=f"{val_loss:.4f}")
        progress.update(1)

    def split_inputs(split: str) -> list[np.ndarray]:
        return [array(index[split]) for array in inputs]

    try:
        return fit(
            model,
            train_inputs=split_inputs("train"),
            train_targets=((labels[index["train"]] - offset) * scale).astype(np.float32),
            val_inputs=split_inputs("val"),
            val_targets=((labels[index["val"]] - offset) * scale).astype(np.float32),
            loss_fn=nn.MSELoss(),
            config=config,
            on_epoch=on_epoch,
        )
    finally:
        progress.close()


def target_scaling(targets: str, train_labels: np.ndarray, *, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """``(offset, scale)``, each ``(n_targets,)``: the model learns ``(label - offset) * scale``.

    ``train_labels`` is ``(N_train, n_targets)`` on the label scale; ``kind`` is ``"emotions"`` or
    ``"midlevel"``. See the module docstring for the two scalings.
    """
    n = train_labels.shape[1]
    if targets == "thesis":
        return np.zeros(n), np.full(n, EMOTION_SCALE if kind == "emotions" else 1.0)
    if targets == "standardised":
        return train_labels.mean(axis=0), 1.0 / (train_labels.std(axis=0) + 1e-6)
    raise ValueError(f"targets must be one of {TARGET_SCALINGS}, got {targets!r}")


def _predicted_descriptors(
    main: RunContext, model: torch.nn.Module, input_name: str, seed: int, trained_on: RunContext, train_index: np.ndarray,
    *, offset: np.ndarray, scale: np.ndarray,
) -> pd.DataFrame:
    """Descriptors predicted for every usable clip of the main dataset, as ``clip_features`` rows."""
    _, representations = _input(input_name)
    train_arrays = [trained_on.features().arrays[name] for name in representations]
    main_arrays = main.features().arrays
    inputs = [_model_input(main_arrays[name], train_index, reference=train) for name, train in zip(representations, train_arrays)]
    everyone = np.arange(len(main.features().clip_ids))
    # Rounded to 1e-4 (ample on a 0-1 scale): float noise on a collapsed output must not look like signal.
    predicted = np.round(np.clip(predict(model, [f(everyone) for f in inputs], device=main.device) / scale + offset, 0.0, 1.0), 4)
    return pd.DataFrame(
        {
            "dataset": main.dataset.name,
            "clip_id": np.repeat(np.asarray(main.features().clip_ids, dtype=object), len(MIDLEVEL)),
            "source": "predicted_midlevel",
            "seed": seed,
            "name": np.tile(np.asarray(MIDLEVEL, dtype=object), len(everyone)),
            "value": predicted.reshape(-1).astype(np.float64),
        }
    )


def _input(name: str) -> tuple[str, tuple[str, ...]]:
    try:
        return INPUTS[name]
    except KeyError:
        raise ValueError(f"unknown audio input {name!r}; known: {sorted(INPUTS)}") from None


def _model_input(array: np.ndarray, train_index: np.ndarray, *, reference: np.ndarray | None = None):
    """Return ``rows -> model-ready array``: images get a channel axis, vectors are standardised.

    Standardisation uses the training rows of ``reference`` (default: ``array`` itself), so a model
    applied to another dataset sees that dataset through the training set's statistics.
    """
    if array.ndim == 3:
        return lambda rows: array[rows][:, None].astype(np.float32)
    source = array if reference is None else reference
    mean = source[train_index].mean(axis=0)
    std = source[train_index].std(axis=0) + 1e-6
    return lambda rows: ((array[rows] - mean) / std).astype(np.float32)


def _build_model(
    head: str, inputs: list, *, n_outputs: int, section: AudioRegressionSection, representations: tuple[str, ...]
) -> torch.nn.Module:
    """Build the input's model; ``inputs`` are the :func:`_model_input` accessors of ``representations``, in order."""
    widths, dropout = section.widths, section.dropout
    shapes = [f(np.arange(1)).shape[1:] for f in inputs]
    if head == "mlp":
        hidden = section.mlp_hidden
        return MLPRegressor(n_inputs=int(shapes[0][0]), n_outputs=n_outputs, hidden=hidden, dropout=dropout)
    # [a2e]/[a2mid] chroma_backbone: "thesis" (the spectrogram's network) or "circular" (pitch kept, wrapped)
    kinds = tuple("circular_chroma" if name == "chromagram" and section.chroma_backbone == "circular" else "chowdhury"
                  for name in representations)
    heights = tuple(int(shape[1]) for shape in shapes)
    if len(shapes) == 2:
        return LateFusionRegressor(input_heights=heights, n_outputs=n_outputs, widths=widths, dropout=dropout, backbones=kinds)
    return CNNRegressor(input_height=heights[0], n_outputs=n_outputs, widths=widths, dropout=dropout, backbone=kinds[0])
