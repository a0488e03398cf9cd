"""The built-in dataset: every named actor of the seed system is state-controlled or -influenced,
with a chain of stakes to a state organ (or is a state organ itself)."""

from __future__ import annotations

import pytest

from statecap.analytics.ownership import entity_state_summary, explain_paths, upstream_graph
from statecap.graph import load_graph
from statecap.store.db import connect

# the named actors of ARCHITECTURE.md, by their shared ids (docs/data-format.md)
NAMED_ACTORS = (
    "cn-smic",
    "cn-ymtc",
    "cn-big-fund-i",
    "cn-big-fund-ii",
    "cn-big-fund-iii",
    "cn-crrc",
    "cn-china-mobile",
    "cn-china-telecom",
    "cn-china-unicom",
    "cn-avic",
    "cn-casc",
    "cn-citic-group",
    "cn-state-grid",
    "cn-chemchina",
    "cn-sinochem-holdings",
    "cn-syngenta-group",
    "ch-syngenta",
    "cn-comac",
    "cn-sasac",
)


@pytest.fixture(scope="module")
def builtin_graph(tmp_path_factory):
    from statecap.errors import StatecapError
    from statecap.store.build import build_store

    path = tmp_path_factory.mktemp("builtin-ownership") / "atlas.duckdb"
    try:
        build_store(None, path)
    except StatecapError as exc:
        pytest.skip(f"the built-in dataset does not build yet: {str(exc).splitlines()[0]}")
    with connect(path) as con:
        return load_graph(con)


@pytest.mark.parametrize("actor", NAMED_ACTORS)
def test_named_actor_is_state_controlled_or_influenced(builtin_graph, actor):
    g = builtin_graph
    try:
        i = g.index_of(actor)
    except Exception:
        pytest.skip(f"{actor} is not in the built-in dataset yet")
    summary = entity_state_summary(g, i)
    summary.pop("_sub")
    assert summary["state_class"]["class"] in ("state_controlled", "state_influenced"), summary
    if g.is_state[i]:
        return
    sub, _old, t = upstream_graph(g, i)
    paths = explain_paths(sub, "state", t, k=1)
    assert paths, f"{actor}: no chain of stakes to a state organ"
    assert sub.is_state[paths[0].nodes[0]]
    assert paths[0].nodes[-1] == t
