"""Majority chains and the state classification on Spark (the rules of `statecap.analytics.control`)."""

from __future__ import annotations

from typing import Any

from statecap.analytics.control import _TOL, CLASSES
from statecap.analytics.ownership import EPS


def _d(x: float) -> str:
    return f"CAST({float(x)!r} AS DOUBLE)"


def majority_parents(edges: Any, nodes: Any) -> Any:
    """Each entity's majority owner: (node, par or -1, definite), as `_kernels.majority_parent`.

    Owners are visited in owner order, so ties go to the lowest-numbered owner as in the kernel.
    """
    from pyspark.sql import functions as F

    half, one, zero = _d(0.5), _d(1.0), _d(0.0)
    agg = edges.groupBy(F.col("owned").alias("node")).agg(
        F.array_sort(F.collect_list(F.struct("owner", "lw", "hw"))).alias("es")
    )
    ls = f"aggregate(es, {zero}, (acc, e) -> acc + e.lw)"
    definite = (
        f"aggregate(es, named_struct('b', CAST(-1 AS BIGINT), 'v', {half}), "
        "(acc, e) -> IF(e.lw > acc.v, named_struct('b', e.owner, 'v', e.lw), acc)).b"
    )
    possible = (
        f"transform(array({ls}), s -> aggregate(es, named_struct('b', CAST(-1 AS BIGINT), 'v', {half}), "
        f"(acc, e) -> IF(least(e.hw, {one} - (s - e.lw)) > acc.v, "
        f"named_struct('b', e.owner, 'v', least(e.hw, {one} - (s - e.lw))), acc)).b)[0]"
    )
    df = nodes.select("node", "root").join(agg, "node", "left")
    d = F.expr(definite)
    return df.select(
        "node",
        F.when(F.col("root") | F.col("es").isNull(), F.lit(-1).cast("long"))
        .when(d >= 0, d)
        .otherwise(F.expr(possible))
        .alias("par"),
        (~F.col("root") & F.col("es").isNotNull() & (d >= 0)).alias("definite"),
    )


def follow_majority(parents: Any) -> Any:
    """Top of each majority chain by pointer jumping: (node, top, chain_definite, depth).

    A chain that runs into a cycle of majority owners never reaches a top: top -1, depth -1,
    not definite (as `_kernels.follow_majority`). Rounds: log2 of the longest chain, plus one.
    """
    from pyspark.sql import functions as F

    p = parents.persist()
    # state: anc (current ancestor), hops to it, all hops definite so far; done when anc is a top
    st = p.select(
        "node",
        F.when(F.col("par") < 0, F.col("node")).otherwise(F.col("par")).alias("anc"),
        F.when(F.col("par") < 0, F.lit(0)).otherwise(F.lit(1)).cast("long").alias("hops"),
        F.when(F.col("par") < 0, F.lit(True)).otherwise(F.col("definite")).alias("alldef"),
    )
    tops = p.where(F.col("par") < 0).select(F.col("node").alias("anc"), F.lit(True).alias("at_top"))
    st = st.join(tops, "anc", "left").withColumn("done", F.coalesce("at_top", F.lit(False))).drop("at_top")
    st = st.localCheckpoint(eager=True)
    n_done = st.where("done").count()
    while True:
        nxt = st.select(
            F.col("node").alias("anc"), F.col("anc").alias("anc2"), F.col("hops").alias("hops2"),
            F.col("alldef").alias("alldef2"), F.col("done").alias("done2"),
        )  # fmt: skip
        pending = st.where(~F.col("done")).join(nxt, "anc")
        jumped = pending.select(
            "node",
            F.col("anc2").alias("anc"),
            (F.col("hops") + F.col("hops2")).alias("hops"),
            (F.col("alldef") & F.col("alldef2")).alias("alldef"),
            F.col("done2").alias("done"),
        )
        st = st.where(F.col("done")).unionByName(jumped).localCheckpoint(eager=True)
        now = st.where("done").count()
        if now == n_done:
            break
        n_done = now
    out = st.select(
        "node",
        F.when(F.col("done"), F.col("anc")).otherwise(F.lit(-1).cast("long")).alias("top"),
        F.when(F.col("done"), F.col("alldef")).otherwise(F.lit(False)).alias("chain_definite"),
        F.when(F.col("done"), F.col("hops")).otherwise(F.lit(-1).cast("long")).alias("depth"),
    )
    p.unpersist()
    return out


def classify(values: Any, chains: Any, parents: Any) -> Any:
    """The state class of every entity from its value bounds and its majority chain.

    `values`: node, root, s_lo, s_hi, a_lo, a_hi (fractions); `chains`: node, top,
    chain_definite, depth; `parents`: node, par, definite. Percent columns are derived as the
    local engine derives them (x * 100, then / 100 for the thresholds).
    """
    from pyspark.sql import functions as F

    roots = values.select(F.col("node").alias("top"), F.col("root").alias("top_root"))
    df = values.join(chains, "node").join(parents, "node").join(roots, "top", "left")
    slo = (F.col("s_lo") * 100.0) / 100.0
    shi = (F.col("s_hi") * 100.0) / 100.0
    c20lo = (F.col("a_lo") * 100.0) / 100.0
    c20hi = (F.col("a_hi") * 100.0) / 100.0
    top_state = (F.col("top") >= 0) & F.coalesce(F.col("top_root"), F.lit(False))
    root = F.col("root")
    ctrl_def = root | (top_state & F.col("chain_definite")) | (slo > 0.5 + _TOL)
    ctrl_pos = root | top_state | (shi > 0.5 + _TOL)
    infl_def = (slo >= 0.2 - _TOL) | (c20lo >= 0.2 - _TOL)
    infl_pos = (shi >= 0.2 - _TOL) | (c20hi >= 0.2 - _TOL)
    inv_def = slo > EPS
    inv_pos = shi > EPS

    def level(ctrl: Any, infl: Any, inv: Any) -> Any:
        return F.when(ctrl, 3).when(infl, 2).when(inv, 1).otherwise(0)

    upper = F.greatest(level(ctrl_pos, infl_pos, inv_pos), level(ctrl_def, infl_def, inv_def))
    lower = level(ctrl_def, infl_def, inv_def)
    names = F.array(*[F.lit(c) for c in CLASSES])
    return df.select(
        "*",
        F.element_at(names, upper + 1).alias("state_class"),
        F.when(upper == lower, "definite").otherwise("possible").alias("certainty"),
        F.element_at(names, lower + 1).alias("definite_class"),
    )
