"""The ownership graph: entities as indices 0..n-1, direct stakes as CSR matrices of fractions.

``W[i, j]`` is the share of entity ``j`` held by entity ``i`` (0..1). Two matrices carry the
interval bounds of every stake: ``W_lo`` and ``W_hi`` (same sparsity structure). Entity attributes
are kept as Arrow arrays (compact at registry scale) with numpy views built on first use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numba as nb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from statecap.errors import UsageError

SHARE_KINDS = ("exact", "range", "unknown")
_KIND_CODE = {k: i for i, k in enumerate(SHARE_KINDS)}


@dataclass
class OwnershipGraph:
    """Entities and direct stakes as arrays; build one with `graph_from_arrays` or `load_graph`.

    Attributes:
        n: number of entities.
        ids_arrow, names_arrow: entity ids and names (Arrow string arrays, index order).
        kind_codes, kind_names: entity kind per entity as codes into ``kind_names``.
        sectors_arrow: list<string> Arrow array of sector codes per entity (may hold nulls).
        is_state: bool mask of state organs (roots of state ownership).
        edge_owner, edge_owned: int64 indices of every stake kept (one row per stake record).
        edge_lo, edge_hi: the stake's bounds as fractions 0..1.
        edge_kind: int8 code into ``SHARE_KINDS`` (exact, range, unknown).
        edge_direct: bool, False for a reported indirect (aggregate) holding.
        edge_stake: Arrow string array of stake ids (for sources and explanations).
        W_lo, W_hi: CSR n x n, duplicates of one (owner, owned) pair summed, capped at 1.
        as_of: the date the stakes were filtered for (None when not filtered).
        dropped: counts of stakes left out while building (self holdings, zero stakes, ...).
    """

    n: int
    ids_arrow: pa.Array
    names_arrow: pa.Array
    kind_codes: np.ndarray
    kind_names: list[str]
    sectors_arrow: pa.Array
    is_state: np.ndarray
    edge_owner: np.ndarray
    edge_owned: np.ndarray
    edge_lo: np.ndarray
    edge_hi: np.ndarray
    edge_kind: np.ndarray
    edge_direct: np.ndarray
    edge_stake: pa.Array
    W_lo: sp.csr_matrix
    W_hi: sp.csr_matrix
    as_of: Any = None
    dropped: dict[str, int] = field(default_factory=dict)

    # ---- entity attributes -------------------------------------------------------------
    @cached_property
    def ids(self) -> np.ndarray:
        """Entity ids in index order (numpy object array of str)."""
        return np.asarray(self.ids_arrow.to_numpy(zero_copy_only=False), dtype=object)

    @cached_property
    def names(self) -> np.ndarray:
        """Entity names in index order (numpy object array of str)."""
        return np.asarray(self.names_arrow.to_numpy(zero_copy_only=False), dtype=object)

    @cached_property
    def kinds(self) -> np.ndarray:
        """Entity kinds in index order (numpy object array of str)."""
        return np.asarray(self.kind_names, dtype=object)[self.kind_codes]

    @cached_property
    def index(self) -> pd.Index:
        """Id -> index map (a pandas Index: ``graph.index.get_loc(id)``, ``get_indexer(ids)``)."""
        return pd.Index(self.ids, copy=False)

    def index_of(self, entity_id: str) -> int:
        """The index of one entity id; UsageError when it is not in the graph."""
        hits = pc.index(self.ids_arrow, pa.scalar(entity_id, type=self.ids_arrow.type)).as_py()
        if hits is None or hits < 0:
            raise UsageError(f"no entity {entity_id!r} in the ownership graph")
        return int(hits)

    def name_of(self, idx: int) -> str:
        name = self.names_arrow[int(idx)].as_py()
        return str(name) if name is not None else str(self.ids_arrow[int(idx)].as_py())

    def id_of(self, idx: int) -> str:
        return str(self.ids_arrow[int(idx)].as_py())

    def sector_mask(self, code: str) -> np.ndarray:
        """Entities with sector `code` or one of its sub-sectors (``ai`` matches ``ai.models``)."""
        flat = self.sectors_arrow.flatten()
        if len(flat) == 0:
            return np.zeros(self.n, dtype=bool)
        hit = pc.or_(pc.equal(flat, code), pc.starts_with(flat, code + ".")).to_numpy(zero_copy_only=False)
        hit = np.asarray(hit, dtype=bool) & ~np.asarray(flat.is_null().to_numpy(zero_copy_only=False))
        parents = pc.list_parent_indices(self.sectors_arrow).to_numpy()
        mask = np.zeros(self.n, dtype=bool)
        mask[parents[hit]] = True
        return mask

    @property
    def n_edges(self) -> int:
        return int(len(self.edge_owner))

    # ---- derived matrices --------------------------------------------------------------
    @cached_property
    def in_csr(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Owners of every entity: (indptr, owner indices, lo, hi) of W transposed (CSR of W^T),
        each entity's owners in ascending index order."""
        lo, hi = self.W_lo, self.W_hi
        if np.array_equal(lo.indptr, hi.indptr) and np.array_equal(lo.indices, hi.indices):
            # one counting-sort transpose for both bounds (they share their structure)
            m = int(lo.indptr[self.n])
            t_idx = np.empty(m, np.int32 if self.n < 2**31 else np.int64)
            t_lo = np.empty(m, np.float64)
            t_hi = np.empty(m, np.float64)
            t_ptr = _transpose_pair(self.n, lo.indptr, lo.indices, lo.data, hi.data, t_idx, t_lo, t_hi)
            return t_ptr, t_idx, t_lo, t_hi
        lo_t = lo.T.tocsr()
        hi_t = hi.T.tocsr()
        lo_t.sort_indices()
        hi_t.sort_indices()
        if not np.array_equal(lo_t.indices, hi_t.indices):
            raise ValueError("W_lo and W_hi must hold the same stakes")
        return lo_t.indptr, lo_t.indices, lo_t.data, hi_t.data

    @cached_property
    def out_csr(self) -> tuple[np.ndarray, np.ndarray]:
        """Holdings of every entity: (indptr, owned indices) of W."""
        return self.W_lo.indptr, self.W_lo.indices

    def stake_id(self, edge: int) -> str:
        return str(self.edge_stake[int(edge)].as_py())

    def pair_edges(self, owner: int, owned: int) -> np.ndarray:
        """Indices into the edge arrays of the stakes of `owner` in `owned`."""
        return np.flatnonzero((self.edge_owner == owner) & (self.edge_owned == owned))

    @cached_property
    def _edge_order(self) -> tuple[np.ndarray, np.ndarray]:
        key = self.edge_owned.astype(np.int64)
        order = np.argsort(key, kind="stable")
        starts = np.searchsorted(key[order], np.arange(self.n + 1))
        return order, starts

    def edges_into(self, owned: int) -> np.ndarray:
        """Indices into the edge arrays of every stake held in `owned`."""
        order, starts = self._edge_order
        return order[starts[owned] : starts[owned + 1]]


@nb.njit(cache=True)
def _transpose_pair(n, indptr, indices, lo, hi, t_idx, t_lo, t_hi):
    """CSR of W^T from the CSR of W, carrying two value arrays into the given outputs; rows
    come out sorted. Returns W^T's indptr."""
    m = indptr[n]
    t_ptr = np.zeros(n + 1, np.int64)
    for e in range(m):
        t_ptr[indices[e] + 1] += 1
    for v in range(n):
        t_ptr[v + 1] += t_ptr[v]
    fill = t_ptr[:n].copy()
    for u in range(n):
        for e in range(indptr[u], indptr[u + 1]):
            v = indices[e]
            s = fill[v]
            fill[v] = s + 1
            t_idx[s] = u
            t_lo[s] = lo[e]
            t_hi[s] = hi[e]
    return t_ptr


def _as_str_array(values: Any, name: str) -> pa.Array:
    arr = values if isinstance(values, pa.Array | pa.ChunkedArray) else pa.array(values, type=pa.string())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if not pa.types.is_string(arr.type) and not pa.types.is_large_string(arr.type):
        arr = arr.cast(pa.string())
    if arr.null_count:
        raise UsageError(f"{name}: {arr.null_count} missing values")
    return arr


def _kind_codes(kinds: Any) -> tuple[np.ndarray, list[str]]:
    arr = kinds if isinstance(kinds, pa.Array | pa.ChunkedArray) else pa.array(kinds, type=pa.string())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    enc = arr if pa.types.is_dictionary(arr.type) else pc.dictionary_encode(arr.cast(pa.string()))
    names = [str(x) for x in enc.dictionary.to_pylist()]
    codes = enc.indices.to_numpy(zero_copy_only=False)
    return np.asarray(codes, dtype=np.int32), names


def graph_from_arrays(
    ids: Any,
    kinds: Any,
    owner: Any,
    owned: Any,
    share_lo: Any,
    share_hi: Any,
    *,
    names: Any = None,
    sectors: Any = None,
    share_kind: Any = None,
    stake_ids: Any = None,
    direct: Any = None,
    state_kinds: frozenset[str] | None = None,
    owner_is_index: bool = False,
    as_of: Any = None,
) -> OwnershipGraph:
    """Build an OwnershipGraph from plain arrays (no store needed).

    Args:
        ids: entity ids (str), one per entity; their order is the index order.
        kinds: entity kind per entity (taxonomy codes).
        owner, owned: per stake, the owner and the owned entity, as ids (default) or as indices
            into `ids` when `owner_is_index` is true.
        share_lo, share_hi: per stake, bounds in percent (0..100), as stored.
        names: entity names (default: the ids). sectors: list of sector codes per entity.
        share_kind: per stake ``exact``/``range``/``unknown`` (default: derived from lo == hi).
        stake_ids: per stake id (default: ``stake:{owner}:{owned}:{row}``).
        direct: per stake bool (default: all direct).
        state_kinds: kinds that are state organs (default: the taxonomy's state kinds).
        as_of: recorded on the graph (the caller has already filtered stakes by date).

    Raises:
        UsageError: a stake names an entity not in `ids`, or a share is outside 0..100.
    """
    from statecap.model.taxonomy import load_taxonomy

    ids_arr = _as_str_array(ids, "entity ids")
    n = len(ids_arr)
    kind_codes, kind_names = _kind_codes(kinds)
    if len(kind_codes) != n:
        raise UsageError(f"entity kinds: {len(kind_codes)} values for {n} entities")
    names_arr = (
        ids_arr
        if names is None
        else pa.array(names, type=pa.string())
        if not isinstance(names, pa.Array | pa.ChunkedArray)
        else names
    )
    if isinstance(names_arr, pa.ChunkedArray):
        names_arr = names_arr.combine_chunks()
    if sectors is None:
        sectors_arr = pa.array([None] * n, type=pa.list_(pa.string()))
    elif isinstance(sectors, pa.Array | pa.ChunkedArray):
        sectors_arr = sectors.combine_chunks() if isinstance(sectors, pa.ChunkedArray) else sectors
    else:
        sectors_arr = pa.array(
            [list(s) if s is not None else None for s in sectors], type=pa.list_(pa.string())
        )
    skinds = load_taxonomy().state_kinds if state_kinds is None else state_kinds
    is_state = (
        np.isin(np.arange(len(kind_names)), [i for i, k in enumerate(kind_names) if k in skinds])[kind_codes]
        if kind_names
        else np.zeros(n, dtype=bool)
    )

    lo = np.asarray(share_lo, dtype=np.float64)
    hi = np.asarray(share_hi, dtype=np.float64)
    m = len(lo)
    if owner_is_index:
        o = np.asarray(owner, dtype=np.int64)
        d = np.asarray(owned, dtype=np.int64)
        if m and (
            o.min(initial=0) < 0 or d.min(initial=0) < 0 or o.max(initial=0) >= n or d.max(initial=0) >= n
        ):
            raise UsageError("stakes: owner or owned index outside the entity table")
    else:
        index = pd.Index(np.asarray(ids_arr.to_numpy(zero_copy_only=False), dtype=object))
        if not index.is_unique:
            dup = index[index.duplicated()][0]
            raise UsageError(f"entity ids: {dup!r} appears more than once")
        owner_vals = (
            owner.to_numpy(zero_copy_only=False)
            if isinstance(owner, pa.Array | pa.ChunkedArray)
            else np.asarray(owner, dtype=object)
        )
        owned_vals = (
            owned.to_numpy(zero_copy_only=False)
            if isinstance(owned, pa.Array | pa.ChunkedArray)
            else np.asarray(owned, dtype=object)
        )
        o = index.get_indexer(owner_vals).astype(np.int64)
        d = index.get_indexer(owned_vals).astype(np.int64)
        for name, arr, vals in (("owner", o, owner_vals), ("owned", d, owned_vals)):
            missing = np.flatnonzero(arr < 0)
            if len(missing):
                raise UsageError(
                    f"stakes: {len(missing)} stakes name an unknown {name}, e.g. {vals[missing[0]]!r}"
                )
    if len(o) != m or len(d) != m or len(hi) != m:
        raise UsageError("stakes: owner, owned, share_lo and share_hi must have the same length")
    bad = ~((lo >= 0) & (hi <= 100) & (lo <= hi))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise UsageError(f"stakes: share [{lo[i]}, {hi[i]}] of stake #{i} is not within 0..100 with lo <= hi")

    if share_kind is None:
        kind = np.where(lo == hi, 0, np.where((lo == 0) & (hi == 100), 2, 1)).astype(np.int8)
    else:
        kc, kn = _kind_codes(share_kind)
        remap = np.array([_KIND_CODE.get(k, 1) for k in kn], dtype=np.int8) if kn else np.zeros(0, np.int8)
        kind = remap[kc] if len(kc) else np.zeros(0, np.int8)
    direct_arr = np.ones(m, dtype=bool) if direct is None else np.asarray(direct, dtype=bool)
    if stake_ids is None:
        stake_arr = pa.array([f"stake:#{i}" for i in range(m)], type=pa.string())
    else:
        stake_arr = _as_str_array(stake_ids, "stake ids")

    return _assemble(
        n=n, ids_arr=ids_arr, names_arr=names_arr, kind_codes=kind_codes, kind_names=kind_names,
        sectors_arr=sectors_arr, is_state=is_state, o=o, d=d, lo=lo / 100.0, hi=hi / 100.0, kind=kind,
        direct=direct_arr, stake_arr=stake_arr, as_of=as_of,
    )  # fmt: skip


def _assemble(
    *,
    n: int,
    ids_arr: pa.Array,
    names_arr: pa.Array,
    kind_codes: np.ndarray,
    kind_names: list[str],
    sectors_arr: pa.Array,
    is_state: np.ndarray,
    o: np.ndarray,
    d: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    kind: np.ndarray,
    direct: np.ndarray,
    stake_arr: pa.Array,
    as_of: Any,
) -> OwnershipGraph:
    """Drop stakes that carry nothing (self holdings, [0, 0], stakes into state organs) and build W."""
    dropped: dict[str, int] = {}
    keep = np.ones(len(o), dtype=bool)
    for reason, mask in (
        ("self_holdings", o == d),
        ("zero_stakes", hi <= 0),
        ("stakes_into_state_organs", is_state[d] if len(d) else np.zeros(0, bool)),
    ):
        hit = mask & keep
        dropped[reason] = int(hit.sum())
        keep &= ~mask
    if not keep.all():
        idx = np.flatnonzero(keep)
        o, d, lo, hi, kind, direct = o[idx], d[idx], lo[idx], hi[idx], kind[idx], direct[idx]
        stake_arr = stake_arr.take(pa.array(idx))
    W_lo = sp.coo_matrix((lo, (o, d)), shape=(n, n)).tocsr()
    W_hi = sp.coo_matrix((hi, (o, d)), shape=(n, n)).tocsr()
    W_lo.sort_indices()
    W_hi.sort_indices()
    # two stakes of one pair (e.g. two share classes) add up, but a pair never exceeds 100%
    np.minimum(W_lo.data, 1.0, out=W_lo.data)
    np.minimum(W_hi.data, 1.0, out=W_hi.data)
    return OwnershipGraph(
        n=n, ids_arrow=ids_arr, names_arrow=names_arr, kind_codes=kind_codes, kind_names=kind_names,
        sectors_arrow=sectors_arr, is_state=np.asarray(is_state, dtype=bool), edge_owner=o, edge_owned=d,
        edge_lo=lo, edge_hi=hi, edge_kind=kind, edge_direct=direct, edge_stake=stake_arr, W_lo=W_lo,
        W_hi=W_hi, as_of=as_of, dropped=dropped,
    )  # fmt: skip


def subgraph(
    graph: OwnershipGraph, nodes: np.ndarray, roots: np.ndarray | None = None
) -> tuple[OwnershipGraph, np.ndarray]:
    """The graph induced by `nodes` (indices), with the map new index -> old index.

    With `roots` (a bool mask over the old indices), those entities become the subgraph's
    roots (its ``is_state`` mask) and stakes held in them are cut.
    """
    nodes = np.unique(np.asarray(nodes, dtype=np.int64))
    root_mask = graph.is_state if roots is None else np.asarray(roots, dtype=bool)
    remap = np.full(graph.n, -1, dtype=np.int64)
    remap[nodes] = np.arange(len(nodes))
    keep = (remap[graph.edge_owner] >= 0) & (remap[graph.edge_owned] >= 0)
    idx = np.flatnonzero(keep)
    take = pa.array(nodes)
    sub = _assemble(
        n=len(nodes),
        ids_arr=graph.ids_arrow.take(take),
        names_arr=graph.names_arrow.take(take),
        kind_codes=graph.kind_codes[nodes],
        kind_names=graph.kind_names,
        sectors_arr=graph.sectors_arrow.take(take),
        is_state=root_mask[nodes],
        o=remap[graph.edge_owner[idx]],
        d=remap[graph.edge_owned[idx]],
        lo=graph.edge_lo[idx],
        hi=graph.edge_hi[idx],
        kind=graph.edge_kind[idx],
        direct=graph.edge_direct[idx],
        stake_arr=graph.edge_stake.take(pa.array(idx)),
        as_of=graph.as_of,
    )
    return sub, nodes
