"""Fully connected regressors for tabular inputs (mean chroma, mid-level descriptors)."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn


class MLPRegressor(nn.Module):
    """Dense-BatchNorm-ReLU-Dropout blocks and a linear output: ``(B, n_inputs)`` to ``(B, n_outputs)``.

    Used for the 12-bin mean chroma (A2E) and, with one hidden layer of 32 and no BatchNorm, as the
    thesis's shallow Mid2E network (Dense 32, Dropout 0.3, Dense 8).
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
        return self.net(x)
