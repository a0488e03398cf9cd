"""Commands on capital flows and the system's indicators: `flows`, `flows trace`, `indicators`."""

from __future__ import annotations

import csv
import sys
from typing import Annotated, Any

import typer
from rich.table import Table

from statecap.cli._engine import EngineOpt, SparkMasterOpt
from statecap.cli.common import AsOfOpt, DbOpt, JsonOpt, emit_json, open_store, out, parse_as_of
from statecap.engines import DEFAULT_SPARK_MASTER

# the query modules pull in pandas, scipy and numba: imported inside the commands so that
# `statecap --help` and unrelated commands start fast
BY_KEYS = "sector, sub_sector, mechanism, year, level, record_type, currency"

CurrencyOpt = Annotated[str, typer.Option("--currency", help="Report currency: CNY, USD, EUR or HKD.")]
CsvOpt = Annotated[bool, typer.Option("--csv", help="Print CSV rows instead of a table.")]

flows_app = typer.Typer(
    help="Where state money went: by sector, mechanism, year and level of the state organ behind it.",
    invoke_without_command=True,
)


def _money(x: float) -> str:
    for scale, suffix in ((1e12, "tn"), (1e9, "bn"), (1e6, "m")):
        if abs(x) >= scale:
            return f"{x / scale:,.2f}{suffix}"
    return f"{x:,.0f}"


@flows_app.callback()
def flows(
    ctx: typer.Context,
    by: Annotated[str, typer.Option("--by", help=f"Comma-separated keys from: {BY_KEYS}.")] = (
        "sector,mechanism"
    ),
    year_from: Annotated[int | None, typer.Option("--from", help="First year to include.")] = None,
    year_to: Annotated[int | None, typer.Option("--to", help="Last year to include.")] = None,
    currency: CurrencyOpt = "CNY",
    db: DbOpt = None,
    as_of: AsOfOpt = None,
    json: JsonOpt = False,
    csv_out: CsvOpt = False,
    engine: EngineOpt = "local",
    spark_master: SparkMasterOpt = DEFAULT_SPARK_MASTER,
) -> None:
    """State capital by sector, mechanism, year and organ level, with bounds."""
    if ctx.invoked_subcommand is not None:
        return
    from statecap.cli._engine import check_engine
    from statecap.queries.flows import flows_report

    check_engine(engine)
    keys = [b.strip() for b in by.split(",") if b.strip()]
    with open_store(db) as con:
        result = flows_report(
            con, keys, year_from, year_to, parse_as_of(as_of), currency, engine, spark_master
        )
    result.pop("frame")
    if json:
        emit_json(result)
        return
    if csv_out:
        writer = csv.writer(sys.stdout)
        writer.writerow([*keys, "amount", "state_lo", "state_hi", "records"])
        for r in result["rows"]:
            sa = r["state_attributed"]
            writer.writerow([*(r[k] for k in keys), r["amount"], sa["lo"], sa["hi"], r["records"]])
        return
    table = Table(title=f"flows by {', '.join(keys)} ({result['currency']})")
    for k in keys:
        table.add_column(k)
    for col in ("amount", "state part (lo-hi)", "records"):
        table.add_column(col, justify="right")
    for r in result["rows"]:
        sa = r["state_attributed"]
        table.add_row(*(str(r[k]) for k in keys), _money(r["amount"]), f"{_money(sa['lo'])}-{_money(sa['hi'])}",
                      str(r["records"]))  # fmt: skip
    out.print(table)
    t = result["total"]
    out.print(
        f"total {_money(t['amount'])} {result['currency']}, state part {_money(t['state_attributed']['lo'])}-"
        f"{_money(t['state_attributed']['hi'])}; paid into state intermediaries (funds, policy banks, holding "
        f"companies), counted where they invest: {_money(result['fund_commitments']['committed'])}"
    )


@flows_app.command("trace")
def trace_cmd(
    entity: Annotated[str, typer.Argument(help="Entity id or identifier.")],
    currency: CurrencyOpt = "CNY",
    limit: Annotated[int, typer.Option("--limit", min=1, max=10000, help="Most rows per direction.")] = 50,
    db: DbOpt = None,
    as_of: AsOfOpt = None,
    json: JsonOpt = False,
) -> None:
    """Where one entity's money went (directly and through what it holds) and where its money came from."""
    from statecap.queries.flows import trace

    with open_store(db) as con:
        result = trace(con, entity, parse_as_of(as_of), currency, limit)
    if json:
        emit_json(result)
        return
    outgoing = Table(title=f"money from {result['entity']} ({currency})")
    for col in ("record", "date", "via", "to", "sector", "mechanism", "amount", "attributed"):
        outgoing.add_column(col)
    for r in result["outgoing"]:
        a = r["attributed"]
        outgoing.add_row(r["record"], r["date"], r["via"] or "direct", str(r["counterparty"] or ""), r["sector"],
                         r["mechanism"], _money(r["amount"]), f"{_money(a['lo'])}-{_money(a['hi'])}")  # fmt: skip
    out.print(outgoing)
    incoming = Table(title=f"money into {result['entity']} ({currency})")
    for col in ("record", "date", "from", "sector", "mechanism", "amount", "state part"):
        incoming.add_column(col)
    for r in result["incoming"]:
        sa = r["state_attributed"]
        payers = ", ".join(p["id"] for p in r["payers"])
        incoming.add_row(r["record"], r["date"], payers, r["sector"], r["mechanism"], _money(r["amount"]),
                         f"{_money(sa['lo'])}-{_money(sa['hi'])}")  # fmt: skip
    out.print(incoming)


def indicators(
    currency: CurrencyOpt = "CNY",
    db: DbOpt = None,
    as_of: AsOfOpt = None,
    json: JsonOpt = False,
    csv_out: CsvOpt = False,
) -> None:
    """The system's indicators: efficiency, distortion, headwinds, debt, innovation, drivers."""
    from statecap.queries.indicators import indicator_rows, indicators_report

    with open_store(db) as con:
        result = indicators_report(con, parse_as_of(as_of), currency)
    if json:
        emit_json(result)
        return
    if csv_out:
        rows = indicator_rows(result)
        fields = list(dict.fromkeys(k for r in rows for k in r))
        writer = csv.DictWriter(sys.stdout, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
        return
    for ind in result["indicators"]:
        _print_indicator(ind)


def _print_indicator(ind: dict[str, Any]) -> None:
    years = f" {ind['years'][0]}-{ind['years'][1]}" if ind.get("years") else ""
    out.print(f"\n[bold]{ind['name']}[/bold] ({ind['unit']}){years}: {len(ind['records'])} records")
    values = ind["values"]
    if not values:
        out.print("  no data")
        return
    cols = [k for k in values[0] if k != "records"]
    table = Table()
    for c in cols:
        table.add_column(c)
    for v in values[:40]:
        table.add_row(*(f"{v[c]:.4g}" if isinstance(v[c], float) else str(v[c]) for c in cols))
    out.print(table)
    if len(values) > 40:
        out.print(f"  ... {len(values) - 40} more rows (see --json)")


def register(app: typer.Typer) -> None:
    app.add_typer(flows_app, name="flows", rich_help_panel="Flows")
    app.command("indicators", rich_help_panel="Flows")(indicators)
