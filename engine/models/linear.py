"""Ridge heads for Mid2E, with or without pairwise interaction terms.

Inputs are standardised before the ridge (and again after the interaction products), so that the
fitted coefficients are comparable across features; lambda is chosen per target by
cross-validation (``RidgeCV``, leave-one-out by default).
"""

from __future__ import annotations

from itertools import combinations
from typing import Sequence

import numpy as np
from sklearn.linear_model import RidgeCV
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

DEFAULT_ALPHAS: tuple[float, ...] = tuple(np.logspace(-3, 3, 13))


def pairwise_products(x: np.ndarray) -> np.ndarray:
    """Append every pairwise product of columns: ``(N, F)`` to ``(N, F + F*(F-1)/2)``.

    Column order: the ``F`` inputs, then products in ``itertools.combinations`` order.
    """
    pairs = [x[:, i] * x[:, j] for i, j in combinations(range(x.shape[1]), 2)]
    return np.column_stack([x, *pairs]) if pairs else x


def interaction_names(names: Sequence[str]) -> list[str]:
    """Feature names matching :func:`pairwise_products`: inputs, then ``"a x b"`` pairs."""
    return list(names) + [f"{a} x {b}" for a, b in combinations(names, 2)]


def make_ridge(*, interactions: bool = False, alphas: Sequence[float] = DEFAULT_ALPHAS) -> Pipeline:
    """Unfitted pipeline ``(N, F) -> (N, n_targets)``: standardise, [products, standardise], RidgeCV."""
    ridge = RidgeCV(alphas=tuple(alphas), alpha_per_target=True)
    if interactions:
        return make_pipeline(StandardScaler(), FunctionTransformer(pairwise_products), StandardScaler(), ridge)
    return make_pipeline(StandardScaler(), ridge)


def standardised_coefficients(model: Pipeline, *, y_train: np.ndarray) -> np.ndarray:
    """Beta weights of a fitted ridge pipeline: effect in target SDs per input SD.

    Returns:
        ``(n_targets, n_terms)``: the ridge coefficients (already per standardised input) divided
        by each target's training standard deviation. ``n_terms`` counts interaction terms too.
    """
    coef = np.atleast_2d(model[-1].coef_)
    return coef / np.asarray(y_train).std(axis=0)[:, None]


def chosen_alphas(model: Pipeline) -> np.ndarray:
    """Cross-validated lambda per target, shape ``(n_targets,)``."""
    return np.atleast_1d(model[-1].alpha_)
