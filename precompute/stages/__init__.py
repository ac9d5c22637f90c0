"""Stages of a run. Each module turns a profile section into experiment definitions and units.

A :class:`Unit` is the grain of resumption: ``run()`` computes everything one unit owns and
returns it as rows per table; the pipeline writes them and marks the unit done in one transaction.
A unit that reads rows another unit wrote names it in ``needs``; the pipeline runs units in an order
that respects these needs (:func:`order_units`), whatever order the stages list them in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from precompute.database import Rows


@dataclass(frozen=True)
class Unit:
    """One resumable piece of work.

    A unique ``name``, a function producing its rows (computing only: the pipeline writes them), and
    the names of the units whose written rows that function reads (``needs``).
    """

    name: str
    run: Callable[[], Rows]
    needs: tuple[str, ...] = ()


def order_units(units: list[Unit]) -> list[Unit]:
    """Order the units so that every unit comes after the units it needs.

    Stable: among units whose needs are met, the listed order is kept (so stages stay grouped).

    Raises
    ------
        ValueError: a unit needs a unit that is not planned, two units share a name, or needs form a cycle.
    """
    by_name = {unit.name: unit for unit in units}
    if len(by_name) != len(units):
        names = [unit.name for unit in units]
        raise ValueError(f"two units share a name: {sorted({n for n in names if names.count(n) > 1})}")
    for unit in units:
        missing = [need for need in unit.needs if need not in by_name]
        if missing:
            raise ValueError(f"unit {unit.name!r} needs {missing}, which the run does not plan")
    ordered: list[Unit] = []
    placed: set[str] = set()
    waiting = list(units)
    while waiting:
        ready = [unit for unit in waiting if set(unit.needs) <= placed]
        if not ready:
            raise ValueError(f"units need each other in a cycle: {[unit.name for unit in waiting]}")
        first = ready[0]
        ordered.append(first)
        placed.add(first.name)
        waiting.remove(first)
    return ordered
