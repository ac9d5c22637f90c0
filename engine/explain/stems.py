"""Where does the relevance fall, by instrument? (For corpora whose stems are known.)

Each time-frequency bin of the model's input grid is credited to the stem with the largest
magnitude there. A stem's *relevance share* is the fraction of total relevance on its bins; its
*area share* is the fraction of bins it owns. Relevance share well above area share means the
model looks at that instrument more than its footprint alone would explain.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np


def relevance_by_stem(relevance: np.ndarray, stem_magnitudes: Mapping[str, np.ndarray]) -> dict[str, tuple[float, float]]:
    """Relevance and area share per stem.

    Args:
        relevance: non-negative ``(H, W)`` map.
        stem_magnitudes: stem name to magnitude ``(H, W)`` on the same grid.

    Returns:
        stem name to ``(relevance_share, area_share)``; each column sums to 1 over stems.
    """
    names = list(stem_magnitudes)
    stack = np.stack([stem_magnitudes[n] for n in names])
    owner = np.argmax(stack, axis=0)
    weights = np.clip(relevance, 0.0, None)
    total = float(weights.sum())
    out = {}
    for i, name in enumerate(names):
        mask = owner == i
        share = float(weights[mask].sum()) / total if total > 0 else 0.0
        out[name] = (share, float(mask.mean()))
    return out
