"""Import Essentia's standard algorithms without its start-up INFO chatter on stderr."""

from __future__ import annotations

from types import ModuleType


def essentia_standard() -> ModuleType:
    """``essentia.standard``, imported with Essentia's info log switched off (warnings stay on)."""
    import essentia

    essentia.log.infoActive = False
    import essentia.standard as es

    return es
