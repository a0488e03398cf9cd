"""`statecap screen`: who a rule catches and why (OFAC 50%, BIS Affiliates, outbound, owned-or-controlled).

Three forms, one command:

* ``statecap screen --rule RULE``: every designated entity and every entity the rule catches;
* ``statecap screen ENTITY --all-rules`` (or ``--rule R`` repeated): one entity, side by side;
* ``statecap screen diff --rule A --rule B``: caught by one rule and not the other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from statecap.cli._engine import EngineOpt, SparkMasterOpt, check_engine
from statecap.cli.common import AsOfOpt, DbOpt, JsonOpt, console, emit_json, open_store, out, parse_as_of
from statecap.engines import DEFAULT_SPARK_MASTER
from statecap.errors import UsageError
from statecap.model.values import format_interval

RULE_HELP = (
    "Rule: ofac50, bis-affiliates, outbound, owned-or-controlled (repeat for diff or for several rules)."
)


def _why(r: dict[str, Any]) -> str:
    ev = r.get("evidence") or []
    des = [e for e in ev if e["kind"] == "designation"]
    if r["verdict"] == "designated" and des:
        return ", ".join(sorted({e["list"] for e in des if e["entity"] == r["id"]}))
    if r.get("roots"):
        more = f" +{len(r['roots']) - 3}" if len(r["roots"]) > 3 else ""
        return "via " + ", ".join(r["roots"][:3]) + more
    kinds = [e for e in ev if e["kind"] in ("covered_activity", "covered_holding")]
    if kinds:
        return kinds[0]["paragraph"]
    return ""


def _print_rule(report: dict[str, Any]) -> None:
    status = report["rule_status"]
    out.print(
        f"[bold]{report['rule']}[/bold] on {report['evaluated_on']}: {status['reason']} "
        f"({', '.join(f'{k} {v}' for k, v in report['counts'].items())})"
    )
    table = Table()
    for col in ("id", "name", "verdict", "aggregate", "why"):
        table.add_column(col)
    for r in report["results"]:
        table.add_row(r["id"], r["name"], r["verdict"], format_interval(r["aggregate"]), _why(r))
    out.print(table)
    if report.get("truncated"):
        console.print("[dim]more results: raise --limit, or use --json[/dim]")


def _print_entity(report: dict[str, Any]) -> None:
    out.print(f"[bold]{report['name']}[/bold] ({report['entity']}) on {report['evaluated_on']}")
    table = Table()
    for col in ("rule", "verdict", "aggregate", "in force", "why"):
        table.add_column(col)
    for rule, r in report["rules"].items():
        if "skipped" in r:
            table.add_row(rule, "-", "-", "-", r["skipped"])
            continue
        why = _why({**r, "id": report["entity"]})
        table.add_row(
            rule,
            r["verdict"] or "not caught",
            format_interval(r["aggregate"]),
            "yes" if r["in_force"] else "no",
            why,
        )
    out.print(table)
    for rule, r in report["rules"].items():
        flips = [e for e in r.get("evidence", []) if e["kind"] == "flip"]
        for f in flips[:5]:
            out.print(
                f"  {rule}: {f['owner']} -> {f['owned']} {format_interval(f['share'])} decides it ({f['reason']})"
            )


def _print_diff(report: dict[str, Any]) -> None:
    a, b = report["rules"]
    for rule, other in ((a, b), (b, a)):
        rows = report["only"][rule]
        out.print(f"[bold]{len(rows)}[/bold] caught by {rule} and not by {other}")
        table = Table()
        for col in ("id", "name", "verdict", "aggregate"):
            table.add_column(col)
        for r in rows:
            table.add_row(r["id"], r["name"], r["verdict"], format_interval(r["aggregate"]))
        if rows:
            out.print(table)
    if report["different_verdicts"]:
        out.print(f"{len(report['different_verdicts'])} caught by both with different verdicts (see --json)")


def screen(
    args: Annotated[
        list[str] | None,
        typer.Argument(
            help="Nothing (list mode: one --rule), an ENTITY id or identifier, or the word diff.",
            metavar="[ENTITY | diff]",
            show_default=False,
        ),
    ] = None,
    rule: Annotated[list[str] | None, typer.Option("--rule", help=RULE_HELP, show_default=False)] = None,
    all_rules: Annotated[
        bool, typer.Option("--all-rules", help="Screen one ENTITY under every rule.")
    ] = False,
    designated: Annotated[
        Path | None,
        typer.Option(
            "--designated",
            help="File of designated entity ids, one per line (statecap ids or identifiers; # comments).",
            show_default=False,
        ),
    ] = None,
    lists: Annotated[
        list[str] | None,
        typer.Option(
            "--list", help="Only designations on this list code (lists.yaml); repeatable.", show_default=False
        ),
    ] = None,
    no_atlas: Annotated[
        bool, typer.Option("--no-atlas", help="Ignore the atlas's designations (use only --designated).")
    ] = False,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="At most this many results.")] = None,
    evidence: Annotated[
        bool, typer.Option("--evidence/--no-evidence", help="Include evidence with every result.")
    ] = True,
    db: DbOpt = None,
    as_of: AsOfOpt = None,
    json: JsonOpt = False,
    engine: EngineOpt = "local",
    spark_master: SparkMasterOpt = DEFAULT_SPARK_MASTER,
) -> None:
    """Screen entities under the OFAC 50% rule, the BIS Affiliates rule, the US outbound rules and
    the owned-or-controlled test: three-way verdicts (designated, definite, possible) with evidence."""
    from statecap.queries.screen import screen_diff, screen_entity, screen_rule

    day = parse_as_of(as_of)
    check_engine(engine)
    on: dict[str, Any] = {"engine": engine, "spark_master": spark_master}
    rules = list(rule or [])
    words = list(args or [])
    use_atlas = not no_atlas
    if len(words) > 1:
        raise UsageError(f"screen takes at most one ENTITY (or the word diff), not {' '.join(words)!r}")
    with open_store(db) as con, console.status(f"screening ({engine} engine)"):
        if words == ["diff"]:
            if len(rules) != 2:
                raise UsageError("screen diff needs exactly two rules: --rule A --rule B")
            if all_rules:
                raise UsageError("screen diff takes two --rule options, not --all-rules")
            report = screen_diff(
                con, rules[0], rules[1], day, designated, lists, use_atlas, evidence=evidence and json, **on
            )
            printer = _print_diff
        elif words:
            if all_rules and rules:
                raise UsageError("give --all-rules or --rule, not both")
            if not all_rules and not rules:
                raise UsageError("screening one entity needs --all-rules or --rule RULE")
            report = screen_entity(
                con, words[0], None if all_rules else rules, day, designated, lists, use_atlas, **on
            )
            printer = _print_entity
        else:
            if all_rules:
                raise UsageError("--all-rules screens one ENTITY: statecap screen ENTITY --all-rules")
            if len(rules) != 1:
                raise UsageError(
                    "give exactly one --rule (or an ENTITY with --all-rules, or diff with two rules)"
                )
            report = screen_rule(
                con, rules[0], day, designated, lists, use_atlas, evidence=evidence, limit=limit, **on
            )
            printer = _print_rule
    if json:
        emit_json(report)
        return
    printer(report)


def register(app: typer.Typer) -> None:
    app.command("screen", rich_help_panel="Query")(screen)
