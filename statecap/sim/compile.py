"""Scenario + atlas -> the kernel's inputs: agents, drivers and money as arrays, parameter specs.

Series in scenario files are ``{year: value}``; between given years values are interpolated
linearly. Drivers hold their first value before the first year and their last after the last.
Money series are zero before their first year and hold their last value through ``until`` (the
horizon's end when not given); a fund phase deploys its amount evenly over its years.

Recorded flows from the atlas (``levers.from_atlas``) are added for years up to ``through``;
a fund phase that names its fund replaces that fund's recorded investments, so money is not
counted twice.

Observed initial conditions: where the store has them (and the scenario has
``observations: true``), the semiconductor self-sufficiency and market size and the SOE
liability ratio at the horizon's first year are taken from observations dated no later than
OBSERVATION_CUTOFF, so that nothing from the calibration holdout leaks into a run.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from statecap.sim.agents import seed_agents
from statecap.sim.atlas import AtlasData, FxTable
from statecap.sim.model import MECHANISMS, ModelInputs, Params
from statecap.sim.params import ParamSpec, param_rng
from statecap.sim.scenario import DRIVERS, Scenario

OBSERVATION_CUTOFF = 2019  # last year of observations any run may use (the calibration training end)
NEAREST_WITHIN = 5  # years: an observation this far from the first year can stand for it

SERIES_LEVER_MECHANISM = {"talent": "talent", "tech_parks": "tech_park"}


def interpolate(series: dict[int, float], years: np.ndarray, hold_before: bool = True) -> np.ndarray:
    """Linear interpolation of a ``{year: value}`` series over `years`.

    Values hold after the last given year; before the first they hold (`hold_before`) or are 0.
    """
    ks = np.array(sorted(series), dtype=float)
    vs = np.array([series[int(k)] for k in ks], dtype=float)
    out = np.interp(years.astype(float), ks, vs)
    if not hold_before:
        out = np.where(years < ks[0], 0.0, out)
    return out


@dataclass
class Compiled:
    """A scenario made concrete for one atlas: kernel inputs and the parameter specs to draw."""

    scenario: Scenario
    inputs: ModelInputs
    specs: dict[str, ParamSpec]
    sector_specs: dict[str, dict[str, ParamSpec]]
    atlas: AtlasData
    money_sources: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    def all_specs(self) -> dict[str, ParamSpec]:
        """Every parameter by dotted name (``sectors.<sector>.<field>`` for sector ones)."""
        out = dict(self.specs)
        for fld, by_sector in self.sector_specs.items():
            for s, spec in by_sector.items():
                out[f"sectors.{s}.{fld}"] = spec
        return out

    def with_specs(self, changes: dict[str, ParamSpec]) -> Compiled:
        """A copy with some parameters (dotted names) replaced."""
        specs = dict(self.specs)
        sector_specs = {f: dict(v) for f, v in self.sector_specs.items()}
        for name, spec in changes.items():
            if name.startswith("sectors."):
                _, s, fld = name.split(".", 2)
                sector_specs[fld][s] = spec
            else:
                specs[name] = spec
        return replace(self, specs=specs, sector_specs=sector_specs)


def _observed(obs: pd.DataFrame, series: str, sector: str | None) -> pd.DataFrame:
    o = obs[(obs["series"] == series) & obs["entity"].isna()]
    o = o[o["sector"].isna()] if sector is None else o[o["sector"] == sector]
    return o[o["year"] <= OBSERVATION_CUTOFF].sort_values("year")


def _value_at(o: pd.DataFrame, year: int) -> tuple[float, str] | None:
    """The observation at `year`, interpolated between neighbours, or the nearest one."""
    if o.empty:
        return None
    years = o["year"].to_numpy(dtype=int)
    vals = o["value"].to_numpy(dtype=float)
    if year in years:
        return float(vals[years == year][0]), f"{year}"
    before, after = years[years < year], years[years > year]
    if len(before) and len(after):
        y0, y1 = before.max(), after.min()
        v0, v1 = vals[years == y0][0], vals[years == y1][0]
        return float(v0 + (v1 - v0) * (year - y0) / (y1 - y0)), f"interpolated {y0}-{y1}"
    nearest = int(years[np.argmin(np.abs(years - year))])
    if abs(nearest - year) <= NEAREST_WITHIN:
        return float(vals[years == nearest][0]), f"{nearest} (nearest)"
    return None


def _as_percent(value: float, unit: str) -> float:
    return value * 100.0 if unit in ("ratio", "fraction") else value


def observed_initial_conditions(
    scenario: Scenario, atlas: AtlasData
) -> tuple[dict[str, ParamSpec], list[str]]:
    """Sector parameters replaced by observations at the horizon's first year, with notes."""
    y0 = scenario.horizon[0]
    obs = atlas.observations
    changes: dict[str, ParamSpec] = {}
    notes: list[str] = []
    if not scenario.use_observations or obs.empty:
        return changes, notes
    semis = "semiconductors"
    o = _observed(obs, "ic_self_sufficiency", semis)
    got = _value_at(o, y0)
    if got is not None and semis in scenario.sector_params["initial_self_sufficiency"]:
        value = _as_percent(got[0], str(o["unit"].iloc[0]))
        name = f"sectors.{semis}.initial_self_sufficiency"
        changes[name] = scenario.sector_params["initial_self_sufficiency"][semis].fixed_at(
            value, f"store observation ic_self_sufficiency ({got[1]})"
        )
        notes.append(f"{name} = {value:.2f} from the store (ic_self_sufficiency, {got[1]})")
    o = _observed(obs, "china_ic_market_usd", semis)
    got = _value_at(o, y0)
    if got is not None:
        fx = FxTable(obs)
        spec = scenario.sector_params["market_growth"][semis]
        ref_year = int(o["year"].iloc[np.argmin(np.abs(o["year"].to_numpy() - y0))])
        if got[1].startswith("interpolated"):
            ref_year = y0
        cny_bn = got[0] * fx.rate("USD", ref_year) / 1e9 / (1.0 + spec.central) ** (ref_year - y0)
        name = f"sectors.{semis}.market_size_cny_bn"
        changes[name] = scenario.sector_params["market_size_cny_bn"][semis].fixed_at(
            cny_bn,
            f"store observation china_ic_market_usd ({got[1]}), projected to {y0} at the median market growth",
        )
        notes.append(f"{name} = {cny_bn:.0f} from the store (china_ic_market_usd, {got[1]})")
    o = _observed(obs, "soe_liability_ratio", None)
    got = _value_at(o, y0)
    if got is not None:
        value = _as_percent(got[0], str(o["unit"].iloc[0]))
        for s, spec in scenario.sector_params["initial_soe_liability_ratio"].items():
            changes[f"sectors.{s}.initial_soe_liability_ratio"] = spec.fixed_at(
                value, f"store observation soe_liability_ratio ({got[1]})"
            )
        notes.append(f"sectors.*.initial_soe_liability_ratio = {value:.1f} from the store ({got[1]})")
    return changes, notes


def compile_scenario(scenario: Scenario, atlas: AtlasData, seed: int) -> Compiled:
    """Build the kernel inputs for a scenario over an atlas (agents seeded from `seed`)."""
    sectors = tuple(scenario.sector_params["market_growth"].keys())
    years = np.arange(scenario.horizon[0], scenario.horizon[1] + 1)
    S, T = len(sectors), len(years)
    s_index = {s: i for i, s in enumerate(sectors)}
    m_index = {m: i for i, m in enumerate(MECHANISMS)}

    drivers = {}
    for dname in DRIVERS:
        arr = np.zeros((S, T))
        by = scenario.drivers[dname]
        for s in sectors:
            series = by.get(s, by.get("default"))
            if series is not None:
                arr[s_index[s]] = interpolate(series, years)
        drivers[dname] = np.clip(arr, 0.0, 1.0)

    money = np.zeros((len(MECHANISMS), S, T))
    src_rows: list[dict[str, Any]] = []

    def add_money(mech: str, sector: str, values: np.ndarray, origin: str, name: str) -> None:
        money[m_index[mech], s_index[sector]] += values
        src_rows.append(
            {
                "origin": origin,
                "name": name,
                "mechanism": mech,
                "sector": sector,
                "total_cny_bn": float(values.sum()),
            }
        )

    for entry in scenario.money:
        vals = interpolate(entry.years, years, hold_before=False)
        last = entry.until if entry.until is not None else years[-1]
        vals = np.where(years > last, 0.0, vals)
        origin = (
            "fund_phase" if entry.fund is not None or entry.name in _phase_names(scenario) else "scenario"
        )
        add_money(entry.mechanism, entry.sector, vals, origin, entry.name)
    for lname, by in scenario.series_levers.items():
        mech = SERIES_LEVER_MECHANISM[lname]
        for s in sectors:
            series = by.get(s, by.get("default"))
            if series is not None:
                add_money(
                    mech, s, interpolate(series, years, hold_before=False), "scenario", f"levers.{lname}"
                )

    notes: list[str] = []
    if scenario.from_atlas_through is not None and not atlas.flows.empty:
        replaced = {e.fund for e in scenario.money if e.fund is not None}
        fl = atlas.flows
        keep = (fl["year"] >= years[0]) & (fl["year"] <= min(scenario.from_atlas_through, years[-1]))
        keep &= ~fl["investor"].isin(list(replaced))
        keep &= fl["sector"].isin(list(sectors)) & fl["mechanism"].isin(list(MECHANISMS))
        dropped = int((fl["investor"].isin(list(replaced))).sum())
        if dropped:
            notes.append(
                f"{dropped} recorded investments by funds with a scenario fund phase left out (counted once)"
            )
        for (mech, sector, year), amount in (
            fl[keep].groupby(["mechanism", "sector", "year"])["amount_cny_bn"].sum().items()
        ):
            vals = np.where(years == year, float(amount), 0.0)
            add_money(str(mech), str(sector), vals, "atlas", f"recorded {mech} {year}")

    agent_rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(2,)))
    agents = seed_agents(atlas.firms, list(sectors), scenario.agents, agent_rng)
    inputs = ModelInputs(
        years=years,
        sectors=sectors,
        agents=agents,
        export_controls=drivers["export_controls"],
        acquisition_openness=drivers["acquisition_openness"],
        foreign_tech_access=drivers["foreign_tech_access"],
        domestic_demand_share=drivers["domestic_demand_share"],
        soe_reform=drivers["soe_reform"],
        money=money,
    )
    compiled = Compiled(
        scenario=scenario,
        inputs=inputs,
        specs=dict(scenario.params),
        sector_specs={f: dict(v) for f, v in scenario.sector_params.items()},
        atlas=atlas,
        money_sources=pd.DataFrame(
            src_rows, columns=["origin", "name", "mechanism", "sector", "total_cny_bn"]
        ),
        notes=notes,
    )
    changes, obs_notes = observed_initial_conditions(scenario, atlas)
    compiled = compiled.with_specs(changes)
    compiled.notes.extend(obs_notes)
    return compiled


def _phase_names(scenario: Scenario) -> set[str]:
    lv = scenario.raw.get("levers") or {}
    phases = lv.get("fund_phases") or {}
    return set(phases) if isinstance(phases, dict) else set()


def draw_params(compiled: Compiled, runs: int, seed: int, start: int = 0) -> Params:
    """Parameter values for runs ``start .. start+runs-1`` (each parameter from its own stream)."""
    values = {}
    for name, spec in compiled.specs.items():
        values[name] = spec.sample(param_rng(seed, name), start + runs)[start:]
    sectors = compiled.inputs.sectors
    sector_values = {}
    for fld, by_sector in compiled.sector_specs.items():
        arr = np.empty((runs, len(sectors)))
        for j, s in enumerate(sectors):
            spec = by_sector[s]
            arr[:, j] = spec.sample(param_rng(seed, f"sectors.{s}.{fld}"), start + runs)[start:]
        sector_values[fld] = arr
    return Params(values=values, sector_values=sector_values)


def params_from_matrix(compiled: Compiled, names: list[str], matrix: np.ndarray) -> Params:
    """Parameters for rows of `matrix` (columns = `names`); the rest held at their medians."""
    runs = matrix.shape[0]
    sectors = compiled.inputs.sectors
    col = {n: i for i, n in enumerate(names)}
    values = {}
    for name, spec in compiled.specs.items():
        values[name] = matrix[:, col[name]].copy() if name in col else np.full(runs, spec.central)
    sector_values = {}
    for fld, by_sector in compiled.sector_specs.items():
        arr = np.empty((runs, len(sectors)))
        for j, s in enumerate(sectors):
            key = f"sectors.{s}.{fld}"
            arr[:, j] = matrix[:, col[key]] if key in col else by_sector[s].central
        sector_values[fld] = arr
    return Params(values=values, sector_values=sector_values)
