"""Plotly figures for the HTML report, each drawn from one library result (nothing recomputed).

Values drawn from intervals are midpoints; bounds go into hover text and error bars.
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

NODE_COLORS = {
    "state": "#922b21",
    "state_organ": "#c0392b",
    "direct": "#95a5a6",
    "state_fund": "#e67e22",
    "central_soe": "#d4a017",
    "local_soe": "#b7950b",
    "policy_bank": "#a04000",
    "company": "#2c6fbb",
    "foreign_company": "#7f8c8d",
    "sector": "#1e8449",
}
SCENARIO_COLORS = ("#2c6fbb", "#c0392b", "#1e8449", "#8e44ad", "#e67e22", "#16a085", "#7f8c8d")
FONT = {"family": "system-ui, -apple-system, 'Segoe UI', sans-serif", "size": 12}


def money(x: float | None) -> str:
    """1.23bn, 4.56tn."""
    if x is None:
        return "-"
    for scale, suffix in ((1e12, "tn"), (1e9, "bn"), (1e6, "m")):
        if abs(x) >= scale:
            return f"{x / scale:,.2f}{suffix}"
    return f"{x:,.0f}"


def _mid(d: dict[str, float]) -> float:
    return (d["lo"] + d["hi"]) / 2.0


def _layout(fig: go.Figure, height: int = 420, **kw: Any) -> go.Figure:
    settings: dict[str, Any] = {"height": height, "margin": {"l": 60, "r": 20, "t": 30, "b": 50}, "font": FONT,
                                "template": "plotly_white"}  # fmt: skip
    fig.update_layout(**(settings | kw))
    return fig


def sector_mechanism_heatmap(flows: dict[str, Any]) -> go.Figure:
    """State-attributed capital by sector x mechanism (`flows_report(by=[sector, mechanism])`)."""
    rows = flows["rows"]
    sectors = sorted({r["sector"] for r in rows})
    mechs = sorted({r["mechanism"] for r in rows})
    z: list[list[float | None]] = [[None] * len(mechs) for _ in sectors]
    text: list[list[str]] = [[""] * len(mechs) for _ in sectors]
    for r in rows:
        i, j = sectors.index(r["sector"]), mechs.index(r["mechanism"])
        sa = r["state_attributed"]
        z[i][j] = _mid(sa)
        text[i][j] = f"{money(sa['lo'])}-{money(sa['hi'])} of {money(r['amount'])} ({r['records']} records)"
    fig = go.Figure(
        go.Heatmap(
            x=mechs, y=sectors, z=z, text=text, colorscale="YlOrRd", reversescale=False,
            hovertemplate="%{y} · %{x}<br>state part %{text}<extra></extra>",
            colorbar={"title": {"text": flows["currency"]}},
        )
    )  # fmt: skip
    return _layout(fig, 440, margin={"l": 120, "r": 20, "t": 20, "b": 120})


def sankey(result: dict[str, Any]) -> go.Figure:
    """State organs -> funds and SOEs -> sectors (`state_money_sankey`)."""
    nodes = result["nodes"]
    index = {n["id"]: i for i, n in enumerate(nodes)}
    cols = {0: 0.01, 1: 0.5, 2: 0.99}
    links = result["links"]
    fig = go.Figure(
        go.Sankey(
            arrangement="snap",
            valueformat=".3s",
            node={
                "label": [n["label"] for n in nodes],
                "color": [NODE_COLORS.get(n["kind"], "#8e44ad") for n in nodes],
                "x": [cols[n["column"]] for n in nodes],
                "pad": 10,
                "thickness": 16,
            },
            link={
                "source": [index[lk["source"]] for lk in links],
                "target": [index[lk["target"]] for lk in links],
                "value": [lk["value"] for lk in links],
                "customdata": [[money(lk["lo"]), money(lk["hi"]), lk["records"]] for lk in links],
                "hovertemplate": "%{source.label} → %{target.label}<br>midpoint %{value:.3s} "
                + result["currency"]
                + "<br>bounds %{customdata[0]}–%{customdata[1]}<br>%{customdata[2]} records<extra></extra>",
                "color": "rgba(120,130,150,0.35)",
            },
        )
    )
    return _layout(fig, 640, margin={"l": 10, "r": 10, "t": 10, "b": 10})


def timeline(
    by_year: dict[str, Any], headwinds: dict[str, Any] | None, drivers: dict[str, Any] | None
) -> go.Figure:
    """State-attributed flows per year beside designations per list and the export-control events."""
    fig = go.Figure()
    rows = sorted(by_year["rows"], key=lambda r: r["year"])
    fig.add_bar(
        x=[r["year"] for r in rows],
        y=[_mid(r["state_attributed"]) for r in rows],
        error_y={
            "type": "data", "symmetric": False,
            "array": [r["state_attributed"]["hi"] - _mid(r["state_attributed"]) for r in rows],
            "arrayminus": [_mid(r["state_attributed"]) - r["state_attributed"]["lo"] for r in rows],
        },
        name=f"state-attributed investment ({by_year['currency']}, midpoint and bounds)",
        marker_color="rgba(44,111,187,0.55)",
    )  # fmt: skip
    if headwinds is not None:
        lists = sorted({d["list"] for d in headwinds.get("designations", [])})
        for k, lst in enumerate(lists):
            pts = sorted((d for d in headwinds["designations"] if d["list"] == lst), key=lambda d: d["year"])
            fig.add_scatter(
                x=[d["year"] for d in pts], y=[d["entities"] for d in pts], mode="lines", name=f"designated: {lst}",
                yaxis="y2", line={"color": SCENARIO_COLORS[(k + 1) % len(SCENARIO_COLORS)]},
            )  # fmt: skip
    if drivers is not None and drivers["values"]:
        events = drivers["values"]
        fig.add_scatter(
            x=[int(e["date"][:4]) + (int(e["date"][5:7]) - 0.5) / 12 for e in events],
            y=[0] * len(events),
            mode="markers",
            marker={"symbol": "triangle-up", "size": 11, "color": "#c0392b"},
            name="export controls and sanctions events",
            text=[f"{e['date']}: {e['title']}" for e in events],
            hovertemplate="%{text}<extra></extra>",
            yaxis="y2",
        )
    return _layout(
        fig,
        460,
        yaxis={"title": f"state-attributed ({by_year['currency']})"},
        yaxis2={"title": "designated entities", "overlaying": "y", "side": "right", "rangemode": "tozero"},
        legend={"orientation": "h", "y": -0.2},
        margin={"l": 60, "r": 60, "t": 20, "b": 60},
    )


def _national(fig: go.Figure, ind: dict[str, Any], axis: str = "y") -> None:
    for ns in ind.get("national_series", []):
        pts = ns.get("points", [])
        fig.add_scatter(
            x=[p["year"] for p in pts], y=[p["value"] for p in pts], mode="lines+markers",
            line={"dash": "dot"}, name=f"{ns['series']} ({ns['unit']}, national)", yaxis=axis,
        )  # fmt: skip


def indicator(ind: dict[str, Any]) -> go.Figure | None:
    """One challenge indicator as a chart; None when it has nothing to draw."""
    vals = ind.get("values", [])
    fig = go.Figure()
    iid = ind["id"]
    if iid == "market_distortion" and vals:
        fig.add_bar(
            x=[v["sector"] for v in vals],
            y=[((v["share_lo"] or 0) + (v["share_hi"] or 0)) / 2 for v in vals],
            error_y={
                "type": "data", "symmetric": False,
                "array": [((v["share_hi"] or 0) - (v["share_lo"] or 0)) / 2 for v in vals],
                "arrayminus": [((v["share_hi"] or 0) - (v["share_lo"] or 0)) / 2 for v in vals],
            },
            name="state share of recorded capital (percent)",
        )  # fmt: skip
        return _layout(fig, 360, yaxis={"title": "percent"})
    if iid == "geopolitical_headwinds" and vals:
        for status in sorted({v["status"] for v in vals}):
            pts = [v for v in vals if v["status"] == status]
            fig.add_bar(x=[v["year"] for v in pts], y=[v["deals"] for v in pts], name=status)
        return _layout(fig, 360, barmode="stack", yaxis={"title": "overseas acquisitions"})
    if iid == "efficiency" and vals:
        groups = sorted({(v["metric"], v["group"]) for v in vals if v["metric"] == "roa"})
        for metric, group in groups:
            pts = sorted(
                (v for v in vals if v["metric"] == metric and v["group"] == group), key=lambda v: v["year"]
            )
            fig.add_scatter(
                x=[v["year"] for v in pts], y=[v["median"] for v in pts], mode="markers",
                name=f"{metric.upper()} {group} firms (sector medians)",
                text=[f"{v['sector']}: {v['firms']} firms" for v in pts],
            )  # fmt: skip
        _national(fig, ind)
        return _layout(fig, 360, yaxis={"title": "percent"})
    if iid == "drivers_timeline" and vals:
        for key, label, symbol in (
            ("before", "24 months before", "circle-open"),
            ("after", "24 months after", "circle"),
        ):
            fig.add_scatter(
                x=[v["date"] for v in vals],
                y=[((v[f"{key}_lo"] or 0) + (v[f"{key}_hi"] or 0)) / 2 for v in vals],
                mode="markers", marker={"symbol": symbol, "size": 9}, name=label,
                text=[v["title"] for v in vals],
            )  # fmt: skip
        return _layout(
            fig, 380, yaxis={"title": "state-attributed flows into the event's sectors", "type": "log"}
        )
    if vals and "year" in vals[0] and "median" in vals[0]:
        fig.add_scatter(
            x=[v["year"] for v in vals],
            y=[v["median"] for v in vals],
            mode="lines+markers",
            name="atlas firms (median)",
        )
    _national(fig, ind)
    if not fig.data:
        return None
    return _layout(fig, 340)


def scenario_vs_baseline(
    base: dict[str, Any], other: dict[str, Any] | None, outputs: tuple[str, ...], sector: str
) -> go.Figure:
    """One small chart per output: the baseline's P5-P95 band and median, and the other scenario's."""
    from plotly.subplots import make_subplots

    units = base.get("units", {})
    fig = make_subplots(rows=1, cols=len(outputs), subplot_titles=[f"{o} · {sector}" for o in outputs])
    runs = [(base, SCENARIO_COLORS[0])] + ([(other, SCENARIO_COLORS[1])] if other is not None else [])
    for col, output in enumerate(outputs, start=1):
        for r, color in runs:
            if sector not in r.get("series", {}) or output not in r["series"][sector]:
                continue
            q = r["series"][sector][output]
            years = r["years"]
            first = col == 1
            fig.add_scatter(x=years, y=q["p95"], mode="lines", line={"width": 0}, showlegend=False, hoverinfo="skip",
                            legendgroup=r["scenario"], row=1, col=col)  # fmt: skip
            fig.add_scatter(
                x=years, y=q["p5"], mode="lines", line={"width": 0}, fill="tonexty", fillcolor=_alpha(color, 0.2),
                name=f"{r['scenario']} P5–P95", legendgroup=r["scenario"], showlegend=first, row=1, col=col,
            )  # fmt: skip
            fig.add_scatter(
                x=years, y=q["p50"], mode="lines", line={"color": color, "width": 2}, name=f"{r['scenario']} median",
                legendgroup=r["scenario"], showlegend=first, row=1, col=col,
                hovertemplate=f"{r['scenario']} %{{x}}: %{{y:.3g}} ({units.get(output, '')})<extra></extra>",
            )  # fmt: skip
    fig.update_annotations(font_size=12)
    return _layout(
        fig, 300, legend={"orientation": "h", "y": -0.18}, margin={"l": 40, "r": 20, "t": 40, "b": 40}
    )


def _alpha(hex_color: str, a: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{a})"


def backtest(target: dict[str, Any]) -> go.Figure:
    """Observed values against the model's P5-P95 band, training years then held-out years."""
    fig = go.Figure()
    for part, color in (("train", "#2c6fbb"), ("holdout", "#c0392b")):
        pts = target.get(part) or []
        if not pts:
            continue
        years = [p["year"] for p in pts]
        fig.add_scatter(
            x=years, y=[p["p50"] for p in pts], mode="markers", name=f"model median ({part})",
            marker={"color": color, "symbol": "line-ew-open", "size": 14},
            error_y={"type": "data", "symmetric": False, "array": [p["p95"] - p["p50"] for p in pts],
                     "arrayminus": [p["p50"] - p["p5"] for p in pts]},
        )  # fmt: skip
        fig.add_scatter(
            x=years, y=[p["observed"] for p in pts], mode="markers", name=f"observed ({part})",
            marker={"color": color, "size": 9},
        )  # fmt: skip
    return _layout(
        fig,
        320,
        yaxis={"title": target.get("series", "")},
        xaxis={"dtick": 1, "tickformat": "d"},
        legend={"orientation": "h", "y": -0.25},
    )


def sobol(indices: list[dict[str, Any]], title: str) -> go.Figure:
    """First-order and total Sobol indices per parameter, with confidence intervals where given."""
    fig = go.Figure()
    names = [d["parameter"] for d in indices]
    for key, label in (("S1", "first order"), ("ST", "total")):
        if not all(key in d for d in indices):
            continue
        conf = [d.get(f"{key}_conf") for d in indices]
        fig.add_bar(
            y=names, x=[d[key] for d in indices], orientation="h", name=label,
            error_x={"type": "data", "array": [c if c is not None else 0 for c in conf]} if any(c is not None for c in conf) else None,
        )  # fmt: skip
    return _layout(fig, max(300, 22 * len(names) + 80), barmode="group", title={"text": title, "x": 0.01, "font": {"size": 13}},
                   yaxis={"autorange": "reversed"}, margin={"l": 220, "r": 20, "t": 40, "b": 40})  # fmt: skip


def coverage(audit: dict[str, Any]) -> go.Figure:
    """Records by sector x mechanism (`statecap data audit`)."""
    cov = audit["coverage"]
    sectors = list(dict.fromkeys(c["sector"] for c in cov))
    mechs = list(dict.fromkeys(c["mechanism"] for c in cov))
    cells = {(c["sector"], c["mechanism"]): c["records"] for c in cov}
    z = [[cells.get((s, m), 0) for m in mechs] for s in sectors]
    fig = go.Figure(
        go.Heatmap(
            x=mechs,
            y=sectors,
            z=z,
            colorscale="Blues",
            texttemplate="%{z}",
            hovertemplate="%{y} · %{x}: %{z} records<extra></extra>",
        )
    )
    return _layout(fig, 420, margin={"l": 120, "r": 20, "t": 20, "b": 120})
