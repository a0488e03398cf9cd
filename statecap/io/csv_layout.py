"""The statecap CSV layout: one CSV file per record type, for data made by hand in a spreadsheet.

A file's name says its record type (``entities.csv``, ``stakes.csv``, ``sources.csv``, ... or a
folder holding such files); its header names the record's fields (docs/formats.md lists them).
Cells: empty means absent; list fields (``aliases``, ``sectors``, ``sources``, ``tickers``,
``parties``) are separated by ``;``; an entity's identifiers are the columns ``uscc``, ``lei``,
``tickers`` and ``wikidata``; a share is ``17.44``, a range ``20-30`` or ``unknown``; joint-venture
partners are ``id=share;id=share``; policy suspensions are ``from/to;from/to``. A record without
``sources`` is sourced to the file itself.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb

from statecap.errors import DataError, Problem
from statecap.io.guard import reading
from statecap.io.ingest import Item, make_record
from statecap.io.records import share_value
from statecap.io.store_read import ALL_TYPES, read_records
from statecap.model.records import Entity, JointVenture, PolicyEvent, Record

LIST_FIELDS = {"aliases", "sectors", "sources", "tickers", "parties"}
IDENTIFIER_FIELDS = ("uscc", "lei", "tickers", "wikidata")
# file order: what others refer to comes first
ORDER = ("sources", "entities")
_RANGE = re.compile(r"^\[?\s*([0-9.]+)\s*%?\s*[-,–]\s*([0-9.]+)\s*%?\s*\]?$")


def columns(folder: str) -> list[str]:
    """The CSV columns of a record type, in the order `write` uses."""
    cls = ALL_TYPES[folder]
    cols = [c for c in cls.model_fields if c != "identifiers"]
    if folder == "entities":
        i = cols.index("sectors")
        cols[i:i] = list(IDENTIFIER_FIELDS)
    return cols


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        files = [p for p in path.iterdir() if p.suffix.lower() == ".csv"]
        return sorted(files, key=lambda p: (ORDER.index(p.stem) if p.stem in ORDER else len(ORDER), p.name))
    return [path]


def _share(text: str) -> Any:
    t = text.strip()
    if t.lower() in ("", "unknown", "?", "n/a"):
        return None
    m = _RANGE.match(t)
    if m is not None:
        return [float(m.group(1)), float(m.group(2))]
    return t


def _row_data(folder: str, row: dict[str, str], item: Item) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key, raw in row.items():
        value = (raw or "").strip()
        if value == "":
            continue
        if key in LIST_FIELDS:
            data[key] = [v.strip() for v in value.split(";") if v.strip()]
        elif key == "share":
            data[key] = _share(value)
        elif key == "partners":
            partners = []
            for part in value.split(";"):
                pid, _, share = part.partition("=")
                partners.append({"id": pid.strip(), "share": _share(share)})
            data[key] = partners
        elif key == "suspensions":
            windows = []
            for part in value.split(";"):
                start, _, end = part.partition("/")
                windows.append({"from": start.strip(), "to": end.strip() or None})
            data[key] = windows
        else:
            data[key] = value
    if folder == "entities":
        ident = {k: data.pop(k) for k in IDENTIFIER_FIELDS if k in data}
        data["identifiers"] = ident
    return data


def read(ctx: Any) -> Iterator[Item]:
    """Items from a statecap CSV file (or a folder of them)."""
    for path in _files(ctx.path):
        folder = path.stem.lower()
        file = str(path)
        if folder not in ALL_TYPES:
            known = ", ".join(f"{f}.csv" for f in ALL_TYPES)
            raise DataError(
                Problem(file, None, None, f"a statecap CSV file is named after its record type: {known}")
            )
        cls = ALL_TYPES[folder]
        allowed = set(columns(folder))
        with reading(file), path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            header = reader.fieldnames or []
            unknown = [c for c in header if c not in allowed]
            if unknown:
                raise DataError(
                    Problem(
                        file,
                        None,
                        unknown[0],
                        f"unknown column for {folder}; columns are: {', '.join(columns(folder))}",
                        1,
                    )
                )
            for row in reader:
                if None in row:
                    item = Item(file=file, record=None, line=reader.line_num, raw=row)
                    item.problem(None, "more cells than columns")
                    yield item
                    continue
                data = _row_data(folder, row, Item(file=file, record=None))
                label = data.get("id") or _label(folder, data)
                item = Item(file=file, record=label, line=reader.line_num, raw=row)
                if folder != "sources" and not data.get("sources"):
                    data["sources"] = [ctx.origin]
                rec = make_record(item, cls, data)
                if rec is not None:
                    item.record = rec.key
                    item.add(folder, rec, ctx.origin)
                yield item


def _label(folder: str, data: dict[str, Any]) -> str | None:
    keys = {
        "stakes": ("owner", "owned"),
        "designations": ("list", "entity"),
        "spending": ("entity", "category", "year"),
        "financials": ("entity", "year"),
        "investments": ("investor", "investee"),
        "observations": ("series", "year"),
        "directorships": ("director", "organization"),
        "ownership_exceptions": ("entity", "category"),
    }.get(folder)
    if keys is None:
        return None
    return ":".join(str(data.get(k)) for k in keys)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list):
        return ";".join(_cell(v) for v in value)
    return str(value)


def record_cells(folder: str, rec: Record) -> dict[str, str]:
    """One record as CSV cells."""
    out: dict[str, str] = {}
    for col in columns(folder):
        if isinstance(rec, Entity) and col in IDENTIFIER_FIELDS:
            out[col] = _cell(getattr(rec.identifiers, col))
        elif col == "share":
            v = share_value(rec.share)  # type: ignore[attr-defined]
            out[col] = "unknown" if v is None else (f"{v[0]!r}-{v[1]!r}" if isinstance(v, list) else repr(v))
        elif col == "partners" and isinstance(rec, JointVenture):
            out[col] = ";".join(
                f"{p.id}={'unknown' if p.share.kind == 'unknown' else (repr(p.share.lo) if p.share.lo == p.share.hi else f'{p.share.lo!r}-{p.share.hi!r}')}"
                for p in rec.partners
            )
        elif col == "suspensions" and isinstance(rec, PolicyEvent):
            out[col] = ";".join(f"{w.start}/{w.end}" for w in rec.suspensions)
        else:
            out[col] = _cell(getattr(rec, col))
    return out


def write(con: duckdb.DuckDBPyConnection, out: Path, as_of: dt.date | None) -> dict[str, Any]:
    """Write every record type to ``OUT/<type>.csv`` (a folder)."""
    out.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    for folder, recs in read_records(con, as_of).items():
        path = out / f"{folder}.csv"
        with path.open("w", encoding="utf-8", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=columns(folder))
            w.writeheader()
            for r in recs:
                w.writerow(record_cells(folder, r))
        counts[folder] = len(recs)
    return counts
