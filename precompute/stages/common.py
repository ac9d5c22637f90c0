"""Row builders shared by the stages (metrics, predictions, training records)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from engine.models.training import TrainConfig, TrainResult
from precompute.profile import Training


def experiment_row(
    *,
    experiment_id: str,
    route: str,
    input: str,
    head: str,
    dataset: str,
    split_name: str,
    description: str,
    settings: Any,
    feature_set: str = "",
) -> dict[str, Any]:
    """One ``experiments`` row; ``settings`` is the resolved profile section (a dataclass) or a mapping."""
    if dataclasses.is_dataclass(settings):
        settings = dataclasses.asdict(settings)
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
    """Turn a ``(len(rows), len(columns))`` matrix into long-format rows (e.g. coefficients by target and feature)."""
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


def train_config(section: Training, *, seed: int, device: str) -> TrainConfig:
    """Return the optimisation settings of a trained profile section, for one seed on one device."""
    return TrainConfig(
        epochs=section.epochs,
        batch_size=section.batch_size,
        learning_rate=section.learning_rate,
        weight_decay=section.weight_decay,
        patience=section.patience,
        seed=seed,
        device=device,
        schedule=section.schedule,
        time_shift=section.time_shift,
        select=section.select,
        transpose=section.transpose,
        spec_augment=section.spec_augment,
        mixup=section.mixup,
    )
