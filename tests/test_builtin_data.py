"""Invariants of the built-in dataset (issue 3): checked independently of the analytics code.

Paths to state organs are found here by a plain breadth-first search over the stakes table, not
with the ownership core, so a bug there cannot hide a broken dataset.
"""

from __future__ import annotations

from collections import defaultdict, deque

import pytest

from statecap.model.dataset import load_dataset
from statecap.model.taxonomy import load_taxonomy
from statecap.store.audit import audit
from statecap.store.db import connect

# the named actors of ARCHITECTURE.md ("The seed system, part by part")
NAMED_ACTORS = {
    "cn-smic": "SMIC",
    "cn-ymtc": "YMTC",
    "cn-big-fund-i": "Big Fund I",
    "cn-big-fund-ii": "Big Fund II",
    "cn-big-fund-iii": "Big Fund III",
    "cn-crrc": "CRRC",
    "cn-china-mobile": "China Mobile",
    "cn-china-telecom": "China Telecom",
    "cn-china-unicom": "China Unicom",
    "cn-avic": "AVIC",
    "cn-casc": "CASC",
    "cn-citic-group": "CITIC Group",
    "cn-state-grid": "State Grid",
    "cn-chemchina": "ChemChina",
    "cn-sinochem-holdings": "Sinochem Holdings",
    "ch-syngenta": "Syngenta",
    "cn-comac": "COMAC",
}


@pytest.fixture(scope="module")
def con(builtin_db):
    with connect(builtin_db) as c:
        yield c


def test_dataset_validates_strictly():
    ds = load_dataset()  # raises DataError with every problem
    assert ds.counts()["entities"] > 0


def test_every_named_actor_is_present_and_reaches_a_state_organ(con):
    kinds = dict(con.execute("SELECT id, kind FROM entities").fetchall())
    owners = defaultdict(list)
    for owner, owned in con.execute("SELECT owner, owned FROM stakes").fetchall():
        owners[owned].append(owner)
    state_kinds = load_taxonomy().state_kinds
    assert kinds.get("cn-sasac") in state_kinds
    for eid, label in NAMED_ACTORS.items():
        assert eid in kinds, f"{label} ({eid}) missing from the dataset"
        seen, queue, found = {eid}, deque([eid]), False
        while queue and not found:
            for o in owners[queue.popleft()]:
                if kinds.get(o) in state_kinds:
                    found = True
                    break
                if o not in seen:
                    seen.add(o)
                    queue.append(o)
        assert found, f"{label} ({eid}) has no chain of stakes up to a state organ"


def test_no_unsourced_record_and_chinese_names(con):
    a = audit(con)
    assert a["unsourced"] == 0
    assert a["chinese_entities_without_name_zh"] == []


def test_size_and_coverage(con):
    a = audit(con)
    assert a["records_by_type"]["entities"] >= 400
    assert a["relationships"] >= 1000
    tax = load_taxonomy()
    thin_sectors = {s: n for s, n in a["records_by_sector"].items() if n < 15}
    thin_mechanisms = {m: n for m, n in a["records_by_mechanism"].items() if n < 15}
    assert not thin_sectors, f"sectors with fewer than 15 records: {thin_sectors}"
    assert not thin_mechanisms, f"mechanisms with fewer than 15 records: {thin_mechanisms}"
    assert set(a["records_by_sector"]) == set(tax.top_sectors)


def test_sources_are_complete(con):
    bad = con.execute(
        "SELECT id FROM sources WHERE url IS NULL OR publisher IS NULL OR title IS NULL OR accessed IS NULL"
    ).fetchall()
    assert bad == []
