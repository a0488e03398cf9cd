"""State shares of many entities on many dates, computed once per distinct ownership state.

Stakes change only on their start and end dates, so every date between two consecutive change
points sees the same graph. `SharesAtDates` buckets the dates it is asked about by those change
points and runs the ownership core once per bucket, caching the result.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from statecap.analytics.control import CLASSES, classify
from statecap.analytics.ownership import root_bounds, state_share
from statecap.graph import OwnershipGraph, load_graph

LEVELS = ("central", "provincial", "municipal", "district")


class SharesAtDates:
    """Cached state shares (fractions 0..1) per ownership state of a store."""

    def __init__(self, con: duckdb.DuckDBPyConnection, with_levels: bool = False):
        self._con = con
        rows = con.execute(
            "SELECT DISTINCT d FROM (SELECT valid_from AS d FROM stakes UNION SELECT valid_to FROM stakes) "
            "WHERE d IS NOT NULL ORDER BY d"
        ).fetchall()
        self._points = np.array([np.datetime64(r[0], "D") for r in rows], dtype="datetime64[D]")
        self._graphs: dict[int, OwnershipGraph] = {}
        self._cache: dict[tuple[int, str], tuple[np.ndarray, np.ndarray]] = {}
        levels = con.execute("SELECT id, level FROM entities WHERE level IS NOT NULL").fetchall()
        self._level_of = dict(levels)
        self.with_levels = with_levels

    def _bucket(self, dates: np.ndarray) -> np.ndarray:
        d = np.asarray(dates).astype("datetime64[D]")
        return np.searchsorted(self._points, d, side="right")

    def _bucket_date(self, b: int) -> dt.date:
        if b == 0:
            return dt.date(1800, 1, 1) if len(self._points) == 0 else _to_date(self._points[0] - 1)
        return _to_date(self._points[b - 1])

    def graph(self, b: int) -> OwnershipGraph:
        if b not in self._graphs:
            self._graphs[b] = load_graph(self._con, as_of=self._bucket_date(b))
        return self._graphs[b]

    def _get(
        self, b: int, key: str, compute: Callable[[OwnershipGraph], tuple[np.ndarray, np.ndarray]]
    ) -> Any:
        if (b, key) not in self._cache:
            self._cache[(b, key)] = compute(self.graph(b))
        return self._cache[(b, key)]

    def _lookup(
        self, ids: np.ndarray, dates: np.ndarray, key: str, compute: Callable[[OwnershipGraph], Any]
    ) -> tuple[np.ndarray, np.ndarray]:
        lo = np.zeros(len(ids))
        hi = np.zeros(len(ids))
        buckets = self._bucket(dates)
        for b in np.unique(buckets):
            sel = np.flatnonzero(buckets == b)
            g = self.graph(int(b))
            s_lo, s_hi = self._get(int(b), key, compute)
            idx = g.index.get_indexer(pd.Index(ids[sel]))
            found = idx >= 0
            lo[sel[found]] = s_lo[idx[found]]
            hi[sel[found]] = s_hi[idx[found]]
        return lo, hi

    def lookup(self, ids: np.ndarray, dates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """State share bounds (0..1) of each entity on each date (0 for unknown ids)."""

        def compute(g: OwnershipGraph) -> tuple[np.ndarray, np.ndarray]:
            res = state_share(g)
            return res.lo / 100.0, res.hi / 100.0

        return self._lookup(ids, dates, "state", compute)

    def level_lookup(
        self, ids: np.ndarray, dates: np.ndarray
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Per organ level, the share (0..1) held through state organs of that level only."""
        out_lo: dict[str, np.ndarray] = {}
        out_hi: dict[str, np.ndarray] = {}
        for level in LEVELS:

            def compute(g: OwnershipGraph, level: str = level) -> tuple[np.ndarray, np.ndarray]:
                lv = np.array([self._level_of.get(i) == level for i in g.ids], dtype=bool)
                roots = g.is_state & lv
                if not roots.any():
                    return np.zeros(g.n), np.zeros(g.n)
                res = root_bounds(g, roots=roots)
                return res.lo, res.hi

            lo, hi = self._lookup(ids, dates, f"level:{level}", compute)
            if hi.any():
                out_lo[level], out_hi[level] = lo, hi
        return out_lo, out_hi

    def ownership_group(self, ids: np.ndarray, dates: np.ndarray) -> np.ndarray:
        """``state`` (definitely state-controlled), ``private`` (no state share at all) or ``mixed``."""

        def compute(g: OwnershipGraph) -> tuple[np.ndarray, np.ndarray]:
            res = state_share(g)
            ctrl = classify(g, res.lo, res.hi)
            return ctrl.definite_class.astype(float), ctrl.state_class.astype(float)

        # entities missing from the graph get class 0 (none_known) on both bounds
        lower, upper = self._lookup(ids, dates, "class", compute)
        controlled = CLASSES.index("state_controlled")
        return np.where(lower == controlled, "state", np.where(upper == 0, "private", "mixed"))

    def holdings_lookup(
        self, holder: str, ids: np.ndarray, dates: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """`holder`'s integrated share (0..1) of each entity on each date."""

        def compute(g: OwnershipGraph) -> tuple[np.ndarray, np.ndarray]:
            roots = np.zeros(g.n, dtype=bool)
            i = g.index.get_indexer(pd.Index([holder]))[0]
            if i < 0:
                return np.zeros(g.n), np.zeros(g.n)
            roots[i] = True
            res = root_bounds(g, roots=roots)
            lo, hi = res.lo.copy(), res.hi.copy()
            lo[i] = hi[i] = 0.0  # its own payments are counted as direct by the caller
            return lo, hi

        return self._lookup(ids, dates, f"holder:{holder}", compute)


def _to_date(x: np.datetime64) -> dt.date:
    return dt.date.fromisoformat(str(np.datetime_as_string(x, unit="D")))
