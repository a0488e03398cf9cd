"""Calibration: fit the scenario's free parameters on 2014-2019, report the 2020-2022 error.

The free parameters are those a scenario marks ``calibrate: true`` (in the baseline:
knowledge_productivity, control_demand_shift, state_capital_yield, debt_repayment_rate); their
distributions are the search ranges. A parameter is fitted only when a series it informs (see
`backtest.TARGETS`) has training observations; the others keep their priors and say why.

The objective is the mean squared error between the median path over `runs` Monte Carlo runs
and the observations of each target in TRAIN_YEARS (targets weighted equally), with common
random numbers (the same seed for every evaluation) so that it is a deterministic function of
the free parameters. Observations at the horizon's first year are left out: they set the
initial conditions and the model matches them by construction. The search is a Sobol screen of
the box followed by Powell's method from the best point.

The fit is judged on HOLDOUT_YEARS only, against carrying the last training observation
forward; the verdict says plainly when it is poor or underdetermined.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.stats import qmc

from statecap.errors import UsageError
from statecap.sim.atlas import AtlasData, calibration_path_for
from statecap.sim.backtest import (
    HEADLINE_TARGET,
    HOLDOUT_YEARS,
    TARGETS,
    TRAIN_YEARS,
    Target,
    backtest_target,
    model_paths,
    observed,
    verdict,
)
from statecap.sim.compile import Compiled, draw_params
from statecap.sim.model import ModelInputs, Params
from statecap.sim.montecarlo import Progress, prepare, run_compiled
from statecap.sim.params import ParamSpec

SCREEN_POINTS = 16


def truncate(compiled: Compiled, last_year: int) -> Compiled:
    """The compiled scenario cut at `last_year` (the fit only needs the training years)."""
    inp = compiled.inputs
    keep = inp.years <= last_year
    new = ModelInputs(
        years=inp.years[keep],
        sectors=inp.sectors,
        agents=inp.agents,
        export_controls=inp.export_controls[:, keep],
        acquisition_openness=inp.acquisition_openness[:, keep],
        foreign_tech_access=inp.foreign_tech_access[:, keep],
        domestic_demand_share=inp.domestic_demand_share[:, keep],
        soe_reform=inp.soe_reform[:, keep],
        money=inp.money[:, :, keep],
    )
    return replace(compiled, inputs=new)


def _with_values(params: Params, names: list[str], x: np.ndarray, sectors: tuple[str, ...]) -> Params:
    """`params` with the named parameters (dotted names for sector ones) held at `x`."""
    values = dict(params.values)
    sector_values = dict(params.sector_values)
    for n, v in zip(names, x, strict=True):
        if n.startswith("sectors."):
            _, sector, field = n.split(".", 2)
            col = sectors.index(sector)
            arr = sector_values[field].copy()
            arr[:, col] = v
            sector_values[field] = arr
        else:
            values[n] = np.full_like(values[n], v)
    return Params(values=values, sector_values=sector_values)


def calibrate(
    scenario: str | Path | dict[str, Any] = "baseline",
    overrides: dict[str, Any] | None = None,
    *,
    con: duckdb.DuckDBPyConnection | None = None,
    atlas: AtlasData | None = None,
    runs: int = 64,
    seed: int = 0,
    max_evaluations: int = 150,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Fit the free parameters on the training years and backtest on the holdout.

    Args:
        scenario: the scenario whose history is fitted (its years must cover the training and
            holdout years for a full report).
        overrides: merged over the scenario.
        con / atlas: the store (observations, agents, recorded money).
        runs: Monte Carlo runs per evaluation (the median path is fitted).
        seed: fixes agents, draws and shocks for every evaluation.
        max_evaluations: budget for the local search (after a screen of SCREEN_POINTS).
        progress: called with (evaluations done, budget).

    Returns:
        The fit: parameters (value, fitted or not and why, range, whether at a bound), targets
        with training and holdout comparisons, headline errors, a verdict and a message.
    """
    if runs < 1:
        raise UsageError("runs must be at least 1")
    compiled, _ = prepare(scenario, overrides, seed=seed, con=con, atlas=atlas, calibration=None)
    obs = compiled.atlas.observations
    y0 = int(compiled.inputs.years[0])
    first_fit_year = max(TRAIN_YEARS[0], y0 + 1)
    free_specs: dict[str, ParamSpec] = {n: s for n, s in compiled.all_specs().items() if s.calibrate}
    sectors = compiled.inputs.sectors

    active = []
    for t in TARGETS:
        if t.model_sector is not None and t.model_sector not in sectors:
            continue
        o = observed(obs, t, (first_fit_year, TRAIN_YEARS[1]))
        o = o[o["year"].isin([int(y) for y in compiled.inputs.years])]
        if not o.empty:
            active.append((t, o))
    informed = {p for t, _ in active for p in t.params}
    params_report: dict[str, Any] = {}
    for n, spec in free_specs.items():
        params_report[n] = {
            "value": spec.central,
            "fitted": False,
            "range": list(spec.bounds),
            "prior": spec.describe(),
            "reason": None if n in informed else "no training observations for the series it informs",
        }

    fit_years = compiled.inputs.years
    short = truncate(compiled, TRAIN_YEARS[1])
    base = _draw(short, runs, seed)
    year_idx = {int(y): i for i, y in enumerate(short.inputs.years)}
    current = {n: free_specs[n].central for n in free_specs}
    blocks: list[tuple[Target, pd.DataFrame, list[str]]] = []
    for t, o in active:
        own = [p for p in t.params if p in free_specs and not any(p in b[2] for b in blocks)]
        if own:
            blocks.append((t, o, own))
    evaluations = 0
    budget = max(1, len(blocks)) * (SCREEN_POINTS + 1 + max_evaluations)
    objective_total = 0.0

    def run_with(values: dict[str, float]) -> np.ndarray:
        names = list(values)
        out, _ = run_compiled(
            short, runs, seed, params=_with_values(base, names, np.array(list(values.values())), sectors)
        )
        return out

    for t, o, own in blocks:
        idx = [year_idx[int(y)] for y in o["year"]]
        target_values = o["value"].to_numpy()

        def objective(
            x: np.ndarray,
            t: Target = t,
            own: list[str] = own,
            idx: list[int] = idx,
            target_values: np.ndarray = target_values,
        ) -> float:
            nonlocal evaluations
            out = run_with({**current, **dict(zip(own, x, strict=True))})
            med = np.nanmedian(model_paths(out, sectors, t), axis=0)
            evaluations += 1
            if progress is not None:
                progress(min(evaluations, budget), budget)
            err = float(np.mean((med[idx] - target_values) ** 2))
            return err if np.isfinite(err) else 1e12

        lo = np.array([free_specs[n].bounds[0] for n in own])
        hi = np.array([free_specs[n].bounds[1] for n in own])
        start_x = np.array([current[n] for n in own])
        screen = qmc.Sobol(len(own), scramble=True, seed=seed).random(SCREEN_POINTS)
        candidates = [start_x, *(lo + screen * (hi - lo))]
        scores = [objective(x) for x in candidates]
        res = minimize(
            objective,
            candidates[int(np.argmin(scores))],
            method="Powell",
            bounds=list(zip(lo, hi, strict=True)),
            options={"maxfev": max_evaluations, "xtol": 1e-3, "ftol": 1e-6},
        )
        best = np.clip(res.x, lo, hi)
        objective_total += float(res.fun)
        for n, v, a, b in zip(own, best, lo, hi, strict=True):
            current[n] = float(v)
            span = b - a
            params_report[n].update(
                value=float(v),
                fitted=True,
                target=t.series,
                at_bound=bool(v <= a + 0.01 * span or v >= b - 0.01 * span),
            )
    if progress is not None:
        progress(budget, budget)
    names = [n for n in free_specs if params_report[n]["fitted"]]
    best_x = np.array([current[n] for n in names])
    best_f = objective_total if blocks else float("nan")

    # backtest with the fitted values over the whole scenario (training and holdout)
    full_params = _with_values(_draw(compiled, runs, seed), names, best_x, sectors)
    out, _ = run_compiled(compiled, runs, seed, params=full_params)
    targets = []
    for t in TARGETS:
        if t.model_sector is not None and t.model_sector not in sectors:
            continue
        n_free = len([p for p in t.params if p in names])
        targets.append(backtest_target(out, fit_years, sectors, obs, t, n_free))
    for tb in targets:
        tb["train"] = [r for r in tb["train"] if r["year"] >= first_fit_year]
        tb["n_train"] = len(tb["train"])
        tb["fit"], tb["message"] = verdict(
            tb["rmse_pp"],
            tb["naive_rmse_pp"],
            tb["n_train"],
            len([p for p in _target(tb).params if p in names]),
        )
    head = next((tb for tb in targets if tb["series"] == HEADLINE_TARGET.series), None)
    message = head["message"] if head else "no ic_self_sufficiency observations: nothing to judge the fit by"
    if not names:
        message = "no free parameter has training observations: nothing was fitted; " + message
    return {
        "created": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "scenario": compiled.scenario.name,
        "data_digest": compiled.atlas.digest,
        "store": compiled.atlas.db_path,
        "runs": runs,
        "seed": seed,
        "train_years": [first_fit_year, TRAIN_YEARS[1]],
        "holdout_years": list(HOLDOUT_YEARS),
        "parameters": params_report,
        "objective": best_f,
        "evaluations": evaluations,
        "targets": targets,
        "train_rmse_pp": head["train_rmse_pp"] if head else None,
        "holdout_rmse_pp": head["rmse_pp"] if head else None,
        "naive_rmse_pp": head["naive_rmse_pp"] if head else None,
        "fit": head["fit"] if head else "unknown",
        "message": message,
    }


def _target(tb: dict[str, Any]) -> Target:
    return next(t for t in TARGETS if t.series == tb["series"])


def _draw(compiled: Compiled, runs: int, seed: int) -> Params:
    return draw_params(compiled, runs, seed)


def save_fit(fit: dict[str, Any], path: str | Path) -> Path:
    """Write a fit as JSON, atomically (a reader sees the old file or the new one)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=str(path.parent))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({**fit, "file": str(path)}, fh, indent=2, ensure_ascii=False)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def default_fit_path(fit: dict[str, Any]) -> Path:
    """Beside the store the fit came from (``<store>.calibration.json``)."""
    if not fit.get("store"):
        raise UsageError("the fit has no store to sit beside; give an output path")
    return calibration_path_for(fit["store"])
