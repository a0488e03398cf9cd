"""Store -> sparse matrices: the ownership graph (CSR lo/hi), id <-> index maps, condensation."""

from statecap.graph.condense import Condensation, condensation
from statecap.graph.load import load_graph, load_graph_parquet
from statecap.graph.model import OwnershipGraph, graph_from_arrays, subgraph

__all__ = [
    "Condensation",
    "OwnershipGraph",
    "condensation",
    "graph_from_arrays",
    "load_graph",
    "load_graph_parquet",
    "subgraph",
]
