"""`statecap serve`: the REST API and the dashboard on a local port."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from statecap.cli.common import DbOpt, console, open_store
from statecap.errors import UsageError


def serve(
    host: Annotated[
        str, typer.Option("--host", help="Address to bind (127.0.0.1: this machine only).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port to listen on.")] = 8000,
    db: DbOpt = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="Folder whose files POST /api/imports/from-path may import (paths cannot leave it). "
            "Default: $STATECAP_DATA_DIR, else none.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve the dashboard at / and the REST API at /api (OpenAPI at /openapi.json, docs at /docs).

    Read-only unless the environment variable STATECAP_TOKEN is set (16 characters or more);
    then POST /api/imports needs ``Authorization: Bearer <token>``. The token is never printed.
    """
    try:
        import uvicorn

        from statecap.api.app import create_app
    except ImportError as exc:
        raise UsageError(
            f"the dashboard needs the web extra ({exc.name} is missing): pip install 'statecap[web]'"
        ) from None
    with open_store(db) as con:  # builds the default store on first use, and checks the store
        con.execute("SELECT 1").fetchall()
    from statecap.api.security import Security
    from statecap.store.db import resolve_db_path

    security = Security.from_env(data_dir)
    app = create_app(resolve_db_path(db), warm=True, security=security)
    shown = f"[{host}]" if ":" in host else host
    console.print(
        f"dashboard at [bold]http://{shown}:{port}/[/bold]  (API docs at http://{shown}:{port}/docs)"
    )
    if host not in ("127.0.0.1", "localhost", "::1"):
        console.print(
            f"[yellow]listening on {host}: anyone who can reach this address can read the store[/yellow]"
        )
    access = (
        "imports need the bearer token" if security.writes_enabled else "read-only (STATECAP_TOKEN not set)"
    )
    console.print(f"access: {access}; data directory: {security.data_dir or 'none'}")
    if security.writes_enabled and host not in ("127.0.0.1", "localhost", "::1"):
        console.print("[yellow]the token travels in clear text over plain HTTP: put TLS in front[/yellow]")
    print(f"http://{shown}:{port}/", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")


def register(app: typer.Typer) -> None:
    app.command("serve", rich_help_panel="Views")(serve)
