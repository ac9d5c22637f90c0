"""The dashboard cannot be made to run SQL built from user values, nor to write its database."""

from __future__ import annotations

import ast
from pathlib import Path

import duckdb
import pytest

from dashboard import queries

DASHBOARD = Path(__file__).resolve().parents[1] / "dashboard"


def is_named_query(node: ast.Call) -> bool:
    """``widgets.query(db, "name", ...)`` (``query(...)`` inside widgets.py): a call of the query function
    ``dashboard.queries.name``, not SQL."""
    if isinstance(node.func, ast.Name):
        return node.func.id == "query"
    return isinstance(node.func, ast.Attribute) and node.func.attr == "query" and isinstance(node.func.value, ast.Name) \
        and node.func.value.id == "widgets"


def sql_arguments(tree: ast.AST):
    funnel = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "_df"]
    inside_funnel = {id(n) for f in funnel for n in ast.walk(f)}  # _df passes its own (checked) argument on
    for node in ast.walk(tree):
        if id(node) in inside_funnel:
            continue
        if isinstance(node, ast.Call) and isinstance(node.func, (ast.Attribute, ast.Name)):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id
            if name in ("execute", "_df", "sql", "query") and node.args and not is_named_query(node):
                yield node.lineno, node.args[1] if name == "_df" and len(node.args) > 1 else node.args[0]


@pytest.mark.parametrize("path", sorted(DASHBOARD.rglob("*.py")), ids=lambda p: p.name)
def test_every_sql_statement_is_a_constant_with_parameters(path):
    for line, argument in sql_arguments(ast.parse(path.read_text())):
        assert constant_sql(argument), f"{path.name}:{line}: SQL must be a constant string with ? parameters"


@pytest.mark.parametrize("path", sorted(DASHBOARD.rglob("*.py")), ids=lambda p: p.name)
def test_every_named_query_is_a_constant_naming_a_query_function(path):
    calls = [n for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Call) and is_named_query(n)]
    for call in calls:
        name = call.args[1] if len(call.args) > 1 else None
        assert isinstance(name, ast.Constant) and isinstance(name.value, str), f"{path.name}:{call.lineno}: query name must be a literal"
        assert callable(getattr(queries, name.value, None)), f"{path.name}:{call.lineno}: no query function {name.value!r}"


def constant_sql(node: ast.AST) -> bool:
    """A string literal, a module constant (e.g. ``_COMPARISON_SQL``) or a ``+`` of those: never user values."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.Name):
        return node.id.lstrip("_").isupper()
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return constant_sql(node.left) and constant_sql(node.right)
    return False


def test_the_dashboards_connection_cannot_write(tiny_db):
    con = queries.connect(tiny_db)
    try:
        with pytest.raises(duckdb.Error, match="read-only"):
            con.execute("CREATE TABLE intruder (a INTEGER)")
        with pytest.raises(duckdb.Error, match="read-only"):
            con.execute("DELETE FROM runs")
    finally:
        con.close()
