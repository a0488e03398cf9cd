"""Opening the store, and changing it atomically.

The store is one DuckDB file. Every change (build, import) writes a complete new file beside the
old one and swaps it in with ``os.replace``: a reader or a crash sees the old store or the new
one, never a half-written one.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

from statecap.errors import StoreError
from statecap.store.paths import ENV_DB, default_db_path, resolve_db_path  # noqa: F401 (re-exported)
from statecap.store.schema import SCHEMA_VERSION


@contextlib.contextmanager
def connect(db: str | Path | None = None, read_only: bool = True) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open a statecap store. Raises StoreError if it is missing or not a statecap store."""
    path = resolve_db_path(db)
    if not path.exists():
        raise StoreError(f"{path}: no store here; run `statecap build --db {path}` first")
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.Error as exc:
        raise StoreError(f"{path}: cannot open the store: {exc}") from None
    try:
        try:
            row = one_row(con, "SELECT value FROM meta WHERE key = 'schema_version'")
        except duckdb.Error:
            raise StoreError(f"{path}: not a statecap store (no meta table)") from None
        if row is None or row[0] != SCHEMA_VERSION:
            found = row[0] if row else "none"
            raise StoreError(
                f"{path}: store schema version {found}, this statecap needs {SCHEMA_VERSION}; rebuild it"
            )
        yield con
    finally:
        con.close()


def one_row(con: duckdb.DuckDBPyConnection, sql: str, params: Any = None) -> tuple[Any, ...] | None:
    """The first row of a query, or None. Fetches everything, so the connection is free afterwards
    (DuckDB refuses new work on a connection with an unfinished result)."""
    rows = con.execute(sql, params).fetchall() if params is not None else con.execute(sql).fetchall()
    return rows[0] if rows else None


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: Any = None) -> Any:
    """The single value a query returns (None when it returns no row)."""
    row = one_row(con, sql, params)
    return None if row is None else row[0]


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(str(path), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def writer_lock(path: Path) -> Iterator[None]:
    """Hold the store's writer lock: one build or import at a time per store file.

    Without it two imports started together would both copy the old store and the second swap
    would drop the first import. The lock is advisory (``flock`` on the store's folder, so no
    lock file is left behind; stores in one folder take turns too); readers never take it. While
    it is held, temporary files of writers that were killed are removed.
    """
    if fcntl is None:  # pragma: no cover - not POSIX: no lock
        yield
        return
    fd = os.open(str(path.parent), os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        prefix = f".{path.name}."
        for entry in os.scandir(path.parent):
            if entry.name.startswith(prefix) and entry.name.endswith((".tmp", ".tmp.wal")):
                with contextlib.suppress(OSError):
                    if entry.is_dir(follow_symlinks=False):
                        shutil.rmtree(entry.path)  # DuckDB's spill folder (``STORE.tmp``)
                    else:
                        os.unlink(entry.path)
        yield
    finally:
        os.close(fd)


def write_atomically(
    db: str | Path | None,
    fill: Callable[[duckdb.DuckDBPyConnection], None],
    start_from_existing: bool = False,
) -> Path:
    """Produce a new store with `fill` and swap it in; on any error the old store is untouched.

    With ``start_from_existing`` the new store starts as a copy of the current one (imports);
    otherwise it starts empty (builds). Writers to one store take turns (`writer_lock`).
    """
    path = resolve_db_path(db)
    path.parent.mkdir(parents=True, exist_ok=True)
    with writer_lock(path):
        return _write_locked(path, fill, start_from_existing)


def _write_locked(
    path: Path, fill: Callable[[duckdb.DuckDBPyConnection], None], start_from_existing: bool
) -> Path:
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=str(path.parent))
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()  # DuckDB wants to create the file itself
    try:
        if start_from_existing:
            if not path.exists():
                raise StoreError(f"{path}: no store to change; run `statecap build --db {path}` first")
            with connect(path, read_only=True):
                pass  # checks it is a statecap store before copying
            shutil.copyfile(path, tmp)
        con = duckdb.connect(str(tmp))
        try:
            fill(con)
            con.execute("CHECKPOINT")
        finally:
            con.close()
        wal = Path(str(tmp) + ".wal")
        if wal.exists():  # a clean close leaves none; be sure no state lives outside the file
            raise StoreError(f"{tmp}: write-ahead log left behind; refusing to swap in")
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        for leftover in (tmp, Path(str(tmp) + ".wal")):
            with contextlib.suppress(OSError):
                leftover.unlink()
        shutil.rmtree(str(tmp) + ".tmp", ignore_errors=True)  # DuckDB's spill folder
        raise
    return path
