"""What the policy lab reads from the store: firms and funds, recorded state money, observations.

This is the query side of the policy lab (it does I/O); `statecap.sim.agents` turns its result
into agent arrays without touching the store.

- Firms and funds: entities with at least one sector, kind central_soe, local_soe, company,
  foreign_company or state_fund, one row per (entity, top-level sector). Their state share comes
  from the ownership core (`statecap.graph.load_graph` + `statecap.analytics.ownership.
  state_share`, integrated shares as intervals); the point value used is the interval's
  midpoint. Balance-sheet figures come from `financials` (the record nearest the horizon's
  first year), designations from `designations`, joint ventures with a foreign partner from
  `joint_ventures`.
- Recorded state money by mechanism, top-level sector and year (CNY bn): investments by
  state-controlled investors (commitments into funds are left out: money counts once, at the
  fund's portfolio), subsidies, tax incentives and policy loans from `spending`, amounts of
  talent, research and tech-park partnerships, and state partners' part of joint-venture
  amounts.
- Observations, as stored.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from statecap.model.taxonomy import load_taxonomy
from statecap.sim.model import NEVER

DOMESTIC_KINDS = ("central_soe", "local_soe", "company")
FOREIGN_KINDS = ("foreign_company",)
FUND_KINDS = ("state_fund",)
STATE_KINDS_DEFAULT = ("state_organ", "central_soe", "local_soe", "state_fund", "policy_bank")

# CNY per unit, used only when the store has no `fx_cny_per_<currency>` observation near the
# year. Rough 2014-2023 averages (a stated prior, not a source); the store's series win.
FALLBACK_FX = {
    "CNY": 1.0,
    "USD": 6.7,
    "EUR": 7.6,
    "HKD": 0.86,
    "GBP": 8.6,
    "JPY": 0.060,
    "KRW": 0.0057,
    "TWD": 0.22,
    "CHF": 7.1,
    "SGD": 4.9,
}

SPENDING_MECHANISMS = {
    "subsidy_received": "grant_subsidy_tax",
    "tax_incentive": "grant_subsidy_tax",
    "policy_loan": "policy_bank_credit",
}


@dataclass(frozen=True)
class AtlasData:
    """The store's contribution to a simulation, as plain tables.

    Attributes:
        firms: one row per (entity, top-level sector): id, kind, role (domestic/foreign/fund),
            sector, state_share (0-1), state_share_lo/hi (0-1), assets_cny_bn, liability_ratio,
            rd_intensity, designated_from, jv.
        flows: recorded state money: mechanism, sector, year, amount_cny_bn, record_type,
            record_id, investor.
        observations: series, year, value, unit, sector, entity.
        digest: the store's data digest (calibration fits are tied to it).
        db_path: the store's file, when known.
        state_share_source: how state shares were computed.
    """

    firms: pd.DataFrame
    flows: pd.DataFrame
    observations: pd.DataFrame
    digest: str | None
    db_path: str | None
    state_share_source: str


class FxTable:
    """Currency -> CNY by year, from the store's `fx_cny_per_<ccy>` series, else FALLBACK_FX."""

    def __init__(self, observations: pd.DataFrame):
        self.rates: dict[str, dict[int, float]] = {}
        obs = observations[observations["series"].str.startswith("fx_cny_per_")]
        for series, grp in obs.groupby("series"):
            ccy = str(series).removeprefix("fx_cny_per_").upper()
            self.rates[ccy] = {int(y): float(v) for y, v in zip(grp["year"], grp["value"], strict=True)}

    def rate(self, currency: str | None, year: int | None) -> float:
        ccy = (currency or "CNY").upper()
        if ccy == "CNY":
            return 1.0
        table = self.rates.get(ccy)
        if table:
            if year is None:
                return float(np.median(list(table.values())))
            nearest = min(table, key=lambda y: (abs(y - year), y))
            return table[nearest]
        return FALLBACK_FX.get(ccy, float("nan"))

    def to_cny_bn(self, amount: float | None, currency: str | None, year: int | None) -> float:
        if amount is None or amount != amount:
            return float("nan")
        return float(amount) * self.rate(currency, year) / 1e9


def _store_path(con: duckdb.DuckDBPyConnection) -> str | None:
    try:
        rows = con.execute(
            "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
        ).fetchall()
    except duckdb.Error:
        return None
    return str(rows[0][0]) if rows and rows[0][0] else None


def _state_shares(
    con: duckdb.DuckDBPyConnection, as_of: dt.date | None
) -> tuple[dict[str, tuple[float, float]], str]:
    """Entity id -> (lo, hi) state share as fractions, from the ownership core."""
    try:
        from statecap.analytics.ownership import state_share
        from statecap.graph import load_graph
    except ImportError:  # the ownership core is optional for the policy lab
        return {}, "entity kind (the ownership core is not installed)"
    try:
        graph = load_graph(con, as_of=as_of)
        res = state_share(graph)
    except Exception as exc:  # noqa: BLE001 - any failure there must not stop a simulation
        return {}, f"entity kind (the ownership core failed: {type(exc).__name__}: {exc})"
    ids = graph.ids
    shares = {str(ids[i]): (float(res.lo[i]) / 100.0, float(res.hi[i]) / 100.0) for i in range(graph.n)}
    when = as_of.isoformat() if as_of is not None else "today"
    return shares, f"integrated state share from the ownership core, as of {when} (interval midpoint)"


def read_atlas(con: duckdb.DuckDBPyConnection, first_year: int, as_of: dt.date | None = None) -> AtlasData:
    """Everything the policy lab takes from a store.

    Args:
        con: an open statecap store.
        first_year: the horizon's first year (financial records nearest to it are used).
        as_of: date for state shares (None: today). The model does not date firm entry, so
            ownership today describes the firms it follows.
    """
    tax = load_taxonomy()
    observations = con.execute(
        "SELECT series, year, value, unit, sector, entity FROM observations ORDER BY series, year"
    ).fetch_df()
    fx = FxTable(observations)
    meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
    shares, share_source = _state_shares(con, as_of)

    ents = con.execute("SELECT id, kind, country, sectors FROM entities ORDER BY id").fetch_df()
    kind_of = dict(zip(ents["id"], ents["kind"], strict=True))
    country_of = dict(zip(ents["id"], ents["country"], strict=True))
    sectors_of = {
        i: [str(s) for s in (secs if secs is not None else [])]
        for i, secs in zip(ents["id"], ents["sectors"], strict=True)
    }

    kind_filled: set[str] = set()

    def share(eid: str) -> tuple[float, float]:
        by_kind = 1.0 if kind_of.get(eid) in STATE_KINDS_DEFAULT else 0.0
        got = shares.get(eid)
        if got is None:
            return (by_kind, by_kind)
        if by_kind == 1.0 and got[1] <= 0.0:
            # a state-owned kind with no recorded owner: the data lacks the stake, not the state
            kind_filled.add(eid)
            return (1.0, 1.0)
        return got

    def point_share(eid: str) -> float:
        lo, hi = share(eid)
        return 0.5 * (lo + hi)

    def top_sector(code: str | None) -> str | None:
        if code is None or code != code:
            return None
        top = tax.sector_parent(str(code))
        return top if top in tax.top_sectors else None

    def first_sector(eid: str | None) -> str | None:
        if eid is None:
            return None
        for s in sectors_of.get(eid, []):
            t = top_sector(s)
            if t is not None:
                return t
        return None

    # financial record nearest the first year, per entity
    fin = con.execute(
        "SELECT entity, year, currency, revenue, total_assets, total_liabilities, rd_expense FROM financials"
    ).fetch_df()
    fin_by: dict[str, dict[str, Any]] = {}
    if len(fin):
        fin = fin.assign(dist=(fin["year"] - first_year).abs()).sort_values(["entity", "dist", "year"])
        for eid, grp in fin.groupby("entity"):
            rows = grp.to_dict("records")
            assets_row = next((r for r in rows if pd.notna(r["total_assets"])), None)
            rd_row = next((r for r in rows if pd.notna(r["rd_expense"]) and pd.notna(r["revenue"])), None)
            rec: dict[str, Any] = {}
            if assets_row is not None:
                y = int(assets_row["year"])
                rec["assets"] = fx.to_cny_bn(assets_row["total_assets"], assets_row["currency"], y)
                if pd.notna(assets_row["total_liabilities"]) and assets_row["total_assets"] > 0:
                    rec["liability_ratio"] = float(
                        assets_row["total_liabilities"] / assets_row["total_assets"]
                    )
            if rd_row is not None and rd_row["revenue"] > 0:
                rec["rd_intensity"] = float(rd_row["rd_expense"] / rd_row["revenue"])
            fin_by[str(eid)] = rec

    desig = con.execute("SELECT entity, min(year(start)) FROM designations GROUP BY entity").fetchall()
    designated_from = {str(e): int(y) for e, y in desig if y is not None}

    jv_rows = con.execute(
        """SELECT j.id, j.entity, p.partner FROM joint_ventures j JOIN jv_partners p ON p.jv = j.id"""
    ).fetchall()
    jv_partners: dict[str, list[str]] = {}
    jv_entity: dict[str, str | None] = {}
    for jid, entity, partner in jv_rows:
        jv_partners.setdefault(str(jid), []).append(str(partner))
        jv_entity[str(jid)] = entity

    def is_foreign(eid: str) -> bool:
        return kind_of.get(eid) in FOREIGN_KINDS or (country_of.get(eid) not in (None, "cn", "hk", "mo"))

    with_jv: set[str] = set()
    for jid, partners in jv_partners.items():
        if any(is_foreign(p) for p in partners):
            with_jv.update(p for p in partners if not is_foreign(p))
            if jv_entity.get(jid):
                with_jv.add(str(jv_entity[jid]))

    firm_rows = []
    for eid in ents["id"]:
        kind = kind_of[eid]
        if kind in FUND_KINDS:
            role = "fund"
        elif kind in FOREIGN_KINDS or (kind == "company" and is_foreign(eid)):
            role = "foreign"
        elif kind in DOMESTIC_KINDS:
            role = "domestic"
        else:
            continue
        tops = []
        for s in sectors_of[eid]:
            t = top_sector(s)
            if t is not None and t not in tops:
                tops.append(t)
        lo, hi = share(eid)
        f = fin_by.get(eid, {})
        for t in tops:
            firm_rows.append(
                {
                    "id": eid,
                    "kind": kind,
                    "role": role,
                    "sector": t,
                    "state_share": 0.0 if role == "foreign" else 0.5 * (lo + hi),
                    "state_share_lo": lo,
                    "state_share_hi": hi,
                    "assets_cny_bn": f.get("assets", np.nan) / len(tops),
                    "liability_ratio": f.get("liability_ratio", np.nan),
                    "rd_intensity": f.get("rd_intensity", np.nan),
                    "designated_from": designated_from.get(eid, NEVER),
                    "jv": eid in with_jv,
                }
            )
    firms = pd.DataFrame(
        firm_rows,
        columns=[
            "id", "kind", "role", "sector", "state_share", "state_share_lo", "state_share_hi",
            "assets_cny_bn", "liability_ratio", "rd_intensity", "designated_from", "jv",
        ],
    )  # fmt: skip

    flows: list[dict[str, Any]] = []
    inv = con.execute(
        "SELECT id, investor, investee, sector, mechanism, amount, currency, year(date) AS year, kind "
        "FROM investments WHERE amount IS NOT NULL AND date IS NOT NULL"
    ).fetch_df()
    for r in inv.to_dict("records"):
        if r["kind"] == "commitment" or point_share(str(r["investor"])) < 0.5:
            continue
        sector = top_sector(r["sector"]) or first_sector(r["investee"])
        if sector is None:
            continue
        flows.append(
            {
                "mechanism": r["mechanism"],
                "sector": sector,
                "year": int(r["year"]),
                "amount_cny_bn": fx.to_cny_bn(r["amount"], r["currency"], int(r["year"])),
                "record_type": "investments",
                "record_id": r["id"],
                "investor": r["investor"],
            }
        )
    spend = con.execute(
        "SELECT id, entity, year, category, amount, currency, sector FROM spending"
    ).fetch_df()
    for r in spend.to_dict("records"):
        mech = SPENDING_MECHANISMS.get(str(r["category"]))
        if mech is None:
            continue
        sector = top_sector(r["sector"]) or first_sector(r["entity"])
        if sector is None:
            continue
        flows.append(
            {
                "mechanism": mech,
                "sector": sector,
                "year": int(r["year"]),
                "amount_cny_bn": fx.to_cny_bn(r["amount"], r["currency"], int(r["year"])),
                "record_type": "spending",
                "record_id": r["id"],
                "investor": None,
            }
        )
    parts = con.execute(
        "SELECT p.id, p.kind, p.sector, p.amount, p.currency, year(p.valid_from) AS year, "
        "(SELECT first(party ORDER BY position) FROM partnership_parties x WHERE x.partnership = p.id) AS party "
        "FROM partnerships p WHERE amount IS NOT NULL AND valid_from IS NOT NULL"
    ).fetch_df()
    for r in parts.to_dict("records"):
        term = tax.partnership_kinds.get(str(r["kind"]))
        mech = term.extra.get("mechanism") if term is not None else None
        sector = top_sector(r["sector"]) or first_sector(r["party"])
        if mech is None or sector is None:
            continue
        flows.append(
            {
                "mechanism": mech,
                "sector": sector,
                "year": int(r["year"]),
                "amount_cny_bn": fx.to_cny_bn(r["amount"], r["currency"], int(r["year"])),
                "record_type": "partnerships",
                "record_id": r["id"],
                "investor": None,
            }
        )
    jvs = con.execute(
        "SELECT id, entity, sector, amount, currency, year(valid_from) AS year FROM joint_ventures "
        "WHERE amount IS NOT NULL AND valid_from IS NOT NULL"
    ).fetch_df()
    jv_shares = con.execute("SELECT jv, partner, share_lo, share_hi FROM jv_partners").fetch_df()
    for r in jvs.to_dict("records"):
        ps = jv_shares[jv_shares["jv"] == r["id"]]
        state_part = sum(
            0.5 * (lo + hi) / 100.0 * point_share(str(p))
            for p, lo, hi in zip(ps["partner"], ps["share_lo"], ps["share_hi"], strict=True)
            if not is_foreign(str(p))
        )
        sector = top_sector(r["sector"]) or first_sector(r["entity"])
        if state_part <= 0 or sector is None:
            continue
        flows.append(
            {
                "mechanism": "joint_venture",
                "sector": sector,
                "year": int(r["year"]),
                "amount_cny_bn": state_part * fx.to_cny_bn(r["amount"], r["currency"], int(r["year"])),
                "record_type": "joint_ventures",
                "record_id": r["id"],
                "investor": None,
            }
        )
    flow_df = pd.DataFrame(
        flows,
        columns=["mechanism", "sector", "year", "amount_cny_bn", "record_type", "record_id", "investor"],
    )
    flow_df = flow_df[np.isfinite(flow_df["amount_cny_bn"].astype(float))].reset_index(drop=True)
    return AtlasData(
        firms=firms.reset_index(drop=True),
        flows=flow_df,
        observations=observations,
        digest=meta.get("data_digest"),
        db_path=_store_path(con),
        state_share_source=share_source
        + (
            f"; {len(kind_filled)} state-owned entities without a recorded owner taken as fully state-owned"
            if kind_filled
            else ""
        ),
    )


def empty_atlas() -> AtlasData:
    """No store: synthetic agents only, no recorded money, no observations."""
    return AtlasData(
        firms=pd.DataFrame(
            columns=[
                "id",
                "kind",
                "role",
                "sector",
                "state_share",
                "state_share_lo",
                "state_share_hi",
                "assets_cny_bn",
                "liability_ratio",
                "rd_intensity",
                "designated_from",
                "jv",
            ]
        ),  # fmt: skip
        flows=pd.DataFrame(
            columns=["mechanism", "sector", "year", "amount_cny_bn", "record_type", "record_id", "investor"]
        ),
        observations=pd.DataFrame(columns=["series", "year", "value", "unit", "sector", "entity"]),
        digest=None,
        db_path=None,
        state_share_source="none (no store)",
    )


def calibration_path_for(db_path: str | Path) -> Path:
    """Where the calibration fit of a store is kept: beside it, ``<name>.calibration.json``."""
    p = Path(db_path)
    return p.with_name(f"{p.stem}.calibration.json")
