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

    Parameters
    ----------
    x : numpy.ndarray
        Inputs, shape ``(N, F)``.

    Returns
    -------
    numpy.ndarray
        ``x`` followed by the products, shape ``(N, F + F*(F-1)/2)``; ``x`` itself when ``F < 2``.

    Examples
    --------
    >>> import numpy as np
    >>> pairwise_products(np.array([[1.0, 2.0, 3.0]])).tolist()
    [[1.0, 2.0, 3.0, 2.0, 3.0, 6.0]]
    """
    pairs = [x[:, i] * x[:, j] for i, j in combinations(range(x.shape[1]), 2)]
    return np.column_stack([x, *pairs]) if pairs else x


def interaction_names(names: Sequence[str]) -> list[str]:
    """Name the columns of :func:`pairwise_products`: the inputs, then ``"a x b"`` pairs.

    Parameters
    ----------
    names : Sequence[str]
        Names of the ``F`` input columns.

    Returns
    -------
    list of str
        ``F + F*(F-1)/2`` names, in the column order of :func:`pairwise_products`.

    Examples
    --------
    >>> interaction_names(["tempo", "minorness", "dissonance"])
    ['tempo', 'minorness', 'dissonance', 'tempo x minorness', 'tempo x dissonance', 'minorness x dissonance']
    """
    return list(names) + [f"{a} x {b}" for a, b in combinations(names, 2)]


def make_ridge(*, interactions: bool = False, alphas: Sequence[float] = DEFAULT_ALPHAS) -> Pipeline:
    """Build an unfitted ridge pipeline ``(N, F) -> (N, n_targets)``: standardise, [products, standardise], RidgeCV.

    Parameters
    ----------
    interactions : bool, default False
        Add every pairwise product of the standardised inputs (:func:`pairwise_products`), then
        standardise again.
    alphas : Sequence[float], default DEFAULT_ALPHAS
        Candidate ridge penalties (lambda); one is chosen per target by leave-one-out
        cross-validation.

    Returns
    -------
    sklearn.pipeline.Pipeline
        The unfitted pipeline; its last step is the ``RidgeCV``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(40, 3))
    >>> y = np.column_stack([2 * x[:, 0], x[:, 1] - x[:, 2]])
    >>> model = make_ridge(interactions=True).fit(x, y)
    >>> model.predict(x).shape
    (40, 2)
    """
    ridge = RidgeCV(alphas=tuple(alphas), alpha_per_target=True)
    if interactions:
        return make_pipeline(StandardScaler(), FunctionTransformer(pairwise_products), StandardScaler(), ridge)
    return make_pipeline(StandardScaler(), ridge)


def standardised_coefficients(model: Pipeline, *, y_train: np.ndarray) -> np.ndarray:
    """Compute the beta weights of a fitted ridge pipeline: effect in target SDs per input SD.

    Parameters
    ----------
    model : sklearn.pipeline.Pipeline
        A fitted pipeline of :func:`make_ridge`.
    y_train : numpy.ndarray
        The targets it was fitted on, shape ``(N, n_targets)``.

    Returns
    -------
    numpy.ndarray
        ``(n_targets, n_terms)``: the ridge coefficients (already per standardised input) divided
        by each target's training standard deviation. ``n_terms`` counts interaction terms too.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(50, 2))
    >>> y = np.column_stack([3 * x[:, 0], -x[:, 1]])
    >>> model = make_ridge(alphas=(1e-3, 1e-2)).fit(x, y)
    >>> beta = standardised_coefficients(model, y_train=y)
    >>> beta.shape
    (2, 2)
    >>> np.round(np.diag(beta), 2).tolist()
    [1.0, -1.0]
    """
    coef = np.atleast_2d(model[-1].coef_)
    return coef / np.asarray(y_train).std(axis=0)[:, None]


def chosen_alphas(model: Pipeline) -> np.ndarray:
    """Return the cross-validated lambda per target of a fitted ridge pipeline.

    Parameters
    ----------
    model : sklearn.pipeline.Pipeline
        A fitted pipeline of :func:`make_ridge`.

    Returns
    -------
    numpy.ndarray
        The chosen penalty per target, shape ``(n_targets,)``.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(30, 2))
    >>> model = make_ridge(alphas=(0.1, 10.0)).fit(x, np.column_stack([x[:, 0], x[:, 1]]))
    >>> chosen_alphas(model).shape
    (2,)
    """
    return np.atleast_1d(model[-1].alpha_)
