"""Follow the money: attribute each flow of capital to the state, by sector, mechanism, year, level.

Pure functions over pandas frames and numpy arrays (no store access). The query layer
(`statecap.queries.flows`) reads the records, computes state shares as of each flow's date with
the ownership core, and calls these.

Vocabulary:

- an **atom** is one record's money going to one sector: an investment, an R&D or capex figure,
  a joint-venture contribution, a completed acquisition, a funded partnership. A record with
  several sectors is split into equal parts, one atom per sector, so totals are conserved;
- a **payer** is whoever's money it is: the investor, the spender, the acquirer, each JV partner
  (weighted by its share of the JV), each partnership party (in equal parts); or the state itself
  for subsidies, tax incentives and policy-bank credit received;
- the **state factor** of an atom is the part of its amount that is the state's:
  ``sum_p w_p * s_p`` over its payers, with ``s_p`` the payer's state share on the atom's date
  and ``w_p`` the payer's weight; it is an interval because both can be.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

LEVELS = ("central", "provincial", "municipal", "district")
STATE_PAYER = "__state__"  # payer id for money that is the state's by nature (subsidies received)
GROUP_KEYS = ("sector", "sub_sector", "mechanism", "year", "level", "record_type", "currency")


def state_factors(
    payers: pd.DataFrame,
    share_lo: np.ndarray,
    share_hi: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The state factor [lo, hi] of every payer row (before summing per atom).

    Args:
        payers: rows with ``w_lo``, ``w_hi`` (payer weight, 0..1) and ``row`` (the index of the
            payer's state share in `share_lo`/`share_hi`, or -1 for the state itself).
        share_lo, share_hi: state shares (0..1) that the ``row`` column indexes.
    """
    row = payers["row"].to_numpy()
    is_state = row < 0
    s_lo = np.where(is_state, 1.0, share_lo[np.maximum(row, 0)])
    s_hi = np.where(is_state, 1.0, share_hi[np.maximum(row, 0)])
    return payers["w_lo"].to_numpy() * s_lo, payers["w_hi"].to_numpy() * s_hi


def atom_factors(
    payers: pd.DataFrame, lo: np.ndarray, hi: np.ndarray, n_atoms: int
) -> tuple[np.ndarray, np.ndarray]:
    """Sum payer factors per atom; the upper bound never exceeds 1 (nobody pays more than it all)."""
    atom = payers["atom"].to_numpy()
    f_lo = np.bincount(atom, weights=lo, minlength=n_atoms)
    f_hi = np.bincount(atom, weights=hi, minlength=n_atoms)
    f_hi = np.minimum(f_hi, 1.0)
    f_lo = np.minimum(f_lo, f_hi)
    return f_lo, f_hi


def aggregate(atoms: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """Sum converted amounts and state-attributed bounds over the `by` keys.

    `atoms` needs ``amount`` (converted), ``state_lo``, ``state_hi`` (attributed amounts, same
    unit), ``record_type``, ``record_id`` and the `by` columns. Returns one row per group with
    ``amount``, ``state_lo``, ``state_hi`` and ``records`` (distinct source records).
    """
    unknown = [b for b in by if b not in atoms.columns]
    if unknown:
        raise ValueError(f"cannot group flows by {', '.join(unknown)}")
    keys = list(by)
    if atoms.empty:
        return pd.DataFrame(columns=[*keys, "amount", "state_lo", "state_hi", "records"])
    frame = atoms.assign(_rec=atoms["record_type"] + ":" + atoms["record_id"])
    grouped = frame.groupby(keys, dropna=False, sort=True)
    out = grouped.agg(
        amount=("amount", "sum"),
        state_lo=("state_lo", "sum"),
        state_hi=("state_hi", "sum"),
        records=("_rec", "nunique"),
    ).reset_index()
    return out.sort_values(
        ["amount", *keys], ascending=[False, *([True] * len(keys))], kind="stable"
    ).reset_index(drop=True)


def split_by_level(
    atoms: pd.DataFrame,
    payers: pd.DataFrame,
    level_lo: dict[str, np.ndarray],
    level_hi: dict[str, np.ndarray],
) -> pd.DataFrame:
    """One row per (atom, level of the state organs behind it).

    For level L, the attributed part uses the state share held through organs of level L only.
    Money that is the state's by nature (subsidies received) has level ``unspecified``; an atom
    with no state behind it at all appears once with level ``none`` and zero attribution. The
    amount column repeats the atom's amount on each of its level rows.
    """
    n = len(atoms)
    amount = atoms["amount"].to_numpy()
    organ_payers = payers[payers["row"] >= 0]
    own = payers[payers["row"] < 0]
    parts = []
    backed = np.zeros(n, dtype=bool)
    for level in level_lo:
        lo, hi = state_factors(organ_payers, level_lo[level], level_hi[level])
        f_lo, f_hi = atom_factors(organ_payers, lo, hi, n)
        keep = f_hi > 0
        backed |= keep
        parts.append(
            atoms[keep].assign(level=level, state_lo=(amount * f_lo)[keep], state_hi=(amount * f_hi)[keep])
        )
    if len(own):
        lo, hi = own["w_lo"].to_numpy(), own["w_hi"].to_numpy()
        f_lo, f_hi = atom_factors(own, lo, hi, n)
        keep = f_hi > 0
        backed |= keep
        parts.append(
            atoms[keep].assign(
                level="unspecified", state_lo=(amount * f_lo)[keep], state_hi=(amount * f_hi)[keep]
            )
        )
    parts.append(atoms[~backed].assign(level="none", state_lo=0.0, state_hi=0.0))
    return pd.concat(parts, ignore_index=True)


def convert(
    amounts: np.ndarray,
    currencies: np.ndarray,
    years: np.ndarray,
    rates: pd.DataFrame,
    target: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Convert amounts to `target` with annual average rates.

    Args:
        amounts, currencies, years: the amounts in their source currency and the year of each.
        rates: rows of ``currency``, ``year``, ``cny_per_unit`` (annual average CNY per unit).
        target: the currency to convert to.

    When a year has no rate, the nearest year that has one is used. Returns the converted
    amounts (NaN where a currency has no rate at all) and the year of the rate used (the source
    currency's, or the target's when the source is CNY; 0 where none).
    """
    n = len(amounts)
    years = np.asarray(years, dtype=np.int64)
    cny = pd.DataFrame({"currency": ["CNY"], "year": [0], "cny_per_unit": [1.0]})
    table = pd.concat([rates[["currency", "year", "cny_per_unit"]], cny], ignore_index=True)
    table["year"] = table["year"].astype(np.int64)

    def lookup(cur: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        q = pd.DataFrame({"i": np.arange(n), "currency": cur.astype(str), "year": years})
        q = q.sort_values("year", kind="stable")
        res = np.full(n, np.nan)
        used = np.zeros(n, dtype=np.int64)
        for c, grp in q.groupby("currency", sort=False):
            t = table[table["currency"] == c].sort_values("year")
            if t.empty:
                continue
            if c == "CNY":
                res[grp["i"].to_numpy()] = 1.0
                used[grp["i"].to_numpy()] = grp["year"].to_numpy()
                continue
            m = pd.merge_asof(grp, t.rename(columns={"year": "rate_year"}).drop(columns="currency"),
                              left_on="year", right_on="rate_year", direction="nearest")  # fmt: skip
            res[m["i"].to_numpy()] = m["cny_per_unit"].to_numpy()
            used[m["i"].to_numpy()] = m["rate_year"].to_numpy()
        return res, used

    cur = np.asarray(currencies).astype(str)
    src, used_src = lookup(cur)
    dst, used_dst = lookup(np.full(n, target))
    # report the year of whichever side needed a rate (the source's when both did)
    used = np.where(cur == "CNY", used_dst, used_src)
    return np.asarray(amounts, dtype=float) * src / dst, used
