"""The store: atomic builds, deterministic content, search, stats, and the CLI's contracts."""

from __future__ import annotations

import hashlib
import json
import shutil

import duckdb
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from statecap.errors import DataError
from statecap.store.build import build_store, content_digest
from statecap.store.db import connect
from statecap.store.query import resolve_entity, search_entities, stats

from .conftest import MINI, run_cli


def sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_broken_data_leaves_store_byte_identical(tmp_path, mini_dir):
    db = tmp_path / "store" / "atlas.duckdb"
    build_store(MINI, db)
    before = sha(db)
    (mini_dir / "stakes" / "zz.yaml").write_text(
        "- {owner: cn-ghost, owned: cn-aico, share: 5, sources: [src-test]}\n"
    )
    with pytest.raises(DataError):
        build_store(mini_dir, db)
    assert sha(db) == before
    assert [p.name for p in db.parent.iterdir()] == ["atlas.duckdb"]  # no temp files left


def test_rebuild_same_data_same_content(tmp_path):
    a, b = tmp_path / "a.duckdb", tmp_path / "b.duckdb"
    build_store(MINI, a)
    build_store(MINI, b)
    with connect(a) as ca, connect(b) as cb:
        assert content_digest(ca) == content_digest(cb)


def test_store_counts_match_files(mini_db):
    with connect(mini_db) as con:
        s = stats(con)
    expected = {}
    for folder in ("entities", "stakes", "investments", "designations", "sources"):
        expected[folder] = sum(len(yaml.safe_load(p.read_text())) for p in (MINI / folder).glob("*.yaml"))
    for k, v in expected.items():
        assert s["counts"][k] == v
    assert s["unsourced_records"] == 0


def test_search_ranking_and_normalisation(mini_db):
    with connect(mini_db) as con:
        assert search_entities(con, "chipco")[0]["id"] == "cn-chipco"  # alias, case-insensitive
        assert search_entities(con, "ＣＨＩＰＣＯ")[0]["id"] == "cn-chipco"  # full width
        assert search_entities(con, "芯片公司")[0]["id"] == "cn-chipco"  # Chinese name
        assert search_entities(con, "688000")[0]["id"] == "cn-chipco"  # ticker without exchange
        assert search_entities(con, "91310000000000000X")[0]["id"] == "cn-chipco"  # USCC
        assert search_entities(con, "cn-fund")[0]["id"] == "cn-fund"
        hits = [m["id"] for m in search_entities(con, "chip")]
        assert set(hits) == {"cn-chipco", "cn-chipdesign"}
        assert search_entities(con, "zzz-nothing") == []
        assert resolve_entity(con, "688000.SS") == "cn-chipco"


def test_cli_stats_json_contract(mini_db):
    proc = run_cli("stats", "--db", str(mini_db), "--json", check=True)
    data = json.loads(proc.stdout)
    assert set(data) >= {"counts", "unsourced_records"}
    assert set(data["counts"]) >= {
        "entities",
        "stakes",
        "investments",
        "acquisitions",
        "joint_ventures",
        "spending",
        "partnerships",
        "designations",
        "policy_events",
        "sources",
    }
    assert all(isinstance(v, int) for v in data["counts"].values())


def test_cli_entity_json_contract(mini_db):
    proc = run_cli("entity", "TGF", "--db", str(mini_db), "--json", check=True)
    m = json.loads(proc.stdout)["matches"]
    assert m[0]["id"] == "cn-fund"
    assert {"id", "name", "name_zh", "kind", "sectors"} <= set(m[0])


def test_cli_malformed_file_one_line_error_exit_2(tmp_path, mini_dir):
    db = tmp_path / "s.duckdb"
    run_cli("build", "--data", str(MINI), "--db", str(db), check=True)
    before = sha(db)
    bad = mini_dir / "stakes" / "zz.yaml"
    bad.write_text("- {owner: cn-organ-a, owned: cn-aico, share: 150, sources: [src-test]}\n")
    proc = run_cli("build", "--data", str(mini_dir), "--db", str(db))
    assert proc.returncode == 2
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert str(bad) in lines[0] and "share" in lines[0] and "stake:cn-organ-a:cn-aico" in lines[0]
    assert "Traceback" not in proc.stderr
    assert sha(db) == before
    proc = run_cli("validate", str(mini_dir))
    assert proc.returncode == 2 and str(bad) in proc.stderr


def test_default_store_built_on_first_use(tmp_path):
    env = {"STATECAP_DB": str(tmp_path / "default.duckdb")}
    proc = run_cli("stats", "--json", env=env, check=True)
    assert json.loads(proc.stdout)["counts"]["entities"] >= 0
    assert (tmp_path / "default.duckdb").exists()


def test_not_a_store(tmp_path):
    bogus = tmp_path / "x.duckdb"
    duckdb.connect(str(bogus)).close()
    proc = run_cli("stats", "--db", str(bogus))
    assert proc.returncode != 0 and "not a statecap store" in proc.stderr


@settings(max_examples=10, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(st.lists(st.sampled_from(["cn-chipco", "cn-aico", "cn-founder"]), min_size=1, max_size=3, unique=True))
def test_build_property_failed_build_never_changes_store(tmp_path, mini_dir, owners):
    db = tmp_path / f"p{len(owners)}.duckdb"
    if not db.exists():
        build_store(MINI, db)
    before = sha(db)
    bad_dir = tmp_path / "bad"
    shutil.rmtree(bad_dir, ignore_errors=True)
    shutil.copytree(mini_dir, bad_dir)
    # each owner claims 60% of cn-fund, which organ A and B already hold 100% of
    recs = [{"owner": o, "owned": "cn-fund", "share": 60, "sources": ["src-test"]} for o in owners]
    (bad_dir / "stakes" / "zz.yaml").write_text(yaml.safe_dump(recs))
    with pytest.raises(DataError):
        build_store(bad_dir, db)
    assert sha(db) == before


def test_next_writer_removes_what_a_killed_writer_left(tmp_path):
    """A killed writer's temporary store, its WAL and DuckDB's spill folder beside it are removed
    by the next writer; other files in the folder are not."""
    from statecap.store.db import write_atomically

    store = tmp_path / "atlas.duckdb"
    (tmp_path / ".atlas.duckdb.k1ll.tmp").write_bytes(b"half a store")
    (tmp_path / ".atlas.duckdb.k1ll.tmp.wal").write_bytes(b"log")
    spill = tmp_path / ".atlas.duckdb.k1ll.tmp.tmp"
    spill.mkdir()
    (spill / "duckdb_temp_block-0.block").write_bytes(b"\0" * 1024)
    keep = tmp_path / "notes.tmp"
    keep.write_text("mine")
    write_atomically(store, lambda con: con.execute("CREATE TABLE t (x INTEGER)"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["atlas.duckdb", "notes.tmp"]
