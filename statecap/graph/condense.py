"""Strongly connected components of the ownership graph, in topological order (cached per graph)."""

from __future__ import annotations

from dataclasses import dataclass

import numba as nb
import numpy as np
from scipy.sparse.csgraph import connected_components

from statecap.graph.model import OwnershipGraph


@dataclass(frozen=True)
class Condensation:
    """The graph's SCCs: ``comp[v]`` per entity, components in topological ``order`` (owners first).

    Members of component c are ``members[mem_ptr[c]:mem_ptr[c+1]]``; ``cyclic[c]`` when a stake
    joins two of its members (self holdings are dropped when the graph is built).
    """

    comp: np.ndarray
    order: np.ndarray
    mem_ptr: np.ndarray
    members: np.ndarray
    cyclic: np.ndarray
    layout: TopoLayout

    @property
    def n_components(self) -> int:
        return len(self.mem_ptr) - 1

    def component_members(self, c: int) -> np.ndarray:
        return self.members[self.mem_ptr[c] : self.mem_ptr[c + 1]]


@dataclass(frozen=True)
class TopoLayout:
    """The graph renumbered in topological order of its components (for cache-friendly passes).

    Position q holds entity ``perm[q]`` (``pos`` is the inverse); the r-th component in
    topological order holds positions ``cptr[r]..cptr[r+1]-1`` and ``cyclic[r]`` says whether it
    has an internal stake. ``in_ptr, in_idx, in_lo, in_hi`` are the owners of each position
    (as positions) with the stake bounds: every owner outside a component comes before it.
    """

    perm: np.ndarray
    pos: np.ndarray
    cptr: np.ndarray
    cyclic: np.ndarray
    in_ptr: np.ndarray
    in_idx: np.ndarray
    in_lo: np.ndarray
    in_hi: np.ndarray

    def members(self, r: int) -> np.ndarray:
        """Entities (original indices) of the r-th component in topological order."""
        return self.perm[self.cptr[r] : self.cptr[r + 1]]


@nb.njit(cache=True)
def condensation_order(n, comp, ncomp, out_ptr, out_idx):
    """Topological order of the strongly connected components (owners before owned).

    Returns (order, mem_ptr, members, cyclic): components in order; members of component c are
    ``members[mem_ptr[c]:mem_ptr[c+1]]``; cyclic[c] when an edge joins two of its members.
    """
    mem_ptr = np.zeros(ncomp + 1, np.int64)
    for v in range(n):
        mem_ptr[comp[v] + 1] += 1
    for c in range(ncomp):
        mem_ptr[c + 1] += mem_ptr[c]
    members = np.empty(n, np.int64)
    fill = mem_ptr[:-1].copy()
    for v in range(n):
        c = comp[v]
        members[fill[c]] = v
        fill[c] += 1
    indeg = np.zeros(ncomp, np.int64)
    cyclic = np.zeros(ncomp, np.bool_)
    for u in range(n):
        cu = comp[u]
        for e in range(out_ptr[u], out_ptr[u + 1]):
            cv = comp[out_idx[e]]
            if cv != cu:
                indeg[cv] += 1
            else:
                cyclic[cu] = True
    order = np.empty(ncomp, np.int64)
    head = 0
    tail = 0
    for c in range(ncomp):
        if indeg[c] == 0:
            order[tail] = c
            tail += 1
    while head < tail:
        c = order[head]
        head += 1
        for k in range(mem_ptr[c], mem_ptr[c + 1]):
            u = members[k]
            for e in range(out_ptr[u], out_ptr[u + 1]):
                cv = comp[out_idx[e]]
                if cv != c:
                    indeg[cv] -= 1
                    if indeg[cv] == 0:
                        order[tail] = cv
                        tail += 1
    return order[:tail], mem_ptr, members, cyclic


@nb.njit(cache=True)
def topo_layout(comp, order, mem_ptr, members, cyclic, in_ptr, in_idx, in_lo, in_hi):
    """Renumber entities in topological order of their components (see TopoLayout)."""
    n = len(comp)
    ncomp = len(order)
    cptr = np.zeros(ncomp + 1, np.int64)
    perm = np.empty(n, np.int64)
    p = 0
    for r in range(ncomp):
        c = order[r]
        cptr[r] = p
        for k in range(mem_ptr[c], mem_ptr[c + 1]):
            perm[p] = members[k]
            p += 1
    cptr[ncomp] = p
    pos = np.empty(n, np.int64)
    for q in range(n):
        pos[perm[q]] = q
    rcyc = np.empty(ncomp, np.bool_)
    for r in range(ncomp):
        rcyc[r] = cyclic[order[r]]
    m = len(in_idx)
    p_ptr = np.zeros(n + 1, np.int64)
    for q in range(n):
        v = perm[q]
        p_ptr[q + 1] = p_ptr[q] + in_ptr[v + 1] - in_ptr[v]
    p_idx = np.empty(m, np.int64)
    p_lo = np.empty(m)
    p_hi = np.empty(m)
    for q in range(n):
        v = perm[q]
        e0 = p_ptr[q]
        for e in range(in_ptr[v], in_ptr[v + 1]):
            p_idx[e0] = pos[in_idx[e]]
            p_lo[e0] = in_lo[e]
            p_hi[e0] = in_hi[e]
            e0 += 1
    return perm, pos, cptr, rcyc, p_ptr, p_idx, p_lo, p_hi


def condensation(graph: OwnershipGraph) -> Condensation:
    """Condense `graph` (computed once per graph object and kept on it)."""
    cached = graph.__dict__.get("_condensation")
    if cached is not None:
        assert isinstance(cached, Condensation)
        return cached
    ncomp, labels = connected_components(graph.W_lo, directed=True, connection="strong")
    out_ptr, out_idx = graph.out_csr
    order, mem_ptr, members, cyclic = condensation_order(
        graph.n, labels.astype(np.int64), int(ncomp), out_ptr, out_idx
    )
    if len(order) != ncomp:
        raise RuntimeError("condensation is not acyclic: strongly connected components are inconsistent")
    comp = labels.astype(np.int64)
    in_ptr, in_idx, in_lo, in_hi = graph.in_csr
    layout = TopoLayout(*topo_layout(comp, order, mem_ptr, members, cyclic, in_ptr, in_idx, in_lo, in_hi))
    result = Condensation(comp, order, mem_ptr, members, cyclic, layout)
    graph.__dict__["_condensation"] = result
    return result
