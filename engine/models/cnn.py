"""The VGG-style CNN of Chowdhury et al. (2019) and the heads built on it (A2E, A2Mid, late fusion).

Backbone, with ``widths = (c1, ..., c9)`` (thesis: 64, 64, 128, 128, 256, 256, 384, 512, 256)::

    conv5x5/2 (c1) - conv3x3 (c2) - maxpool2 - dropout
    conv3x3 (c3)   - conv3x3 (c4) - maxpool2 - dropout
    conv3x3 (c5)   - conv3x3 (c6) - conv3x3 (c7) - conv3x3 (c8)
    conv1x1 (c9)   - adaptive average pool - flatten      -> embedding of size c9

Every convolution is followed by BatchNorm and ReLU. Inputs are ``(batch, 1, height, width)``:
a spectrogram ``(149, T)`` or a chromagram ``(12, T)``; pooling floors odd sizes, so both fit.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

THESIS_WIDTHS: tuple[int, ...] = (64, 64, 128, 128, 256, 256, 384, 512, 256)


def _conv(in_channels: int, out_channels: int, kernel: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel, stride=stride, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(),  # not in place: LRP hooks (zennit) must see the activation's input intact
    )


def _pool(height: int, dropout: float) -> nn.Sequential:
    # A chromagram is only 12 rows high: never pool a dimension that is already 1.
    kernel = (2 if height >= 2 else 1, 2)
    return nn.Sequential(nn.MaxPool2d(kernel), nn.Dropout(dropout))


class ChowdhuryBackbone(nn.Module):
    """Convolutional feature extractor; ``forward`` maps ``(B, 1, H, W)`` to ``(B, widths[-1])``.

    Args:
        input_height: H of the input (needed to decide whether pooling may halve it).
        widths: the 9 channel counts, see the module docstring.
        dropout: dropout after each pooling stage (thesis: 0.3).
    """

    def __init__(self, *, input_height: int, widths: Sequence[int] = THESIS_WIDTHS, dropout: float = 0.3) -> None:
        super().__init__()
        if len(widths) != 9:
            raise ValueError(f"widths needs 9 channel counts, got {len(widths)}")
        c = list(widths)
        height = (input_height + 1) // 2  # after the stride-2 first convolution
        stage1 = [_conv(1, c[0], 5, stride=2), _conv(c[0], c[1], 3), _pool(height, dropout)]
        height = height // 2 if height >= 2 else height
        stage2 = [_conv(c[1], c[2], 3), _conv(c[2], c[3], 3), _pool(height, dropout)]
        stage3 = [_conv(c[3], c[4], 3), _conv(c[4], c[5], 3), _conv(c[5], c[6], 3), _conv(c[6], c[7], 3)]
        self.features = nn.Sequential(*stage1, *stage2, *stage3, _conv(c[7], c[8], 1), nn.AdaptiveAvgPool2d(1))
        self.embedding_size = c[8]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x).flatten(1)


class CNNRegressor(nn.Module):
    """One backbone and a linear head: ``(B, 1, H, W)`` to ``(B, n_outputs)`` (A2E or A2Mid)."""

    def __init__(
        self, *, input_height: int, n_outputs: int, widths: Sequence[int] = THESIS_WIDTHS, dropout: float = 0.3
    ) -> None:
        super().__init__()
        self.backbone = ChowdhuryBackbone(input_height=input_height, widths=widths, dropout=dropout)
        self.head = nn.Linear(self.backbone.embedding_size, n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))


class CNNClassifier(CNNRegressor):
    """The same network giving class logits: ``(B, 1, H, W)`` to ``(B, num_classes)``.

    The perceptual route's CNN (on the ``(224, 224)`` spectrogram image): it learns from a few
    hundred clips where a ViT from scratch does not, and LRP explains it through zennit.
    """

    def __init__(
        self, *, input_height: int = 224, num_classes: int = 2, widths: Sequence[int] = THESIS_WIDTHS, dropout: float = 0.3
    ) -> None:
        super().__init__(input_height=input_height, n_outputs=num_classes, widths=widths, dropout=dropout)


class LateFusionRegressor(nn.Module):
    """Two independent backbones whose embeddings are concatenated before one shared head.

    ``forward(a, b)`` takes ``a`` ``(B, 1, H_a, W_a)`` (spectrogram) and ``b`` ``(B, 1, H_b, W_b)``
    (chromagram) and returns ``(B, n_outputs)``. With thesis widths the joint embedding is 512-d.
    """

    def __init__(
        self,
        *,
        input_heights: tuple[int, int],
        n_outputs: int,
        widths: Sequence[int] = THESIS_WIDTHS,
        dropout: float = 0.3,
    ) -> None:
        super().__init__()
        self.branches = nn.ModuleList(
            ChowdhuryBackbone(input_height=height, widths=widths, dropout=dropout) for height in input_heights
        )
        joint = sum(branch.embedding_size for branch in self.branches)
        self.head = nn.Linear(joint, n_outputs)

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        if len(inputs) != len(self.branches):
            raise ValueError(f"expected {len(self.branches)} inputs, got {len(inputs)}")
        return self.head(torch.cat([branch(x) for branch, x in zip(self.branches, inputs)], dim=1))
