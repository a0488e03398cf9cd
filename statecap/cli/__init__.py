"""The `statecap` command. Thin: each command parses options, calls one function, formats.

Command modules live beside this file; every module with a ``register(app)`` function adds its
commands, so features can be added without editing a central list.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

import typer

from statecap import __version__
from statecap.errors import StatecapError

app = typer.Typer(
    name="statecap",
    help="Map, measure and simulate state-directed technology investment.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"statecap {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """statecap: who owns what, what rules catch it, where state money goes, what policy would do."""


def _register_all() -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_") or info.name == "common":
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(app)


_register_all()


def main() -> None:
    """Console entry point: run the app, turning statecap errors into messages and exit codes."""
    try:
        app()
    except StatecapError as exc:
        for line in str(exc).splitlines() or [type(exc).__name__]:
            print(f"error: {line}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
