"""Indicators on a small hand-made atlas whose answers are worked out below."""

from __future__ import annotations

import json

import pytest
import yaml

from statecap.queries.indicators import indicators_report
from statecap.store.build import build_store
from statecap.store.db import connect

from .conftest import run_cli

SRC = ["src-t"]


def _ent(i, kind="company", sectors=("semiconductors.fabrication",), country="cn", level=None):
    e = {"id": i, "name": i, "kind": kind, "country": country, "sectors": list(sectors), "sources": SRC}
    if level:
        e["level"] = level
    return e


@pytest.fixture(scope="module")
def atlas_db(tmp_path_factory):
    root = tmp_path_factory.mktemp("ind")
    data = {
        "sources": [
            {
                "id": "src-t",
                "url": "https://t.example",
                "publisher": "t",
                "title": "t",
                "accessed": "2026-01-01",
            }
        ],
        "entities": [
            _ent("cn-organ", "state_organ", (), level="central"),
            _ent("cn-soe"),  # 100% held by the organ: state-controlled
            _ent("cn-priv"),  # no state holder: private
            _ent("de-target", "foreign_company", country="de"),
            _ent("us-target", "foreign_company", country="us"),
            _ent("cn-target"),
            _ent("us-bis", "foreign_government", (), country="us"),
        ],
        "stakes": [{"owner": "cn-organ", "owned": "cn-soe", "share": 100, "sources": SRC}],
        "financials": [
            # SOE: ROA 2% and 4%; liabilities/assets 60% and 70%; R&D 5% and 10% of revenue
            {
                "entity": "cn-soe",
                "year": 2020,
                "currency": "CNY",
                "net_profit": 2,
                "total_assets": 100,
                "total_liabilities": 60,
                "revenue": 40,
                "rd_expense": 2,
                "sources": SRC,
            },
            {
                "entity": "cn-soe",
                "year": 2021,
                "currency": "CNY",
                "net_profit": 4,
                "total_assets": 100,
                "total_liabilities": 70,
                "revenue": 40,
                "rd_expense": 4,
                "sources": SRC,
            },
            # private: ROA 8% in 2020, ROE 8 / (100 - 50) = 16%
            {
                "entity": "cn-priv",
                "year": 2020,
                "currency": "CNY",
                "net_profit": 8,
                "total_assets": 100,
                "total_liabilities": 50,
                "sources": SRC,
            },
        ],
        "acquisitions": [
            {
                "id": "acq-1",
                "acquirer": "cn-soe",
                "target": "de-target",
                "announced": "2016",
                "closed": "2016-10",
                "status": "blocked",
                "value": 100,
                "currency": "CNY",
                "sources": SRC,
            },
            {
                "id": "acq-2",
                "acquirer": "cn-priv",
                "target": "us-target",
                "announced": "2017",
                "closed": "2017-05",
                "status": "completed",
                "value": 300,
                "currency": "CNY",
                "sources": SRC,
            },
            {
                "id": "acq-3",
                "acquirer": "cn-priv",
                "target": "us-target",
                "announced": "2018",
                "status": "pending",
                "sources": SRC,
            },
            {
                "id": "acq-4",
                "acquirer": "cn-soe",
                "target": "cn-target",
                "announced": "2018",
                "closed": "2018-03",
                "status": "completed",
                "value": 50,
                "currency": "CNY",
                "sources": SRC,
            },
        ],
        "designations": [
            {"entity": "cn-soe", "list": "bis_entity_list", "start": "2019-05-16", "sources": SRC},
            {
                "entity": "cn-priv",
                "list": "bis_entity_list",
                "start": "2020-12-18",
                "end": "2021-06-01",
                "sources": SRC,
            },
        ],
        "investments": [
            # state money into semiconductors: 10 before the event (2019-01), 30 after (2021-01)
            {
                "investor": "cn-organ",
                "investee": "cn-soe",
                "mechanism": "direct_equity",
                "amount": 10,
                "currency": "CNY",
                "date": "2019-01-01",
                "sources": SRC,
            },
            {
                "investor": "cn-organ",
                "investee": "cn-soe",
                "mechanism": "direct_equity",
                "amount": 30,
                "currency": "CNY",
                "date": "2021-01-01",
                "sources": SRC,
            },
            {
                "investor": "cn-priv",
                "investee": "cn-priv",
                "mechanism": "direct_rd",
                "amount": 60,
                "currency": "CNY",
                "date": "2021-06-01",
                "sources": SRC,
            },
        ],
        "policy_events": [
            {
                "id": "pe-rule",
                "date": "2020-06-01",
                "authority": "us-bis",
                "kind": "export_control",
                "title": "rule",
                "sectors": ["semiconductors"],
                "sources": SRC,
            },
        ],
    }
    for folder, recs in data.items():
        (root / folder).mkdir()
        (root / folder / "x.yaml").write_text(yaml.safe_dump(json.loads(json.dumps(recs))))
    db = root / "ind.duckdb"
    build_store(root, db)
    return db


def _ind(report, key):
    return next(i for i in report["indicators"] if i["id"] == key)


def test_efficiency_state_vs_private(atlas_db):
    with connect(atlas_db) as con:
        r = indicators_report(con)
    eff = _ind(r, "efficiency")
    cell = {(v["group"], v["year"], v["metric"]): v["median"] for v in eff["values"]}
    assert cell[("state", 2020, "roa")] == pytest.approx(2.0)
    assert cell[("state", 2021, "roa")] == pytest.approx(4.0)
    assert cell[("private", 2020, "roa")] == pytest.approx(8.0)
    assert cell[("private", 2020, "roe")] == pytest.approx(16.0)
    gap = {(g["sector"], g["year"]): g["gap_pp"] for g in eff["gap"]}
    assert gap == {("semiconductors", 2020): pytest.approx(-6.0)}
    assert "financials:fin:cn-soe:2020" in eff["records"]


def test_distortion_and_headwinds(atlas_db):
    with connect(atlas_db) as con:
        r = indicators_report(con)
    dist = {v["sector"]: v for v in _ind(r, "market_distortion")["values"]}
    # semiconductors flows: organ 10 + 30 (state), private R&D 60, completed acquisitions 300 + 50 (SOE's 50 state)
    semi = dist["semiconductors"]
    assert semi["amount"] == pytest.approx(450)
    assert semi["share_lo"] == pytest.approx(100 * 90 / 450)
    head = _ind(r, "geopolitical_headwinds")
    s = head["summary"]
    # overseas decided deals: acq-1 blocked, acq-2 completed (acq-3 pending, acq-4 domestic)
    assert s["deals"] == 2 and s["failed"] == 1 and s["blocked_share_pct"] == pytest.approx(50.0)
    des = {(d["year"], d["list"]): d["entities"] for d in head["designations"]}
    assert des[(2019, "bis_entity_list")] == 1
    assert des[(2020, "bis_entity_list")] == 2
    assert des[(2021, "bis_entity_list")] == 1  # cn-priv removed mid-2021


def test_debt_innovation_and_drivers(atlas_db):
    with connect(atlas_db) as con:
        r = indicators_report(con)
    debt = {v["year"]: v["median"] for v in _ind(r, "debt")["values"]}
    assert debt == {2020: pytest.approx(60.0), 2021: pytest.approx(70.0)}
    rd = {v["year"]: v["median"] for v in _ind(r, "innovation")["values"]}
    assert rd == {2020: pytest.approx(5.0), 2021: pytest.approx(10.0)}
    drv = _ind(r, "drivers_timeline")["values"]
    assert len(drv) == 1
    ev = drv[0]
    # 24 months before 2020-06-01 start on 2018-06-01: the 10 of 2019-01 counts, the SOE's 2018-03
    # acquisition does not; after: the 30 of 2021-01 (the private R&D has no state part)
    assert ev["before_lo"] == pytest.approx(10) and ev["after_lo"] == pytest.approx(30)
    assert ev["records_before"] == 1 and ev["records_after"] == 2


def test_indicators_cli_json(atlas_db):
    data = json.loads(run_cli("indicators", "--db", str(atlas_db), "--json", check=True).stdout)
    ids = {i["id"] for i in data["indicators"]}
    assert ids == {
        "efficiency",
        "market_distortion",
        "geopolitical_headwinds",
        "debt",
        "innovation",
        "drivers_timeline",
    }
    for ind in data["indicators"]:
        assert {"id", "name", "unit", "years", "values", "records"} <= set(ind)


def test_indicator_frames_and_csv(atlas_db):
    from statecap.queries.indicators import indicator_frames

    with connect(atlas_db) as con:
        frames = indicator_frames(con)
    assert set(frames["debt"].columns) >= {"year", "median", "firms"}
    out = run_cli("indicators", "--db", str(atlas_db), "--csv", check=True).stdout.splitlines()
    assert out[0].startswith("indicator,unit,")
    assert any(line.startswith("debt,") for line in out[1:])
