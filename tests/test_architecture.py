"""The layering the architecture rests on, read from the imports (no module is executed).

- ``engine`` is a library: it never imports the orchestrator, the dashboard, Streamlit or DuckDB.
- Inside ``engine``, packages import only downwards: :mod:`engine.vocabulary` is the ground floor,
  audio tools and the synthesizer sit on it, music analysis on audio, dataset adapters on audio,
  music and the synthesizer, explanations on models and audio.
- ``results`` is the contract between writer and reader: it may use the engine, never the
  orchestrator, the dashboard or Streamlit.
- The dashboard only reads: it never imports the orchestrator (its stages, pipeline, profiles or writer),
  and reads the schema, codecs and stored settings through ``results``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# engine package -> the engine packages it may import (itself always allowed)
ENGINE_LAYERS = {
    "vocabulary": set(),
    "stats": set(),
    "audio": {"vocabulary"},
    "models": {"vocabulary"},
    "music": {"vocabulary", "audio"},
    "synth": {"vocabulary"},
    "datasets": {"vocabulary", "audio", "music", "synth"},
    "explain": {"vocabulary", "audio", "stats", "models", "music"},
}


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` for every import of ``path`` (absolute imports only; the project uses no others)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
    return found


def engine_package(path: Path) -> str:
    parts = path.relative_to(ROOT / "engine").with_suffix("").parts
    return parts[0]


ENGINE_FILES = sorted(p for p in (ROOT / "engine").rglob("*.py") if p.name != "__init__.py" or p.parent != ROOT / "engine")


def test_every_engine_package_has_a_declared_layer():
    packages = {engine_package(p) for p in ENGINE_FILES}
    assert packages == set(ENGINE_LAYERS), packages ^ set(ENGINE_LAYERS)


@pytest.mark.parametrize("path", ENGINE_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_engine_imports_only_downwards_and_nothing_outside_the_library(path):
    package = engine_package(path)
    for line, module in imported_modules(path):
        top = module.split(".")[0]
        assert top not in ("precompute", "dashboard", "streamlit", "duckdb"), f"{path.name}:{line} imports {module}"
        if top == "engine":
            target = module.split(".")[1] if "." in module else "engine"
            assert target == package or target in ENGINE_LAYERS[package], (
                f"{path.relative_to(ROOT)}:{line} imports {module}: engine/{package} may import only "
                f"{sorted(ENGINE_LAYERS[package]) or 'nothing of the project'}")


@pytest.mark.parametrize("path", sorted((ROOT / "dashboard").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_dashboard_never_imports_the_orchestrator(path):
    for line, module in imported_modules(path):
        assert module.split(".")[0] != "precompute", f"{path.name}:{line} imports {module}: read through results.*"


@pytest.mark.parametrize("path", sorted((ROOT / "results").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_results_contract_depends_on_the_engine_only(path):
    for line, module in imported_modules(path):
        assert module.split(".")[0] not in ("precompute", "dashboard", "streamlit"), f"{path.name}:{line} imports {module}"
