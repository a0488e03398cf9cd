"""Flows on the mini atlas, worked out by hand (see tests/fixtures/mini).

The mini atlas: organ A (central) holds 60% and organ B (provincial) 40% of a guidance fund.
The fund holds 20% of ChipCo (from 2015), 50% of ChipDesign (2016-06 to 2020-01) and an
unknown stake in AICo (2018). Money: the organs commit 600m + 400m to the fund (not flows by
themselves); the fund invests 200m in ChipCo (2015), 100m in ChipDesign (2016), 50m in AICo
(2018); ChipCo spends 300m on R&D in 2020; ChipDesign spends 100m in 2018 and 100m in 2021.
ChipCo's bid for ChipDesign was blocked: no money moved.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from statecap.queries.flows import flows_report, trace
from statecap.store.build import build_store
from statecap.store.db import connect

from .conftest import run_cli

M = 1e6


def rows_by(report, *keys):
    return {tuple(r[k] for k in keys): r for r in report["rows"]}


def test_by_sector_mechanism_hand_computed(mini_db):
    with connect(mini_db) as con:
        r = flows_report(con, ["sector", "mechanism"])
    rows = rows_by(r, "sector", "mechanism")
    assert set(rows) == {
        ("semiconductors", "guidance_fund"),
        ("semiconductors", "direct_rd"),
        ("ai", "guidance_fund"),
    }
    g = rows[("semiconductors", "guidance_fund")]
    assert g["amount"] == pytest.approx(300 * M)
    assert g["state_attributed"] == {"lo": pytest.approx(300 * M), "hi": pytest.approx(300 * M)}
    assert g["records"] == 2
    rd = rows[("semiconductors", "direct_rd")]
    # ChipCo 300m x 20% + ChipDesign 2018 100m x 50% + ChipDesign 2021 100m x 0% (stake ended 2020)
    assert rd["amount"] == pytest.approx(500 * M)
    assert rd["state_attributed"]["lo"] == pytest.approx(110 * M)
    assert rd["state_attributed"]["hi"] == pytest.approx(110 * M)
    assert rows[("ai", "guidance_fund")]["state_attributed"]["lo"] == pytest.approx(50 * M)
    assert r["total"]["amount"] == pytest.approx(850 * M)
    assert r["total"]["state_attributed"]["lo"] == pytest.approx(460 * M)
    # commitments into the fund are counted once, at the fund's investments
    assert r["fund_commitments"]["committed"] == pytest.approx(1000 * M)


def test_by_level_splits_the_fund_between_its_organs(mini_db):
    with connect(mini_db) as con:
        r = flows_report(con, ["sector", "level"])
    rows = rows_by(r, "sector", "level")
    # central: 60% of (200 + 100) fund money + 60% x 20% x 300 + 60% x 50% x 100
    assert rows[("semiconductors", "central")]["state_attributed"]["lo"] == pytest.approx(246 * M)
    assert rows[("semiconductors", "provincial")]["state_attributed"]["lo"] == pytest.approx(164 * M)
    assert rows[("ai", "central")]["state_attributed"]["hi"] == pytest.approx(30 * M)
    assert rows[("ai", "provincial")]["state_attributed"]["hi"] == pytest.approx(20 * M)
    # ChipDesign's 2021 R&D has no state organ behind it
    assert rows[("semiconductors", "none")]["amount"] == pytest.approx(100 * M)
    assert rows[("semiconductors", "none")]["state_attributed"]["hi"] == 0


def test_currency_conversion_with_annual_rates(mini_db):
    with connect(mini_db) as con:
        r = flows_report(con, ["year"], currency="USD")
    rows = rows_by(r, "year")
    assert rows[(2015,)]["amount"] == pytest.approx(40 * M)  # 200m CNY at 5 (2014/2016 both 5)
    assert rows[(2018,)]["amount"] == pytest.approx(18.75 * M)  # (50m + 100m) at 8
    assert rows[(2021,)]["amount"] == pytest.approx(12.5 * M)  # no 2021 rate: nearest year, 2020
    assert r["total"]["amount"] == pytest.approx(128.75 * M)
    assert r["notes"]["rate_fallbacks"] == 2  # 2015 and 2021 used a neighbouring year's rate


def test_as_of_and_year_window(mini_db):
    with connect(mini_db) as con:
        early = flows_report(con, ["sector"], as_of=dt.date(2017, 1, 1))
        window = flows_report(con, ["sector"], year_from=2018, year_to=2020)
    assert early["total"]["amount"] == pytest.approx(300 * M)
    assert window["total"]["amount"] == pytest.approx(450 * M)  # AICo 50 + ChipDesign 100 + ChipCo 300


def test_trace_follows_holdings(mini_db):
    with connect(mini_db) as con:
        t = trace(con, "cn-organ-b")
    # 40% of the fund's 350m, 8% of ChipCo's 300m R&D, 20% of ChipDesign's 2018 R&D
    assert t["outgoing_total"]["lo"] == pytest.approx(140 * M + 24 * M + 20 * M)
    assert {r["via"] for r in t["outgoing"]} == {"cn-fund", "cn-chipco", "cn-chipdesign"}
    assert [c["fund"] for c in t["fund_commitments"]] == ["cn-fund"]
    with connect(mini_db) as con:
        t = trace(con, "cn-chipco")
    assert [r["record"] for r in t["incoming"]][:1] == ["spending:spend:cn-chipco:rd:2020"]
    funds = [r for r in t["incoming"] if r["record"].startswith("investments:")]
    assert funds[0]["payers"][0]["id"] == "cn-fund"


def test_cli_contract(mini_db):
    data = json.loads(
        run_cli("flows", "--by", "sector,mechanism", "--db", str(mini_db), "--json", check=True).stdout
    )
    assert data["by"] == ["sector", "mechanism"] and data["currency"] == "CNY"
    row = data["rows"][0]
    assert {"sector", "mechanism", "amount", "state_attributed", "records"} <= set(row)
    assert set(row["state_attributed"]) == {"lo", "hi"}
    bad = run_cli("flows", "--by", "colour", "--db", str(mini_db))
    assert bad.returncode == 2 and "colour" in bad.stderr
    csv_out = run_cli("flows", "--by", "sector", "--csv", "--db", str(mini_db), check=True).stdout
    assert csv_out.splitlines()[0] == "sector,amount,state_lo,state_hi,records"


# --- property: conservation on random atlases --------------------------------------------------


@st.composite
def atlas(draw):
    n = draw(st.integers(3, 7))
    kinds = ["state_organ"] + [
        draw(st.sampled_from(["company", "state_fund", "central_soe"])) for _ in range(n - 1)
    ]
    ents = [{"id": f"cn-e{i}", "name": f"E{i}", "kind": k, "sectors": [draw(st.sampled_from(["ai", "quantum"]))],
             "sources": ["src-a"]} for i, k in enumerate(kinds)]  # fmt: skip
    stakes, room = [], [100.0] * n
    for _ in range(draw(st.integers(0, 12))):
        a, b = draw(st.integers(0, n - 1)), draw(st.integers(1, n - 1))
        if a == b or any(s["owner"] == f"cn-e{a}" and s["owned"] == f"cn-e{b}" for s in stakes):
            continue
        kind = draw(st.sampled_from(["exact", "range", "unknown"]))
        if kind == "unknown":
            share = "unknown"
        else:
            x = draw(st.floats(0, room[b]))
            share = x if kind == "exact" else [x * 0.5, x]
            room[b] -= x
        stakes.append({"owner": f"cn-e{a}", "owned": f"cn-e{b}", "share": share, "sources": ["src-a"]})
    invs = [{"id": f"inv-{k}", "investor": f"cn-e{draw(st.integers(0, n - 1))}", "investee": f"cn-e{draw(st.integers(1, n - 1))}",
             "mechanism": "direct_equity", "amount": draw(st.integers(1, 10**9)), "currency": "CNY",
             "date": f"{draw(st.integers(2015, 2024))}", "sources": ["src-a"]} for k in range(draw(st.integers(1, 6)))]  # fmt: skip
    return ents, stakes, invs


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(atlas())
def test_attributed_never_exceeds_amount(tmp_path_factory, data):
    ents, stakes, invs = data
    root = tmp_path_factory.mktemp("atlas")
    for folder, recs in (("entities", ents), ("stakes", stakes), ("investments", invs),
                         ("sources", [{"id": "src-a", "url": "https://a.example", "publisher": "p", "title": "t",
                                       "accessed": "2026-01-01"}])):  # fmt: skip
        (root / folder).mkdir()
        (root / folder / "x.yaml").write_text(yaml.safe_dump(json.loads(json.dumps(recs))))
    db = root / "s.duckdb"
    build_store(root, db)
    with connect(db) as con:
        r = flows_report(con, ["sector", "mechanism"])
    for row in r["rows"]:
        lo, hi = row["state_attributed"]["lo"], row["state_attributed"]["hi"]
        assert -1e-6 <= lo <= hi + 1e-6
        assert hi <= row["amount"] * (1 + 1e-9) + 1e-6
    counted = sum(
        i["amount"] for i in invs if next(e for e in ents if e["id"] == i["investee"])["kind"] != "state_fund"
    )
    assert r["total"]["amount"] == pytest.approx(counted)


def test_money_into_state_intermediaries_is_counted_where_they_invest(tmp_path):
    """MoF funds a sectorless holding company and a policy bank; only their own investments count."""
    recs = {
        "sources": [{"id": "src-a", "url": "https://a.example", "publisher": "p", "title": "t", "accessed": "2026-01-01"}],
        "entities": [
            {"id": "cn-mof", "name": "MoF", "kind": "state_organ", "level": "central", "sources": ["src-a"]},
            {"id": "cn-holdco", "name": "HoldCo", "kind": "central_soe", "sources": ["src-a"]},
            {"id": "cn-bank", "name": "Bank", "kind": "policy_bank", "sources": ["src-a"]},
            {"id": "cn-fab", "name": "Fab", "kind": "company", "sectors": ["semiconductors.fabrication"], "sources": ["src-a"]},
        ],
        "stakes": [
            {"owner": "cn-mof", "owned": "cn-holdco", "share": 100, "sources": ["src-a"]},
            {"owner": "cn-holdco", "owned": "cn-bank", "share": 50, "sources": ["src-a"]},
        ],
        "investments": [
            {"investor": "cn-mof", "investee": "cn-holdco", "mechanism": "direct_equity", "amount": 1000,
             "currency": "CNY", "date": "2015", "sources": ["src-a"]},
            {"investor": "cn-holdco", "investee": "cn-bank", "mechanism": "direct_equity", "amount": 500,
             "currency": "CNY", "date": "2016", "sources": ["src-a"]},
            {"investor": "cn-bank", "investee": "cn-fab", "mechanism": "policy_bank_credit", "kind": "loan",
             "amount": 80, "currency": "CNY", "date": "2017", "sources": ["src-a"]},
        ],
    }  # fmt: skip
    for folder, rows in recs.items():
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "x.yaml").write_text(yaml.safe_dump(rows))
    build_store(tmp_path, tmp_path / "s.duckdb")
    with connect(tmp_path / "s.duckdb") as con:
        r = flows_report(con, ["sector", "mechanism"])
    assert [(x["sector"], x["mechanism"]) for x in r["rows"]] == [("semiconductors", "policy_bank_credit")]
    assert r["total"]["amount"] == pytest.approx(80)
    # the bank is half state-held (through the holding company): 40 of its 80 is the state's
    assert r["total"]["state_attributed"]["lo"] == pytest.approx(40)
    assert r["fund_commitments"]["committed"] == pytest.approx(1500)


def test_builtin_every_sector_and_mechanism_has_money(builtin_db):
    from statecap.model.taxonomy import load_taxonomy

    tax = load_taxonomy()
    with connect(builtin_db) as con:
        r = flows_report(con, ["sector", "mechanism"])
    by_sector: dict[str, float] = {}
    by_mech: dict[str, float] = {}
    for row in r["rows"]:
        by_sector[row["sector"]] = by_sector.get(row["sector"], 0) + row["amount"]
        by_mech[row["mechanism"]] = by_mech.get(row["mechanism"], 0) + row["amount"]
        assert row["state_attributed"]["hi"] <= row["amount"] * (1 + 1e-9)
    assert {s for s in tax.top_sectors if by_sector.get(s, 0) <= 0} == set()
    assert {m for m in tax.mechanisms if by_mech.get(m, 0) <= 0} == set()
