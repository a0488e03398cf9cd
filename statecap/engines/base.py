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

from statecap.engines.source import RegistrySource
from statecap.errors import UsageError

ENGINES = ("local", "spark")
DEFAULT_SPARK_MASTER = "local[*]"
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
SCREEN_SCHEMA = pa.schema(
    [
        ("idx", pa.int64()),
        ("id", pa.string()),
        ("verdict", pa.string()),
        ("aggregate_lo", pa.float64()),
        ("aggregate_hi", pa.float64()),
    ]
)
SCREEN_RULES = ("ofac50", "bis-affiliates")


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
    ) -> tuple[pa.Table, dict[str, Any]]:
        """The entities a 50% rule catches, with the verdict and the aggregate of caught owners' stakes.

        Roots are the registry's designations active on the date on the rule's lists (narrowed
        to `lists`); whether the rule is in force comes from its policy events (the BIS Affiliates
        rule's suspension). Definitions and verdicts are those of `statecap.analytics.rules`.

        Args:
            source: the registry (Parquet; designations and policy events read when present).
            rule: ``ofac50`` or ``bis-affiliates``.
            as_of: the date (None: today). lists: list codes to keep (lists.yaml).

        Returns:
            (an Arrow table with `SCREEN_SCHEMA` sorted by entity, the rule's status as
            `statecap.queries.screen.rule_status` gives it).
        """
        if rule not in SCREEN_RULES:
            raise UsageError(f"rule {rule!r}: the engines screen {', '.join(SCREEN_RULES)}")
        day = as_of if as_of is not None else dt.date.today()
        table, status = self._screen(source, rule, day, list(lists) if lists else None)
        return table.select(SCREEN_SCHEMA.names).cast(SCREEN_SCHEMA).sort_by("idx"), status

    @final
    def write_screen(
        self,
        source: RegistrySource,
        rule: str,
        out_dir: str | Path,
        as_of: dt.date | None = None,
        lists: Sequence[str] | None = None,
    ) -> Path | str:
        """`screen` written as ``OUT_DIR/screen-RULE.parquet``; returns the path."""
        path = self._output_path(out_dir, f"screen-{rule}.parquet")
        table, _ = self.screen(source, rule, as_of, lists)
        if isinstance(path, str):
            import pyarrow.fs as pafs

            fs, inner = pafs.FileSystem.from_uri(path)
            pq.write_table(table, inner, filesystem=fs, compression="zstd")
        else:
            pq.write_table(table, path, compression="zstd")
        return path

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
        self, source: RegistrySource, rule: str, day: dt.date, lists: list[str] | None
    ) -> tuple[pa.Table, dict[str, Any]]:
        """(caught entities with `SCREEN_SCHEMA` columns, the rule's status)."""

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


def rule_roots(
    con: Any, rule: str, day: dt.date, lists: list[str] | None
) -> tuple[list[str], list[str], dict[str, Any]]:
    """(definite root ids, possible root ids, rule status) of a 50% rule, from designations and events.

    The same selection as `statecap.queries.screen.Screening.roots_for`: designations active on
    `day` on the rule's lists; for the BIS Affiliates rule an SDN whose programme is not one the
    rule names is only a possible root.
    """
    from statecap.queries.screen import _sdn_programme_named, active_designations, rule_lists, rule_status

    status = rule_status(con, rule, day)
    definite: set[str] = set()
    possible: set[str] = set()
    for e in active_designations(con, day, rule_lists(rule, lists)):
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
