"""Store -> OwnershipGraph, and Parquet -> OwnershipGraph, without a Python loop per row.

DuckDB numbers the entities (their row ids) and joins the stakes to those numbers itself, so
10M entities and 25M stakes arrive as a few numeric Arrow columns.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator, Sequence
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import scipy.sparse as sp
from scipy.sparse.csgraph import breadth_first_order

from statecap.errors import StoreError, UsageError
from statecap.graph.model import OwnershipGraph, _assemble, _kind_codes
from statecap.model.taxonomy import load_taxonomy

STAKE_TYPES = ("equity", "voting")


def _check_types(types: Sequence[str]) -> list[str]:
    out = list(types)
    for t in out:
        if t not in STAKE_TYPES:
            raise UsageError(f"stake type {t!r} is not one of {', '.join(STAKE_TYPES)}")
    if not out:
        raise UsageError("at least one stake type is needed")
    return out


def load_graph(
    con: duckdb.DuckDBPyConnection,
    as_of: dt.date | None = None,
    types: Sequence[str] = ("equity",),
    indirect: str = "auto",
) -> OwnershipGraph:
    """The ownership graph of a store as of a date.

    Args:
        con: an open statecap store.
        as_of: only stakes valid on this date count (``valid_from <= as_of < valid_to``, NULL
            ends open); None means today.
        types: stake types to include (``equity``, ``voting``).
        indirect: what to do with stakes recorded as indirect (``direct = false``, an aggregate
            holding through unnamed intermediaries): ``auto`` keeps one only when the owner has
            no chain of direct stakes to the owned entity (else it would be counted twice),
            ``keep`` keeps all, ``drop`` drops all.

    Returns:
        The graph; entity indices follow the store's row order.
    """
    if indirect not in ("auto", "keep", "drop"):
        raise UsageError(f"indirect={indirect!r}: use auto, keep or drop")
    day = as_of if as_of is not None else dt.date.today()
    kinds = _check_types(types)
    try:
        with _bounded_memory(con):
            ents = con.sql("SELECT id, name, kind, sectors FROM entities ORDER BY rowid").to_arrow_table()
            numbered = "SELECT id, rowid AS idx, kind IN $state_kinds AS organ FROM entities"
            stakes, total = _stake_query(con, numbered, "stakes", kinds, day)
    except duckdb.Error as exc:
        raise StoreError(f"cannot read entities and stakes from the store: {exc}") from None
    return _from_tables(ents, stakes, as_of=day, indirect=indirect, total=total)


LOAD_MEMORY_LIMIT = "1GB"


@contextlib.contextmanager
def _bounded_memory(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Keep DuckDB's buffer pool small while the graph is read (it would otherwise keep the
    store's pages cached beside the arrays), and restore the caller's setting after."""
    try:
        prev = con.execute("SELECT current_setting('memory_limit')").fetchone()
    except duckdb.Error:
        prev = None
    if prev is None:
        yield
        return
    try:
        con.execute(f"SET memory_limit = '{LOAD_MEMORY_LIMIT}'")
    except duckdb.Error:
        yield
        return
    try:
        yield
    finally:
        con.execute(f"SET memory_limit = '{prev[0]}'")


def _stake_query(
    con: duckdb.DuckDBPyConnection, numbered: str, stakes_from: str, kinds: list[str], day: dt.date
) -> tuple[pa.Table, int]:
    """Stakes valid on `day` as entity numbers, bounds as fractions and kind codes; the rows that
    carry nothing (self holdings, upper bound 0, stakes held in state organs) are left out.
    Returns the table and the number of stakes valid on the day before that."""
    state_kinds = sorted(load_taxonomy().state_kinds)
    where = """list_contains($types, s.type)
              AND (s.valid_from IS NULL OR s.valid_from <= $day)
              AND (s.valid_to IS NULL OR $day < s.valid_to)"""
    stakes = con.sql(
        f"""
        WITH e AS ({numbered})
        SELECT CAST(o.idx AS INTEGER) AS owner, CAST(d.idx AS INTEGER) AS owned,
               s.share_lo / 100.0 AS lo, s.share_hi / 100.0 AS hi,
               CAST(CASE s.share_kind WHEN 'exact' THEN 0 WHEN 'range' THEN 1 ELSE 2 END AS TINYINT) AS kind,
               coalesce(s.direct, true) AS direct, s.id
        FROM {stakes_from} s JOIN e o ON s.owner = o.id JOIN e d ON s.owned = d.id
        WHERE {where} AND s.owner <> s.owned AND s.share_hi > 0 AND NOT d.organ
        """,
        params={
            "types": kinds,
            "day": day,
            **({"state_kinds": state_kinds} if "$state_kinds" in numbered else {}),
        },
    ).to_arrow_table()
    row = con.execute(
        f"SELECT count(*) FROM {stakes_from} s WHERE {where}", {"types": kinds, "day": day}
    ).fetchone()
    return stakes, int(row[0]) if row else 0


def _from_tables(
    ents: pa.Table, stakes: pa.Table, *, as_of: dt.date | None, indirect: str, total: int
) -> OwnershipGraph:
    n = ents.num_rows
    kind_codes, kind_names = _kind_codes(ents["kind"])
    state_kinds = load_taxonomy().state_kinds
    is_state = np.zeros(n, dtype=bool)
    for i, k in enumerate(kind_names):
        if k in state_kinds:
            is_state |= kind_codes == i
    graph = _assemble(
        n=n, ids_arr=ents["id"].combine_chunks(), names_arr=ents["name"].combine_chunks(), kind_codes=kind_codes,
        kind_names=kind_names, sectors_arr=ents["sectors"].combine_chunks(), is_state=is_state,
        o=_np(stakes["owner"], np.int32), d=_np(stakes["owned"], np.int32), lo=_np(stakes["lo"], np.float64),
        hi=_np(stakes["hi"], np.float64), kind=_np(stakes["kind"], np.int8), direct=_col(stakes, "direct", True),
        stake_arr=stakes["id"].combine_chunks(), as_of=as_of,
    )  # fmt: skip
    graph.dropped = {"stakes_carrying_nothing": total - stakes.num_rows}
    return _filter_indirect(graph, indirect)


def _np(col: pa.ChunkedArray | pa.Array, dtype: type) -> np.ndarray:
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    return np.asarray(arr.to_numpy(zero_copy_only=False), dtype=dtype)


def _col(table: pa.Table, name: str, default: bool) -> np.ndarray:
    if name not in table.column_names:
        return np.full(table.num_rows, default, dtype=bool)
    arr = table[name].combine_chunks()
    return np.asarray(arr.fill_null(default).to_numpy(zero_copy_only=False), dtype=bool)


def _filter_indirect(graph: OwnershipGraph, indirect: str) -> OwnershipGraph:
    if indirect == "keep" or graph.edge_direct.all():
        return graph
    ind = np.flatnonzero(~graph.edge_direct)
    drop = np.zeros(graph.n_edges, dtype=bool)
    if indirect == "drop":
        drop[ind] = True
    else:
        dmask = graph.edge_direct
        direct_w = sp.csr_matrix(
            (np.ones(int(dmask.sum())), (graph.edge_owner[dmask], graph.edge_owned[dmask])),
            shape=(graph.n, graph.n),
        )
        reach_cache: dict[int, np.ndarray] = {}
        for e in ind:
            src = int(graph.edge_owner[e])
            if src not in reach_cache:
                reach_cache[src] = breadth_first_order(
                    direct_w, src, directed=True, return_predecessors=False
                )
            if np.any(reach_cache[src] == graph.edge_owned[e]):
                drop[e] = True
    if not drop.any():
        return graph
    keep = np.flatnonzero(~drop)
    out = _assemble(
        n=graph.n, ids_arr=graph.ids_arrow, names_arr=graph.names_arrow, kind_codes=graph.kind_codes,
        kind_names=graph.kind_names, sectors_arr=graph.sectors_arrow, is_state=graph.is_state,
        o=graph.edge_owner[keep], d=graph.edge_owned[keep], lo=graph.edge_lo[keep], hi=graph.edge_hi[keep],
        kind=graph.edge_kind[keep], direct=graph.edge_direct[keep], stake_arr=graph.edge_stake.take(pa.array(keep)),
        as_of=graph.as_of,
    )  # fmt: skip
    out.dropped = {**graph.dropped, "indirect_stakes_explained_by_direct_chains": int(drop.sum())}
    return out


def load_graph_parquet(
    directory: str | Path,
    as_of: dt.date | None = None,
    types: Sequence[str] = ("equity",),
    indirect: str = "auto",
) -> OwnershipGraph:
    """The ownership graph from ``entities.parquet`` and ``stakes.parquet`` (store column names).

    The stakes are filtered by date and type exactly as `load_graph` does, using DuckDB over
    the Parquet files (no store needed).
    """
    folder = Path(directory)
    ents_path, stakes_path = folder / "entities.parquet", folder / "stakes.parquet"
    for p in (ents_path, stakes_path):
        if not p.exists():
            raise UsageError(f"{p}: missing (need entities.parquet and stakes.parquet)")
    day = as_of if as_of is not None else dt.date.today()
    kinds = _check_types(types)
    con = duckdb.connect()
    try:
        ents = pq.read_table(ents_path, columns=["id", "name", "kind", "sectors"])
        state = np.isin(ents["kind"].to_numpy(zero_copy_only=False), sorted(load_taxonomy().state_kinds))
        numbered = pa.table(
            {
                "id": ents["id"],
                "idx": pa.array(np.arange(ents.num_rows, dtype=np.int64)),
                "organ": pa.array(state),
            }
        )
        con.register("numbered", numbered)
        stakes, total = _stake_query(
            con, "SELECT * FROM numbered", f"read_parquet('{stakes_path.as_posix()}')", kinds, day
        )
    except duckdb.Error as exc:
        raise UsageError(f"{folder}: cannot read the Parquet files: {exc}") from None
    finally:
        con.close()
    return _from_tables(ents, stakes, as_of=day, indirect=indirect, total=total)
