"""An entity's upstream registry, collected from Spark into a small in-memory store.

Every per-entity answer of the ownership, control and screening rules depends only on the
entity and its upstream entities (its owners, their owners, ...): an entity's state share and
control come down from its owners, and a cascade catches it from roots above it. So the local
query functions, run on a store holding just that part of the registry, give the whole
registry's answers about the entity, with their explanations (paths, chains, evidence). The
part is found by rounds of joins up the stakes, from the entity to the entities nobody holds.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from statecap.engines.source import RegistrySource


def upstream_ids(spark: Any, source: RegistrySource, seeds: list[str], day: dt.date) -> Any:
    """(id) of the seeds and every entity upstream of them through stakes valid on `day` (any type)."""
    from pyspark.sql import functions as F

    stakes_path = source.path("stakes")
    assert stakes_path is not None
    day_lit = F.lit(day.isoformat()).cast("date")
    edges = (
        spark.read.parquet(str(stakes_path))
        .where(
            (F.col("owner") != F.col("owned"))
            & (F.col("valid_from").isNull() | (F.col("valid_from") <= day_lit))
            & (F.col("valid_to").isNull() | (day_lit < F.col("valid_to")))
        )
        .select("owner", "owned")
        .distinct()
        .localCheckpoint(eager=True)
    )
    seen = spark.createDataFrame([(s,) for s in sorted(set(seeds))], "id string").localCheckpoint(eager=True)
    frontier = seen
    while True:
        new = (
            edges.join(F.broadcast(frontier.select(F.col("id").alias("owned"))), "owned")
            .select(F.col("owner").alias("id"))
            .distinct()
            .join(seen, "id", "left_anti")
            .localCheckpoint(eager=True)
        )
        if new.isEmpty():
            break
        seen = seen.unionByName(new).localCheckpoint(eager=True)
        frontier = new
    edges.unpersist()
    return seen


def upstream_store(engine: Any, source: RegistrySource, seeds: list[str], day: dt.date) -> Any:
    """An in-memory store (DuckDB) with the upstream part of the registry (see the module doc).

    Entities keep the registry's order; stakes are those between two kept entities (any date,
    so the store answers as of `day` like the registry); designations, identifiers and
    financials of kept entities; every policy event and suspension; the sources of kept
    entities, stakes and designations.
    """
    import duckdb
    from pyspark.sql import functions as F

    from statecap.store.schema import create_all

    spark = engine.spark
    keep = upstream_ids(spark, source, seeds, day)
    kept = F.broadcast(keep) if keep.count() <= 1_000_000 else keep
    con = duckdb.connect()
    create_all(con)

    def read(name: str) -> Any:
        """The table with its file order (``_f``, ``_r``), or None when the registry lacks it."""
        df = engine._read_optional(source, name)
        if df is None:
            return None
        return df.select(
            "*", F.col("_metadata.file_path").alias("_f"), F.col("_metadata.row_index").alias("_r")
        )

    def insert(name: str, df: Any) -> None:
        """Insert in the registry's row order, so the store numbers and lists things as the registry does."""
        have = {r[1] for r in con.execute(f"PRAGMA table_info('{name}')").fetchall()}
        cols = [c for c in df.columns if c in have]
        table = df.orderBy("_f", "_r").select(*cols).toArrow()
        con.register("_t", table)
        quoted = ", ".join(f'"{c}"' for c in cols)
        con.execute(f"INSERT INTO {name} ({quoted}) SELECT {quoted} FROM _t")
        con.unregister("_t")

    insert("entities", read("entities").join(kept, "id", "left_semi"))
    stakes = (
        read("stakes")
        .join(kept.withColumnRenamed("id", "owner"), "owner", "left_semi")
        .join(kept.withColumnRenamed("id", "owned"), "owned", "left_semi")
        .persist()
    )
    insert("stakes", stakes)
    cited = [("entities", keep), ("stakes", stakes.select("id"))]
    for name, col in (("designations", "entity"), ("financials", "entity"), ("entity_identifiers", "entity")):
        df = read(name)
        if df is None:
            continue
        df = df.join(kept.withColumnRenamed("id", col), col, "left_semi")
        if name == "designations":
            df = df.persist()
            cited.append(("designations", df.select("id")))
        insert(name, df)
    for name in ("policy_events", "policy_suspensions"):
        df = read(name)
        if df is not None:
            insert(name, df)
    rs = read("record_sources")
    if rs is not None:
        wanted = None
        for rtype, ids in cited:
            part = ids.select(F.lit(rtype).alias("record_type"), F.col("id").alias("record_id"))
            wanted = part if wanted is None else wanted.unionByName(part)
        assert wanted is not None
        rs = rs.join(wanted, ["record_type", "record_id"], "left_semi").persist()
        insert("record_sources", rs)
        src = read("sources")
        if src is not None:
            insert("sources", src.join(rs.select(F.col("source").alias("id")).distinct(), "id", "left_semi"))
        rs.unpersist()
    stakes.unpersist()
    return con
