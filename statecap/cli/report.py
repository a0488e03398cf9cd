"""Commands that present the atlas: the terminal summary and the HTML report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from statecap.cli.common import AsOfOpt, DbOpt, JsonOpt, console, emit_json, open_store, out, parse_as_of


def summary(db: DbOpt = None, json: JsonOpt = False) -> None:
    """The atlas at a glance: what is in it, by kind, sector and list."""
    with open_store(db) as con:
        from statecap.report.summary import atlas_summary

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
    shares = Table(title="largest state shares (integrated, today)")
    for col in ("entity", "kind", "state share", "class"):
        shares.add_column(col)
    for row in s["top_state_shares"]:
        iv = row["state_share"]
        text = f"{iv['lo']:.2f}%" if abs(iv["hi"] - iv["lo"]) < 5e-5 else f"{iv['lo']:.2f}-{iv['hi']:.2f}%"
        cls = row["state_class"]
        shares.add_row(
            row["name"],
            row["kind"],
            text,
            cls["class"] + ("" if cls["certainty"] == "definite" else " (possible)"),
        )
    out.print(shares)


def report(
    out_path: Annotated[Path, typer.Option("--out", help="Where to write the HTML file.")] = Path(
        "report.html"
    ),
    db: DbOpt = None,
    as_of: AsOfOpt = None,
    runs: Annotated[
        int, typer.Option("--runs", min=10, max=100_000, help="Monte Carlo runs per scenario.")
    ] = 300,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed of the policy lab's runs.")] = 0,
    lab: Annotated[
        bool, typer.Option("--lab/--no-lab", help="Include the policy lab (scenarios, backtest, Sobol).")
    ] = True,
    sobol_n: Annotated[
        int, typer.Option("--sobol-n", min=2, help="Sobol base sample size (a power of two).")
    ] = 64,
) -> None:
    """Write a self-contained HTML report of the atlas (charts embedded, works offline)."""
    day = parse_as_of(as_of)
    with open_store(db) as con, console.status("writing the report") as status:

        def step(what: str) -> None:
            status.update(f"report: {what}")

        from statecap.report.html import write_report

        path = write_report(
            con, out_path, as_of=day, runs=runs, seed=seed, step=step, lab=lab, sobol_n=sobol_n
        )
    console.print(f"report written to [bold]{path.resolve()}[/bold]")
    print(path.resolve())


def register(app: typer.Typer) -> None:
    app.command("summary", rich_help_panel="Views")(summary)
    app.command("report", rich_help_panel="Views")(report)
