"""BODS 0.4 import: the bods-v04-fixtures conformance suite, versions, bad input, idempotence."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import bods_fixtures
import duckdb
import pytest

from statecap.errors import DataError
from statecap.io import import_files
from statecap.io.records import external_id
from statecap.store.query import resolve_entity
from tests.io_support import digest, rows, write_json

CASES = bods_fixtures.list_cases()


def _fixture_file(tmp_path: Path, name: str) -> Path:
    return write_json(tmp_path / (name.replace("/", "_") + ".json"), bods_fixtures.load(name).statements)


def _expected_stakes(statements: list[dict]) -> set[tuple]:
    """What the fixture's interests say, read straight from the JSON (the oracle)."""
    out = set()
    for st in statements:
        if st["recordType"] != "relationship":
            continue
        d = st["recordDetails"]
        if not isinstance(d["interestedParty"], str):
            continue
        for it in d.get("interests", []):
            typ = {"shareholding": "equity", "votingRights": "voting"}.get(it["type"])
            if typ is None:
                continue
            share = it.get("share", {})
            lo = share.get("exact", share.get("minimum", 0.0 if share else 0.0))
            hi = share.get("exact", share.get("maximum", 100.0))
            out.add(
                (
                    "bods-" + d["interestedParty"],
                    "bods-" + d["subject"],
                    typ,
                    float(lo),
                    float(hi),
                    it.get("directOrIndirect") != "indirect",
                    it.get("startDate"),
                )
            )
    return out


@pytest.mark.parametrize("name", CASES)
def test_every_conformance_fixture_imports_and_matches_its_interests(tmp_path, name):
    fx = bods_fixtures.load(name)
    db = tmp_path / "s.duckdb"
    import_files("bods", [_fixture_file(tmp_path, name)], db)
    got = {
        (o, d, t, lo, hi, direct, vf.isoformat() if vf else None)
        for o, d, t, lo, hi, direct, vf in rows(
            db, "SELECT owner, owned, type, share_lo, share_hi, direct, valid_from FROM stakes"
        )
    }
    assert got == _expected_stakes(fx.statements)
    ents = {r[0] for r in rows(db, "SELECT id FROM entities")}
    assert ents == {"bods-" + s["recordId"] for s in fx.statements if s["recordType"] in ("entity", "person")}
    # every BODS recordId is accepted wherever statecap takes an entity id
    con = duckdb.connect(str(db), read_only=True)
    for s in fx.statements:
        if s["recordType"] in ("entity", "person"):
            assert resolve_entity(con, s["recordId"]) == "bods-" + s["recordId"]
            assert resolve_entity(con, s["statementId"]) == "bods-" + s["recordId"]
    con.close()


def test_direct_ownership_gives_jane_75_percent_of_acme(tmp_path):
    from statecap.analytics.ownership import integrated_owners
    from statecap.graph.load import load_graph

    db = tmp_path / "s.duckdb"
    import_files("bods", [_fixture_file(tmp_path, "core/01-direct-ownership")], db)
    con = duckdb.connect(str(db), read_only=True)
    g = load_graph(con, as_of=None)
    ids = g.ids_arrow.to_pylist()
    owners = integrated_owners(g, ids.index("bods-rec-acme-holdings-ltd"))
    con.close()
    assert [(ids[o.index], o.lo, o.hi) for o in owners] == [("bods-rec-jane-smith-1975", 75.0, 75.0)]
    assert rows(db, "SELECT kind FROM entities WHERE id = 'bods-rec-jane-smith-1975'") == [("person",)]


def test_circular_ownership_keeps_both_edges(tmp_path):
    db = tmp_path / "s.duckdb"
    import_files("bods", [_fixture_file(tmp_path, "edge-cases/10-circular-ownership")], db)
    assert rows(db, "SELECT owner, owned, share_lo FROM stakes ORDER BY owner") == [
        ("bods-rec-alpha-corp", "bods-rec-beta-corp", 100.0),
        ("bods-rec-beta-corp", "bods-rec-alpha-corp", 100.0),
    ]


def test_declared_unknown_owner_is_kept_with_its_reason(tmp_path):
    db = tmp_path / "s.duckdb"
    import_files("bods", [_fixture_file(tmp_path, "edge-cases/11-anonymous-person")], db)
    assert rows(db, "SELECT count(*) FROM stakes") == [(0,)]
    assert rows(db, "SELECT count(*) FROM entities WHERE kind = 'person'") == [(0,)]
    (row,) = rows(db, "SELECT entity, scheme, reason, description FROM ownership_exceptions")
    assert row[0] == "bods-rec-opaque-holdings-sa"
    assert row[1:3] == ("bods", "subjectUnableToConfirmOrIdentifyBeneficialOwner")
    assert row[3].startswith("The subject entity has reported")


def test_reimport_changes_nothing(tmp_path):
    db = tmp_path / "s.duckdb"
    f = _fixture_file(tmp_path, "core/01-direct-ownership")
    import_files("bods", [f], db)
    before = digest(db)
    import_files("bods", [f], db)
    assert digest(db) == before


# -- invalid input: rejected with file, record and field, store unchanged --------------------


def _direct() -> list[dict]:
    return copy.deepcopy(bods_fixtures.load("core/01-direct-ownership").statements)


def _bad_share(sts):
    sts[2]["recordDetails"]["interests"][0]["share"] = {"exact": "seventy-five"}
    return sts, "recordDetails.interests[0].share.exact"


def _over_100(sts):
    sts[2]["recordDetails"]["interests"][0]["share"] = {"exact": 175}
    return sts, "recordDetails.interests[0].share.exact"


def _no_record_id(sts):
    del sts[1]["recordId"]
    return sts, None


def _old_version(sts):
    for s in sts:
        s["publicationDetails"]["bodsVersion"] = "0.3"
    return sts, "publicationDetails.bodsVersion"


def _dangling(sts):
    sts[2]["recordDetails"]["interestedParty"] = "rec-nobody"
    return sts, "owner"


def _min_above_max(sts):
    sts[2]["recordDetails"]["interests"][0]["share"] = {"minimum": 60, "maximum": 40}
    return sts, "recordDetails.interests[0].share"


def _bad_status(sts):
    sts[0]["recordStatus"] = "deleted"
    return sts, "recordStatus"


INVALID = [_bad_share, _over_100, _no_record_id, _old_version, _dangling, _min_above_max, _bad_status]


@pytest.mark.parametrize("mutate", INVALID, ids=lambda f: f.__name__)
def test_invalid_statements_are_rejected_and_store_unchanged(tmp_path, mini_db, mutate):
    db = tmp_path / "s.duckdb"
    shutil.copyfile(mini_db, db)
    before = db.read_bytes()
    sts, field = mutate(_direct())
    f = write_json(tmp_path / "bad.json", sts)
    with pytest.raises(DataError) as err:
        import_files("bods", [f], db)
    msg = str(err.value)
    assert str(f) in msg
    if field is not None:
        assert f"field {field}" in msg
    assert "record " in msg or "recordId" in msg
    assert db.read_bytes() == before


def test_invalid_json_is_rejected(tmp_path, mini_db):
    db = tmp_path / "s.duckdb"
    shutil.copyfile(mini_db, db)
    before = db.read_bytes()
    f = tmp_path / "broken.json"
    f.write_text('[{"statementId": "x", ', encoding="utf-8")
    with pytest.raises(DataError, match="not valid JSON"):
        import_files("bods", [f], db)
    assert db.read_bytes() == before


def test_skip_invalid_writes_rejects_and_imports_the_rest(tmp_path):
    sts, _ = _dangling(_direct())
    f = tmp_path / "mixed.jsonl"
    f.write_text("\n".join(json.dumps(s) for s in sts) + "\n{not json\n", encoding="utf-8")
    db = tmp_path / "s.duckdb"
    rejects = tmp_path / "rejects.jsonl"
    res = import_files("bods", [f], db, skip_invalid=True, rejects=rejects)
    assert res.rejected == 2
    lines = [json.loads(x) for x in rejects.read_text().splitlines()]
    reasons = " ".join(p["reason"] for x in lines for p in x["problems"])
    assert "unknown entity id" in reasons and "not valid JSON" in reasons
    assert {x["line"] for x in lines} == {3, 4}
    assert rows(db, "SELECT count(*) FROM entities") == [(2,)]
    assert rows(db, "SELECT count(*) FROM stakes") == [(0,)]


# -- record versions -------------------------------------------------------------------------


def _stmt(sid: str, rid: str, rtype: str, date: str, status: str, details: dict) -> dict:
    return {
        "statementId": f"{sid:0<32}",
        "declarationSubject": "co",
        "statementDate": date,
        "publicationDetails": {"publicationDate": date, "bodsVersion": "0.4", "publisher": {"name": "t"}},
        "recordId": rid,
        "recordStatus": status,
        "recordType": rtype,
        "recordDetails": details,
    }


def _co(date="2019-01-01", status="new", sid="e1"):
    return _stmt(sid, "co", "entity", date, status, {
        "isComponent": False, "entityType": {"type": "registeredEntity"}, "name": "Co", "jurisdiction": {"name": "China", "code": "CN"},
    })  # fmt: skip


def _ministry():
    return _stmt("e2", "ministry", "entity", "2019-01-01", "new", {
        "isComponent": False, "entityType": {"type": "stateBody", "subtype": "governmentDepartment"}, "name": "Ministry",
    })  # fmt: skip


def _rel(sid, date, status, interests):
    return _stmt(sid, "rel", "relationship", date, status, {
        "isComponent": False, "subject": "co", "interestedParty": "ministry", "interests": interests,
    })  # fmt: skip


def test_versions_close_dropped_interests_and_closed_records(tmp_path):
    sts = [
        _co(),
        _ministry(),
        _rel("r1", "2019-01-01", "new", [
            {"type": "shareholding", "directOrIndirect": "direct", "share": {"minimum": 25, "exclusiveMaximum": 50}},
            {"type": "votingRights", "directOrIndirect": "direct", "share": {"exact": 30}},
        ]),
        _rel("r2", "2020-06-01", "updated", [
            {"type": "shareholding", "directOrIndirect": "direct", "share": {"exclusiveMinimum": 50}},
        ]),
        _rel("r3", "2022-03-01", "closed", [
            {"type": "shareholding", "directOrIndirect": "direct", "share": {"exclusiveMinimum": 50}},
        ]),
        _co("2023-01-01", "closed", "e3"),
    ]  # fmt: skip
    db = tmp_path / "s.duckdb"
    import_files("bods", [write_json(tmp_path / "v.json", sts)], db)
    got = rows(
        db, "SELECT type, share_lo, share_hi, share_kind, valid_from, valid_to FROM stakes ORDER BY type"
    )
    import datetime as dt

    # the shareholding stated in 2019 is restated (as >50) until the record closes in 2022
    assert got == [
        ("equity", 50.0, 100.0, "range", None, dt.date(2022, 3, 1)),
        ("voting", 30.0, 30.0, "exact", None, dt.date(2020, 6, 1)),
    ]
    assert rows(db, "SELECT kind, dissolved FROM entities WHERE id = 'bods-co'") == [
        ("company", dt.date(2023, 1, 1))
    ]
    assert rows(db, "SELECT kind FROM entities WHERE id = 'bods-ministry'") == [("state_organ",)]


def test_update_in_a_later_file_closes_earlier_stakes(tmp_path):
    import datetime as dt

    first = [_co(), _ministry(), _rel("r1", "2019-01-01", "new", [
        {"type": "shareholding", "share": {"exact": 60}},
        {"type": "votingRights", "share": {"exact": 60}},
    ])]  # fmt: skip
    second = [_rel("r2", "2021-01-01", "updated", [{"type": "shareholding", "share": {"exact": 60}}])]
    db = tmp_path / "s.duckdb"
    import_files("bods", [write_json(tmp_path / "a.json", first)], db)
    import_files("bods", [write_json(tmp_path / "b.json", second)], db)
    got = dict(rows(db, "SELECT type, valid_to FROM stakes"))
    assert got == {"equity": None, "voting": dt.date(2021, 1, 1)}


def test_id_scheme_for_awkward_record_ids():
    a, b = external_id("bods", "GB-COH/123:X"), external_id("bods", "gb-coh/123-x")
    assert a != b
    assert external_id("bods", "rec-1") == "bods-rec-1"
