"""Taxonomies (entity kinds, sectors, mechanisms, lists, categories) kept as YAML data.

They are checked on load: a missing code, a duplicate, or a reference to an unknown code stops
the program with the file and the entry named, as FollowTheMoney does with its schemata.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from statecap.errors import DataError, Problem

RULES = ("ofac50", "bis-affiliates", "outbound", "owned-or-controlled")


@dataclass(frozen=True)
class Term:
    code: str
    name: str
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Taxonomy:
    """Every controlled vocabulary, with lookups by code."""

    entity_kinds: dict[str, Term]
    sectors: dict[str, Term]  # "semiconductors" and "semiconductors.fabrication"
    mechanisms: dict[str, Term]
    lists: dict[str, Term]
    spending_categories: dict[str, Term]
    partnership_kinds: dict[str, Term]
    policy_event_kinds: dict[str, Term]

    @property
    def state_kinds(self) -> frozenset[str]:
        """Entity kinds whose entities are state organs (roots of state ownership)."""
        return frozenset(c for c, t in self.entity_kinds.items() if t.extra.get("state"))

    @property
    def top_sectors(self) -> list[str]:
        return [c for c in self.sectors if "." not in c]

    def sector_parent(self, code: str) -> str:
        return code.split(".", 1)[0]

    def lists_for_rule(self, rule: str) -> list[str]:
        return [c for c, t in self.lists.items() if rule in t.extra.get("rules", [])]


def _dir() -> Path:
    return Path(str(resources.files("statecap.model") / "taxonomies"))


def _read(path: Path) -> Any:
    with path.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def _terms(path: Path, items: Any, where: str) -> dict[str, Term]:
    if not isinstance(items, list):
        raise DataError(Problem(str(path), None, where, "expected a list of terms"))
    out: dict[str, Term] = {}
    for i, item in enumerate(items):
        if not isinstance(item, dict) or "code" not in item or "name" not in item:
            raise DataError(Problem(str(path), f"#{i + 1}", where, "each term needs a code and a name"))
        code = str(item["code"])
        if code in out:
            raise DataError(Problem(str(path), code, "code", "duplicate code"))
        extra = {k: v for k, v in item.items() if k not in {"code", "name", "description", "children"}}
        out[code] = Term(code, str(item["name"]), str(item.get("description", "")), extra)
    return out


@cache
def load_taxonomy(directory: str | None = None) -> Taxonomy:
    """Load and check the taxonomies from `directory` (the packaged ones by default)."""
    d = Path(directory) if directory else _dir()
    kinds = _terms(d / "entity_kinds.yaml", _read(d / "entity_kinds.yaml"), "entity_kinds")
    mechanisms = _terms(d / "mechanisms.yaml", _read(d / "mechanisms.yaml"), "mechanisms")
    lists = _terms(d / "lists.yaml", _read(d / "lists.yaml"), "lists")
    for term in lists.values():
        for rule in term.extra.get("rules", []):
            if rule not in RULES:
                raise DataError(Problem(str(d / "lists.yaml"), term.code, "rules", f"unknown rule {rule!r}"))

    raw_sectors = _read(d / "sectors.yaml")
    sectors: dict[str, Term] = {}
    for parent in _terms(d / "sectors.yaml", raw_sectors, "sectors").values():
        sectors[parent.code] = parent
    for item in raw_sectors:
        for child in _terms(
            d / "sectors.yaml", item.get("children", []), f"{item['code']}.children"
        ).values():
            code = f"{item['code']}.{child.code}"
            sectors[code] = Term(code, child.name, child.description, child.extra)

    cats = _read(d / "categories.yaml")
    tax = Taxonomy(
        entity_kinds=kinds,
        sectors=sectors,
        mechanisms=mechanisms,
        lists=lists,
        spending_categories=_terms(d / "categories.yaml", cats.get("spending"), "spending"),
        partnership_kinds=_terms(d / "categories.yaml", cats.get("partnership"), "partnership"),
        policy_event_kinds=_terms(d / "categories.yaml", cats.get("policy_event"), "policy_event"),
    )
    for group in (tax.spending_categories, tax.partnership_kinds):
        for term in group.values():
            mech = term.extra.get("mechanism")
            if mech is not None and mech not in mechanisms:
                raise DataError(
                    Problem(str(d / "categories.yaml"), term.code, "mechanism", f"unknown mechanism {mech!r}")
                )
    return tax
