"""FollowTheMoney import: files built with the followthemoney library, percentages, sanctions."""

from __future__ import annotations

import datetime as dt
import json
import shutil

import duckdb
import pytest
from followthemoney import model

from statecap.errors import DataError
from statecap.io import import_files
from statecap.io.ftm import parse_percentage, sanction_list
from statecap.store.query import resolve_entity
from tests.io_support import digest, rows


@pytest.mark.parametrize(
    ("text", "share"),
    [
        ("25%", 25.0),
        ("25", 25.0),
        ("17,5 %", 17.5),
        ("25-50%", [25.0, 50.0]),
        ("25 – 50", [25.0, 50.0]),
        ("> 50", [50.0, 100.0]),
        (">50%", [50.0, 100.0]),
        ("50+", [50.0, 100.0]),
        ("at least 75", [75.0, 100.0]),
        ("<10", [0.0, 10.0]),
        ("up to 5%", [0.0, 5.0]),
        ("unknown", None),
    ],
)
def test_free_text_percentages(text, share):
    assert parse_percentage(text) == share


@pytest.mark.parametrize("text", ["lots", "150%", "60-40", "25%%%"])
def test_bad_percentages_are_refused(text):
    with pytest.raises(ValueError):
        parse_percentage(text)


def test_sanction_programs_map_to_list_codes():
    assert (
        sanction_list(["Entity List"], [], ["Bureau of Industry and Security"], ["us"]) == "bis_entity_list"
    )
    assert sanction_list(["SDN"], [], ["Office of Foreign Assets Control"], ["us"]) == "ofac_sdn"
    assert sanction_list(["NS-CMIC List"], [], ["OFAC"], ["us"]) == "ns_cmic"
    assert sanction_list([], ["dod_1260h"], [], []) == "dod_1260h"
    assert sanction_list(["Something"], [], ["Ruritania"], ["rr"]) == "other_sanctions"


def _entities() -> list[dict]:
    ministry = model.make_entity("PublicBody")
    ministry.id = "gov-ministry"
    ministry.add("name", "Ministry of Industry")
    ministry.add("country", "cn")
    co = model.make_entity("Company")
    co.id = "NK-co-1"
    co.add("name", "Sample Chip Co")
    co.add("alias", "样本芯片")
    co.add("country", "cn")
    co.add("incorporationDate", "2004-05")
    co.add("leiCode", "CHILD000000000000071")
    co.add("sourceUrl", "https://example.org/co")
    person = model.make_entity("Person")
    person.id = "p-1"
    person.add("name", "Li Wei")
    org = model.make_entity("Organization")
    org.id = "org-1"
    org.add("name", "Research Org")
    le = model.make_entity("LegalEntity")
    le.id = "le-1"
    le.add("name", "Holding Vehicle")
    le.add("country", "hk")
    own1 = model.make_entity("Ownership")
    own1.id = "own-1"
    own1.add("owner", ministry.id)
    own1.add("asset", co.id)
    own1.add("percentage", "25-50%")
    own1.add("startDate", "2015-01-01")
    own2 = model.make_entity("Ownership")
    own2.id = "own-2"
    own2.add("owner", le.id)
    own2.add("asset", co.id)
    own2.add("percentage", "> 50")
    own2.add("ownershipType", "voting")
    own3 = model.make_entity("Ownership")
    own3.id = "own-3"
    own3.add("owner", person.id)
    own3.add("asset", le.id)
    dirship = model.make_entity("Directorship")
    dirship.id = "dir-1"
    dirship.add("director", person.id)
    dirship.add("organization", co.id)
    dirship.add("role", "Chairman")
    dirship.add("startDate", "2018-03-01")
    sanction = model.make_entity("Sanction")
    sanction.id = "san-1"
    sanction.add("entity", co.id)
    sanction.add("authority", "Bureau of Industry and Security")
    sanction.add("program", "Entity List")
    sanction.add("startDate", "2020-12-18")
    sanction.add("provisions", "presumption of denial")
    addr = model.make_entity("Address")
    addr.id = "addr-1"
    addr.add("full", "1 Test Road")
    return [e.to_dict() for e in (ministry, co, person, org, le, own1, own2, own3, dirship, sanction, addr)]


def _write(path, ents):
    path.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in ents), encoding="utf-8")
    return path


def test_ftm_entities_become_statecap_records(tmp_path):
    db = tmp_path / "s.duckdb"
    res = import_files("ftm", [_write(tmp_path / "e.ftm.json", _entities())], db)
    assert res.rejected == 0
    kinds = dict(rows(db, "SELECT id, kind FROM entities"))
    assert kinds == {
        "ftm-gov-ministry": "state_organ",
        "ftm-nk-co-1-" + resolve_suffix("NK-co-1"): "company",
        "ftm-p-1": "person",
        "ftm-org-1": "company",
        "ftm-le-1": "foreign_company",
    }
    co = "ftm-nk-co-1-" + resolve_suffix("NK-co-1")
    assert rows(db, "SELECT name_zh, lei, founded FROM entities WHERE id = ?", [co]) == [
        ("样本芯片", "CHILD000000000000071", dt.date(2004, 5, 1))
    ]
    stakes = set(
        rows(db, "SELECT owner, owned, type, share_lo, share_hi, share_kind, valid_from FROM stakes")
    )
    assert stakes == {
        ("ftm-gov-ministry", co, "equity", 25.0, 50.0, "range", dt.date(2015, 1, 1)),
        ("ftm-le-1", co, "voting", 50.0, 100.0, "range", None),
        ("ftm-p-1", "ftm-le-1", "equity", 0.0, 100.0, "unknown", None),
    }
    assert rows(db, "SELECT director, organization, role, valid_from FROM directorships") == [
        ("ftm-p-1", co, "Chairman", dt.date(2018, 3, 1))
    ]
    assert rows(db, "SELECT entity, list, start, licence_requirement FROM designations") == [
        (co, "bis_entity_list", dt.date(2020, 12, 18), "presumption of denial")
    ]
    # the source URL becomes a Source record; the rest are sourced to the file
    (src,) = rows(
        db, "SELECT s.url FROM record_sources r JOIN sources s ON s.id = r.source WHERE r.record_id = ?", [co]
    )
    assert src == ("https://example.org/co",)
    con = duckdb.connect(str(db), read_only=True)
    assert resolve_entity(con, "NK-co-1") == co
    con.close()


def resolve_suffix(raw: str) -> str:
    import hashlib

    return hashlib.sha1(raw.encode()).hexdigest()[:10]


def test_fragments_merge_and_reimport_is_idempotent(tmp_path):
    ents = _entities()
    frag = {"id": "p-1", "schema": "Person", "properties": {"alias": ["W. Li"]}}
    f = _write(tmp_path / "e.json", [*ents, frag])
    db = tmp_path / "s.duckdb"
    import_files("ftm", [f], db)
    assert rows(db, "SELECT aliases FROM entities WHERE id = 'ftm-p-1'") == [(["W. Li"],)]
    before = digest(db)
    import_files("ftm", [f], db)
    assert digest(db) == before


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"id": "x", "schema": "Spaceship", "properties": {}}, "schema"),
        ({"id": "x", "schema": "Company", "properties": {"colour": ["red"]}}, "properties.colour"),
        ({"id": "x", "schema": "Company", "properties": {"name": ["X"], "incorporationDate": ["yesterday"]}}, "properties.incorporationDate"),
        ({"id": "o", "schema": "Ownership", "properties": {"owner": ["p-1"], "asset": ["le-1"], "percentage": ["lots"]}}, "properties.percentage"),
        ({"id": "o", "schema": "Ownership", "properties": {"owner": ["ghost"], "asset": ["le-1"]}}, "owner"),
        ({"id": "s", "schema": "Sanction", "properties": {"entity": ["le-1"], "program": ["SDN"]}}, "properties.startDate"),
    ],
)  # fmt: skip
def test_bad_ftm_records_are_rejected_and_store_unchanged(tmp_path, mini_db, bad, field):
    db = tmp_path / "s.duckdb"
    shutil.copyfile(mini_db, db)
    before = db.read_bytes()
    f = _write(tmp_path / "bad.json", [*_entities(), bad])
    with pytest.raises(DataError) as err:
        import_files("ftm", [f], db)
    msg = str(err.value)
    assert str(f) in msg and f"record {bad['id']}" in msg and f"field {field}" in msg
    assert db.read_bytes() == before
