"""Questions asked of the store directly: counts, entity search, entity lookup, id resolution."""

from __future__ import annotations

from typing import Any

import duckdb

from statecap.errors import UsageError
from statecap.store.build import normalize_term
from statecap.store.db import one_row, scalar
from statecap.store.schema import COUNTED

STATS_KEYS = (
    "entities",
    "stakes",
    "investments",
    "acquisitions",
    "joint_ventures",
    "spending",
    "partnerships",
    "designations",
    "policy_events",
    "sources",
)


def stats(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Record counts per type and how many records have no source."""
    counts = {t: int(scalar(con, f"SELECT count(*) FROM {t}")) for t in COUNTED}
    ordered = {k: counts[k] for k in STATS_KEYS} | {k: v for k, v in counts.items() if k not in STATS_KEYS}
    unsourced = 0
    for t in COUNTED:
        if t == "sources":
            continue
        unsourced += int(
            scalar(
                con,
                f"SELECT count(*) FROM {t} r WHERE NOT EXISTS "
                f"(SELECT 1 FROM record_sources s WHERE s.record_type = '{t}' AND s.record_id = r.id)",
            )
        )
    meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
    return {"counts": ordered, "unsourced_records": unsourced, "store": meta}


ENTITY_COLUMNS = (
    "id, name, name_zh, kind, sectors, aliases, country, level, region, uscc, lei, tickers, wikidata, "
    "description, founded, dissolved"
)


def _entity_dict(row: tuple[Any, ...], cols: list[str]) -> dict[str, Any]:
    d = dict(zip(cols, row, strict=True))
    for k in ("founded", "dissolved"):
        if d.get(k) is not None:
            d[k] = d[k].isoformat()
    for k in ("sectors", "aliases", "tickers"):
        d[k] = list(d.get(k) or [])
    return d


def search_entities(con: duckdb.DuckDBPyConnection, query: str, limit: int = 10) -> list[dict[str, Any]]:
    """Entities matching `query` by id, name (English or Chinese), alias or identifier, best first.

    Ranking: exact matches before prefix matches before substring matches; within each, ids before
    names before aliases; then entities with more ownership links (the better-known ones) first.
    """
    q = normalize_term(query)
    if not q:
        raise UsageError("empty search query")
    if limit < 1:
        raise UsageError("limit must be at least 1")
    sql = f"""
        WITH hits AS (
            SELECT entity,
                   min(CASE WHEN term = $q THEN weight
                            WHEN starts_with(term, $q) THEN 10 + weight
                            ELSE 20 + weight END) AS score
            FROM entity_terms WHERE contains(term, $q) GROUP BY entity
        ), degree AS (
            SELECT e, count(*) AS n FROM (
                SELECT owner AS e FROM stakes UNION ALL SELECT owned AS e FROM stakes
            ) WHERE e IN (SELECT entity FROM hits) GROUP BY e
        )
        SELECT {ENTITY_COLUMNS}, h.score
        FROM hits h JOIN entities ON entities.id = h.entity LEFT JOIN degree d ON d.e = h.entity
        ORDER BY h.score, coalesce(d.n, 0) DESC, length(entities.name), entities.id
        LIMIT $limit
    """
    cur = con.execute(sql, {"q": q, "limit": limit})
    cols = [c[0] for c in cur.description]
    out = []
    for row in cur.fetchall():
        d = _entity_dict(row, cols)
        score = d.pop("score")
        d["match"] = "exact" if score < 10 else ("prefix" if score < 20 else "contains")
        out.append(d)
    return out


def resolve_entity(con: duckdb.DuckDBPyConnection, key: str) -> str:
    """The statecap id for `key`: an id, or an identifier (USCC, LEI, ticker, BODS/FtM id).

    Raises UsageError naming close matches when nothing matches exactly.
    """
    row = one_row(con, "SELECT id FROM entities WHERE id = ?", [key])
    if row is not None:
        return str(row[0])
    rows = con.execute("SELECT DISTINCT entity FROM entity_identifiers WHERE value = ?", [key]).fetchall()
    if len(rows) == 1:
        return str(rows[0][0])
    if len(rows) > 1:
        raise UsageError(f"{key!r} is an identifier of several entities: {', '.join(r[0] for r in rows)}")
    suggestions: list[dict[str, Any]] = []
    if normalize_term(key):
        suggestions = search_entities(con, key, limit=5)
    hint = f"; did you mean {', '.join(s['id'] for s in suggestions)}?" if suggestions else ""
    raise UsageError(f"no entity with id or identifier {key!r}{hint}")


def get_entity(con: duckdb.DuckDBPyConnection, entity_id: str) -> dict[str, Any]:
    """One entity with its identifiers and sources."""
    eid = resolve_entity(con, entity_id)
    cur = con.execute(f"SELECT {ENTITY_COLUMNS} FROM entities WHERE id = ?", [eid])
    cols = [c[0] for c in cur.description]
    rows = cur.fetchall()
    assert rows
    row = rows[0]
    d = _entity_dict(row, cols)
    d["identifiers"] = [
        {"scheme": s, "value": v}
        for s, v in con.execute(
            "SELECT scheme, value FROM entity_identifiers WHERE entity = ? ORDER BY scheme, value", [eid]
        ).fetchall()
    ]
    d["sources"] = record_sources(con, "entities", eid)
    return d


def record_sources(con: duckdb.DuckDBPyConnection, record_type: str, record_id: str) -> list[dict[str, Any]]:
    """The sources behind one record."""
    cur = con.execute(
        """SELECT s.id, s.url, s.publisher, s.title, s.accessed FROM record_sources r
           JOIN sources s ON s.id = r.source WHERE r.record_type = ? AND r.record_id = ? ORDER BY s.id""",
        [record_type, record_id],
    )
    cols = [c[0] for c in cur.description]
    out = []
    for row in cur.fetchall():
        d = dict(zip(cols, row, strict=True))
        if d["accessed"] is not None:
            d["accessed"] = d["accessed"].isoformat()
        out.append(d)
    return out
