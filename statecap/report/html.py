"""The self-contained HTML report: one file, charts embedded, no network references.

`render_report` turns the results gathered by `statecap.report.data.report_data` into one HTML
document: plotly.js is inlined once (taken from the `plotly` pip package, never from a CDN),
each chart is a plotly figure, tables are plain HTML. The file works offline.

The rule the tests apply (tests/test_report.py): no element that makes a browser fetch
something (``script``, ``link``, ``img``, ``iframe``, ``source``, ``video``, ``audio``,
``embed``, ``object``, ``track``, ``input``) has a ``src``, ``href``, ``data``, ``srcset`` or
``poster`` attribute that points at a network location (``http:``, ``https:``, ``//``, ``ftp:``);
no CSS ``url(...)`` or ``@import`` points at one either. Links that a reader may click
(``<a href>``) to open a source are allowed: they fetch nothing by themselves.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb

from statecap.errors import UsageError
from statecap.model.values import format_interval

SECTIONS = (
    ("at-a-glance", "The system at a glance"),
    ("capital-by-sector-mechanism", "State capital by sector and mechanism"),
    ("sankey", "From state organs through funds and SOEs to sectors"),
    ("top-firms", "Top state-controlled technology firms"),
    ("timeline", "Designations and export controls beside the investment response"),
    ("indicators", "The challenge indicators"),
    ("policy-lab", "The policy lab"),
    ("scenarios", "Baseline against the other built-in scenarios"),
    ("calibration", "Calibration fit and holdout error"),
    ("sensitivity", "Sobol sensitivity indices"),
    ("data", "The data: coverage and sources"),
    ("coverage", "Coverage by sector and mechanism"),
    ("sources", "Sources"),
)
HEADLINE_OUTPUTS = ("self_sufficiency", "capability", "state_capital_cum", "soe_debt_ratio")


def _iv(d: dict[str, float] | None) -> str:
    return format_interval(d, dash="–")


def _plotly() -> Any:
    try:
        import plotly.io as pio
        from plotly.offline import get_plotlyjs
    except ImportError:  # pragma: no cover - the web extra brings it
        raise UsageError("the report's charts need plotly: pip install 'statecap[web]'") from None
    return pio, get_plotlyjs


def _env() -> Any:
    try:
        import jinja2
    except ImportError:  # pragma: no cover
        raise UsageError("the report needs jinja2: pip install 'statecap[web]'") from None
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(resources.files("statecap.report") / "templates")),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    from statecap.report.charts import money

    env.filters["money"] = money
    env.filters["iv"] = _iv
    env.filters["pct"] = lambda x: "-" if x is None else f"{x:.1f}%"
    env.filters["num"] = lambda x: "-" if x is None else (f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}")
    return env


def _figure_html(fig: Any, div_id: str) -> str:
    pio, _ = _plotly()
    return str(
        pio.to_html(
            fig,
            full_html=False,
            include_plotlyjs=False,
            div_id=div_id,
            config={"displaylogo": False, "responsive": True},
        )
    )


def render_report(data: dict[str, Any]) -> str:
    """The report as one HTML document, from `report_data`'s result."""
    from statecap.report import charts

    _, get_plotlyjs = _plotly()
    ind = {i["id"]: i for i in data["indicators"]["indicators"]}
    figures: dict[str, str] = {
        "sector_mechanism": _figure_html(
            charts.sector_mechanism_heatmap(data["flows_sector_mechanism"]), "fig-sector-mechanism"
        ),
        "sankey": _figure_html(charts.sankey(data["sankey"]), "fig-sankey"),
        "timeline": _figure_html(
            charts.timeline(
                data["flows_year"], ind.get("geopolitical_headwinds"), ind.get("drivers_timeline")
            ),
            "fig-timeline",
        ),
        "coverage": _figure_html(charts.coverage(data["audit"]), "fig-coverage"),
    }
    indicator_figs = {}
    for i in data["indicators"]["indicators"]:
        fig = charts.indicator(i)
        indicator_figs[i["id"]] = _figure_html(fig, f"fig-ind-{i['id']}") if fig is not None else None

    lab = data.get("lab")
    lab_figs: list[dict[str, Any]] = []
    backtest_figs: list[dict[str, Any]] = []
    sobol_figs: list[str] = []
    if lab is not None and lab["results"]:
        results = lab["results"]
        sectors = list(results[0]["outputs"].keys())
        sector = "semiconductors" if "semiconductors" in sectors else sectors[0]
        base = results[0]
        others = results[1:] or [None]
        for other in others:
            fig = charts.scenario_vs_baseline(base, other, HEADLINE_OUTPUTS, sector)
            name = other["scenario"] if other is not None else base["scenario"]
            lab_figs.append(
                {
                    "scenario": name,
                    "other": other,
                    "sector": sector,
                    "html": _figure_html(fig, f"fig-lab-{name}"),
                }
            )
        for k, target in enumerate(results[0]["backtest"].get("targets", [])):
            backtest_figs.append(
                {"target": target, "html": _figure_html(charts.backtest(target), f"fig-backtest-{k}")}
            )
        sob = lab.get("sobol")
        if sob:
            for k, (output, ranked) in enumerate(sob["ranking"].items()):
                prefix = f"sectors.{sob['sector']}."
                rows = [
                    {"parameter": p.removeprefix(prefix), **sob["indices"][output][p]} for p in ranked[:12]
                ]
                if rows:
                    title = f"{output} ({sob['sector']}, {sob['year']})"
                    sobol_figs.append(_figure_html(charts.sobol(rows, title), f"fig-sobol-{k}"))

    top_firms = []
    for code, rep in data["top_firms"].items():
        firms = [
            r
            for r in rep["results"]
            if r["kind"] in data["firm_kinds"] and r["state_class"]["class"] == "state_controlled"
        ]
        top_firms.append({"sector": code, "name": data["sector_names"].get(code, code), "firms": firms[:8]})

    return str(
        _env()
        .get_template("report.html.j2")
        .render(
            d=data,
            sections=dict(SECTIONS),
            figures=figures,
            indicator_figs=indicator_figs,
            ind=ind,
            lab=lab,
            lab_figs=lab_figs,
            backtest_figs=backtest_figs,
            sobol_figs=sobol_figs,
            top_firms=top_firms,
            headline_outputs=HEADLINE_OUTPUTS,
            plotly_js=get_plotlyjs(),
        )
    )


def write_report(
    con: duckdb.DuckDBPyConnection,
    out: Path,
    as_of: str | dt.date | None = None,
    runs: int = 300,
    seed: int = 0,
    step: Callable[[str], None] | None = None,
    lab: bool = True,
    sobol_n: int = 64,
) -> Path:
    """Gather, render and write the report atomically (a reader never sees half a file)."""
    from statecap.report.data import report_data

    day = dt.date.fromisoformat(as_of) if isinstance(as_of, str) else as_of
    text = render_report(report_data(con, day, runs=runs, seed=seed, step=step, lab=lab, sobol_n=sobol_n))
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=str(out.parent))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a report is meant to be shared
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out
