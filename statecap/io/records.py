"""Typed records only imports produce, and helpers shared by every format.

`Directorship` (FtM Directorship: who sits on whose board) and `OwnershipException` (a declared gap
in ownership reporting: a GLEIF Level 2 reporting exception, a BODS relationship whose interested
party is unspecified) have their own store tables; the other record types are those of
`statecap.model.records`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from typing import Any, ClassVar, Literal

from pydantic import model_validator

from statecap.model.records import (
    Date,
    DatePairs,
    Designation,
    Entity,
    Id,
    Investment,
    JointVenture,
    OptText,
    Partnership,
    PolicyEvent,
    Record,
    Refs,
    Spending,
    Text,
)
from statecap.model.taxonomy import Taxonomy, load_taxonomy
from statecap.model.values import Interval
from statecap.store.build import link_rows, record_row


def _d(value: dt.date | None) -> str:
    return value.isoformat() if value is not None else "open"


class Directorship(Record):
    """A person or body holding a board or officer role in an organisation."""

    folder: ClassVar[str] = "directorships"
    director: Id
    organization: Id
    role: OptText = None
    valid_from: Date = None
    valid_to: Date = None

    def derived_id(self) -> str:
        return f"dir:{self.director}:{self.organization}:{_d(self.valid_from)}"

    def entity_refs(self) -> Refs:
        return [("director", self.director), ("organization", self.organization)]

    def date_pairs(self) -> DatePairs:
        return [("valid_from", self.valid_from, "valid_to", self.valid_to)]


class OwnershipException(Record):
    """An entity's declared reason for not naming an owner (GLEIF reporting exception, BODS unspecified party)."""

    folder: ClassVar[str] = "ownership_exceptions"
    entity: Id
    scheme: Literal["gleif", "bods", "statecap"]
    category: OptText = None
    reason: Text
    description: OptText = None
    reference: OptText = None
    valid_from: Date = None
    valid_to: Date = None

    def derived_id(self) -> str:
        return f"exc:{self.scheme}:{self.entity}:{self.category or 'any'}"

    def entity_refs(self) -> Refs:
        return [("entity", self.entity)]

    def date_pairs(self) -> DatePairs:
        return [("valid_from", self.valid_from, "valid_to", self.valid_to)]

    @model_validator(mode="after")
    def _check(self) -> OwnershipException:
        if self.valid_from is not None and self.valid_to is not None and self.valid_to < self.valid_from:
            raise ValueError("valid_to is before valid_from")
        return self


EXTRA_TYPES: dict[str, type[Record]] = {c.folder: c for c in (Directorship, OwnershipException)}

# Tables whose rows say where they came from (the dataset build, or an import's source id).
ORIGIN_TABLES = ("entities", "stakes", "directorships", "ownership_exceptions")


def row_of(folder: str, rec: Record, origin: str) -> dict[str, Any]:
    """The store row for a record, stamped with `origin` where the table has that column."""
    if isinstance(rec, Directorship):
        row = {
            "id": rec.key, "director": rec.director, "organization": rec.organization, "role": rec.role,
            "valid_from": rec.valid_from, "valid_to": rec.valid_to, "confidence": rec.confidence,
            "note": rec.note,
        }  # fmt: skip
    elif isinstance(rec, OwnershipException):
        row = {
            "id": rec.key, "entity": rec.entity, "scheme": rec.scheme, "category": rec.category,
            "reason": rec.reason, "description": rec.description, "reference": rec.reference,
            "valid_from": rec.valid_from, "valid_to": rec.valid_to, "confidence": rec.confidence,
            "note": rec.note,
        }  # fmt: skip
    else:
        row = record_row(rec)
    if folder in ORIGIN_TABLES:
        row["origin"] = origin
    return row


def rows_of(folder: str, rec: Record, origin: str) -> dict[str, list[dict[str, Any]]]:
    """Every store row for one record: its own row and its link-table rows, by table."""
    out = link_rows(folder, rec)
    out[folder] = [row_of(folder, rec, origin)]
    return out


_SLUG_BAD = re.compile(r"[^a-z0-9._/-]+")


def external_id(prefix: str, raw: str) -> str:
    """A statecap id for an id from another system: ``prefix-`` + a slug of `raw`.

    The slug keeps what the id pattern allows; when anything had to change (case, characters,
    length), a short hash of the original is appended so two different ids never meet.
    ``:`` is never kept: importers use it to separate parts of derived ids.
    """
    text = raw.strip()
    slug = _SLUG_BAD.sub("-", text.lower()).strip("-._/") or "x"
    if slug != text or len(slug) > 80:
        digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:10]
        slug = f"{slug[:80].rstrip('-._/')}-{digest}"
    return f"{prefix}-{slug}"


def share_value(share: Interval) -> Any:
    """The data-file form of an interval (what `parse_share` reads back to the same interval)."""
    if share.kind == "unknown":
        return None
    if share.lo == share.hi:
        return share.lo
    return [share.lo, share.hi]


def code_problems(rec: Record, tax: Taxonomy | None = None) -> list[tuple[str, str]]:
    """(field, reason) for every taxonomy code in `rec` that the taxonomies do not know."""
    tax = tax or load_taxonomy()
    out: list[tuple[str, str]] = []

    def sector(fld: str, code: str | None) -> None:
        if code is not None and code not in tax.sectors:
            out.append((fld, f"unknown sector code {code!r}"))

    if isinstance(rec, Entity):
        if rec.kind not in tax.entity_kinds:
            out.append(("kind", f"unknown entity kind {rec.kind!r}; known: {', '.join(tax.entity_kinds)}"))
        for i, s in enumerate(rec.sectors):
            sector(f"sectors[{i}]", s)
    elif isinstance(rec, Investment):
        if rec.mechanism not in tax.mechanisms:
            out.append(("mechanism", f"unknown mechanism {rec.mechanism!r}"))
        sector("sector", rec.sector)
    elif isinstance(rec, Designation):
        if rec.list not in tax.lists:
            out.append(("list", f"unknown designation list {rec.list!r}; known: {', '.join(tax.lists)}"))
    elif isinstance(rec, Spending):
        if rec.category not in tax.spending_categories:
            out.append(("category", f"unknown spending category {rec.category!r}"))
        sector("sector", rec.sector)
    elif isinstance(rec, Partnership):
        if rec.kind not in tax.partnership_kinds:
            out.append(("kind", f"unknown partnership kind {rec.kind!r}"))
        sector("sector", rec.sector)
    elif isinstance(rec, PolicyEvent):
        if rec.kind not in tax.policy_event_kinds:
            out.append(("kind", f"unknown policy event kind {rec.kind!r}"))
        for i, s in enumerate(rec.sectors):
            sector(f"sectors[{i}]", s)
    elif isinstance(rec, JointVenture) or hasattr(rec, "sector"):
        sector("sector", getattr(rec, "sector", None))
    for f1, d1, f2, d2 in rec.date_pairs():
        if d1 is not None and d2 is not None and d2 < d1:
            out.append((f2, f"{f2} {d2.isoformat()} is before {f1} {d1.isoformat()}"))
    return out
