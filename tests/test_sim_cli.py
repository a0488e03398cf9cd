"""The policy-lab commands end to end, and smoke tests on the built-in dataset."""

from __future__ import annotations

import json

import pyarrow.parquet as pq

from statecap.model.taxonomy import load_taxonomy
from tests import simkit
from tests.conftest import run_cli

SMALL = ["--set", "agents.synthetic_private_per_sector=10", "--set", "agents.synthetic_foreign_per_sector=3"]
CONTRACT = ("self_sufficiency", "capability", "state_capital_cum", "private_capital_cum", "soe_debt_ratio")


def check_contract(r: dict, runs: int, seed: int) -> None:
    assert (r["runs"], r["seed"]) == (runs, seed)
    assert len(r["horizon"]) == 2
    assert set(r["outputs"]) == set(load_taxonomy().top_sectors)
    for outs in r["outputs"].values():
        for name in CONTRACT:
            assert set(outs[name]) == {"p5", "p50", "p95"}
    assert {"rmse_pp", "holdout_years"} <= set(r["backtest"])


def test_scenarios_lists_the_builtins():
    proc = run_cli("scenarios", "--json", check=True)
    names = {s["name"] for s in json.loads(proc.stdout)["scenarios"]}
    assert {"baseline", "controls-tighten", "big-fund-iv", "soe-reform", "open-markets"} <= names


def test_simulate_json_and_parquet_out(mini_db, tmp_path):
    proc = run_cli(
        "simulate", "soe-reform", "--runs", "8", "--seed", "3", "--db", str(mini_db), "--out", str(tmp_path / "o"),
        "--json", *SMALL, check=True,
    )  # fmt: skip
    r = json.loads(proc.stdout)
    check_contract(r, 8, 3)
    assert r["scenario"] == "soe-reform"
    table = pq.read_table(tmp_path / "o" / "runs.parquet")
    assert table.num_rows == 8 * 22 * 7


def test_compare_and_sensitivity_commands(mini_db):
    proc = run_cli(
        "compare", "baseline", "open-markets", "--runs", "6", "--db", str(mini_db), "--json", check=True
    )
    r = json.loads(proc.stdout)
    assert (r["a"], r["b"], r["runs"]) == ("baseline", "open-markets", 6)
    assert set(r["outputs"]["semiconductors"]["self_sufficiency"]) >= {"a", "b", "diff"}
    proc = run_cli(
        "sensitivity", "baseline", "--n", "4", "--sector", "quantum", "--db", str(mini_db), "--json",
        "--set", "agents.synthetic_private_per_sector=4", "--set", "horizon=[2014, 2020]", check=True,
    )  # fmt: skip
    s = json.loads(proc.stdout)
    assert s["sector"] == "quantum" and s["year"] == 2020 and "self_sufficiency" in s["indices"]


def test_calibrate_writes_the_fit_beside_the_store_and_simulate_uses_it(tmp_path):
    obs = simkit.ic_series({2016: 15.0, 2017: 15.2, 2018: 15.3, 2019: 15.7, 2020: 15.9, 2021: 16.7})
    store = simkit.store_with_observations(tmp_path, obs)
    proc = run_cli("calibrate", "--db", str(store), "--runs", "4", "--evaluations", "4", "--json", check=True)
    fit = json.loads(proc.stdout)
    assert fit["file"] == str(store.with_name("store.calibration.json"))
    assert fit["fit"] in {"good", "fair", "poor"} and fit["targets"][0]["holdout_years"] == [2020, 2021]
    assert (
        json.loads(store.with_name("store.calibration.json").read_text())["data_digest"] == fit["data_digest"]
    )
    proc = run_cli("simulate", "baseline", "--runs", "4", "--db", str(store), "--json", *SMALL, check=True)
    r = json.loads(proc.stdout)
    assert r["calibration"]["used"] is True


def test_simulate_on_the_builtin_dataset(builtin_db):
    proc = run_cli("simulate", "baseline", "--runs", "16", "--db", str(builtin_db), "--json", check=True)
    r = json.loads(proc.stdout)
    check_contract(r, 16, 0)
    assert r["agents"]["atlas"] > 0
    bt = r["backtest"]
    assert bt["fit"] in {"good", "fair", "poor", "unknown"} and isinstance(bt["message"], str)


def test_calibrate_runs_on_the_builtin_dataset(builtin_db, tmp_path):
    out = tmp_path / "fit.json"
    proc = run_cli(
        "calibrate",
        "--db",
        str(builtin_db),
        "--runs",
        "4",
        "--evaluations",
        "4",
        "--out",
        str(out),
        "--json",
        check=True,
    )
    fit = json.loads(proc.stdout)
    assert out.exists() and fit["fit"] in {"good", "fair", "poor", "unknown"}
    assert set(fit["parameters"]) >= {
        "sectors.semiconductors.knowledge_productivity",
        "sectors.semiconductors.state_capital_yield",
        "debt_repayment_rate",
    }
