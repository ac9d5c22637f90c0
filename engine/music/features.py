"""Per-clip music features of the feature route, computed together so harmony is analysed once.

==================  ======  =====================================================================
name                size    what
==================  ======  =====================================================================
estimated_midlevel  7       signal-based estimates of the mid-level descriptors (``MIDLEVEL``)
thesis_harmony      27      24 chord flags, key_root, tonic_top3, key_mode (with the 7
                            descriptors: the thesis's 34-feature set)
key_relative        31      Roman-numeral chord-degree flags, interval-class profile, key_mode
==================  ======  =====================================================================
"""

from __future__ import annotations

import numpy as np

from engine.music.descriptors import estimate_midlevel
from engine.music.harmony import (
    analyse_harmony,
)
from engine.music.harmony_features import (
    KEY_RELATIVE_NAMES,
    THESIS_HARMONY_NAMES,
    key_relative_features,
    thesis_harmony_features,
)
from engine.vocabulary import MIDLEVEL, SAMPLE_RATE

MUSIC_FEATURES: dict[str, tuple[str, ...]] = {
    "estimated_midlevel": MIDLEVEL,
    "thesis_harmony": THESIS_HARMONY_NAMES,
    "key_relative": KEY_RELATIVE_NAMES,
}
"""Feature group name to the names of its values, in order."""


def music_features(y: np.ndarray, *, sample_rate: int = SAMPLE_RATE) -> dict[str, np.ndarray]:
    """Compute every group of ``MUSIC_FEATURES`` for one waveform, harmony analysed once.

    Parameters
    ----------
    y : numpy.ndarray
        Mono waveform, shape ``(n_samples,)``.
    sample_rate : int, default SAMPLE_RATE
        Sample rate of ``y`` in Hz (22,050).

    Returns
    -------
    dict of str to numpy.ndarray
        float32 vector per group name of ``MUSIC_FEATURES``, its values in the order of the
        group's names: ``estimated_midlevel`` ``(7,)``, ``thesis_harmony`` ``(27,)`` and
        ``key_relative`` ``(31,)``.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(SAMPLE_RATE) / SAMPLE_RATE  # 1 s of a C major triad
    >>> features = music_features(sum(np.sin(2 * np.pi * f * t) for f in (261.63, 329.63, 392.0)))
    >>> {name: (values.shape, str(values.dtype)) for name, values in features.items()}
    {'estimated_midlevel': ((7,), 'float32'), 'thesis_harmony': ((27,), 'float32'), 'key_relative': ((31,), 'float32')}
    """
    harmony = analyse_harmony(y, sample_rate=sample_rate)
    descriptors = estimate_midlevel(y, sample_rate=sample_rate, harmony=harmony)
    return {
        "estimated_midlevel": np.array([descriptors[name] for name in MIDLEVEL], dtype=np.float32),
        "thesis_harmony": np.asarray(thesis_harmony_features(harmony), dtype=np.float32),
        "key_relative": np.asarray(key_relative_features(harmony), dtype=np.float32),
    }
