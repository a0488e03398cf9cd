"""The policy-lab model: agents as arrays, stepped year by year with vectorised numpy.

This module is a pure kernel: it takes arrays, parameters and a `numpy.random.Generator` and
returns arrays. It reads no files and prints nothing. Every equation is written out in
docs/model.md; the names below follow it.

Shapes: R runs, N agents, S sectors, T years. Agent state is held as (R, N) arrays (one row per
Monte Carlo run), sector quantities as (R, S); sums over the agents of a sector are products with
a one-hot (N, S) matrix.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

KIND_DOMESTIC = 0
KIND_FOREIGN = 1
KIND_FUND = 2
KIND_NAMES = {KIND_DOMESTIC: "domestic", KIND_FOREIGN: "foreign", KIND_FUND: "fund"}

NEVER = 10_000  # `designated_from` for agents that are never designated

# How each mechanism's money reaches firms (see docs/model.md, "State money").
MECHANISMS = (
    "direct_rd",
    "mergers_acquisitions",
    "guidance_fund",
    "direct_equity",
    "joint_venture",
    "talent",
    "grant_subsidy_tax",
    "policy_bank_credit",
    "tech_park",
)

DRIVER_FIELDS = (
    "export_controls",
    "acquisition_openness",
    "foreign_tech_access",
    "domestic_demand_share",
    "soe_reform",
)

OUTPUTS = (
    "self_sufficiency",
    "capability",
    "state_capital_cum",
    "private_capital_cum",
    "soe_debt_ratio",
    "return_on_state_capital",
    "return_on_private_capital",
    "blocked_deals",
    "blocked_deals_cum",
    "completed_acquisitions",
    "domestic_share",
    "state_capital",
    "soe_liabilities",
    "soe_assets",
)

UNITS = {
    "self_sufficiency": "percent of the domestic market supplied by production in the country",
    "capability": "capacity-weighted capability of domestic firms, ratio to the world frontier (0-1)",
    "state_capital_cum": "CNY bn, state money deployed since the horizon's first year",
    "private_capital_cum": "CNY bn, private investment since the horizon's first year",
    "soe_debt_ratio": "percent, liabilities / assets of state-controlled firms",
    "return_on_state_capital": "percent, state-attributable profit / state-attributable assets",
    "return_on_private_capital": "percent, privately attributable profit / privately attributable assets",
    "blocked_deals": "overseas acquisitions blocked in the year (count)",
    "blocked_deals_cum": "overseas acquisitions blocked since the horizon's first year (count)",
    "completed_acquisitions": "overseas acquisitions completed in the year (count)",
    "domestic_share": "percent of the domestic market supplied by domestic-owned firms",
    "state_capital": "CNY bn, state money deployed in the year",
    "soe_liabilities": "CNY bn, liabilities of state-controlled firms",
    "soe_assets": "CNY bn, assets of state-controlled firms",
}

GLOBAL_PARAMS = (
    "soe_efficiency_discount",
    "fund_crowding",
    "research_elasticity",
    "knowledge_spillover",
    "learning_rate",
    "tech_transfer_rate",
    "debt_financed_share",
    "debt_repayment_rate",
    "control_foreign_supply_cut",
    "foreign_input_dependence",
    "acquisition_gain",
    "state_acquirer_penalty",
    "designated_acquirer_penalty",
    "deal_size_cny_bn",
    "talent_effect",
    "talent_half_cny_bn",
    "park_effectiveness",
    "jv_cost_cny_bn",
    "quality_elasticity",
    "investment_response",
    "depreciation",
    "rd_shock_sigma",
    "private_liability_ratio",
    "build_years",
)

SECTOR_PARAMS = (
    "market_size_cny_bn",
    "market_growth",
    "frontier_growth",
    "margin",
    "rd_intensity",
    "capital_intensity",
    "initial_self_sufficiency",
    "onshore_foreign_share",
    "initial_capability",
    "input_dependence",
    "state_controlled_capital_share",
    "initial_soe_liability_ratio",
    "knowledge_productivity",
    "control_demand_shift",
    "state_capital_yield",
)


@dataclass(frozen=True)
class Agents:
    """Agents as a structure of arrays (one entry per agent).

    Attributes:
        ids: entity id for agents seeded from the atlas, ``synthetic:...`` otherwise.
        kind: KIND_DOMESTIC (a firm in the country), KIND_FOREIGN, or KIND_FUND (a state fund).
        sector: index into the model's sectors.
        state_share: the state's share of the agent's equity, 0-1.
        size: relative size within its group: for domestic firms within (sector, state-controlled
            or not), for foreign firms within the sector, for funds within the sector; each group
            sums to 1.
        capability: domestic firms: multiplier on the sector's initial capability; foreign firms:
            capability as a ratio to the frontier.
        liability_ratio: liabilities / assets at the start, NaN for the sector or private prior.
        rd_intensity: own R&D / revenue, NaN for the sector prior.
        designated_from: first year on a designation list (NEVER if not designated).
        jv: has a joint venture with a foreign partner at the start.
        origin: ``atlas`` or ``synthetic``.
    """

    ids: np.ndarray
    kind: np.ndarray
    sector: np.ndarray
    state_share: np.ndarray
    size: np.ndarray
    capability: np.ndarray
    liability_ratio: np.ndarray
    rd_intensity: np.ndarray
    designated_from: np.ndarray
    jv: np.ndarray
    origin: np.ndarray

    def __len__(self) -> int:
        return int(self.kind.shape[0])


@dataclass(frozen=True)
class ModelInputs:
    """Everything the kernel needs besides parameters: time, sectors, agents, drivers, money.

    Drivers are (S, T) arrays in [0, 1]; money is (M, S, T) in CNY bn per year, M following
    MECHANISMS.
    """

    years: np.ndarray
    sectors: tuple[str, ...]
    agents: Agents
    export_controls: np.ndarray
    acquisition_openness: np.ndarray
    foreign_tech_access: np.ndarray
    domestic_demand_share: np.ndarray
    soe_reform: np.ndarray
    money: np.ndarray


@dataclass(frozen=True)
class Params:
    """Parameter values per run: global ones (R,), sector ones (R, S)."""

    values: Mapping[str, np.ndarray]
    sector_values: Mapping[str, np.ndarray]

    @property
    def runs(self) -> int:
        first = next(iter(self.values.values()))
        return int(np.asarray(first).shape[0])


@dataclass(frozen=True)
class ModelOutputs:
    """Yearly outputs (R, T, S, O) in OUTPUTS order, and the final state of domestic firms and funds."""

    outputs: np.ndarray
    years: np.ndarray
    sectors: tuple[str, ...]
    domestic_ids: np.ndarray
    final_capability: np.ndarray
    final_capacity: np.ndarray
    final_state_share: np.ndarray
    fund_ids: np.ndarray
    fund_deployed: np.ndarray

    def series(self, output: str) -> np.ndarray:
        """One output as an (R, T, S) array."""
        return self.outputs[..., OUTPUTS.index(output)]


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, 0 where den <= 0."""
    num = np.asarray(num, dtype=float)
    den = np.asarray(den, dtype=float)
    if num.shape != den.shape:
        num, den = np.broadcast_arrays(num, den)
    out = np.zeros(num.shape)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _check(inp: ModelInputs, par: Params) -> None:
    missing = [n for n in GLOBAL_PARAMS if n not in par.values]
    missing += [f"sectors.*.{n}" for n in SECTOR_PARAMS if n not in par.sector_values]
    if missing:
        raise ValueError(f"parameters missing: {', '.join(missing)}")
    S, T = len(inp.sectors), len(inp.years)
    for name in DRIVER_FIELDS:
        if getattr(inp, name).shape != (S, T):
            raise ValueError(f"{name} must have shape {(S, T)}")
    if inp.money.shape != (len(MECHANISMS), S, T):
        raise ValueError(f"money must have shape {(len(MECHANISMS), S, T)}")
    ag = inp.agents
    for s in range(S):
        here = ag.sector == s
        if not (here & (ag.kind == KIND_FOREIGN)).any() or not (here & (ag.kind == KIND_DOMESTIC)).any():
            raise ValueError(f"sector {inp.sectors[s]} needs at least one domestic and one foreign firm")


class _Group:
    """Agents of one kind sorted by sector, with the segment starts `np.add.reduceat` needs."""

    def __init__(self, agents: Agents, kind: int, n_sectors: int):
        idx = np.flatnonzero(agents.kind == kind)
        self.index = idx[np.argsort(agents.sector[idx], kind="stable")]
        self.sector = agents.sector[self.index].astype(np.intp)
        self.starts = np.searchsorted(self.sector, np.arange(n_sectors))
        self.n = len(self.index)

    def total(self, x: np.ndarray) -> np.ndarray:
        """Sum over each sector's agents: (R, n) -> (R, S). Every sector has at least one agent."""
        return np.add.reduceat(x, self.starts, axis=1)

    def take(self, field: np.ndarray) -> np.ndarray:
        return field[self.index]


def run_model(
    inp: ModelInputs,
    par: Params,
    rng: np.random.Generator,
    *,
    common_random_numbers: bool = False,
) -> ModelOutputs:
    """Run the model for every run in `par` at once.

    Args:
        inp: agents, drivers and money (identical across runs).
        par: parameter values, one per run.
        rng: the only source of randomness.
        common_random_numbers: draw one set of shocks shared by all runs (rows then differ
            only by their parameters), as Sobol analysis wants.

    Returns:
        Yearly outputs per run, year, sector and output, and the domestic firms' final state.
    """
    _check(inp, par)
    ag = inp.agents
    R = par.runs
    S = len(inp.sectors)
    T = len(inp.years)
    dg = _Group(ag, KIND_DOMESTIC, S)
    fg = _Group(ag, KIND_FOREIGN, S)
    fund_idx = np.flatnonzero(ag.kind == KIND_FUND)
    sec = dg.sector
    fsec = fg.sector
    rows = 1 if common_random_numbers else R

    def g(name: str) -> np.ndarray:
        return np.asarray(par.values[name], dtype=float)[:, None]

    def sv(name: str) -> np.ndarray:
        return np.asarray(par.sector_values[name], dtype=float)

    e = g("soe_efficiency_discount")
    m_crowd = g("fund_crowding")
    lam = g("research_elasticity")
    phi_k = g("knowledge_spillover")
    b_learn = -np.log2(1.0 - g("learning_rate"))
    tau = g("tech_transfer_rate")
    psi = g("debt_financed_share")
    rho_l = g("debt_repayment_rate")
    kappa = g("control_foreign_supply_cut")
    omega = g("foreign_input_dependence")
    chi = g("acquisition_gain")
    beta_s = g("state_acquirer_penalty")
    beta_d = g("designated_acquirer_penalty")
    deal = g("deal_size_cny_bn")
    theta = g("talent_effect")
    t_half = g("talent_half_cny_bn")
    park_eff = g("park_effectiveness")
    jv_cost = g("jv_cost_cny_bn")
    sigma_q = g("quality_elasticity")
    eta = g("investment_response")
    dep = g("depreciation")
    sig_eps = g("rd_shock_sigma")
    build = g("build_years")

    delta = sv("knowledge_productivity")[:, sec]
    xi = sv("control_demand_shift")  # (R, S)
    yield_state = sv("state_capital_yield")[:, sec]
    market = sv("market_size_cny_bn").copy()  # (R, S)
    g_market = sv("market_growth")
    g_front = sv("frontier_growth")
    margin = sv("margin")[:, sec]
    rd_ref = sv("rd_intensity")[:, sec]
    ss0 = np.clip(sv("initial_self_sufficiency") / 100.0, 1e-4, 1 - 1e-4)
    f_on = np.clip(sv("onshore_foreign_share"), 0.0, 0.999)
    d0_share = ss0 * (1.0 - f_on)  # domestic-owned firms' share of the market at the start
    onshore = ss0 * f_on / (1.0 - d0_share)  # share of foreign firms' sales made in the country
    exposure_base = omega * sv("input_dependence")[:, sec]
    g_market_n = g_market[:, sec]
    g_front_n = g_front[:, sec]

    # --- initial state of domestic firms (R, Nd) ----------------------------------------
    ss_init = dg.take(ag.state_share)
    soe0 = ss_init >= 0.5
    has_soe = np.bincount(sec[soe0], minlength=S) > 0
    has_private = np.bincount(sec[~soe0], minlength=S) > 0
    soe_part = np.where(has_soe, np.where(has_private, sv("state_controlled_capital_share"), 1.0), 0.0)
    part = np.where(soe0, soe_part[:, sec], 1.0 - soe_part[:, sec])
    kp_total = sv("capital_intensity") * market * d0_share  # productive capital (R, S)
    Kp = kp_total[:, sec] * part * dg.take(ag.size)
    U = build * (g_market_n + dep) * Kp  # capacity under construction, at its steady-state level
    A = Kp + U  # book assets
    a = np.clip(sv("initial_capability")[:, sec] * dg.take(ag.capability), 0.01, 1.0)
    lr_given = dg.take(ag.liability_ratio)
    lr_prior = np.where(soe0, sv("initial_soe_liability_ratio")[:, sec] / 100.0, g("private_liability_ratio"))
    lev_target = np.where(np.isnan(lr_given), lr_prior, lr_given)  # each firm's normal leverage
    L = lev_target * A
    ss = np.broadcast_to(ss_init, (R, dg.n)).copy()
    jv = np.broadcast_to(dg.take(ag.jv), (R, dg.n)).copy()
    rd_own = np.where(np.isnan(dg.take(ag.rd_intensity)), rd_ref, dg.take(ag.rd_intensity))
    desig_from = dg.take(ag.designated_from)

    # --- foreign firms: capacity set so the first year's market gives the initial shares ---
    fa_sigma = np.power(np.clip(fg.take(ag.capability), 0.01, 1.0), sigma_q)  # (R, Nf)
    f_size = fg.take(ag.size)
    c0 = inp.export_controls[:, 0]
    d_eff0 = np.minimum(1.0, inp.domestic_demand_share[:, 0] + xi * c0)
    phi0 = 1.0 - np.minimum(1.0, exposure_base * (1.0 + (desig_from <= inp.years[0]))) * c0[sec]
    e0 = e * (1.0 - inp.soe_reform[sec, 0])
    wd0 = dg.total(Kp * (1.0 - e0 * ss) * phi0 * np.power(a, sigma_q))
    q = np.clip((d0_share - d_eff0) / np.maximum(1.0 - d_eff0, 1e-9), 0.005, 0.995)
    wf_needed = wd0 * (1.0 - q) / q
    base_f = f_size * fa_sigma * (1.0 - kappa * c0[fsec])
    Kf = _ratio(wf_needed, fg.total(base_f))[:, fsec] * f_size

    X = np.zeros((R, dg.n))  # cumulative output, set in the first year
    roc_ref = np.zeros((R, S))
    state_cum = np.zeros((R, S))
    private_cum = np.zeros((R, S))
    blocked_cum = np.zeros((R, S))
    fund_deployed = np.zeros(len(fund_idx))
    fund_sec = ag.sector[fund_idx]
    fund_size = ag.size[fund_idx]
    fund_share = fund_size / np.maximum(
        np.bincount(fund_sec, weights=fund_size, minlength=S)[fund_sec], 1e-12
    )
    out = np.empty((T, len(OUTPUTS), R, S))
    mi = {name: i for i, name in enumerate(MECHANISMS)}

    zeros = np.zeros((R, dg.n))

    def alloc(total_s: np.ndarray, weight: np.ndarray) -> np.ndarray:
        """Spread sector totals (S,) over domestic firms in proportion to `weight` (R, Nd)."""
        if not total_s.any():
            return zeros
        wsum = dg.total(weight)
        if (wsum <= 0).any():
            weight = np.where((wsum <= 0)[:, sec], A, weight)
            wsum = dg.total(weight)
        return total_s[sec] * _ratio(weight, wsum[:, sec])

    for t in range(T):
        year = inp.years[t]
        c = inp.export_controls[:, t]
        cn = c[sec]
        openness = inp.acquisition_openness[sec, t]
        access_open = inp.foreign_tech_access[sec, t] * (1.0 - cn)
        money = inp.money[:, :, t]
        desig = (desig_from <= year).astype(float)
        e_t = e * (1.0 - inp.soe_reform[sec, t])  # the efficiency discount after reform, (R, Nd)

        # market: quality-weighted effective capacity competes for the demand not reserved
        phi_in = 1.0 - np.minimum(1.0, exposure_base * (1.0 + desig)) * cn
        log_a = np.log(a)  # a >= 0.01 always
        w = Kp * (1.0 - e_t * ss) * phi_in * np.exp(sigma_q * log_a)
        w_d = dg.total(w)
        w_f = fg.total(Kf * fa_sigma * (1.0 - kappa * c[fsec]))
        d_eff = np.minimum(1.0, inp.domestic_demand_share[:, t] + xi * c)
        dom_share = np.where(w_d > 0, d_eff + (1.0 - d_eff) * _ratio(w_d, w_d + w_f), 0.0)
        self_suff = 100.0 * (dom_share + onshore * (1.0 - dom_share))
        rev = (market * dom_share)[:, sec] * _ratio(w, w_d[:, sec])
        profit = margin * rev
        roc = _ratio(profit, A)
        capability_year = _ratio(dg.total(Kp * a), dg.total(Kp))
        if t == 0:
            X = rev / np.maximum(g_market_n, 1e-3)
            roc_ref = _ratio(dg.total(profit), dg.total(A))

        # state money to firms
        ss_year, A_year = ss, A
        state_a = A * ss
        rd_money = alloc(money[mi["direct_rd"]], state_a)
        grant = alloc(money[mi["grant_subsidy_tax"]], A)
        park = alloc(money[mi["tech_park"]], A * (ss < 0.5))
        equity_in = alloc(money[mi["direct_equity"]], state_a)
        credit = alloc(money[mi["policy_bank_credit"]], state_a)
        gf = alloc(money[mi["guidance_fund"]], A * a)
        jv_money = alloc(money[mi["joint_venture"]], A)
        ma_budget = alloc(money[mi["mergers_acquisitions"]], state_a)
        talent_s = money[mi["talent"]]
        fund_deployed += money[mi["guidance_fund"]][fund_sec] * fund_share

        # capability: knowledge production (Jones 1995), learning by doing (Wright), transfer, M&A
        z = rng.standard_normal((rows, dg.n))
        u_attempt = rng.random((rows, dg.n))
        u_success = rng.random((rows, dg.n))
        u_jv = rng.random((rows, dg.n))
        eps = np.exp(sig_eps * z - 0.5 * sig_eps**2)
        h = theta * talent_s / (talent_s + t_half)  # (R, S)
        r_eff = (rd_own * rev + rd_money + grant + park_eff * park) * (1.0 - e_t * ss) * (1.0 + h[:, sec])
        rel = _ratio(_ratio(r_eff, rev), rd_ref)
        g_know = delta * g_front_n * eps * np.power(rel, lam) * np.exp((phi_k - 1.0) * log_a) * phi_in
        x_new = X + rev
        learn = b_learn * (np.log1p(_ratio(rev, X)) - g_market_n) * phi_in
        transfer = tau * access_open * jv * (1.0 - a)
        p_success = openness * (1.0 - beta_s * ss) * (1.0 - beta_d * desig)
        attempt = u_attempt < np.minimum(1.0, _ratio(ma_budget, deal))
        success = attempt & (u_success < p_success)
        blocked = attempt & ~success
        gain = chi * (1.0 - a) * success
        a_next = np.minimum(1.0, a * np.exp(g_know + learn - g_front_n) + transfer + gain)
        jv = jv | ((u_jv < np.minimum(1.0, _ratio(jv_money, jv_cost))) & (access_open > 0))

        # investment, crowding, ownership, capacity and debt
        inv = Kp * (g_market_n + dep) * np.clip(np.power(_ratio(roc, roc_ref[:, sec]), eta), 0.0, 3.0)
        state_inv = ss * inv
        private_inv = (1.0 - ss) * inv
        co_invest = np.maximum(m_crowd, 0.0) * gf
        crowd_out = np.maximum(-m_crowd, 0.0) * money[mi["guidance_fund"]][None, :]
        keep = np.clip(1.0 - _ratio(crowd_out, dg.total(private_inv)), 0.0, 1.0)
        private_inv = private_inv * keep[:, sec]
        spent_ma = deal * success
        debt_funded = psi * ss * (equity_in + spent_ma + jv_money)
        new_state_equity = gf + equity_in + spent_ma + jv_money - debt_funded
        added = new_state_equity + co_invest
        equity = np.maximum(A - L, 1e-9)
        ss = np.where(added > 0, (ss * equity + new_state_equity) / (equity + added), ss)
        completed = U / build
        U = (
            U
            - completed
            + state_inv
            + private_inv
            + co_invest
            + yield_state * (gf + equity_in + credit + jv_money)
        )
        Kp = Kp * (1.0 - dep) + completed
        A = (
            A * (1.0 - dep)
            + state_inv
            + private_inv
            + co_invest
            + gf
            + equity_in
            + credit
            + jv_money
            + spent_ma
        )
        L = L + rho_l * (lev_target * A - L) + debt_funded + credit
        Kf = Kf * (1.0 + g_market[:, fsec])

        deployed = (
            dg.total(rd_money + grant + park + equity_in + credit + gf + jv_money + spent_ma) + talent_s
        )
        state_cum += deployed
        private_cum += dg.total(private_inv + co_invest)
        n_blocked = dg.total(blocked.astype(float))
        blocked_cum += n_blocked
        soe_now = (ss >= 0.5).astype(float)
        soe_l = dg.total(L * soe_now)
        soe_a = dg.total(A * soe_now)

        values = {
            "self_sufficiency": self_suff,
            "capability": capability_year,
            "state_capital_cum": state_cum,
            "private_capital_cum": private_cum,
            "soe_debt_ratio": 100.0 * _ratio(soe_l, soe_a),
            "return_on_state_capital": 100.0 * _ratio(dg.total(ss_year * profit), dg.total(state_a)),
            "return_on_private_capital": 100.0
            * _ratio(dg.total((1.0 - ss_year) * profit), dg.total((1.0 - ss_year) * A_year)),
            "blocked_deals": n_blocked,
            "blocked_deals_cum": blocked_cum,
            "completed_acquisitions": dg.total(success.astype(float)),
            "domestic_share": 100.0 * dom_share,
            "state_capital": deployed,
            "soe_liabilities": soe_l,
            "soe_assets": soe_a,
        }
        for k, name in enumerate(OUTPUTS):
            out[t, k] = values[name]

        X = x_new
        a = a_next
        market = market * (1.0 + g_market)

    return ModelOutputs(
        outputs=np.ascontiguousarray(np.transpose(out, (2, 0, 3, 1))),
        years=np.asarray(inp.years),
        sectors=tuple(inp.sectors),
        domestic_ids=ag.ids[dg.index],
        final_capability=a,
        final_capacity=Kp,
        final_state_share=ss,
        fund_ids=ag.ids[fund_idx],
        fund_deployed=fund_deployed,
    )


def learning_exponent(learning_rate: float) -> float:
    """Wright's-law exponent b for a learning rate (cost falls by `learning_rate` per doubling)."""
    return -math.log2(1.0 - learning_rate)
