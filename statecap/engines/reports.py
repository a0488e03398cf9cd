"""The query functions' reports on another engine: the same JSON as `statecap owners`, `control`,
`screen` and `flows` print, with the numbers from the engine's whole-registry run.

The query functions (`statecap.analytics.ownership.owners_report`, `...control.control_report`,
`statecap.queries.screen.screen_rule` / `screen_entity` / `screen_diff`,
`statecap.queries.flows.flows_report`) take ``engine=``; for an engine other than the local one
they call these. How an answer is made:

* **numbers and verdicts** come from the engine's whole-registry run (the ownership table, a
  rule's caught entities, the flows), the rows of the entities asked about selected from it;
* **explanations** (paths, chains, evidence with sources) come from the local query functions
  run on the entities' *upstream registry*: the entities and everything upstream of them,
  collected from the engine into a small in-memory store (`Engine.upstream_registry`). Every
  per-entity answer depends only on the entity's upstream part, so those functions give the
  whole registry's answers there; for the outbound rule, whose 850.209(a)(2) holders depend on
  what they hold, the store also takes every (a)(1) person and its upstream part.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from statecap.engines.base import DEFAULT_SPARK_MASTER, VERDICT_CODES, Engine


def is_local(engine: Any) -> bool:
    """Whether `engine` (None, a name or an Engine) means the local engine."""
    if engine is None:
        return True
    if isinstance(engine, str):
        return engine == "local"
    return getattr(engine, "name", None) == "local"


@contextlib.contextmanager
def engine_for(
    engine: Any, con: Any, spark_master: str | None = DEFAULT_SPARK_MASTER
) -> Iterator[tuple[Engine, Any]]:
    """(the engine, the store exported to Parquet for it); an engine made here is closed after."""
    from statecap.engines import get_engine, open_source

    made = isinstance(engine, str)
    eng = get_engine(engine, spark_master) if isinstance(engine, str) else engine
    try:
        source = open_source(con=con)
        try:
            yield eng, source
        finally:
            source.close()
    finally:
        if made:
            eng.close()


def _interval(lo: float, hi: float) -> dict[str, float]:
    from statecap.analytics.ownership import interval_json

    return interval_json(lo, hi)


def _class(row: dict[str, Any]) -> dict[str, str]:
    return {
        "class": row["state_class"],
        "certainty": row["certainty"],
        "definite_class": row["definite_class"],
    }


def _graph(con: Any, day: dt.date) -> Any:
    from statecap.graph.load import load_graph

    return load_graph(con, day)


# ---- ownership and control ---------------------------------------------------------------------


def owners_report(
    engine: Engine, source: Any, entity: str, as_of: dt.date | None = None, paths: int = 3
) -> dict[str, Any]:
    """`statecap owners ID --json` on `engine` (see the module doc)."""
    from statecap.analytics.ownership import owners_report as local_report

    day = as_of if as_of is not None else dt.date.today()
    eid = engine.resolve(source, entity)
    row = engine.ownership_of(source, [eid], day)[eid]
    con = engine.upstream_registry(source, [eid], day)
    try:
        report = local_report(con, eid, as_of, paths=paths, graph=_graph(con, day))
    finally:
        con.close()
    report["state_share"] = _interval(row["state_share_lo"], row["state_share_hi"])
    report["state_class"] = _class(row)
    report["engine"] = engine.name
    return report


def control_report(engine: Engine, source: Any, entity: str, as_of: dt.date | None = None) -> dict[str, Any]:
    """`statecap control ID --json` on `engine` (see the module doc)."""
    from statecap.analytics.control import control_report as local_report

    day = as_of if as_of is not None else dt.date.today()
    eid = engine.resolve(source, entity)
    row = engine.ownership_of(source, [eid], day)[eid]
    con = engine.upstream_registry(source, [eid], day)
    try:
        report = local_report(con, eid, as_of, graph=_graph(con, day))
        names = {r[0]: r[1] for r in con.execute("SELECT id, name FROM entities").fetchall()}
    finally:
        con.close()
    share = _interval(row["state_share_lo"], row["state_share_hi"])
    report["state_share"] = share
    report["state_class"] = _class(row)
    rules = report["rules"]
    rules["integrated_50"]["state_share"] = share
    for thr, col in ((20, "laporta20"), (10, "laporta10")):
        r = rules[f"laporta_{thr}"]
        lo, hi = row[f"{col}_lo"], row[f"{col}_hi"]
        r["state_control"] = _interval(lo, hi)
        r["state_controls"] = "yes" if lo >= thr - 1e-9 else ("possible" if hi >= thr - 1e-9 else "no")
    maj = rules["majority"]
    top = row["ultimate_owner"]
    controller = None if top is None or top == eid else top
    if controller != maj["controller"]:
        maj["controller"] = controller
        maj["controller_name"] = None if controller is None else names.get(controller, controller)
    maj["certainty"] = "definite" if row["chain_definite"] else "possible"
    maj["cycle"] = top is None
    report["engine"] = engine.name
    return report


# ---- screening ----------------------------------------------------------------------------------


def _codes(table: Any) -> np.ndarray:
    return np.asarray([VERDICT_CODES[v] for v in table["verdict"].to_pylist()], dtype=np.int8)


def _ordered(table: Any) -> list[dict[str, Any]]:
    """Rows in `statecap.queries.screen._sorted`'s order: verdict, then aggregate (largest first)."""
    rows = table.to_pylist()
    codes = _codes(table)
    idx = np.asarray(table["idx"].to_pylist(), dtype=np.int64)
    lo = np.asarray(table["aggregate_lo"].to_pylist(), dtype=float)
    hi = np.asarray(table["aggregate_hi"].to_pylist(), dtype=float)
    order = np.lexsort((idx, -lo, -hi, -codes))
    return [rows[int(k)] for k in order]


def _plain(rule: str, row: dict[str, Any], name: str) -> dict[str, Any]:
    """A result without evidence, from the engine's row (`statecap.queries.screen.result_json`'s keys)."""
    out: dict[str, Any] = {
        "id": row["id"],
        "name": name,
        "verdict": row["verdict"],
        "aggregate": _interval(row["aggregate_lo"], row["aggregate_hi"]),
    }
    if rule == "outbound":
        out["basis"] = row["basis"]
    elif row["votes_lo"] is not None:
        out["votes"] = _interval(row["votes_lo"], row["votes_hi"])
    return out


class _Explainer:
    """The local screening machinery on the upstream registry of some entities."""

    def __init__(
        self,
        engine: Engine,
        source: Any,
        seeds: Sequence[str],
        day: dt.date,
        as_of: dt.date | None,
        entries: list[Any],
        use_atlas: bool,
        lists: Sequence[str] | None,
    ):
        from statecap.queries.screen import Screening

        self.con = engine.upstream_registry(source, sorted(set(seeds)), day)
        graph = _graph(self.con, day)
        kept = set(graph.ids)
        self.screening = Screening(
            con=self.con, day=day, as_of=as_of, graph=graph, file_entries=[e for e in entries if e.entity in kept],
            use_atlas=use_atlas, only_lists=list(lists) if lists else None,
        )  # fmt: skip

    def result(self, rule: str, eid: str) -> dict[str, Any]:
        from statecap.queries.screen import result_json

        s = self.screening
        return result_json(s, rule, s.graph.index_of(eid), evidence=True)

    def close(self) -> None:
        self.con.close()


def _with_engine_numbers(rule: str, local: dict[str, Any], row: dict[str, Any] | None) -> dict[str, Any]:
    """The local result (with its evidence) carrying the engine's verdict and bounds."""
    if row is None:
        local["verdict"] = None
        return local
    local["verdict"] = row["verdict"]
    local["aggregate"] = _interval(row["aggregate_lo"], row["aggregate_hi"])
    if rule == "outbound":
        local["basis"] = row["basis"]
    elif row["votes_lo"] is not None:
        local["votes"] = _interval(row["votes_lo"], row["votes_hi"])
    return local


def _outbound_direct(table: Any) -> list[str]:
    return [r["id"] for r in table.to_pylist() if r["basis"] == "850.209(a)(1)"]


def screen_rule(
    engine: Engine,
    source: Any,
    rule: str,
    as_of: dt.date | None = None,
    designated: str | Path | None = None,
    lists: Sequence[str] | None = None,
    use_atlas: bool = True,
    evidence: bool = True,
    limit: int | None = None,
) -> dict[str, Any]:
    """`statecap screen --rule RULE --json` on `engine` (see the module doc)."""
    from statecap.analytics import rules as R
    from statecap.errors import UsageError
    from statecap.queries.screen import _test_json

    R.spec(rule)
    if limit is not None and limit < 1:
        raise UsageError("--limit must be at least 1")
    day = as_of if as_of is not None else dt.date.today()
    table, status = engine.screen(source, rule, day, lists, designated, use_atlas)
    ordered = _ordered(table)
    codes = _codes(table)
    names = {3: "designated", 2: "definite", 1: "possible"}
    counts = {v: int(np.count_nonzero(codes == k)) for k, v in names.items()}
    if rule == "outbound":
        counts.pop("designated")
    chosen = ordered if limit is None else ordered[:limit]
    if evidence and chosen:
        entries = engine.designated_entries(source, designated) if designated is not None else []
        seeds = [r["id"] for r in chosen] + (_outbound_direct(table) if rule == "outbound" else [])
        ex = _Explainer(engine, source, seeds, day, as_of, entries, use_atlas, lists)
        try:
            results = [_with_engine_numbers(rule, ex.result(rule, r["id"]), r) for r in chosen]
        finally:
            ex.close()
    else:
        info = engine.entity_rows(source, [r["id"] for r in chosen])
        results = [{**_plain(rule, r, info[r["id"]]["name"]), "evidence": []} for r in chosen]
    return {
        "rule": rule,
        "as_of": None if as_of is None else as_of.isoformat(),
        "evaluated_on": day.isoformat(),
        "in_force": status["in_force"],
        "rule_status": status,
        "test": _test_json(rule),
        "counts": counts,
        "truncated": bool(limit is not None and len(ordered) > limit),
        "results": results,
        "engine": engine.name,
    }


def _rule_args(
    rule: str, lists: Sequence[str] | None, designated: str | Path | None, use_atlas: bool
) -> tuple[Sequence[str] | None, str | Path | None, bool]:
    """The outbound rule takes neither lists nor a designated file (its roots are countries)."""
    if rule == "outbound":
        return None, None, True
    return lists, designated, use_atlas


def screen_entity(
    engine: Engine,
    source: Any,
    entity: str,
    rules: Sequence[str] | None = None,
    as_of: dt.date | None = None,
    designated: str | Path | None = None,
    lists: Sequence[str] | None = None,
    use_atlas: bool = True,
) -> dict[str, Any]:
    """`statecap screen ENTITY --all-rules --json` on `engine` (see the module doc).

    The entity's verdict under each rule is its row in the engine's whole-registry run; when the
    rule does not catch it, the aggregate (below the threshold) and the evidence come from the
    local run on its upstream registry.
    """
    from statecap.analytics import rules as R
    from statecap.errors import UsageError
    from statecap.queries.screen import DESIGNATION_RULES, _test_json, rule_lists

    day = as_of if as_of is not None else dt.date.today()
    eid = engine.resolve(source, entity)
    chosen = list(rules) if rules is not None else list(R.RULES)
    if not chosen:
        raise UsageError("give --all-rules or at least one --rule")
    for r in chosen:
        R.spec(r)
    if not use_atlas and designated is None:
        raise UsageError("--no-atlas needs --designated FILE (there would be no designated parties)")
    runs: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    for r in chosen:
        if r in DESIGNATION_RULES and lists:
            try:
                rule_lists(r, lists)
            except UsageError as exc:
                skipped[r] = str(exc)
                continue
        r_lists, r_file, r_atlas = _rule_args(r, lists, designated, use_atlas)
        runs[r] = engine.screen(source, r, day, r_lists, r_file, r_atlas)
    seeds = [eid]
    if "outbound" in runs:
        seeds += _outbound_direct(runs["outbound"][0])
    entries = engine.designated_entries(source, designated) if designated is not None else []
    ex = _Explainer(engine, source, seeds, day, as_of, entries, use_atlas, lists)
    out_rules: dict[str, Any] = {}
    try:
        for r in chosen:
            if r in skipped:
                out_rules[r] = {"verdict": None, "skipped": skipped[r]}
                continue
            table, status = runs[r]
            hit = [row for row in table.to_pylist() if row["id"] == eid]
            res = ex.result(r, eid)
            res = _with_engine_numbers(r, res, hit[0] if hit else None)
            if not hit:
                res["roots"], res["evidence"] = [], []
            res.pop("id")
            res.pop("name")
            out_rules[r] = {
                **res,
                "in_force": status["in_force"],
                "rule_status": status,
                "test": _test_json(r),
            }
        name = ex.screening.graph.name_of(ex.screening.graph.index_of(eid))
    finally:
        ex.close()
    return {
        "entity": eid,
        "name": name,
        "as_of": None if as_of is None else as_of.isoformat(),
        "evaluated_on": day.isoformat(),
        "rules": out_rules,
        "engine": engine.name,
    }


def screen_diff(
    engine: Engine,
    source: Any,
    rule_a: str,
    rule_b: str,
    as_of: dt.date | None = None,
    designated: str | Path | None = None,
    lists: Sequence[str] | None = None,
    use_atlas: bool = True,
    evidence: bool = False,
) -> dict[str, Any]:
    """`statecap screen diff --rule A --rule B --json` on `engine` (see the module doc)."""
    from statecap.analytics import rules as R
    from statecap.errors import UsageError

    R.spec(rule_a)
    R.spec(rule_b)
    if rule_a == rule_b:
        raise UsageError("screen diff needs two different rules (--rule A --rule B)")
    if not use_atlas and designated is None:
        raise UsageError("--no-atlas needs --designated FILE (there would be no designated parties)")
    day = as_of if as_of is not None else dt.date.today()
    runs = {}
    for r in (rule_a, rule_b):
        r_lists, r_file, r_atlas = _rule_args(r, lists, designated, use_atlas)
        runs[r] = engine.screen(source, r, day, r_lists, r_file, r_atlas)
    rows = {r: {row["id"]: row for row in runs[r][0].to_pylist()} for r in (rule_a, rule_b)}
    only: dict[str, list[dict[str, Any]]] = {}
    for r, other in ((rule_a, rule_b), (rule_b, rule_a)):
        table = runs[r][0]
        mine = [row for row in _ordered(table) if row["id"] not in rows[other]]
        only[r] = mine
    both = sorted(set(rows[rule_a]) & set(rows[rule_b]), key=lambda i: rows[rule_a][i]["idx"])
    differ = [i for i in both if rows[rule_a][i]["verdict"] != rows[rule_b][i]["verdict"]]
    seeds = [row["id"] for r in (rule_a, rule_b) for row in only[r]]
    info = engine.entity_rows(source, sorted(set(seeds) | set(differ)))
    out_only: dict[str, list[dict[str, Any]]] = {}
    if evidence and seeds:
        entries = engine.designated_entries(source, designated) if designated is not None else []
        for r in (rule_a, rule_b):
            if r == "outbound":
                seeds += _outbound_direct(runs[r][0])
        ex = _Explainer(engine, source, seeds, day, as_of, entries, use_atlas, lists)
        try:
            for r in (rule_a, rule_b):
                out_only[r] = [_with_engine_numbers(r, ex.result(r, row["id"]), row) for row in only[r]]
        finally:
            ex.close()
    else:
        for r in (rule_a, rule_b):
            out_only[r] = [{**_plain(r, row, info[row["id"]]["name"]), "evidence": []} for row in only[r]]
    return {
        "rules": [rule_a, rule_b],
        "as_of": None if as_of is None else as_of.isoformat(),
        "evaluated_on": day.isoformat(),
        "in_force": {r: runs[r][1]["in_force"] for r in (rule_a, rule_b)},
        "only": out_only,
        "different_verdicts": [
            {
                "id": i,
                "name": info[i]["name"],
                rule_a: rows[rule_a][i]["verdict"],
                rule_b: rows[rule_b][i]["verdict"],
            }
            for i in differ
        ],
        "both": len(both),
        "engine": engine.name,
    }
