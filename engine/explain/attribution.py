"""Every attribution method of the perceptual route by name, behind one calling convention.

    attributor = make_attributor("attnlrp", model)
    relevance = attributor.attribute(images, target=predicted)   # (B, H, W) float32
    make_attributor("integrated_gradients", model, steps=32)     # a method's options by keyword

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
``lrp_epsilon_plus_flat``   LRP for CNNs through zennit: flat / z+ / epsilon rules        yes
``lrp_epsilon_gamma_box``   LRP for CNNs through zennit: z^B / gamma / epsilon rules      yes
``lrp_epsilon``             LRP-epsilon everywhere (conservation reference)              yes
==========================  ==========================================================  ======

Each method names the backbones it fits (:data:`BACKBONES_OF`): the attention methods need a ViT,
the zennit composites a CNN; gradients and the random map fit any model. A profile that asks for a
method its backbone cannot take is refused before any training (:func:`check_methods`), and so
are options a method does not take (:func:`check_method_options`; a profile sets them with
``method_options = { integrated_gradients = { steps = 32 } }``).
"""

from __future__ import annotations

import inspect
from functools import partial
from typing import Any, Callable, Mapping

from torch import nn

from engine.explain import cnn_lrp, vit_lrp, vit_relevance
from engine.explain.vit_relevance import Attributor
from engine.models.perceptual import BACKBONES

ATTRIBUTION_METHODS: dict[str, Callable[[nn.Module], Attributor]] = {
    "chefer2021": vit_lrp.Chefer2021,
    "attnlrp": vit_lrp.AttnLRP,
    "grad_rollout": vit_relevance.GradientRollout,
    "rollout": vit_relevance.AttentionRollout,
    "gradient_x_input": vit_relevance.GradientTimesInput,
    "integrated_gradients": vit_relevance.IntegratedGradients,
    "random": vit_relevance.RandomMap,
    **{name: partial(cnn_lrp.ZennitLRP, composite=name) for name in cnn_lrp.COMPOSITES},
}

_ANY = BACKBONES  # gradients and the random map fit every backbone
BACKBONES_OF: dict[str, tuple[str, ...]] = {
    "chefer2021": ("vit",),
    "attnlrp": ("vit",),
    "grad_rollout": ("vit",),
    "rollout": ("vit",),
    "gradient_x_input": _ANY,
    "integrated_gradients": _ANY,
    "random": _ANY,
    **{name: ("cnn",) for name in cnn_lrp.COMPOSITES},
}


def methods_for(backbone: str) -> list[str]:
    """Return the attribution methods that fit ``backbone``, in registry order.

    Parameters
    ----------
    backbone : {"vit", "cnn"}
        Backbone of the perceptual model.

    Returns
    -------
    list of str
        Keys of :data:`ATTRIBUTION_METHODS` whose :data:`BACKBONES_OF` entry names ``backbone``
        (empty for an unknown backbone).

    Examples
    --------
    >>> methods_for("cnn")[:3]
    ['gradient_x_input', 'integrated_gradients', 'random']
    >>> "attnlrp" in methods_for("vit"), "attnlrp" in methods_for("cnn")
    (True, False)
    """
    return [name for name, backbones in BACKBONES_OF.items() if backbone in backbones]


def check_methods(methods: list[str], *, backbone: str, where: str = "methods") -> None:
    """Refuse methods that are unknown or do not fit ``backbone``, in one line naming ``where`` and the choices.

    Parameters
    ----------
    methods : list of str
        Method names, e.g. a profile's ``methods`` list.
    backbone : {"vit", "cnn"}
        Backbone the methods must fit.
    where : str
        Where the names come from, the prefix of the error message.

    Raises
    ------
    ValueError
        For the first offending method: unknown, or not fitting ``backbone`` (the message lists the
        choices).

    Examples
    --------
    >>> check_methods(["attnlrp", "random"], backbone="vit")
    >>> check_methods(["attnlrp"], backbone="cnn")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: methods: method 'attnlrp' does not fit backbone 'cnn'; choices for cnn: [...]
    """
    for method in methods:
        if method not in BACKBONES_OF:
            raise ValueError(f"{where}: unknown attribution method {method!r}; known: {sorted(BACKBONES_OF)}")
        if backbone not in BACKBONES_OF[method]:
            raise ValueError(
                f"{where}: method {method!r} does not fit backbone {backbone!r}; choices for {backbone}: {methods_for(backbone)}"
            )


def options_of(method: str) -> list[str]:
    """Return the keyword options ``method`` takes.

    Parameters
    ----------
    method : str
        A key of :data:`ATTRIBUTION_METHODS`.

    Returns
    -------
    list of str
        Sorted names of the factory's keyword-only parameters, without those the registry fixes
        (e.g. ``composite`` of the zennit methods).

    Raises
    ------
    KeyError
        ``method`` is not a key of :data:`ATTRIBUTION_METHODS`.

    Examples
    --------
    >>> options_of("integrated_gradients")
    ['batch_size', 'steps']
    >>> options_of("lrp_epsilon")
    []
    """
    factory = ATTRIBUTION_METHODS[method]
    fixed = set(factory.keywords) if isinstance(factory, partial) else set()
    target = factory.func if isinstance(factory, partial) else factory
    parameters = inspect.signature(target).parameters.values()
    return sorted(p.name for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name not in fixed)


def check_method_options(options: Mapping[str, Mapping[str, Any]], *, where: str = "method_options") -> None:
    """Refuse options for an unknown method, or an option a method does not take, in one line.

    Parameters
    ----------
    options : mapping of str to mapping of str to object
        Method name to its keyword options, e.g. ``{"integrated_gradients": {"steps": 32}}``.
    where : str
        Where the options come from, the prefix of the error message.

    Raises
    ------
    ValueError
        For the first offending method or option, naming ``where`` and the choices.

    Examples
    --------
    >>> check_method_options({"integrated_gradients": {"steps": 32}})
    >>> check_method_options({"random": {"steps": 32}})
    Traceback (most recent call last):
    ...
    ValueError: method_options: random takes the options ['grid', 'seed'], not ['steps']
    """
    for method, values in options.items():
        if method not in ATTRIBUTION_METHODS:
            raise ValueError(f"{where}: unknown attribution method {method!r}; known: {sorted(ATTRIBUTION_METHODS)}")
        unknown = sorted(set(values) - set(options_of(method)))
        if unknown:
            raise ValueError(f"{where}: {method} takes the options {options_of(method)}, not {unknown}")


def make_attributor(method: str, model: nn.Module, **options: Any) -> Attributor:
    """Build the attributor for ``method`` around ``model``.

    Parameters
    ----------
    method : str
        A key of :data:`ATTRIBUTION_METHODS`; it must fit the model's backbone (:data:`BACKBONES_OF`).
    model : torch.nn.Module
        Classifier mapping ``(B, C, H, W)`` inputs to ``(B, n_classes)`` logits.
    **options
        The method's keyword options (:func:`options_of`), e.g. ``steps=32`` for integrated
        gradients.

    Returns
    -------
    Attributor
        Its ``attribute(inputs, target=...)`` maps ``(B, C, H, W)`` inputs to ``(B, H, W)`` float32
        relevance.

    Raises
    ------
    ValueError
        Unknown method, or an option it does not take; the message lists the choices.

    Examples
    --------
    >>> import torch
    >>> from engine.models.cnn import CNNClassifier
    >>> _ = torch.manual_seed(0)
    >>> model = CNNClassifier(input_height=32, widths=(2,) * 9).eval()
    >>> attributor = make_attributor("integrated_gradients", model, steps=4)
    >>> relevance = attributor.attribute(torch.rand(2, 1, 32, 32), target=0)
    >>> relevance.shape, relevance.dtype.name, attributor.signed
    ((2, 32, 32), 'float32', True)
    """
    try:
        factory = ATTRIBUTION_METHODS[method]
    except KeyError:
        raise ValueError(f"unknown attribution method {method!r}; known: {sorted(ATTRIBUTION_METHODS)}") from None
    check_method_options({method: options}, where=f"make_attributor({method!r})")
    return factory(model, **options)
