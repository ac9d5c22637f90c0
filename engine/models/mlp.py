"""Fully connected regressors for tabular inputs (mean chroma, mid-level descriptors)."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn


class MLPRegressor(nn.Module):
    """Regress with Dense-BatchNorm-ReLU-Dropout blocks and a linear output: ``(B, n_inputs)`` to ``(B, n_outputs)``.

    Used for the 12-bin mean chroma (A2E) and, with one hidden layer of 32 and no BatchNorm, as the
    thesis's shallow Mid2E network (Dense 32, Dropout 0.3, Dense 8).

    Parameters
    ----------
    n_inputs : int
        Number of input features.
    n_outputs : int
        Number of regression targets.
    hidden : Sequence[int], default (64, 32)
        Width of each hidden layer, in order.
    dropout : float, default 0.3
        Dropout probability after each hidden layer.
    batch_norm : bool, default True
        Put a BatchNorm after each hidden Dense layer.

    Examples
    --------
    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> model = MLPRegressor(n_inputs=12, n_outputs=8, hidden=(16,)).eval()
    >>> tuple(model(torch.randn(4, 12)).shape)
    (4, 8)
    """

    def __init__(
        self,
        *,
        n_inputs: int,
        n_outputs: int,
        hidden: Sequence[int] = (64, 32),
        dropout: float = 0.3,
        batch_norm: bool = True,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = n_inputs
        for size in hidden:
            layers.append(nn.Linear(width, size))
            if batch_norm:
                layers.append(nn.BatchNorm1d(size))
            layers += [nn.ReLU(inplace=True), nn.Dropout(dropout)]
            width = size
        layers.append(nn.Linear(width, n_outputs))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Predict the outputs of a batch.

        Parameters
        ----------
        x : torch.Tensor
            Float input, shape ``(B, n_inputs)``.

        Returns
        -------
        torch.Tensor
            Predictions, shape ``(B, n_outputs)``.
        """
        return self.net(x)
