"""Progress display: bars with counts and time left (tqdm, on stderr), and one-line messages."""

from __future__ import annotations

import sys

from tqdm import tqdm


def bar(*, total: int, desc: str, unit: str = "it", position: int = 0, leave: bool = True, enabled: bool = True) -> tqdm:
    """Return a progress bar showing ``count/total``, rate and estimated time left."""
    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        position=position,
        leave=leave,
        disable=not enabled,
        file=sys.stderr,
        dynamic_ncols=True,
        bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}{postfix}]",
    )


def say(message: str) -> None:
    """Print a message above any active bars."""
    tqdm.write(message, file=sys.stderr)
