"""Commands that move data in and out: `import` and `export` (BODS, FtM, GLEIF, CSV, Parquet, GEXF, GraphML)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from statecap.cli.common import DbOpt, JsonOpt, console, emit_json, parse_as_of
from statecap.io.formats import EXPORT_FORMATS, IMPORT_FORMATS
from statecap.store.paths import resolve_db_path


def import_cmd(
    fmt: Annotated[str, typer.Argument(metavar="FORMAT", help=f"One of: {', '.join(IMPORT_FORMATS)}.")],
    files: Annotated[
        list[Path], typer.Argument(metavar="FILE...", help="Files to import (a folder for csv).")
    ],
    db: DbOpt = None,
    skip_invalid: Annotated[
        bool,
        typer.Option("--skip-invalid", help="Import the valid records; write the others to a rejects file."),
    ] = False,
    rejects: Annotated[
        Path | None,
        typer.Option(
            "--rejects", help="Rejects file (JSON lines) for --skip-invalid. Default: beside the store."
        ),
    ] = None,
    json: JsonOpt = False,
) -> None:
    """Import files into the store: all or nothing (a bad record changes nothing), idempotent."""
    with Progress(
        SpinnerColumn(),
        TextColumn("importing {task.fields[fmt]}: {task.completed:,} records read"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=json,
    ) as progress:
        task = progress.add_task("import", total=None, fmt=fmt)

        def tick(n: int) -> None:
            if n % 1000 == 0:
                progress.update(task, completed=n)

        from statecap.io import import_files

        result = import_files(fmt, files, db, skip_invalid=skip_invalid, rejects=rejects, progress=tick)
    if json:
        emit_json(result.as_json())
        return
    counts = ", ".join(f"{n:,} {t}" for t, n in sorted(result.counts.items())) or "nothing new"
    console.print(f"imported into [bold]{result.db}[/bold]: {counts}")
    if result.rejected:
        console.print(f"[yellow]{result.rejected:,} records rejected[/yellow]; reasons in {result.rejects}")


def export_cmd(
    fmt: Annotated[str, typer.Argument(metavar="FORMAT", help=f"One of: {', '.join(EXPORT_FORMATS)}.")],
    out: Annotated[Path, typer.Argument(metavar="OUT", help="Output file (a folder for parquet and csv).")],
    db: DbOpt = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of", help="Export the records valid on this date (YYYY-MM-DD). Default: all history."
        ),
    ] = None,
    json: JsonOpt = False,
) -> None:
    """Export the store as BODS 0.4, FtM JSON lines, Parquet, GEXF, GraphML or statecap CSV."""
    day = parse_as_of(as_of)
    with console.status(f"exporting {fmt}", spinner="dots") if not json else _null():
        from statecap.io import export_store

        result = export_store(fmt, out, resolve_db_path(db) if db is not None else None, day)
    if json:
        emit_json(result)
        return
    counts = ", ".join(f"{n:,} {t}" for t, n in sorted(result["counts"].items()))
    console.print(f"wrote [bold]{out}[/bold]: {counts}")


class _null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *args: object) -> None:
        return None


def register(app: typer.Typer) -> None:
    app.command("import", rich_help_panel="Data")(import_cmd)
    app.command("export", rich_help_panel="Data")(export_cmd)
