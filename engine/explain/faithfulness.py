"""Faithfulness of a relevance map: whether the model's decision follows what the map calls relevant.

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
    """Compute the mean relevance of each ``patch x patch`` tile of a map.

    Parameters
    ----------
    relevance : np.ndarray
        ``(H, W)`` map; rows and columns beyond the last whole tile are ignored.
    patch : int
        Tile side in pixels.

    Returns
    -------
    np.ndarray
        ``(H // patch * W // patch,)`` tile means, row-major over the tile grid.

    Examples
    --------
    >>> import numpy as np
    >>> patch_scores(np.arange(16.0).reshape(4, 4), patch=2)
    array([ 2.5,  4.5, 10.5, 12.5])
    """
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
    """Compute the probability of ``target`` as the first tiles of each order are removed.

    Parameters
    ----------
    model : torch.nn.Module
        Classifier returning logits ``(B, n_classes)``; put in evaluation mode.
    image : torch.Tensor
        One input ``(1, C, H, W)`` in [0, 1].
    orders : dict of str to np.ndarray
        Name to tile indices (row-major over the ``(H // patch, W // patch)`` grid), first removed first.
    target : int
        Explained class index.
    removal : {"floor", "road"}
        Removal rule (:func:`engine.explain.removal.remove`).
    patch : int
        Tile side in pixels.
    fractions : sequence of float
        Shares of tiles removed at each step, increasing, each in [0, 1].
    seed : int
        Seed of the imputation noise.

    Returns
    -------
    dict of str to np.ndarray
        Order name to ``(len(fractions),)`` float32 softmax probabilities of ``target``.

    Raises
    ------
    ValueError
        ``removal`` is not one of :data:`engine.explain.removal.REMOVALS`.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(32 * 32, 2))
    >>> image = torch.rand(1, 1, 32, 32)
    >>> curves = removal_curves(model, image, tile_orders(image[0, 0].numpy()), target=0, fractions=(0.0, 0.5, 1.0))
    >>> curves["morf"].shape, bool(curves["morf"][0] == curves["lerf"][0])
    ((3,), True)
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
    """Compute the trapezoidal area under ``values`` over ``fractions``, divided by the fraction range.

    Parameters
    ----------
    values : np.ndarray
        ``(n_steps,)`` curve, e.g. probabilities from :func:`removal_curves`.
    fractions : sequence of float
        ``(n_steps,)`` increasing abscissae (shares of tiles removed).

    Returns
    -------
    float
        The normalised area: the mean height of the curve, in [0, 1] for probabilities.

    Examples
    --------
    >>> area_under_curve([1.0, 0.5, 0.0], fractions=[0.0, 0.5, 1.0])
    0.5
    """
    x = np.asarray(fractions, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    return float(np.sum((y[1:] + y[:-1]) * np.diff(x)) / 2.0 / (x[-1] - x[0]))


def tile_orders(relevance: np.ndarray, *, patch: int = 16) -> dict[str, np.ndarray]:
    """Order the tiles of a map most relevant first (MoRF) and least relevant first (LeRF).

    Parameters
    ----------
    relevance : np.ndarray
        ``(H, W)`` map.
    patch : int
        Tile side in pixels; tiles are ranked by their mean relevance (:func:`patch_scores`).

    Returns
    -------
    dict of str to np.ndarray
        ``"morf"`` and ``"lerf"`` to ``(H // patch * W // patch,)`` tile indices, row-major over the
        tile grid; ties are broken by position (stably) and LeRF is MoRF reversed.

    Examples
    --------
    >>> import numpy as np
    >>> tile_orders(np.arange(16.0).reshape(4, 4), patch=2)
    {'morf': array([3, 2, 1, 0]), 'lerf': array([0, 1, 2, 3])}
    """
    scores = patch_scores(relevance, patch=patch)
    morf = np.argsort(-scores, kind="stable")
    return {"morf": morf, "lerf": morf[::-1].copy()}


def random_orders(n_tiles: int, *, seed: int) -> dict[str, np.ndarray]:
    """Draw the chance reference: one random order, removed from its front (MoRF) and from its back (LeRF).

    Parameters
    ----------
    n_tiles : int
        Number of tiles.
    seed : int
        Seed of the permutation.

    Returns
    -------
    dict of str to np.ndarray
        ``"morf"`` and ``"lerf"`` to ``(n_tiles,)`` tile indices; LeRF is MoRF reversed.

    Examples
    --------
    >>> orders = random_orders(4, seed=0)
    >>> sorted(orders["morf"].tolist()), bool((orders["lerf"] == orders["morf"][::-1]).all())
    ([0, 1, 2, 3], True)
    """
    order = np.random.default_rng(seed).permutation(n_tiles)
    return {"morf": order, "lerf": order[::-1].copy()}


@dataclass(frozen=True)
class Faithfulness:
    """Removal curves and their scores for one map under one removal rule.

    Attributes
    ----------
    removal : {"floor", "road"}
        Removal rule.
    fractions : tuple of float
        ``(n_steps,)`` shares of tiles removed.
    curves : dict of str to np.ndarray
        ``"morf"`` and ``"lerf"`` to ``(n_steps,)`` probabilities of the explained class.
    scores : dict of str to float
        ``{removal}_morf_auc``, ``{removal}_lerf_auc`` and ``{removal}_gap`` (LeRF - MoRF), areas
        from :func:`area_under_curve`.

    Examples
    --------
    >>> import numpy as np
    >>> result = Faithfulness(
    ...     removal="floor",
    ...     fractions=(0.0, 1.0),
    ...     curves={"morf": np.array([0.9, 0.1]), "lerf": np.array([0.9, 0.7])},
    ...     scores={"floor_morf_auc": 0.5, "floor_lerf_auc": 0.8, "floor_gap": 0.3},
    ... )
    >>> result.scores["floor_gap"]
    0.3
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
    """Compute the MoRF and LeRF removal curves of ``orders`` and their scores for one image.

    Parameters
    ----------
    model : torch.nn.Module
        Classifier returning logits ``(B, n_classes)``.
    image : torch.Tensor
        One input ``(1, C, H, W)`` in [0, 1].
    orders : dict of str to np.ndarray
        ``"morf"`` and ``"lerf"`` tile orders, from :func:`tile_orders` or :func:`random_orders`.
    target : int
        Explained class index.
    removal : {"floor", "road"}
        Removal rule (:func:`engine.explain.removal.remove`).
    patch : int
        Tile side in pixels.
    fractions : sequence of float
        Shares of tiles removed at each step, increasing, each in [0, 1].
    seed : int
        Seed of the imputation noise.

    Returns
    -------
    Faithfulness
        The curves (softmax probabilities of ``target``) and the areas under them, each in [0, 1].

    Raises
    ------
    ValueError
        ``removal`` is not one of :data:`engine.explain.removal.REMOVALS`.

    Examples
    --------
    A model whose class 0 reads the top-left tile only, and a map that points there:

    >>> import numpy as np
    >>> import torch
    >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(32 * 32, 2))
    >>> with torch.no_grad():
    ...     _ = model[1].weight.zero_(), model[1].bias.zero_()
    ...     model[1].weight[0].view(32, 32)[:16, :16] = 0.05
    >>> relevance = np.zeros((32, 32))
    >>> relevance[:16, :16] = 1.0
    >>> result = faithfulness(model, torch.ones(1, 1, 32, 32), tile_orders(relevance), target=0, fractions=(0.0, 0.5, 1.0))
    >>> {name: round(score, 3) for name, score in result.scores.items()}
    {'floor_morf_auc': 0.625, 'floor_lerf_auc': 0.875, 'floor_gap': 0.25}
    """
    curves = removal_curves(model, image, orders, target=target, removal=removal, patch=patch, fractions=fractions, seed=seed)
    morf, lerf = area_under_curve(curves["morf"], fractions), area_under_curve(curves["lerf"], fractions)
    return Faithfulness(
        removal=removal,
        fractions=tuple(float(f) for f in fractions),
        curves=curves,
        scores={f"{removal}_morf_auc": morf, f"{removal}_lerf_auc": lerf, f"{removal}_gap": lerf - morf},
    )
