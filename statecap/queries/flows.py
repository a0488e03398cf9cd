"""Where state money goes: flows read from the store and attributed with the ownership core.

Counting rules (also in docs/flows.md):

1. Money paid into a state intermediary — a state fund, a policy bank, or a state-owned holding
   company with no technology sector of its own (CIC, Central Huijin, Wutongshu) — is not a flow
   by itself: it is counted once, where the intermediary invests, whose state part comes from the
   intermediary's state share, which in turn comes from the organs holding it.
   ``fund_commitments`` reports what was paid into intermediaries so it can be compared with
   what has been traced to portfolio companies.
2. Each flow's state part is its amount times its payers' state share **on the flow's date**
   (investment date, completion of an acquisition, start of a JV or partnership, 1 July of a
   spending year). ``--as-of`` keeps flows dated on or before that date.
3. A flow with several sectors is split equally between them; one without a sector is kept under
   ``unassigned`` so totals add up.
4. Blocked, abandoned and pending acquisitions move no money: they are left out of flows and
   counted by the geopolitical indicators instead.
5. Capital injected into an operating company and that company's own R&D or capex are distinct
   flows (money is fungible inside a firm, so no netting is attempted there).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from statecap.analytics import flows as kernel
from statecap.errors import UsageError
from statecap.model.taxonomy import load_taxonomy
from statecap.queries.shares import SharesAtDates
from statecap.store.query import resolve_entity

ALLOWED_BY = ("sector", "sub_sector", "mechanism", "year", "level", "record_type", "currency")
CURRENCIES = ("CNY", "USD", "EUR", "HKD")
OWN_MONEY_CATEGORIES = ("subsidy_received", "tax_incentive", "policy_loan")
DEPLOYED_ACQUISITIONS = ("completed", "divested")

_RECORDS_SQL = """
WITH ent_sec AS (SELECT id, unnest(sectors) AS sector FROM entities),
fund AS {INTERMEDIARY},
rec AS (
    SELECT 'investments' AS record_type, i.id AS record_id, i.date AS date, i.mechanism, i.amount,
           i.currency, i.investee AS counterparty, i.sector AS own_sector, i.investee AS sector_from
    FROM investments i
    WHERE i.amount IS NOT NULL AND (i.investee IS NULL OR i.investee NOT IN (SELECT id FROM fund))
  UNION ALL
    SELECT 'spending', s.id, make_date(s.year, 7, 1), m.mechanism, s.amount, s.currency, s.entity,
           s.sector, s.entity
    FROM spending s JOIN _cat_mech m ON m.code = s.category
  UNION ALL
    SELECT 'acquisitions', a.id, coalesce(a.closed, a.announced), 'mergers_acquisitions', a.value,
           a.currency, a.target, a.sector,
           CASE WHEN EXISTS (SELECT 1 FROM ent_sec x WHERE x.id = a.target) THEN a.target ELSE a.acquirer END
    FROM acquisitions a
    WHERE a.value IS NOT NULL AND a.status IN ('completed', 'divested')
  UNION ALL
    SELECT 'joint_ventures', j.id, j.valid_from, 'joint_venture', j.amount, j.currency, j.entity, j.sector,
           j.entity
    FROM joint_ventures j WHERE j.amount IS NOT NULL
  UNION ALL
    SELECT 'partnerships', p.id, p.valid_from, m.mechanism, p.amount, p.currency, NULL, p.sector, NULL
    FROM partnerships p JOIN _kind_mech m ON m.code = p.kind WHERE p.amount IS NOT NULL
)
SELECT * FROM rec ORDER BY record_type, record_id
"""


def _register_codes(con: duckdb.DuckDBPyConnection) -> None:
    tax = load_taxonomy()
    con.register(
        "_cat_mech",
        pd.DataFrame([(c, t.extra.get("mechanism")) for c, t in tax.spending_categories.items()],
                     columns=["code", "mechanism"]),
    )  # fmt: skip
    con.register(
        "_kind_mech",
        pd.DataFrame([(c, t.extra.get("mechanism")) for c, t in tax.partnership_kinds.items()],
                     columns=["code", "mechanism"]),
    )  # fmt: skip


def _unregister_codes(con: duckdb.DuckDBPyConnection) -> None:
    con.unregister("_cat_mech")
    con.unregister("_kind_mech")


def fx_rates(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Annual average rates from observations ``fx_cny_per_<currency>``: CNY per unit."""
    return con.execute(
        """SELECT upper(substr(series, 12)) AS currency, year, avg(value) AS cny_per_unit
           FROM observations WHERE series LIKE 'fx_cny_per_%' GROUP BY 1, 2 ORDER BY 1, 2"""
    ).fetch_df()


def _sectors(con: duckdb.DuckDBPyConnection, records: pd.DataFrame) -> pd.DataFrame:
    """One row per (record, sub_sector) with the equal-split weight."""
    ent = con.execute("SELECT id, sectors FROM entities").fetch_df()
    # a NULL sectors list comes back as None, NaN or NA depending on the pandas version: keep lists only
    ent_sectors = {
        i: s
        for i, s in zip(ent["id"], ent["sectors"], strict=True)
        if isinstance(s, (list, tuple, np.ndarray))
    }
    extra = _party_sectors(con)
    subs: list[list[str]] = []
    for own, src, rt, rid in zip(
        records["own_sector"],
        records["sector_from"],
        records["record_type"],
        records["record_id"],
        strict=True,
    ):
        if isinstance(own, str):
            subs.append([own])
        elif isinstance(src, str) and ent_sectors.get(src) is not None and len(ent_sectors[src]):
            subs.append(sorted(set(ent_sectors[src])))
        elif (rt, rid) in extra:
            subs.append(extra[(rt, rid)])
        else:
            subs.append(["unassigned"])
    out = records.assign(sub_sector=subs).explode("sub_sector")
    k = out.groupby(["record_type", "record_id"])["sub_sector"].transform("size")
    out["weight"] = 1.0 / k
    out["sector"] = out["sub_sector"].str.split(".").str[0]
    return out.reset_index(drop=True)


def _party_sectors(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], list[str]]:
    """Sectors of JV partners and partnership parties, for records without a sector of their own."""
    rows = con.execute(
        """SELECT 'joint_ventures', p.jv, list_distinct(flatten(list(e.sectors)))
           FROM jv_partners p JOIN entities e ON e.id = p.partner GROUP BY 1, 2
           UNION ALL
           SELECT 'partnerships', pp.partnership, list_distinct(flatten(list(e.sectors)))
           FROM partnership_parties pp JOIN entities e ON e.id = pp.party GROUP BY 1, 2"""
    ).fetchall()
    return {(rt, rid): sorted(s) for rt, rid, s in rows if s}


def _payers(con: duckdb.DuckDBPyConnection, records: pd.DataFrame) -> pd.DataFrame:
    """Who pays each record, with weights 0..1: (record_type, record_id, payer, w_lo, w_hi)."""
    parts = []
    inv = con.execute(
        "SELECT 'investments' AS record_type, id AS record_id, investor AS payer FROM investments"
    )
    parts.append(inv.fetch_df().assign(w_lo=1.0, w_hi=1.0))
    own = ", ".join(f"'{c}'" for c in OWN_MONEY_CATEGORIES)
    sp = con.execute(
        f"""SELECT 'spending' AS record_type, id AS record_id,
                   CASE WHEN category IN ({own}) THEN '{kernel.STATE_PAYER}' ELSE entity END AS payer
            FROM spending"""
    ).fetch_df()
    parts.append(sp.assign(w_lo=1.0, w_hi=1.0))
    acq = con.execute(
        "SELECT 'acquisitions' AS record_type, id AS record_id, acquirer AS payer FROM acquisitions"
    )
    parts.append(acq.fetch_df().assign(w_lo=1.0, w_hi=1.0))
    jv = con.execute(
        """SELECT 'joint_ventures' AS record_type, jv AS record_id, partner AS payer,
                  share_lo / 100 AS w_lo, share_hi / 100 AS w_hi FROM jv_partners"""
    ).fetch_df()
    parts.append(jv)
    pt = con.execute(
        """SELECT 'partnerships' AS record_type, partnership AS record_id, party AS payer,
                  1.0 / count(*) OVER (PARTITION BY partnership) AS w_lo,
                  1.0 / count(*) OVER (PARTITION BY partnership) AS w_hi
           FROM partnership_parties"""
    ).fetch_df()
    parts.append(pt)
    payers = pd.concat(parts, ignore_index=True)
    keys = records[["record_type", "record_id"]].drop_duplicates()
    return payers.merge(keys, on=["record_type", "record_id"], how="inner")


def flow_atoms(
    con: duckdb.DuckDBPyConnection,
    as_of: dt.date | None = None,
    currency: str = "CNY",
    shares: SharesAtDates | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Every flow atom with its converted amount and state part, and each atom's payers.

    Returns (atoms, payers, notes). Atom columns: record_type, record_id, date, year, sector,
    sub_sector, mechanism, counterparty, amount_source, currency_source, amount (converted),
    rate_year, state_lo, state_hi. Payer columns: atom, payer, w_lo, w_hi, s_lo, s_hi.
    """
    currency = currency.upper()
    if currency not in CURRENCIES:
        raise UsageError(f"--currency {currency!r}: choose one of {', '.join(CURRENCIES)}")
    _register_codes(con)
    try:
        records = con.execute(_RECORDS_SQL.replace("{INTERMEDIARY}", INTERMEDIARY_SQL)).fetch_df()
    finally:
        _unregister_codes(con)
    notes: dict[str, Any] = {"undated_records": [], "unconverted_records": [], "rate_fallbacks": 0}
    undated = records["date"].isna()
    notes["undated_records"] = sorted(
        records.loc[undated, "record_type"] + ":" + records.loc[undated, "record_id"]
    )
    records = records[~undated].copy()
    records["date"] = pd.to_datetime(records["date"])
    if as_of is not None:
        records = records[records["date"] <= pd.Timestamp(as_of)]
    records["year"] = records["date"].dt.year.astype(int)
    if records.empty:
        return _empty_atoms(currency), _empty_payers(), notes

    atoms = _sectors(con, records)
    atoms["amount_source"] = atoms["amount"] * atoms["weight"]
    atoms["currency_source"] = atoms["currency"]
    converted, rate_year = kernel.convert(
        atoms["amount_source"].to_numpy(),
        atoms["currency"].to_numpy(),
        atoms["year"].to_numpy(),
        fx_rates(con),
        currency,
    )
    atoms["amount"] = converted
    atoms["rate_year"] = rate_year
    atoms["currency"] = currency
    bad = atoms["amount"].isna()
    notes["unconverted_records"] = sorted(
        set(atoms.loc[bad, "record_type"] + ":" + atoms.loc[bad, "record_id"])
    )
    notes["rate_fallbacks"] = int(((atoms["rate_year"] != atoms["year"]) & ~bad).sum())
    atoms = atoms[~bad].reset_index(drop=True)
    atoms = atoms.drop(columns=["own_sector", "sector_from", "weight"])

    payers = _payers(con, atoms)
    atom_key = atoms[["record_type", "record_id"]].reset_index().rename(columns={"index": "atom"})
    payers = atom_key.merge(payers, on=["record_type", "record_id"], how="inner")
    shares = shares if shares is not None else SharesAtDates(con)
    payers["date"] = atoms["date"].to_numpy()[payers["atom"].to_numpy()]
    s_lo, s_hi = shares.lookup(payers["payer"].to_numpy(), payers["date"].to_numpy())
    own = payers["payer"].to_numpy() == kernel.STATE_PAYER
    payers["s_lo"] = np.where(own, 1.0, s_lo)
    payers["s_hi"] = np.where(own, 1.0, s_hi)
    lo = payers["w_lo"].to_numpy() * payers["s_lo"].to_numpy()
    hi = payers["w_hi"].to_numpy() * payers["s_hi"].to_numpy()
    f_lo, f_hi = kernel.atom_factors(payers, lo, hi, len(atoms))
    atoms["state_lo"] = atoms["amount"] * f_lo
    atoms["state_hi"] = atoms["amount"] * f_hi
    return atoms, payers, notes


ATOM_COLUMNS = {
    "record_type": str, "record_id": str, "date": "datetime64[ns]", "mechanism": str, "amount": float,
    "currency": str, "counterparty": object, "year": int, "sub_sector": str, "sector": str,
    "amount_source": float, "currency_source": str, "rate_year": int, "state_lo": float, "state_hi": float,
}  # fmt: skip
PAYER_COLUMNS = {
    "atom": int, "record_type": str, "record_id": str, "payer": str, "w_lo": float, "w_hi": float,
    "date": "datetime64[ns]", "s_lo": float, "s_hi": float,
}  # fmt: skip


def _empty_atoms(currency: str) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in ATOM_COLUMNS.items()})


def _empty_payers() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in PAYER_COLUMNS.items()})


INTERMEDIARY_SQL = """(SELECT id FROM entities WHERE kind IN ('state_fund', 'policy_bank')
    OR (kind IN ('central_soe', 'local_soe') AND len(coalesce(sectors, [])) = 0))"""


def fund_commitments(con: duckdb.DuckDBPyConnection, as_of: dt.date | None, currency: str) -> dict[str, Any]:
    """Money paid into state intermediaries, beside what their recorded investments account for."""
    rows = con.execute(
        f"""SELECT i.id, i.investor, i.investee AS fund, i.amount, i.currency, i.date
           FROM investments i WHERE i.investee IN {INTERMEDIARY_SQL}
           AND i.amount IS NOT NULL AND i.date IS NOT NULL ORDER BY i.id"""
    ).fetch_df()
    if as_of is not None:
        rows = rows[pd.to_datetime(rows["date"]) <= pd.Timestamp(as_of)]
    if rows.empty:
        return {"committed": 0.0, "records": []}
    years = pd.to_datetime(rows["date"]).dt.year.to_numpy()
    conv, _ = kernel.convert(
        rows["amount"].to_numpy(), rows["currency"].to_numpy(), years, fx_rates(con), currency
    )
    return {"committed": float(np.nansum(conv)), "records": [f"investments:{r}" for r in rows["id"]]}


def flows_frame(
    con: duckdb.DuckDBPyConnection,
    by: list[str],
    year_from: int | None = None,
    year_to: int | None = None,
    as_of: dt.date | None = None,
    currency: str = "CNY",
    engine: Any = None,
    spark_master: str | None = "local[*]",
) -> pd.DataFrame:
    """Flows aggregated by `by` as a DataFrame (the Python API behind `statecap flows`)."""
    return flows_report(con, by, year_from, year_to, as_of, currency, engine, spark_master)["frame"]


def _check_by(by: list[str]) -> list[str]:
    if not by:
        raise UsageError("--by needs at least one of " + ", ".join(ALLOWED_BY))
    bad = [b for b in by if b not in ALLOWED_BY]
    if bad:
        raise UsageError(f"--by {','.join(bad)}: choose from {', '.join(ALLOWED_BY)}")
    if len(set(by)) != len(by):
        raise UsageError("--by lists a key twice")
    return by


def flows_report(
    con: duckdb.DuckDBPyConnection,
    by: list[str],
    year_from: int | None = None,
    year_to: int | None = None,
    as_of: dt.date | None = None,
    currency: str = "CNY",
    engine: Any = None,
    spark_master: str | None = "local[*]",
) -> dict[str, Any]:
    """Everything `statecap flows --json` prints, plus the DataFrame under ``frame``.

    `engine`: ``local`` (default), ``spark`` or an `statecap.engines.Engine` (the store is exported
    to Parquet for it; the answer carries ``engine``).
    """
    by = _check_by(by)
    if year_from is not None and year_to is not None and year_from > year_to:
        raise UsageError(f"--from {year_from} is after --to {year_to}")
    from statecap.engines.reports import engine_for, is_local

    if not is_local(engine):
        with engine_for(engine, con, spark_master) as (eng, source):
            return eng.flows_report(source, by, year_from, year_to, as_of, currency)
    shares = SharesAtDates(con, with_levels="level" in by)
    atoms, payers, notes = flow_atoms(con, as_of, currency, shares)
    if year_from is not None:
        keep = atoms["year"] >= year_from
        atoms, payers = _subset(atoms, payers, keep)
    if year_to is not None:
        keep = atoms["year"] <= year_to
        atoms, payers = _subset(atoms, payers, keep)
    if "level" in by:
        organ_payers = payers.assign(row=np.arange(len(payers)))
        level_lo, level_hi = shares.level_lookup(payers["payer"].to_numpy(), payers["date"].to_numpy())
        organ_payers.loc[payers["payer"] == kernel.STATE_PAYER, "row"] = -1
        frame_atoms = kernel.split_by_level(atoms, organ_payers, level_lo, level_hi)
    else:
        frame_atoms = atoms
    frame = kernel.aggregate(frame_atoms, by)
    total = (
        float(atoms["amount"].sum()),
        float(atoms["state_lo"].sum()),
        float(atoms["state_hi"].sum()),
        int(len(atoms[["record_type", "record_id"]].drop_duplicates())),
    )
    commitments = fund_commitments(con, as_of, currency)
    return flows_result(frame, by, currency, as_of, year_from, year_to, total, commitments, notes)


def flows_result(
    frame: pd.DataFrame,
    by: list[str],
    currency: str,
    as_of: dt.date | None,
    year_from: int | None,
    year_to: int | None,
    total: tuple[float, float, float, int],
    commitments: dict[str, Any],
    notes: dict[str, Any],
) -> dict[str, Any]:
    """The flows report from the grouped frame (``amount``, ``state_lo``, ``state_hi``,
    ``records`` by the `by` keys) and the totals (amount, state lo, state hi, records); both
    engines build their answer with it."""
    rows = []
    for r in frame.to_dict("records"):
        row: dict[str, Any] = {k: (int(r[k]) if k == "year" else r[k]) for k in by}
        row["amount"] = float(r["amount"])
        row["state_attributed"] = {"lo": float(r["state_lo"]), "hi": float(r["state_hi"])}
        row["records"] = int(r["records"])
        rows.append(row)
    amount, lo, hi, records = total
    return {
        "by": by,
        "currency": currency,
        "as_of": as_of.isoformat() if as_of else None,
        "from": year_from,
        "to": year_to,
        "rows": rows,
        "total": {"amount": amount, "state_attributed": {"lo": lo, "hi": hi}, "records": records},
        "fund_commitments": commitments,
        "notes": notes,
        "frame": frame,
    }


def _subset(atoms: pd.DataFrame, payers: pd.DataFrame, keep: pd.Series) -> tuple[pd.DataFrame, pd.DataFrame]:
    new_index = np.full(len(atoms), -1)
    new_index[keep.to_numpy()] = np.arange(int(keep.sum()))
    p = payers.copy()
    p["atom"] = new_index[p["atom"].to_numpy()]
    return atoms[keep].reset_index(drop=True), p[p["atom"] >= 0].reset_index(drop=True)


def trace(
    con: duckdb.DuckDBPyConnection,
    entity: str,
    as_of: dt.date | None = None,
    currency: str = "CNY",
    limit: int = 200,
) -> dict[str, Any]:
    """Where one entity's money went, and where the money reaching it came from.

    Outgoing: flows it paid directly, plus flows paid by entities it holds, times its integrated
    share of them on the flow's date (its commitments to funds are followed to the funds'
    investments this way). Incoming: flows whose counterparty is the entity, with their payers.
    """
    eid = resolve_entity(con, entity)
    shares = SharesAtDates(con)
    atoms, payers, notes = flow_atoms(con, as_of, currency, shares)
    held_lo, held_hi = shares.holdings_lookup(eid, payers["payer"].to_numpy(), payers["date"].to_numpy())
    direct = payers["payer"].to_numpy() == eid
    h_lo = np.where(direct, 1.0, held_lo) * payers["w_lo"].to_numpy()
    h_hi = np.where(direct, 1.0, held_hi) * payers["w_hi"].to_numpy()
    out_rows = []
    sel = np.flatnonzero(h_hi > 0)
    for i in sel:
        a = atoms.iloc[int(payers["atom"].iat[i])]
        out_rows.append(
            {
                "record": f"{a['record_type']}:{a['record_id']}",
                "date": a["date"].date().isoformat(),
                "via": None if direct[i] else str(payers["payer"].iat[i]),
                "counterparty": a["counterparty"],
                "sector": a["sub_sector"],
                "mechanism": a["mechanism"],
                "amount": float(a["amount"]),
                "attributed": {
                    "lo": float(a["amount"] * h_lo[i]),
                    "hi": float(a["amount"] * min(1.0, h_hi[i])),
                },
            }
        )
    out_rows.sort(key=lambda r: (-r["attributed"]["hi"], r["record"], r["sector"]))
    in_atoms = atoms[atoms["counterparty"] == eid]
    in_rows = []
    for idx, a in in_atoms.iterrows():
        ps = payers[payers["atom"] == idx]
        in_rows.append(
            {
                "record": f"{a['record_type']}:{a['record_id']}",
                "date": a["date"].date().isoformat(),
                "payers": [
                    {
                        "id": p,
                        "weight": {"lo": float(wl), "hi": float(wh)},
                        "state_share": {"lo": float(sl), "hi": float(sh)},
                    }
                    for p, wl, wh, sl, sh in zip(
                        ps["payer"], ps["w_lo"], ps["w_hi"], ps["s_lo"], ps["s_hi"], strict=True
                    )
                ],
                "sector": a["sub_sector"],
                "mechanism": a["mechanism"],
                "amount": float(a["amount"]),
                "state_attributed": {"lo": float(a["state_lo"]), "hi": float(a["state_hi"])},
            }
        )
    in_rows.sort(key=lambda r: (-r["amount"], r["record"], r["sector"]))
    commitments = con.execute(
        f"""SELECT id, investee, amount, currency, date FROM investments
           WHERE investor = ? AND investee IN {INTERMEDIARY_SQL} ORDER BY date, id""",
        [eid],
    ).fetchall()
    return {
        "entity": eid,
        "as_of": as_of.isoformat() if as_of else None,
        "currency": currency,
        "outgoing": out_rows[:limit],
        "outgoing_total": {
            "lo": float(sum(r["attributed"]["lo"] for r in out_rows)),
            "hi": float(sum(r["attributed"]["hi"] for r in out_rows)),
            "records": len({r["record"] for r in out_rows}),
        },
        "incoming": in_rows[:limit],
        "fund_commitments": [
            {
                "record": f"investments:{i}",
                "fund": f,
                "amount": amt,
                "currency": cur,
                "date": d.isoformat() if d else None,
            }
            for i, f, amt, cur, d in commitments
        ],
        "notes": notes,
    }
