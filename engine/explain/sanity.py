"""Model-randomisation sanity check (Adebayo et al., 2018) for relevance maps.

A map that survives the destruction of the model it explains describes the input, not the model.

The trained model's parameters are re-initialised in cascade from the top: ``head`` (classifier only),
``top_half`` (classifier, final norm and the upper half of the ViT's blocks or of the CNN's layers)
and ``all``. For each stage the
map of the randomised copy is compared with the map of the trained model by Spearman rank
correlation of their absolute values; a trustworthy method gives a correlation near 0 once the
model is randomised, one near 1 fails the check.
"""

from __future__ import annotations

import copy
from typing import Callable, Sequence

import numpy as np
import torch
from scipy.stats import spearmanr
from torch import nn

SCOPES: tuple[str, ...] = ("head", "top_half", "all")


def randomised_copy(model: nn.Module, *, scope: str, seed: int = 0) -> nn.Module:
    """Return a deep copy of a timm ViT or a perceptual CNN with the parameters in ``scope`` re-initialised.

    Linear and convolution weights get timm's ViT initialisation (truncated normal, SD 0.02) and zero
    biases; LayerNorms and BatchNorms get weight 1 and bias 0; class token and position embeddings
    SD 0.02 (scope ``"all"`` only). The original model is not touched.

    Parameters
    ----------
    model : torch.nn.Module
        A timm ``VisionTransformer``, or a CNN with ``backbone.features`` and ``head`` (e.g.
        :class:`engine.models.cnn.CNNClassifier`).
    scope : {"head", "top_half", "all"}
        What is re-initialised, cascading from the top (see the module docstring).
    seed : int
        Seed of the new parameters.

    Returns
    -------
    torch.nn.Module
        The randomised copy, in evaluation mode.

    Raises
    ------
    ValueError
        Unknown scope.
    TypeError
        The model is neither a timm ViT nor a CNN with ``backbone.features`` and ``head``.

    Examples
    --------
    >>> import torch
    >>> from engine.models.cnn import CNNClassifier
    >>> _ = torch.manual_seed(0)
    >>> model = CNNClassifier(input_height=32, widths=(2,) * 9)
    >>> copy = randomised_copy(model, scope="head")
    >>> torch.equal(copy.head.weight, model.head.weight), torch.equal(copy.backbone.features[0][0].weight,
    ...                                                               model.backbone.features[0][0].weight)
    (False, True)
    """
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {SCOPES}, got {scope!r}")
    clone = copy.deepcopy(model)
    blocks = list(getattr(clone, "blocks", []))
    if blocks:
        modules: list[nn.Module] = [clone.head, getattr(clone, "fc_norm", nn.Identity())]
        lower = [clone.patch_embed, *blocks[: len(blocks) // 2]]
        upper = [clone.norm, *blocks[len(blocks) // 2 :]]
    elif hasattr(clone, "backbone") and hasattr(clone, "head"):
        layers = list(clone.backbone.features.children())
        modules, lower, upper = [clone.head], layers[: len(layers) // 2], layers[len(layers) // 2 :]
    else:
        raise TypeError(f"{type(model).__name__}: expected a timm VisionTransformer or a CNN with backbone and head")
    if scope in ("top_half", "all"):
        modules += upper
    if scope == "all":
        modules += lower
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in modules:
            for sub in module.modules():
                _reinitialise(sub, generator)
        if scope == "all":
            for name in ("cls_token", "pos_embed"):
                tensor = getattr(clone, name, None)
                if tensor is not None:
                    tensor.copy_(_trunc_normal(tensor.shape, generator))
    return clone.eval()


def _trunc_normal(shape: torch.Size, generator: torch.Generator) -> torch.Tensor:
    return (torch.randn(shape, generator=generator) * 0.02).clamp(-0.04, 0.04)


def _reinitialise(module: nn.Module, generator: torch.Generator) -> None:
    if isinstance(module, (nn.Linear, nn.Conv2d)):
        module.weight.copy_(_trunc_normal(module.weight.shape, generator))
        if module.bias is not None:
            module.bias.zero_()
    elif isinstance(module, (nn.LayerNorm, nn.BatchNorm2d)) and getattr(module, "weight", None) is not None:
        module.weight.fill_(1.0)
        module.bias.zero_()


def rank_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Compute the Spearman correlation of ``|a|`` and ``|b|``.

    Parameters
    ----------
    a, b : np.ndarray
        Maps of any equal shapes (e.g. ``(H, W)``), flattened.

    Returns
    -------
    float
        Rank correlation in [-1, 1]; 0 when either map is constant.

    Examples
    --------
    >>> import numpy as np
    >>> rank_similarity(np.array([1.0, -2.0, 3.0]), np.array([0.1, 0.2, 0.3]))
    1.0
    >>> rank_similarity(np.ones(3), np.arange(3.0))
    0.0
    """
    x, y = np.abs(a).reshape(-1), np.abs(b).reshape(-1)
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return 0.0
    return float(spearmanr(x, y).statistic)


def randomisation_check(
    attribute: Callable[[nn.Module, torch.Tensor, int], np.ndarray],
    model: nn.Module,
    images: torch.Tensor,
    targets: Sequence[int],
    *,
    scopes: Sequence[str] = SCOPES,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Compute the rank similarity between maps of ``model`` and of its randomised copies.

    Parameters
    ----------
    attribute : callable
        ``(model, image (1, C, H, W), target) -> (H, W)`` map, e.g.
        ``lambda m, x, t: make_attributor("attnlrp", m).attribute(x, target=t)[0]``.
    model : torch.nn.Module
        The trained model, a timm ViT or a perceptual CNN (:func:`randomised_copy`); not modified.
    images : torch.Tensor
        ``(N, C, H, W)`` model inputs.
    targets : sequence of int
        ``(N,)`` explained class per image, kept fixed for every copy.
    scopes : sequence of str
        Randomisation stages, from :data:`SCOPES`.
    seed : int
        Seed of the re-initialisation.

    Returns
    -------
    dict of str to np.ndarray
        Scope to ``(N,)`` Spearman correlations of the absolute maps (:func:`rank_similarity`).

    Raises
    ------
    ValueError
        Unknown scope.
    TypeError
        The model is neither a timm ViT nor a CNN with ``backbone.features`` and ``head``.

    Examples
    --------
    >>> import torch
    >>> from engine.explain.attribution import make_attributor
    >>> from engine.models.cnn import CNNClassifier
    >>> _ = torch.manual_seed(0)
    >>> model = CNNClassifier(input_height=32, widths=(2,) * 9).eval()
    >>> attribute = lambda m, x, t: make_attributor("gradient_x_input", m).attribute(x, target=t)[0]
    >>> similarity = randomisation_check(attribute, model, torch.rand(2, 1, 32, 32), [0, 1], scopes=("head", "all"))
    >>> {scope: values.shape for scope, values in similarity.items()}
    {'head': (2,), 'all': (2,)}
    """
    originals = [attribute(model, images[i : i + 1], int(t)) for i, t in enumerate(targets)]
    out = {}
    for scope in scopes:
        randomised = randomised_copy(model, scope=scope, seed=seed)
        out[scope] = np.array(
            [rank_similarity(originals[i], attribute(randomised, images[i : i + 1], int(t))) for i, t in enumerate(targets)]
        )
    return out
