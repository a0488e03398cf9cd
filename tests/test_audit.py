"""`statecap data audit` on the hand-made mini atlas, against counts worked out by hand."""

from __future__ import annotations

import json

from statecap.store.audit import audit
from statecap.store.db import connect

from .conftest import run_cli


def test_audit_mini_by_hand(mini_db):
    with connect(mini_db) as con:
        a = audit(con)
    cells = {(c["sector"], c["mechanism"]): c["records"] for c in a["coverage"]}
    # fund->chipco and fund->chipdesign: investment + stake each; fund->aico: investment + stake
    assert cells[("semiconductors", "guidance_fund")] == 4
    assert cells[("ai", "guidance_fund")] == 2
    assert cells[("semiconductors", "mergers_acquisitions")] == 1  # chipco's bid for chipdesign
    assert cells[("semiconductors", "direct_rd")] == 3  # chipco's and chipdesign's R&D spending
    # the organs' commitments to the fund have no sector of their own: they are not counted
    assert sum(cells.values()) == 10
    assert a["records_by_sector"]["semiconductors"] == 8
    assert a["records"] == 29 and a["unsourced"] == 0 and a["sourced_share"] == 1.0
    assert [o["id"] for o in a["entities_without_owner_path"]] == ["cn-founder"]
    assert a["relationships"] == 6 + 5 + 1 + 0 + 0 + 1


def test_audit_cli_json_contract(mini_db):
    data = json.loads(run_cli("data", "audit", "--db", str(mini_db), "--json", check=True).stdout)
    assert {"records", "unsourced", "coverage", "entities_without_owner_path"} <= set(data)
    assert {"sector", "mechanism", "records"} <= set(data["coverage"][0])
