"""The atlas at a glance: a dict that the terminal summary and the report both format."""

from __future__ import annotations

from typing import Any

import duckdb

from statecap.model.taxonomy import load_taxonomy
from statecap.store.query import stats


def atlas_summary(con: duckdb.DuckDBPyConnection, top: int = 10) -> dict[str, Any]:
    """Counts, sector coverage, designations by list, the largest state shares and the store's provenance.

    ``top_state_shares`` is `statecap state-share --top N` (today's ownership graph): the `top`
    entities with the largest integrated state shares, state organs left out.
    """
    from statecap.analytics.ownership import state_share_report

    tax = load_taxonomy()
    st = stats(con)
    sector_rows = con.execute(
        """
        SELECT split_part(s, '.', 1) AS sector, count(DISTINCT id) AS entities
        FROM (SELECT id, unnest(sectors) AS s FROM entities) GROUP BY 1 ORDER BY 2 DESC, 1
        """
    ).fetchall()
    sectors = [
        {"sector": s, "name": tax.sectors[s].name if s in tax.sectors else s, "entities": n}
        for s, n in sector_rows
    ]
    kinds = [
        {"kind": k, "entities": n}
        for k, n in con.execute(
            "SELECT kind, count(*) FROM entities GROUP BY 1 ORDER BY 2 DESC, 1"
        ).fetchall()
    ]
    lists = [
        {"list": lst, "name": tax.lists[lst].name if lst in tax.lists else lst, "entities": n}
        for lst, n in con.execute(
            "SELECT list, count(DISTINCT entity) FROM designations GROUP BY 1 ORDER BY 2 DESC, 1"
        ).fetchall()
    ]
    publishers = [
        {"publisher": p, "sources": n}
        for p, n in con.execute(
            "SELECT publisher, count(*) FROM sources GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 15"
        ).fetchall()
    ]
    shares = state_share_report(con, top=top)
    return {
        "counts": st["counts"],
        "unsourced_records": st["unsourced_records"],
        "entity_kinds": kinds,
        "sectors": sectors,
        "designation_lists": lists,
        "top_publishers": publishers,
        "top_state_shares": [
            {
                "id": r["id"],
                "name": r["name"],
                "kind": r["kind"],
                "state_share": r["state_share"],
                "state_class": r["state_class"],
            }
            for r in shares["results"]
        ],
        "store": st["store"],
    }
