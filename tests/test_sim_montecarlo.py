"""Monte Carlo: the simulate contract, determinism, compare, Parquet output, backtest."""

from __future__ import annotations

import math

import duckdb
import numpy as np
import pyarrow.parquet as pq
import pytest

from statecap.errors import UsageError
from statecap.model.taxonomy import load_taxonomy
from statecap.sim import compare, run_simulation, simulate, summarize
from statecap.sim.model import OUTPUTS
from statecap.sim.results import write_runs
from tests import simkit

SMALL = {"agents.synthetic_private_per_sector": 12, "agents.synthetic_foreign_per_sector": 3}
CONTRACT = ("self_sufficiency", "capability", "state_capital_cum", "private_capital_cum", "soe_debt_ratio")


def test_simulate_honours_the_json_contract_for_every_sector():
    r = simulate("baseline", SMALL, runs=30, seed=2)
    assert {"scenario", "runs", "seed", "horizon", "outputs", "backtest"} <= set(r)
    assert (r["scenario"], r["runs"], r["seed"], r["horizon"]) == ("baseline", 30, 2, [2014, 2035])
    assert set(r["outputs"]) == set(load_taxonomy().top_sectors)
    for sector, outs in r["outputs"].items():
        for name in CONTRACT:
            q = outs[name]
            assert set(q) == {"p5", "p50", "p95"}, (sector, name)
            assert q["p5"] <= q["p50"] <= q["p95"], (sector, name)
    assert {"rmse_pp", "holdout_years"} <= set(r["backtest"])
    assert (
        r["backtest"]["rmse_pp"] is None and r["backtest"]["holdout_years"] == []
    )  # no store, no observations
    assert len(r["series"]["ai"]["capability"]["p50"]) == len(r["years"]) == 22


def test_same_seed_same_result_other_seed_other_result():
    a = simulate("baseline", SMALL, runs=20, seed=7, series=False)
    b = simulate("baseline", SMALL, runs=20, seed=7, series=False)
    c = simulate("baseline", SMALL, runs=20, seed=8, series=False)
    assert a["outputs"] == b["outputs"]
    assert a["outputs"] != c["outputs"]


def test_runs_are_checked():
    with pytest.raises(UsageError, match="runs must be"):
        simulate("baseline", SMALL, runs=0)


def test_atlas_firms_and_recorded_money_enter_the_run(mini_db):
    with duckdb.connect(str(mini_db), read_only=True) as con:
        r = simulate("baseline", SMALL, runs=5, seed=1, con=con)
    assert r["agents"]["atlas"] >= 3  # chipco, chipdesign, aico
    assert r["levers"]["by_origin"]["atlas"] == pytest.approx(0.35)  # 0.2 + 0.1 + 0.05 bn, 2015-2018


def test_comparing_a_scenario_with_itself_gives_zero():
    r = compare("baseline", "baseline", runs=12, seed=3, overrides_a=SMALL, overrides_b=SMALL)
    for outs in r["outputs"].values():
        for name in CONTRACT:
            assert outs[name]["diff"] == {"p5": 0.0, "p50": 0.0, "p95": 0.0}


def test_a_further_fund_phase_adds_exactly_its_money():
    no_ma = {**SMALL, "levers.state_capital.ic-overseas-ma": None}  # acquisitions spend by chance
    r = compare("baseline", "big-fund-iv", runs=12, seed=3, overrides_a=no_ma, overrides_b=no_ma)
    semis = r["outputs"]["semiconductors"]["state_capital_cum"]["diff"]
    assert semis["p5"] == pytest.approx(400.0) and semis["p95"] == pytest.approx(400.0)
    assert r["outputs"]["ai"]["state_capital_cum"]["diff"]["p50"] == 0.0


def test_out_writes_every_run_as_parquet(tmp_path):
    run = run_simulation("baseline", {**SMALL, "horizon": [2014, 2020]}, runs=9, seed=1)
    files = write_runs(run, tmp_path / "out", summarize(run))
    assert sorted(f.name for f in files) == [
        "parameters.parquet",
        "runs.parquet",
        "scenario.yaml",
        "summary.json",
    ]
    runs = pq.read_table(tmp_path / "out" / "runs.parquet").to_pandas()
    assert len(runs) == 9 * 7 * 7
    assert list(runs.columns[:3]) == ["run", "year", "sector"] and set(OUTPUTS) <= set(runs.columns)
    row = runs[(runs.run == 4) & (runs.year == 2020) & (runs.sector == "ai")].iloc[0]
    k = run.sectors.index("ai")
    assert row["capability"] == run.outputs[4, -1, k, OUTPUTS.index("capability")]
    params = pq.read_table(tmp_path / "out" / "parameters.parquet").to_pandas()
    assert len(params) == 9 and "sectors.ai.market_growth" in params.columns


def test_backtest_is_reported_against_the_stores_holdout_observations(tmp_path):
    obs = simkit.ic_series({2016: 15.0, 2018: 15.5, 2019: 15.7, 2020: 16.0, 2021: 16.9, 2022: 18.2})
    store = simkit.store_with_observations(tmp_path, obs)
    with duckdb.connect(str(store), read_only=True) as con:
        r = simulate("baseline", SMALL, runs=16, seed=5, con=con, calibration=None)
    bt = r["backtest"]
    assert bt["holdout_years"] == [2020, 2021, 2022]
    p50 = dict(zip(r["years"], r["series"]["semiconductors"]["self_sufficiency"]["p50"], strict=True))
    held = {2020: 16.0, 2021: 16.9, 2022: 18.2}
    expected = math.sqrt(np.mean([(p50[y] - v) ** 2 for y, v in held.items()]))
    assert bt["rmse_pp"] == pytest.approx(expected)
    naive = math.sqrt(np.mean([(15.7 - v) ** 2 for v in held.values()]))
    assert bt["naive_rmse_pp"] == pytest.approx(naive)
    assert bt["fit"] in {"good", "fair", "poor"} and bt["message"]
    # the first year starts from the observations (nearest 2016 stands for 2014)
    assert r["series"]["semiconductors"]["self_sufficiency"]["p50"][0] == pytest.approx(15.0)
