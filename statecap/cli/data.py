"""Commands over the dataset and the store: build, validate, stats, entity."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from statecap.cli.common import DbOpt, JsonOpt, console, emit_json, open_store, out
from statecap.errors import DataError

# the store, dataset and audit modules pull in duckdb, pandas and pydantic: imported inside the
# commands so that `statecap --help` and unrelated commands start fast

DataDirOpt = Annotated[
    Path | None,
    typer.Option("--data", help="Dataset folder (default: the built-in dataset).", show_default=False),
]


def build(data: DataDirOpt = None, db: DbOpt = None, json: JsonOpt = False) -> None:
    """Build the store from a dataset folder, atomically (a failed build changes nothing)."""
    from statecap.store.build import build_store

    with console.status("validating and building the store"):
        path, ds = build_store(data, db)
    if json:
        emit_json({"db": str(path), "counts": ds.counts()})
    else:
        total = sum(ds.counts().values())
        console.print(f"built [bold]{path}[/bold]: {total} records")


def validate(
    directory: Annotated[Path | None, typer.Argument(help="Dataset folder (default: built-in).")] = None,
    json: JsonOpt = False,
) -> None:
    """Check a dataset folder without building: every problem, one line each, exit code 2."""
    from statecap.model.dataset import builtin_data_dir, load_dataset

    target = directory if directory is not None else builtin_data_dir()
    try:
        ds = load_dataset(target)
    except DataError as exc:
        if json:
            emit_json(
                {
                    "valid": False,
                    "problems": [
                        {
                            "file": p.file,
                            "line": p.line,
                            "record": p.record,
                            "field": p.field,
                            "reason": p.reason,
                        }
                        for p in exc.problems
                    ],
                }
            )
            raise typer.Exit(2) from None
        raise
    if json:
        emit_json({"valid": True, "counts": ds.counts()})
    else:
        console.print(f"[green]valid[/green]: {target} ({sum(ds.counts().values())} records)")


def stats_cmd(db: DbOpt = None, json: JsonOpt = False) -> None:
    """Record counts per type, and how many records lack a source."""
    from statecap.store.query import stats

    with open_store(db) as con:
        result = stats(con)
    if json:
        emit_json(result)
        return
    table = Table(title="statecap store")
    table.add_column("records")
    table.add_column("count", justify="right")
    for k, v in result["counts"].items():
        table.add_row(k, f"{v:,}")
    table.add_row("unsourced", f"{result['unsourced_records']:,}")
    out.print(table)


def entity(
    query: Annotated[str, typer.Argument(help="Id, English or Chinese name, alias or identifier.")],
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="Most matches to show.")] = 10,
    db: DbOpt = None,
    json: JsonOpt = False,
) -> None:
    """Find entities by id, name (English or Chinese), alias or identifier, best match first."""
    from statecap.store.query import search_entities

    with open_store(db) as con:
        matches = search_entities(con, query, limit=limit)
    if json:
        emit_json({"query": query, "matches": matches})
        return
    if not matches:
        console.print(f"no entity matches {query!r}")
        raise typer.Exit(1)
    table = Table()
    for col in ("id", "name", "name_zh", "kind", "sectors"):
        table.add_column(col)
    for m in matches:
        table.add_row(m["id"], m["name"], m["name_zh"] or "", m["kind"], ", ".join(m["sectors"]))
    out.print(table)


data_app = typer.Typer(help="Inspect the dataset: coverage, sourcing, gaps.", no_args_is_help=True)


@data_app.command("audit")
def audit_cmd(db: DbOpt = None, json: JsonOpt = False) -> None:
    """Coverage per sector x mechanism, sourcing, confidence, and entities with no known owner."""
    from statecap.store.audit import audit

    with open_store(db) as con:
        result = audit(con)
    if json:
        emit_json(result)
        return
    out.print(
        f"[bold]{result['records']:,}[/bold] records, {result['unsourced']:,} unsourced "
        f"({result['sourced_share']:.1%} sourced), {result['relationships']:,} relationships"
    )
    sectors = sorted({c["sector"] for c in result["coverage"]})
    mechanisms = list(dict.fromkeys(c["mechanism"] for c in result["coverage"]))
    cells = {(c["sector"], c["mechanism"]): c["records"] for c in result["coverage"]}
    table = Table(title="records by sector x mechanism")
    table.add_column("sector")
    for m in mechanisms:
        table.add_column(m.replace("_", " "), justify="right")
    table.add_column("total", justify="right")
    for s in sectors:
        table.add_row(s, *(str(cells[(s, m)] or "") for m in mechanisms), str(result["records_by_sector"][s]))
    table.add_row("total", *(str(result["records_by_mechanism"][m]) for m in mechanisms), "")
    out.print(table)
    conf = Table(title="records by confidence")
    conf.add_column("confidence")
    conf.add_column("records", justify="right")
    for k, v in sorted(result["records_by_confidence"].items()):
        conf.add_row(k, f"{v:,}")
    out.print(conf)
    pubs = Table(title="sources by publisher (top 20)")
    pubs.add_column("publisher")
    pubs.add_column("sources", justify="right")
    pubs.add_column("records citing", justify="right")
    for p in result["sources_by_publisher"][:20]:
        pubs.add_row(p["publisher"], str(p["sources"]), str(p["records"]))
    out.print(pubs)
    orphans = result["entities_without_owner_path"]
    out.print(f"{len(orphans)} entities with no recorded owner" + (":" if orphans else ""))
    for o in orphans[:50]:
        out.print(f"  {o['id']} ({o['kind']})")
    if len(orphans) > 50:
        out.print(f"  ... and {len(orphans) - 50} more (see --json)")


def register(app: typer.Typer) -> None:
    app.add_typer(data_app, name="data", rich_help_panel="Data")
    app.command("build", rich_help_panel="Data")(build)
    app.command("validate", rich_help_panel="Data")(validate)
    app.command("stats", rich_help_panel="Data")(stats_cmd)
    app.command("entity", rich_help_panel="Query")(entity)
