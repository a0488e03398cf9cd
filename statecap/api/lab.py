"""The scenario lab's endpoints: built-in scenarios, the main levers, simulate, and export.

`POST /api/simulate` calls `statecap.sim.montecarlo.simulate`, the function behind
``statecap simulate --json``, and returns its result unchanged. Only built-in scenarios can be
named (the API never reads a file path it is sent); levers arrive as overrides (dotted key
paths, as ``statecap simulate --set``).
"""

from __future__ import annotations

import io
import json
import re
from typing import Annotated, Any

import duckdb
import pandas as pd
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import ConfigDict, Field

from statecap.api import models as M
from statecap.api.deps import Con, jsonable
from statecap.errors import UsageError

router = APIRouter(tags=["policy lab"])

MAX_API_RUNS = 2000

# The main levers the lab shows as sliders: an override key path, and for year series the year
# from which the new value holds.
LEVERS: tuple[dict[str, Any], ...] = (
    {"key": "drivers.export_controls.semiconductors", "year": 2026, "label": "Export-control intensity on chips, from 2026",
     "min": 0.0, "max": 1.0, "step": 0.05, "unit": "0-1"},
    {"key": "levers.fund_phases.big-fund-iii.amount_cny_bn", "label": "Big Fund III size",
     "min": 0.0, "max": 1500.0, "step": 10.0, "unit": "CNY bn"},
    {"key": "levers.talent.semiconductors", "year": 2026, "label": "Talent money for chips, from 2026",
     "min": 0.0, "max": 20.0, "step": 0.5, "unit": "CNY bn a year"},
    {"key": "levers.tech_parks.default", "year": 2026, "label": "Tech-park support per sector, from 2026",
     "min": 0.0, "max": 20.0, "step": 0.5, "unit": "CNY bn a year"},
    {"key": "drivers.acquisition_openness.semiconductors", "year": 2026, "label": "Chance a chip acquisition abroad clears review, from 2026",
     "min": 0.0, "max": 1.0, "step": 0.05, "unit": "0-1"},
    {"key": "parameters.soe_efficiency_discount", "label": "SOE efficiency discount",
     "min": 0.0, "max": 0.9, "step": 0.05, "unit": "share"},
    {"key": "parameters.fund_crowding", "label": "Guidance funds crowd private money in (+) or out (-)",
     "min": -1.0, "max": 1.5, "step": 0.05, "unit": "per unit of state money"},
)  # fmt: skip


def _scenario_pattern() -> str:
    from statecap.sim.scenario import builtin_scenarios

    # names are plain words with dashes (checked), so the pattern needs no escapes in any regex dialect
    names = [s["name"] for s in builtin_scenarios() if re.fullmatch(r"[A-Za-z0-9_-]+", s["name"])]
    return "^(" + "|".join(names) + ")$"


class SimulateIn(M.Model):
    """A run of the policy lab: a built-in scenario, overrides (levers), runs and seed.

    Strict: numbers must be numbers and ``series`` a boolean; unknown keys are refused.
    """

    model_config = ConfigDict(extra="forbid", strict=True)

    scenario: str = Field(
        "baseline", pattern=_scenario_pattern(), description="a built-in scenario name (GET /api/scenarios)"
    )
    overrides: dict[str, Any] = Field(
        default_factory=dict,
        description='dotted key paths and values, as `statecap simulate --set`: {"parameters.fund_crowding": 0.5, '
        '"drivers.export_controls.semiconductors": {"2026": 0.9}}',
    )
    runs: int = Field(200, ge=1, le=MAX_API_RUNS)
    seed: int = Field(0, ge=0, le=2**32 - 1)
    series: bool = Field(True, description="include yearly P5/P50/P95 bands")


class Quantiles(M.Model):
    p5: float | None = None
    p50: float | None = None
    p95: float | None = None


class SimulationOut(M.Model):
    scenario: str
    runs: int
    seed: int
    horizon: list[int]
    outputs: dict[str, dict[str, Quantiles]] = Field(
        description="sector -> output -> quantiles in the horizon's last year"
    )
    backtest: dict[str, Any]
    units: dict[str, str]
    calibration: dict[str, Any]
    years: list[int] | None = None
    series: dict[str, dict[str, dict[str, list[float | None]]]] | None = None


class Lever(M.Model):
    key: str
    year: int | None = None
    label: str
    min: float
    max: float
    step: float
    unit: str
    value: float | None = Field(description="the scenario's own value (a distribution's central value)")


class ScenarioOut(M.Model):
    name: str
    description: str
    extends: str | None = None
    levers: list[Lever]


def _builtin_names() -> list[str]:
    from statecap.sim.scenario import builtin_scenarios

    return [s["name"] for s in builtin_scenarios()]


def _check_scenario(name: str) -> str:
    names = _builtin_names()
    if name not in names:
        raise UsageError(f"scenario {name!r} is not a built-in scenario; choose one of {', '.join(names)}")
    return name


def _series_value(series: Any, year: int) -> float | None:
    if not isinstance(series, dict) or not series:
        return None
    known = sorted((int(k), v) for k, v in series.items() if str(k).strip().isdigit())
    before = [v for y, v in known if y <= year]
    value = before[-1] if before else known[0][1]
    return float(value) if isinstance(value, int | float) else None


def lever_values(name: str) -> list[dict[str, Any]]:
    """The main levers with the scenario's own values (levers it lacks are left out)."""
    from statecap.sim.scenario import load_scenario

    sc = load_scenario(name)
    out = []
    for lever in LEVERS:
        parts = lever["key"].split(".")
        value: float | None
        if parts[0] == "parameters":
            spec = sc.params.get(parts[1])
            if spec is None:
                continue
            value = float(spec.central)
        else:
            node: Any = sc.raw
            for p in parts:
                node = node.get(p) if isinstance(node, dict) else None
            if node is None:
                continue
            value = (
                _series_value(node, lever["year"])
                if "year" in lever
                else (float(node) if isinstance(node, int | float) else None)
            )
        out.append({**lever, "year": lever.get("year"), "value": None if value is None else round(value, 6)})
    return out


def _run(request: Request, con: duckdb.DuckDBPyConnection, body: SimulateIn) -> dict[str, Any]:
    from statecap.sim.atlas import calibration_path_for
    from statecap.sim.montecarlo import simulate

    _check_scenario(body.scenario)
    state = request.app.state.statecap
    # a calibration fit stored beside the store changes the answer: it is part of the question
    fit = calibration_path_for(state.db)
    fit_id = fit.stat().st_mtime_ns if fit.exists() else None
    key = (
        body.scenario,
        json.dumps(body.overrides, sort_keys=True, default=str),
        body.runs,
        body.seed,
        body.series,
        fit_id,
    )
    return state.cached(
        "simulate",
        key,
        lambda: jsonable(
            simulate(body.scenario, body.overrides or None, body.runs, body.seed, con=con, series=body.series)
        ),
    )


@router.get("/api/scenarios", response_model=list[ScenarioOut], response_model_exclude_unset=True)
def scenarios() -> Any:
    """The built-in scenarios, baseline first, each with the lab's main levers at its own values."""
    from statecap.sim.scenario import builtin_scenarios

    return [
        {
            "name": s["name"],
            "description": s["description"],
            "extends": s.get("extends"),
            "levers": lever_values(s["name"]),
        }
        for s in builtin_scenarios()
    ]


@router.post("/api/simulate", response_model=SimulationOut, response_model_exclude_unset=True)
def simulate_endpoint(request: Request, con: Con, body: SimulateIn) -> Any:
    """Run a scenario's Monte Carlo with the given levers; the same result as ``statecap simulate --json``."""
    return _run(request, con, body)


def simulation_frame(result: dict[str, Any]) -> pd.DataFrame:
    """A simulation's bands as rows: scenario, sector, output, year, p5, p50, p95."""
    rows = []
    years = result.get("years")
    if result.get("series") and years:
        for sector, outputs in result["series"].items():
            for output, q in outputs.items():
                for i, year in enumerate(years):
                    rows.append({"scenario": result["scenario"], "sector": sector, "output": output, "year": int(year),
                                 "p5": q["p5"][i], "p50": q["p50"][i], "p95": q["p95"][i]})  # fmt: skip
    else:
        last = result["horizon"][1]
        for sector, outputs in result["outputs"].items():
            for output, q in outputs.items():
                rows.append({"scenario": result["scenario"], "sector": sector, "output": output, "year": last,
                             "p5": q["p5"], "p50": q["p50"], "p95": q["p95"]})  # fmt: skip
    return pd.DataFrame(rows, columns=["scenario", "sector", "output", "year", "p5", "p50", "p95"])


@router.post(
    "/api/simulate/export",
    response_class=Response,
    responses={
        200: {
            "content": {"text/csv": {}, "application/vnd.apache.parquet": {}},
            "description": "the bands as a file",
        }
    },
)
def simulate_export(
    request: Request,
    con: Con,
    body: SimulateIn,
    fmt: Annotated[str, Query(alias="format", pattern="^(csv|parquet)$")] = "csv",
) -> Response:
    """A simulation's P5/P50/P95 bands by sector, output and year as CSV or Parquet."""
    result = _run(request, con, body.model_copy(update={"series": True}))
    frame = simulation_frame(result)
    name = f"statecap-{body.scenario}-seed{body.seed}"
    if fmt == "csv":
        return Response(frame.to_csv(index=False), media_type="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})  # fmt: skip
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    return Response(buf.getvalue(), media_type="application/vnd.apache.parquet",
                    headers={"Content-Disposition": f'attachment; filename="{name}.parquet"'})  # fmt: skip
