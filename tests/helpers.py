"""Small helpers the test modules share (importable because pytest puts ``tests/`` on the path)."""

from __future__ import annotations

from pathlib import Path

from results.store import connect_read_only


def query(db: Path, sql: str) -> list[tuple]:
    """Run ``sql`` on the database at ``db``, opened read-only; return every row."""
    con = connect_read_only(db)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()
