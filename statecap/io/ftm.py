"""FollowTheMoney (FtM) entities in and out, through the `followthemoney` library.

In: JSON lines (or a JSON array) of FtM entities. Fragments with the same id are merged first.
Company, Organization, LegalEntity, PublicBody and Person become entities (PublicBody -> state
organ, Person -> person), Ownership -> stakes (free-text percentages such as ``25%``,
``25-50%``, ``> 50``, ``50+`` or ``<10`` become share ranges), Directorship -> directorships,
Sanction -> designations (program and authority mapped to a list code of
``taxonomies/lists.yaml``), Document -> sources. Entities of other schemata (addresses,
vessels, ...) are counted and skipped: statecap does not model them.

Out: the same schemata. Fields FtM has no property for travel as ``statecap:KEY=VALUE`` strings in
``keywords`` (things) or ``summary`` (intervals), which `read` uses to give back the same records.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb

from statecap.errors import DataError, Problem
from statecap.io.ingest import Item, make_record
from statecap.io.records import Directorship, external_id
from statecap.io.store_read import entity_identifiers, read_records
from statecap.model.records import Designation, Entity, Record, Source, Stake
from statecap.model.taxonomy import load_taxonomy

ENTITY_SCHEMATA = ("Company", "Organization", "LegalEntity", "PublicBody", "Person")
TAG = "statecap:"
CJK = re.compile(r"[\u3400-\u9fff]")


def _model() -> Any:
    try:
        from followthemoney import model
    except ImportError as exc:  # pragma: no cover
        raise DataError(
            Problem("(ftm)", None, None, f"FtM needs the io extra: pip install 'statecap[io]' ({exc})")
        ) from None
    return model


# -- percentages ---------------------------------------------------------------------------------

_NUM = r"(\d+(?:[.,]\d+)?)"
_PCT_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(rf"^{_NUM}\s*%?\s*(?:-|–|—|to|bis|~)\s*{_NUM}\s*%?$"), "range"),
    (re.compile(rf"^(?:>=|≥|=>|at least|not less than|min(?:imum)?\.?)\s*{_NUM}\s*%?$"), "min"),
    (re.compile(rf"^(?:>|more than|over|above|greater than)\s*{_NUM}\s*%?$"), "min"),
    (re.compile(rf"^{_NUM}\s*%?\s*(?:\+|or more|and above|plus)$"), "min"),
    (re.compile(rf"^(?:<=|≤|=<|at most|up to|not more than|max(?:imum)?\.?)\s*{_NUM}\s*%?$"), "max"),
    (re.compile(rf"^(?:<|less than|under|below)\s*{_NUM}\s*%?$"), "max"),
    (re.compile(rf"^{_NUM}\s*%?$"), "exact"),
]


def parse_percentage(text: str) -> Any:
    """A free-text percentage as a statecap share value: a number, [min, max], or None (unknown).

    ``"25%"`` -> 25; ``"25-50%"`` -> [25, 50]; ``"> 50"``, ``"50+"`` -> [50, 100];
    ``"<10"`` -> [0, 10]. Strict bounds become closed ones (intervals are closed).
    Raises ValueError for text that is not a percentage.
    """
    t = text.strip().lower().replace("per cent", "%").replace("percent", "%")
    if t in ("", "unknown", "n/a", "na", "?", "undisclosed"):
        return None
    for pattern, kind in _PCT_PATTERNS:
        m = pattern.match(t)
        if m is None:
            continue
        nums = [float(g.replace(",", ".")) for g in m.groups()]
        for x in nums:
            if not 0 <= x <= 100:
                raise ValueError(f"percentage {text!r} is outside 0-100")
        if kind == "exact":
            return nums[0]
        if kind == "min":
            return [nums[0], 100.0]
        if kind == "max":
            return [0.0, nums[0]]
        lo, hi = nums
        if lo > hi:
            raise ValueError(f"percentage range {text!r} has its minimum above its maximum")
        return [lo, hi]
    raise ValueError(f"percentage {text!r} is not a number, a range (25-50%) or a bound (> 50, <10, 50+)")


def _hull(values: list[Any]) -> Any:
    parsed = [v for v in values if v is not None]
    if not parsed:
        return None
    if len(parsed) == 1:
        return parsed[0]
    lo = min(v if isinstance(v, float | int) else v[0] for v in parsed)
    hi = max(v if isinstance(v, float | int) else v[1] for v in parsed)
    return lo if lo == hi else [lo, hi]


# -- sanction programs to list codes -------------------------------------------------------------

_LIST_HINTS: list[tuple[tuple[str, ...], str]] = [
    (("ns-cmic", "ns_cmic", "non-sdn chinese military", "cmic"), "ns_cmic"),
    (("military end user", "military end-user", "meu"), "bis_meu"),
    (("entity list", "bis", "bureau of industry and security", "export administration"), "bis_entity_list"),
    (("1260h", "chinese military compan"), "dod_1260h"),
    (("fcc", "covered list"), "fcc_covered"),
    (("uflpa", "forced labor"), "uflpa_entity_list"),
    (("unreliable entit",), "cn_unreliable_entity_list"),
    (("export control control list", "mofcom export control"), "cn_export_control_list"),
    (("ofac", "sdn", "specially designated", "office of foreign assets control", "treasury"), "ofac_sdn"),
    (("ofsi", "hm treasury", "united kingdom", "uk sanctions", "uk financial"), "uk_sanctions"),
    (
        ("european union", "eu financial", "eu sanctions", "council of the european union", "eu-"),
        "eu_sanctions",
    ),
    (("security council", "united nations", "un sc", "unsc"), "un_sc_sanctions"),
]


def sanction_list(program: list[str], program_id: list[str], authority: list[str], country: list[str]) -> str:
    """The lists.yaml code for an FtM Sanction's program and authority (``other_sanctions`` if none fits)."""
    lists = load_taxonomy().lists
    for pid in program_id:
        code = pid.strip().lower()
        if code in lists:
            return code
    text = " ".join([*program, *program_id, *authority]).lower()
    for hints, code in _LIST_HINTS:
        if any(h in text for h in hints) and code in lists:
            return code
    if "us" in country and "ofac_sdn" in lists and "ofac" in text:
        return "ofac_sdn"
    return "other_sanctions"


# -- reading -------------------------------------------------------------------------------------


def _lines(path: Path, file: str) -> Iterator[tuple[int | None, Any]]:
    with path.open("rb") as fh:
        head = fh.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
        fh.seek(0)
        if head.startswith(b"["):
            import ijson

            try:
                for obj in ijson.items(fh, "item", use_float=True):
                    yield None, obj
            except ijson.JSONError as exc:
                raise DataError(Problem(file, None, None, f"not valid JSON: {exc}")) from None
            return
        for lineno, raw in enumerate(fh, start=1):
            if raw.strip():
                try:
                    yield lineno, json.loads(raw)
                except json.JSONDecodeError as exc:
                    yield lineno, ValueError(f"not valid JSON: {exc.msg} (column {exc.colno})")


def _tags(values: list[str]) -> dict[str, str]:
    out = {}
    for v in values:
        if v.startswith(TAG) and "=" in v:
            k, _, val = v[len(TAG) :].partition("=")
            out[k] = val
    return out


def _date(values: list[str]) -> str | None:
    return values[0][:10] if values else None


def read(ctx: Any) -> Iterator[Item]:
    """Items from one FtM file: entities first (merged by id), then the links between them."""
    model = _model()
    proxies: dict[str, Any] = {}
    where: dict[str, int | None] = {}
    raws: dict[str, list[Any]] = defaultdict(list)
    for line, data in _lines(ctx.path, ctx.file):
        item = Item(file=ctx.file, record=None, line=line, raw=data)
        if isinstance(data, ValueError):
            item.problem(None, str(data))
            yield item
            continue
        if not isinstance(data, dict) or not isinstance(data.get("id"), str) or not data.get("id"):
            item.problem("id", "an FtM entity must be a JSON object with a non-empty id")
            yield item
            continue
        item.record = data["id"]
        schema = model.get(data.get("schema") or "")
        if schema is None:
            item.problem("schema", f"unknown FtM schema {data.get('schema')!r}")
            yield item
            continue
        props = data.get("properties") or {}
        if not isinstance(props, dict):
            item.problem("properties", "properties must be an object of lists")
            yield item
            continue
        for name, values in props.items():
            prop = schema.get(name)
            if prop is None:
                item.problem(f"properties.{name}", f"{schema.name} has no property {name!r}")
                continue
            for v in values if isinstance(values, list) else [values]:
                if prop.type.name != "entity" and prop.type.clean(str(v), proxy=None) is None:
                    item.problem(f"properties.{name}", f"{v!r} is not a valid {prop.type.name}")
        if item.problems:
            yield item
            continue
        try:
            proxy = model.get_proxy(
                {"id": data["id"], "schema": schema.name, "properties": props}, cleaned=False
            )
        except Exception as exc:  # followthemoney raises InvalidData and plain errors
            item.problem(None, f"followthemoney cannot read this entity: {exc}")
            yield item
            continue
        raws[proxy.id].append(data)
        if proxy.id in proxies:
            try:
                proxies[proxy.id] = proxies[proxy.id].merge(proxy)
            except Exception as exc:
                item.problem("schema", f"fragments of {proxy.id} do not merge: {exc}")
                yield item
        else:
            proxies[proxy.id] = proxy
            where[proxy.id] = line

    ids: dict[str, str] = {}
    sources: dict[str, str] = {}
    for fid, p in proxies.items():
        if (
            p.schema.is_a("LegalEntity")
            and p.schema.name in ENTITY_SCHEMATA
            or p.schema.name in ENTITY_SCHEMATA
        ):
            ids[fid] = _tags(p.get("keywords")).get("id") or external_id("ftm", fid)
        elif p.schema.name == "Document":
            sources[fid] = _tags(p.get("keywords")).get("id") or external_id("src-ftm", fid)

    order = sorted(proxies, key=lambda k: (0 if k in sources else 1 if k in ids else 2, where.get(k) or 0))
    for fid in order:
        p = proxies[fid]
        raw = raws[fid][0] if len(raws[fid]) == 1 else raws[fid]
        item = Item(file=ctx.file, record=fid, line=where.get(fid), raw=raw)
        name = p.schema.name
        if fid in sources:
            _source(p, sources[fid], ctx, item)
        elif fid in ids:
            _entity(p, ids, sources, ctx, item)
        elif name == "Ownership":
            _ownership(p, ids, sources, ctx, item)
        elif name == "Directorship":
            _directorship(p, ids, sources, ctx, item)
        elif name == "Sanction":
            _sanction(p, ids, sources, ctx, item)
        else:
            ctx.skipped[name] = ctx.skipped.get(name, 0) + 1
            continue
        yield item


def _ref(values: list[str], ids: dict[str, str]) -> str | None:
    if not values:
        return None
    return ids.get(values[0]) or external_id("ftm", values[0])


def _record_sources(p: Any, sources: dict[str, str], ctx: Any, item: Item) -> list[str]:
    proofs = [sources[d] for d in p.get("proof") if d in sources]
    if proofs:
        return proofs
    urls = [u for u in p.get("sourceUrl") if u.startswith(("http://", "https://"))]
    out = []
    for url in urls:
        sid = "src-ftm-" + hashlib.sha1(url.encode()).hexdigest()[:16]
        out.append(sid)
        if sid not in ctx.seen_sources:
            ctx.seen_sources.add(sid)
            data = {
                "id": sid,
                "url": url,
                "publisher": (p.get("publisher") or [url.split("/")[2]])[0],
                "title": (p.get("publisher") or [url])[0],
                "accessed": _date(p.get("retrievedAt")) or ctx.source.accessed,
                "kind": "database",
            }
            rec = make_record(item, Source, data, "properties.sourceUrl.")
            if rec is not None:
                item.add("sources", rec, ctx.origin)
    return out or [ctx.origin]


def _source(p: Any, sid: str, ctx: Any, item: Item) -> None:
    tags = _tags(p.get("keywords"))
    url = next((u for u in p.get("sourceUrl") if u), None) or tags.get("url") or ctx.source.url
    data = {
        "id": sid,
        "url": url,
        "publisher": (p.get("publisher") or ["unknown"])[0],
        "title": (p.get("title") or p.get("fileName") or [url])[0],
        "accessed": tags.get("accessed") or _date(p.get("retrievedAt")) or ctx.source.accessed,
        "published": _date(p.get("publishedAt")) or _date(p.get("date")),
        "kind": (tags["kind"] or None) if "kind" in tags else "database",
        "confidence": tags.get("confidence", "medium"),
        "note": (p.get("notes") or [None])[0],
    }
    rec = make_record(item, Source, data)
    if rec is not None:
        ctx.seen_sources.add(sid)
        item.add("sources", rec, ctx.origin)


def _entity(p: Any, ids: dict[str, str], sources: dict[str, str], ctx: Any, item: Item) -> None:
    tags = _tags(p.get("keywords"))
    tax = load_taxonomy()
    names = p.get("name")
    name = names[0] if names else p.caption
    aliases = [a for a in [*names[1:], *p.get("alias")] if a != name]
    name_zh = tags.get("name_zh") or None
    if "name_zh" not in tags:
        name_zh = next((a for a in [name, *aliases] if CJK.search(a)), None)
    if "aliases" in tags:
        aliases = json.loads(tags["aliases"])
    elif name_zh is not None:
        aliases = [a for a in aliases if a != name_zh]
    countries = [
        c
        for c in [*p.get("country"), *p.get("jurisdiction"), *p.get("mainCountry")]
        if re.match(r"^[a-z]{2}$", c)
    ]
    country = tags.get("country") or (countries[0] if countries else "zz")
    if "kind" in tags:
        kind = tags["kind"]
    elif p.schema.name == "PublicBody":
        kind = "state_organ"
    elif p.schema.name == "Person":
        kind = "person"
    else:
        kind = "company" if country in ("cn", "zz") else "foreign_company"
    lei = next((v for v in p.get("leiCode") if re.match(r"^[0-9A-Z]{20}$", v)), None)
    uscc = next((v for v in p.get("uscCode") if re.match(r"^[0-9A-Z]{18}$", v)), None)
    wikidata = next((v for v in p.get("wikidataId") if re.match(r"^Q[0-9]+$", v)), None)
    tickers = (
        json.loads(tags["tickers"])
        if "tickers" in tags
        else list(p.get("ticker"))
        if p.schema.get("ticker")
        else []
    )
    sectors = [s for s in p.get("sector") if s in tax.sectors]
    data = {
        "id": ids[p.id],
        "name": name,
        "name_zh": name_zh,
        "aliases": aliases,
        "kind": kind,
        "country": country,
        "level": tags.get("level"),
        "region": tags.get("region"),
        "identifiers": {
            "uscc": tags.get("uscc", uscc),
            "lei": tags.get("lei", lei),
            "tickers": tickers,
            "wikidata": tags.get("wikidata", wikidata),
        },
        "sectors": json.loads(tags["sectors"]) if "sectors" in tags else sectors,
        "description": (p.get("description") or [None])[0],
        "founded": _date(p.get("incorporationDate")),
        "dissolved": _date(p.get("dissolutionDate")),
        "sources": _record_sources(p, sources, ctx, item),
        "confidence": tags.get("confidence", "medium"),
        "note": (p.get("notes") or [None])[0],
    }
    if p.schema.name == "Person":
        data["founded"] = tags.get("founded") or None
        data["dissolved"] = _date(p.get("dissolutionDate"))
    rec = make_record(item, Entity, data)
    if rec is None:
        return
    item.add("entities", rec, ctx.origin)
    item.rows["entity_identifiers"].append({"entity": rec.key, "scheme": "ftm", "value": p.id})
    for v in p.get("keywords"):
        if v.startswith(f"{TAG}identifier=") and ":" in v[len(TAG) + 11 :]:
            scheme, _, value = v[len(TAG) + 11 :].partition(":")
            item.rows["entity_identifiers"].append({"entity": rec.key, "scheme": scheme, "value": value})


def _interval_common(
    p: Any, sources: dict[str, str], ctx: Any, item: Item
) -> tuple[dict[str, Any], dict[str, str]]:
    tags = _tags(p.get("summary"))
    common = {
        "valid_from": _date(p.get("startDate")) or _date(p.get("date")),
        "valid_to": _date(p.get("endDate")),
        "sources": _record_sources(p, sources, ctx, item),
        "confidence": tags.get("confidence", "medium"),
        "note": (p.get("description") or [None])[0],
    }
    return common, tags


def _ownership(p: Any, ids: dict[str, str], sources: dict[str, str], ctx: Any, item: Item) -> None:
    common, tags = _interval_common(p, sources, ctx, item)
    values = []
    for text in p.get("percentage"):
        try:
            values.append(parse_percentage(text))
        except ValueError as exc:
            item.problem("properties.percentage", str(exc))
            return
    otype = " ".join(p.get("ownershipType")).lower()
    data = {
        **common,
        "id": tags.get("id") or external_id("ftm", p.id),
        "owner": _ref(p.get("owner"), ids),
        "owned": _ref(p.get("asset"), ids),
        "share": _hull(values),
        "type": "voting" if "voting" in otype else "equity",
        "direct": tags.get("direct", "true") == "true" and "indirect" not in " ".join(p.get("role")).lower(),
    }
    if data["owner"] is None:
        item.problem("properties.owner", "an Ownership needs an owner")
    if data["owned"] is None:
        item.problem("properties.asset", "an Ownership needs an asset")
    if item.problems:
        return
    rec = make_record(item, Stake, data)
    if rec is not None:
        item.add("stakes", rec, ctx.origin)


def _directorship(p: Any, ids: dict[str, str], sources: dict[str, str], ctx: Any, item: Item) -> None:
    common, tags = _interval_common(p, sources, ctx, item)
    data = {
        **common,
        "id": tags.get("id") or external_id("ftm", p.id),
        "director": _ref(p.get("director"), ids),
        "organization": _ref(p.get("organization"), ids),
        "role": (p.get("role") or [None])[0],
    }
    if data["director"] is None or data["organization"] is None:
        item.problem(
            "properties.director" if data["director"] is None else "properties.organization",
            "a Directorship needs a director and an organization",
        )
        return
    rec = make_record(item, Directorship, data)
    if rec is not None:
        item.add("directorships", rec, ctx.origin)


def _sanction(p: Any, ids: dict[str, str], sources: dict[str, str], ctx: Any, item: Item) -> None:
    common, tags = _interval_common(p, sources, ctx, item)
    start = common.pop("valid_from") or _date(p.get("listingDate"))
    end = common.pop("valid_to")
    if start is None:
        item.problem(
            "properties.startDate",
            "a Sanction needs a startDate, listingDate or date to become a designation",
        )
        return
    data = {
        **common,
        "id": tags.get("id") or external_id("ftm", p.id),
        "entity": _ref(p.get("entity"), ids),
        "list": tags.get("list")
        or sanction_list(p.get("program"), p.get("programId"), p.get("authority"), p.get("country")),
        "start": start,
        "end": end,
        "authority": tags.get("authority"),
        "citation": tags.get("citation")
        or (", ".join(p.get("programId")) or None if "list" not in tags else None),
        "licence_requirement": (p.get("provisions") or [None])[0],
        "note": (p.get("reason") or [None])[0] if "note" not in tags else json.loads(tags["note"]),
    }
    if data["entity"] is None:
        item.problem("properties.entity", "a Sanction needs an entity")
        return
    rec = make_record(item, Designation, data)
    if rec is not None:
        item.add("designations", rec, ctx.origin)


# -- writing -------------------------------------------------------------------------------------

SCHEMA_FOR_KIND = {
    "person": "Person",
    "state_organ": "PublicBody",
    "foreign_government": "PublicBody",
    "research_institute": "Organization",
    "tech_park": "Organization",
}


def _fmt(x: float) -> str:
    return repr(float(x))


def entities(con: duckdb.DuckDBPyConnection, as_of: dt.date | None = None) -> Iterator[Any]:
    """The store (or its state on `as_of`) as FtM entity proxies."""
    model = _model()
    recs = read_records(con, as_of)
    tax = load_taxonomy()
    urls = {s.key: s.url for s in recs["sources"] if isinstance(s, Source)}
    extra = entity_identifiers(con)

    def proxy(schema: str, rid: str, props: dict[str, list[Any]]) -> Any:
        clean = {k: [str(v) for v in vs if v is not None] for k, vs in props.items()}
        return model.get_proxy(
            {"id": rid, "schema": schema, "properties": {k: v for k, v in clean.items() if v}}
        )

    def prov(r: Record) -> dict[str, list[Any]]:
        return {
            "proof": list(r.sources),
            "sourceUrl": [urls[s] for s in r.sources if urls.get(s, "").startswith(("http://", "https://"))],
        }

    for s in recs["sources"]:
        assert isinstance(s, Source)
        yield proxy(
            "Document",
            s.key,
            {
                "title": [s.title],
                "publisher": [s.publisher],
                "sourceUrl": [s.url] if s.url.startswith(("http://", "https://")) else [],
                "retrievedAt": [s.accessed],
                "publishedAt": [s.published],
                "notes": [s.note],
                "keywords": [
                    f"{TAG}id={s.key}",
                    f"{TAG}url={s.url}",
                    f"{TAG}accessed={s.accessed}",
                    f"{TAG}confidence={s.confidence}",
                    f"{TAG}kind={s.kind or ''}",
                ],
            },
        )
    for e in recs["entities"]:
        assert isinstance(e, Entity)
        schema = SCHEMA_FOR_KIND.get(e.kind, "Company")
        props: dict[str, list[Any]] = {
            "name": [e.name],
            "alias": [*([e.name_zh] if e.name_zh else []), *e.aliases],
            "country": [e.country] if e.country != "zz" else [],
            "leiCode": [e.identifiers.lei],
            "uscCode": [e.identifiers.uscc],
            "wikidataId": [e.identifiers.wikidata],
            "sector": [*e.sectors, *(tax.sectors[s].name for s in e.sectors if s in tax.sectors)],
            "description": [e.description],
            "notes": [e.note],
            "keywords": [
                f"{TAG}id={e.key}",
                f"{TAG}kind={e.kind}",
                f"{TAG}country={e.country}",
                f"{TAG}confidence={e.confidence}",
                f"{TAG}aliases={json.dumps(list(e.aliases), ensure_ascii=False)}",
                f"{TAG}sectors={json.dumps(list(e.sectors))}",
                f"{TAG}tickers={json.dumps(list(e.identifiers.tickers))}",
                f"{TAG}name_zh={e.name_zh or ''}",
                *([f"{TAG}uscc={e.identifiers.uscc}"] if e.identifiers.uscc else []),
                *([f"{TAG}lei={e.identifiers.lei}"] if e.identifiers.lei else []),
                *([f"{TAG}wikidata={e.identifiers.wikidata}"] if e.identifiers.wikidata else []),
                *([f"{TAG}level={e.level}"] if e.level else []),
                *([f"{TAG}region={e.region}"] if e.region else []),
            ],
            **prov(e),
        }
        if schema == "Person":
            props["keywords"].append(
                f"{TAG}founded={e.founded.isoformat()}" if e.founded else f"{TAG}founded="
            )
            props["dissolutionDate"] = [e.dissolved]
        else:
            props["incorporationDate"] = [e.founded]
            props["dissolutionDate"] = [e.dissolved]
        if schema == "Company":
            props["ticker"] = list(e.identifiers.tickers)
        for scheme, value in extra.get(e.key, []):
            if scheme == "ftm":
                continue
            props["keywords"].append(f"{TAG}identifier={scheme}:{value}")
        yield proxy(schema, e.key, props)
    for s in recs["stakes"]:
        assert isinstance(s, Stake)
        if s.share.kind == "unknown":
            pct: list[Any] = []
        elif s.share.lo == s.share.hi:
            pct = [_fmt(s.share.lo)]
        else:
            pct = [f"{_fmt(s.share.lo)}-{_fmt(s.share.hi)}"]
        yield proxy(
            "Ownership",
            s.key,
            {
                "owner": [s.owner],
                "asset": [s.owned],
                "percentage": pct,
                "ownershipType": [s.type],
                "role": [] if s.direct else ["indirect"],
                "startDate": [s.valid_from],
                "endDate": [s.valid_to],
                "description": [s.note],
                "recordId": [s.key],
                "summary": [
                    f"{TAG}id={s.key}",
                    f"{TAG}direct={'true' if s.direct else 'false'}",
                    f"{TAG}confidence={s.confidence}",
                ],
                **prov(s),
            },
        )
    for d in recs["designations"]:
        assert isinstance(d, Designation)
        term = tax.lists.get(d.list)
        yield proxy(
            "Sanction",
            d.key,
            {
                "entity": [d.entity],
                "program": [term.name if term else d.list],
                "programId": [d.list],
                "authority": [term.extra.get("authority") if term else None],
                "startDate": [d.start],
                "endDate": [d.end],
                "provisions": [d.licence_requirement],
                "reason": [d.note],
                "recordId": [d.key],
                "summary": [
                    f"{TAG}id={d.key}",
                    f"{TAG}list={d.list}",
                    f"{TAG}confidence={d.confidence}",
                    f"{TAG}note={json.dumps(d.note, ensure_ascii=False)}",
                    *([f"{TAG}authority={d.authority}"] if d.authority else []),
                    *([f"{TAG}citation={d.citation}"] if d.citation else []),
                ],
                **prov(d),
            },
        )
    for r in recs["directorships"]:
        assert isinstance(r, Directorship)
        yield proxy(
            "Directorship",
            r.key,
            {
                "director": [r.director],
                "organization": [r.organization],
                "role": [r.role],
                "startDate": [r.valid_from],
                "endDate": [r.valid_to],
                "description": [r.note],
                "recordId": [r.key],
                "summary": [f"{TAG}id={r.key}", f"{TAG}confidence={r.confidence}"],
                **prov(r),
            },
        )


def write(con: duckdb.DuckDBPyConnection, out: Path, as_of: dt.date | None) -> dict[str, Any]:
    """Write FtM entities as JSON lines to `out`."""
    counts: dict[str, int] = defaultdict(int)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    with tmp.open("w", encoding="utf-8") as fh:
        for p in entities(con, as_of):
            fh.write(json.dumps(p.to_dict(), ensure_ascii=False, sort_keys=True) + "\n")
            counts[p.schema.name] += 1
    tmp.replace(out)
    return dict(counts)
