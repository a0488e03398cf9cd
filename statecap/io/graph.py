"""GEXF (Gephi) and GraphML (yEd, Cytoscape) out: the ownership network with its measures.

Nodes are entities with their kind, country, sectors, the state's integrated share as bounds
(``state_share_lo``/``state_share_hi``, percent) and the control class; edges are stakes (owner
-> owned) with share bounds, type, direct flag, dates and source ids. The state share and class
come from the ownership kernels (`statecap.analytics`) on the equity graph as of the export date
(today when the whole history is exported).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import duckdb

from statecap.io.store_read import read_records
from statecap.model.records import Entity, Stake


def network(con: duckdb.DuckDBPyConnection, as_of: dt.date | None = None) -> Any:
    """The store as a networkx MultiDiGraph with statecap attributes (strings and numbers only)."""
    import networkx as nx

    from statecap.analytics.control import CLASSES, classify
    from statecap.analytics.ownership import state_share
    from statecap.graph.load import load_graph

    recs = read_records(con, as_of)
    graph = load_graph(con, as_of=as_of)
    share = state_share(graph)
    ctrl = classify(graph, share.lo, share.hi)
    index = {eid: i for i, eid in enumerate(graph.ids_arrow.to_pylist())}

    g = nx.MultiDiGraph(name="statecap ownership network", as_of=(as_of or dt.date.today()).isoformat())
    for e in recs["entities"]:
        assert isinstance(e, Entity)
        attrs: dict[str, Any] = {
            "label": e.name,
            "kind": e.kind,
            "country": e.country,
            "sectors": ";".join(e.sectors),
            "name_zh": e.name_zh or "",
            "level": e.level or "",
            "sources": ";".join(e.sources),
        }
        i = index.get(e.key)
        if i is not None:
            attrs["state_share_lo"] = float(share.lo[i])
            attrs["state_share_hi"] = float(share.hi[i])
            attrs["class"] = CLASSES[int(ctrl.state_class[i])]
            attrs["class_definite"] = CLASSES[int(ctrl.definite_class[i])]
        g.add_node(e.key, **attrs)
    for s in recs["stakes"]:
        assert isinstance(s, Stake)
        g.add_edge(
            s.owner,
            s.owned,
            key=s.key,
            id=s.key,
            type=s.type,
            direct=s.direct,
            share_lo=float(s.share.lo),
            share_hi=float(s.share.hi),
            share_kind=s.share.kind,
            valid_from=s.valid_from.isoformat() if s.valid_from else "",
            valid_to=s.valid_to.isoformat() if s.valid_to else "",
            sources=";".join(s.sources),
        )
    return g


def write_gexf(con: duckdb.DuckDBPyConnection, out: Path, as_of: dt.date | None) -> dict[str, Any]:
    """Write the network as GEXF 1.2 (Gephi)."""
    import networkx as nx

    g = network(con, as_of)
    out.parent.mkdir(parents=True, exist_ok=True)
    nx.write_gexf(g, out, version="1.2draft")
    return {"nodes": g.number_of_nodes(), "edges": g.number_of_edges()}


def write_graphml(con: duckdb.DuckDBPyConnection, out: Path, as_of: dt.date | None) -> dict[str, Any]:
    """Write the network as GraphML (yEd, Cytoscape, networkx)."""
    import networkx as nx

    g = network(con, as_of)
    out.parent.mkdir(parents=True, exist_ok=True)
    nx.write_graphml(g, out)
    return {"nodes": g.number_of_nodes(), "edges": g.number_of_edges()}
