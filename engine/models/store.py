"""Serialising trained perceptual models to bytes (for the results database) and back."""

from __future__ import annotations

import io
from typing import Any

import torch
from torch import nn

from engine.models.perceptual import create_perceptual_model

FORMAT = "torch-state-dict/v1"


def model_to_bytes(model: nn.Module, *, spec: dict[str, Any]) -> bytes:
    """Weights plus the spec (:mod:`engine.models.perceptual`) that rebuilds the architecture."""
    buffer = io.BytesIO()
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    torch.save({"format": FORMAT, "spec": dict(spec), "state_dict": state}, buffer)
    return buffer.getvalue()


def model_from_bytes(data: bytes, *, device: str = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild a model stored by :func:`model_to_bytes`; returns ``(model in eval mode, spec)``.

    Raises:
        ValueError: the bytes are not a stored model of this format.
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
