"""`--engine local|spark` on owners, control, screen and flows: the same JSON from both engines.

On Spark the numbers and verdicts come from the whole-registry run and the explanations from the
entity's upstream registry (statecap.engines.reports); the local answers are the reference, and
a few hand-worked values of the mini atlas (tests/fixtures/mini) are checked on both. Commands run
in-process (Typer's runner), so the Spark ones reuse the test session's Spark.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from typer.testing import CliRunner

from statecap.cli import app
from tests.spark_support import ENGINES, spark_engine  # noqa: F401  (a fixture, used by name)

AS_OF = "2018-06-30"  # the fund still holds 50% of ChipDesign
IN_FORCE = "2025-10-15"  # the test Affiliates rule in force


def invoke(*args: str) -> dict:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


_CACHE: dict[tuple, dict] = {}


def run(request, engine: str, *args: str) -> dict:
    """The command's JSON on `engine` (Spark: the session fixture's, on local[2])."""
    key = (engine, args)
    if key not in _CACHE:
        extra = ["--engine", engine]
        if engine == "spark":
            request.getfixturevalue("spark_engine")
            extra += ["--spark-master", "local[2]"]
        _CACHE[key] = invoke(*args, "--json", *extra)
    return _CACHE[key]


def assert_close(a: Any, b: Any, where: str = "") -> None:
    """Equal JSON, numbers within 1e-9."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), (where, sorted(a), sorted(b))
        for k in a:
            assert_close(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), (where, a, b)
        for k, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_close(x, y, f"{where}[{k}]")
    elif isinstance(a, float) and not isinstance(a, bool):
        assert isinstance(b, (int, float)) and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9), (where, a, b)
    else:
        assert a == b, (where, a, b)


def same(local: dict, spark: dict) -> None:
    assert spark.pop("engine", "spark") == "spark"
    local.pop("engine", None)
    assert_close(local, spark)


@pytest.mark.parametrize("engine", ENGINES)
def test_owners(request, mini_db, engine):
    r = run(request, engine, "owners", "cn-chipdesign", "--db", str(mini_db), "--as-of", AS_OF)
    assert r["state_share"] == {"lo": 50.0, "hi": 50.0}
    owners = {o["id"]: o for o in r["owners"]}
    assert owners["cn-fund"]["integrated"] == {"lo": 50.0, "hi": 50.0}
    assert owners["cn-organ-a"]["integrated"] == {"lo": 30.0, "hi": 30.0}  # 60% of the fund's 50%
    assert [h for p in owners["cn-organ-a"]["paths"] for h in p["nodes"]][:3] == [
        "cn-organ-a", "cn-fund", "cn-chipdesign",
    ]  # fmt: skip


@pytest.mark.parametrize("engine", ENGINES)
def test_control(request, mini_db, engine):
    r = run(request, engine, "control", "cn-chipdesign", "--db", str(mini_db), "--as-of", AS_OF)
    assert r["state_class"]["class"] == "state_influenced"
    assert r["rules"]["laporta_20"]["state_control"] == {"lo": 50.0, "hi": 50.0}
    assert r["rules"]["majority"]["controller"] is None  # 50% is no majority


@pytest.mark.parametrize("engine", ENGINES)
def test_screen_entity_and_list(request, mini_db, engine):
    one = run(
        request, engine, "screen", "cn-chipco", "--all-rules", "--db", str(mini_db), "--as-of", IN_FORCE
    )
    assert one["rules"]["bis-affiliates"]["verdict"] == "designated"
    assert one["rules"]["ofac50"]["verdict"] is None
    listed = run(
        request, engine, "screen", "--rule", "bis-affiliates", "--db", str(mini_db), "--as-of", IN_FORCE
    )
    assert [r["id"] for r in listed["results"]] == ["cn-chipco"]
    assert any(e["kind"] == "designation" for e in listed["results"][0]["evidence"])


@pytest.mark.spark
@pytest.mark.xdist_group("spark")
def test_spark_reports_equal_local(request, mini_db):
    """The same JSON from both engines for every per-entity command and the screening lists."""
    from tests.spark_support import require_spark

    require_spark()
    db = str(mini_db)
    commands = [
        ("owners", "cn-chipdesign", "--db", db, "--as-of", AS_OF),
        ("control", "cn-chipdesign", "--db", db, "--as-of", AS_OF),
        ("screen", "cn-chipco", "--all-rules", "--db", db, "--as-of", IN_FORCE),
        ("screen", "--rule", "bis-affiliates", "--db", db, "--as-of", IN_FORCE),
        ("screen", "diff", "--rule", "ofac50", "--rule", "bis-affiliates", "--db", db, "--as-of", IN_FORCE),
        ("flows", "--by", "sector,mechanism,level", "--db", db),
    ]
    for args in commands:
        same(dict(run(request, "local", *args)), dict(run(request, "spark", *args)))
