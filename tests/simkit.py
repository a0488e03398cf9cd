"""Hand-built inputs for the policy-lab kernel: tiny populations with every value chosen."""

from __future__ import annotations

from typing import Any

import numpy as np

from statecap.sim.model import (
    GLOBAL_PARAMS,
    KIND_DOMESTIC,
    KIND_FOREIGN,
    KIND_FUND,
    MECHANISMS,
    NEVER,
    SECTOR_PARAMS,
    Agents,
    ModelInputs,
    Params,
)

GLOBAL_DEFAULTS: dict[str, float] = {
    "soe_efficiency_discount": 0.3,
    "fund_crowding": 0.0,
    "research_elasticity": 0.7,
    "knowledge_spillover": 0.5,
    "learning_rate": 0.0,
    "tech_transfer_rate": 0.0,
    "debt_financed_share": 0.5,
    "debt_repayment_rate": 0.1,
    "control_foreign_supply_cut": 0.2,
    "foreign_input_dependence": 0.3,
    "acquisition_gain": 0.1,
    "state_acquirer_penalty": 0.0,
    "designated_acquirer_penalty": 0.0,
    "deal_size_cny_bn": 2.0,
    "talent_effect": 0.0,
    "talent_half_cny_bn": 2.0,
    "park_effectiveness": 0.5,
    "jv_cost_cny_bn": 2.0,
    "quality_elasticity": 1.0,
    "investment_response": 0.0,
    "depreciation": 0.08,
    "rd_shock_sigma": 0.0,
    "private_liability_ratio": 0.5,
    "build_years": 2.0,
}
SECTOR_DEFAULTS: dict[str, float] = {
    "market_size_cny_bn": 100.0,
    "market_growth": 0.05,
    "frontier_growth": 0.03,
    "margin": 0.1,
    "rd_intensity": 0.05,
    "capital_intensity": 2.0,
    "initial_self_sufficiency": 20.0,
    "onshore_foreign_share": 0.0,
    "initial_capability": 0.4,
    "input_dependence": 1.0,
    "state_controlled_capital_share": 0.5,
    "initial_soe_liability_ratio": 60.0,
    "knowledge_productivity": 1.0,
    "control_demand_shift": 0.0,
    "state_capital_yield": 1.0,
}
assert set(GLOBAL_DEFAULTS) == set(GLOBAL_PARAMS)
assert set(SECTOR_DEFAULTS) == set(SECTOR_PARAMS)


def params(runs: int = 1, sectors: int = 1, **over: Any) -> Params:
    """Fixed parameter values for `runs` runs; a value may be a scalar or one per run."""
    values = {}
    sector_values = {}
    for k, v in GLOBAL_DEFAULTS.items():
        x = np.asarray(over.pop(k, v), dtype=float)
        values[k] = np.broadcast_to(x, (runs,)).copy()
    for k, v in SECTOR_DEFAULTS.items():
        x = np.asarray(over.pop(k, v), dtype=float)
        sector_values[k] = np.broadcast_to(x, (runs, sectors)).copy() if x.ndim < 2 else x.copy()
    if over:
        raise KeyError(f"unknown parameters: {sorted(over)}")
    return Params(values=values, sector_values=sector_values)


def agents(
    domestic: list[dict[str, Any]], foreign: list[dict[str, Any]], funds: list[dict[str, Any]] | None = None
) -> Agents:
    """Agents from dicts: domestic {sector, ss, size, cap, lr, rd, desig, jv}; foreign {sector, size, cap}."""
    rows = []
    for d in domestic:
        rows.append(
            (
                d.get("id", f"d{len(rows)}"), KIND_DOMESTIC, d.get("sector", 0), d.get("ss", 0.0),
                d.get("size", 1.0), d.get("cap", 1.0), d.get("lr", np.nan), d.get("rd", np.nan),
                d.get("desig", NEVER), d.get("jv", False),
            )
        )  # fmt: skip
    for f in foreign:
        rows.append(
            (f.get("id", f"f{len(rows)}"), KIND_FOREIGN, f.get("sector", 0), 0.0, f.get("size", 1.0),
             f.get("cap", 1.0), np.nan, np.nan, NEVER, False)
        )  # fmt: skip
    for f in funds or []:
        rows.append(
            (f.get("id", f"u{len(rows)}"), KIND_FUND, f.get("sector", 0), 1.0, f.get("size", 1.0), 0.0,
             np.nan, np.nan, NEVER, False)
        )  # fmt: skip
    cols = list(zip(*rows, strict=True))
    return Agents(
        ids=np.array(cols[0], dtype=object),
        kind=np.array(cols[1], dtype=np.int8),
        sector=np.array(cols[2], dtype=np.int32),
        state_share=np.array(cols[3], dtype=float),
        size=np.array(cols[4], dtype=float),
        capability=np.array(cols[5], dtype=float),
        liability_ratio=np.array(cols[6], dtype=float),
        rd_intensity=np.array(cols[7], dtype=float),
        designated_from=np.array(cols[8], dtype=np.int64),
        jv=np.array(cols[9], dtype=bool),
        origin=np.array(["test"] * len(rows), dtype=object),
    )


def inputs(
    ag: Agents,
    years: int = 10,
    sectors: int = 1,
    first_year: int = 2014,
    money: dict[str, float | np.ndarray] | None = None,
    **drivers: float | np.ndarray,
) -> ModelInputs:
    """Inputs with drivers constant unless given as (S, T) arrays; money per mechanism (S, T) or scalar."""
    S, T = sectors, years

    def arr(x: float | np.ndarray) -> np.ndarray:
        return np.broadcast_to(np.asarray(x, dtype=float), (S, T)).copy()

    m = np.zeros((len(MECHANISMS), S, T))
    for name, v in (money or {}).items():
        m[MECHANISMS.index(name)] = arr(v)
    return ModelInputs(
        years=np.arange(first_year, first_year + T),
        sectors=tuple(f"s{i}" for i in range(S)),
        agents=ag,
        export_controls=arr(drivers.pop("export_controls", 0.0)),
        acquisition_openness=arr(drivers.pop("acquisition_openness", 1.0)),
        foreign_tech_access=arr(drivers.pop("foreign_tech_access", 0.0)),
        domestic_demand_share=arr(drivers.pop("domestic_demand_share", 0.0)),
        soe_reform=arr(drivers.pop("soe_reform", 0.0)),
        money=m,
    )


def store_with_observations(folder, observations: list[dict[str, Any]]):
    """A store built from the mini dataset plus `observations` (series, year, value, unit, sector)."""
    import shutil
    from pathlib import Path

    import yaml

    from statecap.store.build import build_store
    from tests.conftest import MINI

    folder = Path(folder)
    data = folder / "data"
    shutil.copytree(MINI, data)
    (data / "observations").mkdir(exist_ok=True)
    records = [{**o, "sources": ["src-test"]} for o in observations]
    (data / "observations" / "test.yaml").write_text(
        yaml.safe_dump(records, sort_keys=False), encoding="utf-8"
    )
    path = folder / "store.duckdb"
    build_store(data, path)
    return path


def ic_series(values: dict[int, float]) -> list[dict[str, Any]]:
    return [
        {
            "series": "ic_self_sufficiency",
            "year": y,
            "value": float(v),
            "unit": "percent",
            "sector": "semiconductors",
        }
        for y, v in values.items()
    ]
