"""Store/Parquet -> OwnershipGraph: as-of filtering, matrices, indirect stakes, errors."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest

from statecap.analytics.ownership import state_share
from statecap.errors import UsageError
from statecap.graph import graph_from_arrays, load_graph
from statecap.store.db import connect
from tests.conftest import run_cli


def _share_of(db, entity: str, day: dt.date | None) -> tuple[float, float]:
    with connect(db) as con:
        g = load_graph(con, day)
    lo, hi = state_share(g)
    i = g.index_of(entity)
    return float(lo[i]), float(hi[i])


def test_load_graph_from_mini_store(mini_db):
    with connect(mini_db) as con:
        g = load_graph(con, dt.date(2019, 1, 1))
    assert g.n == 8
    assert set(g.ids[g.is_state]) == {"cn-organ-a", "cn-organ-b"}
    fund, chip = g.index_of("cn-fund"), g.index_of("cn-chipco")
    assert g.W_lo[fund, chip] == pytest.approx(0.2)
    founder = g.index_of("cn-founder")
    assert g.W_lo[founder, chip] == pytest.approx(0.1) and g.W_hi[founder, chip] == pytest.approx(0.3)
    aico = g.index_of("cn-aico")
    assert g.W_lo[fund, aico] == 0 and g.W_hi[fund, aico] == 1.0  # unknown: [0, 100], an explicit entry
    assert g.kinds[fund] == "state_fund"
    assert g.sector_mask("semiconductors")[[chip, g.index_of("cn-chipdesign")]].all()
    assert not g.sector_mask("semiconductors")[aico]
    assert g.sector_mask("ai")[aico]


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (dt.date(2016, 5, 31), 0.0),  # before valid_from
        (dt.date(2016, 6, 1), 50.0),  # valid_from counts
        (dt.date(2019, 12, 31), 50.0),
        (dt.date(2020, 1, 1), 0.0),  # valid_to is exclusive
    ],
)
def test_as_of_around_start_and_end(mini_db, day, expected):
    assert _share_of(mini_db, "cn-chipdesign", day) == (expected, expected)


def test_as_of_defaults_to_today(mini_db):
    assert _share_of(mini_db, "cn-chipdesign", None) == (0.0, 0.0)
    assert _share_of(mini_db, "cn-chipco", None) == (20.0, 20.0)
    # the fund was set up in 2014-09: before that it held nothing and nobody held it
    assert _share_of(mini_db, "cn-chipco", dt.date(2014, 1, 1)) == (0.0, 0.0)


def test_graph_from_arrays_errors():
    with pytest.raises(UsageError, match="unknown owner"):
        graph_from_arrays(["a", "b"], ["company", "company"], ["x"], ["b"], [10], [10])
    with pytest.raises(UsageError, match="0..100"):
        graph_from_arrays(["a", "b"], ["company", "company"], ["a"], ["b"], [10], [120])
    with pytest.raises(UsageError, match="more than once"):
        graph_from_arrays(["a", "a"], ["company", "company"], ["a"], ["a"], [10], [10])


def test_duplicates_add_and_self_holdings_are_dropped():
    g = graph_from_arrays(
        ["o", "a"], ["state_organ", "company"], ["o", "o", "a"], ["a", "a", "a"], [10, 15, 5], [10, 15, 5]
    )
    assert g.W_lo[0, 1] == pytest.approx(0.25)
    assert g.dropped["self_holdings"] == 1
    assert g.n_edges == 2


def test_indirect_stakes_count_once(tmp_path):
    from statecap.graph.load import _filter_indirect

    ids = ["o", "a", "b", "c"]
    kinds = ["state_organ", "company", "company", "company"]
    # o -> a -> b directly, and a reported indirect o -> b (already explained): dropped;
    # an indirect o -> c with no direct chain: kept
    g = graph_from_arrays(
        ids, kinds, ["o", "a", "o", "o"], ["a", "b", "b", "c"], [100, 50, 50, 30], [100, 50, 50, 30],
        direct=[True, True, False, False],
    )  # fmt: skip
    out = _filter_indirect(g, "auto")
    lo, _ = state_share(out)
    assert lo[2] == pytest.approx(50) and lo[3] == pytest.approx(30)
    assert out.dropped["indirect_stakes_explained_by_direct_chains"] == 1


def test_parquet_and_store_give_the_same_graph(tmp_path):
    from statecap.graph import load_graph_parquet
    from statecap.graph.synth import generate, write_parquet, write_store

    reg = generate(3000, 5)
    write_parquet(reg, tmp_path / "pq")
    write_store(reg, tmp_path / "s.duckdb", 5)
    day = dt.date(2024, 6, 1)
    gp = load_graph_parquet(tmp_path / "pq", day)
    with connect(tmp_path / "s.duckdb") as con:
        gs = load_graph(con, day)
    assert list(gp.ids) == list(gs.ids)
    assert (gp.W_lo != gs.W_lo).nnz == 0 and (gp.W_hi != gs.W_hi).nnz == 0
    np.testing.assert_array_equal(gp.is_state, gs.is_state)


def test_cli_errors_name_the_problem(mini_db):
    proc = run_cli("owners", "cn-nope", "--db", str(mini_db), "--json")
    assert proc.returncode == 2 and "cn-nope" in proc.stderr
    from statecap.analytics.ownership import state_share_report
    from statecap.cli.common import parse_as_of

    with pytest.raises(UsageError, match="--as-of"):
        parse_as_of("2020-13-01")
    with connect(mini_db) as con, pytest.raises(UsageError, match="nonsense"):
        state_share_report(con, sector="nonsense")


def test_cli_owners_json_contract(mini_db):
    proc = run_cli("owners", "cn-chipco", "--db", str(mini_db), "--json", "--as-of", "2019-01-01", check=True)
    data = json.loads(proc.stdout)
    assert data["entity"] == "cn-chipco" and data["as_of"] == "2019-01-01"
    assert data["state_share"] == {"lo": 20.0, "hi": 20.0}
    assert (
        data["state_class"]["class"] == "state_influenced" and data["state_class"]["certainty"] == "definite"
    )
    owners = {o["id"]: o for o in data["owners"]}
    assert set(owners) == {"cn-fund", "cn-founder", "cn-organ-a", "cn-organ-b"}
    assert owners["cn-organ-a"]["direct"] is None
    assert owners["cn-organ-a"]["integrated"] == {"lo": 12.0, "hi": 12.0}
    assert owners["cn-founder"]["direct"] == {"lo": 10.0, "hi": 30.0}
    path = owners["cn-organ-a"]["paths"][0]
    assert path["nodes"] == ["cn-organ-a", "cn-fund", "cn-chipco"]
    assert path["hops"][0]["stakes"][0]["sources"][0]["id"] == "src-test"
    for o in data["owners"]:
        assert set(o) >= {"id", "name", "direct", "integrated", "paths"}


def test_cli_control_and_state_share_json(mini_db):
    from statecap.analytics.control import control_report
    from statecap.analytics.ownership import state_share_report

    with connect(mini_db) as con:
        data = control_report(con, "cn-fund")
    maj = data["rules"]["majority"]
    assert maj["controller"] == "cn-organ-a" and maj["controller_is_state"] and maj["certainty"] == "definite"
    assert data["rules"]["laporta_20"]["state_controls"] == "yes"
    assert data["state_class"]["class"] == "state_controlled"
    data = json.loads(run_cli("state-share", "--db", str(mini_db), "--top", "5", "--json", check=True).stdout)
    ids = [r["id"] for r in data["results"]]
    assert ids[:2] == ["cn-fund", "cn-chipco"] and "cn-organ-a" not in ids
    assert all(set(r) >= {"id", "name", "state_share", "state_class"} for r in data["results"])
    with connect(mini_db) as con:
        data = state_share_report(con, sector="ai")
    assert [r["id"] for r in data["results"]] == ["cn-aico"]
    assert data["results"][0]["state_share"] == {"lo": 0.0, "hi": 100.0}
    assert data["results"][0]["state_class"]["certainty"] == "possible"


def test_state_share_does_not_depend_on_how_entities_are_numbered():
    """The same registry with its entities listed in another order: same shares per entity
    (the condensation and the layout depend on the numbering, the answers must not)."""
    from statecap.graph.synth import generate

    reg = generate(2000, 9)
    st = reg.stakes
    ids = np.asarray(reg.entities["id"].to_pylist(), dtype=object)
    kinds = np.asarray(reg.entities["kind"].to_pylist(), dtype=object)
    args = (st["owner"], st["owned"], st["share_lo"], st["share_hi"])
    g = graph_from_arrays(ids, kinds, *args)
    expected = state_share(g)
    order = np.random.default_rng(0).permutation(len(ids))
    h = graph_from_arrays(ids[order], kinds[order], *args)
    got = state_share(h)
    np.testing.assert_allclose(got.lo, expected.lo[order], atol=1e-9)
    np.testing.assert_allclose(got.hi, expected.hi[order], atol=1e-9)
    assert sorted(sorted(ids[order][list(c.members)]) for c in got.closed_sccs) == sorted(
        sorted(ids[list(c.members)]) for c in expected.closed_sccs
    )
