"""Where results databases live and how they are opened for reading.

One results database is one profile build: ``data/<profile>.duckdb`` by default. Readers open it
read-only; :func:`open_results` also checks that it was written with this code's schema version.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from results.schema import SCHEMA_VERSION

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
"""The default folder of results databases (and of the feature cache): ``<checkout>/data``."""


class ResultsError(Exception):
    """A results database cannot be read; the message names the file and the reason.

    Examples
    --------
    >>> str(ResultsError("data/x.duckdb: no results database"))
    'data/x.duckdb: no results database'
    """


def default_database(profile_name: str, *, data_dir: Path = DATA_DIR) -> Path:
    """Return where a profile's results database goes unless a run names another file.

    Parameters
    ----------
    profile_name : str
        The profile's name (``[profile] name``).
    data_dir : pathlib.Path, optional
        The folder of results databases.

    Returns
    -------
    pathlib.Path
        ``data_dir / "<profile_name>.duckdb"``.

    Examples
    --------
    >>> default_database("demo", data_dir=Path("data")).as_posix()
    'data/demo.duckdb'
    """
    return Path(data_dir) / f"{profile_name}.duckdb"


def available_databases(data_dir: Path = DATA_DIR) -> list[Path]:
    """Return the finished results databases in a folder, newest first.

    Parameters
    ----------
    data_dir : pathlib.Path, optional
        The folder to look in; files still being built (``*.building``) are not listed.

    Returns
    -------
    list of pathlib.Path
        ``*.duckdb`` files by modification time, newest first.

    Examples
    --------
    >>> import tempfile
    >>> available_databases(Path(tempfile.mkdtemp()))
    []
    """
    files = [p for p in Path(data_dir).glob("*.duckdb") if p.is_file()]
    return sorted(files, key=lambda p: p.stat().st_mtime, reverse=True)


def connect_read_only(path: Path) -> duckdb.DuckDBPyConnection:
    """Open a database file read-only, without checking what it holds.

    Parameters
    ----------
    path : pathlib.Path
        A DuckDB file.

    Returns
    -------
    duckdb.DuckDBPyConnection
        A connection on which every write fails.

    Raises
    ------
    duckdb.Error
        The file is not a DuckDB database.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "x.duckdb"
    >>> duckdb.connect(str(path)).close()
    >>> connect_read_only(path).execute("SELECT 1").fetchone()
    (1,)
    """
    return duckdb.connect(str(path), read_only=True)


def schema_version(con: duckdb.DuckDBPyConnection) -> int | None:
    """Return the schema version a results database was written with (``None`` when it records none).

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        A connection to a results database.

    Returns
    -------
    int or None
        The version in ``schema_info``.

    Raises
    ------
    duckdb.Error
        The database has no ``schema_info`` table (it is not a results database).

    Examples
    --------
    >>> con = duckdb.connect()
    >>> _ = con.execute("CREATE TABLE schema_info (version INTEGER NOT NULL)")
    >>> _ = con.execute("INSERT INTO schema_info VALUES (4)")
    >>> schema_version(con)
    4
    """
    row = con.cursor().execute("SELECT max(version) FROM schema_info").fetchone()
    return None if row is None or row[0] is None else int(row[0])


def open_results(path: Path) -> duckdb.DuckDBPyConnection:
    """Open a finished results database written with this schema version, read-only.

    Parameters
    ----------
    path : pathlib.Path
        The results database.

    Returns
    -------
    duckdb.DuckDBPyConnection
        A read-only connection.

    Raises
    ------
    ResultsError
        No such file, not a DuckDB database, or another schema version.

    Examples
    --------
    >>> import tempfile
    >>> try:
    ...     open_results(Path(tempfile.mkdtemp()) / "none.duckdb")
    ... except ResultsError as error:
    ...     print(str(error).split(": ")[1])
    no results database (build one
    """
    if not path.is_file():
        raise ResultsError(f"{path}: no results database (build one: python -m precompute run --profile demo)")
    try:
        con = connect_read_only(path)
        version = schema_version(con)
    except duckdb.Error as error:
        raise ResultsError(f"{path}: cannot open results database ({error})") from error
    if version != SCHEMA_VERSION:
        con.close()
        raise ResultsError(f"{path}: written with schema version {version}, this code reads {SCHEMA_VERSION}; rebuild it with --fresh")
    return con
