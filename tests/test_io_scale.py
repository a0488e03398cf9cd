"""Large imports: memory that does not grow with the file, and checks whose output stays bounded.

The 1M-statement measurement is `python -m bench.io` (bench/RESULTS.md); these tests catch a
change that makes an import hold something per statement again, without timing anything.
"""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import pytest

from bench.io import write_register
from statecap.errors import DataError
from statecap.io import api, guard, import_files, ingest
from statecap.io.ingest import MAX_PROBLEMS, RecentIds
from statecap.model.records import Entity
from statecap.store import build
from tests.io_support import rows, write_json

PUB = {"publicationDate": "2024-01-01", "bodsVersion": "0.4", "publisher": {"name": "t"}}


def _stmt(n: int, rid: str, rtype: str, details: dict, date: str = "2024-01-01") -> dict:
    return {
        "statementId": f"scale-statement-{n:026d}",
        "declarationSubject": rid,
        "statementDate": date,
        "publicationDetails": PUB,
        "recordId": rid,
        "recordStatus": "new",
        "recordType": rtype,
        "recordDetails": details,
    }


def _entity(n: int, rid: str) -> dict:
    return _stmt(n, rid, "entity", {
        "isComponent": False, "entityType": {"type": "registeredEntity"}, "name": f"Entity {rid}",
        "jurisdiction": {"name": "China", "code": "CN"},
    })  # fmt: skip


def _holding(n: int, rid: str, subject: str, party: str, exact: float, start: str) -> dict:
    interest = {
        "type": "shareholding",
        "directOrIndirect": "direct",
        "startDate": start,
        "share": {"exact": exact},
    }
    return _stmt(n, rid, "relationship", {
        "isComponent": False, "subject": subject, "interestedParty": party, "interests": [interest],
    })  # fmt: skip


def _traced_peak(path: Path, db: Path) -> int:
    """Peak bytes Python (objects, numpy and pandas buffers) allocated during one import."""
    tracemalloc.start()
    try:
        # pydantic-core keeps a bounded cache of validated strings (records strip whitespace):
        # fill it with traced strings first, so its turnover during the import is not growth
        for i in range(40_000):
            Entity.model_validate({"id": f"cache-{i}", "name": f"cache {i}", "kind": "company"})
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        import_files("bods", [path], db)
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def test_python_memory_of_an_import_does_not_grow_with_the_file(tmp_path, monkeypatch):
    # Small batches and read buffers, so both files span many of them and what is left is what
    # an import holds per statement.
    monkeypatch.setattr(ingest, "FLUSH_ROWS", 500)
    monkeypatch.setattr(build, "TERMS_BATCH", 500)
    monkeypatch.setattr(guard, "CHUNK", 1 << 12)
    monkeypatch.setattr(api, "DIGEST_CHUNK", 1 << 12)
    files = {}
    for n in (100, 600, 2_400):
        files[n] = tmp_path / f"register-{n}.json"
        write_register(files[n], n)
    import_files("bods", [files[100]], tmp_path / "warm.duckdb")  # schemas, taxonomy, first-use caches
    small = _traced_peak(files[600], tmp_path / "small.duckdb")
    large = _traced_peak(files[2_400], tmp_path / "large.duckdb")
    sts = json.loads(files[2_400].read_text(encoding="utf-8"))
    assert len(sts) == 2_400
    n_entities = sum(st["recordType"] != "relationship" for st in sts)
    assert rows(tmp_path / "large.duckdb", "SELECT count(*) FROM entities") == [(n_entities,)]
    # four times the statements, about the same peak: what is per statement lives in DuckDB
    assert large < 1.4 * small, (
        f"peak {large / 2**20:.2f} MiB for 2,400 statements, {small / 2**20:.2f} MiB for 600"
    )


def test_over_100_percent_is_reported_on_the_first_day_and_blames_the_latest_stake(tmp_path):
    # a holds 60% of x from 2019, b 60% from 2020 (120% that day), c 50% from 2021 (170%)
    sts = [
        _entity(1, "x"),
        _entity(2, "a"),
        _entity(3, "b"),
        _entity(4, "c"),
        _holding(5, "ra", "x", "a", 60, "2019-01-01"),
        _holding(6, "rb", "x", "b", 60, "2020-01-01"),
        _holding(7, "rc", "x", "c", 50, "2021-01-01"),
    ]
    f = write_json(tmp_path / "over.json", sts)
    with pytest.raises(DataError) as err:
        import_files("bods", [f], tmp_path / "s.duckdb")
    (problem,) = err.value.problems  # one problem per owned entity and stake type
    assert problem.record == f"rb (statement {sts[5]['statementId']})"
    assert problem.field == "share"
    assert "direct equity stakes in bods-x add up to 120% on 2020-01-01 (over 100%)" in problem.reason
    # skipping: b goes first; then a and c make 110% from 2021, and c goes too
    rejects = tmp_path / "rejects.jsonl"
    res = import_files("bods", [f], tmp_path / "s.duckdb", skip_invalid=True, rejects=rejects)
    assert res.rejected == 2
    got = {
        json.loads(x)["record"].split()[0]: json.loads(x)["problems"]
        for x in rejects.read_text().splitlines()
    }
    assert set(got) == {"rb", "rc"}
    assert "add up to 110% on 2021-01-01" in got["rc"][0]["reason"]
    assert rows(tmp_path / "s.duckdb", "SELECT owner, share_lo FROM stakes") == [("bods-a", 60.0)]


def test_a_file_of_many_bad_records_lists_the_first_and_counts_the_rest(tmp_path):
    n_bad = MAX_PROBLEMS + 13
    sts = [_entity(0, "x")] + [
        _holding(i + 1, f"r{i}", "x", f"nobody{i}", 1, "2020-01-01") for i in range(n_bad)
    ]
    f = write_json(tmp_path / "dangling.json", sts)
    with pytest.raises(DataError) as err:
        import_files("bods", [f], tmp_path / "s.duckdb")
    probs = err.value.problems
    assert len(probs) == MAX_PROBLEMS + 1
    assert all("unknown entity id 'bods-nobody" in p.reason for p in probs[:-1])
    assert probs[-1].reason == "... and 13 more problems"
    assert not (tmp_path / "s.duckdb").exists()


def test_recent_ids_forget_the_least_recently_used():
    seen = RecentIds(size=2)
    seen.add("a")
    seen.add("b")
    assert "a" in seen  # a is now the most recent
    seen.add("c")
    assert "b" not in seen and "a" in seen and "c" in seen and len(seen) == 2


def test_sources_forgotten_by_the_reader_are_still_imported_once(tmp_path, monkeypatch):
    monkeypatch.setattr(ingest, "RECENT_SOURCES", 1)
    src = [{"type": ["officialRegister"], "description": f"register {k}"} for k in range(3)]
    sts = [_entity(i, f"e{i}") for i in range(9)]
    for i, st in enumerate(sts):
        st["source"] = src[i % 3]  # each source seen again after the reader forgot it
    f = write_json(tmp_path / "sources.json", sts)
    db = tmp_path / "s.duckdb"
    import_files("bods", [f], db)
    titles = rows(
        db, "SELECT title, count(*) FROM sources WHERE kind <> 'import' GROUP BY title ORDER BY title"
    )
    assert titles == [(f"register {k}", 1) for k in range(3)]
    cited = rows(
        db,
        "SELECT s.title, count(*) FROM record_sources r JOIN sources s ON s.id = r.source "
        "WHERE r.record_type = 'entities' GROUP BY s.title ORDER BY s.title",
    )
    assert cited == [(f"register {k}", 3) for k in range(3)]
