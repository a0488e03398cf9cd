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
        self,
        source: RegistrySource,
        rule: str,
        day: dt.date,
        lists: list[str] | None,
        entries: list[Any],
        use_atlas: bool,
    ) -> tuple[pa.Table, dict[str, Any]]:
        from statecap.analytics.rules import SPECS
        from statecap.engines.base import rule_roots
        from statecap.engines.spark.graph import load_stakes, read_entities
        from statecap.engines.spark.rules import rule_matrix, screen_designated, screen_outbound, votes_matrix
        from statecap.model.taxonomy import load_taxonomy
        from statecap.queries.screen import rule_status

        con = self._rules_connection(source)
        try:
            if rule == "outbound":
                status = rule_status(con, rule, day)
                definite: list[str] = []
                possible: list[str] = []
            else:
                definite, possible, status = rule_roots(con, rule, day, lists, entries, use_atlas)
        finally:
            con.close()
        spark = self.spark
        nodes, stakes = load_stakes(spark, source, day, ["equity"], "auto")
        own = rule_matrix(stakes)
        votes = None
        if SPECS[rule].votes is not None:
            _, vstakes = load_stakes(spark, source, day, ["voting"], "auto")
            votes = votes_matrix(own, vstakes)
        if rule == "outbound":
            from pyspark.sql import functions as F

            ents = read_entities(spark, source, ("id", "kind", "country", "sectors")).withColumn(
                "is_state", F.col("kind").isin(sorted(load_taxonomy().state_kinds))
            )
            assert votes is not None
            n = ents.count()
            table = screen_outbound(
                spark, ents, own, votes, bool(status["in_force"]), lambda ids: self._revenue(source, ids), n
            )
        else:
            table = screen_designated(
                spark, nodes, own, votes, rule, definite, possible, bool(status["in_force"])
            )
        return table.orderBy("idx").toArrow(), status

    def _read_optional(self, source: RegistrySource, name: str) -> Any:
        """The table's DataFrame, or None when the registry has no such table."""
        from statecap.engines.spark.propagate import _exists

        path = source.path(name)
        if path is None or (source.remote and not _exists(self.spark, str(path))):
            return None
        return self.spark.read.parquet(str(path))

    def _revenue(self, source: RegistrySource, ids: list[str]) -> dict[str, dict[tuple[int, str], float]]:
        """`statecap.queries.screen.latest_revenue` for these entities, read by Spark."""
        from pyspark.sql import Window
        from pyspark.sql import functions as F

        fin = self._read_optional(source, "financials")
        if fin is None or not ids:
            return {}
        keys = self.spark.createDataFrame([(i,) for i in ids], "entity string")
        w = Window.partitionBy("entity", "currency").orderBy(F.desc("year"))
        rows = (
            fin.where(F.col("revenue").isNotNull())
            .join(F.broadcast(keys), "entity")
            .withColumn("_rank", F.row_number().over(w))
            .where(F.col("_rank") <= 5)
            .select("entity", "year", "currency", "revenue")
            .collect()
        )
        rev: dict[str, dict[tuple[int, str], float]] = {}
        for r in rows:
            rev.setdefault(r["entity"], {})[(int(r["year"]), str(r["currency"]))] = float(r["revenue"])
        return rev

    def _match_ids(self, source: RegistrySource, keys: list[str]) -> tuple[set[str], dict[str, set[str]]]:
        from pyspark.sql import functions as F

        from statecap.engines.spark.graph import read_entities

        k = F.broadcast(self.spark.createDataFrame([(x,) for x in keys], "key string"))
        ents = read_entities(self.spark, source, ("id",))
        direct = {r["id"] for r in ents.join(k, ents["id"] == k["key"]).select("id").collect()}
        ident: dict[str, set[str]] = {}
        idents = self._read_optional(source, "entity_identifiers")
        if idents is not None:
            for r in (
                idents.join(k, idents["value"] == k["key"]).select("value", "entity").distinct().collect()
            ):
                ident.setdefault(r["value"], set()).add(r["entity"])
        return direct, ident

    def _ownership_of(
        self, source: RegistrySource, day: dt.date, ids: list[str]
    ) -> dict[str, dict[str, Any]]:
        from pyspark.sql import functions as F

        run = self.run_ownership(source, day, ["equity"], "auto")
        try:
            k = F.broadcast(self.spark.createDataFrame([(x,) for x in ids], "id string"))
            table = run.table.join(k, "id", "left_semi").toArrow()
        finally:
            self._cleanup(run.work)
        table = table.select(OWNERSHIP_SCHEMA.names).cast(OWNERSHIP_SCHEMA)
        return {r["id"]: r for r in table.to_pylist()}

    def entity_rows(
        self, source: RegistrySource, ids: Any, columns: Any = ("id", "name")
    ) -> dict[str, dict[str, Any]]:
        """Some columns of some entities, by id, read by Spark."""
        from pyspark.sql import functions as F

        from statecap.engines.spark.graph import read_entities

        cols = tuple(dict.fromkeys(("id", *columns)))
        k = F.broadcast(self.spark.createDataFrame([(x,) for x in ids], "id string"))
        rows = read_entities(self.spark, source, cols).join(k, "id", "left_semi").select(*cols).collect()
        return {r["id"]: r.asDict() for r in rows}

    def _upstream(self, source: RegistrySource, seeds: list[str], day: dt.date) -> Any:
        from statecap.engines.spark.subgraph import upstream_store

        return upstream_store(self, source, seeds, day)

    def _flows(
        self,
        source: RegistrySource,
        by: list[str],
        year_from: int | None,
        year_to: int | None,
        as_of: dt.date | None,
        currency: str,
    ) -> dict[str, Any]:
        from statecap.engines.spark.flows import flows_report

        return flows_report(self, source, by, year_from, year_to, as_of, currency)

    def state_values(self, source: RegistrySource, copies: list[Any]) -> tuple[Any, str]:
        """State share bounds of every entity in every copy of the graph (`graph.Copy`), in one run.

        Returns (a DataFrame ``copy``, ``node`` (the entity's row number), ``s_lo``, ``s_hi``
        (fractions), the work folder to clean up with `cleanup_work`).
        """
        from pyspark.sql import functions as F

        from statecap.engines.spark.condense import condense
        from statecap.engines.spark.graph import load_graph
        from statecap.engines.spark.propagate import evaluate

        graph = load_graph(self.spark, source, list(copies), ["equity"], "auto")
        levels = condense(self.spark, graph.nodes.select("node"), graph.edges)
        values, base = evaluate(self.spark, graph, levels, self.work_dir)
        n = graph.n // max(1, len(copies))
        out = values.select(
            F.expr(f"node div {n}").alias("copy"),
            (F.col("node") % F.lit(n)).alias("node"),
            "s_lo",
            "s_hi",
        )
        return out, base

    def cleanup_work(self, base: str) -> None:
        """Remove a run's working files."""
        self._cleanup(base)

    def _rules_connection(self, source: RegistrySource) -> Any:
        """An in-memory store with the designations and policy events read by Spark (small tables)."""
        import duckdb

        from statecap.store.schema import create_all

        con = duckdb.connect()
        create_all(con)
        for name in ("designations", "policy_events", "policy_suspensions"):
            df = self._read_optional(source, name)
            if df is None:
                continue
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
