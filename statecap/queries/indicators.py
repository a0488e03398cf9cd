"""The system's indicators from the store: efficiency, distortion, headwinds, debt, innovation,
and the drivers' timeline beside the investment response.

Each indicator is a dict: ``id``, ``name``, ``unit``, ``description``, ``years`` ([first, last]
or null), ``values`` (rows) and ``records`` (the ids of the records it rests on, as
``record_type:id``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from statecap.analytics import indicators as K
from statecap.analytics.flows import aggregate, convert
from statecap.queries.flows import flow_atoms, fx_rates
from statecap.queries.shares import SharesAtDates

NATIONAL_SERIES = {
    "soe_roa": "efficiency",
    "private_roa": "efficiency",
    "soe_roe": "efficiency",
    "private_roe": "efficiency",
    "soe_liability_ratio": "debt",
    "central_soe_liability_ratio": "debt",
    "private_liability_ratio": "debt",
    "central_soe_rd_spending_cny": "innovation",
    "central_soe_rd_intensity": "innovation",
    "national_rd_spending_cny": "innovation",
    "national_rd_intensity": "innovation",
    "ic_self_sufficiency": "drivers",
    "ic_imports_usd": "drivers",
}


def _years(values: list[dict[str, Any]]) -> list[int] | None:
    ys = [int(v["year"]) for v in values if v.get("year") is not None]
    return [min(ys), max(ys)] if ys else None


def _jsonable(frame: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for row in frame.to_dict("records"):
        clean: dict[str, Any] = {}
        for k, v in row.items():
            if isinstance(v, float | np.floating):
                clean[k] = None if not np.isfinite(v) else float(v)
            elif isinstance(v, np.integer):
                clean[k] = int(v)
            else:
                clean[k] = v
        out.append(clean)
    return out


def _financials(con: duckdb.DuckDBPyConnection, shares: SharesAtDates, currency: str) -> pd.DataFrame:
    fin = con.execute(
        """SELECT f.id AS record_id, f.entity, f.year, f.currency, f.revenue, f.net_profit, f.total_assets,
                  f.total_liabilities, f.equity, f.rd_expense, e.sectors
           FROM financials f JOIN entities e ON e.id = f.entity ORDER BY f.id"""
    ).fetch_df()
    if fin.empty:
        return fin.assign(sector=[], group=[], roa=[], roe=[], liability_ratio=[], rd_intensity=[])
    fin = K.financial_ratios(fin)
    dates = pd.to_datetime(fin["year"].astype(str) + "-07-01").to_numpy()
    fin["group"] = shares.ownership_group(fin["entity"].to_numpy(), dates)
    fin["sector"] = [
        sorted({s.split(".")[0] for s in secs})[0] if secs is not None and len(secs) else None
        for secs in fin["sectors"]
    ]
    return fin


def _series(con: duckdb.DuckDBPyConnection, theme: str) -> list[dict[str, Any]]:
    codes = [s for s, t in NATIONAL_SERIES.items() if t == theme]
    rows = con.execute(
        """SELECT series, year, value, unit, id FROM observations WHERE list_contains($codes, series)
           ORDER BY series, year""",
        {"codes": codes},
    ).fetchall()
    out: dict[str, dict[str, Any]] = {}
    for series, year, value, unit, rid in rows:
        entry = out.setdefault(series, {"series": series, "unit": unit, "points": [], "records": []})
        entry["points"].append({"year": int(year), "value": float(value)})
        entry["records"].append(f"observations:{rid}")
    return list(out.values())


def indicators_report(
    con: duckdb.DuckDBPyConnection, as_of: dt.date | None = None, currency: str = "CNY"
) -> dict[str, Any]:
    """Every indicator, with its values, unit, years and the records behind it."""
    shares = SharesAtDates(con)
    atoms, _payers, notes = flow_atoms(con, as_of, currency, shares)
    fin = _financials(con, shares, currency)
    out: list[dict[str, Any]] = []

    # efficiency: returns of state-controlled vs private firms in the same sector
    eff = K.efficiency(fin) if not fin.empty else K.efficiency(pd.DataFrame(columns=["entity", "year", "sector",
                                                                                         "group", "roa", "roe", "record_id"]))  # fmt: skip
    gap = K.efficiency_gap(eff)
    eff_rows = _jsonable(eff.assign(records=eff["records"].map(lambda r: [f"financials:{x}" for x in r])))
    out.append(
        {
            "id": "efficiency",
            "name": "Returns on assets and equity, state-controlled vs private firms by sector",
            "unit": "percent",
            "description": "Median ROA (net profit / total assets) and ROE by sector, year and ownership group "
            "(state: definitely state-controlled; private: no state share; mixed: the rest).",
            "years": _years(eff_rows),
            "values": eff_rows,
            "gap": _jsonable(gap),
            "national_series": _series(con, "efficiency"),
            "records": sorted({r for row in eff_rows for r in row["records"]}),
        }
    )

    # market distortion: state-attributable share of each sector's recorded capital
    by_sector = aggregate(atoms, ["sector"])
    dist = K.distortion(by_sector)
    out.append(
        {
            "id": "market_distortion",
            "name": "State-attributable share of each sector's recorded capital",
            "unit": "percent",
            "description": "Sum of state-attributed amounts over the sum of all recorded flows per sector "
            f"({currency}); bounds follow the ownership intervals.",
            "years": [int(atoms["year"].min()), int(atoms["year"].max())] if len(atoms) else None,
            "values": _jsonable(dist),
            "records": sorted(set(atoms["record_type"] + ":" + atoms["record_id"])),
        }
    )

    # geopolitical headwinds: overseas acquisitions by outcome; designations over time
    acq = con.execute(
        """SELECT a.id AS record_id, a.status, coalesce(a.closed, a.announced) AS date, a.value, a.currency,
                  ac.country AS acquirer_country, t.country AS target_country
           FROM acquisitions a JOIN entities ac ON ac.id = a.acquirer JOIN entities t ON t.id = a.target"""
    ).fetch_df()
    if as_of is not None:
        acq = acq[pd.to_datetime(acq["date"]) <= pd.Timestamp(as_of)]
    acq["year"] = pd.to_datetime(acq["date"]).dt.year.astype("Int64")
    acq["overseas"] = (acq["acquirer_country"] == "cn") & (acq["target_country"] != "cn")
    if len(acq):
        conv, _ = convert(acq["value"].fillna(0).to_numpy(), acq["currency"].fillna("CNY").to_numpy(),
                          acq["year"].fillna(2000).astype(int).to_numpy(), fx_rates(con), currency)  # fmt: skip
        acq["value"] = np.where(acq["value"].isna(), np.nan, conv)
    table, summary = K.acquisitions_by_outcome(acq)
    des = con.execute('SELECT id AS record_id, entity, list, start, "end" FROM designations').fetch_df()
    des["start"] = pd.to_datetime(des["start"])
    des["end"] = pd.to_datetime(des["end"])
    # lists change only on recorded dates: years past the last one add nothing
    last_change = max(
        [d.year for d in pd.concat([des["start"], des["end"]]).dropna()], default=dt.date.today().year
    )
    last = min((as_of or dt.date.today()).year, max(last_change, dt.date.today().year))
    first = int(des["start"].dt.year.min()) if len(des) else last
    over_time = K.designations_over_time(des, range(first, last + 1))
    out.append(
        {
            "id": "geopolitical_headwinds",
            "name": "Overseas acquisitions by outcome, and designations over time",
            "unit": f"deals, {currency}, entities",
            "description": "Chinese acquirers' deals for foreign targets by year and outcome; blocked share "
            "counts blocked, abandoned and divested deals among decided ones. Designations: atlas entities on "
            "each list at each year end.",
            "years": _years(_jsonable(table)),
            "values": _jsonable(table),
            "summary": {**summary, "records": [f"acquisitions:{r}" for r in summary["records"]]},
            "designations": _jsonable(
                over_time.assign(records=over_time["records"].map(lambda r: [f"designations:{x}" for x in r]))
            ),
            "records": [f"acquisitions:{r}" for r in summary["records"]]
            + [f"designations:{r}" for r in des["record_id"]],
        }
    )

    # debt and sustainability: liability-to-asset ratios of state-controlled firms
    state_fin = fin[fin["group"] == "state"] if len(fin) else fin
    debt = K.yearly_median(state_fin, "liability_ratio") if len(state_fin) else pd.DataFrame()
    debt_rows = (
        _jsonable(debt.assign(records=debt["records"].map(lambda r: [f"financials:{x}" for x in r])))
        if len(debt)
        else []
    )
    out.append(
        {
            "id": "debt",
            "name": "Liability-to-asset ratio of state-controlled firms",
            "unit": "percent",
            "description": "Median total liabilities / total assets of definitely state-controlled firms in the "
            "atlas by year, beside national SOE series.",
            "years": _years(debt_rows),
            "values": debt_rows,
            "national_series": _series(con, "debt"),
            "records": sorted({r for row in debt_rows for r in row["records"]}),
        }
    )

    # innovation effort: R&D intensity of state-controlled firms
    rd = K.yearly_median(state_fin, "rd_intensity") if len(state_fin) else pd.DataFrame()
    rd_rows = (
        _jsonable(rd.assign(records=rd["records"].map(lambda r: [f"financials:{x}" for x in r])))
        if len(rd)
        else []
    )
    out.append(
        {
            "id": "innovation",
            "name": "R&D intensity of state-controlled firms",
            "unit": "percent of revenue",
            "description": "Median R&D expense / revenue of definitely state-controlled firms by year, beside "
            "national and central-SOE R&D series.",
            "years": _years(rd_rows),
            "values": rd_rows,
            "national_series": _series(con, "innovation"),
            "records": sorted({r for row in rd_rows for r in row["records"]}),
        }
    )

    # drivers: export-control events beside the investment response in the next 24 months
    kinds = list(K.DRIVER_KINDS)
    ev = con.execute(
        "SELECT id, date, kind, title, sectors FROM policy_events WHERE list_contains($k, kind) ORDER BY date, id",
        {"k": kinds},
    ).fetch_df()
    if as_of is not None:
        ev = ev[pd.to_datetime(ev["date"]) <= pd.Timestamp(as_of)]
    ev["date"] = pd.to_datetime(ev["date"])
    resp = K.driver_response(ev, atoms) if len(ev) else pd.DataFrame()
    resp_rows = _jsonable(resp)
    out.append(
        {
            "id": "drivers_timeline",
            "name": "Export-control and sanctions events beside the state investment response",
            "unit": currency,
            "description": "For each event, state-attributed flows into its sectors in the 24 months before and "
            "after it (all sectors when the event names none).",
            "years": [int(ev["date"].dt.year.min()), int(ev["date"].dt.year.max())] if len(ev) else None,
            "values": resp_rows,
            "national_series": _series(con, "drivers"),
            "records": [f"policy_events:{i}" for i in ev["id"]],
        }
    )
    return {
        "as_of": as_of.isoformat() if as_of else None,
        "currency": currency,
        "indicators": out,
        "notes": notes,
    }


def indicator_frames(
    con: duckdb.DuckDBPyConnection, as_of: dt.date | None = None, currency: str = "CNY"
) -> dict[str, pd.DataFrame]:
    """The indicators as DataFrames, one per indicator id (the Python API behind `statecap indicators`)."""
    report = indicators_report(con, as_of, currency)
    return {ind["id"]: pd.DataFrame(ind["values"]) for ind in report["indicators"]}


def indicator_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Every indicator value as one flat row (``indicator`` first), for CSV output."""
    rows = []
    for ind in report["indicators"]:
        for v in ind["values"]:
            row = {"indicator": ind["id"], "unit": ind["unit"]}
            row.update({k: (";".join(map(str, x)) if isinstance(x, list) else x) for k, x in v.items()})
            rows.append(row)
    return rows
