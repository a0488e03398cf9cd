"""`statecap serve`: the REST API and the dashboard on a local port."""

from __future__ import annotations

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
) -> None:
    """Serve the dashboard at / and the REST API at /api (OpenAPI at /openapi.json, docs at /docs)."""
    try:
        import uvicorn

        from statecap.api.app import create_app
    except ImportError as exc:
        raise UsageError(
            f"the dashboard needs the web extra ({exc.name} is missing): pip install 'statecap[web]'"
        ) from None
    with open_store(db) as con:  # builds the default store on first use, and checks the store
        con.execute("SELECT 1").fetchall()
    from statecap.store.db import resolve_db_path

    app = create_app(resolve_db_path(db), warm=True)
    shown = f"[{host}]" if ":" in host else host
    console.print(
        f"dashboard at [bold]http://{shown}:{port}/[/bold]  (API docs at http://{shown}:{port}/docs)"
    )
    if host not in ("127.0.0.1", "localhost", "::1"):
        console.print(
            f"[yellow]listening on {host}: anyone who can reach this address can read the store[/yellow]"
        )
    print(f"http://{shown}:{port}/", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")


def register(app: typer.Typer) -> None:
    app.command("serve", rich_help_panel="Views")(serve)
