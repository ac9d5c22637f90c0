"""Serialising trained perceptual models to bytes (for the results database) and back."""

from __future__ import annotations

import io
from typing import Any

import torch
from torch import nn

from engine.models.perceptual import create_perceptual_model

FORMAT = "torch-state-dict/v1"


def model_to_bytes(model: nn.Module, *, spec: dict[str, Any]) -> bytes:
    """Serialise a model's weights plus the spec (:mod:`engine.models.perceptual`) that rebuilds the architecture.

    Parameters
    ----------
    model : torch.nn.Module
        A perceptual model built from ``spec``.
    spec : dict
        Keyword arguments of :func:`engine.models.perceptual.create_perceptual_model`.

    Returns
    -------
    bytes
        A ``torch.save`` payload of format :data:`FORMAT` (tensors moved to the CPU).

    Examples
    --------
    >>> from engine.models.perceptual import create_perceptual_model
    >>> spec = {"backbone": "cnn", "input_height": 32, "widths": [4] * 9}
    >>> data = model_to_bytes(create_perceptual_model(spec), spec=spec)
    >>> isinstance(data, bytes) and len(data) > 0
    True
    """
    buffer = io.BytesIO()
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    torch.save({"format": FORMAT, "spec": dict(spec), "state_dict": state}, buffer)
    return buffer.getvalue()


def model_from_bytes(data: bytes, *, device: str = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild a model stored by :func:`model_to_bytes`.

    Parameters
    ----------
    data : bytes
        What :func:`model_to_bytes` returned.
    device : str, default "cpu"
        Device to load the weights onto.

    Returns
    -------
    tuple of (torch.nn.Module, dict)
        The model in eval mode on ``device``, and its spec.

    Raises
    ------
    ValueError
        The bytes are not a stored model of this format.

    Examples
    --------
    >>> import torch
    >>> from engine.models.perceptual import create_perceptual_model
    >>> spec = {"backbone": "cnn", "input_height": 32, "widths": [4] * 9}
    >>> model, restored = model_from_bytes(model_to_bytes(create_perceptual_model(spec), spec=spec))
    >>> restored == spec, model.training
    (True, False)
    >>> tuple(model(torch.zeros(1, 1, 32, 32)).shape)
    (1, 2)
    """
    try:
        payload = torch.load(io.BytesIO(data), map_location=device, weights_only=True)
    except Exception as error:  # noqa: BLE001 - torch raises many types for corrupt input
        raise ValueError(f"stored model cannot be read ({error})") from error
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"stored model has an unknown format (expected {FORMAT})")
    spec = dict(payload["spec"])
    model = create_perceptual_model(spec)
    model.load_state_dict(payload["state_dict"])
    return model.to(device).eval(), spec
