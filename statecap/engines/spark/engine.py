"""`SparkEngine`: the hooks of `statecap.engines.base.Engine` on Spark."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from statecap.analytics import _kernels as K
from statecap.engines.base import OWNERSHIP_SCHEMA, Engine
from statecap.engines.source import RegistrySource
from statecap.engines.spark.session import require_pyspark, spark_session


@dataclass
class OwnershipRun:
    """A finished ownership run on Spark: the result DataFrame and what it took."""

    table: Any
    n: int
    edges: int
    levels: int
    cyclic_nodes: int
    core_nodes: int
    work: str


class SparkEngine(Engine):
    """Runs the ownership and screening questions on a Spark session.

    Args:
        master: Spark master URL (``local[*]``, ``yarn``, ``k8s://https://...``, ``spark://...``);
            None under spark-submit (its ``--master`` applies); ignored when a session is already
            active (Databricks, notebooks, tests).
        work_dir: where intermediate Parquet goes; it must be reachable by every executor
            (default: a temporary folder, fine on a local master only).
        shuffle_partitions, driver_memory, checkpoint_dir, conf: passed to `spark_session`.
        progress: called with (stage, done, total) as the run advances.
    """

    name = "spark"

    def __init__(
        self,
        master: str | None = "local[*]",
        *,
        work_dir: str | None = None,
        shuffle_partitions: int | None = None,
        driver_memory: str | None = None,
        checkpoint_dir: str | None = None,
        conf: dict[str, str] | None = None,
        progress: Callable[[str, int, int], None] | None = None,
    ):
        require_pyspark()
        self.spark = spark_session(
            master,
            shuffle_partitions=shuffle_partitions,
            driver_memory=driver_memory,
            checkpoint_dir=checkpoint_dir,
            conf=conf,
        )
        self.master = str(self.spark.sparkContext.master)
        self._own_work = work_dir is None and os.environ.get("STATECAP_SPARK_WORKDIR") is None
        self.work_dir = (
            work_dir
            or os.environ.get("STATECAP_SPARK_WORKDIR")
            or tempfile.mkdtemp(prefix="statecap-spark-work-")
        )
        self.progress = progress

    # ---- the ownership run ---------------------------------------------------------------
    def run_ownership(
        self, source: RegistrySource, day: dt.date, types: list[str], indirect: str
    ) -> OwnershipRun:
        """Everything the ownership table needs, as a Spark DataFrame with `OWNERSHIP_SCHEMA` columns."""
        from pyspark.sql import functions as F

        from statecap.engines.spark.condense import condense
        from statecap.engines.spark.control import classify, follow_majority, majority_parents
        from statecap.engines.spark.graph import load_graph
        from statecap.engines.spark.propagate import evaluate

        spark = self.spark
        graph = load_graph(spark, source, day, types, indirect)
        n_edges = graph.edges.count()
        self._tick("levels", 0, 1)
        levels = condense(spark, graph.nodes.select("node"), graph.edges)
        self._tick("levels", 1, 1)
        values, base = evaluate(
            spark,
            graph,
            levels,
            self.work_dir,
            progress=lambda lv, top: self._tick("bounds", lv + 1, top + 1),
        )
        parents = majority_parents(graph.edges, graph.nodes).localCheckpoint(eager=True)
        chains = follow_majority(parents)
        cls = classify(values, chains, parents)
        ids = graph.nodes.select("node", "id")
        pid = ids.select(F.col("node").alias("par"), F.col("id").alias("majority_parent"))
        tid = ids.select(F.col("node").alias("top"), F.col("id").alias("ultimate_owner"))
        lv = levels.table.select("node", F.col("comp").alias("component"), "cyclic")
        table = (
            cls.join(ids, "node")
            .join(pid, "par", "left")
            .join(tid, "top", "left")
            .join(lv, "node")
            .select(
                F.col("node").alias("idx"),
                "id",
                F.col("root").alias("is_state"),
                (F.col("s_lo") * 100.0).alias("state_share_lo"),
                (F.col("s_hi") * 100.0).alias("state_share_hi"),
                "state_class",
                "certainty",
                "definite_class",
                (F.col("a_lo") * 100.0).alias("laporta20_lo"),
                (F.col("a_hi") * 100.0).alias("laporta20_hi"),
                (F.col("b_lo") * 100.0).alias("laporta10_lo"),
                (F.col("b_hi") * 100.0).alias("laporta10_hi"),
                "majority_parent",
                F.col("definite").alias("majority_definite"),
                "ultimate_owner",
                "chain_definite",
                F.col("depth").alias("chain_depth"),
                "component",
                "cyclic",
                F.col("flags").cast("int").alias("flags"),
            )
        )
        return OwnershipRun(
            table, graph.n, n_edges, levels.max_level + 1, levels.n_cyclic_nodes, levels.core_nodes, base
        )

    def _tick(self, stage: str, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(stage, done, total)

    # ---- hooks ---------------------------------------------------------------------------
    def _ownership(self, source: RegistrySource, day: dt.date, types: list[str], indirect: str) -> pa.Table:
        run = self.run_ownership(source, day, types, indirect)
        try:
            table = run.table.orderBy("idx").toArrow()
        finally:
            self._cleanup(run.work)
        return table.select(OWNERSHIP_SCHEMA.names).cast(OWNERSHIP_SCHEMA)

    def _write_ownership(
        self, source: RegistrySource, day: dt.date, types: list[str], indirect: str, path: Path | str
    ) -> None:
        """Written by the executors as a folder of part files at `path` (Spark's Parquet layout)."""
        run = self.run_ownership(source, day, types, indirect)
        try:
            run.table.write.mode("overwrite").parquet(str(path))
        finally:
            self._cleanup(run.work)

    def _state_share_top(
        self, source: RegistrySource, day: dt.date, top: int, sector: str | None
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        from pyspark.sql import functions as F

        from statecap.analytics.ownership import EPS
        from statecap.engines.base import interval
        from statecap.engines.spark.graph import read_entities

        run = self.run_ownership(source, day, ["equity"], "auto")
        try:
            t = run.table.persist()
            cand = t.where(~F.col("is_state") & (F.col("state_share_hi") > EPS * 100))
            if sector is not None:
                ents = read_entities(self.spark, source, ("id", "sectors"))
                code = sector.replace("'", "''")
                hit = ents.where(
                    F.expr(f"exists(sectors, s -> s = '{code}' OR startswith(s, '{code}.'))")
                ).select(F.col("node").alias("idx"))
                cand = cand.join(hit, "idx", "left_semi")
            chosen = cand.orderBy(F.desc("state_share_lo"), F.desc("state_share_hi"), "idx").limit(top)
            info = read_entities(self.spark, source, ("id", "name", "kind")).select(
                F.col("node").alias("idx"), "name", "kind"
            )
            rows_df = chosen.join(info, "idx").orderBy(
                F.desc("state_share_lo"), F.desc("state_share_hi"), "idx"
            )
            rows = [
                {
                    "id": r["id"],
                    "name": r["name"] if r["name"] is not None else r["id"],
                    "kind": r["kind"],
                    "state_share": interval(r["state_share_lo"], r["state_share_hi"]),
                    "state_class": {
                        "class": r["state_class"],
                        "certainty": r["certainty"],
                        "definite_class": r["definite_class"],
                    },
                }
                for r in rows_df.collect()
            ]
            closed_df = (
                t.where((F.col("flags").bitwiseAND(K.F_CLOSED | K.F_MAYBE_CLOSED)) != 0)
                .groupBy("component")
                .agg(
                    F.array_sort(F.collect_list(F.struct("idx", "id"))).alias("m"),
                    F.max(F.col("flags").bitwiseAND(K.F_CLOSED)).alias("definite"),
                )
                .orderBy("component")
            )
            closed = [
                {
                    "members": [x["id"] for x in r["m"]],
                    "certainty": "definite" if r["definite"] else "possible",
                }
                for r in closed_df.collect()
            ]
            t.unpersist()
        finally:
            self._cleanup(run.work)
        return rows, closed

    def _screen(
        self, source: RegistrySource, rule: str, day: dt.date, lists: list[str] | None
    ) -> tuple[pa.Table, dict[str, Any]]:
        from statecap.engines.base import rule_roots
        from statecap.engines.source import registry_connection
        from statecap.engines.spark.graph import load_stakes
        from statecap.engines.spark.rules import screen

        con = (
            self._rules_connection(source)
            if source.remote
            else registry_connection(source, graph_tables=False)
        )
        try:
            definite, possible, status = rule_roots(con, rule, day, lists)
        finally:
            con.close()
        nodes, stakes = load_stakes(self.spark, source, day, ["equity"], "auto")
        stakes = stakes.persist()
        try:
            table = screen(self.spark, nodes, stakes, rule, definite, possible, bool(status["in_force"]))
            return table.orderBy("idx").toArrow(), status
        finally:
            stakes.unpersist()

    def _rules_connection(self, source: RegistrySource) -> Any:
        """An in-memory store with the designations and policy events read by Spark (small tables)."""
        import duckdb

        from statecap.engines.spark.propagate import _exists
        from statecap.store.schema import create_all

        con = duckdb.connect()
        create_all(con)
        for name in ("designations", "policy_events", "policy_suspensions"):
            url = source.path(name)
            if url is None or not _exists(self.spark, url):
                continue
            df = self.spark.read.parquet(url)
            have = {r[1] for r in con.execute(f"PRAGMA table_info('{name}')").fetchall()}
            cols = [c for c in df.columns if c in have]
            con.register("_t", df.select(*cols).toArrow())
            quoted = ", ".join(f'"{c}"' for c in cols)
            con.execute(f"INSERT INTO {name} ({quoted}) SELECT {quoted} FROM _t")
            con.unregister("_t")
        return con

    def _cleanup(self, base: str) -> None:
        from statecap.engines.spark.propagate import cleanup

        cleanup(self.spark, base)

    def close(self) -> None:
        """Remove the engine's own temporary work folder (the Spark session stays for reuse)."""
        if self._own_work:
            import shutil

            shutil.rmtree(self.work_dir, ignore_errors=True)
