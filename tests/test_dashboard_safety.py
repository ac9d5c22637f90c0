"""The dashboard cannot be made to run SQL built from user values, nor to write its database."""

from __future__ import annotations

import ast
from pathlib import Path

import duckdb
import pytest

from dashboard import queries
from results.store import connect_read_only

DASHBOARD = Path(__file__).resolve().parents[1] / "dashboard"


def is_read(node: ast.Call) -> bool:
    """``widgets.read(db, queries.name, ...)`` (``read(...)`` inside widgets.py): a cached call of a query function."""
    if isinstance(node.func, ast.Name):
        return node.func.id == "read"
    return isinstance(node.func, ast.Attribute) and node.func.attr == "read" and isinstance(node.func.value, ast.Name) \
        and node.func.value.id == "widgets"


def sql_arguments(tree: ast.AST):
    funnel = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "_df"]
    inside_funnel = {id(n) for f in funnel for n in ast.walk(f)}  # _df passes its own (checked) argument on
    for node in ast.walk(tree):
        if id(node) in inside_funnel:
            continue
        if isinstance(node, ast.Call) and isinstance(node.func, (ast.Attribute, ast.Name)):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id
            if name in ("execute", "_df", "sql", "query") and node.args:
                yield node.lineno, node.args[1] if name == "_df" and len(node.args) > 1 else node.args[0]


@pytest.mark.parametrize("path", sorted(DASHBOARD.rglob("*.py")), ids=lambda p: p.name)
def test_every_sql_statement_is_a_constant_with_parameters(path):
    for line, argument in sql_arguments(ast.parse(path.read_text())):
        assert constant_sql(argument), f"{path.name}:{line}: SQL must be a constant string with ? parameters"


@pytest.mark.parametrize("path", sorted(DASHBOARD.rglob("*.py")), ids=lambda p: p.name)
def test_pages_read_through_query_functions_not_names(path):
    """Every ``widgets.read`` passes a function of ``dashboard.queries`` itself (go-to-definition works, no string names)."""
    calls = [n for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Call) and is_read(n)]
    for call in calls:
        query = call.args[1] if len(call.args) > 1 else None
        assert isinstance(query, ast.Attribute) and isinstance(query.value, ast.Name) and query.value.id == "queries", \
            f"{path.name}:{call.lineno}: widgets.read takes queries.<function>"
        assert callable(getattr(queries, query.attr, None)), f"{path.name}:{call.lineno}: no query function {query.attr!r}"


def test_read_refuses_a_function_from_outside_the_queries_module(tmp_path):
    from dashboard import widgets

    with pytest.raises(ValueError, match="is not a query of dashboard.queries"):
        widgets.read(tmp_path / "x.duckdb", ast.parse)


def constant_sql(node: ast.AST) -> bool:
    """Tell whether ``node`` is a string literal, a module constant (e.g. ``_COMPARISON_SQL``) or a ``+`` of those.

    Such an expression never carries user values.
    """
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.Name):
        return node.id.lstrip("_").isupper()
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return constant_sql(node.left) and constant_sql(node.right)
    return False


def test_the_dashboards_connection_cannot_write(tiny_db):
    con = connect_read_only(tiny_db)
    try:
        with pytest.raises(duckdb.Error, match="read-only"):
            con.execute("CREATE TABLE intruder (a INTEGER)")
        with pytest.raises(duckdb.Error, match="read-only"):
            con.execute("DELETE FROM runs")
    finally:
        con.close()
