"""A fingerprint of a results database's rows, to show that a refactoring changed no result.

``python tests/fingerprint.py DB > tests/reference/tiny.json`` records one; ``tests/test_fingerprint.py``
builds the tiny profile and compares. Per table: the row count; per numeric column, the sum and the
sum of absolute values (rounded to 6 significant digits); per text column, a hash of the sorted
values; per binary column, the total length. Left out: provenance (``runs``, ``work_units``), JSON
columns (settings as written) and wall-clock columns.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import duckdb

SKIPPED_TABLES = {"runs", "work_units", "schema_info"}
SKIPPED_COLUMNS = {"seconds", "peak_rss_mb", "finished_at", "started_at"}
# a stored model is a pickle of its weights: its length says nothing the metrics do not
SKIPPED_BLOBS = {"models"}


def _significant(value: float | None) -> float | None:
    return None if value is None else float(f"{value:.6g}")


def fingerprint(path: Path) -> dict[str, dict[str, object]]:
    """Row counts and per-column digests of every result table of the database at ``path``."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = [row[0] for row in con.execute("SELECT table_name FROM information_schema.tables ORDER BY 1").fetchall()]
        result: dict[str, dict[str, object]] = {}
        for table in tables:
            if table in SKIPPED_TABLES:
                continue
            entry: dict[str, object] = {"rows": con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]}
            columns = con.execute(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
                [table],
            ).fetchall()
            for name, kind in columns:
                if name in SKIPPED_COLUMNS or kind == "JSON":
                    continue
                column = f'"{name}"'
                if kind in {"DOUBLE", "FLOAT", "INTEGER", "BIGINT", "SMALLINT", "BOOLEAN"}:
                    value = f"CAST({column} AS DOUBLE)"
                    total, magnitude = con.execute(f'SELECT sum({value}), sum(abs({value})) FROM "{table}"').fetchone()
                    entry[name] = [_significant(total), _significant(magnitude)]
                elif kind == "VARCHAR":
                    values = sorted(str(v[0]) for v in con.execute(f'SELECT {column} FROM "{table}"').fetchall())
                    entry[name] = hashlib.sha256("\n".join(values).encode()).hexdigest()[:16]
                elif kind == "BLOB" and table not in SKIPPED_BLOBS:
                    entry[name] = con.execute(f'SELECT coalesce(sum(octet_length({column})), 0) FROM "{table}"').fetchone()[0]
            result[table] = entry
        return result
    finally:
        con.close()


if __name__ == "__main__":
    print(json.dumps(fingerprint(Path(sys.argv[1])), indent=1, sort_keys=True))
