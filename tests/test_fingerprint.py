"""The tiny profile's results are the ones recorded before the last refactoring (``tests/reference/tiny.json``).

A change meant to keep behaviour (a new module layout, typed profiles, one results contract) must
keep every stored figure. When a change is meant to alter results, re-record the reference in the
same commit and say why: ``python tests/fingerprint.py <tiny.duckdb> > tests/reference/tiny.json``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from fingerprint import fingerprint

REFERENCE = Path(__file__).parent / "reference" / "tiny.json"


def close(recorded: object, now: object) -> bool:
    """Equal, with numbers equal to 5 significant digits (one digit of slack on the recorded 6)."""
    if isinstance(recorded, list) and isinstance(now, list):
        return len(recorded) == len(now) and all(close(a, b) for a, b in zip(recorded, now))
    if isinstance(recorded, float) and isinstance(now, float):
        return math.isclose(recorded, now, rel_tol=1e-5, abs_tol=1e-9)
    return recorded == now


@pytest.mark.slow
def test_the_tiny_build_holds_the_recorded_rows_and_figures(tiny_db):
    recorded = json.loads(REFERENCE.read_text())
    now = fingerprint(tiny_db)
    assert sorted(now) == sorted(recorded), "tables differ"
    differences = [f"{table}.{column}: recorded {recorded[table].get(column)!r}, now {value!r}"
                   for table, columns in now.items() for column, value in columns.items()
                   if not close(recorded[table].get(column), value)]
    assert not differences, "\n".join(differences)
