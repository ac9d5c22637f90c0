"""Import Essentia's standard algorithms without its start-up INFO chatter on stderr."""

from __future__ import annotations

from types import ModuleType


def essentia_standard() -> ModuleType:
    """Import ``essentia.standard`` with Essentia's info log switched off (warnings stay on).

    The import is deferred to the first call, so that importing this project does not load
    Essentia; later calls return the already imported module.

    Returns
    -------
    types.ModuleType
        The ``essentia.standard`` module.

    Examples
    --------
    >>> es = essentia_standard()
    >>> es.__name__, hasattr(es, "HPCP")
    ('essentia.standard', True)
    """
    import essentia

    essentia.log.infoActive = False
    import essentia.standard as es

    return es
