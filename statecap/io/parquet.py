"""Parquet out: one file per store table, with the store's Arrow types (dates, lists, doubles)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from statecap.io.ingest import LINKS
from statecap.io.store_read import read_records


def tables(con: duckdb.DuckDBPyConnection, as_of: dt.date | None = None) -> dict[str, pa.Table]:
    """Every record and link table as Arrow (as of a date: the records valid then, and what they cite)."""
    present = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    keep: dict[str, list[str]] | None = None
    if as_of is not None:
        keep = {f: [r.key for r in recs] for f, recs in read_records(con, as_of).items()}
    out: dict[str, pa.Table] = {}
    for table in sorted(present - {"entity_terms"}):
        if keep is None or table == "meta":
            out[table] = con.sql(f"SELECT * FROM {table} ORDER BY ALL").to_arrow_table()
        elif table in keep:
            out[table] = con.sql(
                f"SELECT * FROM {table} WHERE list_contains($ids, id) ORDER BY ALL",
                params={"ids": keep[table]},
            ).to_arrow_table()
        elif table in LINKS:
            col, parent = LINKS[table]
            if parent is None:
                pairs = [f"{f}\x1f{k}" for f, ks in keep.items() for k in ks]
                sql = f"SELECT * FROM {table} WHERE list_contains($ids, record_type || chr(31) || record_id) ORDER BY ALL"
                out[table] = con.sql(sql, params={"ids": pairs}).to_arrow_table()
            else:
                out[table] = con.sql(
                    f'SELECT * FROM {table} WHERE list_contains($ids, "{col}") ORDER BY ALL',
                    params={"ids": keep[parent]},
                ).to_arrow_table()
    return out


def write(con: duckdb.DuckDBPyConnection, out: Path, as_of: dt.date | None) -> dict[str, Any]:
    """Write ``OUT/<table>.parquet`` for every table; returns row counts."""
    out.mkdir(parents=True, exist_ok=True)
    counts = {}
    for name, table in tables(con, as_of).items():
        if isinstance(table, pa.RecordBatchReader):  # pragma: no cover - depends on the duckdb version
            table = table.read_all()
        pq.write_table(table, out / f"{name}.parquet")
        counts[name] = table.num_rows
    return counts
