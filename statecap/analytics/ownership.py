"""Integrated ownership (Vitali, Glattfelder, Battiston 2011) as intervals, and its explanations.

Kernels (`state_share`, `root_bounds`, `integrated_owners`, `explain_paths`) are pure functions
of an `OwnershipGraph`. `owners_report` and `state_share_report` answer a whole CLI/API
question from a store connection (they load the graph, call the kernels, look up sources).
Percentages returned to callers are 0..100; the graph and kernels work in fractions 0..1.
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.sparse.csgraph import breadth_first_order

from statecap.analytics import _kernels as K
from statecap.errors import UsageError
from statecap.graph.condense import Condensation
from statecap.graph.model import OwnershipGraph, subgraph

SWEEP_BUDGET = 200_000_000  # stake visits allowed per cyclic component before settling for looser bounds
TOL = 1e-14
MAX_SWEEPS = 2000  # sweeps per phase inside one cyclic component; every iterate is a valid bound
EPS = 1e-9  # values below this (as fractions) count as zero when listing owners or classifying


@dataclass(frozen=True)
class ClosedSCC:
    """A cyclic group of entities whose shares are (or may be) held entirely inside the group.

    Its members' integrated ownership of each other diverges (sum of W^k does not converge);
    no share can reach them from outside, so their state share is 0. ``certainty`` is
    ``definite`` when every member's owners inside the group hold at least 100% for sure,
    ``possible`` when some choice of stakes inside their ranges closes it.
    """

    members: tuple[int, ...]
    certainty: str


@dataclass
class BoundsResult:
    """Lower and upper bounds (fractions) per entity, with per-component flags."""

    lo: np.ndarray
    hi: np.ndarray
    flags: np.ndarray
    cond: Condensation

    def closed_sccs(self) -> list[ClosedSCC]:
        """Closed (or possibly closed) cyclic components; flags are per component in topological order."""
        out = []
        for r in np.flatnonzero(self.flags & (K.F_CLOSED | K.F_MAYBE_CLOSED)):
            certainty = "definite" if self.flags[r] & K.F_CLOSED else "possible"
            members = sorted(int(v) for v in self.cond.layout.members(int(r)))
            out.append(ClosedSCC(tuple(members), certainty))
        return out

    @property
    def n_cyclic(self) -> int:
        return int(np.count_nonzero(self.flags & K.F_CYCLIC))

    @property
    def n_loose(self) -> int:
        """Cyclic components where iteration stopped early (bounds valid, maybe less tight)."""
        return int(np.count_nonzero(self.flags & (K.F_LO_NOT_CONVERGED | K.F_HI_NOT_CONVERGED)))


@dataclass
class StateShareResult:
    """The state's integrated share of every entity, as [lo, hi] in percent (0..100).

    Unpacks as ``lo, hi = state_share(graph)``.
    """

    lo: np.ndarray
    hi: np.ndarray
    closed_sccs: list[ClosedSCC] = field(default_factory=list)
    n_cyclic_components: int = 0
    n_loose_components: int = 0

    def __iter__(self) -> Iterator[np.ndarray]:
        yield self.lo
        yield self.hi


def root_bounds(
    graph: OwnershipGraph, mode: int = K.SHARE, threshold: float = 0.0, roots: np.ndarray | None = None
) -> BoundsResult:
    """Bounds of the roots' integrated share (mode SHARE) or weakest-link control (mode CONTROL).

    Args:
        graph: the ownership graph; its ``is_state`` mask gives the roots unless `roots` is given.
        mode: ``_kernels.SHARE`` or ``_kernels.CONTROL``.
        threshold: for CONTROL, La Porta's cutoff t (fraction): control passes through an
            intermediate only when its own control is at least t.
        roots: another root mask; a root's own owners are ignored (its value is fixed).
    """
    from statecap.graph import condense

    root_mask = np.ascontiguousarray(graph.is_state if roots is None else roots, dtype=bool)
    in_csr = graph.in_csr
    known = condense.cached(graph)
    empty = np.empty(0, np.int64)
    if graph.n_edges > condense.LAYOUT_EDGES:
        # large: on the owners' CSR renumbered in topological order (TopoLayout.owners)
        known = condense.condensation(graph)
        lay = known.layout
        assert lay.owners is not None
        plo, phi, flags, *_ = K.solve(
            mode, float(threshold), *lay.owners, root_mask[lay.perm], True, False, empty, empty,
            lay.cptr, lay.cyclic, SWEEP_BUDGET, MAX_SWEEPS, TOL,
        )  # fmt: skip
        lo = np.empty(graph.n)
        hi = np.empty(graph.n)
        lo[lay.perm] = plo
        hi[lay.perm] = phi
        return BoundsResult(lo, hi, flags, known)
    if known is None:  # the first evaluation finds the components as it goes, and keeps them
        k_comp = k_perm = k_cptr = empty
        k_cyclic = np.empty(0, np.bool_)
    else:
        k_comp, k_perm, k_cptr, k_cyclic = known.comp, known.layout.perm, known.layout.cptr, known.cyclic
    lo, hi, flags, comp, perm, cptr, cyclic, *_ = K.solve(
        mode, float(threshold), *in_csr, root_mask, True, False, k_comp, k_perm, k_cptr, k_cyclic,
        SWEEP_BUDGET, MAX_SWEEPS, TOL,
    )  # fmt: skip
    if known is None:
        known = condense.from_pass(comp, perm, cptr, cyclic)
        condense.keep(graph, known)
    return BoundsResult(lo, hi, flags, known)


def state_share(graph: OwnershipGraph) -> StateShareResult:
    """The integrated share held by all state organs together, for every entity, as bounds.

    ``s_j = sum_i W_ij * (1 if i is a state organ else s_i)``; exact on acyclic parts, iterated
    inside cross-holding cycles, with closed cycles detected and reported. State organs get 100.
    """
    res = root_bounds(graph, K.SHARE)
    return StateShareResult(
        lo=res.lo * 100.0,
        hi=res.hi * 100.0,
        closed_sccs=res.closed_sccs(),
        n_cyclic_components=res.n_cyclic,
        n_loose_components=res.n_loose,
    )


def ancestors(graph: OwnershipGraph, target: int) -> np.ndarray:
    """Indices of every entity with a chain of stakes into `target` (target excluded)."""
    wt = graph.W_hi.T.tocsr()
    found = breadth_first_order(wt, int(target), directed=True, return_predecessors=False)
    return np.asarray(found[found != target], dtype=np.int64)


def descendants(graph: OwnershipGraph, source: int) -> np.ndarray:
    """Indices of every entity `source` holds a chain of stakes into (source excluded)."""
    found = breadth_first_order(graph.W_hi, int(source), directed=True, return_predecessors=False)
    return np.asarray(found[found != source], dtype=np.int64)


@dataclass(frozen=True)
class OwnerShare:
    """One upstream owner of a target: its integrated share (and direct stake, if any), percent."""

    index: int
    lo: float
    hi: float
    direct_lo: float | None
    direct_hi: float | None


def upstream_graph(graph: OwnershipGraph, target: int) -> tuple[OwnershipGraph, np.ndarray, int]:
    """The subgraph of `target` and all its ancestors: (subgraph, new -> old index, target's new index).

    Every value of the target (state share, control, majority chain) depends only on it.
    """
    nodes = np.concatenate([ancestors(graph, target), [target]])
    sub, old = subgraph(graph, nodes)
    return sub, old, int(np.searchsorted(old, target))


def integrated_owners(graph: OwnershipGraph, target: int) -> list[OwnerShare]:
    """Every upstream owner of `target` with its integrated share [lo, hi] in percent.

    The owner is taken as the only root (chains returning to it are cut), so the share never
    exceeds 100% and equals W~[owner, target] when the owner lies on no cycle. Sorted by upper
    bound, then lower bound, largest first; owners whose upper bound is 0 are left out.
    """
    sub, old, t = upstream_graph(graph, target)
    direct: dict[int, tuple[float, float]] = {}
    in_ptr, in_idx, in_lo, in_hi = sub.in_csr
    for e in range(in_ptr[t], in_ptr[t + 1]):
        direct[int(in_idx[e])] = (float(in_lo[e]), float(in_hi[e]))
    out: list[OwnerShare] = []
    roots = np.zeros(sub.n, dtype=bool)
    for i in range(sub.n):
        if i == t:
            continue
        roots[i] = True
        res = root_bounds(sub, K.SHARE, roots=roots)
        roots[i] = False
        lo, hi = float(res.lo[t]), float(res.hi[t])
        if hi <= EPS:
            continue
        d = direct.get(i)
        out.append(
            OwnerShare(
                index=int(old[i]),
                lo=lo * 100.0,
                hi=hi * 100.0,
                direct_lo=None if d is None else d[0] * 100.0,
                direct_hi=None if d is None else d[1] * 100.0,
            )
        )
    out.sort(key=lambda o: (-o.hi, -o.lo, o.index))
    return out


@dataclass(frozen=True)
class PathHop:
    owner: int
    owned: int
    lo: float  # percent
    hi: float
    stakes: tuple[str, ...]


@dataclass(frozen=True)
class OwnershipPath:
    """A chain of stakes from an owner to a target; its share is the product of the stakes."""

    nodes: tuple[int, ...]  # owner first, target last
    lo: float  # percent
    hi: float
    hops: tuple[PathHop, ...]


def explain_paths(
    graph: OwnershipGraph,
    owner: int | str,
    target: int,
    k: int = 5,
    max_expansions: int = 50_000,
) -> list[OwnershipPath]:
    """The top-k simple ownership paths from `owner` (an index, or ``"state"``: any state organ)
    to `target`, by the midpoint of their product, largest first.

    A best-first search backwards from the target: a path's product can only shrink when it is
    extended, so paths come out in order. Paths do not pass through state organs.
    """
    if k < 1:
        raise UsageError("k must be at least 1")
    in_ptr, in_idx, in_lo, in_hi = graph.in_csr
    if owner == "state":
        is_source = graph.is_state
        allowed = np.zeros(graph.n, dtype=bool)
        res = root_bounds(graph, K.SHARE)
        allowed[res.hi > 0] = True
    elif isinstance(owner, int | np.integer):
        is_source = np.zeros(graph.n, dtype=bool)
        is_source[int(owner)] = True
        allowed = np.zeros(graph.n, dtype=bool)
        allowed[descendants(graph, int(owner))] = True
        allowed[int(owner)] = True
    else:
        raise UsageError(f"owner must be an entity index or 'state', not {owner!r}")
    if not allowed[target]:
        return []
    counter = 0
    heap: list[tuple[float, int, float, float, tuple[int, ...]]] = [(-1.0, counter, 1.0, 1.0, (int(target),))]
    found: list[tuple[tuple[int, ...], float, float]] = []
    expansions = 0
    while heap and len(found) < k and expansions < max_expansions:
        _, _, plo, phi, nodes = heapq.heappop(heap)
        head = nodes[0]
        if is_source[head] and len(nodes) > 1:
            found.append((nodes, plo, phi))
            continue
        if graph.is_state[head] and len(nodes) > 1:
            continue
        expansions += 1
        on_path = set(nodes)
        for e in range(in_ptr[head], in_ptr[head + 1]):
            i = int(in_idx[e])
            if i in on_path or not allowed[i]:
                continue
            nlo, nhi = plo * float(in_lo[e]), phi * float(in_hi[e])
            if nhi <= 0.0:
                continue
            counter += 1
            heapq.heappush(heap, (-(nlo + nhi) / 2.0, counter, nlo, nhi, (i, *nodes)))
    paths = []
    for nodes, plo, phi in found:
        hops = []
        for a, b in zip(nodes[:-1], nodes[1:], strict=True):
            edges = graph.edges_into(b)
            edges = edges[graph.edge_owner[edges] == a]
            hops.append(
                PathHop(
                    owner=a,
                    owned=b,
                    lo=float(min(1.0, graph.edge_lo[edges].sum())) * 100.0,
                    hi=float(min(1.0, graph.edge_hi[edges].sum())) * 100.0,
                    stakes=tuple(graph.stake_id(int(x)) for x in edges),
                )
            )
        paths.append(OwnershipPath(nodes=nodes, lo=plo * 100.0, hi=phi * 100.0, hops=tuple(hops)))
    return paths


# ---- whole questions, from a store ---------------------------------------------------------


def interval_json(lo: float, hi: float) -> dict[str, float]:
    """{"lo", "hi"} in percent, rounded to 1e-9 and clipped into 0..100."""
    a = min(100.0, max(0.0, round(float(lo), 9)))
    b = min(100.0, max(0.0, round(float(hi), 9)))
    return {"lo": min(a, b), "hi": b}


def path_json(graph: OwnershipGraph, path: OwnershipPath, sources: Any = None) -> dict[str, Any]:
    """A path as JSON; `sources(stake_id)` (optional) returns the sources of one stake."""
    return {
        "nodes": [graph.id_of(v) for v in path.nodes],
        "share": interval_json(path.lo, path.hi),
        "hops": [
            {
                "owner": graph.id_of(h.owner),
                "owned": graph.id_of(h.owned),
                "share": interval_json(h.lo, h.hi),
                "stakes": [
                    {"id": s, **({"sources": sources(s)} if sources is not None else {})} for s in h.stakes
                ],
            }
            for h in path.hops
        ],
    }


def _stake_sources(con: Any) -> Any:
    from statecap.store.query import record_sources

    cache: dict[str, list[dict[str, Any]]] = {}

    def lookup(stake_id: str) -> list[dict[str, Any]]:
        if stake_id not in cache:
            cache[stake_id] = record_sources(con, "stakes", stake_id)
        return cache[stake_id]

    return lookup


def entity_state_summary(graph: OwnershipGraph, target: int) -> dict[str, Any]:
    """State share and state class of one entity, computed on its upstream subgraph only."""
    from statecap.analytics.control import class_json, classify

    sub, _old, t = upstream_graph(graph, target)
    share = state_share(sub)
    ctrl = classify(sub, share.lo, share.hi)
    return {
        "state_share": interval_json(share.lo[t], share.hi[t]),
        "state_class": class_json(ctrl, t),
        "_sub": (sub, t, share, ctrl),
    }


def owners_report(
    con: Any,
    entity: str,
    as_of: dt.date | None = None,
    paths: int = 3,
    graph: OwnershipGraph | None = None,
    engine: Any = None,
    spark_master: str | None = "local[*]",
) -> dict[str, Any]:
    """What `statecap owners ID --json` prints: the state's share and class of the entity, and
    every direct and indirect owner with its integrated share and top paths (with sources).

    Args:
        con: an open store. entity: an id or identifier. as_of: date (None: today).
        paths: how many paths to give per owner. graph: a graph already loaded for `as_of`.
        engine: ``local`` (default), ``spark`` or an `statecap.engines.Engine`: on another engine
            the state share and class come from its whole-registry run, the owners and paths from
            the entity's upstream registry (`statecap.engines.reports`). spark_master: for
            ``spark``.
    """
    from statecap.engines.reports import engine_for, is_local
    from statecap.graph.load import load_graph
    from statecap.store.query import resolve_entity

    if not is_local(engine):
        from statecap.engines import reports

        with engine_for(engine, con, spark_master) as (eng, source):
            return reports.owners_report(eng, source, entity, as_of, paths)

    eid = resolve_entity(con, entity)
    g = graph if graph is not None else load_graph(con, as_of)
    target = g.index_of(eid)
    summary = entity_state_summary(g, target)
    sub, t, _share, _ctrl = summary.pop("_sub")
    sources = _stake_sources(con)
    owners = []
    for o in integrated_owners(sub, t):
        found = explain_paths(sub, o.index, t, k=paths)
        owners.append(
            {
                "id": sub.id_of(o.index),
                "name": sub.name_of(o.index),
                "kind": str(sub.kinds[o.index]),
                "direct": None if o.direct_lo is None else interval_json(o.direct_lo, o.direct_hi or 0.0),
                "integrated": interval_json(o.lo, o.hi),
                "paths": [path_json(sub, p, sources) for p in found],
            }
        )
    state_paths = explain_paths(sub, "state", t, k=paths)
    return {
        "entity": eid,
        "name": g.name_of(target),
        "as_of": None if as_of is None else as_of.isoformat(),
        "evaluated_on": g.as_of.isoformat() if g.as_of is not None else None,
        **summary,
        "state_paths": [path_json(sub, p, sources) for p in state_paths],
        "owners": owners,
    }


def state_share_report(
    con: Any,
    top: int = 20,
    sector: str | None = None,
    as_of: dt.date | None = None,
    graph: OwnershipGraph | None = None,
) -> dict[str, Any]:
    """What `statecap state-share --json` prints: entities with the largest state shares first.

    State organs themselves are left out; ranking is by lower bound, then upper bound.
    """
    from statecap.analytics.control import class_json, classify
    from statecap.graph.load import load_graph

    if top < 1:
        raise UsageError("--top must be at least 1")
    g = graph if graph is not None else load_graph(con, as_of)
    if sector is not None:
        from statecap.model.taxonomy import load_taxonomy

        if sector not in load_taxonomy().sectors:
            raise UsageError(f"--sector {sector!r} is not a sector code (see sectors.yaml)")
    share = state_share(g)
    ctrl = classify(g, share.lo, share.hi)
    mask = ~g.is_state & (share.hi > EPS * 100)
    if sector is not None:
        mask &= g.sector_mask(sector)
    cand = np.flatnonzero(mask)
    order = np.lexsort((cand, -share.hi[cand], -share.lo[cand]))
    chosen = cand[order[:top]]
    return {
        "as_of": None if as_of is None else as_of.isoformat(),
        "sector": sector,
        "results": [
            {
                "id": g.id_of(i),
                "name": g.name_of(i),
                "kind": str(g.kinds[i]),
                "state_share": interval_json(share.lo[i], share.hi[i]),
                "state_class": class_json(ctrl, int(i)),
            }
            for i in chosen
        ],
        "closed_sccs": [
            {"members": [g.id_of(v) for v in c.members], "certainty": c.certainty} for c in share.closed_sccs
        ],
    }
