"""Sobol sensitivity of the headline outputs to the uncertain parameters (SALib).

SALib draws a Saltelli/Sobol design on the unit hypercube; each column is mapped through the
parameter's own quantile function (so the design follows the scenario's distributions exactly),
and every row is one model run. All rows share one set of shocks (common random numbers), so
the indices measure the parameters' effect, not the noise. First-order (S1) and total (ST)
indices come with bootstrap confidence intervals.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from statecap.errors import UsageError
from statecap.sim.atlas import AtlasData
from statecap.sim.compile import params_from_matrix
from statecap.sim.model import OUTPUTS, Params, run_model
from statecap.sim.montecarlo import CHUNK, Progress, prepare

SMALL_N_BASE = 32  # below this the bootstrap intervals are too wide to read
SOBOL_OUTPUTS = (
    "self_sufficiency",
    "capability",
    "soe_debt_ratio",
    "return_on_state_capital",
    "private_capital_cum",
    "blocked_deals_cum",
)


def _salib() -> tuple[Any, Any]:
    try:
        from SALib.analyze import sobol as sobol_analyze
        from SALib.sample import sobol as sobol_sample
    except ImportError:  # SALib is the `sim` extra
        raise UsageError("sensitivity analysis needs SALib: pip install 'statecap[sim]'") from None
    return sobol_sample, sobol_analyze


def sobol_indices(
    func: Callable[[np.ndarray], np.ndarray],
    names: list[str],
    n_base: int,
    seed: int = 0,
    conf_level: float = 0.95,
    num_resamples: int = 200,
    ppf: Callable[[np.ndarray], np.ndarray] | None = None,
) -> list[dict[str, dict[str, float | None]]]:
    """Sobol first-order and total indices of each column of ``func(X)``.

    Args:
        func: maps an (n, d) design to (n,) or (n, k) outputs.
        names: the d input names.
        n_base: base sample size N (a power of two); func sees N * (d + 2) rows.
        seed: seeds the design and the bootstrap.
        conf_level: confidence level of the intervals.
        num_resamples: bootstrap resamples.
        ppf: maps the unit-hypercube design to the inputs (identity when None).

    Returns:
        One dict per output column: ``{name: {"S1", "S1_conf", "ST", "ST_conf"}}``; None when
        the output does not vary.
    """
    sobol_sample, sobol_analyze = _salib()
    if n_base < 2 or n_base & (n_base - 1):
        raise UsageError(f"the Sobol base sample size must be a power of two, not {n_base}")
    problem = {"num_vars": len(names), "names": list(names), "bounds": [[0.0, 1.0]] * len(names)}
    unit = sobol_sample.sample(problem, n_base, calc_second_order=False, scramble=True, seed=seed)
    design = ppf(unit) if ppf is not None else unit
    y = np.asarray(func(design), dtype=float)
    if y.ndim == 1:
        y = y[:, None]
    results: list[dict[str, dict[str, float | None]]] = []
    for k in range(y.shape[1]):
        col = y[:, k]
        if not np.all(np.isfinite(col)) or np.nanstd(col) <= 1e-12 * max(1.0, float(np.nanmean(np.abs(col)))):
            empty: dict[str, float | None] = {"S1": None, "S1_conf": None, "ST": None, "ST_conf": None}
            results.append({n: dict(empty) for n in names})
            continue
        res = sobol_analyze.analyze(
            problem,
            col,
            calc_second_order=False,
            num_resamples=num_resamples,
            conf_level=conf_level,
            print_to_console=False,
            seed=seed,
        )
        results.append(
            {
                n: {
                    "S1": float(res["S1"][i]),
                    "S1_conf": float(res["S1_conf"][i]),
                    "ST": float(res["ST"][i]),
                    "ST_conf": float(res["ST_conf"][i]),
                }
                for i, n in enumerate(names)
            }
        )
    return results


def sensitivity(
    scenario: str | Path | dict[str, Any],
    overrides: dict[str, Any] | None = None,
    *,
    con: duckdb.DuckDBPyConnection | None = None,
    atlas: AtlasData | None = None,
    n_base: int = 64,
    seed: int = 0,
    sector: str = "semiconductors",
    year: int | None = None,
    outputs: tuple[str, ...] = SOBOL_OUTPUTS,
    calibration: str | dict[str, Any] | None = "auto",
    conf_level: float = 0.95,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Sobol indices of a sector's headline outputs to every uncertain parameter.

    The uncertain parameters are the scenario's global parameters with a distribution and the
    chosen sector's sector parameters with a distribution (calibrated ones are fixed at their
    fit when a fit applies); every other parameter is held at its median.

    Returns:
        ``{"scenario", "sector", "year", "n_base", "evaluations", "seed", "conf_level",
        "parameters", "indices": {OUTPUT: {PARAM: {"S1", "S1_conf", "ST", "ST_conf"}}},
        "ranking": {OUTPUT: [PARAM, ...] by ST}}``.
    """
    compiled, cal = prepare(scenario, overrides, seed=seed, con=con, atlas=atlas, calibration=calibration)
    sectors = compiled.inputs.sectors
    if sector not in sectors:
        raise UsageError(f"unknown sector {sector!r}; use one of {', '.join(sectors)}")
    years = [int(y) for y in compiled.inputs.years]
    year = years[-1] if year is None else year
    if year not in years:
        raise UsageError(f"year {year} is outside the horizon {years[0]}-{years[-1]}")
    for o in outputs:
        if o not in OUTPUTS:
            raise UsageError(f"unknown output {o!r}; use one of {', '.join(OUTPUTS)}")
    specs = {
        n: s
        for n, s in compiled.all_specs().items()
        if s.is_random and (not n.startswith("sectors.") or n.startswith(f"sectors.{sector}."))
    }
    names = sorted(specs)
    if not names:
        raise UsageError("the scenario has no uncertain parameters to analyse")
    t_idx, s_idx = years.index(year), sectors.index(sector)
    o_idx = [OUTPUTS.index(o) for o in outputs]
    total_rows = n_base * (len(names) + 2)

    def ppf(unit: np.ndarray) -> np.ndarray:
        return np.column_stack([specs[n].ppf(unit[:, j]) for j, n in enumerate(names)])

    def evaluate(design: np.ndarray) -> np.ndarray:
        res = np.empty((design.shape[0], len(o_idx)))
        for start in range(0, design.shape[0], CHUNK):
            stop = min(design.shape[0], start + CHUNK)
            params: Params = params_from_matrix(compiled, names, design[start:stop])
            rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(4,)))
            out = run_model(compiled.inputs, params, rng, common_random_numbers=True).outputs
            res[start:stop] = out[:, t_idx, s_idx][:, o_idx]
            if progress is not None:
                progress(stop, design.shape[0])
        return res

    per_output = sobol_indices(evaluate, names, n_base, seed=seed, conf_level=conf_level, ppf=ppf)
    indices = dict(zip(outputs, per_output, strict=True))
    ranking = {
        o: [n for n, v in sorted(ix.items(), key=lambda kv: -(kv[1]["ST"] or 0.0)) if v["ST"] is not None]
        for o, ix in indices.items()
    }
    return {
        "scenario": compiled.scenario.name,
        "sector": sector,
        "year": year,
        "n_base": n_base,
        "evaluations": total_rows,
        "seed": seed,
        "conf_level": conf_level,
        "parameters": {n: specs[n].describe() for n in names},
        "indices": indices,
        "ranking": ranking,
        "calibration": cal,
        "note": (
            "S1: share of the output's variance due to the parameter alone; ST: including its "
            "interactions. Outputs that do not vary have null indices."
        ),
        "warning": (
            f"a base sample of {n_base} is too small for stable indices (wide intervals); use 64 or more"
            if n_base < SMALL_N_BASE
            else None
        ),
    }
