"""Perceptual route: a ViT classifies spectrogram images as Happy or Sad; its relevance maps are
stored, checked for faithfulness and sonified, and the trained model is stored for later use.

Training follows the thesis (Section 5.2.1): class-weighted cross-entropy, Adam, early stopping on
validation loss. For every test clip and attribution method the map of the *predicted* class is
kept, as in the thesis's figures.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from engine.audio.io import encode_audio, fit_length
from engine.audio.representations import VIT_HOP, VIT_N_FFT, VIT_SIZE, vit_grid_magnitude
from engine.audio.sonify import sonify
from engine.datasets.base import CLASSES, SAMPLE_RATE
from engine.explain.faithfulness import deletion_scores
from engine.explain.perceptual import classify
from engine.explain.stems import relevance_by_stem
from engine.explain.vit_relevance import make_attributor
from engine.models.metrics import classification_metrics
from engine.models.store import vit_to_bytes
from engine.models.training import TrainConfig, balanced_class_weights, fit, seed_everything
from engine.models.vit import create_vit
from precompute.context import RunContext
from precompute.database import Rows, encode_array
from precompute.progress import bar
from precompute.stages import Unit
from precompute.stages.common import experiment_row, training_rows

INPUT = "spectrogram_224"
DEFAULT_GAINS = ({"name": "R^2", "power": 2.0, "floor": 0.0},)


def experiment_id(ctx: RunContext) -> str:
    return f"ViT/{INPUT}/{ctx.profile.section('vit').get('architecture', 'vit_tiny_patch16_224')}"


def model_spec(section: dict[str, Any]) -> dict[str, Any]:
    """``create_vit`` keyword arguments from the profile's ``[vit]`` section."""
    spec: dict[str, Any] = {"architecture": section.get("architecture", "vit_tiny_patch16_224"), "num_classes": 2, "in_chans": 1}
    spec.update(section.get("overrides", {}))
    return spec


def experiments(ctx: RunContext) -> list[dict[str, Any]]:
    section = ctx.profile.section("vit")
    if not section:
        return []
    return [
        experiment_row(
            experiment_id=experiment_id(ctx),
            route="ViT",
            input=INPUT,
            head=str(model_spec(section)["architecture"]),
            dataset=ctx.dataset.name,
            split_name=ctx.split_name,
            description="Vision Transformer on 224 x 224 log spectrograms, Happy vs Sad",
            settings={**section, "sonification": ctx.profile.section("sonification")},
        )
    ]


def units(ctx: RunContext) -> list[Unit]:
    section = ctx.profile.section("vit")
    if not section or not any(r.label for r in ctx.records):
        return []
    return [
        Unit(f"{experiment_id(ctx)}#seed{seed}", lambda seed=seed: train_and_explain(ctx, int(seed)))
        for seed in section.get("seeds", [0])
    ]


def train_and_explain(ctx: RunContext, seed: int) -> Rows:
    section = ctx.profile.section("vit")
    started = time.perf_counter()
    features = ctx.features()
    images = features.arrays["vit_spectrogram"]
    by_id = ctx.records_by_id
    labels = np.array([CLASSES.index(by_id[c].label) if by_id[c].label in CLASSES else -1 for c in features.clip_ids])
    index = {s: np.intersect1d(ctx.split_index(s), np.flatnonzero(labels >= 0)) for s in ("train", "val", "test")}
    eid = experiment_id(ctx)

    seed_everything(seed)
    spec = model_spec(section)
    model = create_vit(**spec, weights=section.get("weights") or None)
    config = TrainConfig(
        epochs=int(section.get("epochs", 60)),
        batch_size=int(section.get("batch_size", 8)),
        learning_rate=float(section.get("learning_rate", 1e-4)),
        weight_decay=float(section.get("weight_decay", 0.0)),
        patience=int(section.get("patience", 10)),
        seed=seed,
        device=ctx.device,
    )
    progress = bar(total=config.epochs, desc=f"{eid} seed {seed}", unit="epoch", leave=False, enabled=ctx.show_progress)

    def on_epoch(epoch: int, _total: int, train_loss: float, val_loss: float) -> None:
        progress.set_postfix(train=f"{train_loss:.3f}", val=f"{val_loss:.3f}")
        progress.update(1)

    result = fit(
        model,
        train_inputs=[images[index["train"]][:, None]],
        train_targets=labels[index["train"]],
        val_inputs=[images[index["val"]][:, None]],
        val_targets=labels[index["val"]],
        loss_fn=nn.CrossEntropyLoss(weight=balanced_class_weights(labels[index["train"]], n_classes=len(CLASSES))),
        config=config,
        on_epoch=on_epoch,
    )
    progress.close()
    model = result.model.to(ctx.device).eval()
    test = index["test"]
    probabilities = classify(model, images[test], device=ctx.device)
    predicted = probabilities.argmax(axis=1)
    metrics = classification_metrics(labels[test], predicted, classes=CLASSES)
    rows: dict[str, pd.DataFrame] = {
        **training_rows(eid, seed, result, n_train=len(index["train"]), n_val=len(index["val"]), n_test=len(test),
                        seconds=0.0),
        "metrics": pd.DataFrame(
            [{"experiment_id": eid, "seed": seed, "split": "test", "target": "happy_vs_sad", "metric": k, "value": v}
             for k, v in metrics.items()]
        ),
        "classifications": pd.DataFrame(
            {
                "experiment_id": eid,
                "seed": seed,
                "clip_id": [features.clip_ids[i] for i in test],
                "actual": [CLASSES[i] for i in labels[test]],
                "predicted": [CLASSES[i] for i in predicted],
                "confidence": probabilities.max(axis=1).astype(np.float64),
                "p_happy": probabilities[:, CLASSES.index("happy")].astype(np.float64),
            }
        ),
        "models": pd.DataFrame(
            [{"experiment_id": eid, "seed": seed, "format": "torch-state-dict/v1", "data": vit_to_bytes(model, spec=spec)}]
        ),
    }
    rows.update(_explanations(ctx, model, eid, seed, test, predicted))
    rows["trainings"]["seconds"] = time.perf_counter() - started
    return rows


def _explanations(
    ctx: RunContext, model: nn.Module, eid: str, seed: int, test: np.ndarray, predicted: np.ndarray
) -> dict[str, pd.DataFrame]:
    """Relevance maps, deletion scores, stem shares and sonified audio for every test clip and method."""
    methods = list(ctx.profile.section("vit").get("methods", ["grad_rollout"]))
    gains = ctx.profile.section("sonification").get("gains", list(DEFAULT_GAINS))
    features = ctx.features()
    has_stems = hasattr(ctx.dataset, "render")
    maps, faithful, stems, sounds = [], [], [], []
    n_samples = int(round(ctx.clip_seconds * SAMPLE_RATE))
    progress = bar(total=len(test), desc=f"{eid} explanations", unit="clip", leave=False, enabled=ctx.show_progress)
    for row, index in enumerate(test):
        clip_id = features.clip_ids[index]
        target = int(predicted[row])
        image = torch.from_numpy(features.arrays["vit_spectrogram"][index])[None, None].to(ctx.device)
        y = ctx.waveform(clip_id)
        stem_grid = {}
        if has_stems:
            rendered = ctx.dataset.render(clip_id)
            stem_grid = {
                name: vit_grid_magnitude(fit_length(audio, n_samples=n_samples), clip_seconds=ctx.clip_seconds)
                for name, audio in rendered.stems.items()
            }
        for method in methods:
            relevance = make_attributor(method, model).attribute(image, target=target)[0]
            key = {"experiment_id": eid, "seed": seed, "clip_id": clip_id, "method": method}
            maps.append({**key, "target_class": CLASSES[target], "height": VIT_SIZE, "width": VIT_SIZE, "data": encode_array(relevance)})
            for metric, value in deletion_scores(model, image, relevance, target=target, seed=seed).items():
                faithful.append({**key, "metric": metric, "value": value})
            if stem_grid:
                for stem, (share, area) in relevance_by_stem(relevance, stem_grid).items():
                    stems.append({**key, "stem": stem, "relevance_share": share, "area_share": area})
            for gain in gains:
                audio = sonify(y, relevance, n_fft=VIT_N_FFT, hop_length=VIT_HOP, power=float(gain["power"]), floor=float(gain["floor"]))
                sounds.append({**key, "gain": str(gain["name"]), "format": "ogg", "sample_rate": SAMPLE_RATE, "data": encode_audio(audio)})
        progress.update(1)
    progress.close()
    return {
        "relevance_maps": pd.DataFrame(maps),
        "faithfulness": pd.DataFrame(faithful),
        "relevance_by_stem": pd.DataFrame(stems),
        "sonifications": pd.DataFrame(sounds),
    }

