"""The import pipeline every format shares: stage, check, merge, all or nothing.

A format reader turns its input into `Item`s (one per input record: a BODS statement, an FtM
entity, a CSV row), each holding the typed records it yields, or the problems that stopped it.
The `Importer` stages items into temporary tables of the new store (so a large file never sits
in memory), then checks what only the whole import can show (references, stake sums, record
versions, the built-in dataset's records left alone) and merges the staged rows into the store
tables: a record already there with the same id is replaced (upsert), so importing the same file
twice changes nothing.

With ``skip_invalid`` a record with a problem is left out and written, with its reasons, to a
rejects file (JSON lines); without it the first problems stop the import and, because the store
is written with `write_atomically`, nothing stored changes.
"""

from __future__ import annotations

import json
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import duckdb
import pandas as pd
import pyarrow as pa
from pydantic import ValidationError

from statecap.errors import DataError, Problem
from statecap.model.records import Record
from statecap.store.build import refresh_terms
from statecap.store.schema import LINK_TABLES, TABLES

RECORD_TABLES = tuple(TABLES)
# link table -> (column naming the record, record table or None for record_sources)
LINKS: dict[str, tuple[str, str | None]] = {
    "record_sources": ("record_id", None),
    "entity_identifiers": ("entity", "entities"),
    "jv_partners": ("jv", "joint_ventures"),
    "partnership_parties": ("partnership", "partnerships"),
    "policy_suspensions": ("event", "policy_events"),
}
# columns that hold entity ids, per staged table
ENTITY_REFS: dict[str, tuple[str, ...]] = {
    "stakes": ("owner", "owned"),
    "investments": ("investor", "investee"),
    "acquisitions": ("acquirer", "target", "blocking_authority"),
    "joint_ventures": ("entity",),
    "jv_partners": ("partner",),
    "spending": ("entity",),
    "partnership_parties": ("party",),
    "designations": ("entity", "authority"),
    "policy_events": ("authority",),
    "financials": ("entity",),
    "observations": ("entity",),
    "directorships": ("director", "organization"),
    "ownership_exceptions": ("entity",),
}
STAGE_COLS = '"_item" BIGINT, "_seq" BIGINT, "_date" DATE, "_group" VARCHAR, "_status" VARCHAR'
# Direct stakes in one entity may add up past 100% by this much (the dataset's own tolerance).
STAKE_SUM_TOLERANCE = 0.5
MAX_PROBLEMS = 50
FLUSH_ROWS = 20_000
# How many source ids a reader remembers having staged; one seen again after that is staged
# again and the duplicates merge (`Importer._dedupe`), so memory does not grow with the file.
RECENT_SOURCES = 10_000


class RecentIds:
    """A set that keeps only the `size` ids used most recently (an LRU cache of ids).

    Readers use it to stage each Source record once rather than once per statement citing it;
    forgetting an old id costs at most one more staged duplicate, never a wrong record.
    """

    def __init__(self, size: int | None = None) -> None:
        self.size = RECENT_SOURCES if size is None else size
        self._ids: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, key: object) -> bool:
        if key in self._ids:
            self._ids.move_to_end(key)  # type: ignore[arg-type]
            return True
        return False

    def add(self, key: str) -> None:
        self._ids[key] = None
        self._ids.move_to_end(key)
        if len(self._ids) > self.size:
            self._ids.popitem(last=False)

    def __len__(self) -> int:
        return len(self._ids)


@dataclass
class Item:
    """One input record and what it becomes in the store.

    ``rows`` maps a table to the rows for it; rows of versioned records carry ``_date`` (the
    statement date), ``_group`` (the id prefix shared by every stake of one relationship record)
    and ``_status`` (new, updated or closed).
    """

    file: str
    record: str | None
    line: int | None = None
    raw: Any = None
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    problems: list[Problem] = field(default_factory=list)
    version: dict[str, Any] | None = None  # {"_group", "_date", "_status"} for a versioned record

    def add(self, folder: str, rec: Record, origin: str, **stage: Any) -> None:
        """Add a typed record's rows (with staging columns such as ``_date``)."""
        from statecap.io.records import rows_of

        for table, rows in rows_of(folder, rec, origin).items():
            for r in rows:
                self.rows[table].append({**r, **stage} if table == folder else r)

    def problem(self, fld: str | None, reason: str, record: str | None = None) -> None:
        self.problems.append(Problem(self.file, record or self.record, fld, reason, self.line))


def validation_problems(exc: ValidationError, prefix: str = "") -> list[tuple[str | None, str]]:
    """(field, reason) pairs from a pydantic error, worded like the dataset loader's."""
    out: list[tuple[str | None, str]] = []
    for err in exc.errors():
        msg = err["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        if err["type"] == "missing":
            msg = "required field is missing"
        elif err["type"] == "literal_error":
            msg = f"{msg}; got {err.get('input')!r}"
        parts: list[str] = []
        for x in err["loc"]:
            if isinstance(x, int) and parts:
                parts[-1] = f"{parts[-1]}[{x}]"
            else:
                parts.append(str(x))
        loc = ".".join(parts)
        fld = f"{prefix}{loc}" if loc else (prefix.rstrip(".") or None)
        out.append((fld, msg))
    return out


def make_record(item: Item, cls: type[Record], data: dict[str, Any], where: str = "") -> Record | None:
    """Build a typed record, turning validation errors into problems on `item` (None then)."""
    from statecap.io.records import code_problems

    try:
        rec = cls.model_validate(data)
    except ValidationError as exc:
        for fld, msg in validation_problems(exc, where):
            item.problem(fld, msg)
        return None
    except (ValueError, TypeError) as exc:
        item.problem(where.rstrip(".") or None, str(exc))
        return None
    bad = code_problems(rec)
    for fld, msg in bad:
        item.problem(f"{where}{fld}", msg)
    return None if bad else rec


class Importer:
    """Stages items into a store being written, then checks and merges them."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        *,
        skip_invalid: bool = False,
        rejects: IO[str] | None = None,
        duplicates: str = "latest",
        progress: Callable[[int], None] | None = None,
    ) -> None:
        self.con = con
        self.skip_invalid = skip_invalid
        self.rejects = rejects
        self.duplicates = duplicates
        self.progress = progress
        self.problems: list[Problem] = []
        self._unlisted = 0  # problems found but not fetched (the import stops on the listed ones)
        self.rejected = 0
        self.items = 0
        self._buffers: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self._buffered = 0
        self._items_buf: list[dict[str, Any]] = []
        self._versions: list[dict[str, Any]] = []
        self._columns: dict[str, list[str]] = {}
        self._ensure_tables()
        self._create_staging()

    # -- staging -------------------------------------------------------------------------------
    def _ensure_tables(self) -> None:
        for ddl in (*TABLES.values(), *LINK_TABLES.values()):
            self.con.execute(ddl.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS", 1))

    def _create_staging(self) -> None:
        for table in (*RECORD_TABLES, *LINKS):
            cols = [r[0] for r in self.con.execute(f"DESCRIBE {table}").fetchall()]
            self._columns[table] = cols
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE stg_{table} AS SELECT * FROM {table} LIMIT 0")
            for col in ("_item BIGINT", "_seq BIGINT", "_date DATE", "_group VARCHAR", "_status VARCHAR"):
                self.con.execute(f"ALTER TABLE stg_{table} ADD COLUMN {col}")
        self.con.execute(
            "CREATE OR REPLACE TEMP TABLE stg_items "
            "(_item BIGINT, file VARCHAR, record VARCHAR, line BIGINT, raw VARCHAR)"
        )
        self.con.execute(
            "CREATE OR REPLACE TEMP TABLE stg_versions "
            "(_item BIGINT, _seq BIGINT, _date DATE, _group VARCHAR, _status VARCHAR)"
        )

    def add(self, item: Item) -> None:
        """Take one item: stage its rows, or note its problems."""
        self.items += 1
        seq = self.items
        if item.problems:
            self._fail(item, seq, item.problems)
            if self.progress is not None:
                self.progress(seq)
            return
        raw = json.dumps(item.raw, ensure_ascii=False, default=str) if self.rejects is not None else None
        self._items_buf.append(
            {"_item": seq, "file": item.file, "record": item.record, "line": item.line, "raw": raw}
        )
        for table, rows in item.rows.items():
            for r in rows:
                r.setdefault("_date", None)
                r.setdefault("_group", None)
                r.setdefault("_status", None)
                r["_item"] = seq
                r["_seq"] = seq
                self._buffers[table].append(r)
                self._buffered += 1
        if item.version is not None:
            self._versions.append({"_item": seq, "_seq": seq, **item.version})
        if self._buffered >= FLUSH_ROWS:
            self.flush()
        if self.progress is not None:
            self.progress(seq)

    def flush(self) -> None:
        """Write buffered rows to the staging tables."""
        for table, rows in self._buffers.items():
            self._insert(
                f"stg_{table}", [*self._columns[table], "_item", "_seq", "_date", "_group", "_status"], rows
            )
        self._insert("stg_items", ["_item", "file", "record", "line", "raw"], self._items_buf)
        self._insert("stg_versions", ["_item", "_seq", "_date", "_group", "_status"], self._versions)
        self._buffers = defaultdict(list)
        self._items_buf = []
        self._versions = []
        self._buffered = 0

    def _insert(self, table: str, cols: list[str], rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        frame = pd.DataFrame.from_records(rows, columns=cols)
        target = dict(self.con.execute(f"DESCRIBE {table}").fetchall()[i][:2] for i in range(len(cols)))
        arrow = pa.Table.from_pandas(frame, preserve_index=False)
        self.con.register("_stage", arrow)
        try:
            quoted = ", ".join(f'"{c}"' for c in cols)
            casts = ", ".join(f'CAST("{c}" AS {target[c]})' for c in cols)
            self.con.execute(f"INSERT INTO {table} ({quoted}) SELECT {casts} FROM _stage")
        finally:
            self.con.unregister("_stage")

    # -- problems --------------------------------------------------------------------------------
    def _fail(self, item: Item, seq: int, problems: list[Problem]) -> None:
        if self.skip_invalid:
            self.rejected += 1
            if self.rejects is not None:
                self._write_reject(item.file, item.record, item.line, item.raw, problems)
            return
        self.problems.extend(problems)
        if len(self.problems) >= MAX_PROBLEMS:
            self._raise()

    def _write_reject(
        self, file: str, record: str | None, line: int | None, raw: Any, problems: list[Problem]
    ) -> None:
        assert self.rejects is not None
        entry = {
            "file": file,
            "record": record,
            "line": line,
            "problems": [{"field": p.field, "reason": p.reason} for p in problems],
            "data": raw,
        }
        self.rejects.write(json.dumps(entry, ensure_ascii=False, default=str) + "\n")

    def _raise(self) -> None:
        problems = self.problems[:MAX_PROBLEMS]
        more = len(self.problems) - len(problems) + self._unlisted
        if more:
            problems.append(Problem("(import)", None, None, f"... and {more} more problems"))
        raise DataError(problems)

    def _hits(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        """The rows of a query that finds problems.

        Skipping invalid records needs every one; otherwise the import stops, so only the first
        `MAX_PROBLEMS` are fetched and the rest counted (a broken million-row file must not
        build a million messages).
        """
        if self.skip_invalid:
            return self.con.execute(sql, params).fetchall()
        rows = self.con.execute(f"SELECT * FROM ({sql}) LIMIT {MAX_PROBLEMS + 1}", params).fetchall()
        if len(rows) > MAX_PROBLEMS:
            total = self.con.execute(f"SELECT count(*) FROM ({sql})", params).fetchall()[0][0]
            self._unlisted += total - MAX_PROBLEMS
            rows = rows[:MAX_PROBLEMS]
        return rows

    def _reject_items(self, found: dict[int, list[Problem]]) -> None:
        """Leave staged items out (skip mode) or stop the import with their problems."""
        if not found:
            return
        if not self.skip_invalid:
            for probs in found.values():
                self.problems.extend(probs)
            self._raise()
        ids = sorted(found)
        self.con.execute(
            "CREATE OR REPLACE TEMP TABLE _drop AS SELECT unnest($ids::BIGINT[]) AS _item", {"ids": ids}
        )
        if self.rejects is not None:
            for item_id, file, record, line, raw in self.con.execute(
                "SELECT _item, file, record, line, raw FROM stg_items WHERE _item IN (SELECT _item FROM _drop) ORDER BY _item"
            ).fetchall():
                data = json.loads(raw) if raw is not None else None
                self._write_reject(file, record, line, data, found[item_id])
        for table in (*RECORD_TABLES, *LINKS, "items", "versions"):
            self.con.execute(f"DELETE FROM stg_{table} WHERE _item IN (SELECT _item FROM _drop)")
        self.rejected += len(ids)

    def _where(self, item_ids: Iterable[int]) -> dict[int, tuple[str, str | None, int | None]]:
        ids = sorted(set(item_ids))
        if not ids:
            return {}
        rows = self.con.execute(
            "SELECT _item, file, record, line FROM stg_items WHERE list_contains($ids::BIGINT[], _item)",
            {"ids": ids},
        ).fetchall()
        return {r[0]: (r[1], r[2], r[3]) for r in rows}

    def _problems_from(self, hits: list[tuple[int, str | None, str]]) -> dict[int, list[Problem]]:
        """(item, field, reason) triples to problems that name each item's file, record and line."""
        where = self._where(h[0] for h in hits)
        found: dict[int, list[Problem]] = defaultdict(list)
        for item_id, fld, reason in hits:
            file, record, line = where.get(item_id, ("(import)", None, None))
            found[item_id].append(Problem(file, record, fld, reason, line))
        return found

    # -- finishing -------------------------------------------------------------------------------
    def finish(self) -> dict[str, int]:
        """Check what was staged, merge it into the store and return counts per table."""
        self.flush()
        if self.problems:
            self._raise()
        self._dedupe()
        self._resolve_versions()
        self._protect_dataset()
        for _ in range(1000):  # each pass may reject records others depend on
            found = self._check()
            if not found:
                break
            self._reject_items(found)
        counts = self._merge()
        refresh_terms(self.con)
        for table in (*RECORD_TABLES, *LINKS, "items", "versions"):
            self.con.execute(f"DROP TABLE IF EXISTS stg_{table}")
        return counts

    def _dedupe(self) -> None:
        """One staged row per record id: the latest statement wins (or an error, for hand-made data)."""
        for table in RECORD_TABLES:
            cond = "_group IS NULL" if table == "stakes" else "TRUE"
            dup_sql = f"SELECT id, max(_item) FROM stg_{table} WHERE {cond} GROUP BY id HAVING count(*) > 1"
            if self.duplicates == "error":
                hits: list[tuple[int, str | None, str]] = [
                    (item, "id", f"duplicate {table} id {rid!r} (also in an earlier row)")
                    for rid, item in self._hits(dup_sql)
                ]
                self._reject_items(self._problems_from(hits))
                continue
            if not self.con.execute(f"{dup_sql} LIMIT 1").fetchall():
                continue
            self.con.execute(
                f"""DELETE FROM stg_{table} WHERE {cond} AND (id, _item) NOT IN (
                      SELECT (id, _item) FROM (
                        SELECT id, _item, row_number() OVER (
                          PARTITION BY id ORDER BY _date DESC NULLS LAST, _seq DESC) AS rn
                        FROM stg_{table} WHERE {cond}) WHERE rn = 1)"""
            )
        # a closed entity record ends on its statement date unless it says otherwise
        self.con.execute(
            "UPDATE stg_entities SET dissolved = _date WHERE _status = 'closed' AND dissolved IS NULL "
            "AND _date IS NOT NULL AND (founded IS NULL OR founded <= _date)"
        )

    def _resolve_versions(self) -> None:
        """Stakes of versioned relationship records (BODS): dates from the statements' succession.

        Each statement of a relationship gives its interests as they stand on its statement date.
        A stake stated in one version and absent from the next ends on the next statement's date;
        one present in the last statement of a closed record ends on that statement's date; one
        first seen in an update starts on the update's date. Dates the interests give win.
        Stakes of the same relationship already in the store from an earlier import, and not
        restated, end on the first statement of this import.
        """
        if self.con.execute("SELECT count(*) FROM stg_versions").fetchall()[0][0] == 0:
            return
        con = self.con
        con.execute(
            """CREATE OR REPLACE TEMP TABLE _v AS
               SELECT _group, _seq, _date, _status,
                      row_number() OVER (PARTITION BY _group ORDER BY _date NULLS FIRST, _seq) AS v,
                      count(*) OVER (PARTITION BY _group) AS nv
               FROM stg_versions"""
        )
        con.execute(
            """CREATE OR REPLACE TEMP TABLE _gs AS
               SELECT s.*, v.v AS _v FROM stg_stakes s JOIN _v v ON s._group = v._group AND s._seq = v._seq"""
        )
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _span AS SELECT id, min(_v) AS first_v, max(_v) AS last_v FROM _gs GROUP BY id"
        )
        con.execute(
            """CREATE OR REPLACE TEMP TABLE _resolved AS
               SELECT g.* EXCLUDE (_v) REPLACE (
                   coalesce(g.valid_from, CASE WHEN vf.v > 1 OR vf._status <> 'new' THEN vf._date END) AS valid_from,
                   coalesce(g.valid_to, CASE WHEN sp.last_v < vl.nv THEN vn._date
                                             WHEN vl._status = 'closed' THEN vl._date END) AS valid_to)
               FROM _gs g
               JOIN _span sp ON g.id = sp.id AND g._v = sp.last_v
               JOIN _v vf ON vf._group = g._group AND vf.v = sp.first_v
               JOIN _v vl ON vl._group = g._group AND vl.v = sp.last_v
               LEFT JOIN _v vn ON vn._group = g._group AND vn.v = sp.last_v + 1"""
        )
        con.execute("DELETE FROM stg_stakes WHERE _group IS NOT NULL")
        con.execute("INSERT INTO stg_stakes SELECT * FROM _resolved")
        # earlier imports' stakes of these relationships that this import does not restate
        cols = ", ".join(f's."{c}"' for c in self._columns["stakes"] if c != "valid_to")
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE _closing AS
                SELECT {cols}, f._date AS valid_to, f._item AS _item, f._seq AS _seq, f._date AS _date,
                       f._group AS _group, 'closed-by-update' AS _status
                FROM stakes s
                JOIN (SELECT v._group, v._date, v._seq, sv._item FROM _v v
                      JOIN stg_versions sv ON sv._seq = v._seq WHERE v.v = 1) f
                  ON starts_with(s.id, f._group)
                WHERE s.valid_to IS NULL AND coalesce(s.origin, 'dataset') <> 'dataset'
                  AND s.id NOT IN (SELECT id FROM stg_stakes)
                  AND f._date IS NOT NULL AND (s.valid_from IS NULL OR s.valid_from < f._date)"""
        )
        order = ", ".join(
            f'"{c}"' for c in [*self._columns["stakes"], "_item", "_seq", "_date", "_group", "_status"]
        )
        con.execute(f"INSERT INTO stg_stakes SELECT {order} FROM _closing")
        con.execute(
            """INSERT INTO stg_record_sources
               SELECT r.*, c._item, c._seq, c._date, c._group, c._status FROM record_sources r
               JOIN _closing c ON r.record_type = 'stakes' AND r.record_id = c.id"""
        )
        for t in ("_v", "_gs", "_span", "_resolved", "_closing"):
            con.execute(f"DROP TABLE IF EXISTS {t}")

    def _protect_dataset(self) -> None:
        """Records the dataset build brought may be restated unchanged, never changed."""
        found: list[tuple[int, str | None, str]] = []
        for table in ("entities", "stakes"):
            cols = [c for c in self._columns[table] if c not in ("id", "origin")]
            differs = " OR ".join(f's."{c}" IS DISTINCT FROM t."{c}"' for c in cols)
            for item_id, rid in self._hits(
                f"""SELECT s._item, s.id FROM stg_{table} s JOIN {table} t ON s.id = t.id
                    WHERE coalesce(t.origin, 'dataset') = 'dataset' AND ({differs})"""
            ):
                found.append(
                    (
                        item_id,
                        "id",
                        f"{rid!r} is a record of the built-in dataset; an import cannot change it",
                    )
                )
            same = f"""SELECT s.id FROM stg_{table} s JOIN {table} t ON s.id = t.id
                       WHERE coalesce(t.origin, 'dataset') = 'dataset' AND NOT ({differs})"""
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE _same AS {same}")
            self.con.execute(f"DELETE FROM stg_{table} WHERE id IN (SELECT id FROM _same)")
            self.con.execute(
                f"DELETE FROM stg_record_sources WHERE record_type = '{table}' AND record_id IN (SELECT id FROM _same)"
            )
            if table == "entities":
                self.con.execute("DELETE FROM stg_entity_identifiers WHERE entity IN (SELECT id FROM _same)")
        self.con.execute("DROP TABLE IF EXISTS _same")
        self._reject_items(self._problems_from(found))

    def _check(self) -> dict[int, list[Problem]]:
        """Problems only the whole import shows: dangling ids, unknown sources, dates, stake sums."""
        con = self.con
        hits: list[tuple[int, str | None, str]] = []
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _ents AS SELECT id FROM entities UNION SELECT id FROM stg_entities"
        )
        for table, cols in ENTITY_REFS.items():
            for col in cols:
                for item_id, ref in self._hits(
                    f'SELECT _item, "{col}" FROM stg_{table} WHERE "{col}" IS NOT NULL '
                    f'AND "{col}" NOT IN (SELECT id FROM _ents)'
                ):
                    hits.append(
                        (item_id, col, f"unknown entity id {ref!r} (not in this import nor in the store)")
                    )
        for item_id, src in self._hits(
            "SELECT _item, source FROM stg_record_sources WHERE source NOT IN "
            "(SELECT id FROM sources UNION SELECT id FROM stg_sources)"
        ):
            hits.append((item_id, "sources", f"unknown source id {src!r}"))
        for item_id, rid, vf, vt in self._hits(
            "SELECT _item, id, valid_from, valid_to FROM stg_stakes WHERE valid_to < valid_from"
        ):
            hits.append(
                (
                    item_id,
                    "valid_to",
                    f"stake {rid} would end on {vt} (a later statement) before it starts on {vf}",
                )
            )
        hits.extend(self._stake_sums())
        return self._problems_from(hits) if hits else {}

    def _stake_sums(self) -> list[tuple[int, str | None, str]]:
        # per owned entity and stake type, the first day its direct stakes add up past 100% that
        # a staged stake takes part in (blamed on the latest-starting staged stake that day)
        rows = self._hits(
            f"""WITH m AS (
                    SELECT id, owner, owned, share_lo, type, valid_from, valid_to, NULL::BIGINT AS _item
                    FROM stakes WHERE direct AND id NOT IN (SELECT id FROM stg_stakes)
                      AND owned IN (SELECT owned FROM stg_stakes)
                    UNION ALL
                    SELECT id, owner, owned, share_lo, type, valid_from, valid_to, _item FROM stg_stakes WHERE direct),
                p AS (SELECT DISTINCT owned, type, coalesce(valid_from, DATE '0001-01-01') AS at_day FROM m),
                live AS (
                    SELECT p.owned, p.type, p.at_day, m.owner, m.share_lo, m._item, m.valid_from
                    FROM p JOIN m ON m.owned = p.owned AND m.type = p.type
                     AND coalesce(m.valid_from, DATE '0001-01-01') <= p.at_day
                     AND (m.valid_to IS NULL OR p.at_day < m.valid_to)),
                over AS (
                    SELECT owned, type, at_day, sum(share_lo) AS total,
                           arg_max(_item, coalesce(valid_from, DATE '0001-01-01'))
                               FILTER (WHERE _item IS NOT NULL) AS blame,
                           string_agg(owner || ' ' || share_lo || '%', ', ' ORDER BY owner) AS holders
                    FROM live GROUP BY owned, type, at_day
                    HAVING sum(share_lo) > {100 + STAKE_SUM_TOLERANCE})
                SELECT owned, type, at_day, total, blame, holders FROM over WHERE blame IS NOT NULL
                QUALIFY row_number() OVER (PARTITION BY owned, type ORDER BY at_day) = 1
                ORDER BY owned, type"""
        )
        out: list[tuple[int, str | None, str]] = []
        for owned, typ, at, total, blame, holders in rows:
            when = "" if at.year == 1 else f" on {at.isoformat()}"
            out.append(
                (
                    blame,
                    "share",
                    f"direct {typ} stakes in {owned} add up to {total:g}%{when} (over 100%): {holders}",
                )
            )
        return out

    def _merge(self) -> dict[str, int]:
        con = self.con
        counts: dict[str, int] = {}
        for table in RECORD_TABLES:
            n = con.execute(f"SELECT count(*) FROM stg_{table}").fetchall()[0][0]
            if n == 0:
                continue
            counts[table] = n
            cols = ", ".join(f'"{c}"' for c in self._columns[table])
            con.execute(f"DELETE FROM {table} WHERE id IN (SELECT id FROM stg_{table})")
            con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM stg_{table}")
        staged = " UNION ALL ".join(f"SELECT '{t}' AS record_type, id FROM stg_{t}" for t in RECORD_TABLES)
        con.execute(f"CREATE OR REPLACE TEMP TABLE _staged AS {staged}")
        for link, (col, parent) in LINKS.items():
            cols = ", ".join(f'"{c}"' for c in self._columns[link])
            if parent is None:
                con.execute(
                    "DELETE FROM record_sources WHERE (record_type, record_id) IN (SELECT (record_type, id) FROM _staged)"
                )
                con.execute(
                    f"""INSERT INTO record_sources ({cols}) SELECT DISTINCT {cols} FROM stg_record_sources
                        WHERE (record_type, record_id) IN (SELECT (record_type, id) FROM _staged)"""
                )
            else:
                con.execute(f'DELETE FROM {link} WHERE "{col}" IN (SELECT id FROM stg_{parent})')
                con.execute(
                    f"INSERT INTO {link} ({cols}) SELECT DISTINCT {cols} FROM stg_{link} "
                    f'WHERE "{col}" IN (SELECT id FROM stg_{parent})'
                )
        con.execute("DROP TABLE IF EXISTS _staged")
        con.execute("DROP TABLE IF EXISTS _ents")
        return counts


def open_rejects(path: Path | None) -> IO[str] | None:
    """Open the rejects file for writing (JSON lines), or None."""
    if path is None:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.open("w", encoding="utf-8")
