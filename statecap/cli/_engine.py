"""The `--engine` and `--spark-master` options, shared by the commands that take them."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from statecap.engines import DEFAULT_SPARK_MASTER, ENGINES

EngineOpt = Annotated[
    str,
    typer.Option(
        "--engine",
        help=f"Where to compute: {' or '.join(ENGINES)} (Spark needs pip install 'statecap[spark]').",
    ),
]
SparkMasterOpt = Annotated[
    str,
    typer.Option("--spark-master", help="Spark master URL for --engine spark (local[*], yarn, k8s://...)."),
]


def check_engine(engine: str) -> None:
    """UsageError for an engine name that is neither local nor spark (before any work is done)."""
    from statecap.errors import UsageError

    if engine not in ENGINES:
        raise UsageError(f"--engine {engine!r}: choose one of {', '.join(ENGINES)}")


def make_engine(engine: str, spark_master: str = DEFAULT_SPARK_MASTER) -> Any:
    """The engine asked for on the command line (UsageError for an unknown one or missing pyspark)."""
    from statecap.engines import get_engine

    return get_engine(engine, spark_master)


def engine_state_share_report(
    engine: str, spark_master: str, db: Any, *, top: int, sector: str | None, as_of: Any
) -> dict[str, Any]:
    """`statecap state-share` on another engine: the store is exported to Parquet for it."""
    from statecap.cli.common import console, open_store
    from statecap.engines import open_source

    eng = make_engine(engine, spark_master)
    try:
        with open_store(db) as con, console.status(f"computing state shares ({engine} engine)"):
            source = open_source(con=con)
            try:
                return eng.state_share_report(source, top=top, sector=sector, as_of=as_of)
            finally:
                source.close()
    finally:
        eng.close()
