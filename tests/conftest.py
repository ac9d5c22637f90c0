"""Shared fixtures: the tiny profile's results database, built once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def tiny_db(tmp_path_factory) -> Path:
    """Results database of ``precompute/profiles/tiny.toml`` (every stage, a few 3 s clips)."""
    from precompute.pipeline import run

    path = tmp_path_factory.mktemp("tiny") / "tiny.duckdb"
    return run("tiny", db=path, show_progress=False)


@pytest.fixture()
def shared_data() -> Path:
    """Return the real data beside the project (../shared/data); tests using it skip when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not available at {SHARED_DATA}")
    return SHARED_DATA
