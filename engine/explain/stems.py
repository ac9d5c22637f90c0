"""Where the relevance falls, by instrument, on corpora whose stems are known.

Each time-frequency bin of the model's input grid is shared among the stems in proportion to their
energy there (``|S_s|^2 / sum_s |S_s|^2``; an empty bin is shared equally). A stem's *relevance
share* is the fraction of the total (non-negative) relevance it receives this way; its *area share*
is the fraction of the grid it owns the same way. Relevance share well above area share means the
model looks at that instrument more than its footprint alone would explain; the same shares for
the ``random`` method are the chance reference.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np


def relevance_by_stem(relevance: np.ndarray, stem_magnitudes: Mapping[str, np.ndarray]) -> dict[str, tuple[float, float]]:
    """Compute the relevance share and the area share of each stem.

    Parameters
    ----------
    relevance : np.ndarray
        ``(H, W)`` map; negative values count as 0.
    stem_magnitudes : mapping of str to np.ndarray
        Stem name to linear magnitude ``(H, W)`` on the same grid.

    Returns
    -------
    dict of str to tuple of float
        Stem name to ``(relevance_share, area_share)``, each in [0, 1]; each column sums to 1 over
        stems (relevance shares are all 0 when no relevance is positive).

    Examples
    --------
    >>> import numpy as np
    >>> relevance = np.array([[1.0, 0.0], [0.0, -1.0]])
    >>> magnitudes = {"drums": np.array([[1.0, 0.0], [0.0, 0.0]]), "bass": np.array([[0.0, 1.0], [1.0, 0.0]])}
    >>> relevance_by_stem(relevance, magnitudes)  # the empty bottom-right bin is shared equally
    {'drums': (1.0, 0.375), 'bass': (0.0, 0.625)}
    """
    names = list(stem_magnitudes)
    energy = np.stack([np.square(stem_magnitudes[n], dtype=np.float64) for n in names])
    total_energy = energy.sum(axis=0)
    masks = np.where(total_energy > 0, energy / np.where(total_energy > 0, total_energy, 1.0), 1.0 / len(names))
    weights = np.clip(relevance, 0.0, None).astype(np.float64)
    total = float(weights.sum())
    return {
        name: (float((weights * masks[i]).sum()) / total if total > 0 else 0.0, float(masks[i].mean()))
        for i, name in enumerate(names)
    }
