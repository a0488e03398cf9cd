"""State money as a three-column flow: state organs -> funds and SOEs (the payers) -> sectors.

Built on the flows query (`statecap.queries.flows.flow_atoms`, the same atoms and payers that
`statecap flows` sums) and the ownership core (each organ's integrated share of each payer on
the flow's date, `SharesAtDates.holdings_lookup`):

- a payer row (one payer of one flow atom) carries ``amount * w * s`` of state money, ``w`` the
  payer's weight in the flow and ``s`` its state share on the flow's date, both intervals;
  this is the payer -> sector link, summed over rows;
- that money is split between the state organs holding the payer in proportion to the
  midpoints of their integrated shares of it (so each payer's inflow equals its outflow); the
  organ -> payer link's ``lo``/``hi`` are the organ's own bounds, ``amount * w * h`` with ``h``
  the organ's integrated share of the payer;
- money paid by a state organ itself runs organ -> "paid directly" -> sector; money that is the
  state's by nature (subsidies, tax incentives, policy loans received) runs "state budget" ->
  "paid directly" -> sector;
- the largest payers and organs are shown by name, the rest grouped by kind ("other state
  funds", "other state organs", ...). Link values are interval midpoints.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from statecap.analytics.flows import STATE_PAYER
from statecap.model.taxonomy import load_taxonomy
from statecap.queries.flows import flow_atoms
from statecap.queries.shares import SharesAtDates

BUDGET = "budget:state"
DIRECT = "payer:direct"
OTHER_ORGANS = "organ:other"
OTHER_PAYER = {
    "state_fund": "other state funds",
    "central_soe": "other central SOEs",
    "local_soe": "other local SOEs",
    "policy_bank": "other policy banks",
}


def _group_top(values: pd.Series, top: int) -> set[str]:
    """The `top` keys with the largest values (ties broken by key)."""
    if values.empty:
        return set()
    frame = values.rename("v").reset_index()
    frame.columns = ["k", "v"]
    frame = frame.sort_values(["v", "k"], ascending=[False, True])
    return set(frame["k"].head(top))


def sankey_links(
    rows: pd.DataFrame,
    organ_rows: pd.DataFrame,
    kinds: dict[str, str],
    names: dict[str, str],
    sector_names: dict[str, str],
    top_payers: int = 15,
    top_organs: int = 10,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Nodes and links of the Sankey from payer rows and their organs' shares (pure).

    Args:
        rows: one row per (payer row): ``row`` (its key), ``payer``, ``sector``, ``paid_lo``,
            ``paid_hi`` (the payer's part of the amount, ``amount * w``), ``lo``, ``hi`` (the state
            money in it, ``amount * w * s``), ``record`` (record key, for counts).
        organ_rows: ``row``, ``organ``, ``h_lo``, ``h_hi`` (organ's integrated share of the
            payer, 0..1) for every organ holding a share of a non-organ payer.
        kinds, names: entity kind and name by id. sector_names: sector label by code.
        top_payers, top_organs: how many to name; the rest are grouped.
    """
    rows = rows[rows["hi"] > 0].copy()
    rows["mid"] = (rows["lo"] + rows["hi"]) / 2.0
    is_budget = rows["payer"] == STATE_PAYER
    is_organ = rows["payer"].map(lambda p: kinds.get(p) == "state_organ")
    named_payers = _group_top(rows[~is_budget & ~is_organ].groupby("payer")["mid"].sum(), top_payers)

    def payer_node(p: str) -> str:
        if p == STATE_PAYER or kinds.get(p) == "state_organ":
            return DIRECT
        if p in named_payers:
            return f"payer:{p}"
        return f"payer:other:{kinds.get(p, 'company')}"

    rows["mid_node"] = rows["payer"].map(payer_node)
    rows["sector_node"] = "sector:" + rows["sector"].astype(str)

    # organ -> payer: split each row's midpoint by the organs' midpoint shares
    org = organ_rows.merge(
        rows[["row", "mid", "paid_lo", "paid_hi", "mid_node", "record"]], on="row", how="inner"
    )
    org["h_mid"] = (org["h_lo"] + org["h_hi"]) / 2.0
    total_h = org.groupby("row")["h_mid"].transform("sum")
    org["value"] = np.where(total_h > 0, org["mid"] * org["h_mid"] / total_h.where(total_h > 0, 1.0), 0.0)
    org["v_lo"] = org["paid_lo"] * org["h_lo"]
    org["v_hi"] = org["paid_hi"] * org["h_hi"]
    direct = rows[is_budget | is_organ].copy()
    direct["organ"] = direct["payer"]
    direct["value"], direct["v_lo"], direct["v_hi"] = direct["mid"], direct["lo"], direct["hi"]
    left = pd.concat(
        [org[["organ", "mid_node", "value", "v_lo", "v_hi", "record"]],
         direct[["organ", "mid_node", "value", "v_lo", "v_hi", "record"]]],
        ignore_index=True,
    )  # fmt: skip
    named_organs = _group_top(left[left["organ"] != STATE_PAYER].groupby("organ")["value"].sum(), top_organs)

    def organ_node(o: str) -> str:
        if o == STATE_PAYER:
            return BUDGET
        return f"organ:{o}" if o in named_organs else OTHER_ORGANS

    left["left_node"] = left["organ"].map(organ_node)

    links: list[dict[str, Any]] = []
    for (src, dst), g in left.groupby(["left_node", "mid_node"], sort=True):
        links.append(_link(str(src), str(dst), g["value"], g["v_lo"], g["v_hi"], g["record"]))
    for (src, dst), g in rows.groupby(["mid_node", "sector_node"], sort=True):
        links.append(_link(str(src), str(dst), g["mid"], g["lo"], g["hi"], g["record"]))
    links = [lk for lk in links if lk["value"] > 0]

    used = {lk["source"] for lk in links} | {lk["target"] for lk in links}
    nodes: list[dict[str, Any]] = []
    for node in sorted(used):
        if node == BUDGET:
            nodes.append(
                {
                    "id": node,
                    "label": "state budget (subsidies, tax, policy loans)",
                    "column": 0,
                    "kind": "state",
                }
            )
        elif node == OTHER_ORGANS:
            nodes.append({"id": node, "label": "other state organs", "column": 0, "kind": "state_organ"})
        elif node.startswith("organ:"):
            eid = node[len("organ:") :]
            nodes.append(
                {"id": node, "label": names.get(eid, eid), "column": 0, "kind": "state_organ", "entity": eid}
            )
        elif node == DIRECT:
            nodes.append({"id": node, "label": "paid directly by the state", "column": 1, "kind": "direct"})
        elif node.startswith("payer:other:"):
            kind = node[len("payer:other:") :]
            nodes.append(
                {"id": node, "label": OTHER_PAYER.get(kind, "other companies"), "column": 1, "kind": kind}
            )
        elif node.startswith("payer:"):
            eid = node[len("payer:") :]
            nodes.append(
                {
                    "id": node,
                    "label": names.get(eid, eid),
                    "column": 1,
                    "kind": kinds.get(eid, ""),
                    "entity": eid,
                }
            )
        else:
            code = node[len("sector:") :]
            nodes.append({"id": node, "label": sector_names.get(code, code), "column": 2, "kind": "sector"})
    nodes.sort(key=lambda n: (n["column"], n["label"]))
    return nodes, links


def _link(
    src: str, dst: str, value: pd.Series, lo: pd.Series, hi: pd.Series, records: pd.Series
) -> dict[str, Any]:
    return {
        "source": src,
        "target": dst,
        "value": float(value.sum()),
        "lo": float(lo.sum()),
        "hi": float(hi.sum()),
        "records": int(records.nunique()),
    }


def _organs_above(con: duckdb.DuckDBPyConnection, payers: set[str], kinds: dict[str, str]) -> list[str]:
    """State organs with a chain of stakes (of any date) into one of `payers`."""
    owners_of: dict[str, list[str]] = {}
    for owner, owned in con.execute("SELECT DISTINCT owner, owned FROM stakes").fetchall():
        owners_of.setdefault(owned, []).append(owner)
    seen = set(payers)
    todo = list(payers)
    while todo:
        for owner in owners_of.get(todo.pop(), ()):
            if owner not in seen:
                seen.add(owner)
                todo.append(owner)
    return sorted(e for e in seen if kinds.get(e) == "state_organ")


def state_money_sankey(
    con: duckdb.DuckDBPyConnection,
    as_of: dt.date | None = None,
    currency: str = "CNY",
    top_payers: int = 15,
    top_organs: int = 10,
) -> dict[str, Any]:
    """The Sankey of state money (see the module docstring): nodes, links, total, notes."""
    shares = SharesAtDates(con)
    atoms, payers, notes = flow_atoms(con, as_of, currency, shares)
    amount = atoms["amount"].to_numpy()[payers["atom"].to_numpy()]
    rows = pd.DataFrame(
        {
            "row": np.arange(len(payers)),
            "payer": payers["payer"].to_numpy(),
            "sector": atoms["sector"].to_numpy()[payers["atom"].to_numpy()],
            "paid_lo": amount * payers["w_lo"].to_numpy(),
            "paid_hi": amount * payers["w_hi"].to_numpy(),
            "lo": amount * payers["w_lo"].to_numpy() * payers["s_lo"].to_numpy(),
            "hi": amount * payers["w_hi"].to_numpy() * payers["s_hi"].to_numpy(),
            "record": (atoms["record_type"] + ":" + atoms["record_id"]).to_numpy()[payers["atom"].to_numpy()],
        }
    )
    kinds = dict(con.execute("SELECT id, kind FROM entities").fetchall())
    names = dict(con.execute("SELECT id, name FROM entities").fetchall())
    held = rows[
        (rows["hi"] > 0) & rows["payer"].map(lambda p: p != STATE_PAYER and kinds.get(p) != "state_organ")
    ]
    organs = _organs_above(con, set(held["payer"]), kinds)
    parts = []
    if len(held):
        ids = held["payer"].to_numpy()
        dates = payers["date"].to_numpy()[held["row"].to_numpy()]
        for organ in organs:
            h_lo, h_hi = shares.holdings_lookup(organ, ids, dates)
            keep = h_hi > 0
            if keep.any():
                parts.append(
                    pd.DataFrame(
                        {
                            "row": held["row"].to_numpy()[keep],
                            "organ": organ,
                            "h_lo": h_lo[keep],
                            "h_hi": h_hi[keep],
                        }
                    )
                )
    organ_rows = (
        pd.concat(parts, ignore_index=True)
        if parts
        else pd.DataFrame(columns=["row", "organ", "h_lo", "h_hi"])
    )
    tax = load_taxonomy()
    sector_names = {c: t.name for c, t in tax.sectors.items()} | {"unassigned": "no sector recorded"}
    nodes, links = sankey_links(rows, organ_rows, kinds, names, sector_names, top_payers, top_organs)
    return {
        "currency": currency.upper(),
        "as_of": as_of.isoformat() if as_of else None,
        "nodes": nodes,
        "links": links,
        "total": {"lo": float(rows["lo"].sum()), "hi": float(rows["hi"].sum())},
        "notes": notes,
    }
