"""Read a store back into typed records (for exports), optionally as of a date."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

import duckdb

from statecap.io.records import EXTRA_TYPES, share_value
from statecap.model.records import RECORD_TYPES, Record
from statecap.model.values import Interval

ALL_TYPES: dict[str, type[Record]] = {**RECORD_TYPES, **EXTRA_TYPES}

# (start column, end column) of each table's validity, for as-of filtering
VALIDITY: dict[str, tuple[str, str | None]] = {
    "entities": ("founded", "dissolved"),
    "stakes": ("valid_from", "valid_to"),
    "joint_ventures": ("valid_from", "valid_to"),
    "partnerships": ("valid_from", "valid_to"),
    "designations": ("start", "end"),
    "policy_events": ("date", "end"),
    "directorships": ("valid_from", "valid_to"),
    "ownership_exceptions": ("valid_from", "valid_to"),
    "investments": ("date", None),
    "acquisitions": ("announced", None),
}


def as_of_filter(table: str, as_of: dt.date | None) -> str:
    """A SQL condition keeping `table`'s rows valid on `as_of` (half-open; open ends count)."""
    if as_of is None or table not in VALIDITY:
        return "TRUE"
    start, end = VALIDITY[table]
    d = f"DATE '{as_of.isoformat()}'"
    cond = f'("{start}" IS NULL OR "{start}" <= {d})'
    if end is not None:
        cond += f' AND ("{end}" IS NULL OR {d} < "{end}")'
    return cond


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: Any = None) -> list[dict[str, Any]]:
    cur = con.execute(sql, params) if params is not None else con.execute(sql)
    cols = [c[0] for c in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}


def read_records(con: duckdb.DuckDBPyConnection, as_of: dt.date | None = None) -> dict[str, list[Record]]:
    """Every record in the store as typed records, by folder, sorted by id.

    With `as_of`, only records valid on that date, plus the entities and sources those records
    refer to (so the result is self-contained).
    """
    present = _tables(con)
    sources: dict[tuple[str, str], list[str]] = defaultdict(list)
    for r in con.execute(
        "SELECT record_type, record_id, source FROM record_sources ORDER BY source"
    ).fetchall():
        sources[(r[0], r[1])].append(r[2])
    partners: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for p in _rows(con, "SELECT * FROM jv_partners ORDER BY jv, partner"):
        partners[p["jv"]].append(
            {
                "id": p["partner"],
                "share": share_value(Interval(p["share_lo"], p["share_hi"], p["share_kind"])),
            }
        )
    parties: dict[str, list[str]] = defaultdict(list)
    for pp in _rows(con, "SELECT * FROM partnership_parties ORDER BY partnership, position"):
        parties[pp["partnership"]].append(pp["party"])
    windows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for w in _rows(con, 'SELECT * FROM policy_suspensions ORDER BY event, "from"'):
        windows[w["event"]].append({"from": w["from"], "to": w["to"]})

    out: dict[str, list[Record]] = {}
    for folder, cls in ALL_TYPES.items():
        if folder not in present:
            out[folder] = []
            continue
        recs = []
        for row in _rows(con, f"SELECT * FROM {folder} WHERE {as_of_filter(folder, as_of)} ORDER BY id"):
            data = _record_data(folder, row)
            if folder != "sources":
                data["sources"] = sources.get((folder, row["id"]), [])
            if folder == "joint_ventures":
                data["partners"] = partners.get(row["id"], [])
            elif folder == "partnerships":
                data["parties"] = parties.get(row["id"], [])
            elif folder == "policy_events":
                data["suspensions"] = windows.get(row["id"], [])
            recs.append(cls.model_validate(data))
        out[folder] = recs
    if as_of is not None:
        _close_references(con, out)
    return out


def _record_data(folder: str, row: dict[str, Any]) -> dict[str, Any]:
    data = {k: v for k, v in row.items() if k != "origin"}
    if folder == "entities":
        data["identifiers"] = {
            "uscc": data.pop("uscc"),
            "lei": data.pop("lei"),
            "tickers": list(data.pop("tickers") or []),
            "wikidata": data.pop("wikidata"),
        }
        data["aliases"] = list(data.get("aliases") or [])
        data["sectors"] = list(data.get("sectors") or [])
    elif folder == "policy_events":
        data["sectors"] = list(data.get("sectors") or [])
    if "share_lo" in data:
        lo, hi, kind = data.pop("share_lo"), data.pop("share_hi"), data.pop("share_kind")
        data["share"] = share_value(Interval(lo, hi, kind))
    return data


def _close_references(con: duckdb.DuckDBPyConnection, out: dict[str, list[Record]]) -> None:
    """Add the entities and sources that the kept records point at but the date filter dropped."""
    have = {r.key for r in out["entities"]}
    wanted = {ref for recs in out.values() for r in recs for _, ref in r.entity_refs()} - have
    if wanted:
        extra = read_records_by_id(con, "entities", sorted(wanted))
        out["entities"] = sorted([*out["entities"], *extra], key=lambda r: r.key)
    have_src = {r.key for r in out["sources"]}
    wanted_src = {s for recs in out.values() for r in recs for s in r.sources} - have_src
    if wanted_src:
        extra = read_records_by_id(con, "sources", sorted(wanted_src))
        out["sources"] = sorted([*out["sources"], *extra], key=lambda r: r.key)


def read_records_by_id(con: duckdb.DuckDBPyConnection, folder: str, ids: list[str]) -> list[Record]:
    """Records of one type by id (no date filter)."""
    cls = ALL_TYPES[folder]
    sources: dict[str, list[str]] = defaultdict(list)
    for rid, src in con.execute(
        "SELECT record_id, source FROM record_sources WHERE record_type = ? AND list_contains(?, record_id) "
        "ORDER BY source",
        [folder, ids],
    ).fetchall():
        sources[rid].append(src)
    recs = []
    for row in _rows(con, f"SELECT * FROM {folder} WHERE list_contains(?, id) ORDER BY id", [ids]):
        data = _record_data(folder, row)
        if folder != "sources":
            data["sources"] = sources.get(row["id"], [])
        recs.append(cls.model_validate(data))
    return recs


def entity_identifiers(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[str, str]]]:
    """(scheme, value) pairs per entity, beyond the ones entity records hold themselves."""
    out: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for entity, scheme, value in con.execute(
        "SELECT DISTINCT entity, scheme, value FROM entity_identifiers "
        "WHERE scheme NOT IN ('uscc', 'lei', 'wikidata', 'ticker') ORDER BY entity, scheme, value"
    ).fetchall():
        out[entity].append((scheme, value))
    return out
