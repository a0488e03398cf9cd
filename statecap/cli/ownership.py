"""Commands on ownership and control: owners, control, state-share, synth."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from statecap.cli._engine import EngineOpt, SparkMasterOpt, check_engine, engine_state_share_report
from statecap.cli.common import AsOfOpt, DbOpt, JsonOpt, console, emit_json, open_store, out, parse_as_of
from statecap.engines import DEFAULT_SPARK_MASTER
from statecap.errors import UsageError
from statecap.model.values import format_interval


def _cls(d: dict[str, str]) -> str:
    return d["class"] + ("" if d["certainty"] == "definite" else f" (possible; surely {d['definite_class']})")


def owners(
    entity: Annotated[str, typer.Argument(help="Entity id or identifier.")],
    paths: Annotated[int, typer.Option("--paths", min=0, max=100, help="Paths to show per owner.")] = 3,
    db: DbOpt = None,
    as_of: AsOfOpt = None,
    json: JsonOpt = False,
    engine: EngineOpt = "local",
    spark_master: SparkMasterOpt = DEFAULT_SPARK_MASTER,
) -> None:
    """Every direct and indirect owner of an entity, with integrated shares as [lo, hi] and paths."""
    from statecap.analytics.ownership import owners_report

    day = parse_as_of(as_of)
    check_engine(engine)
    with open_store(db) as con, console.status(f"computing integrated ownership ({engine} engine)"):
        report = owners_report(con, entity, day, paths=paths, engine=engine, spark_master=spark_master)
    if json:
        emit_json(report)
        return
    out.print(
        f"[bold]{report['name']}[/bold] ({report['entity']}) as of {report['evaluated_on']}: "
        f"state share {format_interval(report['state_share'])}, {_cls(report['state_class'])}"
    )
    table = Table()
    for col in ("owner", "name", "direct", "integrated", "best path"):
        table.add_column(col)
    for o in report["owners"]:
        best = " > ".join(o["paths"][0]["nodes"]) if o["paths"] else ""
        table.add_row(
            o["id"], o["name"], format_interval(o["direct"]), format_interval(o["integrated"]), best
        )
    out.print(table)


def control(
    entity: Annotated[str, typer.Argument(help="Entity id or identifier.")],
    db: DbOpt = None,
    as_of: AsOfOpt = None,
    json: JsonOpt = False,
    engine: EngineOpt = "local",
    spark_master: SparkMasterOpt = DEFAULT_SPARK_MASTER,
) -> None:
    """Who controls an entity under each rule (majority chain, La Porta 20%/10%, integrated 50%)."""
    from statecap.analytics.control import control_report

    day = parse_as_of(as_of)
    check_engine(engine)
    with open_store(db) as con, console.status(f"computing control ({engine} engine)"):
        report = control_report(con, entity, day, engine=engine, spark_master=spark_master)
    if json:
        emit_json(report)
        return
    out.print(
        f"[bold]{report['name']}[/bold] ({report['entity']}): state share {format_interval(report['state_share'])}, "
        f"{_cls(report['state_class'])}"
    )
    rules: dict[str, Any] = report["rules"]
    maj = rules["majority"]
    out.print(
        f"majority chain: {' > '.join(maj['chain'])} "
        f"({maj['certainty']}{', ends in a cycle' if maj['cycle'] else ''})"
    )
    for key in ("laporta_20", "laporta_10"):
        r = rules[key]
        uo = r["ultimate_owner"]
        who = f"{uo['controller']} {format_interval(uo['control'])} ({uo['certainty']})" if uo else "none"
        out.print(
            f"La Porta {r['threshold']:g}%: state control {format_interval(r['state_control'])} "
            f"(controls: {r['state_controls']}); ultimate owner: {who}"
        )
        for ch in r["state_chains"][:1]:
            out.print(
                f"  state chain: {' > '.join(ch['nodes'])} (weakest link {format_interval(ch['weakest_link'])})"
            )
    integ = rules["integrated_50"]["controllers"]
    out.print(
        "integrated > 50%: "
        + (
            ", ".join(f"{c['controller']} {format_interval(c['integrated'])}" for c in integ)
            if integ
            else "none"
        )
    )


def state_share_cmd(
    top: Annotated[int, typer.Option("--top", min=1, help="How many entities to list.")] = 20,
    sector: Annotated[
        str | None, typer.Option("--sector", help="Only this sector (or sub-sector) code.")
    ] = None,
    db: DbOpt = None,
    as_of: AsOfOpt = None,
    json: JsonOpt = False,
    engine: EngineOpt = "local",
    spark_master: SparkMasterOpt = DEFAULT_SPARK_MASTER,
) -> None:
    """Entities with the largest integrated state shares (state organs themselves excluded)."""
    from statecap.analytics.ownership import state_share_report

    day = parse_as_of(as_of)
    if engine != "local":
        report = engine_state_share_report(engine, spark_master, db, top=top, sector=sector, as_of=day)
    else:
        with open_store(db) as con, console.status("computing state shares"):
            report = state_share_report(con, top=top, sector=sector, as_of=day)
    if json:
        emit_json(report)
        return
    table = Table()
    for col in ("id", "name", "state share", "class"):
        table.add_column(col)
    for r in report["results"]:
        table.add_row(r["id"], r["name"], format_interval(r["state_share"]), _cls(r["state_class"]))
    out.print(table)
    if report["closed_sccs"]:
        console.print(f"{len(report['closed_sccs'])} closed cross-holding groups (state share 0): see --json")


def synth(
    entities: Annotated[int, typer.Option("--entities", min=10, help="Number of entities.")] = 100_000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same files).")] = 0,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Write entities/stakes/designations.parquet here.")
    ] = None,
    db: Annotated[Path | None, typer.Option("--db", help="Write a statecap store here.")] = None,
    json: JsonOpt = False,
) -> None:
    """Generate a synthetic registry (Parquet and/or a store) for benchmarks and tests."""
    from statecap.graph.synth import generate, write_parquet, write_store

    if out_dir is None and db is None:
        raise UsageError("give --out DIR and/or --db PATH")
    with console.status(f"generating {entities:,} entities"):
        reg = generate(entities, seed)
    written: list[str] = []
    if out_dir is not None:
        with console.status("writing Parquet"):
            written += [str(p) for p in write_parquet(reg, out_dir)]
    if db is not None:
        with console.status("writing the store"):
            written.append(str(write_store(reg, db, seed)))
    result = {
        "entities": reg.entities.num_rows,
        "stakes": reg.stakes.num_rows,
        "designations": reg.designations.num_rows,
        "seed": seed,
        "files": written,
    }
    if json:
        emit_json(result)
    else:
        console.print(
            f"{result['entities']:,} entities, {result['stakes']:,} stakes, "
            f"{result['designations']:,} designations -> {', '.join(written)}"
        )


def register(app: typer.Typer) -> None:
    app.command("owners", rich_help_panel="Query")(owners)
    app.command("control", rich_help_panel="Query")(control)
    app.command("state-share", rich_help_panel="Query")(state_share_cmd)
    app.command("synth", rich_help_panel="Data")(synth)
