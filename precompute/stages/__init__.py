"""Stages of a run. Each module turns a profile section into experiment definitions and units.

A :class:`Unit` is the grain of resumption: ``run()`` computes everything one unit owns and
returns it as rows per table; the pipeline writes them and marks the unit done in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from precompute.database import Rows


@dataclass(frozen=True)
class Unit:
    """One resumable piece of work: a unique ``name`` and a function producing its rows."""

    name: str
    run: Callable[[], Rows]
