"""Layer-wise relevance propagation for the perceptual CNN, through zennit (Anders et al., 2021).

zennit rewrites the backward pass of each layer by a rule chosen per layer type (a *composite*)
and merges every BatchNorm into the convolution before it (a *canonizer*), so that the rules see
plain affine layers. Composites offered (Montavon et al., "Layer-wise relevance propagation: an
overview", 2019; Kohlbrenner et al., 2020):

=============================  =======================================================================
method                         rules
=============================  =======================================================================
``lrp_epsilon_plus_flat``      flat rule on the first layer, z+ on convolutions, epsilon on dense layers
``lrp_epsilon_gamma_box``      z^B (bounded by the input range [0, 1]) on the first layer, gamma = 0.25
                               on convolutions, epsilon on dense layers
``lrp_epsilon``                epsilon everywhere (LRP-0 as epsilon -> 0): relevance is conserved up to
                               the share that the biases absorb, the reference for conservation tests
=============================  =======================================================================

The relevance entering the network is the explained class's log-odds margin ``z_t - mean_{c != t} z_c``
(for two classes exactly ``logit(p_t)``, positive for the predicted class): the output layer receives
``z_t`` on the target and ``-z_c / (C - 1)`` on the others. Pixel relevance is then in logit units and,
for ``lrp_epsilon``, pixel relevance plus the biases' share equals that margin. Maps are signed:
negative relevance is evidence against the class.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch import nn
from zennit.attribution import Gradient
from zennit.canonizers import SequentialMergeBatchNorm
from zennit.composites import Composite, EpsilonGammaBox, EpsilonPlusFlat, LayerMapComposite
from zennit.rules import Epsilon, Norm, Pass
from zennit.types import Activation, AvgPool, Convolution, Linear

from engine.explain.vit_relevance import target_index


def _epsilon_everywhere(epsilon: float) -> Callable[[list], Composite]:
    def build(canonizers: list) -> Composite:
        return LayerMapComposite(
            layer_map=[(Activation, Pass()), (AvgPool, Norm()), (Convolution, Epsilon(epsilon)), (Linear, Epsilon(epsilon))],
            canonizers=canonizers,
        )

    return build


COMPOSITES: dict[str, Callable[[list], Composite]] = {
    "lrp_epsilon_plus_flat": lambda canonizers: EpsilonPlusFlat(canonizers=canonizers),
    "lrp_epsilon_gamma_box": lambda canonizers: EpsilonGammaBox(low=0.0, high=1.0, gamma=0.25, canonizers=canonizers),
    "lrp_epsilon": _epsilon_everywhere(1e-9),
}


class ZennitLRP:
    """LRP of a CNN classifier under one of :data:`COMPOSITES`, with the attributor calling convention.

    Parameters
    ----------
    model : torch.nn.Module
        CNN classifier mapping ``(B, C, H, W)`` inputs to ``(B, n_classes)`` logits (e.g.
        :class:`engine.models.cnn.CNNClassifier`); zennit's hooks and canonizer are attached only
        for the duration of :meth:`attribute`.
    composite : str
        A key of :data:`COMPOSITES`; it is also the attributor's ``name``.

    Raises
    ------
    ValueError
        ``composite`` is not a key of :data:`COMPOSITES`.

    Examples
    --------
    >>> import torch
    >>> from engine.models.cnn import CNNClassifier
    >>> _ = torch.manual_seed(0)
    >>> model = CNNClassifier(input_height=32, widths=(2,) * 9).eval()
    >>> attributor = ZennitLRP(model, composite="lrp_epsilon")
    >>> relevance = attributor.attribute(torch.rand(2, 1, 32, 32), target=1)
    >>> attributor.name, relevance.shape, relevance.dtype.name
    ('lrp_epsilon', (2, 32, 32), 'float32')
    """

    signed = True

    def __init__(self, model: nn.Module, *, composite: str = "lrp_epsilon_plus_flat") -> None:
        if composite not in COMPOSITES:
            raise ValueError(f"unknown LRP composite {composite!r}; known: {sorted(COMPOSITES)}")
        self.model, self.name = model, composite

    def attribute(self, inputs: torch.Tensor, *, target: torch.Tensor | int) -> np.ndarray:
        """Compute the signed relevance of every input pixel for ``target``, summed over channels.

        Parameters
        ----------
        inputs : torch.Tensor
            ``(B, C, H, W)`` model inputs.
        target : int or torch.Tensor
            Explained class index for every image, or ``(B,)`` indices.

        Returns
        -------
        np.ndarray
            ``(B, H, W)`` relevance in logit units (float32; float64 for float64 inputs); the
            relevance entering the network is the log-odds margin of ``target`` (module docstring).
        """
        self.model.eval()
        index = target_index(target, inputs.shape[0], inputs.device)
        x = inputs.detach().clone().requires_grad_(True)

        def initial_relevance(output: torch.Tensor) -> torch.Tensor:
            one_hot = torch.zeros_like(output).scatter_(1, index[:, None], 1.0)
            others = max(output.shape[1] - 1, 1)
            return output * (one_hot - (1.0 - one_hot) / others)

        composite = COMPOSITES[self.name]([SequentialMergeBatchNorm()])
        with torch.enable_grad(), Gradient(model=self.model, composite=composite) as attributor:
            _, relevance = attributor(x, initial_relevance)
        relevance = relevance.sum(dim=1).detach().cpu()
        return relevance.numpy() if relevance.dtype == torch.float64 else relevance.float().numpy()
