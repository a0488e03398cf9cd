"""Capital flows on both engines: the mini atlas's hand-worked numbers, and Spark against local on
generated atlases (dated, ranged, unknown and cyclic stakes; funds, policy banks and sectorless
holding companies; every record type; currencies with gaps in their rates and one without any).

Each engine computes each report once (cached per test process): Spark's rounds are paid once.
"""

from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from statecap.engines import open_source
from tests.spark_support import ENGINES, make_engine, spark_engine  # noqa: F401  (a fixture, used by name)

M = 1e6


# ---- registries ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mini_registry(mini_db, tmp_path_factory):
    """The mini atlas exported to Parquet (entities in store order)."""
    from statecap.engines import store_to_parquet
    from statecap.store.db import connect

    folder = tmp_path_factory.mktemp("mini-pq")
    with connect(mini_db) as con:
        store_to_parquet(con, folder)
    return folder


SECTORS = ["semiconductors.design", "semiconductors.fabrication", "ai.models", "ai", "quantum.computing",
           "new_energy.batteries", "telecom.5g", "biotech"]  # fmt: skip
MECHANISMS = ["guidance_fund", "direct_equity", "direct_rd", "tech_park", "policy_bank_credit"]
SPENDING = ["rd", "capex", "capex_5g", "subsidy_received", "tax_incentive", "policy_loan"]
PARTNERSHIPS = ["talent_programme", "university_partnership", "research_partnership", "tech_park_support"]


def _day(rng: np.random.Generator, p_none: float = 0.0) -> dt.date | None:
    if rng.random() < p_none:
        return None
    return dt.date(2012, 1, 1) + dt.timedelta(days=int(rng.integers(0, 13 * 365)))


def write_atlas(folder, seed: int) -> None:
    """A random atlas as Parquet with the store's columns (see the module doc)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    ents: list[dict] = []
    levels = ["central", "provincial", "municipal"]
    for i in range(3):
        ents.append({"id": f"cn-organ{i}", "kind": "state_organ", "level": levels[i], "sectors": None})
    ents.append({"id": "cn-organ-x", "kind": "state_organ", "level": None, "sectors": None})
    for i in range(3):
        ents.append({"id": f"cn-fund{i}", "kind": "state_fund", "level": None, "sectors": None})
    ents.append({"id": "cn-bank", "kind": "policy_bank", "level": None, "sectors": None})
    ents.append({"id": "cn-holdco", "kind": "central_soe", "level": None, "sectors": []})
    ents.append({"id": "cn-soe", "kind": "local_soe", "level": None, "sectors": ["telecom.5g"]})
    for i in range(18):
        k = int(rng.integers(0, 3))
        secs = sorted({SECTORS[int(j)] for j in rng.integers(0, len(SECTORS), size=k)}) if k else []
        ents.append(
            {"id": f"cn-co{i}", "kind": "company", "level": None, "sectors": secs if k or i % 2 else None}
        )
    ents.append({"id": "us-co", "kind": "foreign_company", "level": None, "sectors": ["ai.models"]})
    ids = [e["id"] for e in ents]
    owners_pool = ids[:11] + ids[11:20]
    stakes = []
    for k in range(60):
        o = owners_pool[int(rng.integers(0, len(owners_pool)))]
        d = ids[int(rng.integers(4, len(ids)))]
        if o == d:
            continue
        r = rng.random()
        x = round(float(rng.uniform(5, 70)), 2)
        lo, hi = (0.0, 100.0) if r < 0.15 else ((round(x * 0.6, 2), x) if r < 0.4 else (x, x))
        start = _day(rng, 0.5)
        end = (
            None
            if rng.random() < 0.6
            else (start or dt.date(2012, 1, 1)) + dt.timedelta(days=int(rng.integers(200, 3000)))
        )
        stakes.append({
            "id": f"st{k}", "owner": o, "owned": d, "share_lo": lo, "share_hi": hi,
            "share_kind": "unknown" if (lo, hi) == (0.0, 100.0) else ("range" if lo != hi else "exact"),
            "type": "equity" if rng.random() < 0.9 else "voting", "direct": bool(rng.random() < 0.9),
            "valid_from": start, "valid_to": end,
        })  # fmt: skip
    currencies = ["CNY", "CNY", "USD", "EUR", "HKD", "XXX"]
    companies = [e for e in ids if e.startswith("cn-co")] + ["cn-soe", "us-co"]
    intermediaries = ["cn-fund0", "cn-fund1", "cn-fund2", "cn-bank", "cn-holdco"]
    inv = []
    for k in range(40):
        payer = ids[int(rng.integers(0, len(ids)))]
        investee = (
            intermediaries[int(rng.integers(0, len(intermediaries)))] if rng.random() < 0.25
            else (None if rng.random() < 0.05 else companies[int(rng.integers(0, len(companies)))])
        )  # fmt: skip
        inv.append({
            "id": f"inv{k:02d}", "investor": payer, "investee": investee,
            "sector": SECTORS[int(rng.integers(0, len(SECTORS)))] if rng.random() < 0.2 else None,
            "mechanism": MECHANISMS[int(rng.integers(0, len(MECHANISMS)))],
            "amount": None if rng.random() < 0.05 else float(rng.integers(1, 5000)) * M,
            "currency": currencies[int(rng.integers(0, len(currencies)))], "date": _day(rng, 0.05),
        })  # fmt: skip
    spending = [
        {
            "id": f"sp{k:02d}", "entity": companies[int(rng.integers(0, len(companies)))],
            "year": int(rng.integers(2012, 2026)), "category": SPENDING[int(rng.integers(0, len(SPENDING)))],
            "amount": float(rng.integers(1, 900)) * M, "currency": currencies[int(rng.integers(0, 5))],
            "sector": "ai.chips" if k % 7 == 0 else None,
        }
        for k in range(25)
    ]  # fmt: skip
    acq = [
        {
            "id": f"acq{k}", "acquirer": ids[int(rng.integers(4, len(ids)))], "target": companies[int(rng.integers(0, len(companies)))],
            "announced": _day(rng), "closed": _day(rng, 0.5),
            "status": ["completed", "divested", "blocked", "pending", "abandoned"][k % 5],
            "value": None if k % 6 == 5 else float(rng.integers(10, 3000)) * M,
            "currency": currencies[int(rng.integers(0, 5))], "sector": None,
        }
        for k in range(12)
    ]  # fmt: skip
    jvs, partners = [], []
    for k in range(6):
        jvs.append({
            "id": f"jv{k}", "entity": companies[k] if k % 3 else None, "name": f"JV {k}",
            "sector": "biotech" if k == 4 else None, "valid_from": _day(rng, 0.15),
            "amount": None if k == 5 else float(rng.integers(10, 900)) * M, "currency": currencies[k % 5],
        })  # fmt: skip
        for j in range(int(rng.integers(1, 4))):
            a = round(float(rng.uniform(10, 50)), 2)
            partners.append({
                "jv": f"jv{k}", "partner": ids[int(rng.integers(0, len(ids)))], "share_lo": a,
                "share_hi": a if j % 2 else min(100.0, a + 15), "share_kind": "exact" if j % 2 else "range",
            })  # fmt: skip
    parts, parties = [], []
    for k in range(5):
        parts.append({
            "id": f"pt{k}", "kind": PARTNERSHIPS[k % len(PARTNERSHIPS)], "name": f"P {k}",
            "sector": None if k % 2 else "quantum", "valid_from": _day(rng, 0.1),
            "amount": None if k == 4 else float(rng.integers(1, 300)) * M, "currency": currencies[k % 4],
        })  # fmt: skip
        for j in range(1 + k % 3):
            parties.append(
                {"partnership": f"pt{k}", "party": ids[int(rng.integers(0, len(ids)))], "position": j}
            )
    obs = []
    for cur, years in (("usd", range(2012, 2026, 2)), ("eur", (2015, 2020)), ("hkd", (2018,))):
        for y in years:
            obs.append({"id": f"fx-{cur}-{y}", "series": f"fx_cny_per_{cur}", "year": y,
                        "value": round(float(rng.uniform(0.8, 8.0)), 4), "unit": "CNY"})  # fmt: skip
    obs.append({"id": "fx-usd-2014b", "series": "fx_cny_per_usd", "year": 2014, "value": 6.5, "unit": "CNY"})
    obs.append({"id": "gdp", "series": "gdp", "year": 2020, "value": 1.0, "unit": "CNY"})

    def put(name: str, rows: list[dict], schema: list[tuple[str, pa.DataType]]) -> None:
        pq.write_table(
            pa.table({c: [r.get(c) for r in rows] for c, _ in schema}, schema=pa.schema(schema)),
            folder / f"{name}.parquet",
        )

    s, d, f, i, b, ls = pa.string(), pa.date32(), pa.float64(), pa.int32(), pa.bool_(), pa.list_(pa.string())
    for e in ents:
        e["name"] = e["id"].upper()
    put("entities", ents, [("id", s), ("name", s), ("kind", s), ("level", s), ("sectors", ls)])
    put("stakes", stakes, [("id", s), ("owner", s), ("owned", s), ("share_lo", f), ("share_hi", f),
                           ("share_kind", s), ("type", s), ("direct", b), ("valid_from", d), ("valid_to", d)])  # fmt: skip
    put("investments", inv, [("id", s), ("investor", s), ("investee", s), ("sector", s), ("mechanism", s),
                             ("amount", f), ("currency", s), ("date", d)])  # fmt: skip
    put("spending", spending, [("id", s), ("entity", s), ("year", i), ("category", s), ("amount", f),
                               ("currency", s), ("sector", s)])  # fmt: skip
    put("acquisitions", acq, [("id", s), ("acquirer", s), ("target", s), ("announced", d), ("closed", d),
                              ("status", s), ("value", f), ("currency", s), ("sector", s)])  # fmt: skip
    put("joint_ventures", jvs, [("id", s), ("entity", s), ("name", s), ("sector", s), ("valid_from", d),
                                ("amount", f), ("currency", s)])  # fmt: skip
    put(
        "jv_partners",
        partners,
        [("jv", s), ("partner", s), ("share_lo", f), ("share_hi", f), ("share_kind", s)],
    )
    put("partnerships", parts, [("id", s), ("kind", s), ("name", s), ("sector", s), ("valid_from", d),
                                ("amount", f), ("currency", s)])  # fmt: skip
    put("partnership_parties", parties, [("partnership", s), ("party", s), ("position", i)])
    put("observations", obs, [("id", s), ("series", s), ("year", i), ("value", f), ("unit", s)])


@pytest.fixture(scope="module")
def atlas(tmp_path_factory):
    folder = tmp_path_factory.mktemp("flows-atlas")
    write_atlas(folder, 20261130)
    return folder


# ---- reports, once per engine ----------------------------------------------------------------------

_CACHE: dict[tuple, dict] = {}


def report(request, engine: str, folder, by, **kw) -> dict:
    key = (engine, str(folder), tuple(by), tuple(sorted(kw.items())))
    if key not in _CACHE:
        _CACHE[key] = make_engine(engine, request).flows_report(open_source(folder), by, **kw)
    return _CACHE[key]


def rows_by(r: dict, *keys: str) -> dict:
    return {tuple(x[k] for k in keys): x for x in r["rows"]}


def close(a: float, b: float) -> bool:
    """Equal within 1e-9, relative to the amount (money is in currency units, up to 1e12)."""
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def assert_same(local: dict, spark: dict) -> None:
    """Same keys, rows (in order), record counts and notes; amounts within 1e-9 (relative)."""
    assert set(local) == set(spark)
    for key in ("by", "currency", "as_of", "from", "to", "notes"):
        assert local[key] == spark[key], key
    assert [[r[k] for k in local["by"]] for r in local["rows"]] == [
        [r[k] for k in spark["by"]] for r in spark["rows"]
    ]
    for a, b in zip([local["total"], *local["rows"]], [spark["total"], *spark["rows"]], strict=True):
        assert a["records"] == b["records"]
        assert close(a["amount"], b["amount"]), (a, b)
        for side in ("lo", "hi"):
            assert close(a["state_attributed"][side], b["state_attributed"][side]), (a, b)
    assert local["fund_commitments"]["records"] == spark["fund_commitments"]["records"]
    assert close(local["fund_commitments"]["committed"], spark["fund_commitments"]["committed"])


# ---- the mini atlas, worked by hand (tests/test_flows.py), on both engines -------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_mini_by_sector_mechanism_and_level(request, mini_registry, engine):
    r = report(request, engine, mini_registry, ["sector", "mechanism", "level"])
    assert r["engine"] == engine
    rows = rows_by(r, "sector", "mechanism", "level")
    # the fund's 200m + 100m semiconductor investments: 60% central (organ A), 40% provincial (organ B)
    g = rows[("semiconductors", "guidance_fund", "central")]
    assert g["state_attributed"]["lo"] == pytest.approx(180 * M) and g["records"] == 2
    assert rows[("semiconductors", "guidance_fund", "provincial")]["state_attributed"]["hi"] == pytest.approx(
        120 * M
    )
    # ChipCo 300m R&D x 20% + ChipDesign 2018 100m x 50%, split 60/40; ChipDesign 2021 has no state behind it
    assert rows[("semiconductors", "direct_rd", "central")]["state_attributed"]["lo"] == pytest.approx(66 * M)
    assert rows[("semiconductors", "direct_rd", "provincial")]["state_attributed"]["lo"] == pytest.approx(
        44 * M
    )
    assert rows[("semiconductors", "direct_rd", "none")]["amount"] == pytest.approx(100 * M)
    assert r["total"]["amount"] == pytest.approx(850 * M)
    assert r["total"]["state_attributed"]["lo"] == pytest.approx(460 * M)
    assert r["fund_commitments"]["committed"] == pytest.approx(1000 * M)


@pytest.mark.parametrize("engine", ENGINES)
def test_mini_years_in_dollars(request, mini_registry, engine):
    r = report(request, engine, mini_registry, ["year"], currency="USD", year_from=2016, year_to=2021)
    rows = rows_by(r, "year")
    assert set(rows) == {(2016,), (2018,), (2020,), (2021,)}
    assert rows[(2018,)]["amount"] == pytest.approx(18.75 * M)  # (50m + 100m) at 8
    assert rows[(2021,)]["amount"] == pytest.approx(12.5 * M)  # no 2021 rate: the nearest year's, 2020
    assert r["notes"]["rate_fallbacks"] == 2
    assert r["total"]["amount"] == pytest.approx(128.75 * M - 40 * M)  # 2015's 200m CNY (40m USD) outside


@pytest.mark.spark
@pytest.mark.xdist_group("spark")
def test_spark_flows_equal_local_on_the_mini_atlas(request, mini_registry):
    from tests.spark_support import require_spark

    require_spark()
    for by, kw in (
        (["sector", "mechanism", "level"], {}),
        (["year"], {"currency": "USD", "year_from": 2016, "year_to": 2021}),
    ):
        local = report(request, "local", mini_registry, by, **kw)
        spark = report(request, "spark", mini_registry, by, **kw)
        assert_same({**local, "engine": "x"}, {**spark, "engine": "x"})


@pytest.mark.parametrize("engine", ENGINES)
def test_generated_atlas_conserves_money(request, atlas, engine):
    """Rows add up to the total, state parts lie within [0, amount]; undated and unconvertible
    records are listed."""
    r = report(request, engine, atlas, ["sector", "mechanism", "year", "level"], as_of=dt.date(2023, 6, 30))
    plain = report(request, engine, atlas, ["sub_sector", "record_type", "currency"])
    assert r["notes"]["undated_records"] and r["notes"]["unconverted_records"]
    assert all(x.split(":")[0] in {"investments", "acquisitions", "joint_ventures", "partnerships"}
               for x in r["notes"]["undated_records"])  # fmt: skip
    total = plain["total"]
    assert sum(x["amount"] for x in plain["rows"]) == pytest.approx(total["amount"], rel=1e-12)
    for side in ("lo", "hi"):
        assert sum(x["state_attributed"][side] for x in plain["rows"]) == pytest.approx(
            total["state_attributed"][side], rel=1e-12
        )
    for x in plain["rows"] + r["rows"]:
        assert (
            -1e-6 <= x["state_attributed"]["lo"] <= x["state_attributed"]["hi"] <= x["amount"] * (1 + 1e-12)
        )
    assert {x["level"] for x in r["rows"]} <= {"central", "provincial", "municipal", "unspecified", "none"}


@pytest.mark.spark
@pytest.mark.xdist_group("spark")
def test_spark_flows_equal_local_on_a_generated_atlas(request, atlas):
    from tests.spark_support import require_spark

    require_spark()
    for by, kw in (
        (["sector", "mechanism", "year", "level"], {"as_of": dt.date(2023, 6, 30)}),
        (["sub_sector", "record_type", "currency"], {}),
    ):
        local = report(request, "local", atlas, by, **kw)
        spark = report(request, "spark", atlas, by, **kw)
        assert_same(local | {"engine": "x"}, spark | {"engine": "x"})
        assert json.dumps(local["notes"]) == json.dumps(spark["notes"])
