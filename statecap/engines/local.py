"""The local engine: the scipy/numba kernels of `statecap.analytics` on one machine."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pyarrow as pa

from statecap.analytics import _kernels as K
from statecap.engines.base import OWNERSHIP_SCHEMA, SCREEN_SCHEMA, Engine, interval
from statecap.engines.source import RegistrySource, registry_connection
from statecap.graph.model import OwnershipGraph


def entity_flags(res: Any) -> np.ndarray:
    """The flags of each entity's component (the kernel keeps them per component in topological order)."""
    layout = res.cond.layout
    rank = np.searchsorted(layout.cptr, layout.pos, side="right") - 1
    return np.asarray(res.flags[rank], dtype=np.int32)


def ownership_arrays(graph: OwnershipGraph) -> tuple[pa.Table, Any]:
    """The ownership table of a loaded graph, and the share bounds result (for closed groups)."""
    from statecap.analytics.control import CLASSES, classify
    from statecap.analytics.ownership import root_bounds

    res = root_bounds(graph, K.SHARE)
    lo, hi = res.lo * 100.0, res.hi * 100.0
    ctrl = classify(graph, lo, hi)
    cond = res.cond
    sizes = np.diff(cond.mem_ptr)
    first = np.full(cond.n_components, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, cond.comp, np.arange(graph.n, dtype=np.int64))
    component = np.where(sizes[cond.comp] > 1, first[cond.comp], np.arange(graph.n, dtype=np.int64))
    ids = graph.ids_arrow
    classes = np.asarray(CLASSES, dtype=object)

    def id_or_null(idx: np.ndarray) -> pa.Array:
        safe = np.where(idx >= 0, idx, 0)
        return pa.array(
            np.asarray(ids.take(pa.array(safe)).to_pylist(), dtype=object), mask=idx < 0, type=pa.string()
        )

    top = ctrl.ultimate_owner
    table = pa.table(
        {
            "idx": pa.array(np.arange(graph.n, dtype=np.int64)),
            "id": ids,
            "is_state": pa.array(graph.is_state),
            "state_share_lo": pa.array(lo),
            "state_share_hi": pa.array(hi),
            "state_class": pa.array(classes[ctrl.state_class], type=pa.string()),
            "certainty": pa.array(
                np.where(ctrl.definite, "definite", "possible").astype(object), type=pa.string()
            ),
            "definite_class": pa.array(classes[ctrl.definite_class], type=pa.string()),
            "laporta20_lo": pa.array(ctrl.laporta[0.20][0]),
            "laporta20_hi": pa.array(ctrl.laporta[0.20][1]),
            "laporta10_lo": pa.array(ctrl.laporta[0.10][0]),
            "laporta10_hi": pa.array(ctrl.laporta[0.10][1]),
            "majority_parent": id_or_null(ctrl.majority_parent),
            "majority_definite": pa.array(ctrl.majority_definite),
            "ultimate_owner": id_or_null(top),
            "chain_definite": pa.array(ctrl.chain_definite),
            "chain_depth": pa.array(ctrl.chain_depth.astype(np.int64)),
            "component": pa.array(component),
            "cyclic": pa.array(cond.cyclic[cond.comp]),
            "flags": pa.array(entity_flags(res)),
        }
    )
    return table.cast(OWNERSHIP_SCHEMA), res


class LocalEngine(Engine):
    """The reference engine: loads the graph into memory and runs the numba kernels."""

    name = "local"

    def _graph(self, source: RegistrySource, day: dt.date, types: list[str], indirect: str) -> OwnershipGraph:
        from statecap.errors import UsageError
        from statecap.graph.load import load_graph_parquet

        if source.remote:
            raise UsageError(f"{source.folder}: the local engine reads local Parquet files only")
        return load_graph_parquet(source.folder, as_of=day, types=types, indirect=indirect)

    def _ownership(self, source: RegistrySource, day: dt.date, types: list[str], indirect: str) -> pa.Table:
        table, _ = ownership_arrays(self._graph(source, day, types, indirect))
        return table

    def _state_share_top(
        self, source: RegistrySource, day: dt.date, top: int, sector: str | None
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        from statecap.analytics.control import class_json, classify
        from statecap.analytics.ownership import EPS, state_share

        g = self._graph(source, day, ["equity"], "auto")
        share = state_share(g)
        ctrl = classify(g, share.lo, share.hi)
        mask = ~g.is_state & (share.hi > EPS * 100)
        if sector is not None:
            mask &= g.sector_mask(sector)
        cand = np.flatnonzero(mask)
        chosen = cand[np.lexsort((cand, -share.hi[cand], -share.lo[cand]))[:top]]
        rows = [
            {
                "id": g.id_of(i),
                "name": g.name_of(i),
                "kind": str(g.kinds[i]),
                "state_share": interval(share.lo[i], share.hi[i]),
                "state_class": class_json(ctrl, int(i)),
            }
            for i in chosen
        ]
        groups = sorted((sorted(int(v) for v in c.members), c.certainty) for c in share.closed_sccs)
        closed = [{"members": [g.id_of(v) for v in members], "certainty": cert} for members, cert in groups]
        return rows, closed

    def _screen(
        self,
        source: RegistrySource,
        rule: str,
        day: dt.date,
        lists: list[str] | None,
        entries: list[Any],
        use_atlas: bool,
    ) -> tuple[pa.Table, dict[str, Any]]:
        from statecap.graph.load import load_graph
        from statecap.queries.screen import Screening, caught_indices

        con = registry_connection(source)
        try:
            g = load_graph(con, day)
            s = Screening(
                con=con, day=day, as_of=day, graph=g, file_entries=list(entries), use_atlas=use_atlas,
                only_lists=lists,
            )  # fmt: skip
            run = s.run(rule)
            idx, codes = caught_indices(s, rule)
        finally:
            con.close()
        res = run["result"]
        names = np.asarray([None, "possible", "definite", "designated"], dtype=object)
        null = pa.nulls(len(idx), pa.float64())
        if rule == "outbound":
            casc = res.coc
            basis = np.full(len(idx), None, dtype=object)
            basis[res.holder_pos[idx]] = "850.209(a)(2)"
            basis[res.direct_pos[idx]] = "850.209(a)(1)"
            votes_lo, votes_hi = null, null
            basis_arr = pa.array(basis, type=pa.string())
        else:
            casc = res
            basis_arr = pa.nulls(len(idx), pa.string())
            if casc.votes_lo is not None and casc.votes_hi is not None:
                votes_lo, votes_hi = (
                    pa.array(casc.votes_lo[idx] * 100.0),
                    pa.array(casc.votes_hi[idx] * 100.0),
                )
            else:
                votes_lo, votes_hi = null, null
        table = pa.table(
            {
                "idx": pa.array(idx.astype(np.int64)),
                "id": g.ids_arrow.take(pa.array(idx)),
                "verdict": pa.array(names[codes], type=pa.string()),
                "aggregate_lo": pa.array(casc.agg_lo[idx] * 100.0),
                "aggregate_hi": pa.array(casc.agg_hi[idx] * 100.0),
                "votes_lo": votes_lo,
                "votes_hi": votes_hi,
                "basis": basis_arr,
            }
        )
        return table.cast(SCREEN_SCHEMA), run["status"]

    def _match_ids(self, source: RegistrySource, keys: list[str]) -> tuple[set[str], dict[str, set[str]]]:
        con = registry_connection(source, tables=("entities", "entity_identifiers"))
        try:
            con.register("_keys", pa.table({"key": pa.array(keys, type=pa.string())}))
            direct = {
                r[0]
                for r in con.execute("SELECT e.id FROM entities e JOIN _keys k ON k.key = e.id").fetchall()
            }
            ident: dict[str, set[str]] = {}
            for value, ent in con.execute(
                "SELECT DISTINCT i.value, i.entity FROM entity_identifiers i JOIN _keys k ON k.key = i.value"
            ).fetchall():
                ident.setdefault(value, set()).add(ent)
        finally:
            con.close()
        return direct, ident

    def _flows(
        self,
        source: RegistrySource,
        by: list[str],
        year_from: int | None,
        year_to: int | None,
        as_of: dt.date | None,
        currency: str,
    ) -> dict[str, Any]:
        from statecap.queries.flows import flows_report

        con = registry_connection(source)
        try:
            return flows_report(con, by, year_from, year_to, as_of, currency)
        finally:
            con.close()

    def _upstream(self, source: RegistrySource, seeds: list[str], day: dt.date) -> Any:
        """The whole registry: the local engine holds it in memory anyway."""
        return registry_connection(source)
