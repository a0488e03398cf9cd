"""Options and output helpers shared by every command."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from statecap.errors import UsageError
from statecap.store.paths import default_db_path, resolve_db_path

if TYPE_CHECKING:
    import duckdb

console = Console(stderr=True)
out = Console()

DbOpt = Annotated[
    Path | None,
    typer.Option(
        "--db",
        help="Store path. Default: $STATECAP_DB, else ~/.local/share/statecap/atlas.duckdb "
        "(built from the built-in dataset on first use).",
        show_default=False,
    ),
]
AsOfOpt = Annotated[
    str | None, typer.Option("--as-of", help="Answer as of this date (YYYY-MM-DD). Default: today.")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON (stable keys, see README).")]


def parse_as_of(value: str | None) -> dt.date | None:
    """`--as-of` as a date; None means today (the caller decides what today means)."""
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"--as-of {value!r} is not a date in the form YYYY-MM-DD") from None


@contextlib.contextmanager
def open_store(db: Path | None, read_only: bool = True) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the store; the default store is built from the built-in dataset when missing."""
    if db is None and not default_db_path().exists():
        from statecap.store.build import build_store

        console.print(f"[dim]no store yet: building {default_db_path()} from the built-in dataset[/dim]")
        build_store(None, None)
    from statecap.store.db import connect

    with connect(resolve_db_path(db), read_only=read_only) as con:
        yield con


def _default(x: Any) -> Any:
    if isinstance(x, dt.date):
        return x.isoformat()
    if hasattr(x, "as_json"):
        return x.as_json()
    if hasattr(x, "item"):  # numpy scalars
        return x.item()
    if hasattr(x, "tolist"):
        return x.tolist()
    raise TypeError(f"cannot write {type(x).__name__} as JSON")


def _clean(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    return x


def emit_json(obj: Any) -> None:
    """Write `obj` as JSON on stdout (UTF-8, no NaN: non-finite numbers become null)."""
    sys.stdout.write(json.dumps(_clean(obj), ensure_ascii=False, indent=2, default=_default))
    sys.stdout.write("\n")
