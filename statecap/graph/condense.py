"""Strongly connected components of the ownership graph, in topological order (cached per graph).

The components are found by the same compiled pass that evaluates ownership and control
(`statecap.analytics._kernels.solve`): Pearce's iterative variant of Tarjan's algorithm walks
from every entity to its owners, so a component is completed only after every component holding
a stake in it, and the order of completion is already a topological order (owners first). The
first evaluation on a graph finds the components while it evaluates them and keeps them here;
later evaluations (control at each threshold, other roots) follow the kept order. `condensation`
alone runs the pass without values.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numba as nb
import numpy as np

from statecap.graph.model import OwnershipGraph


@dataclass(frozen=True)
class TopoLayout:
    """The entities in topological order of their components (owners first).

    Position q holds entity ``perm[q]`` (``pos`` is the inverse); the r-th component in
    topological order holds positions ``cptr[r]..cptr[r+1]-1`` (its members by ascending
    index) and ``cyclic[r]`` says whether it has an internal stake; component c is the
    ``rank[c]``-th.
    """

    perm: np.ndarray
    rank: np.ndarray
    cptr: np.ndarray
    cyclic: np.ndarray

    @cached_property
    def pos(self) -> np.ndarray:
        out = np.empty(len(self.perm), dtype=np.int64)
        out[self.perm] = np.arange(len(self.perm), dtype=np.int64)
        return out

    def members(self, r: int) -> np.ndarray:
        """Entities (original indices) of the r-th component in topological order."""
        return self.perm[self.cptr[r] : self.cptr[r + 1]]

    @cached_property
    def rank_by_position(self) -> np.ndarray:
        """The topological rank of the component at each position."""
        return np.repeat(np.arange(len(self.cyclic), dtype=np.int64), np.diff(self.cptr))

    @cached_property
    def identity(self) -> np.ndarray:
        return np.arange(len(self.perm), dtype=np.int64)

    def renumbered(
        self, in_csr: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The owners' CSR renumbered by position: row q holds the owners of ``perm[q]`` as
        positions, in the same order, with their stake bounds (built once, then kept). A pass
        in topological order over it reads rows one after the other, and the owners it reads
        were written shortly before: on registries larger than the caches this is faster than
        following the order over the original numbering."""
        kept = self.__dict__.get("_renumbered")
        if kept is None:
            kept = _renumber(*in_csr, self.perm, self.pos)
            self.__dict__["_renumbered"] = kept
        return kept


@dataclass(frozen=True)
class Condensation:
    """The graph's SCCs: ``comp[v]`` per entity, components in topological ``order`` (owners first).

    As built here, a component's label is its rank in that order (``order`` is
    ``0..n_components-1``). ``cyclic[c]`` when a stake joins two members of component c (or one
    member to itself). ``layout`` lists the entities in that order.
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


@nb.njit(cache=True)
def _renumber(in_ptr, in_idx, in_lo, in_hi, perm, pos):
    n = len(perm)
    m = in_ptr[n]
    p_ptr = np.empty(n + 1, np.int64)
    p_idx = np.empty(m, in_idx.dtype)
    p_lo = np.empty(m, in_lo.dtype)
    p_hi = np.empty(m, in_hi.dtype)
    p_ptr[0] = 0
    out = 0
    for q in range(n):
        u = perm[q]
        for f in range(in_ptr[u], in_ptr[u + 1]):
            p_idx[out] = pos[in_idx[f]]
            p_lo[out] = in_lo[f]
            p_hi[out] = in_hi[f]
            out += 1
        p_ptr[q + 1] = out
    return p_ptr, p_idx, p_lo, p_hi


def from_pass(comp: np.ndarray, perm: np.ndarray, cptr: np.ndarray, cyclic: np.ndarray) -> Condensation:
    """The condensation as the compiled pass returns it (labels are topological ranks)."""
    ranks = np.arange(len(cyclic), dtype=np.int64)
    return Condensation(comp, ranks, cyclic, TopoLayout(perm, ranks, cptr, cyclic))


def cached(graph: OwnershipGraph) -> Condensation | None:
    """The condensation kept on `graph`, if one was computed."""
    found = graph.__dict__.get("_condensation")
    assert found is None or isinstance(found, Condensation)
    return found


def keep(graph: OwnershipGraph, cond: Condensation) -> None:
    graph.__dict__["_condensation"] = cond


def condensation(graph: OwnershipGraph) -> Condensation:
    """Condense `graph` (computed once per graph object and kept on it).

    Builds the owners' CSR (`OwnershipGraph.in_csr`) if needed, then runs the component pass
    without evaluating anything.
    """
    found = cached(graph)
    if found is not None:
        return found
    # the pass lives with the kernels that evaluate components as it finds them
    from statecap.analytics import _kernels as K

    in_ptr, in_idx, in_lo, in_hi = graph.in_csr
    empty = np.empty(0, np.int64)
    *_, comp, perm, cptr, cyclic = K.solve(
        K.SHARE, 0.0, in_ptr, in_idx, in_lo, in_hi, np.zeros(graph.n, np.bool_), False,
        empty, empty, empty, np.empty(0, np.bool_), 0, 0, 0.0,
    )  # fmt: skip
    result = from_pass(comp, perm, cptr, cyclic)
    keep(graph, result)
    return result
