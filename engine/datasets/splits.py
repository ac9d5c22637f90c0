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

    Parameters
    ----------
    groups : Sequence[str]
        Group key per clip, length ``n_clips``.
    fractions : Sequence[float], default (0.7, 0.1, 0.2)
        Target shares of clips (train, val, test), non-negative, summing to 1.
    seed : int, default 0
        Seed of the shuffle.

    Returns
    -------
    list of str
        Split name per clip, length ``n_clips``.

    Raises
    ------
    ValueError
        ``fractions`` are not three non-negative shares summing to 1.

    Examples
    --------
    >>> groups = ["film1", "film1", "film2", "film3", "film3", "film4"]
    >>> splits = group_split(groups, fractions=(0.5, 0.25, 0.25), seed=0)
    >>> len(splits), splits[0] == splits[1], splits[3] == splits[4]
    (6, True, True)
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
    """Split clips at random, clip by clip (the thesis's protocol; leaky when clips share a source).

    Parameters
    ----------
    n_clips : int
        Number of clips.
    fractions : Sequence[float], default (0.7, 0.1, 0.2)
        Shares of clips (train, val, test), non-negative, summing to 1; counts are rounded.
    seed : int, default 0
        Seed of the permutation.

    Returns
    -------
    list of str
        Split name per clip, length ``n_clips``.

    Raises
    ------
    ValueError
        ``fractions`` are not three non-negative shares summing to 1.

    Examples
    --------
    >>> splits = random_split(10, fractions=(0.6, 0.2, 0.2), seed=1)
    >>> [splits.count(name) for name in ("train", "val", "test")]
    [6, 2, 2]
    """
    shares = _check_fractions(fractions)
    order = np.random.default_rng(seed).permutation(n_clips)
    bounds = np.round(np.cumsum(shares)[:2] * n_clips).astype(int)
    out = np.empty(n_clips, dtype=object)
    out[order[: bounds[0]]] = "train"
    out[order[bounds[0] : bounds[1]]] = "val"
    out[order[bounds[1] :]] = "test"
    return list(out)


def describe_split(groups: Sequence[str], splits: Sequence[str]) -> str:
    """Count the groups and clips of each split, and say whether any group spans two splits.

    Parameters
    ----------
    groups : Sequence[str]
        Group key per clip (e.g. the song), length ``n_clips``.
    splits : Sequence[str]
        Split name per clip (``"train"``, ``"val"``, ``"test"``), length ``n_clips``.

    Returns
    -------
    str
        E.g. ``"train 3 groups (6 clips), val 1 (2), test 1 (2); each group in one split"``.

    Examples
    --------
    >>> describe_split(["a", "a", "b", "c"], ["train", "train", "val", "test"])
    'train 1 groups (2 clips), val 1 (1), test 1 (1); each group in one split'
    >>> describe_split(["a", "a", "b"], ["train", "test", "train"])
    'train 2 groups (2 clips), val 0 (0), test 1 (1); 1 group(s) in more than one split (their clips are not independent across splits)'
    """
    by_split = {name: (set(), 0) for name in ("train", "val", "test")}
    homes: dict[str, set[str]] = {}
    for group, split in zip(groups, splits):
        members, clips = by_split.setdefault(split, (set(), 0))
        members.add(group)
        by_split[split] = (members, clips + 1)
        homes.setdefault(group, set()).add(split)
    parts = [f"{name} {len(members)}{' groups' if i == 0 else ''} ({clips}{' clips' if i == 0 else ''})"
             for i, (name, (members, clips)) in enumerate(by_split.items())]
    shared = sum(len(places) > 1 for places in homes.values())
    tail = "each group in one split" if not shared else (
        f"{shared} group(s) in more than one split (their clips are not independent across splits)")
    return ", ".join(parts) + "; " + tail
