"""GLEIF Level 2 (CSV and JSON) and the statecap CSV layout."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import duckdb
import pytest

from statecap.errors import DataError
from statecap.io import import_files
from statecap.store.query import resolve_entity
from tests.conftest import run_cli
from tests.io_support import IO_FIXTURES, digest, rows

CSV_DIR = IO_FIXTURES / "csv"


def test_csv_layout_imports_every_field(tmp_path):
    db = tmp_path / "s.duckdb"
    import_files("csv", [CSV_DIR], db)
    (ent,) = rows(
        db,
        "SELECT name, name_zh, aliases, kind, level, region, lei, tickers, wikidata, sectors, founded, confidence "
        "FROM entities WHERE id = 'cn-hand-holding'",
    )
    assert ent == (
        "Hand Holding Group", "手工控股", ["HHG", "Hand Holdings"], "local_soe", "provincial", "Anhui",
        "CHILD000000000000001", ["600000.SS"], "Q42", ["semiconductors.equipment"], dt.date(2001, 5, 1), "high",
    )  # fmt: skip
    stakes = set(
        rows(db, "SELECT type, share_lo, share_hi, share_kind, direct, valid_from, valid_to FROM stakes")
    )
    assert stakes == {
        ("equity", 25.0, 50.0, "range", True, dt.date(2019, 3, 1), None),
        ("voting", 0.0, 100.0, "unknown", False, dt.date(2019, 3, 1), dt.date(2024, 1, 1)),
    }
    # a row without sources is sourced to the file it came from
    (src,) = rows(
        db,
        "SELECT s.kind, s.url FROM record_sources r JOIN sources s ON s.id = r.source "
        "WHERE r.record_type = 'entities' AND r.record_id = 'cn-hand-sub'",
    )
    assert src[0] == "import" and src[1].startswith("file:")


def test_csv_duplicate_ids_and_unknown_columns_are_errors(tmp_path):
    d = tmp_path / "data"
    shutil.copytree(CSV_DIR, d)
    with (d / "entities.csv").open("a", encoding="utf-8") as fh:
        fh.write("cn-hand-sub,Again,,,company,cn,,,,,,,,,,,,,\n")
    with pytest.raises(DataError, match=r"entities.csv:4: record cn-hand-sub: field id: duplicate"):
        import_files("csv", [d], tmp_path / "s.duckdb")
    (d / "entities.csv").write_text("id,name,colour\nx,y,red\n", encoding="utf-8")
    with pytest.raises(DataError, match="field colour: unknown column"):
        import_files("csv", [d / "entities.csv"], tmp_path / "s.duckdb")


def test_csv_skip_invalid_writes_rejects(tmp_path):
    d = tmp_path / "data"
    shutil.copytree(CSV_DIR, d)
    with (d / "stakes.csv").open("a", encoding="utf-8") as fh:
        fh.write("cn-hand-holding,cn-nowhere,10,equity,true,2020,,,,\n")
        fh.write("cn-hand-holding,cn-hand-sub,abc,equity,true,2021,,,,\n")
    db = tmp_path / "s.duckdb"
    proc = run_cli("import", "csv", str(d), "--db", str(db), "--skip-invalid", "--json", check=True)
    out = json.loads(proc.stdout)
    assert out["rejected"] == 2
    rejects = [json.loads(x) for x in Path(out["rejects"]).read_text(encoding="utf-8").splitlines()]
    assert sorted(r["line"] for r in rejects) == [4, 5]
    assert {p["field"] for r in rejects for p in r["problems"]} == {"owned", "share"}
    assert rows(db, "SELECT count(*) FROM stakes") == [(2,)]


def _gleif(tmp_path, *names):
    db = tmp_path / "s.duckdb"
    import_files("csv", [CSV_DIR], db)  # holds an entity with LEI CHILD000000000000001
    for name in names:
        import_files("gleif", [IO_FIXTURES / name], db)
    return db


def test_gleif_csv_relationships_become_control_links(tmp_path):
    db = _gleif(tmp_path, "gleif_rr.csv")
    got = set(
        rows(
            db,
            "SELECT owner, owned, type, share_kind, direct, valid_from, valid_to, confidence FROM stakes WHERE id LIKE 'gleif%'",
        )
    )
    assert got == {
        ("lei-parent00000000000002", "cn-hand-holding", "voting", "unknown", True, dt.date(2015, 6, 1), None, "high"),
        ("lei-ultimate000000000003", "cn-hand-holding", "voting", "unknown", False, dt.date(2015, 6, 1), None, "low"),
        # INACTIVE without an end date: ends at the record's last update
        ("lei-ultimate000000000003", "lei-parent00000000000002", "voting", "unknown", True, dt.date(2010, 1, 1), dt.date(2021, 3, 15), "medium"),
    }  # fmt: skip
    # the branch relationship is not ownership and is skipped; the LEI resolves to its entity
    assert rows(db, "SELECT count(*) FROM entities WHERE id LIKE 'lei-branch%'") == [(0,)]
    con = duckdb.connect(str(db), read_only=True)
    assert resolve_entity(con, "PARENT00000000000002") == "lei-parent00000000000002"
    assert resolve_entity(con, "CHILD000000000000001") == "cn-hand-holding"
    con.close()


def test_gleif_json_forms_match_csv(tmp_path):
    a = _gleif(tmp_path / "a", "gleif_rr.csv")
    b = _gleif(tmp_path / "b", "gleif_rr_golden.json", "gleif_rr_api.json")
    q = "SELECT owner, owned, type, direct, valid_from FROM stakes WHERE id LIKE 'gleif%' AND owned = 'cn-hand-holding'"
    assert set(rows(a, q)) == set(rows(b, q))
    assert rows(b, "SELECT entity, category, reason FROM ownership_exceptions") == [
        ("lei-ultimate000000000003", "DIRECT_ACCOUNTING_CONSOLIDATION_PARENT", "NATURAL_PERSONS")
    ]


def test_gleif_reporting_exceptions(tmp_path):
    db = _gleif(tmp_path, "gleif_rr.csv", "gleif_repex.csv")
    got = set(rows(db, "SELECT entity, scheme, category, reason, reference FROM ownership_exceptions"))
    assert got == {
        ("lei-ultimate000000000003", "gleif", "DIRECT_ACCOUNTING_CONSOLIDATION_PARENT", "NATURAL_PERSONS", None),
        ("lei-ultimate000000000003", "gleif", "ULTIMATE_ACCOUNTING_CONSOLIDATION_PARENT", "NATURAL_PERSONS,NON_PUBLIC", "ref-123"),
    }  # fmt: skip
    before = digest(db)
    import_files("gleif", [IO_FIXTURES / "gleif_rr.csv"], db)
    import_files("gleif", [IO_FIXTURES / "gleif_repex.csv"], db)
    assert digest(db) == before


def test_gleif_bad_lei_is_rejected(tmp_path, mini_db):
    db = tmp_path / "s.duckdb"
    shutil.copyfile(mini_db, db)
    before = db.read_bytes()
    bad = tmp_path / "rr.csv"
    text = (
        (IO_FIXTURES / "gleif_rr.csv")
        .read_text(encoding="utf-8")
        .replace("PARENT00000000000002", "not-an-lei", 1)
    )
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(
        DataError, match=r"rr.csv:2: .*field Relationship.EndNode.NodeID: 'not-an-lei' is not an LEI"
    ):
        import_files("gleif", [bad], db)
    assert db.read_bytes() == before


def test_import_cannot_change_dataset_records(tmp_path, mini_db):
    db = tmp_path / "s.duckdb"
    shutil.copyfile(mini_db, db)
    before = db.read_bytes()
    d = tmp_path / "data"
    d.mkdir()
    (d / "entities.csv").write_text("id,name,kind\ncn-chipco,Renamed,company\n", encoding="utf-8")
    with pytest.raises(DataError, match="cn-chipco.*built-in dataset"):
        import_files("csv", [d], db)
    assert db.read_bytes() == before
