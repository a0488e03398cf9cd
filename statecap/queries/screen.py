"""Screening questions answered from the store: who a rule catches, and why.

Each public function answers one whole question and returns the plain dict the CLI prints
(`statecap screen ... --json`) and the API serves. The rules themselves are kernels in
`statecap.analytics.rules`; this module reads the graph (`statecap.graph.load_graph`), the
designations active on the date, the rules' policy events (effective dates and suspensions),
and turns verdicts into evidence with sources. Definitions: docs/screening.md.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from statecap.analytics import rules as R
from statecap.analytics.ownership import descendants, explain_paths, interval_json
from statecap.errors import StoreError, UsageError
from statecap.graph.load import load_graph
from statecap.graph.model import OwnershipGraph
from statecap.model.taxonomy import load_taxonomy
from statecap.store.query import record_sources, resolve_entity

# Rules whose dates are data: outside the windows of their policy events (and inside a
# suspension) they catch nobody. The OFAC 50 percent rule and the owned-or-controlled test are
# applied on every date (see docs/screening.md for why).
GATED_RULES = ("bis-affiliates", "outbound")
DESIGNATION_RULES = ("ofac50", "bis-affiliates", "owned-or-controlled")
# SDN programmes named by the Affiliates rule (15 CFR 744.8(a)(1), as we read 90 FR 47201):
# an SDN designation roots a definite affiliate only when its record names one of them.
BIS_SDN_PROGRAMMES = ("NPWMD", "SDGT", "SDT", "FTO", "13382", "13224", "744.8")
MAX_STAKES = 60  # evidence stakes per result


# ---- rule status: effective dates and suspensions -------------------------------------------


def rule_status(con: duckdb.DuckDBPyConnection, rule: str, day: dt.date) -> dict[str, Any]:
    """Whether `rule` applies on `day`, from the store's policy events with that rule.

    A rule applies inside the window ``[date, end)`` of any of its events that is not a
    suspension, and not inside a suspension window: the ``policy_suspensions`` rows of those
    events, or ``[date, end)`` of events of kind ``suspension`` with the same rule. A gated rule
    with no events in the store applies on every date (and says so).
    """
    R.spec(rule)
    cur = con.execute(
        'SELECT id, date, "end", kind, title, citation FROM policy_events WHERE rule = ? ORDER BY date, id',
        [rule],
    )
    events = [dict(zip([c[0] for c in cur.description], row, strict=True)) for row in cur.fetchall()]
    susp = con.execute(
        """SELECT s.event, s."from", s."to" FROM policy_suspensions s JOIN policy_events e ON e.id = s.event
           WHERE e.rule = ? ORDER BY s."from" """,
        [rule],
    ).fetchall()
    windows = [(e["date"], e["end"]) for e in events if e["kind"] != "suspension"]
    suspensions = [(ev, a, b) for ev, a, b in susp] + [
        (e["id"], e["date"], e["end"]) for e in events if e["kind"] == "suspension"
    ]

    def inside(a: dt.date, b: dt.date | None) -> bool:
        return a <= day and (b is None or day < b)

    gated = rule in GATED_RULES
    if not gated or not windows:
        in_force = True
        why = (
            "applied on every date (its policy events are shown for reference)"
            if not gated
            else "no policy event with this rule in the store: applied on every date"
        )
    elif not any(inside(a, b) for a, b in windows):
        in_force = False
        why = f"not in force on {day.isoformat()}: outside the windows of its policy events"
    else:
        hit = [s for s in suspensions if inside(s[1], s[2])]
        in_force = not hit
        why = (
            f"suspended on {day.isoformat()} (event {hit[0][0]}, {hit[0][1]} to {hit[0][2] or 'open'})"
            if hit
            else f"in force on {day.isoformat()}"
        )
    return {
        "rule": rule,
        "in_force": in_force,
        "reason": why,
        "events": [
            {
                "id": e["id"],
                "date": _iso(e["date"]),
                "end": _iso(e["end"]),
                "kind": e["kind"],
                "title": e["title"],
                "citation": e["citation"],
            }
            for e in events
        ],
        "suspensions": [{"event": ev, "from": _iso(a), "to": _iso(b)} for ev, a, b in suspensions],
    }


def _iso(d: Any) -> str | None:
    return None if d is None else d.isoformat()


# ---- designations ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DesignatedEntry:
    """One reason an entity is a root: an atlas designation or a line of a --designated file."""

    entity: str
    list: str
    designation_id: str | None = None
    start: dt.date | None = None
    end: dt.date | None = None
    authority: str | None = None
    citation: str | None = None
    licence_requirement: str | None = None
    note: str | None = None
    file: str | None = None
    line: int | None = None


def read_designated_file(con: duckdb.DuckDBPyConnection, path: str | Path) -> list[DesignatedEntry]:
    """Entity ids from a file, one per line (blank lines and ``#`` comments skipped).

    Ids resolve as everywhere else (`resolve_entity`): a statecap id, or an identifier such as a
    USCC, an LEI or an imported BODS/FtM id.

    Raises:
        UsageError: the file cannot be read, or a line names no entity (file and line named).
    """
    p, wanted = designated_file_keys(path)
    keys = sorted({k for _, k in wanted})
    con.register("_screen_keys", pa.table({"key": pa.array(keys, type=pa.string())}))
    try:
        direct = {
            r[0]
            for r in con.execute("SELECT e.id FROM entities e JOIN _screen_keys k ON k.key = e.id").fetchall()
        }
        ident: dict[str, set[str]] = {}
        for value, ent in con.execute(
            "SELECT DISTINCT i.value, i.entity FROM entity_identifiers i JOIN _screen_keys k ON k.key = i.value"
        ).fetchall():
            ident.setdefault(value, set()).add(ent)
    finally:
        con.unregister("_screen_keys")
    out: list[DesignatedEntry] = []
    for no, key in wanted:
        if key in direct:
            eid = key
        elif len(ident.get(key, ())) == 1:
            eid = next(iter(ident[key]))
        else:
            try:
                eid = resolve_entity(con, key)
            except UsageError as exc:
                raise UsageError(f"{p}:{no}: {exc}") from None
        out.append(DesignatedEntry(entity=eid, list="file", file=str(p), line=no))
    return out


def designated_file_keys(path: str | Path) -> tuple[Path, list[tuple[int, str]]]:
    """(the path, (line number, key) of every id in the file): blank lines and ``#`` comments skipped.

    Raises:
        UsageError: the file cannot be read or holds no ids.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--designated {p}: cannot read the file: {exc}") from None
    wanted: list[tuple[int, str]] = []
    for no, raw in enumerate(text.splitlines(), start=1):
        key = raw.split("#", 1)[0].strip()
        if key:
            wanted.append((no, key))
    if not wanted:
        raise UsageError(f"--designated {p}: no entity ids in the file (one id per line)")
    return p, wanted


def active_designations(
    con: duckdb.DuckDBPyConnection, day: dt.date, lists: Sequence[str] | None = None
) -> list[DesignatedEntry]:
    """Atlas designations active on `day` (``start <= day < end``), optionally only on `lists`."""
    sql = """SELECT id, entity, list, start, "end", authority, citation, licence_requirement, note
             FROM designations WHERE start <= $day AND ("end" IS NULL OR $day < "end")"""
    params: dict[str, Any] = {"day": day}
    if lists is not None:
        sql += " AND list_contains($lists, list)"
        params["lists"] = list(lists)
    rows = con.execute(sql + " ORDER BY entity, list, start", params).fetchall()
    return [
        DesignatedEntry(
            entity=r[1],
            list=r[2],
            designation_id=r[0],
            start=r[3],
            end=r[4],
            authority=r[5],
            citation=r[6],
            licence_requirement=r[7],
            note=r[8],
        )  # fmt: skip
        for r in rows
    ]


def rule_lists(rule: str, only: Sequence[str] | None = None) -> list[str]:
    """The list codes whose parties are roots of `rule` (lists.yaml), narrowed to `only`.

    Raises:
        UsageError: an unknown list code, or a list that supplies no roots to the rule.
    """
    tax = load_taxonomy()
    lists = tax.lists_for_rule(rule)
    if only is None or len(only) == 0:
        return lists
    for code in only:
        if code not in tax.lists:
            raise UsageError(f"--list {code!r} is not a list code (see lists.yaml: {', '.join(tax.lists)})")
    chosen = [c for c in only if c in lists]
    if not chosen:
        raise UsageError(
            f"--list {', '.join(only)}: none of these lists supplies roots to rule {rule} "
            f"(lists.yaml maps {rule} to: {', '.join(lists) or 'no list'})"
        )
    return chosen


def _sdn_programme_named(entry: DesignatedEntry) -> bool:
    text = " ".join(x for x in (entry.citation, entry.note, entry.licence_requirement) if x).upper()
    return any(tag.upper() in text for tag in BIS_SDN_PROGRAMMES)


# ---- one screening session: graph, matrices, designations, sources ----------------------------


@dataclass
class Screening:
    """Everything one screening question needs, loaded once (graph, matrices, designations).

    Build it with `open_screening`; `run(rule)` gives a rule's verdicts, `result_json` a result.
    """

    con: duckdb.DuckDBPyConnection
    day: dt.date
    as_of: dt.date | None
    graph: OwnershipGraph
    file_entries: list[DesignatedEntry] = field(default_factory=list)
    use_atlas: bool = True
    only_lists: Sequence[str] | None = None
    _cache: dict[str, Any] = field(default_factory=dict)
    _sources: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)

    # -- matrices
    @cached_property
    def ownership(self) -> R.StakeMatrix:
        return R.graph_matrix(self.graph)

    @cached_property
    def votes_graph(self) -> OwnershipGraph:
        return load_graph(self.con, self.day, types=("voting",))

    @cached_property
    def votes(self) -> R.StakeMatrix:
        vg = self.votes_graph
        if vg.n_edges == 0:
            return self.ownership
        return R.votes_matrix(self.ownership, R.graph_matrix(vg))

    @cached_property
    def in_own(self) -> R.InStakes:
        return R.in_stakes(self.ownership)

    @cached_property
    def in_votes(self) -> R.InStakes:
        return self.in_own if self.votes is self.ownership else R.in_stakes(self.votes)

    @cached_property
    def countries(self) -> pa.Array:
        """Each entity's country code (Arrow, index order; null where the record has none)."""
        t = self.con.sql("SELECT id, country FROM entities ORDER BY rowid").to_arrow_table()
        ids, country = t["id"].combine_chunks(), t["country"].combine_chunks()
        if ids.equals(self.graph.ids_arrow):
            return country
        pos = self.graph.index.get_indexer(np.asarray(ids.to_numpy(zero_copy_only=False), dtype=object))
        out = np.full(self.graph.n, None, dtype=object)
        hit = pos >= 0
        out[pos[hit]] = np.asarray(country.to_numpy(zero_copy_only=False), dtype=object)[hit]
        return pa.array(out, type=pa.string())

    def country_of(self, i: int) -> str | None:
        c = self.countries[int(i)].as_py()
        return None if c is None else str(c)

    # -- roots
    def entries_for(self, rule: str) -> list[DesignatedEntry]:
        key = f"entries:{rule}"
        if key not in self._cache:
            atlas: list[DesignatedEntry] = []
            if self.use_atlas:
                atlas = active_designations(self.con, self.day, rule_lists(rule, self.only_lists))
            self._cache[key] = atlas + list(self.file_entries)
        out: list[DesignatedEntry] = self._cache[key]
        return out

    def roots_for(self, rule: str) -> tuple[np.ndarray, np.ndarray, dict[int, list[DesignatedEntry]]]:
        """(definite roots, possible roots, entries per entity index) of a designation rule."""
        n = self.graph.n
        definite = np.zeros(n, dtype=bool)
        possible = np.zeros(n, dtype=bool)
        by_idx: dict[int, list[DesignatedEntry]] = {}
        entries = self.entries_for(rule)
        if entries:
            idx = self.graph.index.get_indexer([e.entity for e in entries])
            for e, i in zip(entries, idx.tolist(), strict=True):
                if i < 0:
                    raise StoreError(
                        f"designation {e.designation_id or e.entity}: entity {e.entity} not in the store"
                    )
                by_idx.setdefault(i, []).append(e)
                if rule == "bis-affiliates" and e.list == "ofac_sdn" and not _sdn_programme_named(e):
                    possible[i] = True
                else:
                    definite[i] = True
        return definite, possible & ~definite, by_idx

    # -- running rules
    def run(self, rule: str) -> dict[str, Any]:
        """The rule's verdicts (cached): {"status", "result" (CascadeResult or OutboundResult), ...}."""
        key = f"run:{rule}"
        if key in self._cache:
            out: dict[str, Any] = self._cache[key]
            return out
        status = rule_status(self.con, rule, self.day)
        if rule == "outbound":
            res: dict[str, Any] = {"status": status, **self._run_outbound(status["in_force"])}
        else:
            definite, possible, by_idx = self.roots_for(rule)
            spec = R.SPECS[rule]
            if status["in_force"]:
                votes = self.votes if spec.votes is not None else None
                casc = R.cascade(spec, self.ownership, definite, possible, votes)
            else:
                casc = R.cascade(spec, R.stake_matrix(self.graph.n, *(np.zeros(0),) * 4), definite, possible)
            res = {"status": status, "result": casc, "entries": by_idx}
        self._cache[key] = res
        return res

    def _run_outbound(self, in_force: bool) -> dict[str, Any]:
        g = self.graph
        coc = pa.array(R.COUNTRIES_OF_CONCERN, type=pa.string())
        country = self.countries
        own = np.asarray(
            pc.fill_null(pc.is_in(country, value_set=coc), False).to_numpy(zero_copy_only=False), bool
        )
        no_country = np.asarray(country.is_null().to_numpy(zero_copy_only=False), bool)
        by_prefix = np.zeros(g.n, dtype=bool)
        for c in R.COUNTRIES_OF_CONCERN:
            by_prefix |= np.asarray(pc.starts_with(g.ids_arrow, f"{c}-").to_numpy(zero_copy_only=False), bool)
        prefix = by_prefix & no_country
        roots = own | prefix
        person = np.zeros(g.n, dtype=bool)
        if "person" in g.kind_names:
            person = g.kind_codes == g.kind_names.index("person")
        roots_possible = roots & person
        roots = roots & ~person
        flat = g.sectors_arrow.flatten()
        parents = pc.list_parent_indices(g.sectors_arrow).to_numpy()
        engaged_def = np.zeros(g.n, dtype=bool)
        engaged_pos = np.zeros(g.n, dtype=bool)
        for level, mask in (("covered", engaged_def), ("maybe", engaged_pos)):
            codes = pa.array([c for c, v in R.OUTBOUND_SECTORS.items() if v == level], type=pa.string())
            hit = np.asarray(
                pc.fill_null(pc.is_in(flat, value_set=codes), False).to_numpy(zero_copy_only=False), bool
            )
            mask[parents[hit]] = True
        us = np.asarray(pc.fill_null(pc.equal(country, "us"), False).to_numpy(zero_copy_only=False), bool)
        eligible = ~g.is_state & ~us
        if not in_force:
            empty = R.stake_matrix(g.n, *(np.zeros(0),) * 4)
            none = np.zeros(g.n, bool)
            res = R.outbound(empty, None, roots, roots_possible, none, none, eligible)
            return {"result": res, "holder_share": {}, "prefix": prefix}
        first = R.outbound(
            self.ownership, self.votes, roots, roots_possible, engaged_def, engaged_pos, eligible
        )
        holder_def, shares = self._holder_revenue(first)
        res = R.outbound(
            self.ownership, self.votes, roots, roots_possible, engaged_def, engaged_pos, eligible, holder_def
        )
        return {"result": res, "holder_share": shares, "prefix": prefix}

    def _holder_revenue(self, res: R.OutboundResult) -> tuple[np.ndarray, dict[int, dict[str, Any]]]:
        """Holders whose latest revenue is more than half made of their (a)(1) majority-held units'.

        See `holder_revenue`; the revenue comes from the store's financials.
        """
        holders = np.flatnonzero(res.holder_pos)
        out = np.zeros(self.graph.n, dtype=bool)
        if len(holders) == 0 or len(holders) > MAX_REVENUE_HOLDERS:
            return out, {}
        rev = latest_revenue(self.con)
        if not rev:
            return out, {}
        m = self.ownership
        owner_of = np.repeat(np.arange(m.n, dtype=np.int64), np.diff(m.ptr))
        sure = m.lo > 0.5 + R.TOL
        children: dict[int, list[int]] = {}
        for o, d in zip(owner_of[sure].tolist(), m.idx[sure].tolist(), strict=True):
            children.setdefault(o, []).append(d)
        ids = self.graph.ids
        hit, shares = holder_revenue(holders.tolist(), children, res.direct_def, lambda k: str(ids[k]), rev)
        out[hit] = True
        return out, shares

    # -- sources
    def sources(self, record_type: str, record_id: str) -> list[dict[str, Any]]:
        key = (record_type, record_id)
        if key not in self._sources:
            self._sources[key] = record_sources(self.con, record_type, record_id)
        return self._sources[key]


MAX_REVENUE_HOLDERS = 20_000  # past this many (a)(2) candidates the revenue test is not attempted


def latest_revenue(con: duckdb.DuckDBPyConnection) -> dict[str, dict[tuple[int, str], float]]:
    """Entity -> {(year, currency): revenue} for the five latest years per entity and currency."""
    rows = con.execute(
        """SELECT entity, year, currency, revenue FROM financials WHERE revenue IS NOT NULL
           QUALIFY row_number() OVER (PARTITION BY entity, currency ORDER BY year DESC) <= 5"""
    ).fetchall()
    rev: dict[str, dict[tuple[int, str], float]] = {}
    for ent, year, cur, value in rows:
        rev.setdefault(ent, {})[(int(year), str(cur))] = float(value)
    return rev


def holder_revenue(
    holders: list[int],
    children: dict[int, list[int]],
    direct_def: np.ndarray,
    id_of: Callable[[int], str],
    rev: dict[str, dict[tuple[int, str], float]],
) -> tuple[list[int], dict[int, dict[str, Any]]]:
    """(holders deriving more than half their revenue from (a)(1) units, the share found per holder).

    A unit counts when every stake on some chain from the holder to it is above 50% for sure
    (`children`: those stakes; the unit is consolidated); the walk stops at the first unit on
    each chain (its consolidated revenue already includes its own units'); units and holder must
    report revenue for the same year and currency, the latest such year is used.
    """
    out: list[int] = []
    shares: dict[int, dict[str, Any]] = {}
    for h in holders:
        hrev = rev.get(id_of(h))
        if not hrev:
            continue
        units, stack, seen = [], [h], {h}
        while stack:
            v = stack.pop()
            for c in children.get(v, ()):
                if c not in seen:
                    seen.add(c)
                    if direct_def[c]:
                        units.append(c)  # its consolidated revenue includes its own units'
                    else:
                        stack.append(c)
        if not units:
            continue
        for key in sorted(hrev, reverse=True):
            parts = [rev.get(id_of(u), {}).get(key) for u in units]
            if any(p is None for p in parts):
                continue
            total = hrev[key]
            share = sum(p for p in parts if p is not None) / total if total > 0 else 0.0
            shares[h] = {
                "year": key[0],
                "currency": key[1],
                "revenue": total,
                "from_units": sum(p for p in parts if p is not None),
                "units": [id_of(u) for u in units],
                "share": share,
            }
            if share > 0.5:
                out.append(h)
            break
    return out, shares


def check_root_args(lists: Sequence[str] | None, designated: Any, use_atlas: bool) -> None:
    """UsageError for --no-atlas without --designated, or a --list code not in lists.yaml."""
    if not use_atlas and designated is None:
        raise UsageError("--no-atlas needs --designated FILE (there would be no designated parties)")
    if lists:
        tax = load_taxonomy()
        for code in lists:
            if code not in tax.lists:
                raise UsageError(
                    f"--list {code!r} is not a list code (see lists.yaml: {', '.join(tax.lists)})"
                )


def open_screening(
    con: duckdb.DuckDBPyConnection,
    as_of: dt.date | None = None,
    designated: str | Path | None = None,
    lists: Sequence[str] | None = None,
    use_atlas: bool = True,
    graph: OwnershipGraph | None = None,
) -> Screening:
    """Load what screening on `as_of` (None: today) needs from an open store.

    Args:
        con: an open store. as_of: the date. designated: a file of entity ids (one per line)
            that are roots of every designation rule. lists: list codes to keep (lists.yaml).
        use_atlas: use the atlas's designations (False: only the file's).
        graph: a graph already loaded for the date.
    """
    check_root_args(lists, designated, use_atlas)
    day = as_of if as_of is not None else dt.date.today()
    entries = read_designated_file(con, designated) if designated is not None else []
    g = graph if graph is not None else load_graph(con, day)
    return Screening(
        con=con, day=day, as_of=as_of, graph=g, file_entries=entries, use_atlas=use_atlas,
        only_lists=list(lists) if lists else None,
    )  # fmt: skip


# ---- results as JSON ------------------------------------------------------------------------


def _pct(lo: float, hi: float) -> dict[str, float]:
    return interval_json(lo * 100.0, hi * 100.0)


def _designation_json(s: Screening, e: DesignatedEntry, certainty: str) -> dict[str, Any]:
    g = s.graph
    tax = load_taxonomy()
    term = tax.lists.get(e.list)
    d: dict[str, Any] = {
        "kind": "designation",
        "entity": e.entity,
        "name": g.name_of(int(g.index.get_loc(e.entity))),
        "list": e.list,
        "list_name": term.name if term is not None else "designated by file",
        "certainty": certainty,
    }
    if e.file is not None:
        d.update({"file": e.file, "line": e.line})
        return d
    d.update(
        {
            "designation": e.designation_id,
            "start": _iso(e.start),
            "end": _iso(e.end),
            "authority": e.authority,
            "citation": e.citation,
            "licence_requirement": e.licence_requirement,
            "sources": s.sources("designations", e.designation_id) if e.designation_id else [],
        }
    )
    if certainty == "possible":
        d["why_possible"] = (
            "the Affiliates rule covers only SDNs under the programmes of 15 CFR 744.8(a)(1); "
            "this designation's record names none of them"
        )
    return d


def _stake_json(
    s: Screening, st: R.CaughtStake, caught: Callable[[int], str | None], graph: OwnershipGraph
) -> dict[str, Any]:
    g = s.graph
    edges = graph.edges_into(st.owned)
    edges = edges[graph.edge_owner[edges] == st.owner]
    return {
        "kind": "stake",
        "test": st.test,
        "owner": g.id_of(st.owner),
        "owner_name": g.name_of(st.owner),
        "owner_verdict": caught(st.owner),
        "owned": g.id_of(st.owned),
        "owned_name": g.name_of(st.owned),
        "share": _pct(st.lo, st.hi),
        "stakes": [
            {
                "id": graph.stake_id(int(e)),
                "share": _pct(float(graph.edge_lo[e]), float(graph.edge_hi[e])),
                "direct": bool(graph.edge_direct[e]),
                "sources": s.sources("stakes", graph.stake_id(int(e))),
            }
            for e in edges
        ],
    }


def _cascade_evidence(
    s: Screening, rule: str, casc: R.CascadeResult, i: int, entries: dict[int, list[DesignatedEntry]]
) -> tuple[list[dict[str, Any]], list[int]]:
    def verdict_of(k: int) -> str | None:
        v = casc.verdict(k)
        if v == "designated":
            return "designated"
        return v if v is not None else ("designated" if casc.root_possible[k] else None)

    votes = s.votes if casc.spec.votes is not None else None
    stakes, roots = R.explain_cascade(
        casc, s.in_own, i, s.in_votes if votes is not None else None, max_stakes=MAX_STAKES
    )
    ev: list[dict[str, Any]] = []
    for r in roots:
        for e in entries.get(r, []):
            ev.append(_designation_json(s, e, "possible" if casc.root_possible[r] else "definite"))
    for st in stakes:
        graph = s.votes_graph if (st.test == "votes" and s.votes is not s.ownership) else s.graph
        ev.append(_stake_json(s, st, verdict_of, graph))
    if casc.possible[i] and not casc.definite[i] and not casc.designated[i]:
        for st, why in R.flip_stakes(casc, s.in_own, i, s.in_votes if votes is not None else None):
            ev.append(
                {
                    "kind": "flip",
                    "test": st.test,
                    "owner": s.graph.id_of(st.owner),
                    "owned": s.graph.id_of(st.owned),
                    "share": _pct(st.lo, st.hi),
                    "owner_verdict": verdict_of(st.owner),
                    "reason": why,
                }
            )
    if rule == "bis-affiliates":
        texts = [(e, e.licence_requirement) for r in roots for e in entries.get(r, [])]
        rank, best = R.most_restrictive([t for _, t in texts])
        if texts:
            ev.append(
                {
                    "kind": "licence_requirement",
                    "rank": rank,
                    "most_restrictive": [
                        {
                            "text": texts[k][1],
                            "designation": texts[k][0].designation_id,
                            "entity": texts[k][0].entity,
                        }
                        for k in best
                    ],
                    "all": [
                        {
                            "text": t,
                            "designation": e.designation_id,
                            "entity": e.entity,
                            "rank": R.licence_rank(t),
                        }
                        for e, t in texts
                    ],
                }
            )
    return ev, roots


def _outbound_evidence(s: Screening, run: dict[str, Any], i: int) -> tuple[list[dict[str, Any]], list[int]]:
    res: R.OutboundResult = run["result"]
    g = s.graph
    ev: list[dict[str, Any]] = []
    codes = [c for c in (g.sectors_arrow[i].as_py() or [])]
    covered = [c for c in codes if R.OUTBOUND_SECTORS.get(c) == "covered"]
    maybe = [c for c in codes if R.OUTBOUND_SECTORS.get(c) == "maybe"]
    roots_reached: list[int] = []
    if res.direct_pos[i]:
        stakes, roots_reached = R.explain_cascade(res.coc, s.in_own, i, s.in_votes, max_stakes=MAX_STAKES)
        for r in roots_reached:
            ev.append(_coc_root_json(s, run, r))
        for st in stakes:
            graph = s.votes_graph if (st.test == "votes" and s.votes is not s.ownership) else s.graph
            ev.append(_stake_json(s, st, lambda k: _coc_verdict(res.coc, k), graph))
        if res.coc.possible[i] and not res.coc.definite[i]:
            for st, why in R.flip_stakes(res.coc, s.in_own, i, s.in_votes):
                ev.append(
                    {
                        "kind": "flip",
                        "test": st.test,
                        "owner": g.id_of(st.owner),
                        "owned": g.id_of(st.owned),
                        "share": _pct(st.lo, st.hi),
                        "reason": why + " (person of a country of concern)",
                    }
                )
        ev.append(
            {
                "kind": "covered_activity",
                "paragraph": "31 CFR 850.209(a)(1)",
                "sectors": codes,
                "covered": covered,
                "maybe_covered": maybe,
                "certainty": "definite" if res.engaged_def[i] else "possible",
                "why_possible": None
                if res.engaged_def[i]
                else "the sector is covered only above technical thresholds or for end uses the data do not record "
                "(31 CFR 850.217, 850.224)",
            }
        )
    else:
        targets = descendants(g, i)
        targets = targets[res.direct_pos[targets]]
        share = run["holder_share"].get(i)
        ev.append(
            {
                "kind": "covered_holding",
                "paragraph": "31 CFR 850.209(a)(2)",
                "holds_interest_in": [g.id_of(t) for t in targets[:20]],
                "n_covered_held": int(len(targets)),
                "revenue_share": share,
                "certainty": "definite" if res.definite[i] else "possible",
                "why_possible": None
                if res.definite[i]
                else "covered only if more than 50% of its revenue, net income, capex or opex comes from "
                "these persons; the data do not settle that",
            }
        )
        for t in targets[:3].tolist():
            for p in explain_paths(g, i, int(t), k=1):
                ev.append(
                    {
                        "kind": "path",
                        "nodes": [g.id_of(v) for v in p.nodes],
                        "share": interval_json(p.lo, p.hi),
                        "stakes": [sid for h in p.hops for sid in h.stakes],
                    }
                )
    return ev, roots_reached


def _coc_verdict(c: R.CascadeResult, k: int) -> str | None:
    if c.designated[k] or c.root_possible[k]:
        return "country"
    return "definite" if c.definite[k] else ("possible" if c.possible[k] else None)


def _coc_root_json(s: Screening, run: dict[str, Any], r: int) -> dict[str, Any]:
    g = s.graph
    prefix = run.get("prefix")
    by_prefix = bool(prefix is not None and prefix[r])
    return {
        "kind": "country_of_concern",
        "entity": g.id_of(r),
        "name": g.name_of(r),
        "country": s.country_of(r) or g.id_of(r)[:2],
        "from": "id prefix (the record has no country)" if by_prefix else "country",
        "certainty": "possible" if run["result"].coc.root_possible[r] else "definite",
        "citation": "31 CFR 850.202, 850.221",
    }


def result_json(s: Screening, rule: str, i: int, evidence: bool = True) -> dict[str, Any]:
    """One entity's verdict under one rule, with its evidence (`verdict` None when not caught)."""
    run = s.run(rule)
    g = s.graph
    if rule == "outbound":
        res: R.OutboundResult = run["result"]
        verdict = "definite" if res.definite[i] else ("possible" if res.possible[i] else None)
        out: dict[str, Any] = {
            "id": g.id_of(i),
            "name": g.name_of(i),
            "verdict": verdict,
            "aggregate": _pct(res.coc.agg_lo[i], res.coc.agg_hi[i]),
            "basis": "850.209(a)(1)"
            if res.direct_pos[i]
            else ("850.209(a)(2)" if res.holder_pos[i] else None),
        }
        if evidence:
            ev, roots = _outbound_evidence(s, run, i) if verdict is not None else ([], [])
            out["roots"] = [g.id_of(r) for r in roots]
            out["evidence"] = ev
        else:
            out["evidence"] = []
        return out
    casc: R.CascadeResult = run["result"]
    out = {
        "id": g.id_of(i),
        "name": g.name_of(i),
        "verdict": casc.verdict(i) if not (casc.root_possible[i] and not casc.definite[i]) else "possible",
        "aggregate": _pct(casc.agg_lo[i], casc.agg_hi[i]),
    }
    if casc.votes_lo is not None and casc.votes_hi is not None:
        out["votes"] = _pct(casc.votes_lo[i], casc.votes_hi[i])
    if evidence:
        if out["verdict"] is None:
            out["roots"], out["evidence"] = [], []
        else:
            ev, roots = _cascade_evidence(s, rule, casc, i, run["entries"])
            out["roots"] = [g.id_of(r) for r in roots]
            out["evidence"] = ev
    else:
        out["evidence"] = []
    return out


_RANK = {"designated": 0, "definite": 1, "possible": 2}


def _local(engine: Any) -> bool:
    from statecap.engines.reports import is_local

    return is_local(engine)


def caught_indices(s: Screening, rule: str) -> tuple[np.ndarray, np.ndarray]:
    """(indices, verdict codes 3 designated / 2 definite / 1 possible) of everything `rule` lists."""
    run = s.run(rule)
    if rule == "outbound":
        res: R.OutboundResult = run["result"]
        codes = np.zeros(s.graph.n, dtype=np.int8)
        codes[res.possible] = 1
        codes[res.definite] = 2
    else:
        casc: R.CascadeResult = run["result"]
        codes = casc.verdict_codes()
        codes[casc.root_possible & ~casc.definite] = 1
    idx = np.flatnonzero(codes > 0)
    return idx, codes[idx]


def _sorted(s: Screening, rule: str, idx: np.ndarray, codes: np.ndarray) -> np.ndarray:
    run = s.run(rule)
    res = run["result"]
    casc = res.coc if rule == "outbound" else res
    order = np.lexsort((idx, -casc.agg_lo[idx], -casc.agg_hi[idx], -codes))
    return np.asarray(idx[order])


def screen_rule(
    con: duckdb.DuckDBPyConnection,
    rule: str,
    as_of: dt.date | None = None,
    designated: str | Path | None = None,
    lists: Sequence[str] | None = None,
    use_atlas: bool = True,
    evidence: bool = True,
    limit: int | None = None,
    screening: Screening | None = None,
    engine: Any = None,
    spark_master: str | None = "local[*]",
) -> dict[str, Any]:
    """What `statecap screen --rule RULE --json` prints: every designated entity and every entity caught.

    Returns ``{"rule", "as_of", "evaluated_on", "in_force", "rule_status", "test", "counts",
    "results": [{"id", "name", "verdict", "aggregate": {"lo", "hi"}, "roots", "evidence"}]}``;
    results are ordered designated, definite, possible, then by aggregate (largest first).
    `engine`: ``local`` (default), ``spark`` or an `statecap.engines.Engine`: on another engine the
    verdicts come from its whole-registry run and the evidence from the listed entities'
    upstream registry (`statecap.engines.reports`).
    """
    R.spec(rule)
    if rule == "outbound" and (designated is not None or lists):
        raise UsageError(
            "--designated and --list do not apply to the outbound rule (its roots are persons of a country of concern)"
        )
    if limit is not None and limit < 1:
        raise UsageError("--limit must be at least 1")
    if not _local(engine):
        from statecap.engines import reports

        with reports.engine_for(engine, con, spark_master) as (eng, source):
            return reports.screen_rule(
                eng, source, rule, as_of, designated, lists, use_atlas, evidence, limit
            )
    s = screening or open_screening(con, as_of, designated, lists, use_atlas)
    run = s.run(rule)
    idx, codes = caught_indices(s, rule)
    ordered = _sorted(s, rule, idx, codes)
    names = {3: "designated", 2: "definite", 1: "possible"}
    counts = {v: int(np.count_nonzero(codes == k)) for k, v in names.items()}
    if rule == "outbound":
        counts.pop("designated")
    chosen = ordered if limit is None else ordered[:limit]
    return {
        "rule": rule,
        "as_of": None if as_of is None else as_of.isoformat(),
        "evaluated_on": s.day.isoformat(),
        "in_force": run["status"]["in_force"],
        "rule_status": run["status"],
        "test": _test_json(rule),
        "counts": counts,
        "truncated": bool(limit is not None and len(ordered) > limit),
        "results": [result_json(s, rule, int(i), evidence=evidence) for i in chosen],
    }


def _test_json(rule: str) -> dict[str, Any]:
    sp = R.SPECS[rule]
    return {
        "ownership": sp.ownership.describe(),
        "votes": sp.votes.describe() if sp.votes is not None else None,
        "notes": list(sp.notes),
        "lists": load_taxonomy().lists_for_rule(rule) if rule in DESIGNATION_RULES else [],
    }


def screen_entity(
    con: duckdb.DuckDBPyConnection,
    entity: str,
    rules: Iterable[str] | None = None,
    as_of: dt.date | None = None,
    designated: str | Path | None = None,
    lists: Sequence[str] | None = None,
    use_atlas: bool = True,
    screening: Screening | None = None,
    engine: Any = None,
    spark_master: str | None = "local[*]",
) -> dict[str, Any]:
    """What `statecap screen ENTITY --all-rules --json` prints: one entity under every rule, side by side.

    Returns ``{"entity", "name", "as_of", "evaluated_on", "rules": {RULE: {"verdict", "aggregate",
    "in_force", "rule_status", "roots", "evidence", ...}}}``; ``verdict`` is None when not caught.
    `engine`: as for `screen_rule`.
    """
    if not _local(engine):
        from statecap.engines import reports

        with reports.engine_for(engine, con, spark_master) as (eng, source):
            return reports.screen_entity(
                eng,
                source,
                entity,
                None if rules is None else list(rules),
                as_of,
                designated,
                lists,
                use_atlas,
            )
    eid = resolve_entity(con, entity)
    chosen = list(rules) if rules is not None else list(R.RULES)
    if not chosen:
        raise UsageError("give --all-rules or at least one --rule")
    for r in chosen:
        R.spec(r)
    s = screening or open_screening(con, as_of, designated, lists, use_atlas)
    i = s.graph.index_of(eid)
    out_rules: dict[str, Any] = {}
    for r in chosen:
        if r in DESIGNATION_RULES and lists:
            try:
                rule_lists(r, lists)
            except UsageError as exc:
                out_rules[r] = {"verdict": None, "skipped": str(exc)}
                continue
        res = result_json(s, r, i)
        run = s.run(r)
        res.pop("id")
        res.pop("name")
        out_rules[r] = {
            **res,
            "in_force": run["status"]["in_force"],
            "rule_status": run["status"],
            "test": _test_json(r),
        }
    return {
        "entity": eid,
        "name": s.graph.name_of(i),
        "as_of": None if as_of is None else as_of.isoformat(),
        "evaluated_on": s.day.isoformat(),
        "rules": out_rules,
    }


def screen_diff(
    con: duckdb.DuckDBPyConnection,
    rule_a: str,
    rule_b: str,
    as_of: dt.date | None = None,
    designated: str | Path | None = None,
    lists: Sequence[str] | None = None,
    use_atlas: bool = True,
    evidence: bool = False,
    screening: Screening | None = None,
    engine: Any = None,
    spark_master: str | None = "local[*]",
) -> dict[str, Any]:
    """What `statecap screen diff --rule A --rule B --json` prints: who one rule catches and the other not.

    Returns ``{"rules": [A, B], "as_of", "evaluated_on", "only": {A: [...], B: [...]},
    "different_verdicts": [{"id", "name", A: verdict, B: verdict}], "both": n}``; entries of
    ``only`` are results as in `screen_rule` (evidence only when asked). `engine`: as for
    `screen_rule`.
    """
    if not _local(engine):
        from statecap.engines import reports

        with reports.engine_for(engine, con, spark_master) as (eng, source):
            return reports.screen_diff(
                eng, source, rule_a, rule_b, as_of, designated, lists, use_atlas, evidence
            )
    R.spec(rule_a)
    R.spec(rule_b)
    if rule_a == rule_b:
        raise UsageError("screen diff needs two different rules (--rule A --rule B)")
    s = screening or open_screening(con, as_of, designated, lists, use_atlas)
    codes = {}
    for r in (rule_a, rule_b):
        idx, c = caught_indices(s, r)
        full = np.zeros(s.graph.n, dtype=np.int8)
        full[idx] = c
        codes[r] = full
    a, b = codes[rule_a], codes[rule_b]
    names = {3: "designated", 2: "definite", 1: "possible"}
    only: dict[str, list[dict[str, Any]]] = {}
    for r, mine, other in ((rule_a, a, b), (rule_b, b, a)):
        idx = np.flatnonzero((mine > 0) & (other == 0))
        only[r] = [result_json(s, r, int(i), evidence=evidence) for i in _sorted(s, r, idx, mine[idx])]
    both = np.flatnonzero((a > 0) & (b > 0))
    differ = both[a[both] != b[both]]
    return {
        "rules": [rule_a, rule_b],
        "as_of": None if as_of is None else as_of.isoformat(),
        "evaluated_on": s.day.isoformat(),
        "in_force": {r: s.run(r)["status"]["in_force"] for r in (rule_a, rule_b)},
        "only": only,
        "different_verdicts": [
            {
                "id": s.graph.id_of(int(i)),
                "name": s.graph.name_of(int(i)),
                rule_a: names[int(a[i])],
                rule_b: names[int(b[i])],
            }
            for i in differ
        ],
        "both": int(len(both)),
    }
