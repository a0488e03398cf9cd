"""State share and La Porta control bounds for every entity, level by level, on Spark.

The same maps as `statecap.analytics._kernels.solve`, in the same order of evaluation:

* an entity outside any cycle is evaluated once, when every owner has its value, by Spark SQL
  over its owners' stakes sorted by owner number (the fold adds in the same order as the local
  kernel, so the sums agree to the last bit or nearly), with the fractional knapsack for the
  upper bound (owners sorted by value, greedy up to 100% in total);
* a cyclic component is evaluated by the local kernel itself, on an executor, inside a grouped
  pandas function: its members, their stakes, and one proxy per outside owner whose value is
  fed in through a stake from a root (``[lo, hi]`` chosen so the kernel reproduces the owner's
  bounds exactly). Closed and unreached components, iteration limits and the certified upper
  bound are then the local engine's own.

Values travel as messages on the stakes: after level L is evaluated, each stake out of level L
carries its owner's values to the level of the owned entity (Parquet, partitioned by level), so
each stake is read once over the whole run.
"""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
import pandas as pd

from statecap.analytics import _kernels as K
from statecap.analytics.control import LAPORTA_THRESHOLDS

# value columns per mode: (prefix, kernel mode, threshold): the state share, La Porta at 20% and 10%
MODES = (
    ("s", K.SHARE, 0.0),
    ("a", K.CONTROL, LAPORTA_THRESHOLDS[0]),
    ("b", K.CONTROL, LAPORTA_THRESHOLDS[1]),
)
VALUE_COLS = [f"{p}_{b}" for p, _, _ in MODES for b in ("lo", "hi")]
VALUES_DDL = (
    "node long, root boolean, reach boolean, " + ", ".join(f"{c} double" for c in VALUE_COLS) + ", flags int"
)
MSG_DDL = (
    "owned long, owner long, lw double, hw double, oroot boolean, oreach boolean, "
    + ", ".join(f"{c} double" for c in VALUE_COLS)
    + ", dcyclic boolean, dcomp long"
)


def _d(x: float) -> str:
    return f"CAST({float(x)!r} AS DOUBLE)"


def _fold_sql() -> str:
    """One pass over an entity's owners (``es``, sorted by owner): every sum each mode needs.

    ``ls``: lower bounds added up; per mode ``lv``/``hv``: the lower and upper value before the
    knapsack.
    """
    one, two, zero = _d(1.0), _d(2.0), _d(0.0)
    fields = {"ls": "acc.ls + e.lw"}
    for prefix, mode, t in MODES:
        if mode == K.SHARE:
            xl = f"IF(e.oroot, {one}, e.{prefix}_lo)"
            xh = f"IF(e.oroot, {one}, e.{prefix}_hi)"
            fields[f"lv{prefix}"] = f"acc.lv{prefix} + e.lw * {xl}"
            fields[f"hv{prefix}"] = f"acc.hv{prefix} + e.lw * {xh}"
        else:
            tt = _d(t)
            xl = f"IF(e.oroot, {two}, IF(e.{prefix}_lo >= {tt}, e.{prefix}_lo, {zero}))"
            xh = f"IF(e.oroot, {two}, IF(e.{prefix}_hi >= {tt}, e.{prefix}_hi, {zero}))"
            fields[f"lv{prefix}"] = f"acc.lv{prefix} + least(e.lw, {xl})"
            fields[f"hv{prefix}"] = f"acc.hv{prefix} + least(e.lw, {xh})"
    init = ", ".join(f"'{k}', {zero}" for k in fields)
    step = ", ".join(f"'{k}', {v}" for k, v in fields.items())
    return f"aggregate(es, named_struct({init}), (acc, e) -> named_struct({step}))"


def _items_sql(prefix: str, mode: int, t: float) -> str:
    """The knapsack's items: each owner's room above its lower bound, with the value it brings.

    Ordered as the kernel fills them: best value first, ties in owner order (SHARE); owner order
    (CONTROL, where every value is 1).
    """
    one, two, zero = _d(1.0), _d(2.0), _d(0.0)
    if mode == K.SHARE:
        xh = f"IF(e.oroot, {one}, e.{prefix}_hi)"
        return (
            f"array_sort(transform(filter(es, e -> (e.hw - e.lw) > {zero} AND {xh} > {zero}), "
            f"e -> named_struct('nv', -({xh}), 'owner', e.owner, 'cap', e.hw - e.lw)))"
        )
    tt = _d(t)
    xh = f"IF(e.oroot, {two}, IF(e.{prefix}_hi >= {tt}, e.{prefix}_hi, {zero}))"
    cap = f"least(e.hw, {xh}) - e.lw"
    return (
        f"transform(filter(es, e -> ({cap}) > {zero}), "
        f"e -> named_struct('nv', -{one}, 'owner', e.owner, 'cap', {cap}))"
    )


def _values(df: Any) -> list[Any]:
    """(lo, hi) columns per mode from the fold ``f`` and the knapsack items ``it_<prefix>``.

    Upper bounds add the fractional knapsack: owners' stakes above their lower bounds, best value
    first, until the entity's owners hold 100%.
    """
    from pyspark.sql import functions as F

    one, zero = _d(1.0), _d(0.0)
    cols = []
    for prefix, _mode, _t in MODES:
        lo = f"least(f.lv{prefix}, {one})"
        knap = (
            f"aggregate(it_{prefix}, named_struct('room', {one} - f.ls, 'acc', f.hv{prefix}), "
            f"(s, it) -> IF(s.room > {zero}, named_struct('room', s.room - least(s.room, it.cap), "
            f"'acc', s.acc + least(s.room, it.cap) * (-it.nv)), s)).acc"
        )
        hi = f"least({knap}, {one})"
        for name, expr in ((f"{prefix}_lo", lo), (f"{prefix}_hi", hi)):
            cols.append(
                F.when(F.col("root"), F.lit(1.0))
                .when(~F.col("reach"), F.lit(0.0))
                .otherwise(F.expr(expr))
                .alias(name)
            )
    return cols


def _singletons(nl: Any, msg: Any) -> Any:
    """Values of the acyclic entities of one level from their owners' messages."""
    from pyspark.sql import functions as F

    entry = F.struct(
        "owner", "lw", "hw", "oroot", "oreach", *VALUE_COLS
    )  # owner first: array_sort orders by it
    agg = msg.groupBy(F.col("owned").alias("node")).agg(F.array_sort(F.collect_list(entry)).alias("es"))
    staged = nl.join(agg, "node", "left").select(
        "node",
        "root",
        (F.col("root") | F.coalesce(F.expr("exists(es, e -> e.oreach)"), F.lit(False))).alias("reach"),
        F.expr(_fold_sql()).alias("f"),
        *[F.expr(_items_sql(p, mode, t)).alias(f"it_{p}") for p, mode, t in MODES],
    )
    return staged.select(
        "node",
        "root",
        "reach",
        *_values(staged),
        F.when(F.col("root") | F.col("reach"), F.lit(0))
        .otherwise(F.lit(K.F_UNREACHED))
        .cast("int")
        .alias("flags"),
    )


def _proxy_hi(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """The stake's upper bound that makes the kernel give a proxy exactly ``hi`` (lo is exact).

    The kernel computes ``min(lo + min(1 - lo, hw - lo), 1)`` for an entity held only by a root;
    that can miss ``hi`` by an ulp, and a value just under a control threshold would then not
    pass control on, so ``hw`` is nudged until the same arithmetic lands on ``hi``.
    """
    hw = hi.copy()
    for _ in range(8):
        got = np.minimum(lo + np.minimum(1.0 - lo, hw - lo), 1.0)
        ok = got == hi
        if ok.all():
            break
        hw = np.where(ok, hw, np.where(got < hi, np.nextafter(hw, 2.0), np.nextafter(hw, -1.0)))
    return hw


def evaluate_component(pdf: pd.DataFrame) -> pd.DataFrame:
    """Cyclic components through the local kernel (runs on an executor).

    `pdf` holds every stake into the members of one or more components: internal ones, and
    outside ones with their owner's values. The components are evaluated together as one graph
    in which each is its own strongly connected component (so each gets exactly the kernel's
    treatment). Returns the members' values in `VALUES_DDL` layout.
    """
    import pyarrow as pa
    import scipy.sparse as sp

    from statecap.analytics.ownership import root_bounds
    from statecap.engines.local import entity_flags
    from statecap.graph.model import OwnershipGraph

    owned = pdf["owned"].to_numpy(np.int64)
    owner = pdf["owner"].to_numpy(np.int64)
    internal = pdf["internal"].to_numpy(bool)
    members = np.unique(owned)
    ext_rows = pdf[~internal].drop_duplicates("owner").sort_values("owner")
    ext_owners = ext_rows["owner"].to_numpy(np.int64)
    everyone = np.union1d(members, ext_owners)
    n = len(everyone) + 1  # local node 0: the root that feeds the proxies

    def loc(x: np.ndarray) -> np.ndarray:
        return 1 + np.searchsorted(everyone, x)

    root = np.zeros(n, dtype=bool)
    root[0] = True
    e_root = ext_rows["oroot"].to_numpy(bool)
    e_reach = ext_rows["oreach"].to_numpy(bool)
    root[loc(ext_owners[e_root])] = True
    fed_rows = ext_rows[~e_root & e_reach]
    src = np.concatenate([np.zeros(len(fed_rows), np.int64), loc(owner)])
    dst = np.concatenate([loc(fed_rows["owner"].to_numpy(np.int64)), loc(owned)])
    m = len(src)
    ids = pa.array([str(i) for i in range(n)], type=pa.string())
    result: dict[str, Any] = {"node": members, "root": np.zeros(len(members), bool)}
    mloc = loc(members)
    flags_out = np.zeros(len(members), np.int32)
    for prefix, mode, t in MODES:
        p_lo = fed_rows[f"{prefix}_lo"].to_numpy(float)
        p_hi = fed_rows[f"{prefix}_hi"].to_numpy(float)
        lo = np.concatenate([p_lo, pdf["lw"].to_numpy(float)])
        hi = np.concatenate([_proxy_hi(p_lo, p_hi), pdf["hw"].to_numpy(float)])
        g = OwnershipGraph(
            n=n, ids_arrow=ids, names_arrow=ids, kind_codes=np.zeros(n, np.int32), kind_names=["x"],
            sectors_arrow=pa.nulls(n, pa.list_(pa.string())), is_state=root, edge_owner=src, edge_owned=dst,
            edge_lo=lo, edge_hi=hi, edge_kind=np.zeros(m, np.int8), edge_direct=np.ones(m, bool),
            edge_stake=pa.nulls(m, pa.string()),
            W_lo=sp.csr_matrix((lo, (src, dst)), shape=(n, n)), W_hi=sp.csr_matrix((hi, (src, dst)), shape=(n, n)),
        )  # fmt: skip
        res = root_bounds(g, mode, t)
        result[f"{prefix}_lo"] = res.lo[mloc]
        result[f"{prefix}_hi"] = res.hi[mloc]
        if mode == K.SHARE:
            flags_out = entity_flags(res)[mloc]
    result["reach"] = (flags_out & (K.F_CLOSED | K.F_UNREACHED)) == 0
    result["flags"] = flags_out
    cols = ["node", "root", "reach", *VALUE_COLS, "flags"]
    return pd.DataFrame(result)[cols]


def _exists(spark: Any, path: str) -> bool:
    """Whether `path` exists on the file system Spark reads it from (local, HDFS, S3, ...)."""
    jvm = spark.sparkContext._jvm
    p = jvm.org.apache.hadoop.fs.Path(path)
    fs = p.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    return bool(fs.exists(p))


def evaluate(
    spark: Any, graph: Any, levels: Any, work_dir: str, progress: Any = None, level_buckets: int = 1
) -> Any:
    """Values of every entity (`VALUES_DDL` columns plus ``level``), written under `work_dir`.

    Args:
        graph: a `SparkGraph`. levels: its `Levels`. work_dir: a folder the executors can all
            reach (local disk on a local master; HDFS, S3 or DBFS on a cluster).
        progress: called with (level, max_level) after each level.
        level_buckets: files per level in the intermediate Parquet (1 on one machine; more on a
            cluster, so a large level is still read by several tasks).
    """
    from pyspark.sql import functions as F

    base = work_dir.rstrip("/") + f"/run-{uuid.uuid4().hex[:8]}"

    def by_level(df: Any, col: str, key: str) -> Any:
        if level_buckets <= 1:
            return df.repartition(col)
        return df.repartition(F.col(col), F.pmod(F.hash(key), F.lit(level_buckets)))

    lv = levels.table
    owner_side = lv.select(
        F.col("node").alias("owner"), F.col("comp").alias("ocomp"), F.col("level").alias("olevel")
    )
    owned_side = lv.select(
        F.col("node").alias("owned"), F.col("comp").alias("dcomp"), F.col("level").alias("dlevel"),
        F.col("cyclic").alias("dcyclic"),
    )  # fmt: skip
    ann = graph.edges.join(owner_side, "owner").join(owned_side, "owned")
    by_level(
        ann.where(F.col("ocomp") != F.col("dcomp")).select(
            "owner", "owned", "lw", "hw", "dcyclic", "dcomp", F.col("dlevel").alias("level"), "olevel"
        ),
        "olevel",
        "owner",
    ).write.partitionBy("olevel").parquet(f"{base}/eo")
    by_level(
        ann.where(F.col("ocomp") == F.col("dcomp")).select(
            F.col("dcomp").alias("comp"), "owned", "owner", "lw", "hw", F.col("dlevel").alias("level")
        ),
        "level",
        "comp",
    ).write.partitionBy("level").parquet(f"{base}/ei")
    by_level(
        graph.nodes.join(lv, "node").select("node", "root", "comp", "cyclic", "level"), "level", "node"
    ).write.partitionBy("level").parquet(f"{base}/nl")

    empty_msg = spark.createDataFrame([], MSG_DDL)
    for level in range(levels.max_level + 1):
        nl_path = f"{base}/nl/level={level}"
        if not _exists(spark, nl_path):
            continue
        nl = spark.read.parquet(nl_path)
        msg_path = f"{base}/msg/level={level}"
        msg = spark.read.parquet(msg_path) if _exists(spark, msg_path) else empty_msg
        single = _singletons(nl.where(~F.col("cyclic")), msg.where(~F.col("dcyclic")))
        parts = [single]
        ei_path = f"{base}/ei/level={level}"
        if _exists(spark, ei_path):
            inner = spark.read.parquet(ei_path).select(
                "comp", "owned", "owner", "lw", "hw", F.lit(True).alias("internal"),
                F.lit(False).alias("oroot"), F.lit(False).alias("oreach"),
                *[F.lit(None).cast("double").alias(c) for c in VALUE_COLS],
            )  # fmt: skip
            outer = msg.where(F.col("dcyclic")).select(
                F.col("dcomp").alias("comp"), "owned", "owner", "lw", "hw", F.lit(False).alias("internal"),
                "oroot", "oreach", *VALUE_COLS,
            )  # fmt: skip
            # many components per call: the kernel treats each one on its own, so batching them
            # saves the per-call overhead that dominates for the many two-entity cross-holdings
            buckets = int(spark.conf.get("spark.sql.shuffle.partitions", "8"))
            comps = (
                inner.unionByName(outer)
                .withColumn("_bucket", F.pmod(F.xxhash64("comp"), F.lit(buckets)))
                .groupBy("_bucket")
                .applyInPandas(lambda pdf: evaluate_component(pdf.drop(columns="_bucket")), VALUES_DDL)
            )
            parts.append(comps)
        vals = parts[0]
        for p in parts[1:]:
            vals = vals.unionByName(p)
        val_path = f"{base}/val/level={level}"
        vals.write.parquet(val_path)
        v = spark.read.parquet(val_path)
        eo_path = f"{base}/eo/olevel={level}"
        if _exists(spark, eo_path):
            out = spark.read.parquet(eo_path).join(
                v.select(F.col("node").alias("owner"), F.col("root").alias("oroot"), F.col("reach").alias("oreach"),
                         *VALUE_COLS),
                "owner",
            )  # fmt: skip
            msg_cols = [c.split()[0] for c in MSG_DDL.split(", ")]
            by_level(out.select(*msg_cols, "level"), "level", "owned").write.mode("append").partitionBy(
                "level"
            ).parquet(f"{base}/msg")
        if progress is not None:
            progress(level, levels.max_level)
    return spark.read.parquet(f"{base}/val"), base


def cleanup(spark: Any, path: str) -> None:
    """Remove a run's working files (any Hadoop file system)."""
    jvm = spark.sparkContext._jvm
    p = jvm.org.apache.hadoop.fs.Path(path)
    fs = p.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    fs.delete(p, True)
