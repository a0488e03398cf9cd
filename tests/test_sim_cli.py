"""The policy-lab commands end to end, and smoke tests on the built-in dataset.

Most commands run in-process through Typer's test runner (the same app object the `statecap`
entry point runs); one test runs the real entry point in a subprocess, and the error paths
(exit codes) are tested that way in test_sim_scenario.py.
"""

from __future__ import annotations

import json

import pyarrow.parquet as pq
from typer.testing import CliRunner

from statecap.cli import app
from statecap.model.taxonomy import load_taxonomy
from tests import simkit
from tests.conftest import run_cli

SMALL = ["--set", "agents.synthetic_private_per_sector=10", "--set", "agents.synthetic_foreign_per_sector=3"]
CONTRACT = ("self_sufficiency", "capability", "state_capital_cum", "private_capital_cum", "soe_debt_ratio")


def invoke(*args: str) -> dict:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def check_contract(r: dict, runs: int, seed: int) -> None:
    assert (r["runs"], r["seed"]) == (runs, seed)
    assert len(r["horizon"]) == 2
    assert set(r["outputs"]) == set(load_taxonomy().top_sectors)
    for outs in r["outputs"].values():
        for name in CONTRACT:
            assert set(outs[name]) == {"p5", "p50", "p95"}
    assert {"rmse_pp", "holdout_years"} <= set(r["backtest"])


def test_the_entry_point_lists_scenarios_and_simulates(mini_db):
    proc = run_cli("scenarios", "--json", check=True)
    names = {s["name"] for s in json.loads(proc.stdout)["scenarios"]}
    assert {"baseline", "controls-tighten", "big-fund-iv", "soe-reform", "open-markets"} <= names
    proc = run_cli("simulate", "baseline", "--runs", "3", "--db", str(mini_db), "--json", *SMALL, check=True)
    check_contract(json.loads(proc.stdout), 3, 0)


def test_simulate_json_and_parquet_out(mini_db, tmp_path):
    r = invoke(
        "simulate", "soe-reform", "--runs", "8", "--seed", "3", "--db", str(mini_db), "--out", str(tmp_path / "o"),
        "--json", *SMALL,
    )  # fmt: skip
    check_contract(r, 8, 3)
    assert r["scenario"] == "soe-reform"
    assert pq.read_table(tmp_path / "o" / "runs.parquet").num_rows == 8 * 22 * 7


def test_compare_and_sensitivity_commands(mini_db):
    small = "agents.synthetic_private_per_sector=10"
    r = invoke(
        "compare", "baseline", "open-markets", "--runs", "6", "--db", str(mini_db), "--json",
        "--set-a", small, "--set-b", small,
    )  # fmt: skip
    assert (r["a"], r["b"], r["runs"]) == ("baseline", "open-markets", 6)
    assert set(r["outputs"]["semiconductors"]["self_sufficiency"]) >= {"a", "b", "diff"}
    s = invoke(
        "sensitivity", "baseline", "--n", "4", "--sector", "quantum", "--db", str(mini_db), "--json",
        "--set", "agents.synthetic_private_per_sector=4", "--set", "horizon=[2014, 2020]",
    )  # fmt: skip
    assert s["sector"] == "quantum" and s["year"] == 2020 and "self_sufficiency" in s["indices"]


def test_calibrate_writes_the_fit_beside_the_store_and_simulate_uses_it(tmp_path):
    obs = simkit.ic_series({2016: 15.0, 2017: 15.2, 2018: 15.3, 2019: 15.7, 2020: 15.9, 2021: 16.7})
    store = simkit.store_with_observations(tmp_path, obs)
    fit = invoke("calibrate", "--db", str(store), "--runs", "4", "--evaluations", "4", "--json", *SMALL)
    assert fit["file"] == str(store.with_name("store.calibration.json"))
    assert fit["fit"] in {"good", "fair", "poor"} and fit["targets"][0]["holdout_years"] == [2020, 2021]
    assert (
        json.loads(store.with_name("store.calibration.json").read_text())["data_digest"] == fit["data_digest"]
    )
    r = invoke("simulate", "baseline", "--runs", "4", "--db", str(store), "--json", *SMALL)
    assert r["calibration"]["used"] is True


def test_simulate_on_the_builtin_dataset(builtin_db):
    r = invoke("simulate", "baseline", "--runs", "16", "--db", str(builtin_db), "--json")
    check_contract(r, 16, 0)
    assert r["agents"]["atlas"] > 0
    bt = r["backtest"]
    assert bt["fit"] in {"good", "fair", "poor", "unknown"} and isinstance(bt["message"], str)


def test_calibrate_runs_on_the_builtin_dataset(builtin_db, tmp_path):
    out = tmp_path / "fit.json"
    fit = invoke(
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
        *SMALL,
    )
    assert out.exists() and fit["fit"] in {"good", "fair", "poor", "unknown"}
    assert set(fit["parameters"]) >= {
        "sectors.semiconductors.knowledge_productivity",
        "sectors.semiconductors.state_capital_yield",
        "debt_repayment_rate",
    }
