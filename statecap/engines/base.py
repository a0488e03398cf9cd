"""The engine interface: one set of questions, answered by the local (scipy/numba) or the Spark engine.

In the spirit of Splink's backends: `Engine` holds the shared flow in ``@final`` methods (check
the input, call the engine's hook, check the answer's layout, write Parquet) and each engine
implements the hooks. Both engines return the same columns with the same meaning, so their
answers can be compared row by row (`compare_ownership`).
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any, final

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from statecap.engines import DEFAULT_SPARK_MASTER, ENGINES  # noqa: F401  (re-exported)
from statecap.engines.source import RegistrySource
from statecap.errors import UsageError

STAKE_TYPES = ("equity", "voting")

# One row per entity, in the registry's entity order (``idx``). Percentages are 0..100.
OWNERSHIP_SCHEMA = pa.schema(
    [
        ("idx", pa.int64()),
        ("id", pa.string()),
        ("is_state", pa.bool_()),
        ("state_share_lo", pa.float64()),
        ("state_share_hi", pa.float64()),
        ("state_class", pa.string()),
        ("certainty", pa.string()),
        ("definite_class", pa.string()),
        ("laporta20_lo", pa.float64()),
        ("laporta20_hi", pa.float64()),
        ("laporta10_lo", pa.float64()),
        ("laporta10_hi", pa.float64()),
        ("majority_parent", pa.string()),
        ("majority_definite", pa.bool_()),
        ("ultimate_owner", pa.string()),
        ("chain_definite", pa.bool_()),
        ("chain_depth", pa.int64()),
        ("component", pa.int64()),
        ("cyclic", pa.bool_()),
        ("flags", pa.int32()),
    ]
)
OWNERSHIP_FILE = "ownership.parquet"

# One row per entity caught by a screening rule (designated, definite or possible); percent.
# votes_lo/votes_hi: the votes test's value (owned-or-controlled; null for rules without one, and
# for outbound, whose votes count inside its person-of-a-country-of-concern cascade); basis:
# outbound only, 850.209(a)(1) or (a)(2).
SCREEN_SCHEMA = pa.schema(
    [
        ("idx", pa.int64()),
        ("id", pa.string()),
        ("verdict", pa.string()),
        ("aggregate_lo", pa.float64()),
        ("aggregate_hi", pa.float64()),
        ("votes_lo", pa.float64()),
        ("votes_hi", pa.float64()),
        ("basis", pa.string()),
    ]
)
SCREEN_RULES = ("ofac50", "bis-affiliates", "outbound", "owned-or-controlled")
VERDICT_CODES = {"designated": 3, "definite": 2, "possible": 1}


def check_ownership_args(types: Sequence[str], indirect: str) -> list[str]:
    """Validate stake types and the indirect-stake policy (the same rules as `load_graph`)."""
    out = list(types)
    if not out:
        raise UsageError("at least one stake type is needed")
    for t in out:
        if t not in STAKE_TYPES:
            raise UsageError(f"stake type {t!r} is not one of {', '.join(STAKE_TYPES)}")
    if indirect not in ("auto", "keep", "drop"):
        raise UsageError(f"indirect={indirect!r}: use auto, keep or drop")
    return out


class Engine(ABC):
    """Answers the whole-registry questions; subclasses implement the ``_`` hooks."""

    name: str = "?"

    @final
    def ownership(
        self,
        source: RegistrySource,
        as_of: dt.date | None = None,
        types: Sequence[str] = ("equity",),
        indirect: str = "auto",
    ) -> pa.Table:
        """State share with bounds, La Porta control and the state class of every entity.

        Args:
            source: the registry (Parquet files).
            as_of: only stakes valid on this date count; None means today.
            types: stake types to include. indirect: see `statecap.graph.load_graph`.

        Returns:
            An Arrow table with `OWNERSHIP_SCHEMA`, one row per entity in entity order.
        """
        kinds = check_ownership_args(types, indirect)
        day = as_of if as_of is not None else dt.date.today()
        table = self._ownership(source, day, kinds, indirect)
        if table.schema != OWNERSHIP_SCHEMA:
            table = table.select(OWNERSHIP_SCHEMA.names).cast(OWNERSHIP_SCHEMA)
        return table

    @final
    def write_ownership(
        self,
        source: RegistrySource,
        out_dir: str | Path,
        as_of: dt.date | None = None,
        types: Sequence[str] = ("equity",),
        indirect: str = "auto",
    ) -> Path | str:
        """`ownership` written as ``OUT_DIR/ownership.parquet`` (a URL for Spark on a cluster); returns its path."""
        path = self._output_path(out_dir, OWNERSHIP_FILE)
        kinds = check_ownership_args(types, indirect)
        day = as_of if as_of is not None else dt.date.today()
        self._write_ownership(source, day, kinds, indirect, path)
        return path

    @final
    def state_share_report(
        self,
        source: RegistrySource,
        top: int = 20,
        sector: str | None = None,
        as_of: dt.date | None = None,
    ) -> dict[str, Any]:
        """What `statecap state-share --json` prints, computed by this engine.

        Same keys and ranking as `statecap.analytics.ownership.state_share_report`: entities
        (state organs excluded) with a positive upper bound, by lower bound, then upper bound,
        then entity order; closed cross-holding groups listed by their first member.
        """
        if top < 1:
            raise UsageError("--top must be at least 1")
        if sector is not None:
            from statecap.model.taxonomy import load_taxonomy

            if sector not in load_taxonomy().sectors:
                raise UsageError(f"--sector {sector!r} is not a sector code (see sectors.yaml)")
        day = as_of if as_of is not None else dt.date.today()
        rows, closed = self._state_share_top(source, day, top, sector)
        return {
            "as_of": None if as_of is None else as_of.isoformat(),
            "sector": sector,
            "engine": self.name,
            "results": rows,
            "closed_sccs": closed,
        }

    @final
    def screen(
        self,
        source: RegistrySource,
        rule: str,
        as_of: dt.date | None = None,
        lists: Sequence[str] | None = None,
        designated: str | Path | None = None,
        use_atlas: bool = True,
    ) -> tuple[pa.Table, dict[str, Any]]:
        """The entities a screening rule catches, with the verdict and the aggregate of caught owners' stakes.

        Designation rules (``ofac50``, ``bis-affiliates``, ``owned-or-controlled``): roots are the
        registry's designations active on the date on the rule's lists (narrowed to `lists`) and
        the entities of a `designated` file; ``outbound``: persons of a country of concern, with
        the 31 CFR 850.209 tests. Whether a rule is in force comes from its policy events (the BIS
        Affiliates rule's suspension, the outbound rule's effective date). Definitions and verdicts
        are those of `statecap.analytics.rules` and `statecap.queries.screen`.

        Args:
            source: the registry (Parquet; designations, policy events, financials and
                identifiers read when present).
            rule: one of `SCREEN_RULES`.
            as_of: the date (None: today). lists: list codes to keep (lists.yaml).
            designated: a file of entity ids or identifiers, one per line (``#`` comments), that
                are roots of every designation rule. use_atlas: use the registry's designations.

        Returns:
            (an Arrow table with `SCREEN_SCHEMA` sorted by entity, the rule's status as
            `statecap.queries.screen.rule_status` gives it).
        """
        if rule not in SCREEN_RULES:
            raise UsageError(f"rule {rule!r}: the engines screen {', '.join(SCREEN_RULES)}")
        check_screen_args(rule, lists, designated, use_atlas)
        day = as_of if as_of is not None else dt.date.today()
        entries = self.designated_entries(source, designated) if designated is not None else []
        table, status = self._screen(source, rule, day, list(lists) if lists else None, entries, use_atlas)
        return table.select(SCREEN_SCHEMA.names).cast(SCREEN_SCHEMA).sort_by("idx"), status

    @final
    def write_screen(
        self,
        source: RegistrySource,
        rule: str,
        out_dir: str | Path,
        as_of: dt.date | None = None,
        lists: Sequence[str] | None = None,
        designated: str | Path | None = None,
        use_atlas: bool = True,
    ) -> Path | str:
        """`screen` written as ``OUT_DIR/screen-RULE.parquet``; returns the path."""
        path = self._output_path(out_dir, f"screen-{rule}.parquet")
        table, _ = self.screen(source, rule, as_of, lists, designated, use_atlas)
        _write_parquet(table, path)
        return path

    @final
    def write_flows(
        self,
        source: RegistrySource,
        out_dir: str | Path,
        as_of: dt.date | None = None,
        by: Sequence[str] = ("sector", "mechanism", "year", "level"),
        currency: str = "CNY",
    ) -> Path | str:
        """`flows_report`'s rows written as ``OUT_DIR/flows.parquet`` (one row per `by` group:
        the keys and the row's amounts, ``state_lo``, ``state_hi`` and ``report_currency``); returns the path.

        By level, a record backed by organs of two levels is in both levels' rows with its whole
        amount, and the state part split between them: the state parts add up, the amounts do not.
        """
        report = self.flows_report(source, by, as_of=as_of, currency=currency)
        table = _flows_table(report)
        path = self._output_path(out_dir, "flows.parquet")
        _write_parquet(table, path)
        return path

    @final
    def designated_entries(self, source: RegistrySource, path: str | Path) -> list[Any]:
        """The entities of a ``--designated`` file, resolved on this engine's registry.

        Lines resolve as `statecap.queries.screen.read_designated_file` resolves them: an entity
        id, else an identifier that names exactly one entity.

        Raises:
            UsageError: the file cannot be read, is empty, or a line names no entity (file and
                line named).
        """
        from statecap.queries.screen import designated_file_keys

        p, wanted = designated_file_keys(path)
        keys = sorted({k for _, k in wanted})
        direct, ident = self._match_ids(source, keys)
        out = []
        from statecap.queries.screen import DesignatedEntry

        for no, key in wanted:
            if key in direct:
                eid = key
            elif len(ident.get(key, ())) == 1:
                eid = next(iter(ident[key]))
            elif len(ident.get(key, ())) > 1:
                raise UsageError(
                    f"{p}:{no}: {key!r} is an identifier of several entities: {', '.join(sorted(ident[key]))}"
                )
            else:
                raise UsageError(f"{p}:{no}: no entity with id or identifier {key!r}")
            out.append(DesignatedEntry(entity=eid, list="file", file=str(p), line=no))
        return out

    @final
    def resolve(self, source: RegistrySource, key: str) -> str:
        """The entity id for `key` (an id, or an identifier naming exactly one entity); UsageError otherwise."""
        direct, ident = self._match_ids(source, [key])
        if key in direct:
            return key
        found = sorted(ident.get(key, ()))
        if len(found) == 1:
            return found[0]
        if found:
            raise UsageError(f"{key!r} is an identifier of several entities: {', '.join(found)}")
        raise UsageError(f"no entity with id or identifier {key!r}")

    @final
    def flows_report(
        self,
        source: RegistrySource,
        by: Sequence[str],
        year_from: int | None = None,
        year_to: int | None = None,
        as_of: dt.date | None = None,
        currency: str = "CNY",
    ) -> dict[str, Any]:
        """What `statecap flows --json` prints, computed by this engine (plus the DataFrame under ``frame``).

        The counting rules of docs/flows.md: atoms from investments, spending, completed
        acquisitions, joint ventures and partnerships; money paid into state intermediaries
        counted where they invest; each atom's state part is its amount times its payers' state
        share on its date, with bounds; rows by the `by` keys; amounts converted with annual
        rates (nearest year when a year has none).
        """
        from statecap.queries.flows import CURRENCIES, _check_by

        keys = _check_by(list(by))
        if year_from is not None and year_to is not None and year_from > year_to:
            raise UsageError(f"--from {year_from} is after --to {year_to}")
        cur = currency.upper()
        if cur not in CURRENCIES:
            raise UsageError(f"--currency {currency!r}: choose one of {', '.join(CURRENCIES)}")
        report = self._flows(source, keys, year_from, year_to, as_of, cur)
        report["engine"] = self.name
        return report

    @final
    def upstream_registry(self, source: RegistrySource, seeds: Sequence[str], day: dt.date) -> Any:
        """An in-memory store (DuckDB) of `seeds` and every entity upstream of them on `day`.

        Upstream: reached by following stakes valid on `day` (any type, direct or not) from the
        owned entity to its owner. Entities keep the registry's order, so the local kernels number
        them as they number the whole registry's; the store also holds the stakes among them,
        their designations, identifiers, financials and sources, and every policy event. Every
        per-entity answer of the ownership, control and screening rules depends on the entity's
        upstream entities only (see docs/scale.md), so the local query functions give on this
        store the whole registry's answers about the seeds, with their explanations.
        """
        return self._upstream(source, list(seeds), day)

    @final
    def ownership_of(
        self, source: RegistrySource, ids: Sequence[str], as_of: dt.date | None = None
    ) -> dict[str, dict[str, Any]]:
        """The ownership table's rows (`OWNERSHIP_SCHEMA`) of some entities, from the whole-registry run."""
        day = as_of if as_of is not None else dt.date.today()
        return self._ownership_of(source, day, list(ids))

    @final
    def _output_path(self, out_dir: str | Path, name: str) -> Path | str:
        from statecap.engines.source import is_remote

        if is_remote(str(out_dir)):
            if self.name == "local":
                raise UsageError(f"{out_dir}: the local engine writes to local folders only")
            return str(out_dir).rstrip("/") + "/" + name
        folder = Path(out_dir)
        folder.mkdir(parents=True, exist_ok=True)
        return folder / name

    # ---- hooks ---------------------------------------------------------------------------
    @abstractmethod
    def _screen(
        self,
        source: RegistrySource,
        rule: str,
        day: dt.date,
        lists: list[str] | None,
        entries: list[Any],
        use_atlas: bool,
    ) -> tuple[pa.Table, dict[str, Any]]:
        """(caught entities with `SCREEN_SCHEMA` columns, the rule's status); `entries`: a file's roots."""

    @abstractmethod
    def _match_ids(self, source: RegistrySource, keys: list[str]) -> tuple[set[str], dict[str, set[str]]]:
        """(keys that are entity ids, identifier value -> entity ids) for `keys`."""

    @abstractmethod
    def _flows(
        self,
        source: RegistrySource,
        by: list[str],
        year_from: int | None,
        year_to: int | None,
        as_of: dt.date | None,
        currency: str,
    ) -> dict[str, Any]:
        """The flows report (keys of `statecap.queries.flows.flows_report`, with ``frame``)."""

    @abstractmethod
    def _upstream(self, source: RegistrySource, seeds: list[str], day: dt.date) -> Any:
        """The upstream store of `seeds` (see `upstream_registry`)."""

    def entity_rows(
        self, source: RegistrySource, ids: Sequence[str], columns: Sequence[str] = ("id", "name")
    ) -> dict[str, dict[str, Any]]:
        """Some columns of some entities, by id (entities not in the registry left out)."""
        from statecap.engines.source import registry_connection

        con = registry_connection(source, tables=("entities",))
        try:
            con.register("_ids", pa.table({"id": pa.array(list(ids), type=pa.string())}))
            cols = ", ".join(f'e."{c}"' for c in columns)
            cur = con.execute(f"SELECT {cols} FROM entities e JOIN _ids USING (id)")
            names = [c[0] for c in cur.description]
            return {r[names.index("id")]: dict(zip(names, r, strict=True)) for r in cur.fetchall()}
        finally:
            con.close()

    def _ownership_of(
        self, source: RegistrySource, day: dt.date, ids: list[str]
    ) -> dict[str, dict[str, Any]]:
        import pyarrow.compute as pc

        table = self.ownership(source, day)
        hit = table.filter(pc.is_in(table["id"], value_set=pa.array(ids, type=pa.string())))
        return {r["id"]: r for r in hit.to_pylist()}

    @abstractmethod
    def _ownership(self, source: RegistrySource, day: dt.date, types: list[str], indirect: str) -> pa.Table:
        """The ownership table (any column order; cast to `OWNERSHIP_SCHEMA` by the caller)."""

    def _write_ownership(
        self, source: RegistrySource, day: dt.date, types: list[str], indirect: str, path: Path | str
    ) -> None:
        table = self._ownership(source, day, types, indirect)
        pq.write_table(table.select(OWNERSHIP_SCHEMA.names).cast(OWNERSHIP_SCHEMA), path, compression="zstd")

    @abstractmethod
    def _state_share_top(
        self, source: RegistrySource, day: dt.date, top: int, sector: str | None
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(the top rows as JSON dicts, the closed groups as JSON dicts)."""

    def close(self) -> None:
        """Release what the engine holds (a Spark session it started)."""
        return None


def interval(lo: float, hi: float) -> dict[str, float]:
    from statecap.analytics.ownership import interval_json

    return interval_json(lo, hi)


def _write_parquet(table: pa.Table, path: Path | str) -> None:
    """Write `table` to a local path or a filesystem URI (``s3://``, ``hdfs://`` ...)."""
    if isinstance(path, str):
        import pyarrow.fs as pafs

        fs, inner = pafs.FileSystem.from_uri(path)
        pq.write_table(table, inner, filesystem=fs, compression="zstd")
    else:
        pq.write_table(table, path, compression="zstd")


def _flows_table(report: dict[str, Any]) -> pa.Table:
    """The flows report's rows as an Arrow table (bounds flattened to ``state_lo``/``state_hi``)."""
    rows = []
    for r in report["rows"]:
        flat = {k: v for k, v in r.items() if k != "state_attributed" and not isinstance(v, dict | list)}
        flat["state_lo"] = r["state_attributed"]["lo"]
        flat["state_hi"] = r["state_attributed"]["hi"]
        flat["report_currency"] = report.get("currency")
        rows.append(flat)
    return pa.Table.from_pylist(rows)


def check_screen_args(rule: str, lists: Sequence[str] | None, designated: Any, use_atlas: bool) -> None:
    """The argument checks of `statecap.queries.screen.screen_rule` and `open_screening`."""
    from statecap.queries.screen import check_root_args

    if rule == "outbound" and (designated is not None or lists):
        raise UsageError(
            "--designated and --list do not apply to the outbound rule (its roots are persons of a country of concern)"
        )
    check_root_args(lists, designated, use_atlas)


def rule_roots(
    con: Any,
    rule: str,
    day: dt.date,
    lists: list[str] | None,
    entries: Sequence[Any] = (),
    use_atlas: bool = True,
) -> tuple[list[str], list[str], dict[str, Any]]:
    """(definite root ids, possible root ids, rule status) of a designation rule.

    The same selection as `statecap.queries.screen.Screening.roots_for`: designations active on
    `day` on the rule's lists (when `use_atlas`) and the entries of a ``--designated`` file; for
    the BIS Affiliates rule an SDN whose programme is not one the rule names is only a possible
    root.
    """
    from statecap.queries.screen import _sdn_programme_named, active_designations, rule_lists, rule_status

    status = rule_status(con, rule, day)
    definite: set[str] = set()
    possible: set[str] = set()
    atlas = active_designations(con, day, rule_lists(rule, lists)) if use_atlas else []
    for e in [*atlas, *entries]:
        if rule == "bis-affiliates" and e.list == "ofac_sdn" and not _sdn_programme_named(e):
            possible.add(e.entity)
        else:
            definite.add(e.entity)
    return sorted(definite), sorted(possible - definite), status


def compare_ownership(a: pa.Table, b: pa.Table, tol: float = 1e-9) -> dict[str, Any]:
    """Where two ownership tables disagree: numbers beyond `tol` (percentage points), other columns.

    Returns ``{"rows": n, "max_abs_diff": {...}, "mismatches": {column: count}}``; equal tables
    have no mismatches.
    """
    if a.num_rows != b.num_rows:
        raise UsageError(f"the tables have {a.num_rows} and {b.num_rows} rows")
    a = a.sort_by("idx")
    b = b.sort_by("idx")
    diffs: dict[str, float] = {}
    mismatches: dict[str, int] = {}
    for name in OWNERSHIP_SCHEMA.names:
        x = a[name].to_numpy(zero_copy_only=False)
        y = b[name].to_numpy(zero_copy_only=False)
        if pa.types.is_floating(OWNERSHIP_SCHEMA.field(name).type):
            d = np.abs(np.asarray(x, dtype=float) - np.asarray(y, dtype=float))
            diffs[name] = float(d.max(initial=0.0))
            bad = int(np.count_nonzero(d > tol))
        else:
            bad = int(np.count_nonzero(np.asarray(x, dtype=object) != np.asarray(y, dtype=object)))
        if bad:
            mismatches[name] = bad
    return {"rows": a.num_rows, "max_abs_diff": diffs, "mismatches": mismatches}
