"""Strongly connected components of the ownership graph, in topological order (cached per graph).

One compiled pass over the owners' CSR does it all. Pearce's iterative variant of Tarjan's
algorithm walks from every entity to its owners, so a component is completed only after every
component holding a stake in it: the order of completion is already a topological order
(owners first), and no second pass orders the components. Each completed component takes the
next positions at once, and its members' rows of the owners' CSR are copied out in that
numbering, so no separate pass renumbers the graph either. An entity whose owners are all
placed when it is reached (most of a registry) is a component by itself; it is placed and its
row copied in the same scan that checks its owners.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numba as nb
import numpy as np

from statecap.graph.model import OwnershipGraph


@dataclass(frozen=True)
class Condensation:
    """The graph's SCCs: ``comp[v]`` per entity, components in topological ``order`` (owners first).

    As built by `condensation`, a component's label is its rank in that order (``order`` is
    ``0..n_components-1``). ``cyclic[c]`` when a stake joins two members of component c (or one
    member to itself). ``layout`` renumbers the entities in that order for the kernels.
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

    def _labels_are_ranks(self) -> bool:
        return self.order is self.layout.rank or bool(
            np.array_equal(self.order, np.arange(len(self.order), dtype=self.order.dtype))
        )

    @cached_property
    def mem_ptr(self) -> np.ndarray:
        """Members of component c are ``members[mem_ptr[c]:mem_ptr[c+1]]`` (by component label)."""
        if self._labels_are_ranks():
            return self.layout.cptr
        return np.concatenate([[0], np.cumsum(np.bincount(self.comp, minlength=self.n_components))]).astype(
            np.int64
        )

    @cached_property
    def members(self) -> np.ndarray:
        """Entities grouped by component label (see `mem_ptr`), ascending within a component."""
        if self._labels_are_ranks():
            return self.layout.perm
        return np.argsort(self.comp, kind="stable").astype(np.int64)


@dataclass(frozen=True)
class TopoLayout:
    """The graph renumbered in topological order of its components (for cache-friendly passes).

    Position q holds entity ``perm[q]`` (``pos`` is the inverse); the r-th component in
    topological order holds positions ``cptr[r]..cptr[r+1]-1`` (its members by ascending
    index) and ``cyclic[r]`` says whether it has an internal stake; component c is the
    ``rank[c]``-th. ``in_ptr, in_idx, in_lo, in_hi`` are the owners of each position (as
    positions, in the order of the owners' indices) with the stake bounds: every owner outside
    a component comes before it.
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


@nb.njit(cache=True, inline="always")
def _place_if_owners_placed(
    w, in_ptr, in_idx, in_lo, in_hi, rindex, big, npos, ncomp, out, perm, comp, cptr, p_ptr, p_idx, p_lo, p_hi
):
    """If every owner of w already has its position, w is a component by itself: give it
    position `npos` and component rank `ncomp`, copy its row (owners as positions) from `out`
    on while checking. Returns (placed, npos, ncomp, out) after it; when not placed, the
    counters are unchanged (the partial copy is overwritten later)."""
    end = out
    for f in range(in_ptr[w], in_ptr[w + 1]):
        ro = rindex[in_idx[f]]
        if ro < big:
            return False, npos, ncomp, out
        p_idx[end] = ro - big
        p_lo[end] = in_lo[f]
        p_hi[end] = in_hi[f]
        end += 1
    perm[npos] = w
    rindex[w] = big + npos
    comp[w] = ncomp
    p_ptr[npos + 1] = end
    cptr[ncomp + 1] = npos + 1
    return True, npos + 1, ncomp + 1, end


@nb.njit(cache=True)
def scc_layout(in_ptr, in_idx, in_lo, in_hi):
    """Strong components of the graph given by its owners' CSR, in topological order, and that
    CSR renumbered in the order (see the module docstring).

    Pearce's algorithm (one index per vertex, no separate lowlink), iterative, following the
    stakes from an entity to its owners. Once placed, a vertex's index becomes
    ``n + 1 + position``: larger than every live index, so the algorithm's comparisons ignore
    it, and the position is read straight off it when an owned entity's row is copied.

    Returns:
        (comp, perm, pos, cptr, cyclic, p_ptr, p_idx, p_lo, p_hi): ``comp[v]`` the rank of v's
        component; ``perm``/``pos`` position -> entity and back; component r at positions
        ``cptr[r]..cptr[r+1]-1``; ``cyclic[r]``; the owners' CSR by position.
    """
    n = len(in_ptr) - 1
    m = in_ptr[n]
    big = n + 1
    rindex = np.zeros(n, np.int64)  # 0 unvisited; 1..n live DFS index; big + position once placed
    # DFS frames grow from the bottom of `stack`, vertices waiting for their component's root
    # from the top: a vertex is in at most one of the two, so n slots hold both
    stack = np.empty(n, np.int64)
    enext = np.empty(n, np.int64)
    is_root = np.empty(n, np.bool_)
    comp = np.empty(n, np.int64)
    perm = np.empty(n, np.int64)
    cptr = np.empty(n + 1, np.int64)
    cyclic = np.zeros(n, np.bool_)
    p_ptr = np.empty(n + 1, np.int64)
    p_idx = np.empty(m, in_idx.dtype)
    p_lo = np.empty(m, in_lo.dtype)
    p_hi = np.empty(m, in_hi.dtype)
    cptr[0] = 0
    p_ptr[0] = 0
    index = 1
    top = n  # waiting vertices: stack[top:n], the latest first
    npos = 0
    ncomp = 0
    out = 0
    for s in range(n):
        if rindex[s] != 0:
            continue
        placed, npos, ncomp, out = _place_if_owners_placed(
            s,
            in_ptr,
            in_idx,
            in_lo,
            in_hi,
            rindex,
            big,
            npos,
            ncomp,
            out,
            perm,
            comp,
            cptr,
            p_ptr,
            p_idx,
            p_lo,
            p_hi,
        )
        if placed:
            continue
        depth = 0
        stack[0] = s
        enext[0] = in_ptr[s]
        is_root[0] = True
        rindex[s] = index
        index += 1
        while depth >= 0:
            v = stack[depth]
            rv = rindex[v]
            e = enext[depth]
            end = in_ptr[v + 1]
            descended = False
            while e < end:
                w = in_idx[e]
                rw = rindex[w]
                if rw == 0:
                    placed, npos, ncomp, out = _place_if_owners_placed(
                        w, in_ptr, in_idx, in_lo, in_hi, rindex, big, npos, ncomp, out,
                        perm, comp, cptr, p_ptr, p_idx, p_lo, p_hi,
                    )  # fmt: skip
                    if placed:
                        e += 1
                        continue
                    enext[depth] = e  # come back to this stake once w is done
                    depth += 1
                    stack[depth] = w
                    enext[depth] = in_ptr[w]
                    is_root[depth] = True
                    rindex[w] = index
                    index += 1
                    descended = True
                    break
                if rw < rv:
                    rv = rw
                    is_root[depth] = False
                e += 1
            rindex[v] = rv
            if descended:
                continue
            depth -= 1
            if not is_root[depth + 1]:
                top -= 1
                stack[top] = v
                continue
            # v roots a component: itself and the waiting vertices indexed at or after it
            k = top
            while k < n and rindex[stack[k]] >= rv:
                k += 1
            first = npos
            if k == top:
                perm[npos] = v
                rindex[v] = big + npos
                comp[v] = ncomp
                npos += 1
            else:
                group = np.empty(k - top + 1, np.int64)
                group[: k - top] = stack[top:k]
                group[k - top] = v
                group.sort()
                for u in group:
                    perm[npos] = u
                    rindex[u] = big + npos
                    comp[u] = ncomp
                    npos += 1
                cyclic[ncomp] = True
            top = k
            for q in range(first, npos):
                u = perm[q]
                for f in range(in_ptr[u], in_ptr[u + 1]):
                    o = in_idx[f]
                    p_idx[out] = rindex[o] - big
                    p_lo[out] = in_lo[f]
                    p_hi[out] = in_hi[f]
                    out += 1
                    if o == u:
                        cyclic[ncomp] = True
                p_ptr[q + 1] = out
            ncomp += 1
            cptr[ncomp] = npos
    pos = rindex
    for v in range(n):
        pos[v] -= big
    return comp, perm, pos, cptr[: ncomp + 1], cyclic[:ncomp], p_ptr, p_idx, p_lo, p_hi


def condensation(graph: OwnershipGraph) -> Condensation:
    """Condense `graph` (computed once per graph object and kept on it).

    Builds the owners' CSR (`OwnershipGraph.in_csr`) if needed, then one `scc_layout` pass
    finds the strongly connected components, orders them topologically and renumbers the graph.
    """
    cached = graph.__dict__.get("_condensation")
    if cached is not None:
        assert isinstance(cached, Condensation)
        return cached
    in_ptr, in_idx, in_lo, in_hi = graph.in_csr
    comp, perm, pos, cptr, cyclic, p_ptr, p_idx, p_lo, p_hi = scc_layout(in_ptr, in_idx, in_lo, in_hi)
    ranks = np.arange(len(cyclic), dtype=np.int64)
    layout = TopoLayout(perm, pos, ranks, cptr, cyclic, p_ptr, p_idx, p_lo, p_hi)
    result = Condensation(comp, ranks, cyclic, layout)
    graph.__dict__["_condensation"] = result
    return result
