"""`statecap batch`: whole-registry answers written as Parquet, by the local or the Spark engine."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from statecap.cli._engine import EngineOpt, SparkMasterOpt
from statecap.cli.common import AsOfOpt, DbOpt, JsonOpt, console, emit_json, open_store, parse_as_of
from statecap.engines import DEFAULT_SPARK_MASTER


def batch(
    out_dir: Annotated[
        str, typer.Option("--out", help="Write the Parquet results here (a folder or, for Spark, a URL).")
    ],
    parquet: Annotated[
        str | None,
        typer.Option(
            "--parquet", help="Read the registry from this folder (statecap synth / export parquet)."
        ),
    ] = None,
    db: DbOpt = None,
    as_of: AsOfOpt = None,
    what: Annotated[
        str,
        typer.Option(
            "--what",
            help=(
                "Comma-separated: ownership (ownership.parquet); ofac50, bis-affiliates, outbound, "
                "owned-or-controlled (screen-RULE.parquet); flows (flows.parquet: state capital by "
                "sector, mechanism, year and organ level, in CNY)."
            ),
        ),
    ] = "ownership",
    engine: EngineOpt = "local",
    spark_master: SparkMasterOpt = DEFAULT_SPARK_MASTER,
    json: JsonOpt = False,
) -> None:
    """Whole-registry answers as Parquet: the ownership table (state share bounds, La Porta control,
    majority chain, state class of every entity), the entities each screening rule catches, and the
    state capital flows."""
    from statecap.engines import get_engine, open_source
    from statecap.engines.base import SCREEN_RULES
    from statecap.errors import UsageError

    day = parse_as_of(as_of)
    questions = [w.strip() for w in what.split(",") if w.strip()]
    allowed = ("ownership", *SCREEN_RULES, "flows")
    bad = [w for w in questions if w not in allowed]
    if bad or not questions:
        raise UsageError(f"--what {what!r}: choose from {', '.join(allowed)}")
    started = time.perf_counter()

    def progress(stage: str, done: int, total: int) -> None:
        status.update(f"{stage}: {done}/{total}")

    with console.status(f"starting the {engine} engine") as status:
        eng = get_engine(engine, spark_master, progress=progress) if engine == "spark" else get_engine(engine)
        outputs: dict[str, str] = {}
        try:
            if parquet is not None:
                source = open_source(parquet)
            else:
                with open_store(db) as con:
                    source = open_source(con=con)
            try:
                for q in questions:
                    status.update(f"computing {q}")
                    if q == "ownership":
                        outputs[q] = str(eng.write_ownership(source, out_dir, as_of=day))
                    elif q == "flows":
                        outputs[q] = str(eng.write_flows(source, out_dir, as_of=day))
                    else:
                        outputs[q] = str(eng.write_screen(source, q, out_dir, as_of=day))
            finally:
                source.close()
        finally:
            eng.close()
    result = {
        "engine": engine,
        "as_of": None if day is None else day.isoformat(),
        "outputs": outputs,
        "seconds": round(time.perf_counter() - started, 3),
    }
    if json:
        emit_json(result)
    else:
        console.print(f"{engine} engine: wrote {', '.join(outputs.values())} in {result['seconds']:.1f} s")


def register(app: typer.Typer) -> None:
    app.command("batch", rich_help_panel="Query")(batch)
