"""The self-contained HTML report: one file, no network references."""

from __future__ import annotations

import html
import os
import tempfile
from pathlib import Path
from typing import Any

import duckdb

from statecap.report.summary import atlas_summary


def _table(rows: list[dict[str, Any]], cols: list[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(r.get(c, '')))}</td>" for c in cols) + "</tr>" for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


CSS = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#1d2330;padding:0 1rem}
h1{font-size:1.6rem}h2{border-bottom:1px solid #ccd;padding-bottom:.2rem;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0}td,th{padding:.25rem .6rem;border-bottom:1px solid #e3e6ee;text-align:left}
th{background:#f3f5fa}
"""


def render_report(con: duckdb.DuckDBPyConnection, as_of: str | None = None) -> str:
    s = atlas_summary(con)
    counts = [{"records": k, "count": v} for k, v in s["counts"].items()]
    sections = [
        ("Records", _table(counts, ["records", "count"])),
        ("Entities by sector", _table(s["sectors"], ["name", "entities"])),
        ("Entities by kind", _table(s["entity_kinds"], ["kind", "entities"])),
        ("Designated entities by list", _table(s["designation_lists"], ["name", "entities"])),
        ("Sources by publisher", _table(s["top_publishers"], ["publisher", "sources"])),
    ]
    body = "".join(
        f'<section id="{html.escape(t.lower().replace(" ", "-"))}"><h2>{html.escape(t)}</h2>{c}</section>'
        for t, c in sections
    )
    when = f" as of {html.escape(as_of)}" if as_of else ""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>statecap report</title><style>{CSS}</style></head><body>"
        f"<h1>statecap: state technology investment atlas{when}</h1>{body}</body></html>"
    )


def write_report(con: duckdb.DuckDBPyConnection, out: Path, as_of: str | None = None) -> Path:
    """Render and write the report atomically."""
    text = render_report(con, as_of=as_of)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=str(out.parent))
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, out)
    return out
