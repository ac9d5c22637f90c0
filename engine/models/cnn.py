"""The VGG-style CNN of Chowdhury et al. (2019) and the heads built on it (A2E, A2Mid, late fusion).

Backbone, with ``widths = (c1, ..., c9)`` (thesis: 64, 64, 128, 128, 256, 256, 384, 512, 256)::

    conv5x5/2 (c1) - conv3x3 (c2) - maxpool2 - dropout
    conv3x3 (c3)   - conv3x3 (c4) - maxpool2 - dropout
    conv3x3 (c5)   - conv3x3 (c6) - conv3x3 (c7) - conv3x3 (c8)
    conv1x1 (c9)   - adaptive average pool - flatten      -> embedding of size c9

Every convolution is followed by BatchNorm and ReLU. Inputs are ``(batch, 1, height, width)``:
a spectrogram ``(149, T)`` or a chromagram ``(12, T)``; pooling floors odd sizes, so both fit.

On a chromagram that network halves the 12 pitch classes three times in its first two stages, so a
minor third and a major third above a root fall into the same cell, and the top and bottom rows (B
and C, a semitone apart) never meet. :class:`CircularChromaBackbone` (``backbone =
"circular_chroma"``) keeps the 12 rows to the end and wraps the pitch axis::

    conv5x5/(1,2) (c1) - conv3x3 (c2) - maxpool(1,2) - dropout
    conv3x3 (c3)       - conv3x3 (c4) - maxpool(1,4) - dropout
    conv3x3 (c5) - conv3x3 (c6) - conv3x3 (c7) - conv3x3 (c8) - conv1x1 (c9) - average pool

with circular padding in pitch and zero padding in time. The second pooling takes 4 frames (the
thesis network 2), as harmony changes more slowly than the 23 ms frames; that halves the cost of
the last stage and measured no worse on Soundtracks (docs/recipes.md).
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn
from torch.nn import functional

THESIS_WIDTHS: tuple[int, ...] = (64, 64, 128, 128, 256, 256, 384, 512, 256)


def _conv(in_channels: int, out_channels: int, kernel: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel, stride=stride, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(),  # not in place: LRP hooks (zennit) must see the activation's input intact
    )


def _nine_widths(widths: Sequence[int]) -> list[int]:
    if len(widths) != 9:
        raise ValueError(f"widths needs 9 channel counts, got {len(widths)}")
    return list(widths)


def _pool(height: int, dropout: float) -> nn.Sequential:
    # A chromagram is only 12 rows high: never pool a dimension that is already 1.
    kernel = (2 if height >= 2 else 1, 2)
    return nn.Sequential(nn.MaxPool2d(kernel), nn.Dropout(dropout))


class ChowdhuryBackbone(nn.Module):
    """Extract a convolutional embedding: ``forward`` maps ``(B, 1, H, W)`` to ``(B, widths[-1])``.

    Parameters
    ----------
    input_height : int
        H of the input, in rows (needed to decide whether pooling may halve it).
    widths : Sequence[int], default THESIS_WIDTHS
        The 9 channel counts, see the module docstring.
    dropout : float, default 0.3
        Dropout probability after each pooling stage (thesis: 0.3).

    Attributes
    ----------
    embedding_size : int
        Size of the embedding, ``widths[-1]``.

    Raises
    ------
    ValueError
        ``widths`` does not hold exactly 9 channel counts.

    Examples
    --------
    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> net = ChowdhuryBackbone(input_height=12, widths=(4, 4, 4, 4, 4, 4, 4, 4, 6)).eval()
    >>> net.embedding_size
    6
    >>> tuple(net(torch.randn(2, 1, 12, 16)).shape)
    (2, 6)
    """

    def __init__(self, *, input_height: int, widths: Sequence[int] = THESIS_WIDTHS, dropout: float = 0.3) -> None:
        super().__init__()
        c = _nine_widths(widths)
        height = (input_height + 1) // 2  # after the stride-2 first convolution
        stage1 = [_conv(1, c[0], 5, stride=2), _conv(c[0], c[1], 3), _pool(height, dropout)]
        height = height // 2 if height >= 2 else height
        stage2 = [_conv(c[1], c[2], 3), _conv(c[2], c[3], 3), _pool(height, dropout)]
        stage3 = [_conv(c[3], c[4], 3), _conv(c[4], c[5], 3), _conv(c[5], c[6], 3), _conv(c[6], c[7], 3)]
        self.features = nn.Sequential(*stage1, *stage2, *stage3, _conv(c[7], c[8], 1), nn.AdaptiveAvgPool2d(1))
        self.embedding_size = c[8]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embed a batch of images.

        Parameters
        ----------
        x : torch.Tensor
            Float input of shape ``(B, 1, H, W)``, ``H`` the ``input_height`` given at construction.

        Returns
        -------
        torch.Tensor
            Embeddings, shape ``(B, embedding_size)``.
        """
        return self.features(x).flatten(1)


class _PitchCircularConv(nn.Module):
    """A k x k convolution whose pitch axis (rows) wraps around and whose time axis is zero-padded."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: tuple[int, int] = (1, 1)) -> None:
        super().__init__()
        self.pad = kernel // 2
        self.conv = nn.Conv2d(in_channels, out_channels, kernel, stride=stride, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.pad
        x = functional.pad(x, (0, 0, p, p), mode="circular")  # pitch: the row above B is C
        return self.conv(functional.pad(x, (p, p, 0, 0)))  # time: zeros, as in the thesis network


class CircularChromaBackbone(nn.Module):
    """Embed a chromagram without pooling its pitch classes: ``(B, 1, 12, T)`` to ``(B, widths[-1])``.

    See the module docstring for the layers. Keeping 12 rows (instead of 1) in the last stage makes
    it several times costlier than the thesis network on a chromagram, still cheaper than the
    spectrogram branch.

    Parameters
    ----------
    widths : Sequence[int], default THESIS_WIDTHS
        The 9 channel counts, as for :class:`ChowdhuryBackbone`.
    dropout : float, default 0.3
        Dropout probability after each pooling stage.

    Attributes
    ----------
    embedding_size : int
        Size of the embedding, ``widths[-1]``.

    Raises
    ------
    ValueError
        ``widths`` does not hold exactly 9 channel counts.

    Examples
    --------
    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> net = CircularChromaBackbone(widths=(4,) * 8 + (6,)).eval()
    >>> tuple(net(torch.randn(2, 1, 12, 20)).shape)
    (2, 6)
    """

    def __init__(self, *, widths: Sequence[int] = THESIS_WIDTHS, dropout: float = 0.3) -> None:
        super().__init__()
        c = _nine_widths(widths)

        def conv(i: int, o: int, kernel: int, stride: tuple[int, int] = (1, 1)) -> nn.Sequential:
            return nn.Sequential(_PitchCircularConv(i, o, kernel, stride), nn.BatchNorm2d(o), nn.ReLU())

        def pool(frames: int) -> nn.Sequential:
            return nn.Sequential(nn.MaxPool2d((1, frames)), nn.Dropout(dropout))  # time only

        self.features = nn.Sequential(
            conv(1, c[0], 5, (1, 2)), conv(c[0], c[1], 3), pool(2),
            conv(c[1], c[2], 3), conv(c[2], c[3], 3), pool(4),
            conv(c[3], c[4], 3), conv(c[4], c[5], 3), conv(c[5], c[6], 3), conv(c[6], c[7], 3),
            _conv(c[7], c[8], 1),  # a 1 x 1 convolution needs no padding in either axis
            nn.AdaptiveAvgPool2d(1),
        )
        self.embedding_size = c[8]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embed a batch of chromagrams ``(B, 1, 12, T)``; return ``(B, embedding_size)``."""
        return self.features(x).flatten(1)


BACKBONES = ("chowdhury", "circular_chroma")


def make_backbone(
    kind: str, *, input_height: int, widths: Sequence[int] = THESIS_WIDTHS, dropout: float = 0.3
) -> nn.Module:
    """Build a backbone of :data:`BACKBONES` for inputs ``input_height`` rows high.

    Raises
    ------
    ValueError
        ``kind`` is unknown, or ``circular_chroma`` is asked for an input that is not 12 rows high.

    Examples
    --------
    >>> type(make_backbone("circular_chroma", input_height=12, widths=(4,) * 9)).__name__
    'CircularChromaBackbone'
    >>> make_backbone("circular_chroma", input_height=149)
    Traceback (most recent call last):
    ...
    ValueError: the circular_chroma backbone takes 12 pitch-class rows, got 149
    """
    if kind == "chowdhury":
        return ChowdhuryBackbone(input_height=input_height, widths=widths, dropout=dropout)
    if kind == "circular_chroma":
        if input_height != 12:
            raise ValueError(f"the circular_chroma backbone takes 12 pitch-class rows, got {input_height}")
        return CircularChromaBackbone(widths=widths, dropout=dropout)
    raise ValueError(f"unknown backbone {kind!r}; known: {list(BACKBONES)}")


class CNNRegressor(nn.Module):
    """Regress from an image with one backbone and a linear head: ``(B, 1, H, W)`` to ``(B, n_outputs)``.

    The network of the A2E and A2Mid heads.

    Parameters
    ----------
    input_height : int
        H of the input, in rows (149 for a spectrogram, 12 for a chromagram).
    n_outputs : int
        Number of regression targets.
    widths : Sequence[int], default THESIS_WIDTHS
        The 9 channel counts of the backbone, see the module docstring.
    dropout : float, default 0.3
        Dropout probability after each pooling stage.
    backbone : str, default "chowdhury"
        One of :data:`BACKBONES`.

    Examples
    --------
    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> model = CNNRegressor(input_height=12, n_outputs=8, widths=(4,) * 9).eval()
    >>> tuple(model(torch.randn(3, 1, 12, 20)).shape)
    (3, 8)
    """

    def __init__(
        self, *, input_height: int, n_outputs: int, widths: Sequence[int] = THESIS_WIDTHS, dropout: float = 0.3,
        backbone: str = "chowdhury",
    ) -> None:
        super().__init__()
        self.backbone = make_backbone(backbone, input_height=input_height, widths=widths, dropout=dropout)
        self.head = nn.Linear(self.backbone.embedding_size, n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Predict the outputs of a batch of images.

        Parameters
        ----------
        x : torch.Tensor
            Float input of shape ``(B, 1, H, W)``.

        Returns
        -------
        torch.Tensor
            Predictions (or logits, for :class:`CNNClassifier`), shape ``(B, n_outputs)``.
        """
        return self.head(self.backbone(x))


class CNNClassifier(CNNRegressor):
    """Classify images with the same network: ``(B, 1, H, W)`` to class logits ``(B, num_classes)``.

    The perceptual route's CNN (on the ``(224, 224)`` spectrogram image): it learns from a few
    hundred clips where a ViT from scratch does not, and LRP explains it through zennit.

    Parameters
    ----------
    input_height : int, default 224
        H of the input, in rows.
    num_classes : int, default 2
        Number of classes (logits).
    widths : Sequence[int], default THESIS_WIDTHS
        The 9 channel counts of the backbone, see the module docstring.
    dropout : float, default 0.3
        Dropout probability after each pooling stage.

    Examples
    --------
    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> model = CNNClassifier(input_height=32, widths=(4,) * 9).eval()
    >>> tuple(model(torch.randn(2, 1, 32, 32)).shape)
    (2, 2)
    """

    def __init__(
        self, *, input_height: int = 224, num_classes: int = 2, widths: Sequence[int] = THESIS_WIDTHS, dropout: float = 0.3
    ) -> None:
        super().__init__(input_height=input_height, n_outputs=num_classes, widths=widths, dropout=dropout)


class LateFusionRegressor(nn.Module):
    """Fuse two independent backbones whose embeddings are concatenated before one shared head.

    ``forward(a, b)`` takes ``a`` ``(B, 1, H_a, W_a)`` (spectrogram) and ``b`` ``(B, 1, H_b, W_b)``
    (chromagram) and returns ``(B, n_outputs)``. With thesis widths the joint embedding is 512-d.

    Parameters
    ----------
    input_heights : tuple of int
        Input height (rows) of each branch, e.g. ``(149, 12)``; one backbone per entry.
    n_outputs : int
        Number of regression targets.
    widths : Sequence[int], default THESIS_WIDTHS
        The 9 channel counts of each backbone, see the module docstring.
    dropout : float, default 0.3
        Dropout probability after each pooling stage.
    backbones : tuple of str, optional
        One of :data:`BACKBONES` per branch (default: ``"chowdhury"`` for each).

    Examples
    --------
    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> model = LateFusionRegressor(input_heights=(16, 12), n_outputs=8, widths=(4,) * 9).eval()
    >>> spectrogram, chromagram = torch.randn(2, 1, 16, 20), torch.randn(2, 1, 12, 20)
    >>> tuple(model(spectrogram, chromagram).shape)
    (2, 8)
    """

    def __init__(
        self,
        *,
        input_heights: tuple[int, int],
        n_outputs: int,
        widths: Sequence[int] = THESIS_WIDTHS,
        dropout: float = 0.3,
        backbones: tuple[str, ...] | None = None,
    ) -> None:
        super().__init__()
        kinds = backbones or ("chowdhury",) * len(input_heights)
        if len(kinds) != len(input_heights):
            raise ValueError(f"backbones names {len(kinds)} branches for {len(input_heights)} input heights")
        self.branches = nn.ModuleList(
            make_backbone(kind, input_height=height, widths=widths, dropout=dropout)
            for kind, height in zip(kinds, input_heights)
        )
        joint = sum(branch.embedding_size for branch in self.branches)
        self.head = nn.Linear(joint, n_outputs)

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        """Predict the outputs of a batch from one input per branch.

        Parameters
        ----------
        *inputs : torch.Tensor
            One float tensor ``(B, 1, H_i, W_i)`` per branch, in the order of ``input_heights``.

        Returns
        -------
        torch.Tensor
            Predictions, shape ``(B, n_outputs)``.

        Raises
        ------
        ValueError
            The number of inputs differs from the number of branches.
        """
        if len(inputs) != len(self.branches):
            raise ValueError(f"expected {len(self.branches)} inputs, got {len(inputs)}")
        return self.head(torch.cat([branch(x) for branch, x in zip(self.branches, inputs)], dim=1))


def fuse_trained_branches(fusion: LateFusionRegressor, models: Sequence[CNNRegressor]) -> LateFusionRegressor:
    """Make ``fusion`` the average of separately trained single-input models (late fusion, branches first).

    Each model's backbone is copied into the matching branch, and the head is set to the mean of the
    models' heads: head weights ``[W_1 / n, ..., W_n / n]`` over the joint embedding, bias the mean of
    the biases. The result is still one :class:`LateFusionRegressor` (attribution sees the same
    architecture), and in eval mode ``fusion(a, b)`` equals ``(model_a(a) + model_b(b)) / 2`` exactly,
    so a branch that learned cannot be undone by the fusion's training collapsing.

    Parameters
    ----------
    fusion : LateFusionRegressor
        Built with the same heights, widths and backbones as ``models``, in the same order; modified
        in place and returned.
    models : Sequence[CNNRegressor]
        One trained model per branch, each ``(B, 1, H_i, W) -> (B, n_outputs)``.

    Raises
    ------
    ValueError
        The number of models differs from the number of branches, or a model does not fit its branch.

    Examples
    --------
    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> a = CNNRegressor(input_height=16, n_outputs=3, widths=(4,) * 9).eval()
    >>> b = CNNRegressor(input_height=12, n_outputs=3, widths=(4,) * 9).eval()
    >>> fused = fuse_trained_branches(LateFusionRegressor(input_heights=(16, 12), n_outputs=3, widths=(4,) * 9), [a, b]).eval()
    >>> x, y = torch.randn(2, 1, 16, 20), torch.randn(2, 1, 12, 20)
    >>> bool(torch.allclose(fused(x, y), (a(x) + b(y)) / 2, atol=1e-6))
    True
    """
    if len(models) != len(fusion.branches):
        raise ValueError(f"{len(models)} models for {len(fusion.branches)} branches")
    try:
        for branch, model in zip(fusion.branches, models):
            branch.load_state_dict(model.backbone.state_dict())
    except RuntimeError as error:
        raise ValueError(f"a trained model does not fit its branch: {error}") from None
    with torch.no_grad():
        fusion.head.weight.copy_(torch.cat([model.head.weight for model in models], dim=1) / len(models))
        fusion.head.bias.copy_(torch.stack([model.head.bias for model in models]).mean(dim=0))
    return fusion
