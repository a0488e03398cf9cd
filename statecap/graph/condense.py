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

    @property
    def n_components(self) -> int:
        return len(self.mem_ptr) - 1

    def component_members(self, c: int) -> np.ndarray:
        return self.members[self.mem_ptr[c] : self.mem_ptr[c + 1]]


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
    result = Condensation(labels.astype(np.int64), order, mem_ptr, members, cyclic)
    graph.__dict__["_condensation"] = result
    return result
