"""SHAP values for tabular heads (Ridge, Ridge with interactions, shallow network), one way for all.

Every head is explained as a black-box function of its *input features* with an independent
(interventional) masker over a background sample of the training data: exact Shapley values for up
to 10 features, the permutation algorithm beyond. Both satisfy additivity,
``base_value + sum(values) == prediction``, which the tests check. Interaction terms of a ridge are
therefore credited to the descriptors they are built from, so importances stay comparable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import shap


@dataclass(frozen=True)
class ShapResult:
    """SHAP explanation of a multi-output model over a set of clips.

    Attributes:
        values: ``(n_clips, n_features, n_targets)`` contributions, in the model's output units.
        base_values: ``(n_targets,)`` expected output over the background.
        data: ``(n_clips, n_features)`` the explained feature values.
        feature_names: ``n_features`` names.
        target_names: ``n_targets`` names.
    """

    values: np.ndarray
    base_values: np.ndarray
    data: np.ndarray
    feature_names: tuple[str, ...]
    target_names: tuple[str, ...]

    def mean_abs(self) -> np.ndarray:
        """Global importance: mean |SHAP| over clips, ``(n_features, n_targets)``."""
        return np.abs(self.values).mean(axis=0)


def explain_tabular(
    predict: Callable[[np.ndarray], np.ndarray],
    *,
    background: np.ndarray,
    data: np.ndarray,
    feature_names: Sequence[str],
    target_names: Sequence[str],
    max_background: int = 100,
    seed: int = 0,
) -> ShapResult:
    """SHAP values of ``predict`` ``(N, F) -> (N, T)`` for the rows of ``data`` ``(n_clips, F)``.

    Args:
        background: ``(n_background, F)`` reference rows (training data); at most
            ``max_background`` are drawn from it (seeded).
    """
    rng = np.random.default_rng(seed)
    if background.shape[0] > max_background:
        background = background[rng.choice(background.shape[0], max_background, replace=False)]
    masker = shap.maskers.Independent(np.asarray(background, dtype=np.float64), max_samples=max_background)
    n_features = data.shape[1]
    algorithm = "exact" if n_features <= 10 else "permutation"

    def model_fn(x: np.ndarray) -> np.ndarray:
        # float64 in: near-constant inputs blown up by standardisation must not lose precision.
        return np.asarray(predict(np.asarray(x, dtype=np.float64)), dtype=np.float64)

    everything = np.concatenate([np.asarray(background, dtype=np.float64), np.asarray(data, dtype=np.float64)])
    if np.all(everything == everything[:1]):
        # Nothing varies (e.g. a collapsed upstream model): every contribution is 0, and shap's
        # explainers cannot handle this case.
        base = model_fn(everything[:1])[0].reshape(-1)
        return ShapResult(
            values=np.zeros((data.shape[0], n_features, base.size)),
            base_values=base,
            data=np.asarray(data, dtype=np.float64),
            feature_names=tuple(feature_names),
            target_names=tuple(target_names),
        )
    explainer = shap.Explainer(model_fn, masker, algorithm=algorithm, seed=seed)
    kwargs = {} if algorithm == "exact" else {"max_evals": 2 * n_features + 1 + 10 * n_features}
    explanation = explainer(np.asarray(data, dtype=np.float64), silent=True, **kwargs)
    values = np.asarray(explanation.values, dtype=np.float64)
    if values.ndim == 2:
        values = values[:, :, None]
    base = np.asarray(explanation.base_values, dtype=np.float64)
    base = base.reshape(data.shape[0], -1)[0]
    return ShapResult(
        values=values,
        base_values=base,
        data=np.asarray(data, dtype=np.float64),
        feature_names=tuple(feature_names),
        target_names=tuple(target_names),
    )
