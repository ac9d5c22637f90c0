"""Every ViT attribution method by name, behind one calling convention.

    attributor = make_attributor("attnlrp", model)
    relevance = attributor.attribute(images, target=predicted)   # (B, H, W) float32

==========================  ==========================================================  ======
name                        method                                                      signed
==========================  ==========================================================  ======
``chefer2021``              Chefer, Gur & Wolf (CVPR 2021): LRP relevance x gradient     no
                            of each block's attention, rolled out (the thesis's method)
``attnlrp``                 LRP through the whole ViT (Achtibat et al., ICML 2024),      yes
                            pixel resolution
``grad_rollout``            gradient-weighted attention rollout (Chefer et al., ICCV     no
                            2021)
``rollout``                 attention rollout (Abnar & Zuidema, 2020), class-agnostic    no
``gradient_x_input``        input x gradient                                            yes
``integrated_gradients``    integrated gradients from silence (Sundararajan et al. 2017) yes
``random``                  smooth random map: the chance reference                      no
==========================  ==========================================================  ======
"""

from __future__ import annotations

from typing import Callable

from torch import nn

from engine.explain import lrp, vit_relevance
from engine.explain.vit_relevance import Attributor

ATTRIBUTION_METHODS: dict[str, Callable[[nn.Module], Attributor]] = {
    "chefer2021": lrp.Chefer2021,
    "attnlrp": lrp.AttnLRP,
    "grad_rollout": vit_relevance.GradientRollout,
    "rollout": vit_relevance.AttentionRollout,
    "gradient_x_input": vit_relevance.GradientTimesInput,
    "integrated_gradients": vit_relevance.IntegratedGradients,
    "random": vit_relevance.RandomMap,
}


def make_attributor(method: str, model: nn.Module) -> Attributor:
    """Attributor for ``method`` (a key of ``ATTRIBUTION_METHODS``) around ``model``.

    Raises:
        ValueError: unknown method; the message lists the known ones.
    """
    try:
        factory = ATTRIBUTION_METHODS[method]
    except KeyError:
        raise ValueError(f"unknown attribution method {method!r}; known: {sorted(ATTRIBUTION_METHODS)}") from None
    return factory(model)
