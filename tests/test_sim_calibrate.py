"""Calibration on fixture stores whose observations are known: recovery, verdicts, storage."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pytest

from statecap.sim import calibrate, save_fit, simulate
from statecap.sim.atlas import calibration_path_for
from statecap.sim.backtest import HEADLINE_TARGET, model_paths
from statecap.sim.montecarlo import prepare, run_compiled
from tests import simkit

TRUE_DELTA = 0.9
FIXED = {
    "agents.synthetic_private_per_sector": 8,
    "agents.synthetic_foreign_per_sector": 3,
    "observations": False,  # initial conditions from the scenario, not from the series
    "horizon": [2014, 2022],
    "sectors.semiconductors.control_demand_shift": 0.05,
    "sectors.semiconductors.state_capital_yield": 0.3,
}
RUNS, SEED = 16, 4
KP = "sectors.semiconductors.knowledge_productivity"


def generated_series(store) -> dict[int, float]:
    """The median semiconductor self-sufficiency path at a known knowledge productivity."""
    with duckdb.connect(str(store), read_only=True) as con:
        comp, _ = prepare(
            "baseline",
            {**FIXED, "sectors.semiconductors.knowledge_productivity": TRUE_DELTA},
            seed=SEED,
            con=con,
            calibration=None,
        )
    out, _ = run_compiled(comp, RUNS, SEED)
    path = np.median(model_paths(out, comp.inputs.sectors, HEADLINE_TARGET), axis=0)
    return {int(y): float(v) for y, v in zip(comp.inputs.years, path, strict=True) if y >= 2015}


@pytest.fixture(scope="module")
def recovered(tmp_path_factory):
    plain = simkit.store_with_observations(tmp_path_factory.mktemp("plain"), [])
    series = generated_series(plain)
    store = simkit.store_with_observations(tmp_path_factory.mktemp("obs"), simkit.ic_series(series))
    with duckdb.connect(str(store), read_only=True) as con:
        fit = calibrate("baseline", FIXED, con=con, runs=RUNS, seed=SEED, max_evaluations=60)
    return store, series, fit


def test_a_known_parameter_is_recovered_and_the_holdout_is_met(recovered):
    _, _, fit = recovered
    p = fit["parameters"][KP]
    assert p["fitted"] and p["value"] == pytest.approx(TRUE_DELTA, abs=0.03)
    assert fit["train_years"] == [2015, 2019] and fit["holdout_years"] == [2020, 2022]
    head = fit["targets"][0]
    assert head["series"] == "ic_self_sufficiency" and head["n_train"] == 5
    assert [r["year"] for r in head["holdout"]] == [2020, 2021, 2022]
    assert fit["holdout_rmse_pp"] < 0.05
    assert fit["fit"] == "good"


def test_parameters_without_observations_keep_their_priors_and_say_why(recovered):
    _, _, fit = recovered
    debt = fit["parameters"]["debt_repayment_rate"]
    assert not debt["fitted"] and "no training observations" in debt["reason"]
    assert debt["value"] == pytest.approx(0.215)  # the median of its uniform(0.03, 0.4) prior


def test_the_stored_fit_is_used_by_simulate_only_for_its_own_data(recovered, tmp_path):
    store, _, fit = recovered
    path = save_fit(fit, calibration_path_for(store))
    assert path == store.with_name("store.calibration.json")
    assert json.loads(path.read_text())["parameters"][KP]["fitted"]
    overrides = {k: v for k, v in FIXED.items() if not k.startswith("sectors.")}
    with duckdb.connect(str(store), read_only=True) as con:
        r = simulate("baseline", overrides, runs=4, seed=1, con=con)
    assert r["calibration"]["used"] is True
    used = r["parameters"][KP]
    assert used["dist"] == "fixed" and used["value"] == pytest.approx(fit["parameters"][KP]["value"])
    assert (
        r["parameters"]["sectors.semiconductors.control_demand_shift"]["dist"] == "uniform"
    )  # not in the fit: its prior
    stale = dict(fit, data_digest="another build")
    save_fit(stale, calibration_path_for(store))
    with duckdb.connect(str(store), read_only=True) as con:
        r = simulate("baseline", overrides, runs=4, seed=1, con=con)
    assert r["calibration"]["used"] is False and "another build" in r["calibration"]["reason"]
    assert r["parameters"][KP]["dist"] == "uniform"


def test_a_fit_that_misses_the_holdout_is_called_poor(tmp_path):
    flat = {y: 15.2 for y in range(2015, 2020)} | {2020: 30.0, 2021: 45.0, 2022: 60.0}
    store = simkit.store_with_observations(tmp_path, simkit.ic_series(flat))
    with duckdb.connect(str(store), read_only=True) as con:
        fit = calibrate("baseline", FIXED, con=con, runs=8, seed=1, max_evaluations=20)
    assert fit["fit"] == "poor"
    assert "poor" in fit["message"] and fit["holdout_rmse_pp"] > 3.0


def test_too_few_training_points_are_called_underdetermined(tmp_path):
    store = simkit.store_with_observations(tmp_path, simkit.ic_series({2019: 15.7, 2020: 15.9}))
    with duckdb.connect(str(store), read_only=True) as con:
        fit = calibrate(
            "baseline",
            {k: v for k, v in FIXED.items() if not k.startswith("sectors.")},
            con=con,
            runs=4,
            seed=1,
            max_evaluations=10,
        )
    assert "underdetermined" in fit["message"]
    assert fit["fit"] in {"fair", "poor"}


def test_without_observations_nothing_is_fitted(mini_db):
    with duckdb.connect(str(mini_db), read_only=True) as con:
        fit = calibrate("baseline", FIXED, con=con, runs=4, seed=1, max_evaluations=5)
    assert fit["fit"] == "unknown" and fit["evaluations"] == 0
    assert fit["parameters"]["sectors.ai.knowledge_productivity"]["reason"] == (
        "no training observations for the series it informs"
    )
    assert not any(p["fitted"] for p in fit["parameters"].values())
    assert "nothing was fitted" in fit["message"]
