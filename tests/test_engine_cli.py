"""`--engine` on the commands, `statecap batch`, and the message when pyspark is missing."""

from __future__ import annotations

import json
import sys

import pyarrow.parquet as pq
import pytest

from statecap.errors import UsageError
from tests.conftest import run_cli
from tests.spark_support import require_spark


def test_spark_engine_without_pyspark_says_what_to_install(monkeypatch):
    from statecap.engines import get_engine

    monkeypatch.setitem(sys.modules, "pyspark", None)
    with pytest.raises(UsageError, match=r"pip install 'statecap\[spark\]'"):
        get_engine("spark")


def test_unknown_engine_is_a_usage_error(mini_db):
    proc = run_cli("state-share", "--db", str(mini_db), "--engine", "dask")
    assert proc.returncode == 2
    assert "--engine 'dask'" in proc.stderr and "local" in proc.stderr


def test_batch_local_writes_the_ownership_table(mini_db, tmp_path):
    import duckdb

    from statecap.analytics.ownership import state_share
    from statecap.graph import load_graph

    proc = run_cli(
        "batch", "--db", str(mini_db), "--out", str(tmp_path / "out"), "--what", "ownership,ofac50", "--json",
        check=True,
    )  # fmt: skip
    result = json.loads(proc.stdout)
    assert result["engine"] == "local"
    assert pq.read_table(result["outputs"]["ofac50"]).column_names[:3] == ["idx", "id", "verdict"]
    table = pq.read_table(result["outputs"]["ownership"]).to_pylist()
    with duckdb.connect(str(mini_db), read_only=True) as con:
        g = load_graph(con)
    share = state_share(g)
    assert [r["id"] for r in table] == list(g.ids)
    for r, lo, hi in zip(table, share.lo, share.hi, strict=True):
        assert r["state_share_lo"] == pytest.approx(lo, abs=1e-9)
        assert r["state_share_hi"] == pytest.approx(hi, abs=1e-9)
        assert r["state_class"] in ("none_known", "state_invested", "state_influenced", "state_controlled")


def test_batch_rejects_an_unknown_question(mini_db, tmp_path):
    proc = run_cli("batch", "--db", str(mini_db), "--out", str(tmp_path), "--what", "ownership,graphs")
    assert proc.returncode == 2 and "--what" in proc.stderr


def test_batch_writes_the_flows_table(mini_db, tmp_path):
    """The mini atlas's hand-worked flows (docs/flows.md rules; see tests/test_engine_flows.py)."""
    proc = run_cli(
        "batch", "--db", str(mini_db), "--out", str(tmp_path / "out"), "--what", "flows", "--json", check=True
    )  # fmt: skip
    rows = pq.read_table(json.loads(proc.stdout)["outputs"]["flows"]).to_pylist()
    m = 1e6
    key = ("semiconductors", "guidance_fund", "central")
    fund_central = [r for r in rows if (r["sector"], r["mechanism"], r["level"]) == key]
    assert sum(r["state_lo"] for r in fund_central) == pytest.approx(180 * m)
    # a record backed by organs of two levels is in both levels' rows: the state parts add up
    assert sum(r["state_lo"] for r in rows) == pytest.approx(460 * m)
    assert {r["report_currency"] for r in rows} == {"CNY"}


def test_batch_needs_a_registry_folder_with_stakes(tmp_path):
    (tmp_path / "reg").mkdir()
    proc = run_cli("batch", "--parquet", str(tmp_path / "reg"), "--out", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert "entities.parquet" in proc.stderr and "stakes.parquet" in proc.stderr


@pytest.mark.spark
@pytest.mark.xdist_group("spark")
def test_state_share_is_the_same_on_both_engines(mini_db):
    require_spark()
    local = json.loads(
        run_cli("state-share", "--db", str(mini_db), "--top", "50", "--json", check=True).stdout
    )
    spark = json.loads(
        run_cli(
            "state-share", "--db", str(mini_db), "--top", "50", "--json",
            "--engine", "spark", "--spark-master", "local[2]", check=True,
        ).stdout
    )  # fmt: skip
    assert spark["engine"] == "spark"
    assert [r["id"] for r in spark["results"]] == [r["id"] for r in local["results"]]
    for a, b in zip(local["results"], spark["results"], strict=True):
        assert b["state_share"]["lo"] == pytest.approx(a["state_share"]["lo"], abs=1e-9)
        assert b["state_share"]["hi"] == pytest.approx(a["state_share"]["hi"], abs=1e-9)
        assert b["state_class"] == a["state_class"]
    assert sorted(map(str, spark["closed_sccs"])) == sorted(map(str, local["closed_sccs"]))


def test_engines_read_statecap_export_parquet(mini_db, tmp_path):
    """`statecap export parquet` output (entities sorted by id) gives the store's answers, by id."""
    import duckdb

    from statecap.analytics.ownership import state_share
    from statecap.engines import get_engine, open_source
    from statecap.graph import load_graph

    run_cli("export", "parquet", str(tmp_path / "pq"), "--db", str(mini_db), check=True)
    table = get_engine("local").ownership(open_source(tmp_path / "pq")).to_pylist()
    with duckdb.connect(str(mini_db), read_only=True) as con:
        g = load_graph(con)
    share = state_share(g)
    expected = {g.id_of(i): (share.lo[i], share.hi[i]) for i in range(g.n)}
    assert {r["id"] for r in table} == set(expected)
    for r in table:
        lo, hi = expected[r["id"]]
        assert r["state_share_lo"] == pytest.approx(lo, abs=1e-9), r["id"]
        assert r["state_share_hi"] == pytest.approx(hi, abs=1e-9), r["id"]


def test_a_cluster_url_is_a_source_for_spark_only():
    from statecap.engines import get_engine, open_source

    src = open_source("s3a://bucket/registry/")
    assert src.remote and src.path("stakes") == "s3a://bucket/registry/stakes.parquet"
    with pytest.raises(UsageError, match="local Parquet files only"):
        get_engine("local").screen(src, "ofac50")
    with pytest.raises(UsageError, match="local Parquet files only"):
        get_engine("local").ownership(src)
    with pytest.raises(UsageError, match="local folders only"):
        get_engine("local").write_screen(src, "ofac50", "hdfs:///out")
