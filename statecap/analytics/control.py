"""Control: majority chains, La Porta weakest-link control, and the state classification.

Rules (see docs/ownership.md):

* majority chain: an entity's majority owner holds more than 50%; followed upward it ends at a
  global ultimate owner (an entity without a majority owner, or a state organ);
* La Porta et al. (1999) weakest link at threshold t (20%, 10%): control passes along a chain
  as its weakest stake, chains add up, and an intermediate passes control on only when it is
  itself controlled at t: ``c_j = sum_i min(w_ij, v_i)`` with ``v_i`` unbounded for a root
  and ``c_i`` when ``c_i >= t`` (else 0); controlled at t when ``c_j >= t``;
* integrated share above 50%.

State classes, strongest first: ``state_controlled`` (majority chain ends in a state organ, or
state share above 50%), ``state_influenced`` (state share or the state's weakest-link control at
20% at least 20%), ``state_invested`` (state share above 0), ``none_known``. The class given is
the strongest one the upper bounds allow; ``definite`` when the lower bounds reach it too,
``possible`` otherwise; ``definite_class`` is the strongest class the lower bounds reach.
"""

from __future__ import annotations

import datetime as dt
import heapq
from dataclasses import dataclass
from typing import Any

import numpy as np

from statecap.analytics import _kernels as K
from statecap.analytics.ownership import (
    EPS,
    explain_paths,
    integrated_owners,
    interval_json,
    path_json,
    root_bounds,
    state_share,
    upstream_graph,
)
from statecap.graph.model import OwnershipGraph

CLASSES = ("none_known", "state_invested", "state_influenced", "state_controlled")
LAPORTA_THRESHOLDS = (0.20, 0.10)
_TOL = 1e-12


@dataclass
class ControlResult:
    """Per-entity control results (arrays over the graph's indices; shares in percent).

    Attributes:
        state_class, definite_class: codes into CLASSES (upper-bound class, lower-bound class).
        definite: state_class == definite_class.
        majority_parent: majority owner or -1; majority_definite: parent's stake surely > 50%.
        ultimate_owner: top of the majority chain (-1 when the chain runs into a cycle).
        chain_definite: every hop of the chain surely > 50%; chain_depth: hops to the top.
        laporta: {t: (lo, hi)} the state's weakest-link control at threshold t, percent.
        state_lo, state_hi: the state share used.
    """

    state_class: np.ndarray
    definite_class: np.ndarray
    definite: np.ndarray
    majority_parent: np.ndarray
    majority_definite: np.ndarray
    ultimate_owner: np.ndarray
    chain_definite: np.ndarray
    chain_depth: np.ndarray
    laporta: dict[float, tuple[np.ndarray, np.ndarray]]
    state_lo: np.ndarray
    state_hi: np.ndarray

    def class_name(self, i: int) -> str:
        return CLASSES[int(self.state_class[i])]


def majority_chains(
    graph: OwnershipGraph,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(parent, parent definite, ultimate owner, chain definite, depth) for every entity."""
    in_ptr, in_idx, in_lo, in_hi = graph.in_csr
    par, pdef = K.majority_parent(in_ptr, in_idx, in_lo, in_hi, graph.is_state)
    top, cdef, depth = K.follow_majority(par, pdef)
    return par, pdef, top, cdef, depth


def laporta_control(graph: OwnershipGraph, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """The state organs' weakest-link control at `threshold` (fraction) as (lo, hi) percent."""
    res = root_bounds(graph, K.CONTROL, threshold)
    return res.lo * 100.0, res.hi * 100.0


def classify(graph: OwnershipGraph, state_lo: np.ndarray, state_hi: np.ndarray) -> ControlResult:
    """Classify every entity by the state's control (see module docstring).

    Args:
        graph: the ownership graph.
        state_lo, state_hi: the state share bounds in percent (from `state_share`).
    """
    slo = np.asarray(state_lo, dtype=np.float64) / 100.0
    shi = np.asarray(state_hi, dtype=np.float64) / 100.0
    par, pdef, top, cdef, depth = majority_chains(graph)
    laporta = {t: laporta_control(graph, t) for t in LAPORTA_THRESHOLDS}
    c20lo, c20hi = (x / 100.0 for x in laporta[0.20])
    root = graph.is_state
    top_state = np.zeros(graph.n, dtype=bool)
    ok = top >= 0
    top_state[ok] = root[top[ok]]
    ctrl_def = root | (top_state & cdef) | (slo > 0.5 + _TOL)
    ctrl_pos = root | top_state | (shi > 0.5 + _TOL)
    infl_def = (slo >= 0.2 - _TOL) | (c20lo >= 0.2 - _TOL)
    infl_pos = (shi >= 0.2 - _TOL) | (c20hi >= 0.2 - _TOL)
    inv_def = slo > EPS
    inv_pos = shi > EPS
    upper = np.zeros(graph.n, dtype=np.int8)
    lower = np.zeros(graph.n, dtype=np.int8)
    for level, pos, dfn in ((1, inv_pos, inv_def), (2, infl_pos, infl_def), (3, ctrl_pos, ctrl_def)):
        upper[pos] = level
        lower[dfn] = level
    upper = np.maximum(upper, lower)
    return ControlResult(
        state_class=upper,
        definite_class=lower,
        definite=upper == lower,
        majority_parent=par,
        majority_definite=pdef,
        ultimate_owner=top,
        chain_definite=cdef,
        chain_depth=depth,
        laporta=laporta,
        state_lo=slo * 100.0,
        state_hi=shi * 100.0,
    )


def class_json(ctrl: ControlResult, i: int) -> dict[str, str]:
    """{"class", "certainty", "definite_class"} of entity i."""
    return {
        "class": CLASSES[int(ctrl.state_class[i])],
        "certainty": "definite" if bool(ctrl.definite[i]) else "possible",
        "definite_class": CLASSES[int(ctrl.definite_class[i])],
    }


def majority_chain(ctrl: ControlResult, i: int) -> list[int]:
    """Entity i, its majority owner, that one's majority owner, ... up to the top (or a cycle)."""
    chain = [int(i)]
    seen = {int(i)}
    while True:
        p = int(ctrl.majority_parent[chain[-1]])
        if p < 0 or p in seen:
            break
        chain.append(p)
        seen.add(p)
    return chain


def weakest_link_chains(
    graph: OwnershipGraph,
    roots: np.ndarray,
    target: int,
    threshold: float,
    k: int = 3,
    max_expansions: int = 50_000,
) -> list[tuple[tuple[int, ...], float, float]]:
    """The k chains from a root to `target` with the strongest weakest link (upper bound), each
    intermediate's own control being possibly at least `threshold`: (nodes root-first, lo, hi)."""
    res = root_bounds(graph, K.CONTROL, threshold, roots=roots)
    in_ptr, in_idx, in_lo, in_hi = graph.in_csr
    heap: list[tuple[float, int, float, float, tuple[int, ...]]] = [(-2.0, 0, 2.0, 2.0, (int(target),))]
    counter = 0
    out: list[tuple[tuple[int, ...], float, float]] = []
    expansions = 0
    while heap and len(out) < k and expansions < max_expansions:
        _, _, wlo, whi, nodes = heapq.heappop(heap)
        head = nodes[0]
        if roots[head] and len(nodes) > 1:
            out.append((nodes, wlo, whi))
            continue
        if len(nodes) > 1 and (res.hi[head] < threshold - _TOL or graph.is_state[head]):
            continue
        expansions += 1
        for e in range(in_ptr[head], in_ptr[head + 1]):
            i = int(in_idx[e])
            if i in nodes:
                continue
            nlo, nhi = min(wlo, float(in_lo[e])), min(whi, float(in_hi[e]))
            if nhi <= 0:
                continue
            counter += 1
            heapq.heappush(heap, (-nhi, counter, nlo, nhi, (i, *nodes)))
    return out


def _chain_json(
    graph: OwnershipGraph, nodes: tuple[int, ...] | list[int], lo: float, hi: float
) -> dict[str, Any]:
    hops = []
    for a, b in zip(nodes[:-1], nodes[1:], strict=True):
        edges = graph.edges_into(b)
        edges = edges[graph.edge_owner[edges] == a]
        hops.append(
            {
                "owner": graph.id_of(a),
                "owned": graph.id_of(b),
                "share": interval_json(
                    min(1.0, graph.edge_lo[edges].sum()) * 100, min(1.0, graph.edge_hi[edges].sum()) * 100
                ),
                "stakes": [graph.stake_id(int(x)) for x in edges],
            }
        )
    return {
        "nodes": [graph.id_of(v) for v in nodes],
        "weakest_link": interval_json(lo * 100, hi * 100),
        "hops": hops,
    }


def control_report(
    con: Any,
    entity: str,
    as_of: dt.date | None = None,
    graph: OwnershipGraph | None = None,
    engine: Any = None,
    spark_master: str | None = "local[*]",
) -> dict[str, Any]:
    """What `statecap control ID --json` prints: the controller under each rule and the chain behind it.

    Rules: ``majority`` (chain of >50% owners to the global ultimate owner), ``laporta_20`` and
    ``laporta_10`` (the state's weakest-link control and the strongest chains; and the single
    top-level owner with the most such control), ``integrated_50`` (owners whose integrated
    share is above 50%, the topmost first).

    `engine`: ``local`` (default), ``spark`` or an `statecap.engines.Engine`; on another engine the
    state share, class, La Porta bounds and majority top come from its whole-registry run, the
    chains from the entity's upstream registry (`statecap.engines.reports`).
    """
    from statecap.engines.reports import engine_for, is_local
    from statecap.graph.load import load_graph
    from statecap.store.query import resolve_entity

    if not is_local(engine):
        from statecap.engines import reports

        with engine_for(engine, con, spark_master) as (eng, source):
            return reports.control_report(eng, source, entity, as_of)

    eid = resolve_entity(con, entity)
    g = graph if graph is not None else load_graph(con, as_of)
    target = g.index_of(eid)
    sub, _old, t = upstream_graph(g, target)
    share = state_share(sub)
    ctrl = classify(sub, share.lo, share.hi)

    chain = majority_chain(ctrl, t)
    top = int(ctrl.ultimate_owner[t])
    hops = []
    for a, b in zip(chain[1:], chain[:-1], strict=True):
        edges = sub.edges_into(b)
        edges = edges[sub.edge_owner[edges] == a]
        hops.append(
            {
                "owner": sub.id_of(a),
                "owned": sub.id_of(b),
                "share": interval_json(
                    min(1.0, sub.edge_lo[edges].sum()) * 100, min(1.0, sub.edge_hi[edges].sum()) * 100
                ),
                "definite": bool(ctrl.majority_definite[b]),
                "stakes": [sub.stake_id(int(x)) for x in edges],
            }
        )
    majority = {
        "controller": None if top < 0 or top == t else sub.id_of(top),
        "controller_name": None if top < 0 or top == t else sub.name_of(top),
        "controller_is_state": bool(top >= 0 and top != t and sub.is_state[top]),
        "certainty": "definite" if bool(ctrl.chain_definite[t]) else "possible",
        "cycle": bool(top < 0),
        "chain": [sub.id_of(v) for v in reversed(chain)],
        "hops": list(reversed(hops)),
    }

    rules: dict[str, Any] = {"majority": majority}
    tops = np.flatnonzero(np.diff(sub.in_csr[0]) == 0)  # entities nobody holds: candidate ultimate owners
    for thr in LAPORTA_THRESHOLDS:
        lo, hi = ctrl.laporta[thr]
        state_chains = weakest_link_chains(sub, sub.is_state, t, thr)
        best: dict[str, Any] | None = None
        for r in (int(x) for x in tops):
            if r == t:
                continue
            roots = np.zeros(sub.n, dtype=bool)
            roots[r] = True
            res = root_bounds(sub, K.CONTROL, thr, roots=roots)
            better = best is None or (res.lo[t] * 100, res.hi[t] * 100) > (
                best["control"]["lo"],
                best["control"]["hi"],
            )
            if res.hi[t] >= thr - _TOL and better:
                chains = weakest_link_chains(sub, roots, t, thr, k=1)
                best = {
                    "controller": sub.id_of(r),
                    "controller_name": sub.name_of(r),
                    "controller_is_state": bool(sub.is_state[r]),
                    "control": interval_json(res.lo[t] * 100, res.hi[t] * 100),
                    "certainty": "definite" if res.lo[t] >= thr - _TOL else "possible",
                    "chains": [_chain_json(sub, c[0], c[1], c[2]) for c in chains],
                }
        rules[f"laporta_{round(thr * 100)}"] = {
            "threshold": thr * 100,
            "state_control": interval_json(lo[t], hi[t]),
            "state_controls": "yes"
            if lo[t] >= thr * 100 - 1e-9
            else ("possible" if hi[t] >= thr * 100 - 1e-9 else "no"),
            "state_chains": [_chain_json(sub, c[0], c[1], c[2]) for c in state_chains],
            "ultimate_owner": best,
        }

    owners = integrated_owners(sub, t)
    over = [o for o in owners if o.hi > 50.0 + 1e-9]
    over_ids = {o.index for o in over}
    integrated: list[dict[str, Any]] = []
    for o in over:
        paths = explain_paths(sub, o.index, t, k=1)
        integrated.append(
            {
                "controller": sub.id_of(o.index),
                "controller_name": sub.name_of(o.index),
                "controller_is_state": bool(sub.is_state[o.index]),
                "integrated": interval_json(o.lo, o.hi),
                "certainty": "definite" if o.lo > 50.0 + 1e-9 else "possible",
                "topmost": not any(
                    int(p) in over_ids
                    for p in sub.in_csr[1][sub.in_csr[0][o.index] : sub.in_csr[0][o.index + 1]]
                ),
                "paths": [path_json(sub, p) for p in paths],
            }
        )
    integrated.sort(key=lambda d: (not d["topmost"], -d["integrated"]["hi"]))
    rules["integrated_50"] = {
        "threshold": 50.0,
        "state_share": interval_json(share.lo[t], share.hi[t]),
        "controllers": integrated,
    }
    return {
        "entity": eid,
        "name": g.name_of(target),
        "as_of": None if as_of is None else as_of.isoformat(),
        "state_share": interval_json(share.lo[t], share.hi[t]),
        "state_class": class_json(ctrl, t),
        "rules": rules,
    }
