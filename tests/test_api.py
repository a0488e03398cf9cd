"""The REST API: every endpoint, against hand-worked answers on the mini atlas and against the CLI's
own --json output (the API must return what the CLI prints, since both call one function)."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
from urllib.parse import quote

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import run_cli

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402

from statecap.api.app import create_app  # noqa: E402


@pytest.fixture(scope="module")
def mini(mini_db):
    with TestClient(create_app(mini_db)) as client:
        yield client


@pytest.fixture(scope="module")
def builtin(builtin_db):
    with TestClient(create_app(builtin_db)) as client:
        yield client


def ok(client: TestClient, url: str, **kw) -> dict:
    r = client.get(url, **kw)
    assert r.status_code == 200, f"{url}: {r.status_code} {r.text[:500]}"
    return r.json()


def approx_iv(d: dict, lo: float, hi: float) -> None:
    assert d["lo"] == pytest.approx(lo, abs=1e-6)
    assert d["hi"] == pytest.approx(hi, abs=1e-6)


# ---- health and entities ------------------------------------------------------------------------


def test_health_counts_the_store(mini, mini_db):
    import duckdb

    body = ok(mini, "/api/health")
    assert body["status"] == "ok"
    con = duckdb.connect(str(mini_db), read_only=True)
    try:
        for table in ("entities", "stakes", "investments", "designations"):
            assert body["counts"][table] == con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        con.close()
    assert body["store"]["schema_version"] == "1"


@pytest.mark.parametrize(
    "query, expected",
    [("ChipCo", "cn-chipco"), ("芯片公司", "cn-chipco"), ("chipco", "cn-chipco"), ("688000.SS", "cn-chipco"),
     ("91310000000000000X", "cn-chipco"), ("TGF", "cn-fund"), ("cn-organ-a", "cn-organ-a")],
)  # fmt: skip
def test_search_finds_by_name_chinese_name_alias_and_identifier(mini, query, expected):
    results = ok(mini, "/api/entities", params={"q": query})
    assert results, query
    assert results[0]["id"] == expected
    assert {"id", "name", "name_zh", "kind"} <= set(results[0])


def test_search_limit_and_bad_queries(mini):
    assert len(ok(mini, "/api/entities", params={"q": "c", "limit": 2})) == 2
    r = mini.get("/api/entities", params={"q": "   "})
    assert r.status_code == 422 and "q:" in r.json()["detail"]
    r = mini.get("/api/entities", params={"q": "x", "limit": 0})
    assert r.status_code == 422 and "limit" in r.json()["detail"]
    assert mini.get("/api/entities").status_code == 422  # q is required


def test_entity_detail(mini):
    e = ok(mini, "/api/entities/cn-chipco")
    assert e["name"] == "ChipCo Semiconductor" and e["name_zh"] == "芯片公司"
    assert e["is_state"] is False
    assert {"scheme": "uscc", "value": "91310000000000000X"} in e["identifiers"]
    assert [d["list"] for d in e["designations"]] == ["bis_entity_list"]
    assert e["designations"][0]["start"] == "2020-12-18" and e["designations"][0]["active"] is True
    assert e["sources"][0]["id"] == "src-test"
    assert ok(mini, "/api/entities/cn-organ-a")["is_state"] is True
    # an identifier resolves to the same entity
    assert ok(mini, "/api/entities/688000.SS")["id"] == "cn-chipco"


@pytest.mark.parametrize("path", ["", "/owners", "/control", "/stakes", "/screen", "/trace"])
def test_unknown_entity_is_404_with_a_message(mini, path):
    r = mini.get(f"/api/entities/no-such-thing{path}")
    assert r.status_code == 404
    assert "no-such-thing" in r.json()["detail"]


# ---- ownership ----------------------------------------------------------------------------------


def test_owners_worked_example(mini):
    # organ A holds 60% and organ B 40% of the fund; the fund holds 20% of ChipCo, the founder 10-30%.
    r = ok(mini, "/api/entities/cn-chipco/owners")
    approx_iv(r["state_share"], 20.0, 20.0)
    owners = {o["id"]: o for o in r["owners"]}
    assert set(owners) == {"cn-fund", "cn-organ-a", "cn-organ-b", "cn-founder"}
    approx_iv(owners["cn-fund"]["integrated"], 20.0, 20.0)
    approx_iv(owners["cn-fund"]["direct"], 20.0, 20.0)
    approx_iv(owners["cn-organ-a"]["integrated"], 12.0, 12.0)
    approx_iv(owners["cn-organ-b"]["integrated"], 8.0, 8.0)
    approx_iv(owners["cn-founder"]["integrated"], 10.0, 30.0)
    assert owners["cn-organ-a"]["direct"] is None
    assert owners["cn-organ-a"]["paths"][0]["nodes"] == ["cn-organ-a", "cn-fund", "cn-chipco"]
    assert r["total"] == 4
    # the sources of each stake on a path come along
    hop = owners["cn-organ-a"]["paths"][0]["hops"][0]
    assert hop["stakes"][0]["sources"][0]["id"] == "src-test"


def test_owners_paging_is_a_window_on_one_list(mini):
    full = ok(mini, "/api/entities/cn-chipco/owners")["owners"]
    seen = []
    for offset in range(0, 5, 2):
        page = ok(mini, "/api/entities/cn-chipco/owners", params={"limit": 2, "offset": offset})
        assert page["total"] == len(full) and page["limit"] == 2 and page["offset"] == offset
        seen += page["owners"]
    assert [o["id"] for o in seen] == [o["id"] for o in full]
    assert mini.get("/api/entities/cn-chipco/owners", params={"limit": 0}).status_code == 422
    assert mini.get("/api/entities/cn-chipco/owners", params={"limit": 501}).status_code == 422
    assert mini.get("/api/entities/cn-chipco/owners", params={"offset": -1}).status_code == 422


def test_owners_as_of_honours_dates(mini):
    # ChipDesign's only owner (the fund, 50%) held it 2016-06-01 .. 2020-01-01
    during = ok(mini, "/api/entities/cn-chipdesign/owners", params={"as_of": "2018-01-01"})
    approx_iv(during["state_share"], 50.0, 50.0)
    after = ok(mini, "/api/entities/cn-chipdesign/owners", params={"as_of": "2021-01-01"})
    approx_iv(after["state_share"], 0.0, 0.0)
    assert after["owners"] == []
    r = mini.get("/api/entities/cn-chipdesign/owners", params={"as_of": "2021-13-01"})
    assert r.status_code == 422 and "as_of" in r.json()["detail"]


def test_control_worked_example(mini):
    r = ok(mini, "/api/entities/cn-fund/control")
    maj = r["rules"]["majority"]
    # organ A holds 60% of the fund: a majority chain ending in a state organ
    assert maj["chain"] == ["cn-organ-a", "cn-fund"]
    assert maj["controller"] == "cn-organ-a" and maj["controller_is_state"] is True
    assert r["state_class"]["class"] == "state_controlled"
    assert r["rules"]["laporta_20"]["state_controls"] == "yes"
    chipco = ok(mini, "/api/entities/cn-chipco/control")
    assert chipco["rules"]["majority"]["controller"] is None  # nobody holds more than 50%
    assert chipco["rules"]["integrated_50"]["controllers"] == []


def test_stakes_neighbourhood_matches_the_records(mini):
    r = ok(mini, "/api/entities/cn-chipco/stakes")
    assert r["direction"] == "owners" and r["total"] == 2
    by_owner = {e["owner"]["id"]: e for e in r["edges"]}
    approx_iv(by_owner["cn-fund"]["share"], 20.0, 20.0)
    approx_iv(by_owner["cn-founder"]["share"], 10.0, 30.0)
    assert by_owner["cn-founder"]["share_kind"] == "range"
    assert by_owner["cn-fund"]["neighbour_owners"] == 2  # organs A and B hold the fund
    assert by_owner["cn-fund"]["sources"][0]["id"] == "src-test"
    # largest upper bound first
    assert [e["owner"]["id"] for e in r["edges"]] == ["cn-founder", "cn-fund"]

    h = ok(mini, "/api/entities/cn-fund/stakes", params={"direction": "holdings"})
    assert {e["owned"]["id"] for e in h["edges"]} == {"cn-chipco", "cn-aico"}  # ChipDesign's stake ended 2020
    h2018 = ok(mini, "/api/entities/cn-fund/stakes", params={"direction": "holdings", "as_of": "2018-06-01"})
    assert {e["owned"]["id"] for e in h2018["edges"]} == {"cn-chipco", "cn-aico", "cn-chipdesign"}
    unknown = next(e for e in h2018["edges"] if e["owned"]["id"] == "cn-aico")
    approx_iv(unknown["share"], 0.0, 100.0)  # an unknown stake is [0, 100], never 0

    page = ok(mini, "/api/entities/cn-fund/stakes", params={"direction": "holdings", "limit": 1, "offset": 1})
    assert page["total"] == 2 and len(page["edges"]) == 1
    assert mini.get("/api/entities/cn-fund/stakes", params={"direction": "sideways"}).status_code == 422


def test_state_share_ranking(mini):
    r = ok(mini, "/api/state-share", params={"top": 10})
    ids = [x["id"] for x in r["results"]]
    assert "cn-organ-a" not in ids  # organs themselves are left out
    assert ids[0] == "cn-fund"
    shares = {x["id"]: x["state_share"] for x in r["results"]}
    approx_iv(shares["cn-chipco"], 20.0, 20.0)
    approx_iv(shares["cn-aico"], 0.0, 100.0)
    r = mini.get("/api/state-share", params={"sector": "no-such-sector"})
    assert r.status_code == 422 and "sector" in r.json()["detail"]
    only_chips = ok(mini, "/api/state-share", params={"sector": "semiconductors"})
    # ChipDesign's only state stake ended in 2020: today only ChipCo is a chip firm with a state share
    assert {x["id"] for x in only_chips["results"]} == {"cn-chipco"}


# ---- flows and indicators -----------------------------------------------------------------------


def test_sankey_worked_example(mini):
    r = ok(mini, "/api/flows/sankey")
    links = {(lk["source"], lk["target"]): lk["value"] for lk in r["links"]}
    m = 1e6
    # the fund (100% state) paid 200m + 100m into chips and 50m into AI; organs split 60/40
    assert links[("organ:cn-organ-a", "payer:cn-fund")] == pytest.approx(210 * m)
    assert links[("organ:cn-organ-b", "payer:cn-fund")] == pytest.approx(140 * m)
    assert links[("payer:cn-fund", "sector:semiconductors")] == pytest.approx(300 * m)
    assert links[("payer:cn-fund", "sector:ai")] == pytest.approx(50 * m)
    # ChipCo's 2020 R&D (300m) is 20% the state's: 60m, organ A's 12% and organ B's 8%
    assert links[("payer:cn-chipco", "sector:semiconductors")] == pytest.approx(60 * m)
    assert links[("organ:cn-organ-a", "payer:cn-chipco")] == pytest.approx(36 * m)
    assert links[("organ:cn-organ-b", "payer:cn-chipco")] == pytest.approx(24 * m)
    # ChipDesign's 2018 R&D (100m) while the fund held 50%; its 2021 R&D is not the state's
    assert links[("payer:cn-chipdesign", "sector:semiconductors")] == pytest.approx(50 * m)
    approx_iv(r["total"], 460 * m, 460 * m)
    columns = {n["id"]: n["column"] for n in r["nodes"]}
    assert columns["organ:cn-organ-a"] == 0 and columns["payer:cn-fund"] == 1 and columns["sector:ai"] == 2


def test_sankey_conserves_money_on_the_builtin_atlas(builtin):
    r = ok(builtin, "/api/flows/sankey")
    inflow: dict[str, float] = {}
    outflow: dict[str, float] = {}
    for lk in r["links"]:
        assert lk["lo"] <= lk["hi"] + 1e-6 * max(1.0, abs(lk["hi"]))
        outflow[lk["source"]] = outflow.get(lk["source"], 0.0) + lk["value"]
        inflow[lk["target"]] = inflow.get(lk["target"], 0.0) + lk["value"]
    for node in inflow.keys() & outflow.keys():  # the middle column
        assert inflow[node] == pytest.approx(outflow[node], rel=1e-9)
    to_sectors = sum(v for k, v in inflow.items() if k.startswith("sector:"))
    assert to_sectors == pytest.approx((r["total"]["lo"] + r["total"]["hi"]) / 2, rel=1e-9)


def cli_json(db, *args: str) -> dict:
    proc = run_cli(*args, "--db", str(db), "--json", check=True)
    return json.loads(proc.stdout)


def test_flows_equal_the_cli(mini, mini_db):
    api = ok(mini, "/api/flows", params={"by": "sector,mechanism"})
    assert api == cli_json(mini_db, "flows", "--by", "sector,mechanism")
    api = ok(mini, "/api/flows", params={"by": "year", "from": 2016, "to": 2020, "currency": "USD"})
    assert api == cli_json(
        mini_db, "flows", "--by", "year", "--from", "2016", "--to", "2020", "--currency", "USD"
    )
    r = mini.get("/api/flows", params={"by": "colour"})
    assert r.status_code == 422 and "by" in r.json()["detail"]
    r = mini.get("/api/flows", params={"by": "year,year"})
    assert r.status_code == 400 and "twice" in r.json()["detail"]
    assert mini.get("/api/flows", params={"currency": "XYZ"}).status_code == 422


def test_trace_equals_the_cli(mini, mini_db):
    assert ok(mini, "/api/entities/cn-fund/trace") == cli_json(
        mini_db, "flows", "trace", "cn-fund", "--limit", "50"
    )


def test_indicators_equal_the_cli(mini, mini_db):
    assert ok(mini, "/api/indicators") == cli_json(mini_db, "indicators")


def test_summary_and_audit(mini, mini_db):
    assert ok(mini, "/api/summary") == cli_json(mini_db, "summary")
    a = ok(mini, "/api/audit")
    assert a == cli_json(mini_db, "data", "audit")


# ---- the policy lab -----------------------------------------------------------------------------


def test_scenarios_list_the_builtin_ones_with_levers(builtin):
    scenarios = ok(builtin, "/api/scenarios")
    names = [s["name"] for s in scenarios]
    assert names[0] == "baseline"
    base = scenarios[0]
    levers = {lv["key"]: lv for lv in base["levers"]}
    # the baseline's own values, read back from its file
    assert levers["levers.fund_phases.big-fund-iii.amount_cny_bn"]["value"] == pytest.approx(344)
    assert levers["parameters.soe_efficiency_discount"]["value"] == pytest.approx((0.25 + 0.6) / 2)
    for lv in base["levers"]:
        assert lv["min"] <= (lv["value"] if lv["value"] is not None else lv["min"]) <= lv["max"]


@pytest.mark.slow
def test_simulate_equals_the_cli_and_levers_move_it(builtin, builtin_db):
    body = {"scenario": "baseline", "runs": 20, "seed": 3}
    r = builtin.post("/api/simulate", json=body)
    assert r.status_code == 200, r.text
    api = r.json()
    cli = cli_json(builtin_db, "simulate", "baseline", "--runs", "20", "--seed", "3")
    assert api["outputs"] == cli["outputs"]
    assert api["backtest"] == cli["backtest"]
    assert (api["scenario"], api["runs"], api["seed"]) == ("baseline", 20, 3)

    bigger = builtin.post(
        "/api/simulate",
        json={**body, "overrides": {"levers.fund_phases.big-fund-iii.amount_cny_bn": 1344}},
    ).json()
    cli_bigger = cli_json(
        builtin_db, "simulate", "baseline", "--runs", "20", "--seed", "3",
        "--set", "levers.fund_phases.big-fund-iii.amount_cny_bn=1344",
    )  # fmt: skip
    assert bigger["outputs"] == cli_bigger["outputs"]
    before = api["outputs"]["semiconductors"]["state_capital_cum"]["p50"]
    after = bigger["outputs"]["semiconductors"]["state_capital_cum"]["p50"]
    # Big Fund III deploys over 2025-2034, inside the horizon: 1000 bn more state capital
    assert after - before == pytest.approx(1000, rel=0.02)


def test_simulate_rejects_bad_input(builtin):
    r = builtin.post("/api/simulate", json={"scenario": "/etc/passwd", "runs": 10})
    assert r.status_code == 422 and "scenario" in r.json()["detail"]
    r = builtin.post("/api/simulate", json={"scenario": "baseline", "runs": "10"})
    assert r.status_code == 422 and "runs" in r.json()["detail"]
    r = builtin.post("/api/simulate", json={"scenario": "baseline", "rnus": 10})
    assert r.status_code == 422 and "rnus" in r.json()["detail"]
    r = builtin.post("/api/simulate", json={"scenario": "baseline", "runs": 0})
    assert r.status_code == 422 and "runs" in r.json()["detail"]
    r = builtin.post(
        "/api/simulate",
        json={"scenario": "baseline", "runs": 10, "overrides": {"parameters.fund_crowding": "lots"}},
    )
    assert r.status_code == 422
    body = r.json()
    assert body["problems"] and "fund_crowding" in body["detail"]


def test_simulate_export_csv_and_parquet_hold_the_bands(builtin):
    body = {"scenario": "baseline", "runs": 12, "seed": 1}
    result = builtin.post("/api/simulate", json=body).json()
    r = builtin.post("/api/simulate/export", params={"format": "csv"}, json=body)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    csv = pd.read_csv(io.StringIO(r.text))
    r = builtin.post("/api/simulate/export", params={"format": "parquet"}, json=body)
    assert r.status_code == 200
    pq = pd.read_parquet(io.BytesIO(r.content))
    for frame in (csv, pq):
        assert list(frame.columns) == ["scenario", "sector", "output", "year", "p5", "p50", "p95"]
        n_sectors = len(result["series"])
        n_outputs = len(next(iter(result["series"].values())))
        assert len(frame) == n_sectors * n_outputs * len(result["years"])
        row = frame[
            (frame["sector"] == "semiconductors") & (frame["output"] == "self_sufficiency")
        ].sort_values("year")
        assert row["p50"].tolist() == pytest.approx(
            result["series"]["semiconductors"]["self_sufficiency"]["p50"]
        )
    assert builtin.post("/api/simulate/export", params={"format": "xls"}, json=body).status_code == 422


# ---- the contract -------------------------------------------------------------------------------


def test_openapi_declares_a_model_for_every_endpoint(mini):
    spec = ok(mini, "/openapi.json")
    assert spec["paths"], "no paths"
    for path, ops in spec["paths"].items():
        assert path.startswith("/api/"), path
        for method, op in ops.items():
            ok_resp = op["responses"]["200"]
            content = ok_resp.get("content", {})
            if path == "/api/simulate/export":
                assert "text/csv" in content
                continue
            schema = content["application/json"]["schema"]
            assert schema and schema != {}, f"{method} {path} has no response schema"
            for code in ("400", "422"):
                assert code in op["responses"], f"{method} {path} does not declare {code}"
    assert mini.get("/docs").status_code == 200


def test_dashboard_and_assets_are_served_from_packages(mini):
    page = mini.get("/")
    assert page.status_code == 200 and "/static/app.js" in page.text
    assert "http://" not in page.text and "https://" not in page.text
    js = mini.get("/assets/plotly.min.js")
    assert js.status_code == 200 and len(js.content) > 1_000_000
    for asset in ("app.js", "util.js", "graph.js", "views.js", "lab.js", "app.css"):
        assert mini.get(f"/static/{asset}").status_code == 200
    r = mini.get("/api/nothing-here")
    assert r.status_code == 404 and r.json()["detail"]
    r = mini.delete("/api/health")
    assert r.status_code == 405 and "GET" in r.headers["allow"]


def test_the_api_never_changes_the_store(mini_db, mini):
    before = hashlib.sha256(mini_db.read_bytes()).hexdigest()
    for url in (
        "/api/health",
        "/api/entities/cn-chipco/owners",
        "/api/flows",
        "/api/entities/cn-fund/stakes",
    ):
        ok(mini, url)
    assert hashlib.sha256(mini_db.read_bytes()).hexdigest() == before


def test_missing_store_is_503(tmp_path):
    with TestClient(create_app(tmp_path / "nothing.duckdb")) as client:
        r = client.get("/api/health")
        assert r.status_code == 503 and "no store" in r.json()["detail"]


FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(q=st.text(max_size=40))
def test_search_never_fails_on_any_text(mini, q):
    r = mini.get("/api/entities", params={"q": q})
    assert r.status_code in (200, 400, 422), r.text
    if r.status_code != 200:
        assert r.json()["detail"]


@FUZZ
@given(key=st.text(alphabet=st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=40),
       path=st.sampled_from(["", "/owners", "/control", "/stakes", "/screen"]))  # fmt: skip
def test_any_entity_key_is_found_or_404(mini, key, path):
    r = mini.get(f"/api/entities/{quote(key, safe='')}{path}")
    assert r.status_code in (200, 404, 422), r.text
    assert r.json()


@FUZZ
@given(day=st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2200, 12, 31)),
       limit=st.integers(1, 500), offset=st.integers(0, 10))  # fmt: skip
def test_any_date_and_page_answer(mini, day, limit, offset):
    for url in ("/api/entities/cn-chipco/owners", "/api/entities/cn-fund/stakes"):
        r = mini.get(url, params={"as_of": day.isoformat(), "limit": limit, "offset": offset})
        assert r.status_code == 200, r.text
        body = r.json()
        items = body["owners"] if "owners" in body else body["edges"]
        assert len(items) <= limit
