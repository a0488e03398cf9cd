"""Monte Carlo over the kernel: `simulate` and `compare`, the functions the CLI and API call.

Runs are computed in chunks of CHUNK runs (each chunk one vectorised kernel call over
runs x agents). Randomness is fixed by the seed: parameters draw from one stream per parameter
(so two scenarios sharing a parameter share its draws run by run), agents from their own stream,
and each chunk's shocks from a stream keyed by the chunk's index. Same seed, same result.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from statecap.errors import UsageError
from statecap.sim.atlas import AtlasData, calibration_path_for, empty_atlas, read_atlas
from statecap.sim.backtest import HEADLINE_TARGET, TARGETS, backtest_target
from statecap.sim.compile import Compiled, compile_scenario, draw_params
from statecap.sim.model import KIND_NAMES, OUTPUTS, UNITS, Params, run_model
from statecap.sim.scenario import load_scenario

CHUNK = 250
MAX_RUNS = 100_000
HEADLINE = ("self_sufficiency", "capability", "state_capital_cum", "private_capital_cum", "soe_debt_ratio")
QUANTILES = {"p5": 5.0, "p50": 50.0, "p95": 95.0}

Progress = Callable[[int, int], None]


@dataclass
class SimulationRun:
    """Every run's yearly outputs with what produced them."""

    compiled: Compiled
    runs: int
    seed: int
    outputs: np.ndarray  # (R, T, S, O)
    params: Params
    calibration: dict[str, Any]

    @property
    def years(self) -> np.ndarray:
        return self.compiled.inputs.years

    @property
    def sectors(self) -> tuple[str, ...]:
        return self.compiled.inputs.sectors


def load_fit(db_path: str | Path | None) -> dict[str, Any] | None:
    """The calibration fit stored beside a store, or None."""
    if db_path is None:
        return None
    path = calibration_path_for(db_path)
    if not path.exists():
        return None
    try:
        fit = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return fit if isinstance(fit, dict) else None


def apply_fit(compiled: Compiled, fit: dict[str, Any] | None) -> tuple[Compiled, dict[str, Any]]:
    """Hold the scenario's calibrated parameters at their fitted values, when the fit applies."""
    info: dict[str, Any] = {"used": False, "file": None}
    atlas = compiled.atlas
    if atlas.db_path is not None:
        info["file"] = str(calibration_path_for(atlas.db_path))
    specs = compiled.all_specs()
    free = [n for n, s in specs.items() if s.calibrate]
    if fit is None:
        info["reason"] = (
            "no calibration stored for this store: run `statecap calibrate`"
            if free
            else "nothing to calibrate"
        )
        return compiled, info
    if fit.get("data_digest") != atlas.digest:
        info["reason"] = (
            "the stored calibration is for another build of the data: run `statecap calibrate` again"
        )
        return compiled, info
    fitted = {k: v["value"] for k, v in (fit.get("parameters") or {}).items() if v.get("fitted")}
    changes = {
        n: specs[n].fixed_at(fitted[n], f"calibrated by statecap calibrate ({fit.get('created', '?')})")
        for n in free
        if n in fitted
    }
    info.update(
        used=bool(changes),
        parameters={k: float(v) for k, v in fitted.items() if k in changes},
        fit=fit.get("fit"),
        holdout_rmse_pp=fit.get("holdout_rmse_pp"),
    )
    if not changes:
        info["reason"] = "the fit holds none of this scenario's calibrated parameters"
    return compiled.with_specs(changes), info


def prepare(
    scenario: str | Path | dict[str, Any],
    overrides: dict[str, Any] | None = None,
    *,
    seed: int = 0,
    con: duckdb.DuckDBPyConnection | None = None,
    atlas: AtlasData | None = None,
    calibration: str | dict[str, Any] | None = "auto",
) -> tuple[Compiled, dict[str, Any]]:
    """Load, validate and compile a scenario; apply the stored calibration fit (``"auto"``).

    Args:
        scenario: a built-in name, a YAML path, or a mapping.
        overrides: key paths and values merged over the scenario (see `load_scenario`).
        seed: seeds the synthetic agents.
        con: an open store to seed agents and money from (or pass `atlas`); neither means
            synthetic agents only.
        atlas: the store's data, already read (saves re-reading for several scenarios).
        calibration: ``"auto"`` (the fit stored beside the store, if it matches its data),
            a fit dict, or None (priors only).
    """
    spec = load_scenario(scenario, overrides)
    if atlas is None:
        atlas = read_atlas(con, spec.horizon[0]) if con is not None else empty_atlas()
    compiled = compile_scenario(spec, atlas, seed)
    fit = load_fit(atlas.db_path) if calibration == "auto" else calibration
    if fit is not None and not isinstance(fit, dict):
        raise UsageError("calibration must be 'auto', a fit mapping, or None")
    return apply_fit(compiled, fit)


def _check_runs(runs: int, seed: int) -> None:
    if not 1 <= runs <= MAX_RUNS:
        raise UsageError(f"runs must be from 1 to {MAX_RUNS}, not {runs}")
    if seed < 0:
        raise UsageError(f"seed must be 0 or more, not {seed}")


def run_compiled(
    compiled: Compiled,
    runs: int,
    seed: int,
    *,
    progress: Progress | None = None,
    params: Params | None = None,
    common_random_numbers: bool = False,
) -> tuple[np.ndarray, Params]:
    """All runs of a compiled scenario in chunks: outputs (R, T, S, O) and the parameters used."""
    _check_runs(runs, seed)
    if params is None:
        params = draw_params(compiled, runs, seed)
    parts = []
    done = 0
    for k, start in enumerate(range(0, runs, CHUNK)):
        stop = min(runs, start + CHUNK)
        chunk = Params(
            values={n: v[start:stop] for n, v in params.values.items()},
            sector_values={n: v[start:stop] for n, v in params.sector_values.items()},
        )
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(3, k)))
        parts.append(
            run_model(compiled.inputs, chunk, rng, common_random_numbers=common_random_numbers).outputs
        )
        done = stop
        if progress is not None:
            progress(done, runs)
    return np.concatenate(parts, axis=0), params


def run_simulation(
    scenario: str | Path | dict[str, Any],
    overrides: dict[str, Any] | None = None,
    runs: int = 1000,
    seed: int = 0,
    *,
    con: duckdb.DuckDBPyConnection | None = None,
    atlas: AtlasData | None = None,
    calibration: str | dict[str, Any] | None = "auto",
    progress: Progress | None = None,
) -> SimulationRun:
    """Every run of a scenario, kept whole (for Parquet output or further analysis)."""
    _check_runs(runs, seed)
    compiled, cal = prepare(scenario, overrides, seed=seed, con=con, atlas=atlas, calibration=calibration)
    outputs, params = run_compiled(compiled, runs, seed, progress=progress)
    return SimulationRun(compiled, runs, seed, outputs, params, cal)


def _quantiles(x: np.ndarray, axis: int = 0) -> dict[str, Any]:
    with np.errstate(all="ignore"):
        if np.all(np.isnan(x)):
            return {k: None for k in QUANTILES}
        qs = np.nanpercentile(x, list(QUANTILES.values()), axis=axis)
    return {
        k: (float(q) if np.ndim(q) == 0 else [float(v) for v in q])
        for k, q in zip(QUANTILES, qs, strict=True)
    }


def backtest(run: SimulationRun) -> dict[str, Any]:
    """The headline backtest (semiconductor self-sufficiency) plus every other target's."""
    obs = run.compiled.atlas.observations
    per = [
        backtest_target(run.outputs, run.years, run.sectors, obs, t)
        for t in TARGETS
        if t.model_sector is None or t.model_sector in run.sectors
    ]
    head = next((b for b in per if b["series"] == HEADLINE_TARGET.series), None)
    out: dict[str, Any] = {
        "series": HEADLINE_TARGET.series,
        "rmse_pp": head["rmse_pp"] if head else None,
        "holdout_years": head["holdout_years"] if head else [],
        "train_rmse_pp": head["train_rmse_pp"] if head else None,
        "naive_rmse_pp": head["naive_rmse_pp"] if head else None,
        "fit": head["fit"] if head else "unknown",
        "message": head["message"] if head else "no observations",
        "targets": per,
    }
    return out


def agent_counts(compiled: Compiled) -> dict[str, Any]:
    ag = compiled.inputs.agents
    by_sector: dict[str, dict[str, int]] = {}
    for j, s in enumerate(compiled.inputs.sectors):
        here = ag.sector == j
        by_sector[s] = {
            f"{KIND_NAMES[k]}_{origin}": int(((ag.kind == k) & (ag.origin == origin) & here).sum())
            for k in KIND_NAMES
            for origin in ("atlas", "synthetic")
        }
        by_sector[s]["state_controlled"] = int((here & (ag.kind == 0) & (ag.state_share >= 0.5)).sum())
    return {
        "total": len(ag),
        "atlas": int((ag.origin == "atlas").sum()),
        "synthetic": int((ag.origin == "synthetic").sum()),
        "by_sector": by_sector,
        "state_share_source": compiled.atlas.state_share_source,
    }


def summarize(run: SimulationRun, series: bool = True) -> dict[str, Any]:
    """The result dict (the `simulate --json` contract plus explanations)."""
    comp = run.compiled
    years = [int(y) for y in run.years]
    last = run.outputs[:, -1]
    outputs = {
        s: {o: _quantiles(last[:, j, k]) for k, o in enumerate(OUTPUTS)} for j, s in enumerate(run.sectors)
    }
    result: dict[str, Any] = {
        "scenario": comp.scenario.name,
        "runs": run.runs,
        "seed": run.seed,
        "horizon": [years[0], years[-1]],
        "outputs": outputs,
        "backtest": backtest(run),
        "units": dict(UNITS),
        "description": comp.scenario.description,
        "scenario_file": comp.scenario.file,
        "calibration": run.calibration,
        "parameters": {n: s.describe() for n, s in sorted(comp.all_specs().items())},
        "agents": agent_counts(comp),
        "levers": lever_summary(comp),
        "data_digest": comp.atlas.digest,
        "notes": list(comp.notes),
    }
    if series:
        result["years"] = years
        result["series"] = {
            s: {o: _quantiles(run.outputs[:, :, j, k]) for k, o in enumerate(OUTPUTS)}
            for j, s in enumerate(run.sectors)
        }
    return result


def lever_summary(compiled: Compiled) -> dict[str, Any]:
    """State money over the horizon by origin, mechanism and sector (CNY bn)."""
    ms = compiled.money_sources
    by_origin = ms.groupby("origin")["total_cny_bn"].sum().round(3).to_dict() if len(ms) else {}
    by_mech = ms.groupby("mechanism")["total_cny_bn"].sum().round(3).to_dict() if len(ms) else {}
    by_sector = ms.groupby("sector")["total_cny_bn"].sum().round(3).to_dict() if len(ms) else {}
    return {
        "total_cny_bn": float(ms["total_cny_bn"].sum()) if len(ms) else 0.0,
        "by_origin": {str(k): float(v) for k, v in by_origin.items()},
        "by_mechanism": {str(k): float(v) for k, v in by_mech.items()},
        "by_sector": {str(k): float(v) for k, v in by_sector.items()},
    }


def simulate(
    scenario: str | Path | dict[str, Any],
    overrides: dict[str, Any] | None = None,
    runs: int = 1000,
    seed: int = 0,
    *,
    con: duckdb.DuckDBPyConnection | None = None,
    atlas: AtlasData | None = None,
    calibration: str | dict[str, Any] | None = "auto",
    progress: Progress | None = None,
    series: bool = True,
) -> dict[str, Any]:
    """Run a scenario's Monte Carlo and summarise it.

    Args:
        scenario: a built-in name (``baseline``), a YAML path, or a mapping.
        overrides: key paths and values merged over the scenario, e.g.
            ``{"parameters.soe_efficiency_discount": 0.1}``.
        runs: Monte Carlo runs.
        seed: the seed; the same seed gives the same result.
        con: an open store (agents, recorded money, observations); None for synthetic only.
        atlas: the store's data already read (instead of `con`).
        calibration: ``"auto"``, a fit mapping, or None (see `prepare`).
        progress: called with (runs done, runs) after each chunk.
        series: include yearly p5/p50/p95 bands (``series`` and ``years`` keys).

    Returns:
        ``{"scenario", "runs", "seed", "horizon", "outputs": {SECTOR: {OUTPUT: {"p5", "p50",
        "p95"}}}, "backtest": {"rmse_pp", "holdout_years", ...}, ...}`` with the outputs of the
        horizon's last year.
    """
    run = run_simulation(
        scenario, overrides, runs, seed, con=con, atlas=atlas, calibration=calibration, progress=progress
    )
    return summarize(run, series=series)


def compare(
    a: str | Path | dict[str, Any],
    b: str | Path | dict[str, Any],
    runs: int = 1000,
    seed: int = 0,
    *,
    overrides_a: dict[str, Any] | None = None,
    overrides_b: dict[str, Any] | None = None,
    con: duckdb.DuckDBPyConnection | None = None,
    atlas: AtlasData | None = None,
    calibration: str | dict[str, Any] | None = "auto",
    progress: Progress | None = None,
) -> dict[str, Any]:
    """B minus A, run by run, with uncertainty bands.

    Both scenarios run with the same seed: parameters they share take the same draws run by run
    and the shocks are the same, so the differences show what the scenarios change, not noise.

    Returns:
        ``{"a", "b", "runs", "seed", "horizon", "outputs": {SECTOR: {OUTPUT: {"a": {p5, p50,
        p95}, "b": {...}, "diff": {...}, "share_b_higher": x}}}}`` for the horizon's last year.
    """
    _check_runs(runs, seed)
    comp_a, cal_a = prepare(a, overrides_a, seed=seed, con=con, atlas=atlas, calibration=calibration)
    comp_b, cal_b = prepare(b, overrides_b, seed=seed, con=con, atlas=comp_a.atlas, calibration=calibration)
    if comp_a.inputs.sectors != comp_b.inputs.sectors:
        raise UsageError("the two scenarios model different sectors")
    if not np.array_equal(comp_a.inputs.years, comp_b.inputs.years):
        raise UsageError(
            f"the two scenarios have different horizons ({comp_a.scenario.horizon} and "
            f"{comp_b.scenario.horizon}); compare needs the same years"
        )

    def step(offset: int) -> Progress | None:
        if progress is None:
            return None
        return lambda done, total: progress(offset + done, 2 * runs)

    out_a, _ = run_compiled(comp_a, runs, seed, progress=step(0))
    out_b, _ = run_compiled(comp_b, runs, seed, progress=step(runs))
    last_a, last_b = out_a[:, -1], out_b[:, -1]
    outputs: dict[str, Any] = {}
    for j, s in enumerate(comp_a.inputs.sectors):
        outputs[s] = {}
        for k, o in enumerate(OUTPUTS):
            xa, xb = last_a[:, j, k], last_b[:, j, k]
            diff = xb - xa
            ok = ~np.isnan(diff)
            outputs[s][o] = {
                "a": _quantiles(xa),
                "b": _quantiles(xb),
                "diff": _quantiles(diff),
                "share_b_higher": float(np.mean(diff[ok] > 0)) if ok.any() else None,
            }
    years = comp_a.inputs.years
    return {
        "a": comp_a.scenario.name,
        "b": comp_b.scenario.name,
        "runs": runs,
        "seed": seed,
        "horizon": [int(years[0]), int(years[-1])],
        "outputs": outputs,
        "units": dict(UNITS),
        "calibration": {"a": cal_a, "b": cal_b},
    }
