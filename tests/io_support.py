"""Helpers shared by the interchange tests (tests/test_io*.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb

from statecap.io.store_read import read_records
from statecap.model.records import Record

IO_FIXTURES = Path(__file__).parent / "fixtures" / "io"


def records(db: Path) -> dict[str, dict[str, Record]]:
    """Every record of a store by folder and id."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {f: {r.key: r for r in recs} for f, recs in read_records(con).items()}
    finally:
        con.close()


def rows(db: Path, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, params).fetchall() if params is not None else con.execute(sql).fetchall()
    finally:
        con.close()


def digest(db: Path) -> str:
    from statecap.store.build import content_digest

    con = duckdb.connect(str(db), read_only=True)
    try:
        return content_digest(con)
    finally:
        con.close()


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    return path
