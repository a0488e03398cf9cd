"""Everything the HTML report shows, gathered from the library functions the CLI calls.

`report_data` only calls: `atlas_summary`, `flows_report`, `state_money_sankey`,
`state_share_report`, `indicators_report`, `audit`, the policy lab's `simulate` for each
built-in scenario (and its backtest), and the lab's Sobol analysis (`sensitivity`). It computes nothing itself.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import duckdb

from statecap.model.taxonomy import load_taxonomy

Step = Callable[[str], None]
FIRM_KINDS = ("central_soe", "local_soe", "company", "foreign_company")


def _no_step(_: str) -> None:
    return None


def report_data(
    con: duckdb.DuckDBPyConnection,
    as_of: dt.date | None = None,
    runs: int = 300,
    seed: int = 0,
    step: Step | None = None,
    lab: bool = True,
    sobol_n: int = 64,
) -> dict[str, Any]:
    """The report's content as plain results, one per library question.

    Args:
        con: an open store. as_of: the date to answer as of (None: today).
        runs, seed: Monte Carlo runs and seed for each built-in scenario of the policy lab.
        step: called with a short description before each question (for progress display).
        lab: run the policy lab (scenarios, backtest, Sobol); False leaves it out.
        sobol_n: the Sobol base sample size (a power of two; the model runs N x (parameters + 2) times).
    """
    from statecap.analytics.ownership import state_share_report
    from statecap.graph.load import load_graph
    from statecap.queries.flows import flows_report
    from statecap.queries.indicators import indicators_report
    from statecap.queries.sankey import state_money_sankey
    from statecap.report.summary import atlas_summary
    from statecap.store.audit import audit

    say = step or _no_step
    tax = load_taxonomy()
    out: dict[str, Any] = {
        "as_of": as_of.isoformat() if as_of else None,
        "generated": dt.date.today().isoformat(),
    }
    say("summary")
    out["summary"] = atlas_summary(con)
    say("flows by sector and mechanism")
    out["flows_sector_mechanism"] = _drop_frame(flows_report(con, ["sector", "mechanism"], as_of=as_of))
    say("flows by year")
    out["flows_year"] = _drop_frame(flows_report(con, ["year"], as_of=as_of))
    say("the Sankey of state money")
    out["sankey"] = state_money_sankey(con, as_of)
    say("state shares by sector")
    graph = load_graph(con, as_of)
    out["top_firms"] = {
        code: state_share_report(con, top=40, sector=code, as_of=as_of, graph=graph)
        for code in tax.top_sectors
    }
    out["sector_names"] = {code: tax.sectors[code].name for code in tax.sectors}
    out["firm_kinds"] = FIRM_KINDS
    say("indicators")
    out["indicators"] = indicators_report(con, as_of)
    say("data audit")
    out["audit"] = audit(con)
    out["sources"] = [
        {"id": i, "url": u, "publisher": p, "title": t, "accessed": a.isoformat() if a else None}
        for i, u, p, t, a in con.execute(
            "SELECT id, url, publisher, title, accessed FROM sources ORDER BY publisher, id"
        ).fetchall()
    ]
    out["lab"] = _lab(con, runs, seed, sobol_n, say) if lab else None
    return out


def _drop_frame(result: dict[str, Any]) -> dict[str, Any]:
    result = dict(result)
    result.pop("frame", None)
    return result


def _lab(con: duckdb.DuckDBPyConnection, runs: int, seed: int, sobol_n: int, say: Step) -> dict[str, Any]:
    from statecap.sim.montecarlo import simulate
    from statecap.sim.scenario import builtin_scenarios

    scenarios = builtin_scenarios()
    results = []
    for s in scenarios:
        say(f"policy lab: {s['name']} ({runs} runs)")
        results.append(simulate(s["name"], None, runs, seed, con=con))
    lab: dict[str, Any] = {"runs": runs, "seed": seed, "scenarios": scenarios, "results": results}
    lab["sobol"] = _sobol(con, seed, sobol_n, say)
    return lab


def _sobol(con: duckdb.DuckDBPyConnection, seed: int, n_base: int, say: Step) -> dict[str, Any]:
    """The baseline's Sobol indices (`statecap sensitivity baseline --json`)."""
    from statecap.sim.sensitivity import sensitivity

    say(f"policy lab: Sobol indices (base sample {n_base})")
    return sensitivity("baseline", con=con, n_base=n_base, seed=seed)
