"""The system's costs and drivers as indicators, each computed from frames of records.

Pure functions: the query layer (`statecap.queries.indicators`) reads the store and passes
frames in. Every indicator returns rows that name the records they rest on.

Ownership groups for comparisons: ``state`` (state_controlled), ``mixed`` (state_influenced or
state_invested) and ``private`` (none_known), as classified by the ownership core on the
figure's date.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

GROUP_OF_CLASS = {
    "state_controlled": "state",
    "state_influenced": "mixed",
    "state_invested": "mixed",
    "none_known": "private",
}
DRIVER_KINDS = ("export_control", "entity_listing", "outbound_investment", "sanctions_rule", "countermeasure")


def _records(frame: pd.DataFrame, column: str = "record_id") -> list[str]:
    return sorted(set(frame[column].dropna().astype(str)))


def financial_ratios(fin: pd.DataFrame) -> pd.DataFrame:
    """Add ROA, ROE, liability-to-asset ratio and R&D intensity (all in percent) to financials.

    ROE uses reported equity, else assets minus liabilities. A ratio is NaN where an input is
    missing or its denominator is not positive.
    """
    f = fin.copy()

    def ratio(num: str, den: pd.Series) -> pd.Series:
        d = den.where(den > 0)
        return 100.0 * f[num] / d

    equity = f["equity"].fillna(f["total_assets"] - f["total_liabilities"])
    f["roa"] = ratio("net_profit", f["total_assets"])
    f["roe"] = ratio("net_profit", equity)
    f["liability_ratio"] = ratio("total_liabilities", f["total_assets"])
    f["rd_intensity"] = ratio("rd_expense", f["revenue"])
    return f


def efficiency(fin: pd.DataFrame) -> pd.DataFrame:
    """Median ROA and ROE by sector, year and ownership group.

    `fin` has ``entity``, ``year``, ``sector``, ``group``, ``roa``, ``roe``, ``record_id``.
    """
    rows = []
    data = fin.dropna(subset=["sector"])
    for (sector, year, group), g in data.groupby(["sector", "year", "group"], sort=True):
        for metric in ("roa", "roe"):
            vals = g[metric].dropna()
            if vals.empty:
                continue
            rows.append(
                {
                    "sector": sector,
                    "year": int(year),
                    "group": group,
                    "metric": metric,
                    "median": float(vals.median()),
                    "firms": int(g.loc[vals.index, "entity"].nunique()),
                    "records": _records(g.loc[vals.index]),
                }
            )
    return pd.DataFrame(rows, columns=["sector", "year", "group", "metric", "median", "firms", "records"])


def efficiency_gap(eff: pd.DataFrame) -> pd.DataFrame:
    """State minus private median ROA (percentage points) where a sector-year has both."""
    roa = eff[eff["metric"] == "roa"].pivot_table(index=["sector", "year"], columns="group", values="median")
    if "state" not in roa or "private" not in roa:
        return pd.DataFrame(columns=["sector", "year", "state_roa", "private_roa", "gap_pp"])
    both = roa.dropna(subset=["state", "private"]).reset_index()
    return pd.DataFrame(
        {
            "sector": both["sector"],
            "year": both["year"].astype(int),
            "state_roa": both["state"],
            "private_roa": both["private"],
            "gap_pp": both["state"] - both["private"],
        }
    )


def distortion(by_sector: pd.DataFrame) -> pd.DataFrame:
    """State-attributable share (percent, as an interval) of each sector's recorded capital.

    `by_sector` is the flows aggregate by sector (``amount``, ``state_lo``, ``state_hi``).
    """
    f = by_sector[by_sector["amount"] > 0].copy()
    f["share_lo"] = 100.0 * f["state_lo"] / f["amount"]
    f["share_hi"] = 100.0 * f["state_hi"] / f["amount"]
    return f[["sector", "amount", "state_lo", "state_hi", "share_lo", "share_hi", "records"]].reset_index(
        drop=True
    )


def acquisitions_by_outcome(acq: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Overseas acquisitions by year and outcome, and the blocked share.

    `acq` rows: ``record_id``, ``year``, ``status``, ``overseas`` (bool), ``value`` (converted,
    may be NaN). Blocked means blocked, abandoned under scrutiny or ordered divested; pending
    deals are left out of the share.
    """
    over = acq[acq["overseas"]].copy()
    table = (
        over.groupby(["year", "status"], sort=True)
        .agg(deals=("record_id", "nunique"), value=("value", "sum"))
        .reset_index()
    )
    decided = over[over["status"] != "pending"]
    failed = decided[decided["status"].isin(["blocked", "abandoned", "divested"])]
    summary = {
        "deals": int(len(decided)),
        "failed": int(len(failed)),
        "blocked_share_pct": float(100.0 * len(failed) / len(decided)) if len(decided) else None,
        "value_failed": float(failed["value"].sum(skipna=True)),
        "value_decided": float(decided["value"].sum(skipna=True)),
        "records": _records(over),
    }
    return table, summary


def designations_over_time(des: pd.DataFrame, years: range) -> pd.DataFrame:
    """Atlas entities on each list at the end of each year (``start`` and ``end`` are dates)."""
    rows = []
    for year in years:
        end_of_year = pd.Timestamp(year=year, month=12, day=31)
        live = des[(des["start"] <= end_of_year) & (des["end"].isna() | (des["end"] > end_of_year))]
        for lst, g in live.groupby("list", sort=True):
            rows.append(
                {"year": year, "list": lst, "entities": int(g["entity"].nunique()), "records": _records(g)}
            )
    return pd.DataFrame(rows, columns=["year", "list", "entities", "records"])


def yearly_median(frame: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Median of `metric` by year over the rows given (e.g. state-controlled firms)."""
    data = frame.dropna(subset=[metric])
    rows = [
        {
            "year": int(y),
            "median": float(g[metric].median()),
            "firms": int(g["entity"].nunique()),
            "records": _records(g),
        }
        for y, g in data.groupby("year", sort=True)
    ]
    return pd.DataFrame(rows, columns=["year", "median", "firms", "records"])


def driver_response(events: pd.DataFrame, atoms: pd.DataFrame, window_months: int = 24) -> pd.DataFrame:
    """State-attributed investment into each event's sectors in the window before and after it.

    `events`: ``id``, ``date`` (Timestamp), ``kind``, ``title``, ``sectors`` (list of top-level
    codes; empty means all sectors). `atoms`: ``date`` (Timestamp), ``sector``, ``state_lo``,
    ``state_hi``, ``record_type``, ``record_id``. Returns one row per event with the before and
    after sums (lo, hi) and the number of records in each window.
    """
    rows = []
    off = pd.DateOffset(months=window_months)
    for ev in events.itertuples(index=False):
        sectors = {s.split(".")[0] for s in (ev.sectors if ev.sectors is not None else [])}
        pick = atoms if not sectors else atoms[atoms["sector"].isin(sectors)]
        before = pick[(pick["date"] >= ev.date - off) & (pick["date"] < ev.date)]
        after = pick[(pick["date"] >= ev.date) & (pick["date"] < ev.date + off)]
        rows.append(
            {
                "event": ev.id,
                "date": ev.date.date().isoformat(),
                "kind": ev.kind,
                "title": ev.title,
                "sectors": sorted(sectors),
                "before_lo": float(before["state_lo"].sum()),
                "before_hi": float(before["state_hi"].sum()),
                "after_lo": float(after["state_lo"].sum()),
                "after_hi": float(after["state_hi"].sum()),
                "records_before": int(len(set(zip(before["record_type"], before["record_id"], strict=True)))),
                "records_after": int(len(set(zip(after["record_type"], after["record_id"], strict=True)))),
            }
        )
    return pd.DataFrame(rows)


def percent_or_none(x: float) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)
