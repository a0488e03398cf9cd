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

import numpy as np

from statecap.graph.model import OwnershipGraph


@dataclass(frozen=True)
class TopoLayout:
    """The entities in topological order of their components (owners first).

    Position q holds entity ``perm[q]`` (``pos`` is the inverse); the r-th component in
    topological order holds positions ``cptr[r]..cptr[r+1]-1`` (its members by ascending
    index) and ``cyclic[r]`` says whether it has an internal stake; component c is the
    ``rank[c]``-th. On large registries ``owners`` is the owners' CSR renumbered by position
    (row q holds the owners of ``perm[q]`` as positions, in the same order, with their stake
    bounds): a pass in topological order over it reads rows one after another and finds each
    owner's values shortly before, whatever the entities' numbering.
    """

    perm: np.ndarray
    rank: np.ndarray
    cptr: np.ndarray
    cyclic: np.ndarray
    owners: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None

    @cached_property
    def pos(self) -> np.ndarray:
        out = np.empty(len(self.perm), dtype=np.int64)
        out[self.perm] = np.arange(len(self.perm), dtype=np.int64)
        return out

    def members(self, r: int) -> np.ndarray:
        """Entities (original indices) of the r-th component in topological order."""
        return self.perm[self.cptr[r] : self.cptr[r + 1]]


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


# above this many stakes the component pass also renumbers the owners' CSR (TopoLayout.owners)
# and evaluations run on that copy; below it everything fits in the caches, and the first
# evaluation finds the components as it evaluates them (later ones follow the kept order)
LAYOUT_EDGES = 500_000


def from_pass(
    comp: np.ndarray,
    perm: np.ndarray,
    cptr: np.ndarray,
    cyclic: np.ndarray,
    owners: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> Condensation:
    """The condensation as the compiled pass returns it (labels are topological ranks)."""
    ranks = np.arange(len(cyclic), dtype=np.int64)
    return Condensation(comp, ranks, cyclic, TopoLayout(perm, ranks, cptr, cyclic, owners))


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
    without evaluating anything (on more than LAYOUT_EDGES stakes, renumbering the CSR too).
    """
    renumber = graph.n_edges > LAYOUT_EDGES
    found = cached(graph)
    if found is not None and (found.layout.owners is not None or not renumber):
        return found
    # the pass lives with the kernels that evaluate components as it finds them
    from statecap.analytics import _kernels as K

    in_ptr, in_idx, in_lo, in_hi = graph.in_csr
    empty = np.empty(0, np.int64)
    *_, comp, perm, cptr, cyclic, p_ptr, p_idx, p_lo, p_hi = K.solve(
        K.SHARE, 0.0, in_ptr, in_idx, in_lo, in_hi, np.zeros(graph.n, np.bool_), False, renumber,
        empty, empty, empty, np.empty(0, np.bool_), 0, 0, 0.0,
    )  # fmt: skip
    result = from_pass(comp, perm, cptr, cyclic, (p_ptr, p_idx, p_lo, p_hi) if renumber else None)
    keep(graph, result)
    return result
