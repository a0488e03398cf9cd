"""Shared fixtures: the mini atlas (hand-made, tests/fixtures/mini) and stores built from it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
MINI = FIXTURES / "mini"


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    """Never touch the user's real default store."""
    home = tmp_path_factory.mktemp("xdg")
    monkeypatch.setenv("XDG_DATA_HOME", str(home))
    monkeypatch.delenv("STATECAP_DB", raising=False)


@pytest.fixture
def mini_dir(tmp_path) -> Path:
    """A writable copy of the mini dataset."""
    dst = tmp_path / "mini"
    shutil.copytree(MINI, dst)
    return dst


@pytest.fixture(scope="session")
def mini_db(tmp_path_factory) -> Path:
    """A store built from the mini dataset (read-only use)."""
    from statecap.store.build import build_store

    path = tmp_path_factory.mktemp("mini-db") / "mini.duckdb"
    build_store(MINI, path)
    return path


@pytest.fixture(scope="session")
def builtin_db(tmp_path_factory) -> Path:
    """A store built from the built-in dataset (read-only use)."""
    from statecap.store.build import build_store

    path = tmp_path_factory.mktemp("builtin-db") / "atlas.duckdb"
    build_store(None, path)
    return path


def run_cli(
    *args: str, env: dict[str, str] | None = None, check: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run the real `statecap` command in a subprocess."""
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "statecap", *args], capture_output=True, text=True, env=full_env, timeout=600
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"statecap {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return proc
