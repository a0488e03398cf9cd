"""Commands that present the atlas: the terminal summary and the HTML report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from statecap.cli.common import DbOpt, JsonOpt, console, emit_json, open_store, out
from statecap.report.html import write_report
from statecap.report.summary import atlas_summary


def summary(db: DbOpt = None, json: JsonOpt = False) -> None:
    """The atlas at a glance: what is in it, by kind, sector and list."""
    with open_store(db) as con:
        s = atlas_summary(con)
    if json:
        emit_json(s)
        return
    counts = Table(title="records", show_header=False)
    for k, v in s["counts"].items():
        counts.add_row(k, f"{v:,}")
    counts.add_row("unsourced", f"{s['unsourced_records']:,}")
    out.print(counts)
    sectors = Table(title="entities by sector")
    sectors.add_column("sector")
    sectors.add_column("entities", justify="right")
    for row in s["sectors"]:
        sectors.add_row(row["name"], str(row["entities"]))
    out.print(sectors)
    lists = Table(title="designated entities by list")
    lists.add_column("list")
    lists.add_column("entities", justify="right")
    for row in s["designation_lists"]:
        lists.add_row(row["name"], str(row["entities"]))
    out.print(lists)


def report(
    out_path: Annotated[Path, typer.Option("--out", help="Where to write the HTML file.")] = Path(
        "report.html"
    ),
    db: DbOpt = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Answer as of this date (YYYY-MM-DD).")] = None,
) -> None:
    """Write a self-contained HTML report of the atlas (works offline)."""
    with open_store(db) as con:
        path = write_report(con, out_path, as_of=as_of)
    console.print(f"report written to [bold]{path.resolve()}[/bold]")
    print(path.resolve())


def register(app: typer.Typer) -> None:
    app.command("summary", rich_help_panel="Views")(summary)
    app.command("report", rich_help_panel="Views")(report)
