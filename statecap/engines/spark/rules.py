"""The OFAC 50 Percent Rule and the BIS Affiliates rule on Spark: the cascade of `statecap.analytics.rules`.

A cascade is the least fixed point of a monotone map (an entity is caught when the stakes of its
caught owners pass 50%), so rounds of joins reach the same caught set as the local work list:
each round adds up, per entity, the stakes of the owners caught so far and catches those that
pass; it stops when a round catches nobody new. Caught owners count at their full stake, never
multiplied. Two passes give the three-way verdict: the lower pass (definite roots, stakes at
their lower bounds) and the upper pass (possible roots too, stakes as high as the other owners'
lower bounds allow).
"""

from __future__ import annotations

from typing import Any

from statecap.analytics.rules import SPECS


def rule_pairs(stakes: Any) -> tuple[Any, Any]:
    """(pairs, totals) of `statecap.analytics.rules.graph_matrix`: an indirect stake counts as [0, 1]."""
    from pyspark.sql import functions as F

    lo = F.when(F.col("direct"), F.col("lo")).otherwise(F.lit(0.0))
    hi = F.when(F.col("direct"), F.col("hi")).otherwise(F.lit(1.0))
    pairs = (
        stakes.select("o", "d", lo.alias("lo"), hi.alias("hi"))
        .where(F.col("hi") > 0)
        .groupBy(F.col("o").alias("owner"), F.col("d").alias("owned"))
        .agg(F.least(F.sum("lo"), F.lit(1.0)).alias("lo"), F.least(F.sum("hi"), F.lit(1.0)).alias("hi"))
        .persist()
    )
    totals = pairs.groupBy(F.col("owned").alias("node")).agg(F.sum("lo").alias("tot")).persist()
    return pairs, totals


def cascade_pass(pairs: Any, totals: Any, roots: Any, upper: bool, threshold: float) -> Any:
    """(node, agg) for every entity with caught owners, and the caught set: returns (caught, aggregates)."""
    from pyspark.sql import functions as F

    def aggregates(caught: Any) -> Any:
        s = (
            pairs.join(caught.select(F.col("node").alias("owner")), "owner")
            .groupBy(F.col("owned").alias("node"))
            .agg(F.sum("lo").alias("slo"), F.sum("hi").alias("shi"))
            .join(totals, "node", "left")
        )
        if upper:
            val = F.greatest(
                F.least(F.col("shi"), 1.0 - (F.coalesce(F.col("tot"), F.lit(0.0)) - F.col("slo"))),
                F.col("slo"),
            )
        else:
            val = F.col("slo")
        return s.select("node", F.least(val, F.lit(1.0)).alias("agg"))

    caught = roots.select("node").distinct().localCheckpoint(eager=True)
    while True:
        agg = aggregates(caught)
        new = (
            agg.where(F.col("agg") >= threshold - 1e-9)
            .select("node")
            .join(caught, "node", "left_anti")
            .localCheckpoint(eager=True)
        )
        if new.isEmpty():
            break
        caught = caught.unionByName(new).localCheckpoint(eager=True)
    return caught, aggregates(caught)


def screen(
    spark: Any, nodes: Any, stakes: Any, rule: str, definite: list[str], possible: list[str], in_force: bool
) -> Any:
    """Caught entities of `rule`: node, id, verdict, aggregate_lo, aggregate_hi (percent)."""
    from pyspark.sql import functions as F

    from statecap.errors import StoreError

    spec = SPECS[rule]
    thr = float(spec.ownership.threshold)
    ids = spark.createDataFrame(
        [(i, 0) for i in definite] + [(i, 1) for i in possible], "id string, maybe int"
    )
    roots = nodes.join(ids, "id").select("node", "id", "maybe").persist()
    if roots.count() != len(definite) + len(possible):
        found = {r["id"] for r in roots.select("id").collect()}
        missing = sorted((set(definite) | set(possible)) - found)
        raise StoreError(f"designation of {missing[0]}: entity {missing[0]} not in the registry")
    if in_force:
        pairs, totals = rule_pairs(stakes)
    else:
        pairs = spark.createDataFrame([], "owner long, owned long, lo double, hi double")
        totals = spark.createDataFrame([], "node long, tot double")
    lo_caught, lo_agg = cascade_pass(pairs, totals, roots.where("maybe = 0"), False, thr)
    hi_caught, hi_agg = cascade_pass(pairs, totals, roots, True, thr)
    flagged = (
        hi_caught.select("node", F.lit(1).alias("code"))
        .unionByName(lo_caught.select("node", F.lit(2).alias("code")))
        .unionByName(roots.where("maybe = 0").select("node", F.lit(3).alias("code")))
        .groupBy("node")
        .agg(F.max("code").alias("code"))
    )
    names = F.array(F.lit(None).cast("string"), F.lit("possible"), F.lit("definite"), F.lit("designated"))
    out = (
        flagged.join(lo_agg.select("node", F.col("agg").alias("alo")), "node", "left")
        .join(hi_agg.select("node", F.col("agg").alias("ahi")), "node", "left")
        .join(nodes.select("node", "id"), "node")
        .select(
            F.col("node").alias("idx"),
            "id",
            F.element_at(names, F.col("code") + 1).alias("verdict"),
            (F.coalesce("alo", F.lit(0.0)) * 100.0).alias("aggregate_lo"),
            (F.greatest(F.coalesce("ahi", F.lit(0.0)), F.coalesce("alo", F.lit(0.0))) * 100.0).alias(
                "aggregate_hi"
            ),
        )
    )
    return out
