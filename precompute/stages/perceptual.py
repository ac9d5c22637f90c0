"""Perceptual route: a spectrogram-image classifier (a ViT or a CNN) decides Happy or Sad.

Its relevance maps are stored, tested and sonified, and the trained model is stored for later use.

Profile sections ``[vit]`` and ``[cnn]`` each describe one backbone (:mod:`engine.models.perceptual`)
with the same keys besides the architecture: ``seeds``, ``epochs``, ``batch_size``,
``learning_rate``, ``weight_decay``, ``patience``, ``methods`` (checked against the backbone when
the profile is read), ``explain_per_cell`` (maps and audio for the most confident clips of each
confusion-matrix cell), ``faithfulness_clips`` (test clips spread over songs for the removal tests,
the costliest part; 0 = all), ``sanity_clips`` and, on the synthetic corpus, ``clean_confound``: a second model of the
same backbone trained on the corpus re-planned at that confound (the *clean* model: same val and
test clips, train clips without the drum shortcut).

Training follows the thesis (Section 5.2.1): class-weighted cross-entropy, AdamW, early stopping
on validation loss, best checkpoint kept. Test metrics are stored at the default decision and at a
threshold calibrated on validation clips. Relevance explains the *predicted* class.

Evidence stored per explained clip (maps, stem shares and causal rows come from the same clips):
removal curves under two rules (floor, ROAD) most- and least-relevant first; on corpora with stems,
the relevance share per stem and the causal reliance on it (:mod:`engine.explain.causal`), and per
method the agreement of the two with a bootstrap CI.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from engine.audio.io import AudioLoadError, fit_length
from engine.audio.perceptual_images import REPRESENTATION_OF, image_crops, image_input, image_magnitude
from engine.audio.representations import VIT_SIZE
from engine.explain.attribution import make_attributor
from engine.explain.causal import model_contrast, per_clip_agreement, stem_reliance
from engine.explain.faithfulness import DEFAULT_FRACTIONS, faithfulness, random_orders, tile_orders
from engine.explain.model_ear import ear_probabilities
from engine.explain.perceptual import classify, explain_clip
from engine.explain.removal import REMOVALS
from engine.explain.sanity import randomisation_check
from engine.explain.stems import relevance_by_stem
from engine.models.metrics import calibrate_threshold, classification_metrics
from engine.models.perceptual import create_perceptual_model
from engine.models.store import model_from_bytes, model_to_bytes
from engine.models.training import balanced_class_weights, fit, seed_everything
from engine.vocabulary import CLASSES, SAMPLE_RATE
from precompute.context import RunContext, write_atomically
from precompute.database import Rows
from precompute.profile import PERCEPTUAL_SECTIONS, PerceptualSection, Profile, VitSection
from precompute.progress import bar
from precompute.stages import Unit
from precompute.stages.common import experiment_row, train_config, training_rows
from results.codecs import AUDIO_FORMAT, encode_array, encode_stored_audio
from results.schema import PERCEPTUAL_ROUTE
from results.schema import experiment_id as make_experiment_id

ROUTE = PERCEPTUAL_ROUTE
INPUT_OF = {"linear": "spectrogram_224", "log": "log_spectrogram_224"}
"""Experiment-id input name of each perceptual image (:mod:`engine.audio.perceptual_images`)."""
SECTIONS = PERCEPTUAL_SECTIONS
RELIANCE_METHOD = "causal reliance"
"""The ``method`` of the ground-truth row of the drum contrast (measure ``reliance_contrast``)."""


def representations_for(profile: Profile) -> set[str]:
    """Feature names the perceptual sections' models read (their images)."""
    return {REPRESENTATION_OF[section.image] for section in profile.backbones.values()}


def experiment_id(backbone: str, section: PerceptualSection, *, confound: float | None = None) -> str:
    """``Perceptual/<input>/<architecture or cnn>``, with ``@confound<c>`` for a clean model.

    ``<input>`` is ``spectrogram_224`` (linear image) or ``log_spectrogram_224`` (log image).
    """
    return make_experiment_id(ROUTE, INPUT_OF[section.image], section.head(), variant="" if confound is None else f"confound{confound:g}")


def _variants(ctx: RunContext, backbone: str) -> list[float | None]:
    """``None`` (the profile's corpus) and, where the section asks for it, the clean confound."""
    clean = ctx.profile.backbones[backbone].clean_confound
    return [None] if clean is None or ctx.dataset.name != "synthetic" else [None, clean]


def experiments(ctx: RunContext) -> list[dict[str, Any]]:
    """Return one ``experiments`` row per perceptual section and corpus variant (its settings resolved)."""
    rows = []
    for backbone, section in ctx.profile.backbones.items():
        for confound in _variants(ctx, backbone):
            trained = "" if confound is None else f", trained at confound {confound:g} (the clean model)"
            rows.append(experiment_row(
                experiment_id=experiment_id(backbone, section, confound=confound),
                route=ROUTE,
                input=INPUT_OF[section.image],
                head=experiment_id(backbone, section).rsplit("/", 1)[1],
                dataset=ctx.dataset.name,
                split_name=ctx.split_name,
                description=f"{backbone.upper()} on 224 x 224 {section.image}-frequency spectrograms, Happy vs Sad{trained}",
                settings={**dataclasses.asdict(section), "backbone": backbone, "confound": confound,
                          "sonification": dataclasses.asdict(ctx.profile.sonification)},
            ))
    return rows


def units(ctx: RunContext) -> list[Unit]:
    """Return per model and seed a training unit and an explanation unit, and the drum-contrast units.

    The explanation unit reads the stored model back; a contrast unit needs both twins' explanations of a seed.
    """
    if not any(r.label for r in ctx.records):
        return []
    out = []
    for backbone, section in ctx.profile.backbones.items():
        variants = _variants(ctx, backbone)
        for confound in variants:
            for seed in section.seeds:
                trained = f"{experiment_id(backbone, section, confound=confound)}#seed{seed}"
                out.append(Unit(trained, lambda backbone=backbone, confound=confound, seed=int(seed): train(
                    ctx, backbone, seed, confound=confound)))
                out.append(Unit(f"{trained}#explain", lambda backbone=backbone, confound=confound, seed=int(seed): explain(
                    ctx, backbone, seed, confound=confound), needs=(trained,)))
        for confound in variants[1:]:  # the contrast reads both models' rows of its seed
            for seed in section.seeds:
                out.append(Unit(
                    f"{experiment_id(backbone, section)}#seed{seed}#contrast",
                    lambda backbone=backbone, confound=confound, seed=int(seed): contrast_unit(ctx, backbone, seed, confound),
                    needs=(f"{experiment_id(backbone, section)}#seed{seed}#explain",
                           f"{experiment_id(backbone, section, confound=confound)}#seed{seed}#explain"),
                ))
    return out


def _labels(ctx: RunContext) -> np.ndarray:
    by_id = ctx.records_by_id
    return np.array([CLASSES.index(by_id[c].label) if by_id[c].label in CLASSES else -1 for c in ctx.features().clip_ids])


def _test_positions(ctx: RunContext) -> tuple[np.ndarray, np.ndarray]:
    """Feature rows of the labelled test clips, and every clip's class index (-1: unlabelled)."""
    labels = _labels(ctx)
    return np.intersect1d(ctx.split_index("test"), np.flatnonzero(labels >= 0)), labels


def train(ctx: RunContext, backbone: str, seed: int, *, confound: float | None = None) -> Rows:
    """Train one perceptual model, evaluate it on the test clips and store it (for :func:`explain`)."""
    section = ctx.profile.backbones[backbone]
    started = time.perf_counter()
    train_ctx = ctx if confound is None else ctx.with_confound(confound)
    test, labels = _test_positions(ctx)
    train_labels = _labels(train_ctx)
    representation = REPRESENTATION_OF[section.image]
    images, train_images = ctx.features().arrays[representation], train_ctx.features().arrays[representation]
    fit_index = {s: np.intersect1d(train_ctx.split_index(s), np.flatnonzero(train_labels >= 0)) for s in ("train", "val")}
    val = np.intersect1d(ctx.split_index("val"), np.flatnonzero(labels >= 0))
    eid = experiment_id(backbone, section, confound=confound)

    seed_everything(seed)
    spec = section.model_spec()
    model = create_perceptual_model(spec, weights=(section.weights or None) if isinstance(section, VitSection) else None)
    config = train_config(section, seed=seed, device=ctx.device)
    progress = bar(total=config.epochs, desc=f"{eid} seed {seed}", unit="epoch", leave=False, enabled=ctx.show_progress)

    def on_epoch(epoch: int, _total: int, train_loss: float, val_loss: float) -> None:
        progress.set_postfix(train=f"{train_loss:.3f}", val=f"{val_loss:.3f}")
        progress.update(1)

    x_train, y_train = training_set(train_ctx, section, fit_index["train"], images=train_images, labels=train_labels,
                                    without=section.clean_without if confound is not None else ())
    result = fit(
        model,
        train_inputs=[x_train[:, None]],
        train_targets=y_train,
        val_inputs=[train_images[fit_index["val"]][:, None]],
        val_targets=train_labels[fit_index["val"]],
        loss_fn=nn.CrossEntropyLoss(weight=balanced_class_weights(y_train, n_classes=len(CLASSES))),
        config=config,
        on_epoch=on_epoch,
    )
    progress.close()
    model = result.model.to(ctx.device).eval()
    happy = CLASSES.index("happy")
    val_p_happy = classify(model, images[val], device=ctx.device)[:, happy] if len(val) else np.array([])
    threshold = calibrate_threshold(val_p_happy, labels[val] == happy)
    probabilities = classify(model, images[test], device=ctx.device)
    predicted = probabilities.argmax(axis=1)
    calibrated = np.where(probabilities[:, happy] >= threshold, happy, 1 - happy)
    metric_rows = []
    for target, decisions, cut in (("happy_vs_sad", predicted, 0.5), ("happy_vs_sad@calibrated", calibrated, threshold)):
        values = {**classification_metrics(labels[test], decisions, classes=CLASSES), "threshold_p_happy": cut}
        metric_rows += [{"experiment_id": eid, "seed": seed, "split": "test", "target": target, "metric": k, "value": v}
                        for k, v in values.items()]
    rows: dict[str, pd.DataFrame] = {
        **training_rows(eid, seed, result, n_train=len(fit_index["train"]), n_val=len(fit_index["val"]), n_test=len(test),
                        seconds=0.0),
        "metrics": pd.DataFrame(metric_rows),
        "classifications": pd.DataFrame(
            {
                "experiment_id": eid,
                "seed": seed,
                "clip_id": [ctx.features().clip_ids[i] for i in test],
                "actual": [CLASSES[i] for i in labels[test]],
                "predicted": [CLASSES[i] for i in predicted],
                "confidence": probabilities.max(axis=1).astype(np.float64),
                "p_happy": probabilities[:, happy].astype(np.float64),
            }
        ),
        "models": pd.DataFrame(
            [{"experiment_id": eid, "seed": seed, "format": "torch-state-dict/v1", "data": model_to_bytes(model, spec=spec)}]
        ),
    }
    rows["trainings"]["seconds"] = time.perf_counter() - started
    return rows


def training_set(
    ctx: RunContext, section: PerceptualSection, index: np.ndarray, *, images: np.ndarray, labels: np.ndarray,
    without: tuple[str, ...] = (),
) -> tuple[np.ndarray, np.ndarray]:
    """Return the training images ``(N', 224, 224)`` and labels ``(N',)`` of the clips at ``index``.

    With ``train_crops`` above 1, each excerpt longer than a clip adds the images of further windows
    spread over it (its own label), after the stored images of the clips themselves. The windows
    are cached beside the features; an excerpt whose audio cannot be read again keeps its stored image only.

    ``without`` (stem names; corpora rendered from stems only) adds, per stem, the image of each clip
    re-rendered without that stem, with the clip's label: the clip exactly as the causal test
    (:func:`engine.explain.causal.stem_reliance`) presents it. A model trained so cannot lean on
    that stem alone (counterfactual augmentation); the clean model uses it (``clean_without``).
    """
    x, y = images[index], labels[index]
    extra_x, extra_y = [], []
    if section.train_crops > 1:
        def windows(clip_id: str) -> np.ndarray:
            try:
                return image_crops(ctx.dataset.load(clip_id), clip_seconds=ctx.clip_seconds, image=section.image,
                                   crops=section.train_crops)[1:]
            except AudioLoadError:
                return np.zeros((0, VIT_SIZE, VIT_SIZE), dtype=np.float32)

        _add_cached_images(ctx, index, labels, windows, folder=f"crops-{section.image}-{section.train_crops}",
                           desc=f"training crops ({section.image})", into=(extra_x, extra_y))
    if without:
        if not hasattr(ctx.dataset, "render"):
            raise ValueError(f"{ctx.dataset.name}: clips are not rendered from stems, so no clip can be re-rendered "
                             f"without {list(without)}")
        n_samples = int(round(ctx.clip_seconds * SAMPLE_RATE))

        def variants(clip_id: str) -> np.ndarray:
            stems = {name: fit_length(audio, n_samples=n_samples) for name, audio in ctx.dataset.render(clip_id).stems.items()}
            mixture = np.stack(list(stems.values())).sum(axis=0, dtype=np.float32)
            return np.stack([image_input(mixture - stems[name], clip_seconds=ctx.clip_seconds, image=section.image)
                             for name in without]).astype(np.float32)

        _add_cached_images(ctx, index, labels, variants, folder=f"without-{'-'.join(without)}-{section.image}",
                           desc=f"training clips without {', '.join(without)}", into=(extra_x, extra_y))
    if not extra_x:
        return x, y
    return np.concatenate([x, *extra_x]), np.concatenate([y, np.asarray(extra_y, dtype=y.dtype)])


def _add_cached_images(ctx: RunContext, index: np.ndarray, labels: np.ndarray, make, *, folder: str, desc: str,
                       into: tuple[list, list]) -> None:
    """Append ``make(clip_id)`` (images ``(k, 224, 224)``, cached per clip under ``folder``) and k labels per clip."""
    images, image_labels = into
    cache = ctx.cache_dir / folder
    cache.mkdir(parents=True, exist_ok=True)
    clip_ids = ctx.features().clip_ids
    progress = bar(total=len(index), desc=desc, unit="clip", leave=False, enabled=ctx.show_progress)
    for position in index:
        path = cache / f"{clip_ids[position].replace('/', '__')}.npy"
        if path.is_file():
            made = np.load(path)
        else:
            made = make(clip_ids[position])
            write_atomically(path, lambda temporary, made=made: np.save(temporary, made))
        images.append(made)
        image_labels.extend([labels[position]] * len(made))
        progress.update(1)
    progress.close()


def explain(ctx: RunContext, backbone: str, seed: int, *, confound: float | None = None) -> Rows:
    """Explain one trained perceptual model: read it and its test decisions back, explain its test clips.

    The per-clip work runs through ``ctx.clip_map``: in this process, or on a Ray cluster's actor
    pool with the model loaded once per actor (:mod:`precompute.cluster`).
    """
    section = ctx.profile.backbones[backbone]
    eid = experiment_id(backbone, section, confound=confound)
    stored = ctx.writer.query("SELECT data FROM models WHERE experiment_id = ? AND seed = ?", [eid, seed])
    decided = ctx.writer.query(
        "SELECT clip_id, predicted, confidence FROM classifications WHERE experiment_id = ? AND seed = ?", [eid, seed]
    ).set_index("clip_id")
    test, labels = _test_positions(ctx)
    test_ids = [ctx.features().clip_ids[i] for i in test]
    decided = decided.loc[test_ids]  # in the order of the test clips
    predicted = np.array([CLASSES.index(c) for c in decided["predicted"]])
    return _explanations(ctx, section, bytes(stored["data"].iloc[0]), eid, seed, test, labels[test], predicted,
                         decided["confidence"].to_numpy())


def most_confident_per_cell(
    actual: np.ndarray, predicted: np.ndarray, confidence: np.ndarray, *, k: int, groups: list[str] | None = None
) -> list[int]:
    """Positions of ``k`` confident clips of every confusion-matrix cell ``(actual, predicted)``.

    With ``groups`` (the clips' songs) a cell's clips are taken from as many songs as it has: the
    most confident clip of each song first (songs by that clip's confidence), then the second of
    each, and so on, so that three excerpts of one song do not stand for a whole cell.
    """
    chosen: list[int] = []
    for a in np.unique(actual):
        for p in np.unique(predicted):
            cell = np.flatnonzero((actual == a) & (predicted == p))
            ranked = cell[np.argsort(-confidence[cell], kind="stable")]
            if groups is not None:
                seen: dict[str, int] = {}
                depth = []
                for position in ranked:
                    depth.append(seen.get(groups[position], 0))
                    seen[groups[position]] = depth[-1] + 1
                ranked = ranked[np.argsort(np.asarray(depth), kind="stable")]  # rank within its song, then confidence
            chosen += ranked[:k].tolist()
    return sorted(chosen)


def spread_over_groups(groups: list[str], *, n: int) -> list[int]:
    """``n`` positions (0 = all) taken round-robin over groups (songs), so that no song dominates.

    Deterministic: groups in order of first appearance, clips in order within a group.
    """
    if n <= 0 or n >= len(groups):
        return list(range(len(groups)))
    members: dict[str, list[int]] = {}
    for position, group in enumerate(groups):
        members.setdefault(group, []).append(position)
    chosen: list[int] = []
    depth = 0
    while len(chosen) < n:
        for positions in members.values():
            if depth < len(positions) and len(chosen) < n:
                chosen.append(positions[depth])
        depth += 1
    return sorted(chosen)


@dataclasses.dataclass(frozen=True)
class ExplainJob:
    """What explaining one model's clips needs besides the model's weights: sent once to each worker."""

    dataset: Any
    """The dataset (``load``, and ``render`` where it has stems)."""
    section: PerceptualSection
    eid: str
    seed: int
    clip_seconds: float
    device: str
    gains: tuple[Any, ...]
    """The sonification gains (:class:`engine.explain.sonify.Gain`)."""


@dataclasses.dataclass(frozen=True)
class ClipTask:
    """One test clip to explain: ``image`` ``(224, 224)``, the class to explain, and what to store for it."""

    position: int
    """Index among the test clips (seeds its random removal order)."""
    clip_id: str
    image: np.ndarray
    target: int
    measured: bool
    """Run the removal tests on it."""
    sonified: bool
    """Store its sonified audio and the model's-ear check."""


@dataclasses.dataclass(frozen=True)
class SanityTask:
    """The model-randomisation check of one method on ``images`` ``(K, 224, 224)``."""

    method: str
    images: np.ndarray
    targets: tuple[int, ...]
    clip_ids: tuple[str, ...]


@dataclasses.dataclass
class _Explainer:
    """A worker's state: the model, loaded once, and its attributors."""

    job: ExplainJob
    model: nn.Module
    attributors: dict[str, Any]


def _load_explainer(payload: tuple[ExplainJob, bytes]) -> _Explainer:
    job, weights = payload
    model = model_from_bytes(weights, device=job.device)[0].eval()
    options = job.section.method_options
    return _Explainer(job, model, {m: make_attributor(m, model, **options.get(m, {})) for m in job.section.methods})


def _run_task(state: _Explainer, task: "ClipTask | SanityTask") -> dict[str, list[dict[str, Any]]]:
    if isinstance(task, SanityTask):
        return {"sanity": _sanity_rows(state, task)}
    return _explain_one(state, task)


def _explanations(
    ctx: RunContext, section: PerceptualSection, weights: bytes, eid: str, seed: int, test: np.ndarray, actual: np.ndarray,
    predicted: np.ndarray, confidence: np.ndarray,
) -> dict[str, pd.DataFrame]:
    """Relevance maps, stem shares, causal rows, removal curves, sanity checks and sonified audio.

    Maps, stem shares and causal rows are stored for the ``explain_per_cell`` most confident clips of
    each confusion-matrix cell and for the ``faithfulness_clips`` clips (spread over songs) on which
    the removal tests run; the randomisation check runs on ``sanity_clips`` of those. One task per
    clip, and one per method for the randomisation check, through ``ctx.clip_map``.
    """
    methods = list(section.methods)
    features = ctx.features()
    images = features.arrays[REPRESENTATION_OF[section.image]]
    by_id = ctx.records_by_id
    test_ids = [features.clip_ids[i] for i in test]
    groups = [by_id[c].group for c in test_ids]
    measured = set(spread_over_groups(groups, n=section.faithfulness_clips))
    explained = set(most_confident_per_cell(actual, predicted, confidence, k=section.explain_per_cell, groups=groups))
    positions = sorted(explained | measured)
    tasks: list[ClipTask | SanityTask] = [
        ClipTask(position=p, clip_id=test_ids[p], image=images[test[p]], target=int(predicted[p]),
                 measured=p in measured, sonified=p in explained)
        for p in positions
    ]
    sanity = sorted(measured)[: section.sanity_clips]
    if sanity:
        tasks += [SanityTask(method=m, images=images[test[sanity]], targets=tuple(int(predicted[p]) for p in sanity),
                             clip_ids=tuple(test_ids[p] for p in sanity)) for m in methods]
    job = ExplainJob(dataset=ctx.dataset, section=section, eid=eid, seed=seed, clip_seconds=ctx.clip_seconds,
                     device=ctx.device, gains=tuple(ctx.profile.sonification.gains))
    # the removal tests dominate the cost: say what they will take before paying it
    passes = len(measured) * (len(methods) + 1) * len(REMOVALS) * 2 * len(DEFAULT_FRACTIONS)
    desc = f"{eid} explanations ({len(methods)} methods; removal tests on {len(measured)} clips, {passes} model passes)"
    progress = bar(total=len(tasks), desc=desc, unit="task", leave=False, enabled=ctx.show_progress)
    found: dict[str, list[dict[str, Any]]] = {}
    for part in ctx.clip_map(setup=_load_explainer, payload=(job, weights), work=_run_task, tasks=tasks, device=ctx.device):
        for table, rows in part.items():
            found.setdefault(table, []).extend(rows)
        progress.update(1)
    progress.close()
    stem_frame, causal_frame = pd.DataFrame(found.get("stems", [])), pd.DataFrame(found.get("causal", []))
    return {
        "relevance_maps": pd.DataFrame(found.get("maps", [])),
        "faithfulness": pd.DataFrame(found.get("faithful", [])),
        "faithfulness_curves": _mean_curves(found.get("curves", []), eid, seed),
        "sanity_checks": pd.DataFrame(found.get("sanity", [])),
        "relevance_by_stem": stem_frame,
        "stem_reliance": causal_frame,
        "attribution_agreement": agreement_rows(stem_frame, causal_frame, eid=eid, seed=seed),
        "sonifications": pd.DataFrame(found.get("sounds", [])),
        "ear_checks": pd.DataFrame(found.get("ears", [])),
    }


def _explain_one(state: _Explainer, task: ClipTask) -> dict[str, list[dict[str, Any]]]:
    """Every row one clip contributes: causal stem checks, removal curves, maps, stem shares, audio, ear checks."""
    job, model = state.job, state.model
    eid, seed, clip_id, target, image_kind = job.eid, job.seed, task.clip_id, task.target, job.section.image
    n_samples = int(round(job.clip_seconds * SAMPLE_RATE))
    image = torch.from_numpy(task.image)[None, None].to(job.device)
    out: dict[str, list[dict[str, Any]]] = {k: [] for k in ("maps", "faithful", "stems", "causal", "sounds", "curves", "ears")}

    def classify_inputs(inputs: np.ndarray) -> np.ndarray:
        return classify(model, inputs, device=job.device)

    def to_input(wave: np.ndarray) -> np.ndarray:
        return image_input(wave, clip_seconds=job.clip_seconds, image=image_kind)

    stem_grid = {}
    if hasattr(job.dataset, "render"):
        rendered = job.dataset.render(clip_id)
        waves = {name: fit_length(audio, n_samples=n_samples) for name, audio in rendered.stems.items()}
        # stems on the model's own grid: shares of the relevance the model actually assigned
        stem_grid = {name: image_magnitude(w, clip_seconds=job.clip_seconds, image=image_kind) for name, w in waves.items()}
        for stem, (p_with, p_without) in stem_reliance(classify_inputs, to_input, waves, target=target).items():
            out["causal"].append({"experiment_id": eid, "seed": seed, "clip_id": clip_id, "stem": stem,
                                  "target_class": CLASSES[target], "p_with": p_with, "p_without": p_without})
    if task.measured:
        reference = random_orders(task.image.shape[0] // 16 * (task.image.shape[1] // 16), seed=seed * 100003 + task.position)
        for removal in REMOVALS:
            result = faithfulness(model, image, reference, target=target, removal=removal, seed=seed)
            key = {"experiment_id": eid, "seed": seed, "clip_id": clip_id, "method": "random order"}
            out["faithful"] += [{**key, "metric": k, "value": v} for k, v in result.scores.items()]
            out["curves"] += _curve_points("random order", result)
    # maps of the measured clips are stored too, their audio is not
    y = fit_length(job.dataset.load(clip_id), n_samples=n_samples) if task.sonified else None
    explanations = explain_clip(state.attributors, task.image, target=target, image=image_kind, y=y, gains=list(job.gains),
                                device=job.device)
    for method, explanation in explanations.items():
        relevance = explanation.relevance
        key = {"experiment_id": eid, "seed": seed, "clip_id": clip_id, "method": method}
        if task.measured:
            orders = tile_orders(relevance)
            for removal in REMOVALS:
                result = faithfulness(model, image, orders, target=target, removal=removal, seed=seed)
                out["faithful"] += [{**key, "metric": k, "value": v} for k, v in result.scores.items()]
                out["curves"] += _curve_points(method, result)
        for stem, (share, area) in relevance_by_stem(relevance, stem_grid).items() if stem_grid else ():
            out["stems"].append({**key, "stem": stem, "relevance_share": share, "area_share": area})
        scale = float(np.abs(explanation.display).max(initial=0.0)) or 1.0
        out["maps"].append({**key, "target_class": CLASSES[target], "signed": explanation.signed, "scale": scale,
                            "height": VIT_SIZE, "width": VIT_SIZE, "data": encode_array(explanation.display / scale)})
        for gain, kept, ignored in zip(job.gains, explanation.sonified, explanation.complement):
            for variant, audio in (("sonified", kept), ("complement", ignored)):
                out["sounds"].append({**key, "gain": gain.name, "variant": variant, "format": AUDIO_FORMAT,
                                      "sample_rate": SAMPLE_RATE, "data": encode_stored_audio(audio)})
            # the model's ear: does it still hear its class in B, and lose it in C?
            p_original, p_sonified, p_complement = ear_probabilities(
                classify_inputs, to_input, original=y, sonified=kept, complement=ignored, target=target)
            out["ears"].append({**key, "gain": gain.name, "target_class": CLASSES[target], "p_original": p_original,
                                "p_sonified": p_sonified, "p_complement": p_complement})
    return out


def agreement_rows(stems: pd.DataFrame, causal: pd.DataFrame, *, eid: str, seed: int) -> pd.DataFrame:
    """Per method: Spearman between excess relevance and causal reliance over clips x stems, with CI."""
    if stems.empty or causal.empty:
        return pd.DataFrame()
    reliance = causal.assign(reliance=causal["p_with"] - causal["p_without"]).pivot(index="clip_id", columns="stem", values="reliance")
    rows = []
    for method, group in stems.groupby("method", sort=True):
        excess = group.assign(excess=group["relevance_share"] - group["area_share"]).pivot(
            index="clip_id", columns="stem", values="excess")
        common = excess.index.intersection(reliance.index)
        estimate = per_clip_agreement(excess.loc[common, reliance.columns].to_numpy(), reliance.loc[common].to_numpy(), seed=seed)
        rows.append({"experiment_id": eid, "seed": seed, "method": method, "measure": "causal_spearman",
                     "reference_experiment_id": "", "value": estimate.value, "low": estimate.low, "high": estimate.high,
                     "n": estimate.n})
    return pd.DataFrame(rows)


def _curve_points(method: str, result) -> list[dict[str, Any]]:
    return [
        {"method": method, "removal": result.removal, "curve": order, "fraction": f, "probability": float(p)}
        for order, values in result.curves.items()
        for f, p in zip(result.fractions, values)
    ]


def _mean_curves(curves: list[dict[str, Any]], eid: str, seed: int) -> pd.DataFrame:
    """Mean and SD over clips of every removal-curve point."""
    if not curves:
        return pd.DataFrame()
    frame = pd.DataFrame(curves).groupby(["method", "removal", "curve", "fraction"])["probability"]
    out = frame.agg(probability="mean", probability_sd="std", clips="count").reset_index()
    out["probability_sd"] = out["probability_sd"].fillna(0.0)
    return out.assign(experiment_id=eid, seed=seed)


def _sanity_rows(state: _Explainer, task: SanityTask) -> list[dict[str, Any]]:
    """Model-randomisation check (Adebayo et al. 2018) of one method (with its options) on the task's clips."""
    job = state.job
    options = job.section.method_options.get(task.method, {})
    similarity = randomisation_check(
        lambda m, x, t: make_attributor(task.method, m, **options).attribute(x, target=t)[0],
        state.model, torch.from_numpy(task.images)[:, None].to(job.device), list(task.targets), seed=job.seed,
    )
    return [{"experiment_id": job.eid, "seed": job.seed, "method": task.method, "randomised": scope,
             "clip_id": task.clip_ids[i], "spearman": float(v)} for scope, values in similarity.items() for i, v in enumerate(values)]


def contrast_unit(ctx: RunContext, backbone: str, seed: int, confound: float) -> Rows:
    """Per method, the shortcut model's excess drum relevance minus the clean model's, on the same clips.

    One more row (method ``"causal reliance"``, measure ``reliance_contrast``) holds what those
    contrasts are read against: the shortcut model's causal drum reliance minus the clean model's,
    on the clips both explained. Where it is clearly positive, a faithful method's contrast is too.

    Reads both models' stem shares back from the building database (their units run first).
    """
    section = ctx.profile.backbones[backbone]
    shortcut, clean = experiment_id(backbone, section), experiment_id(backbone, section, confound=confound)
    stems = ctx.writer.query(
        "SELECT experiment_id, clip_id, method, relevance_share - area_share AS excess FROM relevance_by_stem "
        "WHERE stem = 'drums' AND seed = ? AND experiment_id IN (?, ?)",
        [seed, shortcut, clean],
    )
    rows = []
    for method, group in stems.groupby("method", sort=True):
        paired = group.pivot(index="clip_id", columns="experiment_id", values="excess").dropna()
        if shortcut not in paired or clean not in paired or paired.empty:
            continue
        estimate = model_contrast(paired[shortcut].to_numpy(), paired[clean].to_numpy(), seed=seed)
        rows.append({"experiment_id": shortcut, "seed": seed, "method": method, "measure": "drum_contrast",
                     "reference_experiment_id": clean, "value": estimate.value, "low": estimate.low,
                     "high": estimate.high, "n": estimate.n})
    # the ground truth the method contrasts are read against: how much more the shortcut model needs its drums
    reliance = ctx.writer.query(
        "SELECT experiment_id, clip_id, p_with - p_without AS drop FROM stem_reliance "
        "WHERE stem = 'drums' AND seed = ? AND experiment_id IN (?, ?)",
        [seed, shortcut, clean],
    ).pivot(index="clip_id", columns="experiment_id", values="drop").dropna()
    if shortcut in reliance and clean in reliance and not reliance.empty:
        estimate = model_contrast(reliance[shortcut].to_numpy(), reliance[clean].to_numpy(), seed=seed)
        rows.append({"experiment_id": shortcut, "seed": seed, "method": RELIANCE_METHOD, "measure": "reliance_contrast",
                     "reference_experiment_id": clean, "value": estimate.value, "low": estimate.low,
                     "high": estimate.high, "n": estimate.n})
    return {"attribution_agreement": pd.DataFrame(rows)}
