"""Control: La Porta weakest link, majority chains and state classes against brute-force oracles."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from statecap.analytics.control import CLASSES, classify, laporta_control, majority_chains
from statecap.analytics.ownership import state_share
from tests.ownership_oracles import control_oracle, majority_top_oracle, path_min_sum_oracle
from tests.test_ownership import _dense, _graph, _sample_feasible, random_registry

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _cls(g, i):
    lo, hi = state_share(g)
    c = classify(g, lo, hi)
    return CLASSES[c.state_class[i]], bool(c.definite[i]), CLASSES[c.definite_class[i]]


def test_weakest_link_chains_add_up():
    # organ -> A 100%, A -> C 20%; organ -> D 80%, D -> C 35%: chains 20% and 35% add to 55%
    g = _graph(1, 4, [(0, 1, 100, 100), (1, 2, 20, 20), (0, 3, 80, 80), (3, 2, 35, 35)])
    lo, hi = laporta_control(g, 0.2)
    assert lo[2] == pytest.approx(55) and hi[2] == pytest.approx(55)


def test_laporta_threshold_stops_at_weakly_held_intermediates():
    # organ holds 15% of A; A holds 60% of B: at 20% A is not controlled, so B gets nothing;
    # at 10% the chain counts with its weakest link, 15%
    g = _graph(1, 3, [(0, 1, 15, 15), (1, 2, 60, 60)])
    lo20, _ = laporta_control(g, 0.2)
    lo10, _ = laporta_control(g, 0.1)
    assert lo20[2] == 0 and lo10[2] == pytest.approx(15)


def test_classes_and_certainty():
    # majority chain to the state -> controlled even with a small integrated share
    g = _graph(1, 3, [(0, 1, 51, 51), (1, 2, 51, 51)])
    assert _cls(g, 2) == ("state_controlled", True, "state_controlled")
    # 20% weakest link -> influenced
    g = _graph(1, 2, [(0, 1, 20, 20)])
    assert _cls(g, 1) == ("state_influenced", True, "state_influenced")
    # state share [40, 60] straddles 50%: controlled is possible, influenced is definite
    g = _graph(1, 2, [(0, 1, 40, 60)])
    assert _cls(g, 1) == ("state_controlled", False, "state_influenced")
    # tiny share -> invested; nothing -> none_known
    g = _graph(1, 3, [(0, 1, 5, 5)])
    assert _cls(g, 1) == ("state_invested", True, "state_invested")
    assert _cls(g, 2) == ("none_known", True, "none_known")


def test_majority_cycle_has_no_ultimate_owner():
    g = _graph(1, 4, [(1, 2, 60, 60), (2, 1, 60, 60), (2, 3, 70, 70)])
    _par, _pdef, top, _cdef, _depth = majority_chains(g)
    assert top[1] == -1 and top[2] == -1 and top[3] == -1


@st.composite
def tree_registry(draw):
    """Every entity has at most one owner: paths are unique."""
    n = draw(st.integers(2, 8))
    n_roots = draw(st.integers(1, min(2, n - 1)))
    stakes = []
    for j in range(n_roots, n):
        if draw(st.booleans()):
            i = draw(st.integers(0, j - 1))
            x = draw(st.floats(1, 100))
            stakes.append((i, j, x, x))
    return n_roots, n, stakes


@pytest.mark.parametrize("t", [0.2, 0.1])
@SETTINGS
@given(reg=tree_registry())
def test_laporta_equals_path_enumeration_on_trees(t, reg):
    n_roots, n, stakes = reg
    g = _graph(n_roots, n, stakes)
    lo, hi = laporta_control(g, t)
    roots = np.arange(n) < n_roots
    truth = path_min_sum_oracle(_dense(n, stakes, [s[2] for s in stakes]), roots, t) * 100
    np.testing.assert_allclose(lo, truth, atol=1e-9)
    np.testing.assert_allclose(hi, truth, atol=1e-9)


@pytest.mark.parametrize("t", [0.2, 0.1])
@pytest.mark.parametrize("cyclic", [False, True])
@SETTINGS
@given(data=st.data())
def test_laporta_bounds_contain_simple_chain_oracle(t, cyclic, data):
    n_roots, n, stakes = data.draw(random_registry(cyclic))
    g = _graph(n_roots, n, stakes)
    lo, hi = laporta_control(g, t)
    assert np.all(lo >= 0) and np.all(hi <= 100 + 1e-9) and np.all(lo <= hi + 1e-9)
    roots = np.arange(n) < n_roots
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    for _ in range(10):
        vals = _sample_feasible(rng, n, stakes)
        truth = control_oracle(_dense(n, stakes, vals), roots, t) * 100
        assert np.all(truth >= lo - 1e-7), (truth, lo)
        assert np.all(truth <= hi + 1e-7), (truth, hi)
    if not cyclic:  # exact on acyclic graphs: the minimum stakes attain the lower bound
        truth = control_oracle(_dense(n, stakes, [s[2] for s in stakes]), roots, t) * 100
        np.testing.assert_allclose(lo, truth, atol=1e-9)


@SETTINGS
@given(data=st.data())
def test_majority_chains_match_oracle(data):
    n_roots, n, stakes = data.draw(random_registry(True))
    stakes = [(i, j, lo, lo) for i, j, lo, _hi in stakes]
    g = _graph(n_roots, n, stakes)
    _par, pdef, top, cdef, _depth = majority_chains(g)
    roots = np.arange(n) < n_roots
    expect = majority_top_oracle(_dense(n, stakes, [s[2] for s in stakes]), roots)
    assert top.tolist() == expect
    assert bool(np.all(cdef[top >= 0]))  # exact stakes: every chain is definite
