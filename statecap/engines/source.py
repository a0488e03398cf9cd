"""Where an engine reads a registry from: a folder of Parquet files, or a store exported to one.

The layout is the one `statecap synth --out DIR` and `statecap export parquet DIR` write: one
file per table, store column names (``entities.parquet``, ``stakes.parquet``, optionally
``designations.parquet``, the flow records, ...). Entities are numbered in file order, as the
local engine numbers them.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from statecap.errors import StoreError, UsageError

GRAPH_TABLES = ("entities", "stakes")
# what the screening rules read beside the graph (roots, rule dates, revenue for 31 CFR 850.209(a)(2),
# identifiers for --designated files)
RULE_TABLES = ("designations", "policy_events", "policy_suspensions", "financials", "entity_identifiers")
# the records flows are made of (docs/flows.md) and the exchange rates (observations)
FLOW_TABLES = (
    "investments", "spending", "acquisitions", "joint_ventures", "partnerships", "jv_partners",
    "partnership_parties", "observations",
)  # fmt: skip
# what evidence cites: sources of stakes and designations
SOURCE_TABLES = ("sources", "record_sources")
TABLES = (*GRAPH_TABLES, *RULE_TABLES, *FLOW_TABLES, *SOURCE_TABLES)
REQUIRED = GRAPH_TABLES


@dataclass
class RegistrySource:
    """A registry as Parquet files; `path(name)` gives a table's file or folder (None when absent).

    `folder` is a local folder, or a URL the Spark engine reads on a cluster (``hdfs://``,
    ``s3a://``, ``abfss://``, ``dbfs:/``): then every table is expected at ``URL/NAME.parquet``
    (a file or a folder of part files) and a missing optional table is found missing by Spark.
    """

    folder: Any
    temporary: bool = False
    _tables: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        text = str(self.folder)
        if is_remote(text):
            self.folder = text.rstrip("/")
            for name in TABLES:
                self._tables[name] = f"{self.folder}/{name}.parquet"
            return
        self.folder = Path(self.folder)
        if not self.folder.is_dir():
            raise UsageError(f"{self.folder}: not a folder of Parquet files")
        for name in TABLES:
            for candidate in (self.folder / f"{name}.parquet", self.folder / name):
                if candidate.exists():
                    self._tables[name] = candidate
                    break
        missing = [n for n in REQUIRED if n not in self._tables]
        if missing:
            raise UsageError(
                f"{self.folder}: missing {', '.join(m + '.parquet' for m in missing)} "
                "(write them with `statecap synth --out DIR` or `statecap export parquet DIR`)"
            )

    @property
    def remote(self) -> bool:
        return isinstance(self.folder, str)

    def path(self, name: str) -> Any:
        """The table's local Path, or its URL for a remote source; None when absent (local only)."""
        return self._tables.get(name)

    def close(self) -> None:
        """Remove the folder when it was made for this source (a store export)."""
        if self.temporary and not self.remote:
            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> RegistrySource:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def is_remote(path: str) -> bool:
    """Whether `path` is a URL for a distributed file system rather than a local path."""
    return "://" in path or path.startswith("dbfs:")


def store_to_parquet(
    con: Any, folder: str | Path | None = None, tables: tuple[str, ...] = TABLES
) -> RegistrySource:
    """Export a store's tables to Parquet, one file each (entities in store row order).

    Args:
        con: an open store (DuckDB connection).
        folder: where to write; default a new temporary folder, removed by ``source.close()``.
        tables: which tables (default: every table an engine reads, `TABLES`).
    """
    import duckdb

    temporary = folder is None
    out = Path(tempfile.mkdtemp(prefix="statecap-parquet-")) if folder is None else Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    present = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    try:
        for name in tables:
            if name not in present:
                continue
            order = " ORDER BY rowid"
            target = (out / f"{name}.parquet").as_posix().replace("'", "''")
            con.execute(f"COPY (SELECT * FROM {name}{order}) TO '{target}' (FORMAT parquet)")
    except duckdb.Error as exc:
        if temporary:
            shutil.rmtree(out, ignore_errors=True)
        raise StoreError(f"cannot export the store to Parquet: {exc}") from None
    return RegistrySource(out, temporary=temporary)


def open_source(parquet: str | Path | None = None, con: Any = None) -> RegistrySource:
    """A source from a Parquet folder (or a URL, for Spark), else from an open store (exported to a
    temporary folder)."""
    if parquet is not None:
        return RegistrySource(parquet if is_remote(str(parquet)) else Path(parquet))
    if con is None:
        raise UsageError("give a Parquet folder or a store")
    return store_to_parquet(con)


def registry_connection(
    source: RegistrySource, graph_tables: bool = True, tables: tuple[str, ...] | None = None
) -> Any:
    """An in-memory store (DuckDB) holding the source's tables, for the store-level query functions.

    Args:
        source: the registry.
        graph_tables: also load entities and stakes (the local engine needs them; the Spark
            engine reads only designations and policy events on the driver).
        tables: load only these (default: every table of `TABLES` the source has).
    """
    import duckdb
    import pyarrow.parquet as pq

    from statecap.store.schema import create_all

    if source.remote:
        raise UsageError(f"{source.folder}: the local engine reads local Parquet files only")
    con = duckdb.connect()
    create_all(con)
    names = tables if tables is not None else TABLES
    if not graph_tables:
        names = tuple(t for t in names if t not in GRAPH_TABLES)
    for name in names:
        path = source.path(name)
        if path is None:
            continue
        have = {r[1] for r in con.execute(f"PRAGMA table_info('{name}')").fetchall()}
        files = sorted(path.glob("*.parquet")) if path.is_dir() else [path]
        if not files:
            continue
        cols = [c for c in pq.read_schema(files[0]).names if c in have]
        quoted = ", ".join(f'"{c}"' for c in cols)
        target = path.as_posix().replace("'", "''") + ("/*.parquet" if path.is_dir() else "")
        try:
            con.execute(f"INSERT INTO {name} ({quoted}) SELECT {quoted} FROM read_parquet('{target}')")
        except duckdb.Error as exc:
            con.close()
            raise UsageError(f"{path}: cannot read {name}: {exc}") from None
    return con
