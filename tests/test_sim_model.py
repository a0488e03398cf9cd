"""The policy-lab kernel on hand-built populations: analytic cases, accounting, determinism."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from statecap.sim.model import MECHANISMS, OUTPUTS, run_model
from tests import simkit

OUT = {name: k for k, name in enumerate(OUTPUTS)}


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def one_private_firm(years: int = 12):
    ag = simkit.agents(domestic=[{"ss": 0.0, "lr": 0.5}], foreign=[{"cap": 0.9}])
    return simkit.inputs(ag, years=years)


def test_no_state_money_gives_the_private_only_path_of_a_scalar_oracle():
    """One private firm and one foreign firm, no state money: the documented equations by hand."""
    T = 12
    inp = one_private_firm(T)
    par = simkit.params(knowledge_spillover=0.4, knowledge_productivity=1.3)
    out = run_model(inp, par, rng()).outputs[0, :, 0]

    # the oracle: docs/model.md with learning, transfer, controls and state money at zero,
    # quality elasticity 1 and investment response 0
    M, g, gs, dep, B, delta, phi = 100.0, 0.05, 0.03, 0.08, 2.0, 1.3, 0.4
    D0 = 0.2
    Kp = 2.0 * M * D0
    U = B * (g + dep) * Kp
    a = 0.4
    Kf = Kp * a * (1 - D0) / D0 / 0.9
    private_cum = 0.0
    for t in range(T):
        w_d, w_f = Kp * a, Kf * 0.9
        D = w_d / (w_d + w_f)
        assert out[t, OUT["self_sufficiency"]] == pytest.approx(100 * D, rel=1e-12)
        assert out[t, OUT["capability"]] == pytest.approx(a, rel=1e-12)
        inv = Kp * (g + dep)
        private_cum += inv
        assert out[t, OUT["private_capital_cum"]] == pytest.approx(private_cum, rel=1e-12)
        a = min(1.0, a * math.exp(delta * gs * a ** (phi - 1) - gs))
        completed = U / B
        U = U - completed + inv
        Kp = Kp * (1 - dep) + completed
        Kf *= 1 + g
        M *= 1 + g
    assert np.all(out[:, OUT["state_capital_cum"]] == 0.0)
    assert np.all(out[:, OUT["blocked_deals_cum"]] == 0.0)


def test_no_state_money_deploys_nothing_and_leaves_ownership_alone():
    ag = simkit.agents(
        domestic=[{"ss": 1.0}, {"ss": 0.3}, {"ss": 0.0}, {"ss": 0.8, "sector": 1}, {"ss": 0.0, "sector": 1}],
        foreign=[{"sector": 0}, {"sector": 1}],
    )
    inp = simkit.inputs(ag, years=15, sectors=2, export_controls=0.4, foreign_tech_access=0.5)
    res = run_model(inp, simkit.params(runs=6, sectors=2, rd_shock_sigma=0.3), rng(3))
    assert np.all(res.series("state_capital_cum") == 0.0)
    assert np.all(res.series("completed_acquisitions") == 0.0)
    dom = ag.kind == 0
    assert np.array_equal(res.final_state_share, np.broadcast_to(ag.state_share[dom], (6, dom.sum())))


def two_mirror_sectors(e: float, **drivers: float):
    """Sector 0 holds one state-owned firm, sector 1 one private firm; otherwise identical."""
    ag = simkit.agents(
        domestic=[{"ss": 1.0, "lr": 0.5, "sector": 0}, {"ss": 0.0, "lr": 0.5, "sector": 1}],
        foreign=[{"sector": 0, "cap": 0.9}, {"sector": 1, "cap": 0.9}],
    )
    inp = simkit.inputs(ag, years=15, sectors=2, **drivers)
    return run_model(
        inp, simkit.params(sectors=2, soe_efficiency_discount=e, learning_rate=0.2), rng()
    ).outputs[0]


def test_zero_efficiency_discount_equals_private_returns():
    out = two_mirror_sectors(0.0)
    for name in ("self_sufficiency", "capability", "domestic_share"):
        np.testing.assert_allclose(out[:, 0, OUT[name]], out[:, 1, OUT[name]], rtol=1e-12)
    np.testing.assert_allclose(
        out[:, 0, OUT["return_on_state_capital"]], out[:, 1, OUT["return_on_private_capital"]], rtol=1e-12
    )


def test_a_positive_discount_lowers_state_returns_and_capability():
    out = two_mirror_sectors(0.4)
    state_ret = out[:, 0, OUT["return_on_state_capital"]]
    private_ret = out[:, 1, OUT["return_on_private_capital"]]
    assert state_ret[0] == pytest.approx(private_ret[0])  # the first year's shares are calibrated
    assert np.all(state_ret[2:] < private_ret[2:])
    assert np.all(out[2:, 0, OUT["capability"]] < out[2:, 1, OUT["capability"]])


def test_full_reform_removes_the_discount():
    np.testing.assert_allclose(two_mirror_sectors(0.4, soe_reform=1.0), two_mirror_sectors(0.0), rtol=1e-12)


def acquisitions(openness: float, **par: float):
    ag = simkit.agents(domestic=[{"ss": 1.0}], foreign=[{}])
    # a budget of exactly one deal a year: one attempt every year
    inp = simkit.inputs(ag, years=10, acquisition_openness=openness, money={"mergers_acquisitions": 2.0})
    return run_model(inp, simkit.params(runs=20, **par), rng(5))


def test_closed_borders_give_zero_successful_acquisitions_abroad():
    res = acquisitions(0.0)
    assert np.all(res.series("completed_acquisitions") == 0.0)
    assert np.all(res.series("blocked_deals") == 1.0)  # every attempt is blocked
    assert np.all(res.series("blocked_deals_cum")[:, -1] == 10.0)
    assert np.all(res.series("state_capital_cum") == 0.0)  # blocked money is not spent


def test_open_borders_without_penalties_complete_every_attempt():
    res = acquisitions(1.0)
    assert np.all(res.series("completed_acquisitions") == 1.0)
    assert np.all(res.series("blocked_deals_cum") == 0.0)
    np.testing.assert_allclose(res.series("state_capital_cum")[:, -1, 0], 10 * 2.0)


def test_state_ownership_raises_the_blocking_rate():
    """Success probability openness x (1 - penalty x state share): 0.6 for a fully state-owned buyer."""
    ag = simkit.agents(domestic=[{"ss": 1.0}], foreign=[{}])
    inp = simkit.inputs(ag, years=20, money={"mergers_acquisitions": 2.0})
    res = run_model(inp, simkit.params(runs=500, state_acquirer_penalty=0.4), rng(9))
    share_completed = res.series("completed_acquisitions").mean()
    assert share_completed == pytest.approx(0.6, abs=0.02)  # 10,000 Bernoulli draws: sd 0.005


def test_every_mechanism_is_accounted_once():
    ag = simkit.agents(domestic=[{"ss": 1.0}, {"ss": 0.0}], foreign=[{}], funds=[{}])
    money = {m: float(i + 1) for i, m in enumerate(MECHANISMS) if m != "mergers_acquisitions"}
    inp = simkit.inputs(ag, years=8, money=money)
    res = run_model(inp, simkit.params(runs=3), rng())
    expected = 8 * sum(money.values())
    np.testing.assert_allclose(res.series("state_capital_cum")[:, -1, 0], expected, rtol=1e-12)
    np.testing.assert_allclose(res.fund_deployed, [8 * money["guidance_fund"]])


@pytest.mark.parametrize(("crowding", "delta"), [(0.5, 2.0), (0.0, 0.0), (-0.5, -2.0), (-1.0, -2.6)])
def test_fund_crowding_moves_private_capital_by_the_multiplier(crowding, delta):
    """In the first year private investment is m x guidance money higher or lower; crowding out
    stops at zero private investment (2.6 here: capacity 20 x (growth 0.05 + depreciation 0.08))."""
    ag = simkit.agents(domestic=[{"ss": 1.0}, {"ss": 0.0}], foreign=[{}])
    inp = simkit.inputs(ag, years=3, money={"guidance_fund": 4.0})
    base = run_model(inp, simkit.params(fund_crowding=0.0), rng()).series("private_capital_cum")[0, 0, 0]
    got = run_model(inp, simkit.params(fund_crowding=crowding), rng()).series("private_capital_cum")[0, 0, 0]
    assert got - base == pytest.approx(delta, rel=1e-12)


def test_demand_shift_under_export_controls_raises_self_sufficiency():
    ag = simkit.agents(domestic=[{"ss": 0.5}], foreign=[{}])
    controls = np.concatenate([[0.0], np.full(9, 0.6)])[None, :]
    inp = simkit.inputs(ag, years=10, export_controls=controls)
    low = run_model(inp, simkit.params(control_demand_shift=0.0), rng()).series("self_sufficiency")[0, :, 0]
    high = run_model(inp, simkit.params(control_demand_shift=0.3), rng()).series("self_sufficiency")[0, :, 0]
    assert low[0] == pytest.approx(high[0])
    assert np.all(high[1:] > low[1:])


def random_world(seed_sigma: float = 0.3):
    ag = simkit.agents(
        domestic=[{"ss": 1.0}, {"ss": 0.2, "jv": True}, {"ss": 0.0}, {"ss": 0.6, "desig": 2016}],
        foreign=[{}, {"cap": 0.8}],
    )
    money = {"mergers_acquisitions": 1.5, "joint_venture": 1.0, "guidance_fund": 3.0, "direct_rd": 1.0}
    inp = simkit.inputs(ag, years=10, money=money, foreign_tech_access=0.6, export_controls=0.2)
    return inp, simkit.params(runs=8, rd_shock_sigma=seed_sigma, tech_transfer_rate=0.03)


def test_same_seed_same_result_and_another_seed_another():
    inp, par = random_world()
    a = run_model(inp, par, rng(11)).outputs
    b = run_model(inp, par, rng(11)).outputs
    c = run_model(inp, par, rng(12)).outputs
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_common_random_numbers_make_identical_rows_identical():
    inp, par = random_world()
    crn = run_model(inp, par, rng(1), common_random_numbers=True).outputs
    assert all(np.array_equal(crn[0], crn[r]) for r in range(1, 8))
    independent = run_model(inp, par, rng(1)).outputs
    assert not all(np.array_equal(independent[0], independent[r]) for r in range(1, 8))


@settings(max_examples=40, deadline=None)
@given(
    e=st.floats(0.0, 0.9),
    delta=st.floats(0.0, 3.0),
    phi=st.floats(-1.0, 0.9),
    lam=st.floats(0.1, 1.2),
    learn=st.floats(0.0, 0.5),
    sigma=st.floats(0.0, 4.0),
    eta=st.floats(0.0, 3.0),
    crowd=st.floats(-1.0, 3.0),
    yld=st.floats(0.0, 1.0),
    build=st.floats(1.0, 5.0),
    controls=st.floats(0.0, 1.0),
    demand=st.floats(0.0, 1.0),
    money=st.floats(0.0, 500.0),
)
def test_outputs_stay_finite_and_in_range(
    e, delta, phi, lam, learn, sigma, eta, crowd, yld, build, controls, demand, money
):
    ag = simkit.agents(domestic=[{"ss": 1.0}, {"ss": 0.0}, {"ss": 0.4, "desig": 2015}], foreign=[{}])
    inp = simkit.inputs(
        ag,
        years=8,
        export_controls=controls,
        domestic_demand_share=demand,
        money={m: money for m in MECHANISMS},
    )
    par = simkit.params(
        runs=2,
        soe_efficiency_discount=e,
        knowledge_productivity=delta,
        knowledge_spillover=phi,
        research_elasticity=lam,
        learning_rate=learn,
        quality_elasticity=sigma,
        investment_response=eta,
        fund_crowding=crowd,
        state_capital_yield=yld,
        build_years=build,
        rd_shock_sigma=0.3,
    )
    out = run_model(inp, par, rng()).outputs
    assert np.all(np.isfinite(out))
    ss = out[..., OUT["self_sufficiency"]]
    assert np.all((ss >= 0) & (ss <= 100 + 1e-9))
    cap = out[..., OUT["capability"]]
    assert np.all((cap >= 0) & (cap <= 1 + 1e-12))
    assert np.all(out[..., OUT["soe_debt_ratio"]] >= 0)
    assert np.all(np.diff(out[..., OUT["state_capital_cum"]], axis=1) >= -1e-9)
