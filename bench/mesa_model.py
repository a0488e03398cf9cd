"""The policy-lab rules written as a Mesa 3 model: one Python object per firm, scalar arithmetic.

This is the comparison model for bench/sim.py and an independent check of the vectorised
kernel (statecap.sim.model.run_model): the same equations (docs/model.md), written agent by
agent in the usual agent-based style, with staged activation each year:

1. the model clears the market of each sector (sums of quality-weighted capacity);
2. every domestic firm plans: revenue, state money received, R&D, capability, acquisitions,
   joint ventures, investment;
3. the model sums planned private investment per sector (for crowding out);
4. every domestic firm commits: ownership, capacity, assets and debt;
5. the model records the sector outputs.

It takes the same inputs as the kernel (a compiled scenario's ModelInputs) and one run's
parameter values; randomness comes from the model's own `numpy.random.Generator` (``rng``).
"""

from __future__ import annotations

import math
from typing import Any

import mesa
import numpy as np

from statecap.sim.model import KIND_DOMESTIC, KIND_FOREIGN, MECHANISMS, OUTPUTS, ModelInputs

MI = {name: i for i, name in enumerate(MECHANISMS)}


def _div(num: float, den: float) -> float:
    return num / den if den > 0 else 0.0


class DomesticFirm(mesa.Agent):
    """A firm in the country: capacity, assets, debt, capability, state share."""

    def __init__(self, model: PolicyLabModel, sector: int, **state: Any):
        super().__init__(model)
        self.sector = sector
        self.__dict__.update(state)

    # stage 2
    def plan(self) -> None:
        m = self.model
        p = m.p
        s = self.sector
        t = m.t
        year = int(m.inputs.years[t])
        c = float(m.inputs.export_controls[s, t])
        self.desig = 1.0 if self.designated_from <= year else 0.0
        e_t = p["soe_efficiency_discount"] * (1.0 - float(m.inputs.soe_reform[s, t]))
        self.rev = m.market[s] * m.dom_share[s] * _div(self.w, m.w_d[s])
        self.profit = m.sv["margin"][s] * self.rev
        self.roc = _div(self.profit, self.A)
        if t == 0:
            self.X = self.rev / max(m.sv["market_growth"][s], 1e-3)
        self.ss_year, self.A_year = self.ss, self.A
        money = m.inputs.money[:, s, t]
        sums = m.weight_sums[s]

        def share(mech: str, weight: float, key: str) -> float:
            total = float(money[MI[mech]])
            wsum = sums[key]
            if wsum <= 0:
                weight, wsum = self.A, sums["A"]
            return total * _div(weight, wsum)

        self.rd_money = share("direct_rd", self.A * self.ss, "state_a")
        self.grant = share("grant_subsidy_tax", self.A, "A")
        self.park = share("tech_park", self.A * (1.0 if self.ss < 0.5 else 0.0), "private_a")
        self.equity_in = share("direct_equity", self.A * self.ss, "state_a")
        self.credit = share("policy_bank_credit", self.A * self.ss, "state_a")
        self.gf = share("guidance_fund", self.A * self.a, "a_weighted")
        self.jv_money = share("joint_venture", self.A, "A")
        self.ma_budget = share("mergers_acquisitions", self.A * self.ss, "state_a")

        rng = m.rng
        z = float(rng.standard_normal())
        u_attempt, u_success, u_jv = float(rng.random()), float(rng.random()), float(rng.random())
        sig = p["rd_shock_sigma"]
        eps = math.exp(sig * z - 0.5 * sig * sig)
        talent = float(money[MI["talent"]])
        h = p["talent_effect"] * talent / (talent + p["talent_half_cny_bn"])
        r_eff = (
            (self.rd_own * self.rev + self.rd_money + self.grant + p["park_effectiveness"] * self.park)
            * (1.0 - e_t * self.ss)
            * (1.0 + h)
        )
        rel = _div(_div(r_eff, self.rev), m.sv["rd_intensity"][s])
        g_front = m.sv["frontier_growth"][s]
        g_know = (
            m.sv["knowledge_productivity"][s]
            * g_front
            * eps
            * rel ** p["research_elasticity"]
            * self.a ** (p["knowledge_spillover"] - 1.0)
            * self.phi_in
        )
        b = -math.log2(1.0 - p["learning_rate"])
        learn = b * (math.log1p(_div(self.rev, self.X)) - m.sv["market_growth"][s]) * self.phi_in
        access_open = float(m.inputs.foreign_tech_access[s, t]) * (1.0 - c)
        transfer = p["tech_transfer_rate"] * access_open * (1.0 if self.jv else 0.0) * (1.0 - self.a)
        openness = float(m.inputs.acquisition_openness[s, t])
        p_success = (
            openness
            * (1.0 - p["state_acquirer_penalty"] * self.ss)
            * (1.0 - p["designated_acquirer_penalty"] * self.desig)
        )
        self.attempt = u_attempt < min(1.0, _div(self.ma_budget, p["deal_size_cny_bn"]))
        self.success = self.attempt and u_success < p_success
        gain = p["acquisition_gain"] * (1.0 - self.a) * (1.0 if self.success else 0.0)
        self.X_next = self.X + self.rev
        self.a_next = min(1.0, self.a * math.exp(g_know + learn - g_front) + transfer + gain)
        if u_jv < min(1.0, _div(self.jv_money, p["jv_cost_cny_bn"])) and access_open > 0:
            self.jv = True

        ratio = _div(self.roc, m.roc_ref[s])
        factor = min(max(ratio ** p["investment_response"], 0.0), 3.0)
        inv = self.Kp * (m.sv["market_growth"][s] + p["depreciation"]) * factor
        self.state_inv = self.ss * inv
        self.private_inv = (1.0 - self.ss) * inv

    # stage 4
    def commit(self) -> None:
        m = self.model
        p = m.p
        s = self.sector
        t = m.t
        money = m.inputs.money[:, s, t]
        crowd_out = max(-p["fund_crowding"], 0.0) * float(money[MI["guidance_fund"]])
        keep = min(max(1.0 - _div(crowd_out, m.private_inv_sum[s]), 0.0), 1.0)
        self.private_inv *= keep
        co_invest = max(p["fund_crowding"], 0.0) * self.gf
        spent_ma = p["deal_size_cny_bn"] if self.success else 0.0
        psi = p["debt_financed_share"]
        debt_funded = psi * self.ss * (self.equity_in + spent_ma + self.jv_money)
        new_state_equity = self.gf + self.equity_in + spent_ma + self.jv_money - debt_funded
        added = new_state_equity + co_invest
        equity = max(self.A - self.L, 1e-9)
        if added > 0:
            self.ss = (self.ss * equity + new_state_equity) / (equity + added)
        build = p["build_years"]
        completed = self.U / build
        self.U = (
            self.U
            - completed
            + self.state_inv
            + self.private_inv
            + co_invest
            + m.sv["state_capital_yield"][s] * (self.gf + self.equity_in + self.credit + self.jv_money)
        )
        dep = p["depreciation"]
        self.Kp = self.Kp * (1.0 - dep) + completed
        self.A = (
            self.A * (1.0 - dep)
            + self.state_inv
            + self.private_inv
            + co_invest
            + self.gf
            + self.equity_in
            + self.credit
            + self.jv_money
            + spent_ma
        )
        self.L = (
            self.L
            + p["debt_repayment_rate"] * (self.lev_target * self.A - self.L)
            + debt_funded
            + self.credit
        )
        self.deployed = (
            self.rd_money
            + self.grant
            + self.park
            + self.equity_in
            + self.credit
            + self.gf
            + self.jv_money
            + spent_ma
        )
        self.private_in = self.private_inv + co_invest
        self.X = self.X_next
        self.a = self.a_next


class ForeignFirm(mesa.Agent):
    """A foreign firm selling into the country: capacity grows with the market."""

    def __init__(self, model: PolicyLabModel, sector: int, capacity: float, quality: float):
        super().__init__(model)
        self.sector = sector
        self.K = capacity
        self.quality = quality


class PolicyLabModel(mesa.Model):
    """One Monte Carlo run of the policy lab, agent by agent.

    Args:
        inputs: the kernel's inputs (agents as arrays are turned into agent objects here).
        values: global parameter values for this run.
        sector_values: sector parameter values for this run, one list per parameter.
        seed: the run's seed.
    """

    def __init__(
        self,
        inputs: ModelInputs,
        values: dict[str, float],
        sector_values: dict[str, list[float]],
        seed: int,
    ):
        super().__init__(seed=seed)
        self.inputs = inputs
        self.p = values
        self.sv = sector_values
        self.t = 0
        S = len(inputs.sectors)
        ag = inputs.agents
        p = values
        sv = sector_values
        self.market = list(sv["market_size_cny_bn"])
        ss0 = [min(max(x / 100.0, 1e-4), 1 - 1e-4) for x in sv["initial_self_sufficiency"]]
        f_on = [min(max(x, 0.0), 0.999) for x in sv["onshore_foreign_share"]]
        d0 = [ss0[s] * (1.0 - f_on[s]) for s in range(S)]
        self.onshore = [ss0[s] * f_on[s] / (1.0 - d0[s]) for s in range(S)]

        dom = [i for i in range(len(ag)) if ag.kind[i] == KIND_DOMESTIC]
        has_soe = [False] * S
        has_private = [False] * S
        for i in dom:
            if ag.state_share[i] >= 0.5:
                has_soe[int(ag.sector[i])] = True
            else:
                has_private[int(ag.sector[i])] = True
        self.firms: list[DomesticFirm] = []
        for i in dom:
            s = int(ag.sector[i])
            share = sv["state_controlled_capital_share"][s]
            soe_part = (share if has_private[s] else 1.0) if has_soe[s] else 0.0
            ss = float(ag.state_share[i])
            part = soe_part if ss >= 0.5 else 1.0 - soe_part
            kp = sv["capital_intensity"][s] * self.market[s] * d0[s] * part * float(ag.size[i])
            u = p["build_years"] * (sv["market_growth"][s] + p["depreciation"]) * kp
            a = min(max(sv["initial_capability"][s] * float(ag.capability[i]), 0.01), 1.0)
            lr = float(ag.liability_ratio[i])
            if math.isnan(lr):
                lr = (
                    sv["initial_soe_liability_ratio"][s] / 100.0
                    if ss >= 0.5
                    else p["private_liability_ratio"]
                )
            rd = float(ag.rd_intensity[i])
            self.firms.append(
                DomesticFirm(
                    self,
                    s,
                    ss=ss,
                    Kp=kp,
                    U=u,
                    A=kp + u,
                    L=lr * (kp + u),
                    lev_target=lr,
                    a=a,
                    X=0.0,
                    jv=bool(ag.jv[i]),
                    rd_own=sv["rd_intensity"][s] if math.isnan(rd) else rd,
                    designated_from=int(ag.designated_from[i]),
                )
            )

        # foreign capacity: the first year's market gives the initial shares
        c0 = [float(inputs.export_controls[s, 0]) for s in range(S)]
        sigma = p["quality_elasticity"]
        wd0 = [0.0] * S
        for f in self.firms:
            s = f.sector
            e0 = p["soe_efficiency_discount"] * (1.0 - float(inputs.soe_reform[s, 0]))
            desig0 = 1.0 if f.designated_from <= int(inputs.years[0]) else 0.0
            expo = min(1.0, p["foreign_input_dependence"] * sv["input_dependence"][s] * (1.0 + desig0))
            wd0[s] += f.Kp * (1.0 - e0 * f.ss) * (1.0 - expo * c0[s]) * f.a**sigma
        foreign = [i for i in range(len(ag)) if ag.kind[i] == KIND_FOREIGN]
        base = [0.0] * S
        for i in foreign:
            s = int(ag.sector[i])
            q_f = min(max(float(ag.capability[i]), 0.01), 1.0) ** sigma
            base[s] += float(ag.size[i]) * q_f * (1.0 - p["control_foreign_supply_cut"] * c0[s])
        self.foreign: list[ForeignFirm] = []
        for i in foreign:
            s = int(ag.sector[i])
            d_eff0 = min(
                1.0, float(inputs.domestic_demand_share[s, 0]) + sv["control_demand_shift"][s] * c0[s]
            )
            q = min(max((d0[s] - d_eff0) / max(1.0 - d_eff0, 1e-9), 0.005), 0.995)
            needed = wd0[s] * (1.0 - q) / q
            q_f = min(max(float(ag.capability[i]), 0.01), 1.0) ** sigma
            self.foreign.append(ForeignFirm(self, s, _div(needed, base[s]) * float(ag.size[i]), q_f))

        self.state_cum = [0.0] * S
        self.private_cum = [0.0] * S
        self.blocked_cum = [0.0] * S
        self.roc_ref = [0.0] * S
        self.records: list[list[list[float]]] = []  # [year][sector][output]

    def step(self) -> None:
        """One year."""
        inp, p, sv, t = self.inputs, self.p, self.sv, self.t
        S = len(inp.sectors)
        year = int(inp.years[t])
        sigma = p["quality_elasticity"]
        # stage 1: the market
        self.w_d = [0.0] * S
        w_f = [0.0] * S
        for f in self.firms:
            s = f.sector
            c = float(inp.export_controls[s, t])
            desig = 1.0 if f.designated_from <= year else 0.0
            e_t = p["soe_efficiency_discount"] * (1.0 - float(inp.soe_reform[s, t]))
            expo = min(1.0, p["foreign_input_dependence"] * sv["input_dependence"][s] * (1.0 + desig))
            f.phi_in = 1.0 - expo * c
            f.w = f.Kp * (1.0 - e_t * f.ss) * f.phi_in * f.a**sigma
            self.w_d[s] += f.w
        for g in self.foreign:
            s = g.sector
            w_f[s] += (
                g.K * g.quality * (1.0 - p["control_foreign_supply_cut"] * float(inp.export_controls[s, t]))
            )
        self.dom_share = [0.0] * S
        self_suff = [0.0] * S
        for s in range(S):
            c = float(inp.export_controls[s, t])
            d_eff = min(1.0, float(inp.domestic_demand_share[s, t]) + sv["control_demand_shift"][s] * c)
            if self.w_d[s] > 0:
                self.dom_share[s] = d_eff + (1.0 - d_eff) * _div(self.w_d[s], self.w_d[s] + w_f[s])
            self_suff[s] = 100.0 * (self.dom_share[s] + self.onshore[s] * (1.0 - self.dom_share[s]))
        self.weight_sums = [{"A": 0.0, "state_a": 0.0, "private_a": 0.0, "a_weighted": 0.0} for _ in range(S)]
        for f in self.firms:
            ws = self.weight_sums[f.sector]
            ws["A"] += f.A
            ws["state_a"] += f.A * f.ss
            ws["private_a"] += f.A * (1.0 if f.ss < 0.5 else 0.0)
            ws["a_weighted"] += f.A * f.a
        if t == 0:
            prof = [0.0] * S
            assets = [0.0] * S
            for f in self.firms:
                rev = self.market[f.sector] * self.dom_share[f.sector] * _div(f.w, self.w_d[f.sector])
                prof[f.sector] += sv["margin"][f.sector] * rev
                assets[f.sector] += f.A
            self.roc_ref = [_div(prof[s], assets[s]) for s in range(S)]
        # stage 2: every firm plans
        for f in self.firms:
            f.plan()
        # stage 3: planned private investment per sector
        self.private_inv_sum = [0.0] * S
        for f in self.firms:
            self.private_inv_sum[f.sector] += f.private_inv
        # stage 4: every firm commits
        for f in self.firms:
            f.commit()
        for g in self.foreign:
            g.K *= 1.0 + sv["market_growth"][g.sector]
        # stage 5: records
        sums = [
            dict.fromkeys(
                (
                    "deployed", "private", "blocked", "success", "soe_l", "soe_a",
                    "state_profit", "state_a", "private_profit", "private_a",
                ),
                0.0,
            )
            for _ in range(S)
        ]  # fmt: skip
        for f in self.firms:
            r = sums[f.sector]
            r["deployed"] += f.deployed
            r["private"] += f.private_in
            r["blocked"] += 1.0 if f.attempt and not f.success else 0.0
            r["success"] += 1.0 if f.success else 0.0
            if f.ss >= 0.5:
                r["soe_l"] += f.L
                r["soe_a"] += f.A
            r["state_profit"] += f.ss_year * f.profit
            r["state_a"] += f.A_year * f.ss_year
            r["private_profit"] += (1.0 - f.ss_year) * f.profit
            r["private_a"] += (1.0 - f.ss_year) * f.A_year
        year_rows = []
        for s in range(S):
            r = sums[s]
            talent = float(inp.money[MI["talent"], s, t])
            deployed = r["deployed"] + talent
            self.state_cum[s] += deployed
            self.private_cum[s] += r["private"]
            self.blocked_cum[s] += r["blocked"]
            values = {
                "self_sufficiency": self_suff[s],
                "capability": self._capability[s],
                "state_capital_cum": self.state_cum[s],
                "private_capital_cum": self.private_cum[s],
                "soe_debt_ratio": 100.0 * _div(r["soe_l"], r["soe_a"]),
                "return_on_state_capital": 100.0 * _div(r["state_profit"], r["state_a"]),
                "return_on_private_capital": 100.0 * _div(r["private_profit"], r["private_a"]),
                "blocked_deals": r["blocked"],
                "blocked_deals_cum": self.blocked_cum[s],
                "completed_acquisitions": r["success"],
                "domestic_share": 100.0 * self.dom_share[s],
                "state_capital": deployed,
                "soe_liabilities": r["soe_l"],
                "soe_assets": r["soe_a"],
            }
            year_rows.append([values[o] for o in OUTPUTS])
        self.records.append(year_rows)
        for s in range(S):
            self.market[s] *= 1.0 + sv["market_growth"][s]
        self.t += 1

    def run(self) -> np.ndarray:
        """Every year of the horizon: outputs (T, S, O)."""
        for _ in range(len(self.inputs.years)):
            S = len(self.inputs.sectors)
            kp = [0.0] * S
            kpa = [0.0] * S
            for f in self.firms:
                kp[f.sector] += f.Kp
                kpa[f.sector] += f.Kp * f.a
            self._capability = [_div(kpa[s], kp[s]) for s in range(S)]
            self.step()
        return np.asarray(self.records, dtype=float)


def run_mesa(
    inputs: ModelInputs, values: dict[str, np.ndarray], sector_values: dict[str, np.ndarray], seed: int
) -> np.ndarray:
    """Every run (one Mesa model each): outputs (R, T, S, O) like the kernel's."""
    runs = len(next(iter(values.values())))
    out = []
    seeds = np.random.SeedSequence(seed).generate_state(runs)
    for r in range(runs):
        vals = {k: float(v[r]) for k, v in values.items()}
        svals = {k: [float(x) for x in v[r]] for k, v in sector_values.items()}
        out.append(PolicyLabModel(inputs, vals, svals, seed=int(seeds[r])).run())
    return np.stack(out)
