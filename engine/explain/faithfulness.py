"""Faithfulness of a relevance map: does deleting what it calls relevant change the decision?

Deletion test (Samek et al., 2017; Petsiuk et al., 2018): patches of the input are replaced by a
baseline value (silence) in order of decreasing relevance, and the probability of the explained
class is recorded after each step. A faithful map makes the probability fall fast, so the area
under the deletion curve is small; the same curve for a random patch order is the reference.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn

DEFAULT_FRACTIONS: tuple[float, ...] = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5)


def patch_scores(relevance: np.ndarray, *, patch: int) -> np.ndarray:
    """Mean relevance of each ``patch x patch`` tile of an ``(H, W)`` map; shape ``(H//patch * W//patch,)``."""
    h, w = relevance.shape[0] // patch, relevance.shape[1] // patch
    tiles = relevance[: h * patch, : w * patch].reshape(h, patch, w, patch)
    return tiles.mean(axis=(1, 3)).reshape(-1)


def deletion_curve(
    model: nn.Module,
    image: torch.Tensor,
    order: np.ndarray,
    *,
    target: int,
    patch: int = 16,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    baseline: float = 0.0,
) -> np.ndarray:
    """Probability of ``target`` as the first patches in ``order`` are set to ``baseline``.

    Args:
        model: classifier returning logits ``(B, n_classes)``.
        image: one input ``(1, C, H, W)``.
        order: patch indices (row-major over the ``(H//patch, W//patch)`` grid), most relevant first.
        fractions: shares of patches deleted at each step, from 0 to 1.

    Returns:
        ``(len(fractions),)`` softmax probabilities of ``target``.
    """
    _, _, height, width = image.shape
    columns = width // patch
    batch = image.repeat(len(fractions), 1, 1, 1).clone()
    for row, fraction in enumerate(fractions):
        for index in order[: int(round(fraction * len(order)))]:
            top, left = divmod(int(index), columns)
            batch[row, :, top * patch : (top + 1) * patch, left * patch : (left + 1) * patch] = baseline
    model.eval()
    with torch.no_grad():
        return torch.softmax(model(batch), dim=1)[:, target].float().cpu().numpy()


def area_under_curve(values: np.ndarray, fractions: Sequence[float] = DEFAULT_FRACTIONS) -> float:
    """Trapezoidal area under ``values`` over ``fractions``, divided by the fraction range (so in [0, 1])."""
    x = np.asarray(fractions, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    return float(np.sum((y[1:] + y[:-1]) * np.diff(x)) / 2.0 / (x[-1] - x[0]))


def deletion_scores(
    model: nn.Module,
    image: torch.Tensor,
    relevance: np.ndarray,
    *,
    target: int,
    patch: int = 16,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    seed: int = 0,
) -> dict[str, float]:
    """Deletion AUC of ``relevance`` ``(H, W)`` and of a random patch order, for one image ``(1, C, H, W)``.

    Returns:
        ``{"deletion_auc": ..., "random_deletion_auc": ..., "deletion_gain": random - relevance}``;
        a positive gain means the map finds patches that matter more than chance.
    """
    scores = patch_scores(relevance, patch=patch)
    by_relevance = np.argsort(-scores, kind="stable")
    at_random = np.random.default_rng(seed).permutation(scores.size)
    auc = area_under_curve(deletion_curve(model, image, by_relevance, target=target, patch=patch, fractions=fractions), fractions)
    random_auc = area_under_curve(deletion_curve(model, image, at_random, target=target, patch=patch, fractions=fractions), fractions)
    return {"deletion_auc": auc, "random_deletion_auc": random_auc, "deletion_gain": random_auc - auc}
