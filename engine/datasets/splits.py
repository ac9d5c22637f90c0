"""Train/validation/test splits: group-aware (no group in two splits) or plain random (leaky).

Real MER datasets hold several excerpts of one song or film; if those straddle train and test,
test scores measure recognition of the film rather than of the emotion. Group-aware splits keep
every group whole; the plain random split reproduces the thesis's 80/20 protocol and is labelled
leaky wherever it is shown.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def _check_fractions(fractions: Sequence[float]) -> np.ndarray:
    shares = np.asarray(fractions, dtype=np.float64)
    if shares.shape != (3,) or np.any(shares < 0) or not np.isclose(shares.sum(), 1.0):
        raise ValueError(f"fractions must be three non-negative shares (train, val, test) summing to 1, got {fractions}")
    return shares


def group_split(groups: Sequence[str], *, fractions: Sequence[float] = (0.7, 0.1, 0.2), seed: int = 0) -> list[str]:
    """Assign whole groups to ``"train"``, ``"val"`` and ``"test"``.

    Groups are shuffled (seeded) and dealt out greedily so that each split's share of *clips* comes
    close to ``fractions``.

    Args:
        groups: group key per clip, length ``n_clips``.
        fractions: target shares of clips (train, val, test), summing to 1.

    Returns:
        split name per clip, length ``n_clips``.
    """
    shares = _check_fractions(fractions)
    names = np.asarray(groups, dtype=object)
    unique, counts = np.unique(names, return_counts=True)
    order = np.random.default_rng(seed).permutation(len(unique))
    targets = shares * len(names)
    filled = np.zeros(3)
    assignment: dict[str, str] = {}
    split_names = ("train", "val", "test")
    for index in order:
        # Give the group to the split that is furthest below its target share.
        deficit = (targets - filled) / np.maximum(targets, 1e-9)
        deficit[shares == 0] = -np.inf
        choice = int(np.argmax(deficit))
        assignment[unique[index]] = split_names[choice]
        filled[choice] += counts[index]
    return [assignment[g] for g in names]


def random_split(n_clips: int, *, fractions: Sequence[float] = (0.7, 0.1, 0.2), seed: int = 0) -> list[str]:
    """Plain random clip-level split (the thesis's protocol; leaky when clips share a source)."""
    shares = _check_fractions(fractions)
    order = np.random.default_rng(seed).permutation(n_clips)
    bounds = np.round(np.cumsum(shares)[:2] * n_clips).astype(int)
    out = np.empty(n_clips, dtype=object)
    out[order[: bounds[0]]] = "train"
    out[order[bounds[0] : bounds[1]]] = "val"
    out[order[bounds[1] :]] = "test"
    return list(out)
