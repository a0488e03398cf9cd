"""BODS 0.4 (Beneficial Ownership Data Standard) in and out.

In: statements are streamed (``ijson`` for a JSON array, line by line for JSON lines), each
checked against the BODS 0.4 JSON schema that ``libcovebods`` ships (offline), then mapped to
statecap records:

- entity and person records -> entities (``state`` and ``stateBody`` entity types -> state organs,
  persons -> kind ``person``), their recordId kept as identifier scheme ``bods`` and every
  statementId as ``bods-statement``;
- relationship interests -> stakes: ``shareholding`` -> equity, ``votingRights`` -> voting, other
  influence or control interests -> one voting stake of unknown size per relationship and dates
  (unless voting rights are stated); board and officer roles -> directorships; an unspecified
  interested party -> an ownership exception carrying its reason;
- share ``exact`` -> [x, x]; ``minimum``/``maximum`` (or the exclusive bounds, taken as closed)
  -> [min, max] with 0 and 100 for a missing side; no share -> unknown [0, 100];
- ``directOrIndirect: indirect`` -> ``direct: false``; start and end dates -> valid_from/valid_to;
- several statements of one record are versions: the latest wins, a relationship's interests
  that disappear end on the next statement's date, and ``closed`` ends the rest;
- each statement's ``source`` -> a Source record.

Out: one entity or person statement per entity and one relationship statement per owner and
owned pair, valid under the libcovebods schema. What BODS has no field for (statecap ids, kinds,
sectors, Chinese names, confidence, notes, the sources' full records) rides along in a
``statecap`` member of each statement, which BODS tools ignore and `read` uses to give back the
same records.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import IO, Any

import duckdb

from statecap.errors import DataError, Problem
from statecap.io.ingest import Item, make_record
from statecap.io.records import Directorship, OwnershipException, external_id, share_value
from statecap.io.store_read import entity_identifiers, read_records
from statecap.model.records import Entity, Record, Source, Stake
from statecap.model.values import Interval

BODS_VERSION = "0.4"

EQUITY_INTERESTS = {"shareholding"}
VOTING_INTERESTS = {"votingRights"}
CONTROL_INTERESTS = {
    "appointmentOfBoard",
    "otherInfluenceOrControl",
    "controlViaCompanyRulesOrArticles",
    "controlByLegalFramework",
    "rightsGrantedByContract",
    "conditionalRightsGrantedByContract",
    "unknownInterest",
    "unpublishedInterest",
}
ROLE_INTERESTS = {
    "boardMember",
    "boardChair",
    "seniorManagingOfficial",
    "settlor",
    "trustee",
    "protector",
    "nominee",
    "nominator",
}
BENEFIT_INTERESTS = {
    "beneficiaryOfLegalArrangement",
    "rightsToSurplusAssetsOnDissolution",
    "rightsToProfitOrIncome",
    "enjoymentAndUseOfAssets",
    "rightToProfitOrIncomeFromAssets",
}
SOURCE_KINDS = {
    "officialRegister": "registry",
    "selfDeclaration": "company",
    "thirdParty": "database",
    "primaryResearch": "academic",
    "verified": "registry",
}
LEI_RE = re.compile(r"^[0-9A-Z]{20}$")


@cache
def statement_validator() -> Any:
    """A JSON-schema validator for one BODS 0.4 statement, from libcovebods's bundled schema."""
    try:
        from jsonschema import FormatChecker
        from jsonschema.validators import Draft202012Validator
        from libcovebods.config import LibCoveBODSConfig
        from libcovebods.schema_dir import schema_registry
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise DataError(
            Problem("(bods)", None, None, f"BODS needs the io extra: pip install 'statecap[io]' ({exc})")
        ) from None
    folder = LibCoveBODSConfig().config["schema_versions"][BODS_VERSION]["schema_url"]
    registry = schema_registry(folder)
    return Draft202012Validator(
        {"$ref": "urn:statement#/$defs/Statement"}, registry=registry, format_checker=FormatChecker()
    )


def schema_problems(statement: Any) -> list[tuple[str | None, str]]:
    """(field path, message) for each way `statement` breaks the BODS 0.4 schema."""
    out: list[tuple[str | None, str]] = []
    for err in sorted(statement_validator().iter_errors(statement), key=lambda e: list(map(str, e.path))):
        path = _path(err.absolute_path)
        msg = err.message if len(err.message) <= 300 else err.message[:300] + "..."
        out.append((path or None, msg))
    return out


def _path(parts: Any) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


# -- reading -------------------------------------------------------------------------------------


def _statements(fh: IO[bytes], file: str) -> Iterator[tuple[int | None, Any]]:
    """(line or None, statement) from a JSON array (streamed) or JSON lines."""
    import ijson

    head = fh.read(4096)
    fh.seek(0)
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"["):
        try:
            for st in ijson.items(fh, "item", use_float=True):
                yield None, st
        except ijson.JSONError as exc:
            raise DataError(Problem(file, None, None, f"not valid JSON: {exc}")) from None
        return
    for lineno, raw in enumerate(fh, start=1):
        if not raw.strip():
            continue
        try:
            yield lineno, json.loads(raw)
        except json.JSONDecodeError as exc:
            yield (
                lineno,
                _BadLine(f"not valid JSON: {exc.msg} (column {exc.colno})", raw.decode("utf-8", "replace")),
            )


class _BadLine:
    def __init__(self, reason: str, text: str) -> None:
        self.reason = reason
        self.text = text


def read(ctx: Any) -> Iterator[Item]:
    """Items from one BODS 0.4 file (JSON array or JSON lines)."""
    with ctx.path.open("rb") as fh:
        for line, st in _statements(fh, ctx.file):
            if isinstance(st, _BadLine):
                item = Item(file=ctx.file, record=None, line=line, raw=st.text)
                item.problem(None, st.reason)
                yield item
                continue
            yield statement_item(st, ctx, line)


def _label(st: Any) -> str | None:
    if not isinstance(st, dict):
        return None
    rid, sid = st.get("recordId"), st.get("statementId")
    if isinstance(rid, str) and isinstance(sid, str):
        return f"{rid} (statement {sid})"
    return str(rid or sid) if (rid or sid) else None


def _date(value: Any) -> dt.date | None:
    if isinstance(value, str) and re.match(r"^\d{4}-\d{2}-\d{2}", value):
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def statement_item(st: Any, ctx: Any, line: int | None = None) -> Item:
    """One BODS statement as an import item (its records, or its problems)."""
    item = Item(file=ctx.file, record=_label(st), line=line, raw=st)
    if not isinstance(st, dict):
        item.problem(None, "a statement must be a JSON object")
        return item
    for fld, msg in schema_problems(st):
        item.problem(fld, msg)
    version = (
        (st.get("publicationDetails") or {}).get("bodsVersion")
        if isinstance(st.get("publicationDetails"), dict)
        else None
    )
    if version is not None and version != BODS_VERSION:
        item.problem(
            "publicationDetails.bodsVersion", f"BODS {version!r} is not supported; statecap reads BODS 0.4"
        )
    if ("recordId" not in st or "recordDetails" not in st) and not item.problems:
        item.problem(None, "not a BODS 0.4 record-based statement (no recordId/recordDetails)")
    if item.problems:
        return item
    ext: dict[str, Any] = st["statecap"] if isinstance(st.get("statecap"), dict) else {}
    sources = _sources(st, ext, ctx, item)
    if item.problems:
        return item
    stage = {"_date": _date(st.get("statementDate")), "_status": st.get("recordStatus") or "new"}
    kind = st["recordType"]
    if kind in ("entity", "person"):
        _entity(st, ext, sources, ctx, item, stage)
    else:
        _relationship(st, ext, sources, ctx, item, stage)
    return item


def _sources(st: dict[str, Any], ext: dict[str, Any], ctx: Any, item: Item) -> list[str]:
    """Source ids for a statement's records, staging each new Source record once per import."""
    for i, data in enumerate(ext.get("uncited_sources") or []):
        rec = make_record(item, Source, data, f"statecap.uncited_sources[{i}].")
        if rec is not None and rec.key not in ctx.seen_sources:
            ctx.seen_sources.add(rec.key)
            item.add("sources", rec, ctx.origin)
    if isinstance(ext.get("sources"), list) and ext["sources"]:
        ids = []
        for i, data in enumerate(ext["sources"]):
            rec = make_record(item, Source, data, f"statecap.sources[{i}].")
            if rec is None:
                return []
            ids.append(rec.key)
            if rec.key not in ctx.seen_sources:
                ctx.seen_sources.add(rec.key)
                item.add("sources", rec, ctx.origin)
        return ids
    src = st.get("source")
    if not isinstance(src, dict) or not src:
        return [ctx.origin]
    pub = st.get("publicationDetails") or {}
    publisher = (
        (pub.get("publisher") or {}).get("name") or (pub.get("publisher") or {}).get("url") or "unknown"
    )
    key = json.dumps([src, publisher], sort_keys=True, ensure_ascii=False)
    sid = "src-bods-" + hashlib.sha1(key.encode()).hexdigest()[:16]
    if sid not in ctx.seen_sources:
        ctx.seen_sources.add(sid)
        types = [t for t in src.get("type") or [] if isinstance(t, str)]
        data = {
            "id": sid,
            "url": src.get("url") or ctx.source.url,
            "publisher": publisher,
            "title": src.get("description")
            or ("BODS statement source: " + (", ".join(types) or "unspecified")),
            "accessed": _date(src.get("retrievedAt"))
            or _date(pub.get("publicationDate"))
            or _date(st.get("statementDate")),
            "kind": next((SOURCE_KINDS[t] for t in types if t in SOURCE_KINDS), "database"),
        }
        rec = make_record(item, Source, data, "source.")
        if rec is None:
            return []
        item.add("sources", rec, ctx.origin)
    return [sid]


def _country(code: Any) -> str:
    if isinstance(code, str) and re.match(r"^[A-Za-z]{2}($|-)", code):
        return code[:2].lower()
    return "zz"


def _entity(
    st: dict[str, Any], ext: dict[str, Any], sources: list[str], ctx: Any, item: Item, stage: dict[str, Any]
) -> None:
    d = st["recordDetails"]
    rid = st["recordId"]
    base: dict[str, Any] = ext["entity"] if isinstance(ext.get("entity"), dict) else {}
    data: dict[str, Any] = dict(base)
    idents: list[tuple[str, str]] = [("bods", rid), ("bods-statement", st["statementId"])]
    lei = None
    for ident in d.get("identifiers") or []:
        value, scheme = ident.get("id"), ident.get("scheme") or ident.get("schemeName")
        if not value or not scheme:
            continue
        if scheme == "XI-LEI" and LEI_RE.match(str(value)):
            lei = str(value)
        elif scheme in ("statecap", "XI-STATECAP"):
            continue
        else:
            idents.append((str(scheme).lower(), str(value)))
    if st["recordType"] == "person":
        names = d.get("names") or []
        name = next((n.get("fullName") for n in names if n.get("fullName")), None)
        if name is None and names:
            name = " ".join(x for x in (names[0].get("givenName"), names[0].get("familyName")) if x) or None
        if name is None:
            name = {"anonymousPerson": "Anonymous person", "unknownPerson": "Unknown person"}.get(
                d.get("personType"), "Unnamed person"
            ) + f" ({rid})"
        nat = (d.get("nationalities") or [{}])[0]
        data.setdefault("kind", "person")
        country = _country(nat.get("code"))
        founded, dissolved = data.get("founded"), data.get("dissolved")
    else:
        etype = str((d.get("entityType") or {}).get("type"))
        name = d.get("name") or {
            "anonymousEntity": "Anonymous entity",
            "unknownEntity": "Unknown entity",
        }.get(etype, "Unnamed entity") + ("" if d.get("name") else f" ({rid})")
        country = _country((d.get("jurisdiction") or {}).get("code"))
        if "kind" not in data:
            if etype in ("state", "stateBody"):
                data["kind"] = "state_organ"
            else:
                data["kind"] = "company" if country in ("cn", "zz") else "foreign_company"
        founded, dissolved = _date(d.get("foundingDate")), _date(d.get("dissolutionDate"))
        if founded is None and d.get("foundingDate"):
            item.problem("recordDetails.foundingDate", f"date {d['foundingDate']!r} is not YYYY-MM-DD")
        if dissolved is None and d.get("dissolutionDate"):
            item.problem("recordDetails.dissolutionDate", f"date {d['dissolutionDate']!r} is not YYYY-MM-DD")
        if not base and d.get("alternateNames"):
            data["aliases"] = [a for a in d["alternateNames"] if isinstance(a, str)]
    idt = dict(data.get("identifiers") or {})
    idt["lei"] = lei
    data.update(
        {
            "id": data.get("id") or external_id("bods", rid),
            "name": name,
            "country": country,
            "founded": founded,
            "dissolved": dissolved,
            "identifiers": idt,
            "sources": sources,
        }
    )
    rec = make_record(item, Entity, data)
    if rec is None:
        return
    item.add("entities", rec, ctx.origin, **stage)
    item.rows["entity_identifiers"].extend({"entity": rec.key, "scheme": s, "value": v} for s, v in idents)


def _share(share: Any) -> Any:
    """The statecap share value for a BODS share object (None: unknown)."""
    if not isinstance(share, dict) or not share:
        return None
    if share.get("exact") is not None:
        return share["exact"]
    lo = share.get("minimum", share.get("exclusiveMinimum"))
    hi = share.get("maximum", share.get("exclusiveMaximum"))
    if lo is None and hi is None:
        return None
    return [0 if lo is None else lo, 100 if hi is None else hi]


def _relationship(
    st: dict[str, Any], ext: dict[str, Any], sources: list[str], ctx: Any, item: Item, stage: dict[str, Any]
) -> None:
    d = st["recordDetails"]
    rid = st["recordId"]
    group = external_id("bods", rid) + ":"
    item.version = {"_group": group, **stage}
    stage = {**stage, "_group": group}
    subject = ext.get("subject") or external_id("bods", d["subject"])
    party = d["interestedParty"]
    if isinstance(party, dict):
        exc = {
            "id": ext.get("exception", {}).get("id") if isinstance(ext.get("exception"), dict) else None,
            **(ext.get("exception") or {}),
        }
        exc.update(
            {
                "entity": subject,
                "scheme": exc.get("scheme") or "bods",
                "reason": exc.get("reason") or party.get("reason"),
                "description": exc.get("description", party.get("description")),
                "sources": exc.get("sources") or sources,
            }
        )
        if exc.get("id") is None:
            exc["id"] = group + "unspecified"
        rec = make_record(item, OwnershipException, exc, "recordDetails.interestedParty.")
        if rec is not None:
            item.add("ownership_exceptions", rec, ctx.origin)
        return
    owner = ext.get("interestedParty") or external_id("bods", party)
    interests = d.get("interests") or []
    ext_interests: list[Any] = ext["interests"] if isinstance(ext.get("interests"), list) else []
    direct_types = {
        (i.get("directOrIndirect"), i.get("startDate"), i.get("endDate")): i.get("type") for i in interests
    }
    stated = defaultdict(set)
    for it in interests:
        stated[(it.get("directOrIndirect"), it.get("startDate"), it.get("endDate"))].add(it.get("type"))
    seen: dict[str, int] = {}
    for i, it in enumerate(interests):
        where = f"recordDetails.interests[{i}]."
        iext = ext_interests[i] if i < len(ext_interests) and isinstance(ext_interests[i], dict) else {}
        itype = it.get("type")
        key = (it.get("directOrIndirect"), it.get("startDate"), it.get("endDate"))
        types_here = stated[key]
        common: dict[str, Any] = {
            "valid_from": it.get("startDate"),
            "valid_to": it.get("endDate"),
            "sources": iext.get("sources") or sources,
            "confidence": iext.get("confidence", "medium"),
            "note": iext.get("note"),
        }
        if itype in ROLE_INTERESTS or iext.get("record") == "directorships":
            data = {**common, "director": owner, "organization": subject, "role": iext.get("role", itype)}
            data["id"] = iext.get("id") or f"{group}{itype}:{it.get('startDate') or 'open'}"
            rec = make_record(item, Directorship, data, where)
            if rec is not None:
                item.add("directorships", rec, ctx.origin)
            continue
        if itype in EQUITY_INTERESTS:
            stype = "equity"
        elif itype in VOTING_INTERESTS:
            stype = "voting"
        elif itype in CONTROL_INTERESTS:
            if types_here & VOTING_INTERESTS:
                continue  # stated voting rights already say how much control
            stype = "voting"
        elif itype in BENEFIT_INTERESTS:
            if types_here & EQUITY_INTERESTS:
                continue  # the shareholding already counts this economic interest
            stype = "equity"
        else:  # pragma: no cover - the schema's enum stops anything else
            continue
        share = _share(it.get("share"))
        grouped = itype in CONTROL_INTERESTS or itype in BENEFIT_INTERESTS
        ident = f"{stype}:{it.get('directOrIndirect') or 'unknown'}:{it.get('startDate') or 'open'}"
        if grouped:
            if ident in seen:
                continue  # one stake for all such interests with these dates
            share = share if len(types_here & (CONTROL_INTERESTS | BENEFIT_INTERESTS)) == 1 else None
        elif ident in seen:
            item.problem(
                f"recordDetails.interests[{i}]",
                f"same interest type, directOrIndirect and startDate as interests[{seen[ident]}]",
            )
            continue
        seen[ident] = i
        data = {
            **common,
            "id": iext.get("id") or group + hashlib.sha1(ident.encode()).hexdigest()[:10],
            "owner": owner,
            "owned": subject,
            "share": share,
            "type": stype,
            "direct": iext["direct"] if "direct" in iext else it.get("directOrIndirect") != "indirect",
        }
        if data["note"] is None and itype not in EQUITY_INTERESTS | VOTING_INTERESTS:
            data["note"] = f"BODS interest {itype}" + (f": {it['details']}" if it.get("details") else "")
        rec = make_record(item, Stake, data, where)
        if rec is not None:
            item.add("stakes", rec, ctx.origin, **stage)
    del direct_types


# -- writing -------------------------------------------------------------------------------------


def _country_name(code: str) -> str:
    try:
        import pycountry

        c = pycountry.countries.get(alpha_2=code.upper())
        if c is not None:
            return str(c.name)
    except ImportError:  # pragma: no cover
        pass
    return code.upper()


def _statement_id(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:40]


def _dump(rec: Record) -> dict[str, Any]:
    return json.loads(rec.model_dump_json())


def statements(con: duckdb.DuckDBPyConnection, as_of: dt.date | None = None) -> Iterator[dict[str, Any]]:
    """The store (or its state on `as_of`) as BODS 0.4 statements."""
    recs = read_records(con, as_of)
    sources = {s.key: _dump(s) for s in recs["sources"]}
    extra_ids = entity_identifiers(con)
    day = (as_of or dt.date.today()).isoformat()
    cited = {
        s
        for folder in ("entities", "stakes", "directorships", "ownership_exceptions")
        for r in recs[folder]
        for s in r.sources
    }
    uncited = set(sources) - cited
    pub = {"publicationDate": day, "bodsVersion": BODS_VERSION, "publisher": {"name": "statecap"}}

    def envelope(
        record_id: str,
        subject: str,
        rtype: str,
        details: dict[str, Any],
        ext: dict[str, Any],
        srcs: list[str],
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "declarationSubject": subject,
            "statementDate": day,
            "publicationDetails": pub,
            "recordId": record_id,
            "recordStatus": "new",
            "recordType": rtype,
            "recordDetails": details,
        }
        first = sources.get(srcs[0]) if srcs else None
        if first is not None:
            src: dict[str, Any] = {
                "type": ["thirdParty"],
                "description": f"{first['publisher']}: {first['title']}",
            }
            if first["url"].startswith(("http://", "https://")):
                src["url"] = first["url"]
            if first.get("accessed"):
                src["retrievedAt"] = first["accessed"]
            body["source"] = src
        ext["sources"] = [sources[s] for s in srcs if s in sources]
        if uncited:  # sources no exported record cites ride on the first statement
            ext["uncited_sources"] = [sources[s] for s in sorted(uncited)]
            uncited.clear()
        body["statecap"] = ext
        return {"statementId": _statement_id(body), **body}

    for e in recs["entities"]:
        assert isinstance(e, Entity)
        idents = []
        if e.identifiers.lei:
            idents.append(
                {
                    "id": e.identifiers.lei,
                    "scheme": "XI-LEI",
                    "schemeName": "Global Legal Entity Identifier Index",
                }
            )
        if e.identifiers.uscc:
            idents.append({"id": e.identifiers.uscc, "schemeName": "Unified Social Credit Code"})
        for t in e.identifiers.tickers:
            idents.append({"id": t, "schemeName": "Stock ticker"})
        if e.identifiers.wikidata:
            idents.append({"id": e.identifiers.wikidata, "schemeName": "Wikidata"})
        for scheme, value in extra_ids.get(e.key, []):
            if scheme not in ("bods", "bods-statement"):
                idents.append({"id": value, "schemeName": scheme})
        ext: dict[str, Any] = {"entity": _dump(e)}
        if e.kind == "person":
            details: dict[str, Any] = {
                "isComponent": False,
                "personType": "knownPerson",
                "names": [{"type": "legal", "fullName": e.name}],
            }
            if e.country != "zz":
                details["nationalities"] = [{"code": e.country.upper(), "name": _country_name(e.country)}]
            if idents:
                details["identifiers"] = idents
            yield envelope(e.key, e.key, "person", details, ext, list(e.sources))
            continue
        etype = (
            {"type": "stateBody", "subtype": "governmentDepartment"}
            if e.kind in ("state_organ", "foreign_government")
            else {"type": "registeredEntity"}
        )
        details = {"isComponent": False, "entityType": etype, "name": e.name}
        alt = [*([e.name_zh] if e.name_zh else []), *e.aliases]
        if alt:
            details["alternateNames"] = alt
        if e.country != "zz":
            details["jurisdiction"] = {"code": e.country.upper(), "name": _country_name(e.country)}
        if idents:
            details["identifiers"] = idents
        if e.founded:
            details["foundingDate"] = e.founded.isoformat()
        if e.dissolved:
            details["dissolutionDate"] = e.dissolved.isoformat()
        yield envelope(e.key, e.key, "entity", details, ext, list(e.sources))

    pairs: dict[tuple[str, str], list[Record]] = defaultdict(list)
    for s in recs["stakes"]:
        assert isinstance(s, Stake)
        pairs[(s.owner, s.owned)].append(s)
    for dr in recs["directorships"]:
        assert isinstance(dr, Directorship)
        pairs[(dr.director, dr.organization)].append(dr)
    for (owner, owned), items in sorted(pairs.items()):
        interests: list[dict[str, Any]] = []
        iexts: list[dict[str, Any]] = []
        srcs: list[str] = []
        for r in items:
            ie: dict[str, Any] = {
                "id": r.key,
                "confidence": r.confidence,
                "note": r.note,
                "sources": list(r.sources),
            }
            srcs.extend(s for s in r.sources if s not in srcs)
            if isinstance(r, Stake):
                it: dict[str, Any] = {
                    "type": "shareholding" if r.type == "equity" else "votingRights",
                    "directOrIndirect": "direct" if r.direct else "indirect",
                    "beneficialOwnershipOrControl": False,
                }
                if r.share.kind != "unknown":
                    it["share"] = (
                        {"exact": r.share.lo}
                        if r.share.lo == r.share.hi
                        else {"minimum": r.share.lo, "maximum": r.share.hi}
                    )
                ie["direct"] = r.direct
                start, end = r.valid_from, r.valid_to
            else:
                assert isinstance(r, Directorship)
                it = {"type": "boardMember", "beneficialOwnershipOrControl": False}
                if r.role:
                    it["details"] = r.role
                ie.update({"record": "directorships", "role": r.role})
                start, end = r.valid_from, r.valid_to
            if start:
                it["startDate"] = start.isoformat()
            if end:
                it["endDate"] = end.isoformat()
            interests.append(it)
            iexts.append(ie)
        details = {"isComponent": False, "subject": owned, "interestedParty": owner, "interests": interests}
        ext = {"subject": owned, "interestedParty": owner, "interests": iexts}
        yield envelope(f"rel:{owner}:{owned}", owned, "relationship", details, ext, srcs)

    for x in recs["ownership_exceptions"]:
        assert isinstance(x, OwnershipException)
        reason = x.reason if x.reason in _UNSPECIFIED else "unknown"
        party: dict[str, Any] = {"reason": reason}
        desc = x.description or (
            f"{x.scheme} {x.category or ''} {x.reason}".strip() if reason != x.reason else None
        )
        if desc:
            party["description"] = desc
        details = {"isComponent": False, "subject": x.entity, "interestedParty": party}
        ext = {"subject": x.entity, "exception": _dump(x)}
        yield envelope(f"exc:{x.key}", x.entity, "relationship", details, ext, list(x.sources))


_UNSPECIFIED = {
    "noBeneficialOwners",
    "subjectUnableToConfirmOrIdentifyBeneficialOwner",
    "interestedPartyHasNotProvidedInformation",
    "subjectExemptFromDisclosure",
    "interestedPartyExemptFromDisclosure",
    "unknown",
    "informationUnknownToPublisher",
}


def write(con: duckdb.DuckDBPyConnection, out: Path, as_of: dt.date | None) -> dict[str, Any]:
    """Write BODS 0.4 statements as a JSON array to `out`; every statement is schema-checked first."""
    counts: dict[str, int] = defaultdict(int)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write("[\n")
        first = True
        for st in statements(con, as_of):
            bad = schema_problems(st)
            if bad:
                fld, msg = bad[0]
                raise DataError(
                    Problem(str(out), st["recordId"], fld, f"export is not valid BODS 0.4: {msg}")
                )
            fh.write(("" if first else ",\n") + json.dumps(st, ensure_ascii=False))
            first = False
            counts[st["recordType"]] += 1
        fh.write("\n]\n")
    tmp.replace(out)
    return dict(counts)


__all__ = ["read", "write", "statements", "schema_problems", "share_value", "Interval"]
