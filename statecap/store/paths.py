"""Where the store lives (no database imports here, so commands start fast)."""

from __future__ import annotations

import os
from pathlib import Path

ENV_DB = "STATECAP_DB"


def default_db_path() -> Path:
    """``$STATECAP_DB``, else ``$XDG_DATA_HOME/statecap/atlas.duckdb`` (``~/.local/share/...``)."""
    env = os.environ.get(ENV_DB)
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "statecap" / "atlas.duckdb"


def resolve_db_path(db: str | Path | None) -> Path:
    return Path(db).expanduser() if db is not None else default_db_path()
