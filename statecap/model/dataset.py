"""Read a dataset folder into typed records and check it as a whole.

The layout is one folder per record type holding YAML lists (see docs/data-format.md). Every
problem found is reported with its file, line, record id and field; nothing is half-loaded.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from statecap.errors import DataError, Problem
from statecap.model.records import (
    RECORD_TYPES,
    Acquisition,
    Designation,
    Entity,
    Investment,
    JointVenture,
    Observation,
    Partnership,
    PolicyEvent,
    Record,
    Spending,
    Stake,
)
from statecap.model.taxonomy import Taxonomy, load_taxonomy

# Direct holdings of one entity may add up past 100% by this much (percentage points) before the
# dataset is rejected: sources round each holder's share, and a register with many holders can
# drift by a few tenths. Larger excesses are data errors.
STAKE_SUM_TOLERANCE = 0.5

MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_NODES = 5_000_000


def builtin_data_dir() -> Path:
    """The packaged dataset folder."""
    return Path(str(resources.files("statecap") / "data"))


@dataclass(frozen=True)
class Origin:
    file: str
    line: int | None


@dataclass
class Dataset:
    """Records by folder, each with where it came from."""

    records: dict[str, list[Record]] = field(default_factory=lambda: {f: [] for f in RECORD_TYPES})
    _origins: dict[int, Origin] = field(default_factory=dict)

    def add(self, folder: str, rec: Record, origin: Origin) -> None:
        self.records[folder].append(rec)
        self._origins[id(rec)] = origin

    def origin(self, rec: Record) -> Origin:
        return self._origins.get(id(rec), Origin("<unknown>", None))

    def __getitem__(self, folder: str) -> list[Record]:
        return self.records[folder]

    def all(self) -> Iterator[tuple[str, Record]]:
        for folder, recs in self.records.items():
            for r in recs:
                yield folder, r

    def counts(self) -> dict[str, int]:
        return {f: len(r) for f, r in self.records.items()}


MAX_YAML_DEPTH = 100


class YAMLLimitError(yaml.MarkedYAMLError):
    """A YAML file that is well-formed but refused: aliases, or nesting past `MAX_YAML_DEPTH`."""


class GuardedYAMLLoader(yaml.SafeLoader):
    """SafeLoader that refuses aliases (no billion laughs) and deep nesting (no stack overflow).

    PyYAML composes nodes recursively, so a file of ten thousand ``[`` would exhaust the Python
    stack; the limit is checked while composing, before any recursion gets deep.
    """

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise YAMLLimitError(None, None, "YAML anchors and aliases are not allowed", mark)
        if self._depth >= MAX_YAML_DEPTH:
            mark = self.peek_event().start_mark
            raise YAMLLimitError(None, None, f"YAML nested more than {MAX_YAML_DEPTH} levels deep", mark)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


class _LineLoader(GuardedYAMLLoader):
    """SafeLoader that refuses aliases (no billion-laughs) and keeps node marks."""


def _check_nodes(node: yaml.Node, path: str) -> None:
    seen: set[int] = set()
    stack = [node]
    count = 0
    while stack:
        n = stack.pop()
        if id(n) in seen:
            raise DataError(
                Problem(path, None, None, "YAML anchors and aliases are not allowed", n.start_mark.line + 1)
            )
        seen.add(id(n))
        count += 1
        if count > MAX_NODES:
            raise DataError(Problem(path, None, None, f"file has more than {MAX_NODES} YAML nodes"))
        if isinstance(n, yaml.SequenceNode):
            stack.extend(n.value)
        elif isinstance(n, yaml.MappingNode):
            for k, v in n.value:
                stack.extend((k, v))


def read_yaml_records(path: Path) -> list[tuple[int, Any]]:
    """Parse a YAML file that holds a list of records; return (line, value) pairs."""
    p = str(path)
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise DataError(
            Problem(p, None, None, f"file is {size} bytes, more than the {MAX_FILE_BYTES} allowed")
        )
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(Problem(p, None, None, f"not valid UTF-8 (byte {exc.start})", line)) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        loader = _LineLoader(text)
    except yaml.reader.ReaderError as exc:  # raised at once for characters YAML does not allow
        line = text[: exc.position].count("\n") + 1
        reason = f"unacceptable character #x{exc.character:04x}: {exc.reason}"
        raise DataError(Problem(p, None, None, reason, line)) from None
    try:
        root = loader.get_single_node()
        if root is None:
            return []
        _check_nodes(root, p)
        if not isinstance(root, yaml.SequenceNode):
            raise DataError(
                Problem(p, None, None, "expected a YAML list of records (each starting with '- ')", 1)
            )
        out = []
        for item in root.value:
            value = loader.construct_object(item, deep=True)
            out.append((item.start_mark.line + 1, value))
        return out
    except YAMLLimitError as exc:
        mark = exc.problem_mark
        raise DataError(Problem(p, None, None, str(exc.problem), mark.line + 1 if mark else None)) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        raise DataError(
            Problem(p, None, None, f"YAML syntax error: {exc.problem}", mark.line + 1 if mark else None)
        ) from None
    except yaml.YAMLError as exc:
        raise DataError(Problem(p, None, None, f"YAML error: {exc}")) from None
    finally:
        loader.dispose()


def _loc(loc: tuple[Any, ...]) -> str | None:
    parts: list[str] = []
    for x in loc:
        if isinstance(x, int):
            parts[-1:] = [f"{parts[-1]}[{x}]" if parts else f"[{x}]"]
        else:
            parts.append(str(x))
    return ".".join(parts) or None


def _pydantic_problems(exc: ValidationError, file: str, record: str | None, line: int) -> list[Problem]:
    out = []
    for err in exc.errors():
        msg = err["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        if err["type"] == "extra_forbidden":
            msg = "unknown field (see docs/data-format.md for the fields of this record type)"
        elif err["type"] == "missing":
            msg = "required field is missing"
        elif err["type"] == "literal_error":
            msg = f"{msg}; got {err.get('input')!r}"
        out.append(Problem(file, record, _loc(tuple(err["loc"])), msg, line))
    return out


def _record_label(value: Any, cls: type[Record]) -> str | None:
    """How to name a record that failed to parse: its id, else its key fields."""
    if isinstance(value, dict):
        if value.get("id") is not None:
            return str(value["id"])
        keys = {
            "stakes": ("stake", "owner", "owned"),
            "investments": ("inv", "investor", "investee"),
            "spending": ("spend", "entity", "category", "year"),
            "designations": ("des", "list", "entity"),
            "financials": ("fin", "entity", "year"),
            "observations": ("obs", "series", "year"),
            "acquisitions": ("acq", "acquirer", "target"),
            "partnerships": ("pt", "kind", "name"),
        }.get(cls.folder)
        if keys is not None:
            return ":".join([keys[0], *(str(value.get(k)) for k in keys[1:])])
    return None


def load_dataset(directory: Path | str | None = None, strict: bool = True) -> Dataset:
    """Read and check a dataset folder. Raises DataError with every problem found.

    With ``strict`` (the default) the cross-record checks run too (dangling ids, stake sums,
    taxonomy codes, sources); they are what `statecap validate` reports.
    """
    root = Path(directory) if directory is not None else builtin_data_dir()
    if not root.is_dir():
        raise DataError(Problem(str(root), None, None, "dataset folder does not exist"))
    ds = Dataset()
    problems: list[Problem] = []
    known = set(RECORD_TYPES)
    for child in sorted(root.iterdir()):
        if child.is_dir() and child.name not in known and not child.name.startswith((".", "_")):
            problems.append(
                Problem(
                    str(child),
                    None,
                    None,
                    f"unknown record folder; expected one of {', '.join(sorted(known))}",
                )
            )
    for folder, cls in RECORD_TYPES.items():
        d = root / folder
        if not d.is_dir():
            continue
        files = sorted(list(d.glob("*.yaml")) + list(d.glob("*.yml")))
        for path in files:
            try:
                items = read_yaml_records(path)
            except DataError as exc:
                problems.extend(exc.problems)
                continue
            rel = str(path)
            for line, value in items:
                label = _record_label(value, cls)
                if not isinstance(value, dict):
                    problems.append(
                        Problem(rel, label, None, "a record must be a mapping of field: value", line)
                    )
                    continue
                try:
                    rec = cls.model_validate(value)
                except ValidationError as exc:
                    problems.extend(_pydantic_problems(exc, rel, label, line))
                    continue
                except (ValueError, TypeError) as exc:
                    problems.append(Problem(rel, label, None, str(exc), line))
                    continue
                ds.add(folder, rec, Origin(rel, line))
    if strict:
        problems.extend(check_dataset(ds))
    if problems:
        raise DataError(problems)
    return ds


def check_dataset(ds: Dataset, taxonomy: Taxonomy | None = None) -> list[Problem]:
    """Cross-record checks; returns the problems (empty when the dataset is sound)."""
    tax = taxonomy or load_taxonomy()
    problems: list[Problem] = []

    def at(folder: str, rec: Record, fld: str | None, reason: str) -> None:
        o = ds.origin(rec)
        problems.append(Problem(o.file, rec.key, fld, reason, o.line))

    # duplicate ids within a record type
    for folder, recs in ds.records.items():
        seen: dict[str, Record] = {}
        for rec in recs:
            if rec.key in seen:
                first = ds.origin(seen[rec.key])
                at(folder, rec, "id", f"duplicate {folder} id (first defined at {first.file}:{first.line})")
            else:
                seen[rec.key] = rec

    entity_ids = {e.key for e in ds["entities"]}
    source_ids = {s.key for s in ds["sources"]}

    for folder, rec in ds.all():
        if folder != "sources":
            if not rec.sources:
                at(folder, rec, "sources", "record has no source; every record needs at least one")
            for i, s in enumerate(rec.sources):
                if s not in source_ids:
                    at(folder, rec, f"sources[{i}]", f"unknown source id {s!r}")
        for fld, ref in rec.entity_refs():
            if ref not in entity_ids:
                at(folder, rec, fld, f"unknown entity id {ref!r}")
        for f1, d1, f2, d2 in rec.date_pairs():
            if d1 is not None and d2 is not None and d2 < d1:
                at(folder, rec, f2, f"{f2} {d2.isoformat()} is before {f1} {d1.isoformat()}")
        _check_codes(folder, rec, tax, at)

    problems.extend(_check_stake_sums(ds))
    problems.extend(_check_overlapping_stakes(ds))
    return problems


def _check_codes(folder: str, rec: Record, tax: Taxonomy, at: Any) -> None:
    def sector(fld: str, code: str | None) -> None:
        if code is not None and code not in tax.sectors:
            at(folder, rec, fld, f"unknown sector code {code!r}")

    if isinstance(rec, Entity):
        if rec.kind not in tax.entity_kinds:
            at(folder, rec, "kind", f"unknown entity kind {rec.kind!r}; known: {', '.join(tax.entity_kinds)}")
        for i, s in enumerate(rec.sectors):
            sector(f"sectors[{i}]", s)
    elif isinstance(rec, Investment):
        if rec.mechanism not in tax.mechanisms:
            at(
                folder,
                rec,
                "mechanism",
                f"unknown mechanism {rec.mechanism!r}; known: {', '.join(tax.mechanisms)}",
            )
        sector("sector", rec.sector)
    elif isinstance(rec, Acquisition | JointVenture):
        sector("sector", rec.sector)
    elif isinstance(rec, Spending):
        if rec.category not in tax.spending_categories:
            at(folder, rec, "category", f"unknown spending category {rec.category!r}")
        sector("sector", rec.sector)
    elif isinstance(rec, Partnership):
        if rec.kind not in tax.partnership_kinds:
            at(folder, rec, "kind", f"unknown partnership kind {rec.kind!r}")
        sector("sector", rec.sector)
    elif isinstance(rec, Designation):
        if rec.list not in tax.lists:
            at(folder, rec, "list", f"unknown designation list {rec.list!r}; known: {', '.join(tax.lists)}")
    elif isinstance(rec, PolicyEvent):
        if rec.kind not in tax.policy_event_kinds:
            at(folder, rec, "kind", f"unknown policy event kind {rec.kind!r}")
        for i, s in enumerate(rec.sectors):
            sector(f"sectors[{i}]", s)
    elif isinstance(rec, Observation):
        sector("sector", rec.sector)


def _check_stake_sums(ds: Dataset) -> list[Problem]:
    """An entity's direct stakes of one type must not add up past 100% at any date."""
    problems: list[Problem] = []
    by_owned: dict[tuple[str, str], list[Stake]] = defaultdict(list)
    for rec in ds["stakes"]:
        assert isinstance(rec, Stake)
        if rec.direct:
            by_owned[(rec.owned, rec.type)].append(rec)
    for (owned, typ), stakes in by_owned.items():
        if sum(s.share.lo for s in stakes) <= 100 + STAKE_SUM_TOLERANCE:
            continue
        # check at every start date: only overlapping stakes count together
        points = {s.valid_from or dt.date.min for s in stakes}
        for p in sorted(points):
            live = [
                s
                for s in stakes
                if (s.valid_from or dt.date.min) <= p and (s.valid_to is None or p < s.valid_to)
            ]
            total = sum(s.share.lo for s in live)
            if total > 100 + STAKE_SUM_TOLERANCE:
                last = max(live, key=lambda s: s.valid_from or dt.date.min)
                o = ds.origin(last)
                when = "" if p == dt.date.min else f" on {p.isoformat()}"
                holders = ", ".join(f"{s.owner} {s.share}" for s in live)
                problems.append(
                    Problem(
                        o.file,
                        last.key,
                        "share",
                        f"direct {typ} stakes in {owned} add up to {total:g}%{when} (over 100%): {holders}",
                        o.line,
                    )
                )
                break
    return problems


def _check_overlapping_stakes(ds: Dataset) -> list[Problem]:
    """Two records of the same holding (owner, owned, type, direct) must not be valid at once.

    A change of holding is a new record whose ``valid_from`` is the old record's ``valid_to``;
    two open-ended records for the same holding would be added up by the analytics.
    """
    problems: list[Problem] = []
    groups: dict[tuple[str, str, str, bool], list[Stake]] = defaultdict(list)
    for rec in ds["stakes"]:
        assert isinstance(rec, Stake)
        groups[(rec.owner, rec.owned, rec.type, rec.direct)].append(rec)
    for recs in groups.values():
        if len(recs) < 2:
            continue
        recs = sorted(recs, key=lambda s: s.valid_from or dt.date.min)
        for a, b in zip(recs, recs[1:], strict=False):
            a_end = a.valid_to or dt.date.max
            if (b.valid_from or dt.date.min) < a_end:
                o = ds.origin(b)
                problems.append(
                    Problem(
                        o.file,
                        b.key,
                        "valid_from",
                        f"overlaps {a.key} (the same holding valid at the same time); close the earlier "
                        "record with valid_to",
                        o.line,
                    )
                )
    return problems
