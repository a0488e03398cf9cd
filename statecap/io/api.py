"""Import files into a store, and export a store, in the formats of the field.

`import_files` and `export_store` are what the CLI (and the API) call: one function per question.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import duckdb

from statecap.errors import UsageError
from statecap.io.formats import EXPORT_FORMATS, IMPORT_FORMATS
from statecap.io.guard import check_file, reading
from statecap.io.ingest import Importer, Item, RecentIds, open_rejects
from statecap.model.dataset import Dataset
from statecap.model.records import Source
from statecap.store.db import connect, resolve_db_path, write_atomically


@dataclass
class ImportContext:
    """What a format reader knows while reading one file."""

    con: duckdb.DuckDBPyConnection
    path: Path
    file: str  # the name used in messages
    source: Source  # the Source record for this file
    seen_sources: RecentIds = field(default_factory=RecentIds)  # Source records staged lately
    skipped: dict[str, int] = field(default_factory=dict)  # input records of kinds statecap does not model

    @property
    def origin(self) -> str:
        return self.source.id or ""


class Reader(Protocol):
    def __call__(self, ctx: ImportContext) -> Iterator[Item]: ...


class Writer(Protocol):
    def __call__(
        self, con: duckdb.DuckDBPyConnection, out: Path, as_of: dt.date | None
    ) -> dict[str, Any]: ...


def _readers() -> dict[str, Reader]:
    from statecap.io import bods, csv_layout, ftm, gleif

    return {"bods": bods.read, "ftm": ftm.read, "gleif": gleif.read, "csv": csv_layout.read}


def _writers() -> dict[str, Writer]:
    from statecap.io import bods, csv_layout, ftm, graph, parquet

    return {
        "bods": bods.write,
        "ftm": ftm.write,
        "parquet": parquet.write,
        "gexf": graph.write_gexf,
        "graphml": graph.write_graphml,
        "csv": csv_layout.write,
    }


# Memory DuckDB may use while staging and merging an import; past it, staged rows and the merge's
# joins spill to a temporary folder beside the new store (DuckDB's default, removed when done).
# With it, an import's peak memory stays near flat in the file's size (bench/RESULTS.md, io).
IMPORT_MEMORY_LIMIT = "256MB"


# Bytes read at a time to hash an import file.
DIGEST_CHUNK = 1 << 20


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes (or of a folder's files, for the CSV layout)."""
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for p in files:
        if path.is_dir():
            h.update(str(p.relative_to(path)).encode() + b"\0")
        with p.open("rb") as fh:
            for chunk in iter(lambda: fh.read(DIGEST_CHUNK), b""):
                h.update(chunk)
    return h.hexdigest()


def import_source(fmt: str, path: Path, today: dt.date | None = None) -> Source:
    """The Source record describing an imported file: its id follows from the file's content."""
    digest = file_digest(path)
    return Source(
        id=f"src-import-{fmt}-{digest[:16]}",
        url=path.resolve().as_uri(),
        publisher="statecap import",
        title=f"{fmt} file {path.name} (sha256 {digest[:16]})",
        accessed=today or dt.date.today(),
        kind="import",
    )


@dataclass
class ImportResult:
    db: Path
    format: str
    files: list[str]
    items: int
    rejected: int
    counts: dict[str, int]
    rejects: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "db": str(self.db),
            "format": self.format,
            "files": self.files,
            "items": self.items,
            "rejected": self.rejected,
            "counts": self.counts,
            "rejects": self.rejects,
        }


def import_files(
    fmt: str,
    files: list[Path],
    db: str | Path | None = None,
    *,
    skip_invalid: bool = False,
    rejects: Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Import `files` of format `fmt` into the store at `db` (created empty when missing).

    All or nothing: a bad record raises DataError naming file, record and field, and the store
    stays byte-identical. With `skip_invalid`, bad records are left out and written with their
    reasons to `rejects` (JSON lines; default: beside the store). Importing the same file again
    changes nothing.
    """
    readers = _readers()
    if fmt not in readers:
        raise UsageError(f"unknown import format {fmt!r}; known: {', '.join(IMPORT_FORMATS)}")
    if not files:
        raise UsageError("no file to import")
    for f in files:
        if not f.exists():
            raise UsageError(f"{f}: no such file")
        check_file(fmt, f)
    if rejects is not None and not skip_invalid:
        raise UsageError("--rejects only applies with --skip-invalid")
    path = resolve_db_path(db)
    if skip_invalid and rejects is None:
        rejects = path.with_name(path.name + ".rejects.jsonl")
    existing = path.exists()
    result: dict[str, Any] = {}
    read = readers[fmt]
    fh = open_rejects(rejects) if skip_invalid else None
    try:

        def fill(con: duckdb.DuckDBPyConnection) -> None:
            if not existing:
                from statecap.store.build import fill_store

                fill_store(con, Dataset(), "empty (created by import)")
            # staging spills to disk (DuckDB's temp folder beside the store) past this much memory
            con.execute(f"SET memory_limit = '{IMPORT_MEMORY_LIMIT}'")
            imp = Importer(
                con,
                skip_invalid=skip_invalid,
                rejects=fh,
                duplicates="error" if fmt == "csv" else "latest",
                progress=progress,
            )
            for f in files:
                src = import_source(fmt, f)
                ctx = ImportContext(con=con, path=f, file=str(f), source=src)
                known = con.execute("SELECT 1 FROM sources WHERE id = ?", [src.id]).fetchall()
                if not known:
                    item = Item(file=str(f), record=src.id)
                    item.add("sources", src, src.id)
                    imp.add(item)
                with reading(str(f)):
                    for item in read(ctx):
                        imp.add(item)
            result["counts"] = imp.finish()
            result["items"] = imp.items
            result["rejected"] = imp.rejected

        write_atomically(path, fill, start_from_existing=existing)
    finally:
        if fh is not None:
            fh.close()
    return ImportResult(
        db=path,
        format=fmt,
        files=[str(f) for f in files],
        items=result["items"],
        rejected=result["rejected"],
        counts=result["counts"],
        rejects=str(rejects) if rejects is not None else None,
    )


def export_store(
    fmt: str, out: Path, db: str | Path | None = None, as_of: dt.date | None = None
) -> dict[str, Any]:
    """Write the store at `db` (as of a date, or whole) to `out` in format `fmt`; returns counts."""
    writers = _writers()
    if fmt not in writers:
        raise UsageError(f"unknown export format {fmt!r}; known: {', '.join(EXPORT_FORMATS)}")
    with connect(resolve_db_path(db), read_only=True) as con:
        counts = writers[fmt](con, out, as_of)
    return {"format": fmt, "out": str(out), "as_of": as_of.isoformat() if as_of else None, "counts": counts}
