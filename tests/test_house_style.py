"""House style that ruff cannot check: every public engine function and class shows how it is called.

ruff (``pydocstyle`` with ``convention = "numpy"``) checks the docstring sections' form; this test
checks that each public top-level function and class of ``engine/`` and ``results/`` has an ``Examples`` section with
at least one runnable ``>>>`` line. pytest runs those lines (``--doctest-modules``, see pyproject).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENGINE_FILES = sorted(p for folder in ("engine", "results") for p in (ROOT / folder).rglob("*.py") if p.name != "__init__.py")


def public_definitions(path: Path) -> list[ast.FunctionDef | ast.ClassDef]:
    """Top-level functions and classes whose names do not start with an underscore."""
    tree = ast.parse(path.read_text())
    return [node for node in tree.body
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("_")]


@pytest.mark.parametrize("path", ENGINE_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_public_engine_definition_has_a_runnable_example(path):
    missing = []
    for node in public_definitions(path):
        doc = ast.get_docstring(node) or ""
        if "Examples\n--------" not in doc or ">>>" not in doc.split("Examples\n--------", 1)[1]:
            missing.append(f"{node.name} (line {node.lineno})")
    assert not missing, f"{path.relative_to(ROOT)}: no 'Examples' section with a '>>>' line in: {', '.join(missing)}"


def test_the_style_check_sees_what_it_should():
    """The parser finds definitions and rejects a docstring without an example."""
    source = ROOT / "engine" / "vocabulary.py"
    assert all(isinstance(n, (ast.FunctionDef, ast.ClassDef)) for n in public_definitions(source))
    bare = ast.parse('def f():\n    """Do.\n\n    Returns\n    -------\n    int\n    """\n').body[0]
    assert "Examples\n--------" not in (ast.get_docstring(bare) or "")
