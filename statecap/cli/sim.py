"""Policy-lab commands: scenarios, simulate, compare, calibrate, sensitivity."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from statecap.cli.common import DbOpt, JsonOpt, console, emit_json, open_store, out
from statecap.errors import UsageError

ScenarioArg = Annotated[
    str, typer.Argument(help="A built-in scenario name (see `statecap scenarios`) or a YAML file.")
]
RunsOpt = Annotated[int, typer.Option("--runs", min=1, max=100_000, help="Monte Carlo runs.")]
SeedOpt = Annotated[
    int, typer.Option("--seed", min=0, help="Random seed: the same seed gives the same result.")
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="Override a scenario key: KEY.PATH=VALUE (YAML value), e.g. "
        "parameters.soe_efficiency_discount=0.1. Repeatable.",
    ),
]
NoCalOpt = Annotated[
    bool, typer.Option("--no-calibration", help="Use the priors even when a calibration fit is stored.")
]

HEADLINE = ("self_sufficiency", "capability", "state_capital_cum", "private_capital_cum", "soe_debt_ratio")


def parse_sets(items: list[str] | None) -> dict[str, Any]:
    """``["a.b=1", "c=[1, 2]"]`` -> ``{"a.b": 1, "c": [1, 2]}`` (values read as YAML)."""
    outd: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        shown = item if len(item) <= 80 else item[:77] + "..."
        if not sep or not key.strip():
            raise UsageError(f"--set {shown!r}: write KEY.PATH=VALUE")
        try:
            from statecap.model.dataset import GuardedYAMLLoader

            outd[key.strip()] = yaml.load(value, Loader=GuardedYAMLLoader)  # a SafeLoader
        except yaml.YAMLError as exc:
            reason = getattr(exc, "problem", None) or "syntax error"
            raise UsageError(f"--set {shown!r}: the value is not valid YAML ({reason})") from None
    return outd


@contextmanager
def progress_bar(label: str, enabled: bool = True) -> Iterator[Callable[[int, int], None] | None]:
    """A rich progress bar on stderr, yielding a (done, total) callback."""
    if not enabled:
        yield None
        return
    with Progress(
        TextColumn(f"[dim]{label}[/dim]"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def _fmt(x: float | None, digits: int = 1) -> str:
    return "-" if x is None else f"{x:,.{digits}f}"


def _band(q: dict[str, Any], digits: int = 1) -> str:
    return f"{_fmt(q['p50'], digits)} [{_fmt(q['p5'], digits)}, {_fmt(q['p95'], digits)}]"


def scenarios(json: JsonOpt = False) -> None:
    """List the built-in scenarios."""
    from statecap.sim.scenario import builtin_scenarios

    items = builtin_scenarios()
    if json:
        emit_json({"scenarios": items})
        return
    table = Table(title="built-in scenarios")
    table.add_column("name")
    table.add_column("extends")
    table.add_column("description")
    for s in items:
        table.add_row(s["name"], s["extends"] or "", s["description"])
    out.print(table)


def simulate(
    scenario: ScenarioArg,
    runs: RunsOpt = 1000,
    seed: SeedOpt = 0,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Write every run's yearly series (Parquet) to this folder.")
    ] = None,
    set_: SetOpt = None,
    no_calibration: NoCalOpt = False,
    db: DbOpt = None,
    json: JsonOpt = False,
) -> None:
    """Run a scenario's Monte Carlo: p5/p50/p95 of every output per sector in the last year."""
    from statecap.sim.montecarlo import run_simulation, summarize
    from statecap.sim.results import write_runs

    overrides = parse_sets(set_)
    with open_store(db) as con, progress_bar(f"simulating {scenario}") as progress:
        run = run_simulation(
            scenario,
            overrides,
            runs,
            seed,
            con=con,
            calibration=None if no_calibration else "auto",
            progress=progress,
        )
    result = summarize(run)
    if out_dir is not None:
        files = write_runs(run, out_dir, result)
        result["files"] = [str(f) for f in files]
    if json:
        emit_json(result)
        return
    y0, y1 = result["horizon"]
    table = Table(title=f"{result['scenario']}: {y1}, {runs} runs, seed {seed} (median [p5, p95])")
    table.add_column("sector")
    for o in HEADLINE:
        table.add_column(o, justify="right")
    for s, d in result["outputs"].items():
        table.add_row(s, *(_band(d[o]) for o in HEADLINE))
    out.print(table)
    bt = result["backtest"]
    out.print(f"backtest ({bt['series']}, holdout {bt['holdout_years'] or 'none'}): {bt['message']}")
    cal = result["calibration"]
    out.print(
        "calibration: " + ("fitted values used" if cal.get("used") else str(cal.get("reason", "not used")))
    )
    for note in result["notes"]:
        console.print(f"[dim]{note}[/dim]")
    if out_dir is not None:
        console.print(f"runs written to [bold]{out_dir}[/bold]")


def compare(
    a: Annotated[str, typer.Argument(help="Scenario A (name or YAML file).")],
    b: Annotated[str, typer.Argument(help="Scenario B (name or YAML file).")],
    runs: RunsOpt = 500,
    seed: SeedOpt = 0,
    set_a: Annotated[
        list[str] | None, typer.Option("--set-a", help="Override for A: KEY.PATH=VALUE.")
    ] = None,
    set_b: Annotated[
        list[str] | None, typer.Option("--set-b", help="Override for B: KEY.PATH=VALUE.")
    ] = None,
    no_calibration: NoCalOpt = False,
    db: DbOpt = None,
    json: JsonOpt = False,
) -> None:
    """B minus A in the last year, run by run (same seed, common random numbers), with bands."""
    from statecap.sim.montecarlo import compare as compare_fn

    with open_store(db) as con, progress_bar(f"comparing {a} and {b}") as progress:
        result = compare_fn(
            a,
            b,
            runs,
            seed,
            overrides_a=parse_sets(set_a),
            overrides_b=parse_sets(set_b),
            con=con,
            calibration=None if no_calibration else "auto",
            progress=progress,
        )
    if json:
        emit_json(result)
        return
    table = Table(title=f"{result['b']} minus {result['a']}, {result['horizon'][1]} (median [p5, p95])")
    table.add_column("sector")
    for o in HEADLINE:
        table.add_column(o, justify="right")
    for s, d in result["outputs"].items():
        table.add_row(s, *(_band(d[o]["diff"]) for o in HEADLINE))
    out.print(table)


def calibrate(
    scenario: Annotated[
        str, typer.Option("--scenario", help="The scenario whose history is fitted.")
    ] = "baseline",
    runs: Annotated[int, typer.Option("--runs", min=1, max=10_000, help="Runs per evaluation.")] = 64,
    seed: SeedOpt = 0,
    evaluations: Annotated[
        int, typer.Option("--evaluations", min=1, max=10_000, help="Local-search budget per series.")
    ] = 100,
    out_path: Annotated[
        Path | None, typer.Option("--out", help="Where to write the fit (default: beside the store).")
    ] = None,
    set_: SetOpt = None,
    db: DbOpt = None,
    json: JsonOpt = False,
) -> None:
    """Fit the free parameters on 2014-2019 observations; report the error on 2020-2022."""
    from statecap.sim.calibrate import calibrate as calibrate_fn
    from statecap.sim.calibrate import default_fit_path, save_fit

    with open_store(db) as con, progress_bar("calibrating") as progress:
        fit = calibrate_fn(
            scenario,
            parse_sets(set_),
            con=con,
            runs=runs,
            seed=seed,
            max_evaluations=evaluations,
            progress=progress,
        )
    path = save_fit(fit, out_path if out_path is not None else default_fit_path(fit))
    fit["file"] = str(path)
    if json:
        emit_json(fit)
        return
    table = Table(
        title=f"calibration of {fit['scenario']} (train {fit['train_years']}, holdout {fit['holdout_years']})"
    )
    for col in ("parameter", "value", "range", "fitted", "note"):
        table.add_column(col)
    unfitted = [name for name, p in fit["parameters"].items() if not p["fitted"]]
    for name, p in fit["parameters"].items():
        if p["fitted"]:
            note = "at a bound of its range" if p.get("at_bound") else ""
            table.add_row(name, f"{p['value']:.4g}", f"[{p['range'][0]:g}, {p['range'][1]:g}]", "yes", note)
    out.print(table)
    if unfitted:
        out.print(f"not fitted, priors kept (no series informs them): {', '.join(unfitted)}")
    for t in fit["targets"]:
        out.print(
            f"{t['series']}: train RMSE {_fmt(t['train_rmse_pp'], 2)} pp, holdout RMSE "
            f"{_fmt(t['rmse_pp'], 2)} pp ({t['fit']}): {t['message']}"
        )
    out.print(f"[bold]verdict[/bold]: {fit['fit']}: {fit['message']}")
    console.print(f"fit written to [bold]{path}[/bold]")


def sensitivity(
    scenario: ScenarioArg,
    n: Annotated[int, typer.Option("--n", help="Sobol base sample size (a power of two).")] = 64,
    sector: Annotated[
        str, typer.Option("--sector", help="The sector whose outputs are analysed.")
    ] = "semiconductors",
    year: Annotated[
        int | None, typer.Option("--year", help="Year of the outputs (default: the last).")
    ] = None,
    seed: SeedOpt = 0,
    set_: SetOpt = None,
    no_calibration: NoCalOpt = False,
    db: DbOpt = None,
    json: JsonOpt = False,
) -> None:
    """Sobol indices (first-order and total, with confidence intervals) of the headline outputs."""
    from statecap.sim.sensitivity import sensitivity as sensitivity_fn

    with open_store(db) as con, progress_bar("Sobol runs") as progress:
        result = sensitivity_fn(
            scenario,
            parse_sets(set_),
            con=con,
            n_base=n,
            seed=seed,
            sector=sector,
            year=year,
            calibration=None if no_calibration else "auto",
            progress=progress,
        )
    if json:
        emit_json(result)
        return
    for o, ranked in result["ranking"].items():
        table = Table(
            title=f"{o} ({result['sector']}, {result['year']}): Sobol indices, {result['conf_level']:.0%} CI"
        )
        for col in ("parameter", "ST", "S1"):
            table.add_column(col, justify="right" if col != "parameter" else "left")
        for name in ranked[:8]:
            ix = result["indices"][o][name]
            table.add_row(
                name, f"{ix['ST']:.2f} ± {ix['ST_conf']:.2f}", f"{ix['S1']:.2f} ± {ix['S1_conf']:.2f}"
            )
        if not ranked:
            table.add_row("(the output does not vary)", "-", "-")
        out.print(table)
    console.print(f"[dim]{result['evaluations']} model runs; {result['note']}[/dim]")
    if result.get("warning"):
        console.print(f"[yellow]warning[/yellow]: {result['warning']}")


def register(app: typer.Typer) -> None:
    app.command("scenarios", rich_help_panel="Policy lab")(scenarios)
    app.command("simulate", rich_help_panel="Policy lab")(simulate)
    app.command("compare", rich_help_panel="Policy lab")(compare)
    app.command("calibrate", rich_help_panel="Policy lab")(calibrate)
    app.command("sensitivity", rich_help_panel="Policy lab")(sensitivity)
