"""Row builders shared by the stages (metrics, predictions, training records)."""

from __future__ import annotations

import json
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from engine.models.training import TrainConfig, TrainResult


def experiment_row(
    *,
    experiment_id: str,
    route: str,
    input: str,
    head: str,
    dataset: str,
    split_name: str,
    description: str,
    settings: Mapping[str, Any],
    feature_set: str = "",
) -> dict[str, Any]:
    return {
        "experiment_id": experiment_id,
        "route": route,
        "input": input,
        "head": head,
        "feature_set": feature_set,
        "dataset": dataset,
        "split_name": split_name,
        "description": description,
        "settings": json.dumps(dict(settings), sort_keys=True),
    }


def metric_rows(experiment_id: str, seed: int, values: Mapping[tuple[str, str], float], *, split: str = "test") -> pd.DataFrame:
    """``{(target, metric): value}`` to rows of the ``metrics`` table."""
    return pd.DataFrame(
        [
            {"experiment_id": experiment_id, "seed": seed, "split": split, "target": t, "metric": m, "value": v}
            for (t, m), v in values.items()
        ]
    )


def prediction_rows(
    experiment_id: str, seed: int, clip_ids: Sequence[str], targets: Sequence[str], predicted: np.ndarray, actual: np.ndarray
) -> pd.DataFrame:
    """``(n_clips, n_targets)`` predictions and labels to rows of the ``predictions`` table."""
    n, k = predicted.shape
    return pd.DataFrame(
        {
            "experiment_id": experiment_id,
            "seed": seed,
            "clip_id": np.repeat(np.asarray(clip_ids, dtype=object), k),
            "target": np.tile(np.asarray(targets, dtype=object), n),
            "predicted": predicted.reshape(-1).astype(np.float64),
            "actual": actual.reshape(-1).astype(np.float64),
        }
    )


def training_rows(
    experiment_id: str, seed: int, result: TrainResult | None, *, n_train: int, n_val: int, n_test: int, seconds: float
) -> dict[str, pd.DataFrame]:
    """``trainings`` and ``training_history`` rows; ``result`` is ``None`` for closed-form heads."""
    training = {
        "experiment_id": experiment_id,
        "seed": seed,
        "n_train": n_train,
        "n_val": n_val,
        "n_test": n_test,
        "best_epoch": result.best_epoch if result else 0,
        "epochs_run": len(result.history) if result else 0,
        "best_val_loss": result.best_val_loss if result else None,
        "seconds": seconds,
    }
    # the stored curves: loss per epoch (a selection criterion such as balanced accuracy stays in memory)
    history = pd.DataFrame(
        [{"experiment_id": experiment_id, "seed": seed, "epoch": h["epoch"], "train_loss": h["train_loss"],
          "val_loss": h["val_loss"]} for h in (result.history if result else [])]
    )
    return {"trainings": pd.DataFrame([training]), "training_history": history}


def matrix_rows(
    experiment_id: str, seed: int, matrix: np.ndarray, *, rows: Sequence[str], columns: Sequence[str], row_name: str, column_name: str
) -> pd.DataFrame:
    """A ``(len(rows), len(columns))`` matrix as long-format rows (e.g. coefficients by target and feature)."""
    r, c = np.meshgrid(np.arange(len(rows)), np.arange(len(columns)), indexing="ij")
    return pd.DataFrame(
        {
            "experiment_id": experiment_id,
            "seed": seed,
            row_name: np.asarray(rows, dtype=object)[r.reshape(-1)],
            column_name: np.asarray(columns, dtype=object)[c.reshape(-1)],
            "value": matrix.reshape(-1).astype(np.float64),
        }
    )


def train_config(
    section: Mapping[str, Any], *, seed: int, device: str, epochs: int, batch_size: int, learning_rate: float
) -> TrainConfig:
    """The optimisation settings of a profile section (``epochs``, ``batch_size``, ``learning_rate``,
    ``weight_decay``, ``patience``, ``schedule``, ``time_shift``, ``transpose``, ``select``); the keyword values are
    the stage's defaults for the first three."""
    return TrainConfig(
        epochs=int(section.get("epochs", epochs)),
        batch_size=int(section.get("batch_size", batch_size)),
        learning_rate=float(section.get("learning_rate", learning_rate)),
        weight_decay=float(section.get("weight_decay", 0.0)),
        patience=int(section.get("patience", 10)),
        seed=seed,
        device=device,
        schedule=str(section.get("schedule", "constant")),
        time_shift=bool(section.get("time_shift", False)),
        select=str(section.get("select", "loss")),
        transpose=bool(section.get("transpose", False)),
    )
