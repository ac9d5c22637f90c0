"""Faithfulness of a relevance map: does the model's decision follow what the map calls relevant?

Perturbation tests over ``patch x patch`` tiles of the model input, ordered by the map's mean
relevance per tile (Samek et al., 2017; Petsiuk et al., 2018):

- *deletion*: tiles are set to the baseline (silence, 0) most relevant first; the probability of the
  explained class should fall fast, so a small area under the curve (AUC) is good;
- *insertion*: starting from the all-baseline input, tiles are restored most relevant first; the
  probability should rise fast, so a large AUC is good.

Both are compared with the same curves for a random tile order (seeded): the *gain* is how much the
map beats chance (``random - map`` for deletion, ``map - random`` for insertion).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch import nn

DEFAULT_FRACTIONS: tuple[float, ...] = (0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.7, 1.0)
CURVES = ("deletion", "insertion")


def patch_scores(relevance: np.ndarray, *, patch: int) -> np.ndarray:
    """Mean relevance of each ``patch x patch`` tile of an ``(H, W)`` map; shape ``(H//patch * W//patch,)``."""
    h, w = relevance.shape[0] // patch, relevance.shape[1] // patch
    tiles = relevance[: h * patch, : w * patch].reshape(h, patch, w, patch)
    return tiles.mean(axis=(1, 3)).reshape(-1)


def perturbation_curve(
    model: nn.Module,
    image: torch.Tensor,
    order: np.ndarray,
    *,
    target: int,
    curve: str = "deletion",
    patch: int = 16,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    baseline: float = 0.0,
) -> np.ndarray:
    """Probability of ``target`` as the first tiles in ``order`` are deleted or inserted.

    Args:
        model: classifier returning logits ``(B, n_classes)``.
        image: one input ``(1, C, H, W)``.
        order: tile indices (row-major over the ``(H//patch, W//patch)`` grid), most relevant first.
        curve: ``"deletion"`` (tiles set to ``baseline``) or ``"insertion"`` (tiles restored into an
            all-``baseline`` input).
        fractions: shares of tiles changed at each step, increasing from 0 to 1.

    Returns:
        ``(len(fractions),)`` softmax probabilities of ``target``.
    """
    if curve not in CURVES:
        raise ValueError(f"curve must be one of {CURVES}, got {curve!r}")
    _, _, height, width = image.shape
    columns = width // patch
    mask = torch.zeros(len(fractions), 1, height, width, dtype=image.dtype, device=image.device)
    for row, fraction in enumerate(fractions):
        for index in order[: int(round(fraction * len(order)))]:
            top, left = divmod(int(index), columns)
            mask[row, :, top * patch : (top + 1) * patch, left * patch : (left + 1) * patch] = 1.0
    keep = 1.0 - mask if curve == "deletion" else mask
    batch = image * keep + baseline * (1.0 - keep)
    model.eval()
    with torch.no_grad():
        return torch.softmax(model(batch), dim=1)[:, target].float().cpu().numpy()


def area_under_curve(values: np.ndarray, fractions: Sequence[float] = DEFAULT_FRACTIONS) -> float:
    """Trapezoidal area under ``values`` over ``fractions``, divided by the fraction range (so in [0, 1])."""
    x = np.asarray(fractions, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    return float(np.sum((y[1:] + y[:-1]) * np.diff(x)) / 2.0 / (x[-1] - x[0]))


@dataclass(frozen=True)
class Faithfulness:
    """Perturbation curves and their scores for one map.

    Attributes:
        fractions: ``(n_steps,)`` shares of tiles changed.
        curves: ``(curve, ordering)`` to ``(n_steps,)`` probabilities, for curve in ``CURVES`` and
            ordering ``"relevance"`` or ``"random"``.
        scores: ``deletion_auc``, ``insertion_auc``, ``random_deletion_auc``, ``random_insertion_auc``,
            ``deletion_gain`` (random - map: positive beats chance) and ``insertion_gain`` (map - random).
    """

    fractions: tuple[float, ...]
    curves: dict[tuple[str, str], np.ndarray]
    scores: dict[str, float]


def faithfulness(
    model: nn.Module,
    image: torch.Tensor,
    relevance: np.ndarray,
    *,
    target: int,
    patch: int = 16,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    seed: int = 0,
) -> Faithfulness:
    """Deletion and insertion curves of ``relevance`` ``(H, W)`` and of a random tile order, for one
    image ``(1, C, H, W)`` and its explained class ``target``."""
    scores = patch_scores(relevance, patch=patch)
    orders = {
        "relevance": np.argsort(-scores, kind="stable"),
        "random": np.random.default_rng(seed).permutation(scores.size),
    }
    curves = {
        (curve, ordering): perturbation_curve(
            model, image, order, target=target, curve=curve, patch=patch, fractions=fractions
        )
        for curve in CURVES
        for ordering, order in orders.items()
    }
    auc = {key: area_under_curve(values, fractions) for key, values in curves.items()}
    return Faithfulness(
        fractions=tuple(float(f) for f in fractions),
        curves=curves,
        scores={
            "deletion_auc": auc["deletion", "relevance"],
            "insertion_auc": auc["insertion", "relevance"],
            "random_deletion_auc": auc["deletion", "random"],
            "random_insertion_auc": auc["insertion", "random"],
            "deletion_gain": auc["deletion", "random"] - auc["deletion", "relevance"],
            "insertion_gain": auc["insertion", "relevance"] - auc["insertion", "random"],
        },
    )
