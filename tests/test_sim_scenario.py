"""Scenario files: built-ins, inheritance, overrides, and errors that name file, line and key."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from statecap.errors import DataError
from statecap.model.taxonomy import load_taxonomy
from statecap.sim.compile import interpolate
from statecap.sim.model import GLOBAL_PARAMS, SECTOR_PARAMS
from statecap.sim.scenario import OVERRIDES, builtin_scenarios, deep_merge, expand_dotted, load_scenario
from tests.conftest import run_cli

REQUIRED = {"baseline", "controls-tighten", "big-fund-iv", "soe-reform", "open-markets"}


def write(tmp_path, text: str, name: str = "s.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def problems(exc: pytest.ExceptionInfo[DataError]) -> list[tuple[str, int | None, str | None, str]]:
    return [(p.file, p.line, p.field, p.reason) for p in exc.value.problems]


def test_the_builtin_scenarios_exist_and_validate():
    names = {s["name"] for s in builtin_scenarios()}
    assert names >= REQUIRED
    sectors = set(load_taxonomy().top_sectors)
    for name in names:
        sc = load_scenario(name)
        assert sc.name == name
        for spec in sc.all_params().values():
            assert spec.source or spec.prior, f"{name}: {spec.name} has neither source nor prior"
        assert set(sc.params) == set(GLOBAL_PARAMS)
        for fld in SECTOR_PARAMS:
            assert set(sc.sector_params[fld]) == sectors


def test_children_change_what_they_say_and_nothing_else():
    base, tight = load_scenario("baseline"), load_scenario("controls-tighten")
    assert (
        tight.drivers["export_controls"]["semiconductors"][2024]
        == base.drivers["export_controls"]["semiconductors"][2024]
    )
    assert tight.drivers["export_controls"]["semiconductors"][2027] == 0.95
    assert tight.params == base.params
    iv = load_scenario("big-fund-iv")
    assert {e.name for e in iv.money} - {e.name for e in base.money} == {"big-fund-iv"}
    assert load_scenario("soe-reform").drivers["soe_reform"]["default"][2028] == 0.5


def test_a_bad_range_names_file_line_and_key(tmp_path):
    path = write(
        tmp_path,
        """
        extends: baseline
        name: broken
        parameters:
          soe_efficiency_discount:
            dist: uniform
            low: 0.5
            high: 0.2
            source: a test
        """,
    )
    with pytest.raises(DataError) as exc:
        load_scenario(path)
    assert problems(exc) == [
        (str(path), 6, "parameters.soe_efficiency_discount.low", "low (0.5) must be below high (0.2)")
    ]
    assert f"{path}:6" in str(exc.value)


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ("parameters:\n  fund_crowding: {value: 0.5}\n", "parameters.fund_crowding", "needs source"),
        ("parameters:\n  fund_crowding: 0.5\n", "parameters.fund_crowding", "a bare number has no source"),
        ("parameters:\n  warp_drive: {value: 1, prior: x}\n", "parameters.warp_drive", "unknown parameter"),
        ("parameters:\n  margin: {value: 1, prior: x}\n", "parameters.margin", "a sector parameter"),
        (
            "parameters:\n  learning_rate: {value: 0.9, prior: x}\n",
            "parameters.learning_rate.value",
            "at most 0.6",
        ),
        (
            "parameters:\n  fund_crowding: {dist: beta, prior: x}\n",
            "parameters.fund_crowding.dist",
            "unknown distribution",
        ),
        (
            "drivers:\n  export_controls:\n    atlantis: {2020: 0.5}\n",
            "drivers.export_controls.atlantis",
            "unknown sector",
        ),
        (
            "drivers:\n  export_controls:\n    ai: {2020: 1.5}\n",
            "drivers.export_controls.ai.2020",
            "at most 1",
        ),
        (
            "drivers:\n  export_controls:\n    ai: {twenty: 0.5}\n",
            "drivers.export_controls.ai.twenty",
            "must be a year",
        ),
        ("drivers:\n  weather: {default: {2020: 0.1}}\n", "drivers.weather", "unknown driver"),
        ("horizon: [2030, 2020]\n", "horizon", "before first year"),
        (
            "levers:\n  state_capital:\n    x: {mechanism: teleport, sector: ai, years: {2020: 1}, prior: p}\n",
            "levers.state_capital.x.mechanism",
            "unknown mechanism",
        ),
        (
            "levers:\n  fund_phases:\n    x: {sector: ai, amount_cny_bn: -3, start: 2020, prior: p}\n",
            "levers.fund_phases.x.amount_cny_bn",
            "at least 0",
        ),
        ("sectors:\n  ai: {market_growth: 9.0}\n", "sectors.ai.market_growth", "at most 1, not 9"),
        ("sectors:\n  atlantis: {margin: 0.1}\n", "sectors.atlantis", "unknown sector"),
        (
            "agents:\n  synthetic_foreign_per_sector: 0\n",
            "agents.synthetic_foreign_per_sector",
            "at least one",
        ),
        ("colour: blue\n", "colour", "unknown key"),
    ],
)
def test_each_problem_is_reported_with_its_key_path(tmp_path, body, field, reason):
    path = write(tmp_path, "extends: baseline\nname: broken\n" + body)
    with pytest.raises(DataError) as exc:
        load_scenario(path)
    found = problems(exc)
    assert any(f == field and reason in r and file == str(path) for file, _, f, r in found), found
    assert all(line is not None for file, line, _, _ in found if file == str(path))


def test_every_problem_is_reported_at_once(tmp_path):
    path = write(tmp_path, "extends: baseline\nname: x\nhorizon: [2030, 2020]\ncolour: blue\n")
    with pytest.raises(DataError) as exc:
        load_scenario(path)
    assert {f for _, _, f, _ in problems(exc)} == {"horizon", "colour"}


def test_yaml_errors_and_missing_parents_are_reported(tmp_path):
    bad = write(tmp_path, "name: x\nhorizon: [2014, \n")
    with pytest.raises(DataError) as exc:
        load_scenario(bad)
    assert "not valid YAML" in str(exc.value) and str(bad) in str(exc.value)
    orphan = write(tmp_path, "extends: nowhere-to-be-found\n", "o.yaml")
    with pytest.raises(DataError, match="no scenario 'nowhere-to-be-found' to extend"):
        load_scenario(orphan)
    write(tmp_path, "extends: b.yaml\n", "a.yaml")
    write(tmp_path, "extends: a.yaml\n", "b.yaml")
    with pytest.raises(DataError, match="loop"):
        load_scenario(tmp_path / "a.yaml")
    with pytest.raises(DataError, match="no built-in scenario or file"):
        load_scenario("no-such-scenario")


def test_overrides_hold_parameters_and_report_their_own_errors():
    sc = load_scenario(
        "baseline", {"parameters.soe_efficiency_discount": 0.1, "drivers.export_controls.ai.2030": 0.9}
    )
    spec = sc.params["soe_efficiency_discount"]
    assert (spec.dist, spec.args, spec.source) == ("fixed", (0.1,), "override")
    assert sc.drivers["export_controls"]["ai"][2030] == 0.9
    sc = load_scenario(
        "baseline", {"parameters": {"fund_crowding": {"dist": "uniform", "low": 0.0, "high": 0.2}}}
    )
    assert sc.params["fund_crowding"].args == (0.0, 0.2)
    with pytest.raises(DataError) as exc:
        load_scenario("baseline", {"parameters.learning_rate": 0.95})
    (file, _, field, reason), *_ = problems(exc)
    assert (file, field) == (OVERRIDES, "parameters.learning_rate.value")
    assert "at most 0.6" in reason


def test_null_removes_an_inherited_entry():
    sc = load_scenario("baseline", {"levers.fund_phases.big-fund-iii": None})
    assert "big-fund-iii" not in {e.name for e in sc.money}
    assert deep_merge({"a": {"b": 1, "c": 2}}, {"a": {"b": None}}) == {"a": {"c": 2}}
    assert expand_dotted({"a.b.c": 1, "a.d": 2}) == {"a": {"b": {"c": 1}, "d": 2}}


def test_a_scenario_given_as_a_mapping():
    sc = load_scenario({"extends": "baseline", "name": "mine", "horizon": [2014, 2020]})
    assert (sc.name, sc.horizon) == ("mine", (2014, 2020))


def test_series_interpolate_linearly_and_hold():
    series = {2014: 0.0, 2018: 0.4, 2020: 0.2}
    years = np.arange(2012, 2023)
    np.testing.assert_allclose(interpolate(series, years), [0, 0, 0, 0.1, 0.2, 0.3, 0.4, 0.3, 0.2, 0.2, 0.2])
    np.testing.assert_allclose(interpolate({2016: 5.0}, years, hold_before=False)[:5], [0, 0, 0, 0, 5])


def test_cli_names_the_bad_file_and_key(tmp_path, mini_db):
    path = write(tmp_path, "extends: baseline\nname: x\nparameters:\n  fund_crowding: {value: 0.5}\n")
    proc = run_cli("simulate", str(path), "--runs", "2", "--db", str(mini_db), "--json")
    assert proc.returncode == 2
    assert f"{path}:4" in proc.stderr and "parameters.fund_crowding" in proc.stderr
    proc = run_cli("simulate", "baseline", "--runs", "2", "--db", str(mini_db), "--set", "nonsense")
    assert proc.returncode == 2 and "KEY.PATH=VALUE" in proc.stderr
