"""The screening rules on Spark: the cascades of `statecap.analytics.rules` as rounds of joins.

A cascade is the least fixed point of a monotone map (an entity is caught when the stakes of its
caught owners pass a test), so rounds of joins reach the same caught set as the local work list:
each round adds up, per entity, the stakes of the owners caught so far and catches those that
pass; it stops when a round catches nobody new. Caught owners count at their full stake, never
multiplied. Two passes give the three-way verdict: the lower pass (definite roots, stakes at
their lower bounds) and the upper pass (possible roots too, stakes as high as the other owners'
lower bounds allow).

Rules with a votes test (owned-or-controlled, outbound) run both tests in every round, on the
equity stakes and on the votes (the recorded voting stake of a pair where there is one, else its
equity stake). The outbound rule adds the sector tests of 31 CFR 850.209(a)(1), the holders of
(a)(2) (every entity with a chain of stakes into an (a)(1) person, found by rounds of joins
upward) and their revenue test, run on the driver over the few holders that report revenue.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from statecap.analytics.rules import COUNTRIES_OF_CONCERN, OUTBOUND_SECTORS, SPECS, TOL, Test


@dataclass
class RuleMatrix:
    """Stakes for one test: ``pairs`` (owner, owned, lo, hi; fractions, one row per pair) and
    ``totals`` (node, tot: the lower bounds of every stake held in the node, added up)."""

    pairs: Any
    totals: Any

    def unpersist(self) -> None:
        self.pairs.unpersist()
        self.totals.unpersist()


def rule_matrix(stakes: Any) -> RuleMatrix:
    """`statecap.analytics.rules.graph_matrix` on Spark: an indirect stake counts as [0, 1]."""
    from pyspark.sql import functions as F

    lo = F.when(F.col("direct"), F.col("lo")).otherwise(F.lit(0.0))
    hi = F.when(F.col("direct"), F.col("hi")).otherwise(F.lit(1.0))
    pairs = (
        stakes.select("o", "d", lo.alias("lo"), hi.alias("hi"))
        .where(F.col("hi") > 0)
        .groupBy(F.col("o").alias("owner"), F.col("d").alias("owned"))
        .agg(F.least(F.sum("lo"), F.lit(1.0)).alias("lo"), F.least(F.sum("hi"), F.lit(1.0)).alias("hi"))
        .localCheckpoint(eager=True)
    )
    return RuleMatrix(pairs, _totals(pairs))


def _totals(pairs: Any) -> Any:
    from pyspark.sql import functions as F

    return (
        pairs.groupBy(F.col("owned").alias("node")).agg(F.sum("lo").alias("tot")).localCheckpoint(eager=True)
    )


def votes_matrix(own: RuleMatrix, votes_stakes: Any) -> RuleMatrix:
    """`statecap.analytics.rules.votes_matrix`: recorded voting stakes, else the equity stake of the pair."""
    from pyspark.sql import functions as F

    v = rule_matrix(votes_stakes)
    if v.pairs.isEmpty():
        v.unpersist()
        return own
    rest = own.pairs.join(v.pairs.select("owner", "owned"), ["owner", "owned"], "left_anti")
    pairs = (
        rest.unionByName(v.pairs)
        .select(
            "owner", "owned", F.least("lo", F.lit(1.0)).alias("lo"), F.least("hi", F.lit(1.0)).alias("hi")
        )
        .localCheckpoint(eager=True)
    )
    return RuleMatrix(pairs, _totals(pairs))


def _value(test: Test, upper: bool, caught: Any, m: RuleMatrix, name: str) -> Any:
    """(node, `name`): the test's value of every entity with a caught owner (`_kernels` `_test_value`)."""
    from pyspark.sql import functions as F

    rows = m.pairs.join(caught.select(F.col("node").alias("owner")), "owner").join(
        m.totals.withColumnRenamed("node", "owned"), "owned", "left"
    )
    tot = F.coalesce(F.col("tot"), F.lit(0.0))
    if test.aggregate:
        s = rows.groupBy(F.col("owned").alias("node")).agg(
            F.sum("lo").alias("slo"), F.sum("hi").alias("shi"), F.first("tot").alias("tot")
        )
        if upper:
            val = F.greatest(F.least(F.col("shi"), 1.0 - (tot - F.col("slo"))), F.col("slo"))
        else:
            val = F.col("slo")
        return s.select("node", F.least(val, F.lit(1.0)).alias(name))
    cap = F.greatest(F.least(F.col("hi"), 1.0 - (tot - F.col("lo"))), F.col("lo")) if upper else F.col("lo")
    return (
        rows.select("owned", cap.alias("cap"))
        .groupBy(F.col("owned").alias("node"))
        .agg(F.least(F.max("cap"), F.lit(1.0)).alias(name))
    )


def _passes(test: Test, col: Any) -> Any:
    if test.inclusive:
        return col >= test.threshold - 1e-9
    return col > test.threshold + 1e-9


def cascade_pass(tests: list[tuple[Test, RuleMatrix]], roots: Any, upper: bool) -> tuple[Any, Any]:
    """One pass of a cascade from `roots` (node): (caught (node), values (node, a[, b]))."""
    from pyspark.sql import functions as F

    names = ["a", "b"][: len(tests)]

    def values(caught: Any) -> Any:
        parts = [_value(t, upper, caught, m, name) for (t, m), name in zip(tests, names, strict=True)]
        out = parts[0]
        for p in parts[1:]:
            out = out.join(p, "node", "full")
        return out.select("node", *[F.coalesce(F.col(n), F.lit(0.0)).alias(n) for n in names])

    caught = roots.select("node").distinct().localCheckpoint(eager=True)
    while True:
        vals = values(caught)
        hit = None
        for (t, _), name in zip(tests, names, strict=True):
            cond = _passes(t, F.col(name))
            hit = cond if hit is None else (hit | cond)
        new = vals.where(hit).select("node").join(caught, "node", "left_anti").localCheckpoint(eager=True)
        if new.isEmpty():
            break
        caught = caught.unionByName(new).localCheckpoint(eager=True)
    return caught, values(caught).localCheckpoint(eager=True)


def cascade(
    rule: str, own: RuleMatrix, votes: RuleMatrix | None, definite: Any, possible: Any
) -> dict[str, Any]:
    """`statecap.analytics.rules.cascade` on Spark: caught sets and test values of both passes.

    Returns {"lo_caught", "hi_caught" (node), "lo", "hi" (node, a[, b])}; the upper pass starts
    from the possible roots too.
    """
    spec = SPECS[rule]
    tests: list[tuple[Test, RuleMatrix]] = [(spec.ownership, own)]
    if spec.votes is not None:
        tests.append((spec.votes, votes if votes is not None else own))
    lo_caught, lo = cascade_pass(tests, definite, upper=False)
    hi_caught, hi = cascade_pass(tests, definite.unionByName(possible), upper=True)
    return {"lo_caught": lo_caught, "hi_caught": hi_caught, "lo": lo, "hi": hi}


def _empty_matrix(spark: Any) -> RuleMatrix:
    return RuleMatrix(
        spark.createDataFrame([], "owner long, owned long, lo double, hi double"),
        spark.createDataFrame([], "node long, tot double"),
    )


def _root_nodes(spark: Any, nodes: Any, definite: list[str], possible: list[str]) -> tuple[Any, Any]:
    from pyspark.sql import functions as F

    from statecap.errors import StoreError

    ids = spark.createDataFrame(
        [(i, 0) for i in definite] + [(i, 1) for i in possible], "id string, maybe int"
    )
    roots = nodes.join(F.broadcast(ids), "id").select("node", "id", "maybe").localCheckpoint(eager=True)
    if roots.count() != len(definite) + len(possible):
        found = {r["id"] for r in roots.select("id").collect()}
        missing = sorted((set(definite) | set(possible)) - found)
        raise StoreError(f"designation of {missing[0]}: entity {missing[0]} not in the registry")
    return roots.where("maybe = 0").select("node"), roots.where("maybe = 1").select("node")


def screen_designated(
    spark: Any,
    nodes: Any,
    own: RuleMatrix,
    votes: RuleMatrix | None,
    rule: str,
    definite: list[str],
    possible: list[str],
    in_force: bool,
) -> Any:
    """Caught entities of a designation rule: idx, id, verdict, aggregate and votes bounds (percent)."""
    from pyspark.sql import functions as F

    d_roots, p_roots = _root_nodes(spark, nodes, definite, possible)
    if not in_force:
        own = votes = _empty_matrix(spark)
    res = cascade(rule, own, votes, d_roots, p_roots)
    flagged = (
        res["hi_caught"].select("node", F.lit(1).alias("code"))
        .unionByName(res["lo_caught"].select("node", F.lit(2).alias("code")))
        .unionByName(d_roots.select("node", F.lit(3).alias("code")))
        .groupBy("node")
        .agg(F.max("code").alias("code"))
    )  # fmt: skip
    has_votes = SPECS[rule].votes is not None
    lo = res["lo"].select("node", F.col("a").alias("alo"), *([F.col("b").alias("blo")] if has_votes else []))
    hi = res["hi"].select("node", F.col("a").alias("ahi"), *([F.col("b").alias("bhi")] if has_votes else []))
    names = F.array(F.lit(None).cast("string"), F.lit("possible"), F.lit("definite"), F.lit("designated"))

    def pct(col: str) -> Any:
        return F.coalesce(F.col(col), F.lit(0.0)) * 100.0

    null = F.lit(None).cast("double")
    return (
        flagged.join(lo, "node", "left")
        .join(hi, "node", "left")
        .join(nodes.select("node", "id"), "node")
        .select(
            F.col("node").alias("idx"),
            "id",
            F.element_at(names, F.col("code") + 1).alias("verdict"),
            pct("alo").alias("aggregate_lo"),
            pct("ahi").alias("aggregate_hi"),
            (pct("blo") if has_votes else null).alias("votes_lo"),
            (pct("bhi") if has_votes else null).alias("votes_hi"),
            F.lit(None).cast("string").alias("basis"),
        )
    )


def _codes_sql(level: str) -> str:
    codes = [c for c, v in OUTBOUND_SECTORS.items() if v == level]
    return "array(" + ", ".join(f"'{c}'" for c in codes) + ")"


def _reverse_reach(edges: Any, start: Any) -> Any:
    """(node) with a path of `edges` (owner, owned) into any `start` node (`rules._reverse_reach`)."""
    from pyspark.sql import functions as F

    visited = start.select("node").distinct().localCheckpoint(eager=True)
    frontier = visited
    out = None
    while True:
        preds = (
            edges.join(frontier.select(F.col("node").alias("owned")), "owned")
            .select(F.col("owner").alias("node"))
            .distinct()
            .localCheckpoint(eager=True)
        )
        out = preds if out is None else out.unionByName(preds).distinct().localCheckpoint(eager=True)
        new = preds.join(visited, "node", "left_anti").localCheckpoint(eager=True)
        if new.isEmpty():
            break
        visited = visited.unionByName(new).localCheckpoint(eager=True)
        frontier = new
    return out


def screen_outbound(
    spark: Any,
    ents: Any,
    own: RuleMatrix,
    votes: RuleMatrix,
    in_force: bool,
    revenue: Any,
    n_nodes: int,
) -> Any:
    """Covered foreign persons under 31 CFR 850.209 (`Screening._run_outbound`): idx, id, verdict,
    aggregate (the person-of-a-country-of-concern test, percent), basis.

    `ents`: node, id, kind, country, sectors, is_state. `revenue`: a callable giving
    `statecap.queries.screen.latest_revenue` for a list of entity ids.
    """
    import numpy as np
    from pyspark.sql import functions as F

    from statecap.queries.screen import MAX_REVENUE_HOLDERS, holder_revenue

    empty = spark.createDataFrame(
        [],
        "idx long, id string, verdict string, aggregate_lo double, aggregate_hi double, "
        "votes_lo double, votes_hi double, basis string",
    )
    if not in_force:
        return empty  # nobody is engaged in a covered activity while the rule is not in force
    coc = F.array(*[F.lit(c) for c in COUNTRIES_OF_CONCERN])
    prefix = None
    for c in COUNTRIES_OF_CONCERN:
        cond = F.col("id").startswith(f"{c}-")
        prefix = cond if prefix is None else (prefix | cond)
    assert prefix is not None
    base = F.coalesce(F.array_contains(coc, F.col("country")), F.lit(False)) | (
        F.col("country").isNull() & prefix
    )
    person = F.col("kind") == "person"
    flags = ents.select(
        "node",
        "id",
        (base & ~person).alias("root_def"),
        (base & person).alias("root_pos"),
        F.coalesce(
            F.expr(f"exists(sectors, s -> array_contains({_codes_sql('covered')}, s))"), F.lit(False)
        ).alias("e_def"),
        F.coalesce(
            F.expr(f"exists(sectors, s -> array_contains({_codes_sql('maybe')}, s))"), F.lit(False)
        ).alias("e_maybe"),
        (~F.col("is_state") & ~F.coalesce(F.col("country") == "us", F.lit(False))).alias("eligible"),
    ).localCheckpoint(eager=True)
    res = cascade(
        "outbound", own, votes, flags.where("root_def").select("node"), flags.where("root_pos").select("node")
    )
    lo_set = res["lo_caught"].withColumn("lo_c", F.lit(True))
    hi_set = res["hi_caught"].withColumn("hi_c", F.lit(True))
    st = (
        flags.join(lo_set, "node", "left")
        .join(hi_set, "node", "left")
        .select(
            "node",
            "id",
            "eligible",
            (F.coalesce("lo_c", F.lit(False)) & F.col("e_def")).alias("direct_def"),
            (
                (F.coalesce("lo_c", F.lit(False)) | F.coalesce("hi_c", F.lit(False)))
                & (F.col("e_def") | F.col("e_maybe"))
            ).alias("direct_pos"),
        )
        .localCheckpoint(eager=True)
    )
    edges = own.pairs.select("owner", "owned").unionByName(votes.pairs.select("owner", "owned")).distinct()
    up = _reverse_reach(edges, st.where("direct_pos").select("node")).withColumn("up", F.lit(True))
    st = (
        st.join(up, "node", "left")
        .withColumn("holder", F.coalesce("up", F.lit(False)) & F.col("eligible") & ~F.col("direct_pos"))
        .drop("up")
        .localCheckpoint(eager=True)
    )
    holders = st.where("holder").select("node", "id")
    n_holders = holders.count()
    hdef = spark.createDataFrame([], "node long")
    if 0 < n_holders <= MAX_REVENUE_HOLDERS:
        hrows = holders.collect()
        rev = revenue([r["id"] for r in hrows])
        with_rev = [int(r["node"]) for r in hrows if rev.get(r["id"])]
        if with_rev:
            # the chains of sure majority stakes from those holders, stopping at (a)(1) persons
            sure = own.pairs.where(F.col("lo") > 0.5 + TOL).select("owner", "owned")
            unit = st.where("direct_def").select(F.col("node").alias("owned"), F.lit(True).alias("is_unit"))
            seen = spark.createDataFrame([(v,) for v in with_rev], "node long").localCheckpoint(eager=True)
            frontier = seen
            walked = []
            while True:
                step = (
                    sure.join(frontier.select(F.col("node").alias("owner")), "owner")
                    .join(unit, "owned", "left")
                    .localCheckpoint(eager=True)
                )
                walked.append(
                    step.select("owner", "owned", F.coalesce("is_unit", F.lit(False)).alias("is_unit"))
                )
                new = (
                    step.where(F.col("is_unit").isNull())
                    .select(F.col("owned").alias("node"))
                    .distinct()
                    .join(seen, "node", "left_anti")
                    .localCheckpoint(eager=True)
                )
                if new.isEmpty():
                    break
                seen = seen.unionByName(new).localCheckpoint(eager=True)
                frontier = new
            rows = walked[0]
            for w in walked[1:]:
                rows = rows.unionByName(w)
            got = rows.distinct().collect()
            children: dict[int, list[int]] = {}
            is_unit = np.zeros(n_nodes, dtype=bool)
            for r in got:
                children.setdefault(int(r["owner"]), []).append(int(r["owned"]))
                if r["is_unit"]:
                    is_unit[int(r["owned"])] = True
            for k in children:
                children[k].sort()
            names = {int(r["node"]): str(r["id"]) for r in hrows}
            unit_ids = {
                int(r["node"]): str(r["id"])
                for r in st.where("direct_def").join(
                    spark.createDataFrame([(int(v),) for v in np.flatnonzero(is_unit)], "node long"), "node"
                ).collect()
            } if is_unit.any() else {}  # fmt: skip
            names.update(unit_ids)
            rev.update(revenue(sorted(unit_ids.values())))
            hit, _ = holder_revenue(sorted(with_rev), children, is_unit, lambda k: names.get(k, ""), rev)
            if hit:
                hdef = spark.createDataFrame([(int(v),) for v in hit], "node long")
    out = st.join(hdef.withColumn("hdef", F.lit(True)), "node", "left").select(
        "node",
        "id",
        "direct_pos",
        "holder",
        (F.col("direct_def") | F.coalesce("hdef", F.lit(False))).alias("definite"),
    )
    caught = out.where(F.col("definite") | F.col("direct_pos") | F.col("holder"))
    lo = res["lo"].select("node", F.col("a").alias("alo"))
    hi = res["hi"].select("node", F.col("a").alias("ahi"))
    return (
        caught.join(lo, "node", "left")
        .join(hi, "node", "left")
        .select(
            F.col("node").alias("idx"),
            "id",
            F.when(F.col("definite"), "definite").otherwise("possible").alias("verdict"),
            (F.coalesce("alo", F.lit(0.0)) * 100.0).alias("aggregate_lo"),
            (F.coalesce("ahi", F.lit(0.0)) * 100.0).alias("aggregate_hi"),
            F.lit(None).cast("double").alias("votes_lo"),
            F.lit(None).cast("double").alias("votes_hi"),
            F.when(F.col("direct_pos"), "850.209(a)(1)")
            .when(F.col("holder"), "850.209(a)(2)")
            .otherwise(F.lit(None))
            .alias("basis"),
        )
    )
