"""The synthetic registry: deterministic, shaped as promised, usable by every analytics command."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pyarrow.parquet as pq

from statecap.analytics.control import classify
from statecap.analytics.ownership import state_share
from statecap.graph import load_graph_parquet
from statecap.graph.condense import condensation
from statecap.graph.synth import generate
from tests.conftest import run_cli


def test_same_seed_same_files(tmp_path):
    from statecap.graph.synth import write_parquet

    run_cli("synth", "--entities", "2000", "--seed", "11", "--out", str(tmp_path / "a"), check=True)
    write_parquet(generate(2000, 11), tmp_path / "b")
    for table in ("entities", "stakes", "designations"):
        a = pq.read_table(tmp_path / "a" / f"{table}.parquet")
        b = pq.read_table(tmp_path / "b" / f"{table}.parquet")
        assert a.equals(b)
    other = generate(2000, 12)
    assert not other.stakes.equals(pq.read_table(tmp_path / "a" / "stakes.parquet"))


def test_shape_of_the_registry(tmp_path):
    reg = generate(50_000, 3)
    n = reg.entities.num_rows
    kinds = reg.entities["kind"].to_numpy(zero_copy_only=False)
    assert 0.008 <= np.mean(kinds == "state_organ") <= 0.012
    assert 2.0 <= reg.stakes.num_rows / n <= 3.0
    share_kind = reg.stakes["share_kind"].to_numpy(zero_copy_only=False)
    assert (share_kind == "range").mean() > 0.05 and (share_kind == "unknown").mean() > 0.02
    assert reg.designations.num_rows == n // 1000
    # owners of one entity never hold more than 100% at their minimum
    st = reg.stakes.to_pandas()
    assert st.groupby("owned")["share_lo"].sum().max() <= 100.0 + 1e-9
    from statecap.graph.synth import write_parquet

    write_parquet(reg, tmp_path)
    g = load_graph_parquet(tmp_path, dt.date(2026, 1, 1))
    cond = condensation(g)
    assert cond.cyclic.sum() > 10  # cross-holding cycles
    # heavy tail: some owners hold hundreds of stakes
    out_deg = np.diff(g.W_lo.indptr)
    assert out_deg.max() > 200
    # long chains: majority/ownership depth of eight or more
    share = state_share(g)
    ctrl = classify(g, share.lo, share.hi)
    depth = _max_depth(g)
    assert depth >= 8
    assert len(set(ctrl.state_class.tolist())) == 4


def _max_depth(g) -> int:
    """Longest chain of stakes, over the acyclic part (components in topological order)."""
    cond = condensation(g)
    level = np.zeros(cond.n_components, dtype=np.int64)
    in_ptr, in_idx, _lo, _hi = g.in_csr
    for c in cond.order:
        for v in cond.component_members(int(c)):
            owners = in_idx[in_ptr[v] : in_ptr[v + 1]]
            oc = cond.comp[owners]
            oc = oc[oc != c]
            if len(oc):
                level[c] = max(level[c], int(level[oc].max()) + 1)
    return int(level.max())


def test_store_runs_every_analytics_command(tmp_path):
    from statecap.analytics.control import control_report
    from statecap.analytics.ownership import owners_report, state_share_report
    from statecap.store.db import connect
    from statecap.store.query import stats

    db = tmp_path / "syn.duckdb"
    out = json.loads(
        run_cli("synth", "--entities", "3000", "--seed", "2", "--db", str(db), "--json", check=True).stdout
    )
    assert out["entities"] == 3000 and out["files"] == [str(db)]
    with connect(db) as con:
        top = state_share_report(con, top=3)
        assert len(top["results"]) == 3
        first = top["results"][0]
        owners = owners_report(con, first["id"])
        assert owners["state_share"] == first["state_share"]
        assert control_report(con, first["id"])["state_class"] == first["state_class"]
        counts = stats(con)
    assert counts["counts"]["entities"] == 3000 and counts["unsourced_records"] == 0
