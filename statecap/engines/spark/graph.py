"""Registry Parquet -> the ownership graph as Spark DataFrames (same numbering and filters as local).

``nodes``: ``node`` (the entity's row number in ``entities.parquet``, as `load_graph_parquet`
numbers it), ``id``, ``root`` (a state organ). ``edges``: one row per (owner, owned) pair with
``lw``/``hw`` the summed stake bounds as fractions capped at 1, exactly as `_assemble` builds
``W_lo``/``W_hi``: self holdings, zero stakes and stakes into state organs are dropped first.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from statecap.engines.source import RegistrySource


@dataclass
class SparkGraph:
    """The graph on Spark; ``edges`` and ``nodes`` are cached until `unpersist`."""

    spark: Any
    nodes: Any
    edges: Any
    n: int

    def unpersist(self) -> None:
        self.nodes.unpersist()
        self.edges.unpersist()


# entity columns an engine may ask for, with their types when a registry's file lacks them
ENTITY_TYPES = {
    "id": "string", "name": "string", "kind": "string", "country": "string", "level": "string",
    "sectors": "array<string>",
}  # fmt: skip


def read_entities(spark: Any, source: RegistrySource, columns: tuple[str, ...] = ("id", "kind")) -> Any:
    """Entities with their row number ``node`` (file order; several files in path order).

    A column the file lacks (``country``, ``level``, ``sectors``) comes back null.
    """
    from pyspark.sql import functions as F

    path = source.path("entities")
    assert path is not None
    raw = spark.read.parquet(str(path))
    have = set(raw.columns)
    cols = [
        F.col(c) if c in have else F.lit(None).cast(ENTITY_TYPES.get(c, "string")).alias(c) for c in columns
    ]
    df = raw.select(*cols, F.col("_metadata.file_path").alias("_f"), F.col("_metadata.row_index").alias("_r"))
    if not source.remote and path.is_file():
        return df.withColumn("node", F.col("_r")).drop("_f", "_r")
    # a folder of part files: number the rows in (file path, row) order without a global sort
    counts = df.groupBy("_f").count().orderBy("_f").collect()
    offsets, total = [], 0
    for row in counts:
        offsets.append((row["_f"], total))
        total += int(row["count"])
    off = spark.createDataFrame(offsets, "_f string, _off long")
    return (
        df.join(F.broadcast(off), "_f")
        .withColumn("node", F.col("_off") + F.col("_r"))
        .drop("_f", "_r", "_off")
    )


@dataclass(frozen=True)
class Copy:
    """One copy of the graph in a multi-copy run: stakes valid on `day`; roots are the state
    organs (of `level` only, when given: central, provincial, ...)."""

    day: dt.date
    level: str | None = None


def load_stakes(
    spark: Any,
    source: RegistrySource,
    day: dt.date | list[Copy],
    types: list[str],
    indirect: str,
) -> tuple[Any, Any]:
    """(nodes, stakes): one row per stake kept on `day` (``o``, ``d``, ``lo``, ``hi`` as fractions,
    ``direct``), after the drops and the indirect-stake policy of `load_graph_parquet`.

    With a list of `Copy`, the graphs of every copy side by side: copy ``c`` numbers entity ``i``
    as ``c * n + i`` (n entities), its stakes are those valid on its day, its roots its own; so
    one run answers for many dates (and root sets) in the rounds of one. ``nodes`` then has a
    ``copy`` column too.
    """
    from pyspark.sql import functions as F

    from statecap.model.taxonomy import load_taxonomy

    copies = day if isinstance(day, list) else [Copy(day)]
    single = not isinstance(day, list)
    state_kinds = sorted(load_taxonomy().state_kinds)
    ents = read_entities(spark, source, ("id", "kind", "level"))
    base = ents.select("node", "id", F.col("kind").isin(state_kinds).alias("organ"), "level")
    stakes_path = source.path("stakes")
    assert stakes_path is not None
    stakes = spark.read.parquet(str(stakes_path))
    direct = F.col("direct") if "direct" in stakes.columns else F.lit(True)
    st = stakes.where(F.col("type").isin(types)).select(
        "owner", "owned", (F.col("share_lo") / 100.0).alias("lo"), (F.col("share_hi") / 100.0).alias("hi"),
        F.coalesce(direct, F.lit(True)).alias("direct"), "valid_from", "valid_to",
    )  # fmt: skip
    ids = base.select(F.col("id").alias("_id"), F.col("node").alias("_n"), F.col("organ").alias("_root"))
    st = (
        st.join(ids, st["owner"] == ids["_id"])
        .select(F.col("_n").alias("o"), "owned", "lo", "hi", "direct", "valid_from", "valid_to")
        .join(ids, F.col("owned") == ids["_id"])
        .select("o", F.col("_n").alias("d"), "lo", "hi", "direct", "valid_from", "valid_to", F.col("_root").alias("into_root"))
        .where((F.col("o") != F.col("d")) & (F.col("hi") > 0) & ~F.col("into_root"))
    )  # fmt: skip
    if single:
        day_lit = F.lit(copies[0].day.isoformat()).cast("date")
        st = st.where(
            (F.col("valid_from").isNull() | (F.col("valid_from") <= day_lit))
            & (F.col("valid_to").isNull() | (day_lit < F.col("valid_to")))
        ).select("o", "d", "lo", "hi", "direct")
        nodes = base.select("node", "id", F.col("organ").alias("root"))
    else:
        n = base.count()
        cp = spark.createDataFrame(
            [(k, c.day, c.level) for k, c in enumerate(copies)], "copy long, cday date, clevel string"
        )
        st = (
            st.crossJoin(F.broadcast(cp))
            .where(
                (F.col("valid_from").isNull() | (F.col("valid_from") <= F.col("cday")))
                & (F.col("valid_to").isNull() | (F.col("cday") < F.col("valid_to")))
            )
            .select(
                (F.col("copy") * n + F.col("o")).alias("o"),
                (F.col("copy") * n + F.col("d")).alias("d"),
                "lo", "hi", "direct",
            )
        )  # fmt: skip
        nodes = base.crossJoin(F.broadcast(cp)).select(
            (F.col("copy") * n + F.col("node")).alias("node"),
            "id",
            (
                F.col("organ")
                & (F.col("clevel").isNull() | F.coalesce(F.col("level") == F.col("clevel"), F.lit(False)))
            ).alias("root"),
            "copy",
        )
    if indirect == "drop":
        st = st.where(F.col("direct"))
    elif indirect == "auto":
        st = _drop_explained_indirect(spark, st)
    return nodes, st


def load_graph(
    spark: Any, source: RegistrySource, day: dt.date | list[Copy], types: list[str], indirect: str
) -> SparkGraph:
    """The ownership graph as of `day` (stakes with ``valid_from <= day < valid_to``, open ends open),
    or several copies of it side by side (see `load_stakes`)."""
    from pyspark.sql import functions as F

    nodes, st = load_stakes(spark, source, day, types, indirect)
    edges = st.groupBy(F.col("o").alias("owner"), F.col("d").alias("owned")).agg(
        F.least(F.sum("lo"), F.lit(1.0)).alias("lw"), F.least(F.sum("hi"), F.lit(1.0)).alias("hw")
    )
    nodes = nodes.persist()
    edges = edges.persist()
    n = nodes.count()
    return SparkGraph(spark, nodes, edges, n)


def _drop_explained_indirect(spark: Any, st: Any) -> Any:
    """Drop an indirect stake when its owner reaches the owned entity through direct stakes.

    A breadth-first search on Spark from the owners of indirect stakes only: pairs (source,
    reached) grow by one hop of direct stakes per round until no new pair appears.
    """
    from pyspark.sql import functions as F

    st = st.persist()
    indirect = st.where(~F.col("direct")).select("o", "d").distinct().persist()
    if indirect.isEmpty():
        indirect.unpersist()
        return st
    direct = (
        st.where(F.col("direct")).select(F.col("o").alias("u"), F.col("d").alias("v")).distinct().persist()
    )
    sources = indirect.select(F.col("o").alias("src")).distinct()
    frontier = sources.join(direct, sources["src"] == direct["u"]).select("src", F.col("v").alias("node"))
    seen = frontier.distinct().localCheckpoint(eager=True)
    frontier = seen
    while True:
        nxt = (
            frontier.join(direct, frontier["node"] == direct["u"])
            .select("src", F.col("v").alias("node"))
            .distinct()
            .join(seen, ["src", "node"], "left_anti")
            .localCheckpoint(eager=True)
        )
        if nxt.isEmpty():
            break
        seen = seen.unionByName(nxt).localCheckpoint(eager=True)
        frontier = nxt
    explained = indirect.join(
        seen.select(F.col("src").alias("o"), F.col("node").alias("d")), ["o", "d"], "left_semi"
    ).withColumn("_explained", F.lit(True))
    out = (
        st.join(explained, ["o", "d"], "left")
        .where(F.col("direct") | F.col("_explained").isNull())
        .drop("_explained")
    )
    direct.unpersist()
    indirect.unpersist()
    return out
