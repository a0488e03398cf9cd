"""The condensation (strong components in topological order) and the owners' CSR, against
scipy's strong components and a direct check of every stake; the pass that finds the
components while it evaluates them gives the same components and values as the pass that
follows a given order."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.sparse.csgraph import connected_components

from statecap.analytics import _kernels as K
from statecap.graph import condensation, graph_from_arrays
from statecap.graph.model import _transpose_pair

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def digraphs(draw: st.DrawFn) -> tuple[int, np.ndarray, np.ndarray]:
    """(n, owner, owned): random stakes, acyclic (owner < owned) or not, with self holdings,
    repeated pairs and entities nobody holds and who hold nothing."""
    n = draw(st.integers(1, 14))
    acyclic = draw(st.booleans())
    pairs = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=3 * n))
    if acyclic:
        pairs = [(min(a, b), max(a, b)) for a, b in pairs if a != b]
    if pairs and draw(st.booleans()):
        pairs.append(pairs[0])  # a repeated pair
    # relabel so that an acyclic graph is not always listed owners first
    relabel = np.asarray(draw(st.permutations(range(n))), dtype=np.int64)
    owner = relabel[np.asarray([a for a, _ in pairs], dtype=np.int64)]
    owned = relabel[np.asarray([b for _, b in pairs], dtype=np.int64)]
    return n, owner, owned


def _owners_csr(n: int, owner: np.ndarray, owned: np.ndarray):
    """Owners' CSR built by scipy (rows sorted), with lo = 1 + edge number and hi = 2 * that."""
    m = len(owner)
    lo = np.arange(1, m + 1, dtype=np.float64)
    t = sp.csr_matrix((lo, (owned, owner)), shape=(n, n))  # repeated pairs are summed
    t.sort_indices()
    return t.indptr.astype(np.int64), t.indices.astype(np.int32), t.data.copy(), 2.0 * t.data


def scc_pass(in_ptr, in_idx, in_lo, in_hi, roots=None, values=False, mode=K.SHARE, t=0.0):
    """The compiled pass with no given order: (vlo, vhi, flags, comp, perm, cptr, cyclic)."""
    n = len(in_ptr) - 1
    root = np.zeros(n, bool) if roots is None else roots
    e = np.empty(0, np.int64)
    return K.solve(
        mode,
        t,
        in_ptr,
        in_idx,
        in_lo,
        in_hi,
        root,
        values,
        False,
        e,
        e,
        e,
        np.empty(0, bool),
        10**8,
        2000,
        1e-14,
    )[:7]


def _check_layout(n, in_ptr, in_idx, in_lo, in_hi, out, owners=None) -> None:
    comp, perm, cptr, cyclic = out
    pos = np.empty(n, np.int64)
    pos[perm] = np.arange(n)
    ncomp = len(cptr) - 1
    # the same partition as scipy's strong components
    ref_n, ref = connected_components(
        sp.csr_matrix((np.ones(len(in_idx)), in_idx, in_ptr), shape=(n, n)),
        directed=True,
        connection="strong",
    )
    assert ncomp == ref_n
    pairs = set(zip(comp.tolist(), ref.tolist(), strict=True))
    assert len(pairs) == ncomp  # a bijection between the two labellings
    # positions: perm and pos are inverse, components contiguous and in label order, members ascending
    np.testing.assert_array_equal(np.sort(perm), np.arange(n))
    np.testing.assert_array_equal(pos[perm], np.arange(n))
    assert cptr[0] == 0 and cptr[-1] == n and np.all(np.diff(cptr) > 0)
    for r in range(ncomp):
        members = perm[cptr[r] : cptr[r + 1]]
        assert np.all(comp[members] == r)
        assert np.all(np.diff(members) > 0)
    # topological: every owner outside an entity's component comes earlier
    owned_of_edge = np.repeat(np.arange(n), np.diff(in_ptr))
    cu, cv = comp[in_idx], comp[owned_of_edge]
    assert np.all(cu[cu != cv] < cv[cu != cv])
    # cyclic: more than one member, or a self holding
    sizes = np.diff(cptr)
    self_held = np.zeros(ncomp, bool)
    self_held[comp[owned_of_edge[in_idx == owned_of_edge]]] = True
    np.testing.assert_array_equal(cyclic, (sizes > 1) | self_held)
    if owners is not None:
        # the renumbered CSR: each position's row is its entity's owners, as positions, same order
        p_ptr, p_idx, p_lo, p_hi = owners
        assert p_ptr[0] == 0 and p_ptr[-1] == len(in_idx)
        for q in range(n):
            v = perm[q]
            a, b = in_ptr[v], in_ptr[v + 1]
            np.testing.assert_array_equal(p_idx[p_ptr[q] : p_ptr[q + 1]], pos[in_idx[a:b]])
            np.testing.assert_array_equal(p_lo[p_ptr[q] : p_ptr[q + 1]], in_lo[a:b])
            np.testing.assert_array_equal(p_hi[p_ptr[q] : p_ptr[q + 1]], in_hi[a:b])


@SETTINGS
@given(g=digraphs())
def test_components_match_scipy_and_order_owners_first(g):
    n, owner, owned = g
    in_csr = _owners_csr(n, owner, owned)
    _check_layout(n, *in_csr, scc_pass(*in_csr)[3:])


@SETTINGS
@given(g=digraphs(), seed=st.integers(0, 2**16))
def test_finding_components_while_evaluating_changes_nothing(g, seed):
    """Evaluating while the components are found gives the components of the plain pass and
    the very values (bit for bit) of an evaluation that follows them as a given order."""
    n, owner, owned = g
    in_ptr, in_idx, _, _ = _owners_csr(n, owner, owned)
    rng = np.random.default_rng(seed)
    lo = rng.uniform(0.0, 0.5, len(in_idx)) / np.maximum(np.diff(in_ptr), 1).repeat(np.diff(in_ptr))
    hi = np.minimum(lo + rng.uniform(0.0, 0.3, len(lo)) * (rng.random(len(lo)) < 0.4), 1.0)
    roots = rng.random(n) < 0.3
    found = scc_pass(in_ptr, in_idx, lo, hi, roots, values=True)
    plain = scc_pass(in_ptr, in_idx, lo, hi, roots)
    for a, b in zip(found[3:], plain[3:], strict=True):
        np.testing.assert_array_equal(a, b)
    comp, perm, cptr, cyclic = found[3:]
    for mode, t in ((K.SHARE, 0.0), (K.CONTROL, 0.2), (K.CONTROL, 0.1)):
        here = scc_pass(in_ptr, in_idx, lo, hi, roots, values=True, mode=mode, t=t)
        given_order = K.solve(
            mode, t, in_ptr, in_idx, lo, hi, roots, True, False, comp, perm, cptr, cyclic, 10**8, 2000, 1e-14
        )
        for a, b in zip(here[:3], given_order[:3], strict=True):
            np.testing.assert_array_equal(a, b)
        assert np.all(here[0] <= here[1]) and np.all(here[1] <= 1.0)


@SETTINGS
@given(g=digraphs())
def test_owners_csr_is_the_transpose(g):
    n, owner, owned = g
    m = len(owner)
    w = sp.csr_matrix((np.arange(1, m + 1, dtype=np.float64), (owner, owned)), shape=(n, n))
    hi = w.data * 3.0
    t_idx, t_lo, t_hi = np.empty(w.nnz, np.int32), np.empty(w.nnz), np.empty(w.nnz)
    t_ptr = _transpose_pair(n, w.indptr, w.indices, w.data, hi, t_idx, t_lo, t_hi)
    ref = w.T.tocsr()
    ref.sort_indices()
    np.testing.assert_array_equal(t_ptr, ref.indptr)
    np.testing.assert_array_equal(t_idx, ref.indices)
    np.testing.assert_array_equal(t_lo, ref.data)
    np.testing.assert_array_equal(t_hi, 3.0 * ref.data)


def test_long_chain_and_big_cycle_do_not_recurse():
    """A chain of 200,000 stakes and a cycle through all of it (the DFS is iterative)."""
    n = 200_000
    owner = np.arange(n - 1)
    owned = np.arange(1, n)
    for back in (False, True):
        o = np.r_[owner, n - 1] if back else owner
        d = np.r_[owned, 0] if back else owned
        in_csr = _owners_csr(n, o, d)
        comp, perm, cptr, cyclic = scc_pass(*in_csr)[3:]
        if back:
            assert len(cptr) == 2 and cyclic.tolist() == [True]
        else:
            np.testing.assert_array_equal(perm, np.arange(n))
            assert not cyclic.any()


@pytest.mark.parametrize("renumber", [False, True])
def test_condensation_of_a_synthetic_registry(renumber, monkeypatch):
    """On a generated registry: components as scipy finds them, owners first, and the
    condensation's interface (members grouped by label, mem_ptr) consistent with comp; on a
    large registry (here: LAYOUT_EDGES lowered) the owners' CSR renumbered by position."""
    from statecap.graph import condense
    from statecap.graph.synth import generate

    if renumber:
        monkeypatch.setattr(condense, "LAYOUT_EDGES", 0)
    reg = generate(5000, 3)
    s = reg.stakes
    g = graph_from_arrays(
        reg.entities["id"], reg.entities["kind"], s["owner"], s["owned"], s["share_lo"], s["share_hi"]
    )
    cond = condensation(g)
    lay = cond.layout
    _check_layout(
        g.n,
        *g.in_csr,
        (cond.comp, lay.perm, lay.cptr, lay.cyclic),
        lay.owners,
    )
    assert (lay.owners is not None) == renumber
    np.testing.assert_array_equal(lay.pos[lay.perm], np.arange(g.n))
    assert cond.cyclic.sum() > 0
    np.testing.assert_array_equal(cond.order, np.arange(cond.n_components))
    for c in np.flatnonzero(cond.cyclic):
        members = cond.members[cond.mem_ptr[c] : cond.mem_ptr[c + 1]]
        np.testing.assert_array_equal(members, np.flatnonzero(cond.comp == c))
        np.testing.assert_array_equal(cond.component_members(int(c)), members)
    assert condensation(g) is cond  # cached on the graph
