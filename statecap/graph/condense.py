"""Strongly connected components of the ownership graph, in topological order (cached per graph)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numba as nb
import numpy as np
from scipy.sparse.csgraph import connected_components

from statecap.graph.model import OwnershipGraph


@dataclass(frozen=True)
class Condensation:
    """The graph's SCCs: ``comp[v]`` per entity, components in topological ``order`` (owners first).

    ``cyclic[c]`` when a stake joins two members of component c (self holdings are dropped when
    the graph is built). ``layout`` renumbers the entities in that order for the kernels.
    """

    comp: np.ndarray
    order: np.ndarray
    cyclic: np.ndarray
    layout: TopoLayout

    @property
    def n_components(self) -> int:
        return len(self.order)

    def component_members(self, c: int) -> np.ndarray:
        """Entities of component c (original indices)."""
        return self.layout.members(int(self.layout.rank[c]))

    @cached_property
    def mem_ptr(self) -> np.ndarray:
        """Members of component c are ``members[mem_ptr[c]:mem_ptr[c+1]]`` (by component label)."""
        return np.concatenate([[0], np.cumsum(np.bincount(self.comp, minlength=self.n_components))]).astype(
            np.int64
        )

    @cached_property
    def members(self) -> np.ndarray:
        """Entities grouped by component label (see `mem_ptr`)."""
        return np.argsort(self.comp, kind="stable").astype(np.int64)


@dataclass(frozen=True)
class TopoLayout:
    """The graph renumbered in topological order of its components (for cache-friendly passes).

    Position q holds entity ``perm[q]`` (``pos`` is the inverse); the r-th component in
    topological order holds positions ``cptr[r]..cptr[r+1]-1`` and ``cyclic[r]`` says whether it
    has an internal stake; component c is the ``rank[c]``-th. ``in_ptr, in_idx, in_lo, in_hi`` are the owners of each position
    (as positions) with the stake bounds: every owner outside a component comes before it.
    """

    perm: np.ndarray
    pos: np.ndarray
    rank: np.ndarray
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


@nb.njit(cache=True, parallel=True)
def _gather_edges(perm, pos, in_ptr, in_idx, in_lo, in_hi, p_ptr, p_idx, p_lo, p_hi):
    for q in nb.prange(len(perm)):
        v = perm[q]
        e0 = p_ptr[q]
        for e in range(in_ptr[v], in_ptr[v + 1]):
            p_idx[e0] = pos[in_idx[e]]
            p_lo[e0] = in_lo[e]
            p_hi[e0] = in_hi[e]
            e0 += 1


@nb.njit(cache=True)
def topo_layout(comp, rank, cyclic, in_ptr, in_idx, in_lo, in_hi):
    """Renumber entities so that components come in the order given by `rank` (see TopoLayout)."""
    n = len(comp)
    ncomp = len(rank)
    cptr = np.zeros(ncomp + 1, np.int64)
    for v in range(n):
        cptr[rank[comp[v]] + 1] += 1
    for r in range(ncomp):
        cptr[r + 1] += cptr[r]
    fill = cptr[:-1].copy()
    perm = np.empty(n, np.int64)
    pos = np.empty(n, np.int64)
    for v in range(n):
        r = rank[comp[v]]
        perm[fill[r]] = v
        pos[v] = fill[r]
        fill[r] += 1
    rcyc = np.zeros(ncomp, np.bool_)
    for c in range(ncomp):
        rcyc[rank[c]] = cyclic[c]
    m = len(in_idx)
    p_ptr = np.zeros(n + 1, np.int64)
    for q in range(n):
        v = perm[q]
        p_ptr[q + 1] = p_ptr[q] + in_ptr[v + 1] - in_ptr[v]
    p_idx = np.empty(m, np.int32)
    p_lo = np.empty(m)
    p_hi = np.empty(m)
    _gather_edges(perm, pos, in_ptr, in_idx, in_lo, in_hi, p_ptr, p_idx, p_lo, p_hi)
    return perm, pos, rank, cptr, rcyc, p_ptr, p_idx, p_lo, p_hi


@nb.njit(cache=True)
def _cyclic_and_check(comp, ncomp, in_ptr, in_idx):
    """Which components have an internal stake, and whether every stake between components goes
    from a higher label to a lower one (then descending labels are a topological order)."""
    cyclic = np.zeros(ncomp, np.bool_)
    ordered = True
    for j in range(len(in_ptr) - 1):
        cj = comp[j]
        for e in range(in_ptr[j], in_ptr[j + 1]):
            ci = comp[in_idx[e]]
            if ci == cj:
                cyclic[cj] = True
            elif ci < cj:
                ordered = False
    return cyclic, ordered


def condensation(graph: OwnershipGraph) -> Condensation:
    """Condense `graph` (computed once per graph object and kept on it).

    scipy's strong components (Pearce's algorithm) come out labelled so that an owner's
    component has a higher label than the owned one's; that gives the topological order for
    free. It is checked on every stake, and Kahn's algorithm orders the components otherwise.
    """
    cached = graph.__dict__.get("_condensation")
    if cached is not None:
        assert isinstance(cached, Condensation)
        return cached
    ncomp, labels = connected_components(graph.W_lo, directed=True, connection="strong")
    comp = labels.astype(np.int64)
    in_ptr, in_idx, in_lo, in_hi = graph.in_csr
    cyclic, labels_ordered = _cyclic_and_check(comp, int(ncomp), in_ptr, in_idx)
    if labels_ordered:
        order = np.arange(ncomp - 1, -1, -1, dtype=np.int64)
    else:
        out_ptr, out_idx = graph.out_csr
        order, _mem_ptr, _members, _cyc = condensation_order(graph.n, comp, int(ncomp), out_ptr, out_idx)
        if len(order) != ncomp:
            raise RuntimeError("condensation is not acyclic: strongly connected components are inconsistent")
    rank = np.empty(ncomp, dtype=np.int64)
    rank[order] = np.arange(ncomp, dtype=np.int64)
    layout = TopoLayout(*topo_layout(comp, rank, cyclic, in_ptr, in_idx, in_lo, in_hi))
    result = Condensation(comp, order, cyclic, layout)
    graph.__dict__["_condensation"] = result
    return result
