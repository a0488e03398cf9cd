"""The dataset audit: coverage by sector and mechanism, sourcing, confidence, orphans.

A record counts towards a (sector, mechanism) cell when it is evidence of state technology
investment in that sector through that mechanism:

- investments: their own mechanism; their sector, else the investee's sectors;
- acquisitions: ``mergers_acquisitions``; their sector, else the target's (else the acquirer's);
- joint ventures: ``joint_venture``; their sector, else the JV entity's or the partners' sectors;
- spending: the category's mechanism (categories.yaml); its sector, else the entity's sectors;
- partnerships: the kind's mechanism; their sector, else the parties' sectors;
- stakes held by state funds (``guidance_fund``) or by state organs and SOEs (``direct_equity``),
  in the owned entity's sectors.

Sub-sectors roll up to their top-level sector; a record with several sectors counts once in each.
"""

from __future__ import annotations

from typing import Any

import duckdb
import pandas as pd

from statecap.model.taxonomy import load_taxonomy
from statecap.store.db import scalar
from statecap.store.schema import COUNTED

NO_OWNER_EXEMPT_KINDS = ("state_organ", "foreign_government", "person")


def coverage_frame(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """One row per (record_type, record_id, sector, mechanism) of attributed evidence."""
    tax = load_taxonomy()
    cat_mech = pd.DataFrame(
        [(c, t.extra.get("mechanism")) for c, t in tax.spending_categories.items()],
        columns=["code", "mechanism"],
    )
    kind_mech = pd.DataFrame(
        [(c, t.extra.get("mechanism")) for c, t in tax.partnership_kinds.items()],
        columns=["code", "mechanism"],
    )
    con.register("_cat_mech", cat_mech)
    con.register("_kind_mech", kind_mech)
    try:
        return con.execute(
            """
            WITH ent_sec AS (SELECT id, unnest(sectors) AS sector FROM entities),
            ev AS (
                SELECT 'investments' AS record_type, i.id AS record_id, i.mechanism,
                       coalesce(i.sector, es.sector) AS sector
                FROM investments i LEFT JOIN ent_sec es ON es.id = i.investee AND i.sector IS NULL
              UNION ALL
                SELECT 'acquisitions', a.id, 'mergers_acquisitions',
                       coalesce(a.sector, ts.sector, acs.sector)
                FROM acquisitions a
                LEFT JOIN ent_sec ts ON ts.id = a.target AND a.sector IS NULL
                LEFT JOIN ent_sec acs ON acs.id = a.acquirer AND a.sector IS NULL AND NOT EXISTS
                    (SELECT 1 FROM ent_sec x WHERE x.id = a.target)
              UNION ALL
                SELECT 'joint_ventures', j.id, 'joint_venture', coalesce(j.sector, es.sector, ps.sector)
                FROM joint_ventures j
                LEFT JOIN ent_sec es ON es.id = j.entity AND j.sector IS NULL
                LEFT JOIN (SELECT p.jv, s.sector FROM jv_partners p JOIN ent_sec s ON s.id = p.partner) ps
                    ON ps.jv = j.id AND j.sector IS NULL AND es.sector IS NULL
              UNION ALL
                SELECT 'spending', s.id, m.mechanism, coalesce(s.sector, es.sector)
                FROM spending s JOIN _cat_mech m ON m.code = s.category
                LEFT JOIN ent_sec es ON es.id = s.entity AND s.sector IS NULL
              UNION ALL
                SELECT 'partnerships', p.id, m.mechanism, coalesce(p.sector, ps.sector)
                FROM partnerships p JOIN _kind_mech m ON m.code = p.kind
                LEFT JOIN (SELECT pp.partnership, s.sector FROM partnership_parties pp
                           JOIN ent_sec s ON s.id = pp.party) ps
                    ON ps.partnership = p.id AND p.sector IS NULL
              UNION ALL
                SELECT 'stakes', st.id,
                       CASE WHEN o.kind = 'state_fund' THEN 'guidance_fund' ELSE 'direct_equity' END,
                       es.sector
                FROM stakes st JOIN entities o ON o.id = st.owner
                JOIN ent_sec es ON es.id = st.owned
                WHERE o.kind IN ('state_fund', 'state_organ', 'central_soe', 'local_soe')
            )
            SELECT DISTINCT record_type, record_id, split_part(sector, '.', 1) AS sector, mechanism
            FROM ev WHERE sector IS NOT NULL AND mechanism IS NOT NULL
            ORDER BY ALL
            """
        ).fetch_df()
    finally:
        con.unregister("_cat_mech")
        con.unregister("_kind_mech")


def audit(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Everything `statecap data audit` reports."""
    tax = load_taxonomy()
    records = {t: int(scalar(con, f"SELECT count(*) FROM {t}")) for t in COUNTED}
    unsourced_by_type: dict[str, int] = {}
    for t in COUNTED:
        if t == "sources":
            continue
        unsourced_by_type[t] = int(
            scalar(
                con,
                f"SELECT count(*) FROM {t} r WHERE NOT EXISTS (SELECT 1 FROM record_sources s "
                f"WHERE s.record_type = '{t}' AND s.record_id = r.id)",
            )
        )
    total = sum(v for k, v in records.items() if k != "sources")
    unsourced = sum(unsourced_by_type.values())

    cov = coverage_frame(con)
    cells = cov.groupby(["sector", "mechanism"]).size().to_dict() if len(cov) else {}
    coverage = [
        {"sector": s, "mechanism": m, "records": int(cells.get((s, m), 0))}
        for s in tax.top_sectors
        for m in tax.mechanisms
    ]
    by_sector = {s: int(cov[cov["sector"] == s]["record_id"].nunique()) for s in tax.top_sectors}
    by_mechanism = {m: int(cov[cov["mechanism"] == m]["record_id"].nunique()) for m in tax.mechanisms}

    publishers = [
        {"publisher": p, "sources": int(n), "records": int(r)}
        for p, n, r in con.execute(
            """SELECT s.publisher, count(DISTINCT s.id), count(rs.record_id) FROM sources s
               LEFT JOIN record_sources rs ON rs.source = s.id GROUP BY 1 ORDER BY 3 DESC, 1"""
        ).fetchall()
    ]
    confidence: dict[str, int] = {}
    for t in COUNTED:
        for c, n in con.execute(
            f"SELECT coalesce(confidence, 'unset'), count(*) FROM {t} GROUP BY 1"
        ).fetchall():
            confidence[c] = confidence.get(c, 0) + int(n)
    exempt = ", ".join(f"'{k}'" for k in NO_OWNER_EXEMPT_KINDS)
    orphans = [
        {"id": i, "name": n, "kind": k}
        for i, n, k in con.execute(
            f"""SELECT id, name, kind FROM entities e WHERE kind NOT IN ({exempt})
                AND NOT EXISTS (SELECT 1 FROM stakes s WHERE s.owned = e.id) ORDER BY id"""
        ).fetchall()
    ]
    missing_zh = [
        r[0]
        for r in con.execute(
            "SELECT id FROM entities WHERE country = 'cn' AND kind <> 'person' AND (name_zh IS NULL OR name_zh = '') "
            "ORDER BY id"
        ).fetchall()
    ]
    relationships = sum(records[t] for t in ("stakes", "investments", "acquisitions", "joint_ventures",
                                             "partnerships", "designations"))  # fmt: skip
    return {
        "records": total,
        "unsourced": unsourced,
        "sourced_share": 1.0 if total == 0 else (total - unsourced) / total,
        "records_by_type": records,
        "unsourced_by_type": unsourced_by_type,
        "relationships": relationships,
        "coverage": coverage,
        "records_by_sector": by_sector,
        "records_by_mechanism": by_mechanism,
        "sources_by_publisher": publishers,
        "records_by_confidence": dict(sorted(confidence.items())),
        "entities_without_owner_path": orphans,
        "chinese_entities_without_name_zh": missing_zh,
    }
