"""Build a store from a dataset: typed records in, DuckDB tables out, swapped in atomically."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import unicodedata
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from statecap import __version__
from statecap.model.dataset import Dataset, builtin_data_dir, load_dataset
from statecap.model.records import (
    Acquisition,
    Designation,
    Entity,
    Financial,
    Investment,
    JointVenture,
    Observation,
    Partnership,
    PolicyEvent,
    Record,
    Source,
    Spending,
    Stake,
)
from statecap.store.db import write_atomically
from statecap.store.schema import SCHEMA_VERSION, create_all


def normalize_term(text: str) -> str:
    """Case- and width-insensitive form used for search: NFKC, casefold, single spaces."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _base(rec: Record) -> dict[str, Any]:
    return {"confidence": rec.confidence, "note": rec.note}


def record_row(rec: Record) -> dict[str, Any]:
    """One table row for a record (without its link-table rows)."""
    if isinstance(rec, Source):
        return {
            "id": rec.key, "url": rec.url, "publisher": rec.publisher, "title": rec.title,
            "accessed": rec.accessed, "published": rec.published, "kind": rec.kind, **_base(rec),
        }  # fmt: skip
    if isinstance(rec, Entity):
        return {
            "id": rec.key, "name": rec.name, "name_zh": rec.name_zh, "aliases": list(rec.aliases),
            "kind": rec.kind, "country": rec.country, "level": rec.level, "region": rec.region,
            "uscc": rec.identifiers.uscc, "lei": rec.identifiers.lei, "tickers": list(rec.identifiers.tickers),
            "wikidata": rec.identifiers.wikidata, "sectors": list(rec.sectors), "description": rec.description,
            "founded": rec.founded, "dissolved": rec.dissolved, **_base(rec), "origin": "dataset",
        }  # fmt: skip
    if isinstance(rec, Stake):
        return {
            "id": rec.key, "owner": rec.owner, "owned": rec.owned, "share_lo": rec.share.lo,
            "share_hi": rec.share.hi, "share_kind": rec.share.kind, "type": rec.type, "direct": rec.direct,
            "valid_from": rec.valid_from, "valid_to": rec.valid_to, **_base(rec), "origin": "dataset",
        }  # fmt: skip
    if isinstance(rec, Investment):
        return {
            "id": rec.key, "investor": rec.investor, "investee": rec.investee, "sector": rec.sector,
            "mechanism": rec.mechanism, "amount": rec.amount, "currency": rec.currency, "date": rec.date,
            "kind": rec.kind, **_base(rec),
        }  # fmt: skip
    if isinstance(rec, Acquisition):
        return {
            "id": rec.key, "acquirer": rec.acquirer, "target": rec.target, "announced": rec.announced,
            "closed": rec.closed, "status": rec.status, "value": rec.value, "currency": rec.currency,
            "stake_acquired": rec.stake_acquired, "blocking_authority": rec.blocking_authority,
            "sector": rec.sector, **_base(rec),
        }  # fmt: skip
    if isinstance(rec, JointVenture):
        return {
            "id": rec.key, "entity": rec.entity, "name": rec.name, "sector": rec.sector,
            "valid_from": rec.valid_from, "valid_to": rec.valid_to, "amount": rec.amount,
            "currency": rec.currency, **_base(rec),
        }  # fmt: skip
    if isinstance(rec, Spending):
        return {
            "id": rec.key, "entity": rec.entity, "year": rec.year, "category": rec.category,
            "amount": rec.amount, "currency": rec.currency, "sector": rec.sector, **_base(rec),
        }  # fmt: skip
    if isinstance(rec, Partnership):
        return {
            "id": rec.key, "kind": rec.kind, "name": rec.name, "sector": rec.sector,
            "valid_from": rec.valid_from, "valid_to": rec.valid_to, "amount": rec.amount,
            "currency": rec.currency, **_base(rec),
        }  # fmt: skip
    if isinstance(rec, Designation):
        return {
            "id": rec.key, "entity": rec.entity, "list": rec.list, "start": rec.start, "end": rec.end,
            "authority": rec.authority, "citation": rec.citation,
            "licence_requirement": rec.licence_requirement, **_base(rec),
        }  # fmt: skip
    if isinstance(rec, PolicyEvent):
        return {
            "id": rec.key, "date": rec.date, "announced": rec.announced, "end": rec.end,
            "authority": rec.authority, "country": rec.country, "kind": rec.kind, "title": rec.title,
            "citation": rec.citation, "sectors": list(rec.sectors), "rule": rec.rule, **_base(rec),
        }  # fmt: skip
    if isinstance(rec, Financial):
        return {
            "id": rec.key, "entity": rec.entity, "year": rec.year, "currency": rec.currency,
            "revenue": rec.revenue, "net_profit": rec.net_profit, "total_assets": rec.total_assets,
            "total_liabilities": rec.total_liabilities, "equity": rec.equity, "rd_expense": rec.rd_expense,
            **_base(rec),
        }  # fmt: skip
    if isinstance(rec, Observation):
        return {
            "id": rec.key, "series": rec.series, "year": rec.year, "value": rec.value, "unit": rec.unit,
            "sector": rec.sector, "entity": rec.entity, **_base(rec),
        }  # fmt: skip
    raise TypeError(f"no table for {type(rec).__name__}")


def insert_rows(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict[str, Any]]) -> None:
    """Insert dict rows into `table`, matching columns by name (missing ones become NULL)."""
    if not rows:
        return
    cols = [c[0] for c in con.execute(f"DESCRIBE {table}").fetchall()]
    frame = pd.DataFrame.from_records(rows, columns=cols)
    arrow = pa.Table.from_pandas(frame, preserve_index=False)
    con.register("_rows", arrow)
    try:
        quoted = ", ".join(f'"{c}"' for c in cols)
        con.execute(f"INSERT INTO {table} ({quoted}) SELECT {quoted} FROM _rows")
    finally:
        con.unregister("_rows")


def link_rows(folder: str, rec: Record) -> dict[str, list[dict[str, Any]]]:
    """Link-table rows for one record (sources, partners, parties, suspensions, identifiers), by table."""
    out: dict[str, list[dict[str, Any]]] = {"record_sources": []}
    if folder != "sources":
        out["record_sources"] = [
            {"record_type": folder, "record_id": rec.key, "source": s} for s in rec.sources
        ]
    if isinstance(rec, JointVenture):
        out["jv_partners"] = [
            {
                "jv": rec.key,
                "partner": p.id,
                "share_lo": p.share.lo,
                "share_hi": p.share.hi,
                "share_kind": p.share.kind,
            }
            for p in rec.partners
        ]
    elif isinstance(rec, Partnership):
        out["partnership_parties"] = [
            {"partnership": rec.key, "party": p, "position": i} for i, p in enumerate(rec.parties)
        ]
    elif isinstance(rec, PolicyEvent):
        out["policy_suspensions"] = [
            {"event": rec.key, "from": w.start, "to": w.end} for w in rec.suspensions
        ]
    elif isinstance(rec, Entity):
        ids = rec.identifiers
        rows = [("uscc", ids.uscc), ("lei", ids.lei), ("wikidata", ids.wikidata)]
        rows += [("ticker", t) for t in ids.tickers]
        out["entity_identifiers"] = [{"entity": rec.key, "scheme": s, "value": v} for s, v in rows if v]
    return out


# Entities whose search terms are computed together: bounds the memory of a refresh.
TERMS_BATCH = 20_000


def refresh_terms(con: duckdb.DuckDBPyConnection) -> None:
    """Rebuild the search-term table from entities and their identifiers.

    Works through the entities in id order, `TERMS_BATCH` at a time (each entity's terms depend
    only on its own row and identifiers), so memory stays flat however large the store is.
    """
    con.execute("DELETE FROM entity_terms")
    bounds = [
        r[0]
        for r in con.execute(
            f"""SELECT id FROM (SELECT id, row_number() OVER (ORDER BY id) AS rn FROM entities)
                WHERE (rn - 1) % {TERMS_BATCH} = 0 ORDER BY id"""
        ).fetchall()
    ]
    # batch i holds ids from bounds[i] up to bounds[i + 1]; the first and last are open-ended
    # so identifiers are all covered, as in one pass
    edges: list[Any] = [None, *bounds[1:], None]
    for lo, hi in zip(edges, edges[1:], strict=False):
        conds = [c for c, v in (("{col} >= $lo", lo), ("{col} < $hi", hi)) if v is not None]
        params = {k: v for k, v in (("lo", lo), ("hi", hi)) if v is not None}
        where = (" WHERE " + " AND ".join(conds)) if conds else ""
        ents = con.execute(
            "SELECT id, name, name_zh, aliases FROM entities" + where.format(col="id"), params
        ).fetch_df()
        idents = con.execute(
            "SELECT entity, value FROM entity_identifiers" + where.format(col="entity"), params
        ).fetch_df()
        _insert_terms(con, ents, idents)


def _insert_terms(con: duckdb.DuckDBPyConnection, ents: pd.DataFrame, idents: pd.DataFrame) -> None:
    parts = [
        pd.DataFrame({"entity": ents["id"], "term": ents["id"], "weight": 0}),
        pd.DataFrame({"entity": ents["id"], "term": ents["name"], "weight": 1}),
        pd.DataFrame({"entity": ents["id"], "term": ents["name_zh"], "weight": 1}),
        pd.DataFrame({"entity": idents["entity"], "term": idents["value"], "weight": 1}),
    ]
    # ticker without exchange suffix: "0981.HK" is also found as "0981"
    tick = idents[idents["value"].str.contains(".", regex=False)]
    parts.append(
        pd.DataFrame({"entity": tick["entity"], "term": tick["value"].str.split(".").str[0], "weight": 2})
    )
    al = ents[["id", "aliases"]].explode("aliases")
    parts.append(pd.DataFrame({"entity": al["id"], "term": al["aliases"], "weight": 2}))
    terms = pd.concat(parts, ignore_index=True).dropna()
    terms["term"] = terms["term"].astype(str).str.normalize("NFKC").str.casefold().str.split().str.join(" ")
    terms = terms[terms["term"] != ""]
    terms = terms.groupby(["entity", "term"], as_index=False)["weight"].min().sort_values(["entity", "term"])
    arrow = pa.Table.from_pandas(terms[["entity", "term", "weight"]], preserve_index=False)
    con.register("_terms", arrow)
    try:
        con.execute("INSERT INTO entity_terms SELECT entity, term, CAST(weight AS INTEGER) FROM _terms")
    finally:
        con.unregister("_terms")


def dataset_digest(ds: Dataset) -> str:
    """A digest of the dataset's content, independent of file layout and record order."""
    h = hashlib.sha256()
    for folder in sorted(ds.records):
        for key, dump in sorted((r.key, r.model_dump_json()) for r in ds.records[folder]):
            h.update(f"{folder}\x1f{key}\x1f{dump}\x1e".encode())
    return h.hexdigest()


def fill_store(con: duckdb.DuckDBPyConnection, ds: Dataset, data_dir: str) -> None:
    """Create the schema in an empty database and load every record of `ds`."""
    create_all(con)
    links: dict[str, list[dict[str, Any]]] = {}
    for folder, recs in ds.records.items():
        ordered = sorted(recs, key=lambda r: r.key)
        insert_rows(con, folder, [record_row(r) for r in ordered])
        for r in ordered:
            for table, rows in link_rows(folder, r).items():
                links.setdefault(table, []).extend(rows)
    for table, rows in links.items():
        insert_rows(con, table, rows)
    refresh_terms(con)
    meta = {
        "schema_version": SCHEMA_VERSION,
        "statecap_version": __version__,
        "data_digest": dataset_digest(ds),
        "data_dir": data_dir,
    }
    insert_rows(con, "meta", [{"key": k, "value": v} for k, v in sorted(meta.items())])


def build_store(data_dir: str | Path | None = None, db: str | Path | None = None) -> tuple[Path, Dataset]:
    """Load and check `data_dir` (the built-in dataset by default), then write the store at `db`.

    The dataset is fully validated before the store is touched; the new store is swapped in
    atomically, so a failure leaves the previous store byte-identical.
    """
    src = Path(data_dir) if data_dir is not None else builtin_data_dir()
    ds = load_dataset(src)
    label = "builtin" if data_dir is None else str(src)
    path = write_atomically(db, lambda con: fill_store(con, ds, label))
    return path, ds


def content_digest(con: duckdb.DuckDBPyConnection) -> str:
    """A digest of every table's content (order-independent), for equality checks between stores."""
    h = hashlib.sha256()
    tables = [
        r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() ORDER BY table_name").fetchall()
    ]
    for t in tables:
        rows = con.execute(f"SELECT * FROM {t}").fetchall()
        canon = sorted(json.dumps(list(r), default=_json_default, ensure_ascii=False) for r in rows)
        h.update(f"{t}\x1f{len(canon)}\x1e".encode())
        for line in canon:
            h.update(line.encode())
    return h.hexdigest()


def _json_default(x: Any) -> Any:
    if isinstance(x, dt.date):
        return x.isoformat()
    return str(x)
