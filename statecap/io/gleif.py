"""GLEIF Level 2 ("who owns whom") relationship records and reporting exceptions, CSV or JSON.

Accepted as GLEIF publishes them: the golden-copy CSV files (``Relationship.StartNode.NodeID``,
``Relationship.Period.1.startDate``, ... and ``LEI``, ``ExceptionCategory``,
``ExceptionReason.1``, ...), the golden-copy JSON (XML-style ``{"$": value}`` leaves) and the
API's JSON (``data[].attributes``).

Mapping (see docs/formats.md):

- ``IS_DIRECTLY_CONSOLIDATED_BY``: the end node (parent) holds the start node (child) as a
  **voting** (control) stake of **unknown** size: accounting consolidation means control, not a
  known share of the equity. ``direct: true``.
- ``IS_ULTIMATELY_CONSOLIDATED_BY``: the same with ``direct: false``, so an ultimate link never
  counts again on top of the chain of direct links it summarises.
- The ``RELATIONSHIP_PERIOD`` gives valid_from/valid_to; an ``INACTIVE`` relationship with no end
  date ends on the record's last update.
- Each LEI is matched to an entity already in the store (by LEI); otherwise a placeholder entity
  ``lei-<lei>`` is created (Level 2 files carry no names).
- Reporting exceptions become ownership exceptions (scheme ``gleif``) with their category,
  reasons and reference.
- Other relationship types (branches, fund management, sub-funds, feeders) are skipped and
  counted: they are not ownership.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections.abc import Iterator
from typing import Any

from statecap.errors import DataError, Problem
from statecap.io.ingest import Item, make_record
from statecap.io.records import OwnershipException
from statecap.model.records import Entity, Stake

LEI_RE = re.compile(r"^[0-9A-Z]{20}$")
LINK_TYPES = {"IS_DIRECTLY_CONSOLIDATED_BY": True, "IS_ULTIMATELY_CONSOLIDATED_BY": False}
CONFIDENCE = {"FULLY_CORROBORATED": "high", "PARTIALLY_CORROBORATED": "medium", "ENTITY_SUPPLIED_ONLY": "low"}


def _leaf(x: Any) -> Any:
    if isinstance(x, dict) and "$" in x:
        return x["$"]
    return x


def _get(obj: Any, *keys: str) -> Any:
    """Case-insensitive nested lookup that unwraps ``{"$": value}`` leaves."""
    for key in keys:
        if not isinstance(obj, dict):
            return None
        low = key.lower()
        obj = next((v for k, v in obj.items() if k.lower() == low), None)
    return _leaf(obj)


def _list(x: Any) -> list[Any]:
    if x is None:
        return []
    return x if isinstance(x, list) else [x]


def _day(value: Any) -> dt.date | None:
    if isinstance(value, str) and re.match(r"^\d{4}-\d{2}-\d{2}", value.strip()):
        return dt.date.fromisoformat(value.strip()[:10])
    return None


# -- normalised records ----------------------------------------------------------------------


def _rel_from_csv(row: dict[str, str]) -> dict[str, Any]:
    periods = []
    for n in range(1, 10):
        base = f"Relationship.Period.{n}."
        if f"{base}periodType" not in row:
            break
        periods.append((row.get(f"{base}startDate"), row.get(f"{base}endDate"), row.get(f"{base}periodType")))
    return {
        "start": row.get("Relationship.StartNode.NodeID"),
        "start_type": row.get("Relationship.StartNode.NodeIDType"),
        "end": row.get("Relationship.EndNode.NodeID"),
        "end_type": row.get("Relationship.EndNode.NodeIDType"),
        "type": row.get("Relationship.RelationshipType"),
        "status": row.get("Relationship.RelationshipStatus"),
        "periods": periods,
        "validation": row.get("Registration.ValidationSources"),
        "updated": row.get("Registration.LastUpdateDate"),
        "registration": row.get("Registration.RegistrationStatus"),
    }


def _rel_from_json(rec: dict[str, Any]) -> dict[str, Any]:
    rec = _get(rec, "RelationshipRecord") or _get(rec, "attributes") or rec
    rel = _get(rec, "Relationship") or {}
    reg = _get(rec, "Registration") or {}
    start = _get(rel, "StartNode") or {}
    end = _get(rel, "EndNode") or {}
    raw_periods = _get(rel, "RelationshipPeriods")
    if isinstance(raw_periods, dict):
        raw_periods = _get(raw_periods, "RelationshipPeriod")
    if raw_periods is None:
        raw_periods = _get(rel, "periods")
    periods = [
        (_get(p, "StartDate"), _get(p, "EndDate"), _get(p, "PeriodType") or _get(p, "type"))
        for p in _list(raw_periods)
    ]
    return {
        "start": _get(start, "NodeID") or _get(start, "id"),
        "start_type": _get(start, "NodeIDType") or _get(start, "type"),
        "end": _get(end, "NodeID") or _get(end, "id"),
        "end_type": _get(end, "NodeIDType") or _get(end, "type"),
        "type": _get(rel, "RelationshipType") or _get(rel, "type"),
        "status": _get(rel, "RelationshipStatus") or _get(rel, "status"),
        "periods": periods,
        "validation": _get(reg, "ValidationSources") or _get(reg, "corroborationLevel"),
        "updated": _get(reg, "LastUpdateDate") or _get(reg, "lastUpdateDate"),
        "registration": _get(reg, "RegistrationStatus") or _get(reg, "status"),
    }


def _exc_from_csv(row: dict[str, str]) -> dict[str, Any]:
    reasons = [v for k, v in sorted(row.items()) if k.startswith("ExceptionReason") and v]
    refs = [v for k, v in sorted(row.items()) if k.startswith("ExceptionReference") and v]
    return {
        "lei": row.get("LEI"),
        "category": row.get("ExceptionCategory"),
        "reasons": reasons,
        "references": refs,
    }


def _exc_from_json(rec: dict[str, Any]) -> dict[str, Any]:
    rec = _get(rec, "attributes") or rec
    reasons = [_leaf(r) for r in _list(_get(rec, "ExceptionReason") or _get(rec, "reason"))]
    refs = [_leaf(r) for r in _list(_get(rec, "ExceptionReference") or _get(rec, "reference"))]
    return {
        "lei": _get(rec, "LEI"),
        "category": _get(rec, "ExceptionCategory") or _get(rec, "category"),
        "reasons": [r for r in reasons if r],
        "references": [r for r in refs if r],
    }


def _records(ctx: Any) -> Iterator[tuple[int | None, str, dict[str, Any], Any]]:
    """(line, 'rel'|'exc', normalised record, raw) from a GLEIF CSV or JSON file."""
    data = ctx.path.read_bytes()
    text = data.decode("utf-8-sig", errors="strict") if data else ""
    if text.lstrip().startswith(("{", "[")):
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(
                Problem(ctx.file, None, None, f"not valid JSON: {exc.msg} (line {exc.lineno})")
            ) from None
        items = doc if isinstance(doc, list) else None
        if isinstance(doc, dict):
            for key in ("relations", "records", "exceptions", "data"):
                if isinstance(_get(doc, key), list):
                    items = _get(doc, key)
                    break
        if items is None:
            raise DataError(
                Problem(ctx.file, None, None, "no list of relationship records or reporting exceptions")
            )
        for raw in items:
            body = (
                (_get(raw, "RelationshipRecord") or _get(raw, "attributes") or raw)
                if isinstance(raw, dict)
                else raw
            )
            if isinstance(body, dict) and (_get(body, "Relationship") is not None):
                yield None, "rel", _rel_from_json(raw), raw
            elif isinstance(body, dict) and (_get(body, "ExceptionCategory") or _get(body, "category")):
                yield None, "exc", _exc_from_json(raw), raw
            else:
                yield None, "bad", {}, raw
        return
    reader = csv.DictReader(io.StringIO(text))
    fields = reader.fieldnames or []
    if "Relationship.StartNode.NodeID" in fields:
        kind = "rel"
    elif "ExceptionCategory" in fields and "LEI" in fields:
        kind = "exc"
    else:
        raise DataError(
            Problem(
                ctx.file,
                None,
                None,
                "not a GLEIF Level 2 CSV (no Relationship.StartNode.NodeID or LEI/ExceptionCategory column)",
                1,
            )
        )
    for row in reader:
        line = reader.line_num
        yield line, kind, _rel_from_csv(row) if kind == "rel" else _exc_from_csv(row), row


def _entity_for(lei: str, ctx: Any, made: dict[str, str], item: Item) -> str:
    """The store entity with this LEI, or a placeholder created in this import."""
    if lei in made:
        return made[lei]
    row = ctx.con.execute(
        "SELECT id FROM entities WHERE lei = ? UNION SELECT entity FROM entity_identifiers "
        "WHERE scheme IN ('lei', 'gleif') AND value = ? ORDER BY 1 LIMIT 1",
        [lei, lei],
    ).fetchall()
    if row:
        made[lei] = str(row[0][0])
        return made[lei]
    eid = f"lei-{lei.lower()}"
    rec = make_record(
        item,
        Entity,
        {
            "id": eid,
            "name": f"LEI {lei}",
            "kind": "company",
            "country": "zz",
            "identifiers": {"lei": lei},
            "sources": [ctx.origin],
            "confidence": "low",
            "note": "placeholder from a GLEIF Level 2 file: its name and details are in GLEIF Level 1",
        },
    )
    if rec is not None:
        item.add("entities", rec, ctx.origin)
        item.rows["entity_identifiers"].append({"entity": eid, "scheme": "gleif", "value": lei})
    made[lei] = eid
    return eid


def read(ctx: Any) -> Iterator[Item]:
    """Items from one GLEIF Level 2 file (relationship records or reporting exceptions)."""
    made: dict[str, str] = {}
    for n, (line, kind, rec, raw) in enumerate(_records(ctx), start=1):
        label = f"#{n}" if line is None else None
        item = Item(file=ctx.file, record=label, line=line, raw=raw)
        if kind == "bad":
            item.problem(None, "neither a relationship record nor a reporting exception")
            yield item
            continue
        if kind == "exc":
            _exception(rec, ctx, made, item)
        else:
            item.record = f"{rec.get('start')} {rec.get('type')} {rec.get('end')}"
            if rec.get("type") not in LINK_TYPES:
                if rec.get("type") is None:
                    item.problem("Relationship.RelationshipType", "missing relationship type")
                    yield item
                else:
                    ctx.skipped[str(rec["type"])] = ctx.skipped.get(str(rec["type"]), 0) + 1
                continue
            _relationship(rec, ctx, made, item)
        yield item


def _relationship(rec: dict[str, Any], ctx: Any, made: dict[str, str], item: Item) -> None:
    for side in ("start", "end"):
        lei, typ = rec.get(side), rec.get(f"{side}_type")
        node = "StartNode" if side == "start" else "EndNode"
        if typ not in (None, "", "LEI"):
            item.problem(f"Relationship.{node}.NodeIDType", f"node id type {typ!r} is not LEI")
        elif not isinstance(lei, str) or not LEI_RE.match(lei):
            item.problem(
                f"Relationship.{node}.NodeID", f"{lei!r} is not an LEI (20 digits or capital letters)"
            )
    if item.problems:
        return
    period = next((p for p in rec["periods"] if p[2] == "RELATIONSHIP_PERIOD"), None)
    start = _day(period[0]) if period else None
    end = _day(period[1]) if period else None
    if period and period[0] and start is None:
        item.problem("Relationship.Period.startDate", f"{period[0]!r} is not a date")
        return
    note = None
    if rec.get("status") == "INACTIVE" and end is None:
        updated = _day(rec.get("updated"))
        if updated is not None and (start is None or updated >= start):
            end = updated
        note = "GLEIF relationship status INACTIVE"
    direct = LINK_TYPES[rec["type"]]
    child = _entity_for(rec["start"], ctx, made, item)
    parent = _entity_for(rec["end"], ctx, made, item)
    kind = "direct" if direct else "ultimate"
    data = {
        "id": f"gleif-{kind}:{rec['start'].lower()}:{rec['end'].lower()}:{start.isoformat() if start else 'open'}",
        "owner": parent,
        "owned": child,
        "share": None,
        "type": "voting",
        "direct": direct,
        "valid_from": start,
        "valid_to": end,
        "sources": [ctx.origin],
        "confidence": CONFIDENCE.get(str(rec.get("validation")), "medium"),
        "note": "; ".join(x for x in (f"GLEIF {rec['type']}", note) if x),
    }
    stake = make_record(item, Stake, data)
    if stake is not None:
        item.add("stakes", stake, ctx.origin)


def _exception(rec: dict[str, Any], ctx: Any, made: dict[str, str], item: Item) -> None:
    lei = rec.get("lei")
    item.record = f"{lei} {rec.get('category')}"
    if not isinstance(lei, str) or not LEI_RE.match(lei):
        item.problem("LEI", f"{lei!r} is not an LEI (20 digits or capital letters)")
        return
    if not rec["reasons"]:
        item.problem("ExceptionReason", "a reporting exception needs a reason")
        return
    entity = _entity_for(lei, ctx, made, item)
    cat = rec.get("category") or "UNSPECIFIED"
    data = {
        "id": f"gleif-exception:{lei.lower()}:{cat.lower()}",
        "entity": entity,
        "scheme": "gleif",
        "category": cat,
        "reason": ",".join(rec["reasons"]),
        "reference": "; ".join(rec["references"]) or None,
        "sources": [ctx.origin],
    }
    x = make_record(item, OwnershipException, data)
    if x is not None:
        item.add("ownership_exceptions", x, ctx.origin)
