"""Faithfulness of a relevance map: does the model's decision follow what the map calls relevant?

Removal tests over ``patch x patch`` tiles of the model input, ordered by the map's mean relevance
per tile (Samek et al., 2017; Rong et al., 2022):

- *MoRF* (most relevant first): the probability of the explained class should fall fast, so a small
  area under the curve (AUC) is good;
- *LeRF* (least relevant first): it should hardly move, so a large AUC is good;
- the *gap* ``LeRF AUC - MoRF AUC`` is the score: large means the map separates what the model
  needs from what it does not. Rong et al. show that the gap, unlike MoRF alone, is stable across
  removal rules.

Tiles are removed by a rule of :mod:`engine.explain.removal`: ``floor`` (silence) or ``road``
(noisy linear imputation, which keeps the input in distribution). Every score is also computed for
a random tile order (seeded), the chance reference.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch import nn

from engine.explain.removal import REMOVALS, remove, tile_masks

DEFAULT_FRACTIONS: tuple[float, ...] = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9)
ORDERS = ("morf", "lerf")


def patch_scores(relevance: np.ndarray, *, patch: int) -> np.ndarray:
    """Mean relevance of each ``patch x patch`` tile of an ``(H, W)`` map; shape ``(H//patch * W//patch,)``."""
    h, w = relevance.shape[0] // patch, relevance.shape[1] // patch
    tiles = relevance[: h * patch, : w * patch].reshape(h, patch, w, patch)
    return tiles.mean(axis=(1, 3)).reshape(-1)


def removal_curves(
    model: nn.Module,
    image: torch.Tensor,
    orders: dict[str, np.ndarray],
    *,
    target: int,
    removal: str = "floor",
    patch: int = 16,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Probability of ``target`` as the first tiles of each order are removed.

    Args:
        model: classifier returning logits ``(B, n_classes)``.
        image: one input ``(1, C, H, W)`` in [0, 1].
        orders: name to tile indices (row-major over the ``(H//patch, W//patch)`` grid), first removed first.
        removal: ``"floor"`` or ``"road"``.
        fractions: shares of tiles removed at each step, increasing.
        seed: seed of the imputation noise.

    Returns:
        order name to ``(len(fractions),)`` softmax probabilities of ``target``.
    """
    if removal not in REMOVALS:
        raise ValueError(f"removal must be one of {REMOVALS}, got {removal!r}")
    _, _, height, width = image.shape
    fractions = np.asarray(fractions, dtype=np.float64)
    names = list(orders)
    masks = torch.cat([tile_masks(orders[n], fractions, height=height, width=width, patch=patch) for n in names])
    batch = remove(image, masks.to(image.device, image.dtype), rule=removal, seed=seed)
    model.eval()
    with torch.no_grad():
        p = torch.cat([torch.softmax(model(chunk), dim=1)[:, target] for chunk in batch.split(32)]).float().cpu().numpy()
    return {name: p[i * len(fractions) : (i + 1) * len(fractions)] for i, name in enumerate(names)}


def area_under_curve(values: np.ndarray, fractions: Sequence[float] = DEFAULT_FRACTIONS) -> float:
    """Trapezoidal area under ``values`` over ``fractions``, divided by the fraction range (so in [0, 1])."""
    x = np.asarray(fractions, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    return float(np.sum((y[1:] + y[:-1]) * np.diff(x)) / 2.0 / (x[-1] - x[0]))


def tile_orders(relevance: np.ndarray, *, patch: int = 16) -> dict[str, np.ndarray]:
    """MoRF and LeRF tile orders of an ``(H, W)`` map (ties broken by position, stably)."""
    scores = patch_scores(relevance, patch=patch)
    morf = np.argsort(-scores, kind="stable")
    return {"morf": morf, "lerf": morf[::-1].copy()}


def random_orders(n_tiles: int, *, seed: int) -> dict[str, np.ndarray]:
    """The chance reference: one random order, removed from its front (MoRF) and from its back (LeRF)."""
    order = np.random.default_rng(seed).permutation(n_tiles)
    return {"morf": order, "lerf": order[::-1].copy()}


@dataclass(frozen=True)
class Faithfulness:
    """Removal curves and their scores for one map under one removal rule.

    Attributes:
        removal: ``"floor"`` or ``"road"``.
        fractions: ``(n_steps,)`` shares of tiles removed.
        curves: ``"morf"`` and ``"lerf"`` to ``(n_steps,)`` probabilities.
        scores: ``{removal}_morf_auc``, ``{removal}_lerf_auc`` and ``{removal}_gap`` (LeRF - MoRF).
    """

    removal: str
    fractions: tuple[float, ...]
    curves: dict[str, np.ndarray]
    scores: dict[str, float]


def faithfulness(
    model: nn.Module,
    image: torch.Tensor,
    orders: dict[str, np.ndarray],
    *,
    target: int,
    removal: str = "floor",
    patch: int = 16,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    seed: int = 0,
) -> Faithfulness:
    """MoRF and LeRF curves and scores of ``orders`` (from :func:`tile_orders` or :func:`random_orders`)
    for one image ``(1, C, H, W)`` and its explained class ``target``."""
    curves = removal_curves(model, image, orders, target=target, removal=removal, patch=patch, fractions=fractions, seed=seed)
    morf, lerf = area_under_curve(curves["morf"], fractions), area_under_curve(curves["lerf"], fractions)
    return Faithfulness(
        removal=removal,
        fractions=tuple(float(f) for f in fractions),
        curves=curves,
        scores={f"{removal}_morf_auc": morf, f"{removal}_lerf_auc": lerf, f"{removal}_gap": lerf - morf},
    )
