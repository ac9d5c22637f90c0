"""Perceptual route: a ViT classifies spectrogram images as Happy or Sad; its relevance maps are
stored, checked for faithfulness and sonified, and the trained model is stored for later use.

Training follows the thesis (Section 5.2.1): class-weighted cross-entropy, AdamW, early stopping on
validation loss, best checkpoint kept. Test metrics are stored at the default decision (argmax, i.e.
p_happy >= 0.5) and at a threshold calibrated on the validation clips for balanced accuracy (the
thesis proposes calibration for its bias against Happy). Relevance always explains the *predicted*
class, as in the thesis's figures. Profile keys of ``[vit]`` besides training: ``methods``,
``explain_per_cell`` (maps and audio stored for the most confident clips of each confusion-matrix
cell), ``faithfulness_clips`` (0 = every test clip) and ``sanity_clips``.
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
from engine.audio.sonify import sonify_spectrum
from engine.audio.stft import stft
from engine.datasets.base import CLASSES, SAMPLE_RATE
from engine.explain.faithfulness import faithfulness
from engine.explain.sanity import randomisation_check
from engine.explain.perceptual import classify
from engine.explain.stems import relevance_by_stem
from engine.explain.attribution import make_attributor
from engine.models.metrics import calibrate_threshold, classification_metrics
from engine.models.store import vit_to_bytes
from engine.models.training import TrainConfig, balanced_class_weights, fit, seed_everything
from engine.models.vit import create_vit
from precompute.context import RunContext
from precompute.database import Rows, encode_array
from precompute.progress import bar
from precompute.stages import Unit
from precompute.stages.common import experiment_row, training_rows

INPUT = "spectrogram_224"
DEFAULT_GAINS = ({"name": "R^2", "power": 2.0, "floor": 0.0, "smooth_frames": 1},)


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
    happy = CLASSES.index("happy")
    val_p_happy = classify(model, images[index["val"]], device=ctx.device)[:, happy] if len(index["val"]) else np.array([])
    threshold = calibrate_threshold(val_p_happy, labels[index["val"]] == happy)
    test = index["test"]
    probabilities = classify(model, images[test], device=ctx.device)
    predicted = probabilities.argmax(axis=1)
    calibrated = np.where(probabilities[:, happy] >= threshold, happy, 1 - happy)
    metric_rows = []
    for target, decisions, cut in (("happy_vs_sad", predicted, 0.5), ("happy_vs_sad@calibrated", calibrated, threshold)):
        values = {**classification_metrics(labels[test], decisions, classes=CLASSES), "threshold_p_happy": cut}
        metric_rows += [{"experiment_id": eid, "seed": seed, "split": "test", "target": target, "metric": k, "value": v}
                        for k, v in values.items()]
    rows: dict[str, pd.DataFrame] = {
        **training_rows(eid, seed, result, n_train=len(index["train"]), n_val=len(index["val"]), n_test=len(test),
                        seconds=0.0),
        "metrics": pd.DataFrame(metric_rows),
        "classifications": pd.DataFrame(
            {
                "experiment_id": eid,
                "seed": seed,
                "clip_id": [features.clip_ids[i] for i in test],
                "actual": [CLASSES[i] for i in labels[test]],
                "predicted": [CLASSES[i] for i in predicted],
                "confidence": probabilities.max(axis=1).astype(np.float64),
                "p_happy": probabilities[:, happy].astype(np.float64),
            }
        ),
        "models": pd.DataFrame(
            [{"experiment_id": eid, "seed": seed, "format": "torch-state-dict/v1", "data": vit_to_bytes(model, spec=spec)}]
        ),
    }
    rows.update(_explanations(ctx, model, eid, seed, test, labels[test], probabilities))
    rows["trainings"]["seconds"] = time.perf_counter() - started
    return rows


def most_confident_per_cell(actual: np.ndarray, predicted: np.ndarray, confidence: np.ndarray, *, k: int) -> list[int]:
    """Positions of the ``k`` most confident clips of every confusion-matrix cell ``(actual, predicted)``."""
    chosen: list[int] = []
    for a in np.unique(actual):
        for p in np.unique(predicted):
            cell = np.flatnonzero((actual == a) & (predicted == p))
            chosen += cell[np.argsort(-confidence[cell], kind="stable")][:k].tolist()
    return sorted(chosen)


def _explanations(
    ctx: RunContext, model: nn.Module, eid: str, seed: int, test: np.ndarray, actual: np.ndarray, probabilities: np.ndarray
) -> dict[str, pd.DataFrame]:
    """Relevance maps, faithfulness curves, sanity checks, stem shares and sonified audio.

    Maps and sonifications are stored for the ``explain_per_cell`` most confident clips of each
    confusion-matrix cell; faithfulness and stem shares are measured on ``faithfulness_clips`` test
    clips (0 = all); the randomisation check on ``sanity_clips`` clips.
    """
    section = ctx.profile.section("vit")
    methods = list(section.get("methods", ["chefer2021"]))
    gains = ctx.profile.section("sonification").get("gains", list(DEFAULT_GAINS))
    features = ctx.features()
    images = features.arrays["vit_spectrogram"]
    predicted = probabilities.argmax(axis=1)
    explained = set(most_confident_per_cell(actual, predicted, probabilities.max(axis=1), k=int(section.get("explain_per_cell", 5))))
    n_faithful = int(section.get("faithfulness_clips", 0)) or len(test)
    measured = set(np.unique(np.linspace(0, len(test) - 1, min(n_faithful, len(test))).round().astype(int)).tolist())
    attributors = {m: make_attributor(m, model) for m in methods}
    has_stems = hasattr(ctx.dataset, "render")
    n_samples = int(round(ctx.clip_seconds * SAMPLE_RATE))
    maps, faithful, stems, sounds, curves = [], [], [], [], []
    positions = sorted(explained | measured)
    progress = bar(total=len(positions), desc=f"{eid} explanations", unit="clip", leave=False, enabled=ctx.show_progress)
    for position in positions:
        clip_id = features.clip_ids[test[position]]
        target = int(predicted[position])
        image = torch.from_numpy(images[test[position]])[None, None].to(ctx.device)
        stem_grid = {}
        if has_stems and position in measured:
            rendered = ctx.dataset.render(clip_id)
            stem_grid = {
                name: vit_grid_magnitude(fit_length(audio, n_samples=n_samples), clip_seconds=ctx.clip_seconds)
                for name, audio in rendered.stems.items()
            }
        if position in explained:
            y = ctx.waveform(clip_id)
            spectrum = stft(y, n_fft=VIT_N_FFT, hop_length=VIT_HOP)
        for method, attributor in attributors.items():
            relevance = attributor.attribute(image, target=target)[0]
            key = {"experiment_id": eid, "seed": seed, "clip_id": clip_id, "method": method}
            if position in measured:
                result = faithfulness(model, image, relevance, target=target, seed=seed)
                faithful += [{**key, "metric": metric, "value": value} for metric, value in result.scores.items()]
                curves += [
                    {"method": method, "curve": curve, "ordering": ordering, "fraction": f, "probability": float(p)}
                    for (curve, ordering), values in result.curves.items()
                    for f, p in zip(result.fractions, values)
                ]
                if stem_grid:  # only corpora with known stems (the synthetic one)
                    for stem, (share, area) in relevance_by_stem(relevance, stem_grid).items():
                        stems.append({**key, "stem": stem, "relevance_share": share, "area_share": area})
            if position in explained:
                scale = float(np.abs(relevance).max(initial=0.0)) or 1.0
                maps.append({**key, "target_class": CLASSES[target], "signed": bool(attributor.signed), "scale": scale,
                             "height": VIT_SIZE, "width": VIT_SIZE, "data": encode_array(relevance / scale)})
                for gain in gains:
                    for variant in ("sonified", "complement"):
                        audio = sonify_spectrum(
                            spectrum, relevance, reference=y, n_fft=VIT_N_FFT, hop_length=VIT_HOP,
                            power=float(gain["power"]), floor=float(gain.get("floor", 0.0)),
                            smooth_frames=int(gain.get("smooth_frames", 1)), complement=variant == "complement",
                        )
                        sounds.append({**key, "gain": str(gain["name"]), "variant": variant, "format": "ogg",
                                       "sample_rate": SAMPLE_RATE, "data": encode_audio(audio)})
        progress.update(1)
    progress.close()
    return {
        "relevance_maps": pd.DataFrame(maps),
        "faithfulness": pd.DataFrame(faithful),
        "faithfulness_curves": _mean_curves(curves, eid, seed),
        "sanity_checks": _sanity_rows(ctx, model, eid, seed, test, predicted, methods),
        "relevance_by_stem": pd.DataFrame(stems),
        "sonifications": pd.DataFrame(sounds),
    }


def _mean_curves(curves: list[dict[str, Any]], eid: str, seed: int) -> pd.DataFrame:
    """Mean and SD over clips of every perturbation curve point."""
    if not curves:
        return pd.DataFrame()
    frame = pd.DataFrame(curves).groupby(["method", "curve", "ordering", "fraction"])["probability"]
    out = frame.agg(probability="mean", probability_sd="std", clips="count").reset_index()
    out["probability_sd"] = out["probability_sd"].fillna(0.0)
    return out.assign(experiment_id=eid, seed=seed)


def _sanity_rows(
    ctx: RunContext, model: nn.Module, eid: str, seed: int, test: np.ndarray, predicted: np.ndarray, methods: list[str]
) -> pd.DataFrame:
    """Model-randomisation check (Adebayo et al. 2018) for every method on the first ``sanity_clips`` test clips."""
    n = min(int(ctx.profile.section("vit").get("sanity_clips", 4)), len(test))
    if n == 0:
        return pd.DataFrame()
    features = ctx.features()
    images = torch.from_numpy(features.arrays["vit_spectrogram"][test[:n]])[:, None].to(ctx.device)
    rows = []
    for method in methods:
        similarity = randomisation_check(
            lambda m, x, t, method=method: make_attributor(method, m).attribute(x, target=t)[0],
            model, images, predicted[:n].tolist(), seed=seed,
        )
        for scope, values in similarity.items():
            rows += [{"experiment_id": eid, "seed": seed, "method": method, "randomised": scope,
                      "clip_id": features.clip_ids[test[i]], "spearman": float(v)} for i, v in enumerate(values)]
    return pd.DataFrame(rows)
