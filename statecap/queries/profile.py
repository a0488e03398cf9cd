"""One entity as a page shows it: its record, identifiers, sources and the lists it is on."""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb

from statecap.model.taxonomy import load_taxonomy
from statecap.store.query import get_entity, record_sources


def entity_profile(
    con: duckdb.DuckDBPyConnection, entity: str, as_of: dt.date | None = None
) -> dict[str, Any]:
    """`statecap.store.query.get_entity` plus ``is_state`` and the entity's designations.

    Each designation says whether it is in force on `as_of` (today when None): started on or
    before that day and not ended by it.
    """
    tax = load_taxonomy()
    d = get_entity(con, entity)
    day = as_of if as_of is not None else dt.date.today()
    d["is_state"] = d["kind"] in tax.state_kinds
    designations = []
    for did, lst, start, end, authority, citation in con.execute(
        'SELECT id, list, start, "end", authority, citation FROM designations WHERE entity = ? ORDER BY start, id',
        [d["id"]],
    ).fetchall():
        designations.append(
            {
                "id": did,
                "list": lst,
                "list_name": tax.lists[lst].name if lst in tax.lists else lst,
                "start": start.isoformat(),
                "end": end.isoformat() if end is not None else None,
                "authority": authority,
                "citation": citation,
                "active": start <= day and (end is None or day < end),
                "sources": record_sources(con, "designations", did),
            }
        )
    d["designations"] = designations
    return d
