"""Serialising trained models to bytes (for the results database) and back."""

from __future__ import annotations

import io
from typing import Any

import torch
from torch import nn

from engine.models.vit import create_vit

FORMAT = "torch-state-dict/v1"


def vit_to_bytes(model: nn.Module, *, spec: dict[str, Any]) -> bytes:
    """Weights plus the ``create_vit`` keyword arguments that rebuild the architecture."""
    buffer = io.BytesIO()
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    torch.save({"format": FORMAT, "spec": dict(spec), "state_dict": state}, buffer)
    return buffer.getvalue()


def vit_from_bytes(data: bytes, *, device: str = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild a ViT stored by :func:`vit_to_bytes`; returns ``(model in eval mode, spec)``.

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
    model = create_vit(**{**spec, "weights": None})
    model.load_state_dict(payload["state_dict"])
    return model.to(device).eval(), spec
