"""An entity's direct ownership neighbourhood: the stakes into it (owners) or out of it (holdings).

This is what the dashboard's expandable ownership graph shows one click at a time. Every edge
is one stake record as stored, valid on the day asked about, with its share bounds and sources;
large neighbourhoods are paged (``limit``, ``offset``) in a stable order (largest upper bound,
then largest lower bound, then stake id).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb

from statecap.errors import UsageError
from statecap.model.taxonomy import load_taxonomy
from statecap.store.db import scalar
from statecap.store.query import resolve_entity

DIRECTIONS = ("owners", "holdings")
MAX_LIMIT = 500
STAKE_TYPES = ("equity", "voting")


def neighbourhood(
    con: duckdb.DuckDBPyConnection,
    entity: str,
    direction: str = "owners",
    as_of: dt.date | None = None,
    limit: int = 50,
    offset: int = 0,
    stake_type: str = "equity",
) -> dict[str, Any]:
    """The stakes held in `entity` (direction ``owners``) or held by it (``holdings``).

    Args:
        con: an open store.
        entity: an id or identifier.
        direction: ``owners`` (who holds it) or ``holdings`` (what it holds).
        as_of: only stakes valid on this day (``valid_from <= day < valid_to``); None: today.
        limit: at most this many edges (1..500); offset: skip this many first.
        stake_type: ``equity`` or ``voting``.

    Returns:
        ``{"entity", "direction", "as_of", "total", "limit", "offset", "edges": [...]}``; each
        edge names the stake, both parties (id, name, kind, whether a state organ), the share
        as ``{"lo", "hi"}`` percent, its kind, whether direct, its validity and its sources.
    """
    if direction not in DIRECTIONS:
        raise UsageError(f"direction {direction!r}: choose one of {', '.join(DIRECTIONS)}")
    if stake_type not in STAKE_TYPES:
        raise UsageError(f"stake type {stake_type!r}: choose one of {', '.join(STAKE_TYPES)}")
    if not 1 <= limit <= MAX_LIMIT:
        raise UsageError(f"limit must be between 1 and {MAX_LIMIT}")
    if offset < 0:
        raise UsageError("offset must be 0 or more")
    eid = resolve_entity(con, entity)
    day = as_of if as_of is not None else dt.date.today()
    side, other = ("owned", "owner") if direction == "owners" else ("owner", "owned")
    where = f"""s.{side} = $eid AND s.type = $type
        AND (s.valid_from IS NULL OR s.valid_from <= $day) AND (s.valid_to IS NULL OR $day < s.valid_to)"""
    params = {"eid": eid, "type": stake_type, "day": day}
    total = int(scalar(con, f"SELECT count(*) FROM stakes s WHERE {where}", params))
    cur = con.execute(
        f"""SELECT s.id, s.owner, o.name, o.kind, s.owned, d.name, d.kind, s.share_lo, s.share_hi,
                   s.share_kind, s.type, s.direct, s.valid_from, s.valid_to, s.confidence, s.note,
                   (SELECT count(*) FROM stakes x WHERE x.owned = s.{other} AND x.type = $type
                      AND (x.valid_from IS NULL OR x.valid_from <= $day)
                      AND (x.valid_to IS NULL OR $day < x.valid_to)) AS other_owners,
                   (SELECT count(*) FROM stakes x WHERE x.owner = s.{other} AND x.type = $type
                      AND (x.valid_from IS NULL OR x.valid_from <= $day)
                      AND (x.valid_to IS NULL OR $day < x.valid_to)) AS other_holdings
            FROM stakes s JOIN entities o ON o.id = s.owner JOIN entities d ON d.id = s.owned
            WHERE {where}
            ORDER BY s.share_hi DESC, s.share_lo DESC, s.id
            LIMIT $limit OFFSET $offset""",
        {**params, "limit": limit, "offset": offset},
    )
    rows = cur.fetchall()
    state_kinds = load_taxonomy().state_kinds
    ids = [r[0] for r in rows]
    sources: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
    if ids:
        for rid, sid, url, publisher, title, accessed in con.execute(
            """SELECT r.record_id, s.id, s.url, s.publisher, s.title, s.accessed FROM record_sources r
               JOIN sources s ON s.id = r.source
               WHERE r.record_type = 'stakes' AND list_contains($ids, r.record_id) ORDER BY r.record_id, s.id""",
            {"ids": ids},
        ).fetchall():
            sources[rid].append(
                {
                    "id": sid,
                    "url": url,
                    "publisher": publisher,
                    "title": title,
                    "accessed": accessed.isoformat() if accessed is not None else None,
                }
            )
    edges = []
    for (
        sid, owner, owner_name, owner_kind, owned, owned_name, owned_kind, lo, hi, kind, typ, direct,
        vfrom, vto, confidence, note, n_owners, n_holdings,
    ) in rows:  # fmt: skip
        edges.append(
            {
                "stake": sid,
                "owner": {
                    "id": owner,
                    "name": owner_name,
                    "kind": owner_kind,
                    "is_state": owner_kind in state_kinds,
                },
                "owned": {
                    "id": owned,
                    "name": owned_name,
                    "kind": owned_kind,
                    "is_state": owned_kind in state_kinds,
                },
                "share": {"lo": float(lo), "hi": float(hi)},
                "share_kind": kind,
                "type": typ,
                "direct": bool(direct),
                "valid_from": vfrom.isoformat() if vfrom is not None else None,
                "valid_to": vto.isoformat() if vto is not None else None,
                "confidence": confidence,
                "note": note,
                "neighbour_owners": int(n_owners),
                "neighbour_holdings": int(n_holdings),
                "sources": sources[sid],
            }
        )
    return {
        "entity": eid,
        "direction": direction,
        "as_of": day.isoformat(),
        "total": total,
        "limit": limit,
        "offset": offset,
        "edges": edges,
    }
