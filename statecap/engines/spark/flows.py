"""Capital flows on Spark: the counting rules of docs/flows.md on PySpark DataFrames.

The same steps as `statecap.queries.flows`, row for row:

1. records: investments (not those into state intermediaries), spending, completed or divested
   acquisitions, joint ventures and partnerships with an amount, each with its date, mechanism
   and the entity whose sectors it takes;
2. atoms: one per record and sector (the record's own sector, else the receiving entity's, else
   its parties'; equal parts), converted with annual rates, the nearest year when a year has none
   (`statecap.analytics.flows.convert` itself, on the executors);
3. payers with their weights, and each payer's state share **on the atom's date**: stakes change
   only on their start and end dates, so the dates fall into buckets of equal ownership; the
   ownership engine computes the state share of every entity in every bucket needed in one run,
   the buckets' graphs side by side (and, for ``--by level``, once more per organ level with only
   that level's organs as roots);
4. each atom's state part ``amount x min(1, sum_p w_p s_p)`` with bounds, the split by level, and
   the sums by the ``--by`` keys.

Only the grouped rows (one per key combination) and the record ids the report lists come back to
the driver.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from statecap.analytics import flows as kernel
from statecap.engines.source import RegistrySource

DDL = {
    "investments": "id string, investor string, investee string, sector string, mechanism string, "
    "amount double, currency string, date date",
    "spending": "id string, entity string, year int, category string, amount double, currency string, "
    "sector string",
    "acquisitions": "id string, acquirer string, target string, announced date, closed date, status string, "
    "value double, currency string, sector string",
    "joint_ventures": "id string, entity string, sector string, valid_from date, amount double, currency string",
    "partnerships": "id string, kind string, sector string, valid_from date, amount double, currency string",
    "jv_partners": "jv string, partner string, share_lo double, share_hi double",
    "partnership_parties": "partnership string, party string",
    "observations": "series string, year int, value double",
}
ATOM_KEY = ["record_type", "record_id", "sub_sector"]


def _intermediaries(ents: Any) -> Any:
    """The state intermediaries of docs/flows.md (state funds, policy banks, and SOEs with no
    technology sector of their own) as one column ``investee``."""
    from pyspark.sql import functions as F

    no_sectors = F.size(F.coalesce(F.col("sectors"), F.array().cast("array<string>"))) == 0
    return ents.where(
        F.col("kind").isin("state_fund", "policy_bank")
        | (F.col("kind").isin("central_soe", "local_soe") & no_sectors)
    ).select(F.col("id").alias("investee"))


def _table(engine: Any, source: RegistrySource, name: str) -> Any:
    """The table with the columns flows read (an empty one when the registry lacks it)."""
    cols = [c.split()[0] for c in DDL[name].split(", ")]
    df = engine._read_optional(source, name)
    if df is None:
        return engine.spark.createDataFrame([], DDL[name])
    return df.select(*cols)


def _codes(spark: Any, items: dict[str, Any]) -> Any:
    from pyspark.sql import functions as F

    rows = [(c, t.extra.get("mechanism")) for c, t in items.items()]
    return F.broadcast(spark.createDataFrame(rows, "code string, cmech string"))


def records(engine: Any, source: RegistrySource, ents: Any) -> Any:
    """The flow records (`statecap.queries.flows._RECORDS_SQL`): record_type, record_id, date,
    mechanism, amount, currency, counterparty, own_sector, sector_from."""
    from pyspark.sql import functions as F

    from statecap.model.taxonomy import load_taxonomy

    spark = engine.spark
    tax = load_taxonomy()
    fund = _intermediaries(ents)
    inv = _table(engine, source, "investments")
    sp = _table(engine, source, "spending")
    acq = _table(engine, source, "acquisitions")
    jv = _table(engine, source, "joint_ventures")
    pt = _table(engine, source, "partnerships")
    null = F.lit(None).cast("string")
    parts = [
        inv.where(F.col("amount").isNotNull())
        .join(fund, "investee", "left_anti")
        .select(
            F.lit("investments").alias("record_type"), F.col("id").alias("record_id"), "date", "mechanism", "amount",
            "currency", F.col("investee").alias("counterparty"), F.col("sector").alias("own_sector"),
            F.col("investee").alias("sector_from"),
        ),
        sp.join(_codes(spark, tax.spending_categories), F.col("category") == F.col("code")).select(
            F.lit("spending"), "id", F.make_date("year", F.lit(7), F.lit(1)), "cmech", "amount", "currency", "entity",
            "sector", "entity",
        ),
        acq.where(F.col("value").isNotNull() & F.col("status").isin("completed", "divested"))
        .join(
            ents.where(F.size(F.col("sectors")) > 0).select(F.col("id").alias("target"), F.lit(True).alias("_ts")),
            "target",
            "left",
        )
        .select(
            F.lit("acquisitions"), "id", F.coalesce("closed", "announced"), F.lit("mergers_acquisitions"), "value",
            "currency", "target", "sector",
            F.when(F.col("_ts").isNotNull(), F.col("target")).otherwise(F.col("acquirer")),
        ),
        jv.where(F.col("amount").isNotNull()).select(
            F.lit("joint_ventures"), "id", "valid_from", F.lit("joint_venture"), "amount", "currency", "entity",
            "sector", "entity",
        ),
        pt.join(_codes(spark, tax.partnership_kinds), F.col("kind") == F.col("code"))
        .where(F.col("amount").isNotNull())
        .select(F.lit("partnerships"), "id", "valid_from", "cmech", "amount", "currency", null, "sector", null),
    ]  # fmt: skip
    names = ["record_type", "record_id", "date", "mechanism", "amount", "currency", "counterparty", "own_sector",
             "sector_from"]  # fmt: skip
    out = parts[0]
    for p in parts[1:]:
        out = out.union(p.toDF(*names))
    return out.select(
        "record_type", "record_id", F.col("date").cast("date").alias("date"), F.col("mechanism").cast("string"),
        F.col("amount").cast("double"), "currency", "counterparty", "own_sector", "sector_from",
    )  # fmt: skip


def _party_sectors(engine: Any, source: RegistrySource, ents: Any) -> Any:
    """(record_type, record_id, psec): the sorted distinct sectors of a JV's partners or a partnership's parties."""
    from pyspark.sql import functions as F

    es = ents.select(F.col("id").alias("_p"), "sectors").where(F.col("sectors").isNotNull())
    jvp = _table(engine, source, "jv_partners").select(
        F.lit("joint_ventures").alias("record_type"),
        F.col("jv").alias("record_id"),
        F.col("partner").alias("_p"),
    )
    pp = _table(engine, source, "partnership_parties").select(
        F.lit("partnerships").alias("record_type"),
        F.col("partnership").alias("record_id"),
        F.col("party").alias("_p"),
    )
    return (
        jvp.unionByName(pp)
        .join(es, "_p")
        .groupBy("record_type", "record_id")
        .agg(F.array_sort(F.array_distinct(F.flatten(F.collect_list("sectors")))).alias("psec"))
    )


def _convert(rates: pd.DataFrame, target: str) -> Any:
    """A mapInPandas function converting ``amount_source`` with `kernel.convert` (the local code)."""

    def run(batches: Any) -> Any:
        for pdf in batches:
            amount, used = kernel.convert(
                pdf["amount_source"].to_numpy(dtype=float),
                pdf["currency_source"].to_numpy(dtype=object),
                pdf["year"].to_numpy(dtype=np.int64),
                rates,
                target,
            )
            yield pdf.assign(amount=amount, rate_year=used.astype(np.int64))

    return run


def _buckets(
    spark: Any, stakes_path: str, dates: list[dt.date]
) -> tuple[dict[dt.date, int], dict[int, dt.date]]:
    """`statecap.queries.shares.SharesAtDates` bucketing: (bucket of each date, a date of each bucket)."""
    from pyspark.sql import functions as F

    st = spark.read.parquet(stakes_path)
    pts = (
        st.select(F.col("valid_from").alias("d"))
        .unionByName(st.select(F.col("valid_to").alias("d")))
        .where(F.col("d").isNotNull())
        .distinct()
        .collect()
    )
    points = np.array(sorted(np.datetime64(r["d"], "D") for r in pts), dtype="datetime64[D]")
    d = np.array([np.datetime64(x, "D") for x in dates], dtype="datetime64[D]")
    b = np.searchsorted(points, d, side="right")
    of_date = {x: int(k) for x, k in zip(dates, b.tolist(), strict=True)}

    def day_of(k: int) -> dt.date:
        if k == 0:
            if len(points) == 0:
                return dt.date(1800, 1, 1)
            return dt.date.fromisoformat(str(points[0] - 1))
        return dt.date.fromisoformat(str(points[k - 1]))

    return of_date, {k: day_of(k) for k in sorted(set(of_date.values()))}


def _factors(rows: Any, lo: Any, hi: Any, keep_positive: bool = False) -> Any:
    """Per atom: f_lo, f_hi (`kernel.atom_factors`: the upper sum capped at 1, the lower at the upper)."""
    from pyspark.sql import functions as F

    f = rows.groupBy(*ATOM_KEY).agg(F.sum(lo).alias("_slo"), F.sum(hi).alias("_shi"))
    f = f.select(*ATOM_KEY, F.least("_shi", F.lit(1.0)).alias("f_hi"), "_slo")
    f = f.select(*ATOM_KEY, "f_hi", F.least("_slo", "f_hi").alias("f_lo"))
    return f.where(F.col("f_hi") > 0) if keep_positive else f


def flows_report(
    engine: Any,
    source: RegistrySource,
    by: list[str],
    year_from: int | None,
    year_to: int | None,
    as_of: dt.date | None,
    currency: str,
) -> dict[str, Any]:
    """The keys of `statecap.queries.flows.flows_report` (with ``frame``), computed on Spark."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    from statecap.engines.spark.graph import Copy, read_entities
    from statecap.queries.flows import OWN_MONEY_CATEGORIES, flows_result

    spark = engine.spark
    with_levels = "level" in by
    ents = read_entities(spark, source, ("id", "kind", "sectors", "level")).persist()
    recs = records(engine, source, ents).persist()
    notes: dict[str, Any] = {"undated_records": [], "unconverted_records": [], "rate_fallbacks": 0}
    notes["undated_records"] = sorted(
        f"{r[0]}:{r[1]}"
        for r in recs.where(F.col("date").isNull()).select("record_type", "record_id").collect()
    )
    recs = recs.where(F.col("date").isNotNull())
    if as_of is not None:
        recs = recs.where(F.col("date") <= F.lit(as_of.isoformat()).cast("date"))
    recs = recs.withColumn("year", F.year("date"))

    # sectors: equal parts over the record's own sector, else the receiving entity's, else its parties'
    fsec = ents.select(F.col("id").alias("sector_from"), F.col("sectors").alias("fsec"))
    psec = _party_sectors(engine, source, ents)
    subs = (
        F.when(F.col("own_sector").isNotNull(), F.array("own_sector"))
        .when(F.col("fsec").isNotNull() & (F.size("fsec") > 0), F.array_sort(F.array_distinct("fsec")))
        .when(F.col("psec").isNotNull() & (F.size("psec") > 0), F.col("psec"))
        .otherwise(F.array(F.lit("unassigned")))
    )
    staged = (
        recs.join(fsec, "sector_from", "left")
        .join(psec, ["record_type", "record_id"], "left")
        .withColumn("_subs", subs)
        .withColumn("weight", F.lit(1.0) / F.size("_subs"))
        .select("*", F.explode("_subs").alias("sub_sector"))
        .select(
            "record_type", "record_id", "date", "mechanism", "counterparty", "year", "sub_sector",
            F.split("sub_sector", r"\.").getItem(0).alias("sector"),
            (F.col("amount") * F.col("weight")).alias("amount_source"),
            F.col("currency").alias("currency_source"),
        )
    )  # fmt: skip

    # currency: the local conversion itself, with the registry's annual rates
    obs = _table(engine, source, "observations")
    rates = (
        obs.where(F.col("series").like("fx_cny_per_%"))
        .groupBy(F.upper(F.expr("substring(series, 12)")).alias("currency"), "year")
        .agg(F.avg("value").alias("cny_per_unit"))
        .orderBy("currency", "year")
        .toPandas()
    )
    rates = rates.astype({"year": np.int64, "cny_per_unit": float})
    from pyspark.sql.types import DoubleType, LongType, StructField, StructType

    schema = StructType(
        [*staged.schema.fields, StructField("amount", DoubleType()), StructField("rate_year", LongType())]
    )
    converted = staged.mapInPandas(_convert(rates, currency), schema).persist()
    # NaN (no rate) may arrive from pandas as NaN or as null (Arrow's pandas conversion)
    bad = F.col("amount").isNull() | F.isnan("amount")
    notes["unconverted_records"] = sorted(
        f"{r[0]}:{r[1]}" for r in converted.where(bad).select("record_type", "record_id").distinct().collect()
    )
    notes["rate_fallbacks"] = int(converted.where(~bad & (F.col("rate_year") != F.col("year"))).count())
    atoms = converted.where(~bad).select(
        *ATOM_KEY, "date", "year", "sector", "mechanism", "counterparty", "amount", "currency_source",
        "amount_source", "rate_year", F.lit(currency).alias("currency"),
    ).localCheckpoint(eager=True)  # fmt: skip

    # payers, with weights
    inv = _table(engine, source, "investments")
    sp = _table(engine, source, "spending")
    acq = _table(engine, source, "acquisitions")
    one = F.lit(1.0)
    own_money = F.col("category").isin(*OWN_MONEY_CATEGORIES)
    win = Window.partitionBy("partnership")
    payers = (
        inv.select(F.lit("investments").alias("record_type"), F.col("id").alias("record_id"),
                   F.col("investor").alias("payer"), one.alias("w_lo"), one.alias("w_hi"))
        .unionByName(sp.select(F.lit("spending").alias("record_type"), F.col("id").alias("record_id"),
                               F.when(own_money, F.lit(kernel.STATE_PAYER)).otherwise(F.col("entity")).alias("payer"),
                               one.alias("w_lo"), one.alias("w_hi")))
        .unionByName(acq.select(F.lit("acquisitions").alias("record_type"), F.col("id").alias("record_id"),
                                F.col("acquirer").alias("payer"), one.alias("w_lo"), one.alias("w_hi")))
        .unionByName(_table(engine, source, "jv_partners").select(
            F.lit("joint_ventures").alias("record_type"), F.col("jv").alias("record_id"), F.col("partner").alias("payer"),
            (F.col("share_lo") / 100).alias("w_lo"), (F.col("share_hi") / 100).alias("w_hi")))
        .unionByName(_table(engine, source, "partnership_parties").select(
            F.lit("partnerships").alias("record_type"), F.col("partnership").alias("record_id"),
            F.col("party").alias("payer"), (one / F.count(F.lit(1)).over(win)).alias("w_lo"),
            (one / F.count(F.lit(1)).over(win)).alias("w_hi")))
        .join(atoms.select(*ATOM_KEY, "date", "year"), ["record_type", "record_id"])
    ).localCheckpoint(eager=True)  # fmt: skip

    # state shares on each atom's date, one ownership run for every bucket (and level) needed
    dates = sorted(r["date"] for r in payers.select("date").distinct().collect())
    stakes_path = source.path("stakes")
    assert stakes_path is not None
    bucket_of, bucket_day = _buckets(spark, str(stakes_path), dates) if dates else ({}, {})
    kinds: list[str | None] = [None, *(kernel.LEVELS if with_levels else ())]
    copies = [(b, lv) for b in bucket_day for lv in kinds]
    share_cols = ["s"] + [f"l{k}" for k in range(1, len(kinds))]
    if copies:
        vals, work = engine.state_values(source, [Copy(bucket_day[b], lv) for b, lv in copies])
        index = spark.createDataFrame(
            [(k, b, kinds.index(lv)) for k, (b, lv) in enumerate(copies)], "copy long, bucket long, kind int"
        )
        wide = (
            vals.join(F.broadcast(index), "copy")
            .groupBy("bucket", "node")
            .pivot("kind", list(range(len(kinds))))
            .agg(F.first("s_lo").alias("lo"), F.first("s_hi").alias("hi"))
        )
        renamed = [F.col("bucket"), F.col("node")]
        for k, name in enumerate(share_cols):
            renamed += [F.col(f"{k}_lo").alias(f"{name}_lo"), F.col(f"{k}_hi").alias(f"{name}_hi")]
        wide = wide.select(*renamed)
        bdates = F.broadcast(
            spark.createDataFrame([(d, bucket_of[d]) for d in dates], "date date, bucket long")
        )
        ids = ents.select(F.col("id").alias("payer"), "node")
        shared = payers.join(bdates, "date").join(ids, "payer", "left").join(wide, ["bucket", "node"], "left")
    else:
        work = None
        shared = payers
        for name in share_cols:
            shared = shared.withColumn(f"{name}_lo", F.lit(None).cast("double")).withColumn(
                f"{name}_hi", F.lit(None).cast("double")
            )
    is_state = F.col("payer") == kernel.STATE_PAYER

    def share(name: str, bound: str) -> Any:
        v = F.coalesce(F.col(f"{name}_{bound}"), F.lit(0.0))
        return (v * 100.0) / 100.0 if name == "s" else v  # as the local lookup: percent, then / 100

    payers = shared.select(
        *ATOM_KEY, "year", "payer", "w_lo", "w_hi",
        F.when(is_state, 1.0).otherwise(share("s", "lo")).alias("s_lo"),
        F.when(is_state, 1.0).otherwise(share("s", "hi")).alias("s_hi"),
        *[share(n, b).alias(f"{n}_{b}") for n in share_cols[1:] for b in ("lo", "hi")],
    ).localCheckpoint(eager=True)  # fmt: skip
    if work is not None:
        engine.cleanup_work(work)

    f = _factors(payers, F.col("w_lo") * F.col("s_lo"), F.col("w_hi") * F.col("s_hi"))
    atoms = (
        atoms.join(f, ATOM_KEY, "left")
        .withColumn("state_lo", F.col("amount") * F.coalesce("f_lo", F.lit(0.0)))
        .withColumn("state_hi", F.col("amount") * F.coalesce("f_hi", F.lit(0.0)))
        .drop("f_lo", "f_hi")
    )
    if year_from is not None:
        atoms = atoms.where(F.col("year") >= year_from)
        payers = payers.where(F.col("year") >= year_from)
    if year_to is not None:
        atoms = atoms.where(F.col("year") <= year_to)
        payers = payers.where(F.col("year") <= year_to)
    atoms = atoms.localCheckpoint(eager=True)

    if with_levels:
        organ = payers.where(~is_state)
        pos = payers.agg(*[F.max(f"l{k}_hi").alias(f"l{k}") for k in range(1, len(kinds))]).collect()[0]
        parts = []
        for k, level in enumerate(kernel.LEVELS, start=1):
            if not (pos[f"l{k}"] is not None and pos[f"l{k}"] > 0):
                continue  # no payer has a share through this level's organs: no rows (as locally)
            lf = _factors(
                organ,
                F.col("w_lo") * F.col(f"l{k}_lo"),
                F.col("w_hi") * F.col(f"l{k}_hi"),
                keep_positive=True,
            )
            parts.append(lf.withColumn("level", F.lit(level)))
        own = payers.where(is_state)
        parts.append(
            _factors(own, F.col("w_lo"), F.col("w_hi"), keep_positive=True).withColumn(
                "level", F.lit("unspecified")
            )
        )
        backed = parts[0]
        for p in parts[1:]:
            backed = backed.unionByName(p)
        backed = backed.localCheckpoint(eager=True)
        base = atoms.drop("state_lo", "state_hi")
        split = base.join(backed, ATOM_KEY).select(
            *base.columns, "level", (F.col("amount") * F.col("f_lo")).alias("state_lo"),
            (F.col("amount") * F.col("f_hi")).alias("state_hi"),
        )  # fmt: skip
        none = base.join(backed.select(*ATOM_KEY).distinct(), ATOM_KEY, "left_anti").select(
            *base.columns,
            F.lit("none").alias("level"),
            F.lit(0.0).alias("state_lo"),
            F.lit(0.0).alias("state_hi"),
        )
        frame_atoms = split.unionByName(none)
    else:
        frame_atoms = atoms
    rec = F.concat_ws(":", "record_type", "record_id")
    grouped = (
        frame_atoms.groupBy(*by)
        .agg(
            F.sum("amount").alias("amount"),
            F.sum("state_lo").alias("state_lo"),
            F.sum("state_hi").alias("state_hi"),
            F.countDistinct(rec).alias("records"),
        )
        .toPandas()
    )
    frame = _sorted_frame(grouped, by)
    tot = atoms.agg(
        F.sum("amount").alias("amount"),
        F.sum("state_lo").alias("lo"),
        F.sum("state_hi").alias("hi"),
        F.countDistinct(rec).alias("records"),
    ).collect()[0]
    commitments = fund_commitments(engine, source, ents, as_of, currency, rates)
    ents.unpersist()
    recs.unpersist()
    converted.unpersist()
    total = (
        float(tot["amount"] or 0.0),
        float(tot["lo"] or 0.0),
        float(tot["hi"] or 0.0),
        int(tot["records"]),
    )
    return flows_result(frame, by, currency, as_of, year_from, year_to, total, commitments, notes)


def _sorted_frame(grouped: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """The grouped rows in `kernel.aggregate`'s order: largest amount first, then by the keys."""
    keys = list(by)
    if grouped.empty:
        return pd.DataFrame(columns=[*keys, "amount", "state_lo", "state_hi", "records"])
    if "year" in keys:
        grouped["year"] = grouped["year"].astype(np.int64)
    grouped["records"] = grouped["records"].astype(np.int64)
    out = grouped.sort_values(keys, kind="stable").reset_index(drop=True)
    return out.sort_values(
        ["amount", *keys], ascending=[False, *([True] * len(keys))], kind="stable"
    ).reset_index(drop=True)[[*keys, "amount", "state_lo", "state_hi", "records"]]


def fund_commitments(
    engine: Any, source: RegistrySource, ents: Any, as_of: dt.date | None, currency: str, rates: pd.DataFrame
) -> dict[str, Any]:
    """`statecap.queries.flows.fund_commitments`: money paid into state intermediaries."""
    from pyspark.sql import functions as F

    fund = _intermediaries(ents)
    inv = _table(engine, source, "investments")
    rows = inv.join(fund, "investee", "left_semi").where(
        F.col("amount").isNotNull() & F.col("date").isNotNull()
    )
    if as_of is not None:
        rows = rows.where(F.col("date") <= F.lit(as_of.isoformat()).cast("date"))
    pdf = rows.select("id", "amount", "currency", F.year("date").alias("year")).orderBy("id").toPandas()
    if pdf.empty:
        return {"committed": 0.0, "records": []}
    conv, _ = kernel.convert(
        pdf["amount"].to_numpy(dtype=float),
        pdf["currency"].to_numpy(dtype=object),
        pdf["year"].to_numpy(dtype=np.int64),
        rates,
        currency,
    )
    return {"committed": float(np.nansum(conv)), "records": [f"investments:{r}" for r in pdf["id"]]}
