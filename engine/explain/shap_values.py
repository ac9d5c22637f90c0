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

    Attributes
    ----------
    values : np.ndarray
        ``(n_clips, n_features, n_targets)`` contributions, in the model's output units.
    base_values : np.ndarray
        ``(n_targets,)`` expected output over the background.
    data : np.ndarray
        ``(n_clips, n_features)`` the explained feature values.
    feature_names : tuple of str
        ``n_features`` names.
    target_names : tuple of str
        ``n_targets`` names.

    Examples
    --------
    >>> import numpy as np
    >>> result = ShapResult(
    ...     values=np.array([[[1.0], [-2.0]], [[3.0], [0.0]]]),
    ...     base_values=np.array([0.5]),
    ...     data=np.zeros((2, 2)),
    ...     feature_names=("tempo", "mode"),
    ...     target_names=("valence",),
    ... )
    >>> result.mean_abs()
    array([[2.],
           [1.]])
    """

    values: np.ndarray
    base_values: np.ndarray
    data: np.ndarray
    feature_names: tuple[str, ...]
    target_names: tuple[str, ...]

    def mean_abs(self) -> np.ndarray:
        """Compute the global importance of each feature: mean ``|SHAP|`` over clips.

        Returns
        -------
        np.ndarray
            ``(n_features, n_targets)``, in the model's output units.
        """
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
    """Compute the SHAP values of ``predict`` for the rows of ``data``.

    Exact Shapley values for up to 10 features, the permutation algorithm beyond (module
    docstring). Where no feature varies over background and data, every contribution is 0.

    Parameters
    ----------
    predict : callable
        The model, ``(N, F)`` float64 features to ``(N, T)`` outputs.
    background : np.ndarray
        ``(n_background, F)`` reference rows (training data); at most ``max_background`` are drawn
        from it (seeded).
    data : np.ndarray
        ``(n_clips, F)`` rows to explain.
    feature_names : sequence of str
        ``F`` names.
    target_names : sequence of str
        ``T`` names.
    max_background : int
        Most background rows used.
    seed : int
        Seed of the background draw and of the explainer.

    Returns
    -------
    ShapResult
        ``values`` ``(n_clips, F, T)`` and ``base_values`` ``(T,)`` in the output units of
        ``predict``, with ``base_values + values.sum(axis=1) == predict(data)``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> rows = rng.normal(size=(12, 3))
    >>> predict = lambda x: x @ np.array([[1.0, 0.0], [2.0, 1.0], [0.0, -1.0]])  # 3 features, 2 targets
    >>> result = explain_tabular(predict, background=rows[:10], data=rows[10:], feature_names=["a", "b", "c"],
    ...                          target_names=["valence", "arousal"])
    >>> result.values.shape, result.base_values.shape
    ((2, 3, 2), (2,))
    >>> bool(np.allclose(result.base_values + result.values.sum(axis=1), predict(rows[10:])))
    True
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
