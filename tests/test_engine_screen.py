"""The OFAC 50% rule and the BIS Affiliates rule on both engines: OFAC's worked examples, the
Affiliates rule's suspension window, and Spark against local on a synthetic registry."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from statecap.engines import open_source
from tests.spark_support import ENGINES, make_engine, spark_engine  # noqa: F401  (a fixture, used by name)

DAY = dt.date(2025, 10, 15)  # the Affiliates rule in force
SUSPENDED = dt.date(2026, 1, 1)  # inside its suspension


def _write(folder):
    ents = [
        ("x", "company"), ("y", "company"), ("l", "company"),  # designated: X, Y on the SDN list, L on the Entity List
        ("a", "company"), ("b", "company"), ("c", "company"), ("d", "company"), ("e", "company"),
        ("f", "company"), ("g", "company"), ("h", "company"), ("k", "company"), ("m", "company"),
    ]  # fmt: skip
    stakes = [
        ("x", "a", 50, 50),  # FAQ 401: 50% by a blocked person -> blocked
        ("a", "b", 50, 50),  # blocked A's 50% of B counts in full (not 25%) -> B blocked
        ("x", "c", 25, 25), ("y", "c", 25, 25),  # blocked persons' stakes add up -> C blocked
        ("x", "d", 40, 40), ("d", "e", 60, 60),  # D not blocked, so its 60% of E does not count
        ("x", "f", 25, 25), ("d", "f", 30, 30),  # D is not blocked: F is not
        ("x", "g", 40, 60),  # a range across 50%: possibly blocked
        ("g", "h", 100, 100),  # below a possibly blocked entity: possible
        ("l", "k", 50, 50),  # Entity List party: caught by the Affiliates rule, not OFAC's
        ("k", "m", 20, 20), ("x", "m", 30, 30),  # K (affiliate) + X (SDN) together for the Affiliates rule
        ("b", "a", 10, 10),  # a cross-holding between blocked entities: no loop
    ]  # fmt: skip
    pq.write_table(pa.table({"id": [e[0] for e in ents], "name": [e[0].upper() for e in ents],
                             "kind": [e[1] for e in ents]}), folder / "entities.parquet")  # fmt: skip
    pq.write_table(
        pa.table(
            {
                "id": [f"s{i}" for i in range(len(stakes))],
                "owner": [s[0] for s in stakes],
                "owned": [s[1] for s in stakes],
                "share_lo": [float(s[2]) for s in stakes],
                "share_hi": [float(s[3]) for s in stakes],
                "share_kind": ["exact" if s[2] == s[3] else "range" for s in stakes],
                "type": ["equity"] * len(stakes),
                "direct": [True] * len(stakes),
                "valid_from": pa.nulls(len(stakes), pa.date32()),
                "valid_to": pa.nulls(len(stakes), pa.date32()),
            }
        ),
        folder / "stakes.parquet",
    )
    start = dt.date(2020, 1, 1)
    pq.write_table(
        pa.table(
            {
                "id": ["d1", "d2", "d3"],
                "entity": ["x", "y", "l"],
                "list": ["ofac_sdn", "ofac_sdn", "bis_entity_list"],
                "start": [start] * 3,
                "end": pa.nulls(3, pa.date32()),
                "authority": ["us-ofac", "us-ofac", "us-bis"],
                "citation": ["SDGT", "SDGT", "15 CFR 744 Supp. 4"],
                "licence_requirement": [None, None, "all items subject to the EAR"],
            }
        ),
        folder / "designations.parquet",
    )
    pq.write_table(
        pa.table(
            {
                "id": ["ev-affiliates", "ev-affiliates-suspended"],
                "date": [dt.date(2025, 9, 29), dt.date(2025, 11, 10)],
                "end": [None, dt.date(2026, 11, 10)],
                "kind": ["export_control", "suspension"],
                "title": ["BIS Affiliates rule", "Affiliates rule suspended"],
                "rule": ["bis-affiliates", "bis-affiliates"],
            }
        ),
        folder / "policy_events.parquet",
    )


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    folder = tmp_path_factory.mktemp("screen")
    _write(folder)
    return folder


_CACHE: dict[tuple[str, str, dt.date], dict] = {}


def _screen(request, registry, engine: str, rule: str, day: dt.date) -> dict[str, tuple]:
    key = (engine, rule, day)
    if key not in _CACHE:
        table, status = make_engine(engine, request).screen(open_source(registry), rule, as_of=day)
        _CACHE[key] = {
            "status": status,
            "rows": {
                r["id"]: (r["verdict"], r["aggregate_lo"], r["aggregate_hi"]) for r in table.to_pylist()
            },
        }
    return _CACHE[key]


@pytest.mark.parametrize("engine", ENGINES)
def test_ofac_faq_401_examples(request, registry, engine):
    rows = _screen(request, registry, engine, "ofac50", DAY)["rows"]
    verdicts = {k: v[0] for k, v in rows.items()}
    assert verdicts == {
        "x": "designated", "y": "designated", "a": "definite", "b": "definite", "c": "definite",
        "g": "possible", "h": "possible",
    }  # fmt: skip
    assert rows["c"][1] == pytest.approx(50.0)
    assert rows["b"][1] == pytest.approx(50.0)  # full percentage, not 50% x 50%
    assert rows["g"][1] == pytest.approx(40.0) and rows["g"][2] == pytest.approx(60.0)


@pytest.mark.parametrize("engine", ENGINES)
def test_affiliates_rule_and_its_suspension(request, registry, engine):
    live = _screen(request, registry, engine, "bis-affiliates", DAY)
    assert live["status"]["in_force"]
    verdicts = {k: v[0] for k, v in live["rows"].items()}
    assert verdicts["l"] == "designated" and verdicts["k"] == "definite"
    assert verdicts["m"] == "definite"  # 20% via the affiliate K plus 30% held by the SDN party X
    assert "e" not in verdicts and "f" not in verdicts
    off = _screen(request, registry, engine, "bis-affiliates", SUSPENDED)
    assert not off["status"]["in_force"]
    assert {v[0] for v in off["rows"].values()} == {"designated"}


@pytest.mark.spark
@pytest.mark.xdist_group("spark")
def test_spark_screens_a_synthetic_registry_like_local(request, tmp_path):
    from statecap.engines import get_engine
    from statecap.graph.synth import generate, write_parquet
    from tests.spark_support import require_spark

    require_spark()
    write_parquet(generate(20_000, 3), tmp_path)
    src = open_source(tmp_path)
    spark = request.getfixturevalue("spark_engine")
    for rule in ("ofac50", "bis-affiliates"):
        a, _ = get_engine("local").screen(src, rule, as_of=dt.date(2025, 1, 1))
        b, _ = spark.screen(src, rule, as_of=dt.date(2025, 1, 1))
        assert a["id"].to_pylist() == b["id"].to_pylist(), rule
        assert a["verdict"].to_pylist() == b["verdict"].to_pylist(), rule
        for col in ("aggregate_lo", "aggregate_hi"):
            diff = max(
                (abs(x - y) for x, y in zip(a[col].to_pylist(), b[col].to_pylist(), strict=True)), default=0
            )
            assert diff <= 1e-9, (rule, col)
        verdicts = set(a["verdict"].to_pylist())
        assert "designated" in verdicts and verdicts - {"designated"}, rule  # roots and some caught entities
