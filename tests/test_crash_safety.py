"""Crash safety: `statecap build` and `statecap import` killed (SIGKILL) at random moments.

After every kill the store must open and hold exactly the old content or exactly the new one
(compared with `content_digest` against stores written by uninterrupted runs), whatever the
moment: while the dataset is read, while the new file is written, or after the swap. Kills are
aimed on purpose: a third of the trials at a random moment, a third while the writer's temporary
file exists (the write), a third just after it is renamed over the store (the swap).
Writers that run together take turns, so no import is lost.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from statecap.store.build import build_store, content_digest
from statecap.store.db import connect

from .conftest import MINI

TRIALS_PER_COMMAND = 12
SEED = 20261129
BUILD_ENTITIES = 600
IMPORT_ENTITIES = 2000


def synthetic_dataset(root: Path, n: int) -> Path:
    """The mini dataset plus `n` companies in a 3-ary ownership tree (valid: one owner each, 30%)."""
    shutil.copytree(MINI, root)
    (root / "entities" / "synth.yaml").write_text(
        "".join(
            f"- {{id: cn-synth-{i}, name: Synthetic Company {i}, name_zh: 合成公司{i}, kind: company, "
            f"sectors: [ai.models], sources: [src-test]}}\n"
            for i in range(n)
        ),
        encoding="utf-8",
    )
    (root / "stakes" / "synth.yaml").write_text(
        "".join(
            f'- {{owner: cn-synth-{(i - 1) // 3}, owned: cn-synth-{i}, share: 30, valid_from: "2020-01-01", '
            f"sources: [src-test]}}\n"
            for i in range(1, n)
        ),
        encoding="utf-8",
    )
    return root


def synthetic_import(root: Path, n: int, prefix: str = "cn-imp") -> Path:
    """A statecap CSV folder: `n` new companies and the stakes between them."""
    root.mkdir(parents=True)
    (root / "entities.csv").write_text(
        "id,name,kind,sources\n" + "".join(f"{prefix}-{i},Imported {i},company,src-test\n" for i in range(n)),
        encoding="utf-8",
    )
    (root / "stakes.csv").write_text(
        "owner,owned,share,valid_from,sources\n"
        + "".join(f"{prefix}-{(i - 1) // 3},{prefix}-{i},30,2020-01-01,src-test\n" for i in range(1, n)),
        encoding="utf-8",
    )
    return root


def digest(db: Path) -> str:
    with connect(db, read_only=True) as con:  # raises StoreError if the store does not open
        return content_digest(con)


@dataclass
class Trial:
    command: str
    index: int
    # "any": a random moment; "write": a random moment after the temporary file appears; "swap":
    # as soon as the temporary file is gone again (renamed over the store), before the process ends
    mode: str
    outcome: str = ""
    killed_mid_write: bool = False
    leftovers: int = 0


def temp_files(folder: Path, name: str) -> list[Path]:
    return [p for p in folder.iterdir() if p.name.startswith(f".{name}.") and ".tmp" in p.name]


def run_trial(trial: Trial, argv: list[str], store: Path, rng: random.Random) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "statecap", *argv],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        if trial.mode == "any":
            deadline = time.monotonic() + rng.uniform(0.0, 3.0)
            while time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.005)
        else:
            while proc.poll() is None and not temp_files(store.parent, store.name):
                time.sleep(0.002)
            if trial.mode == "write":
                time.sleep(rng.choice([0.0, rng.uniform(0.0, 0.05), rng.uniform(0.0, 0.4)]))
            else:
                while proc.poll() is None and temp_files(store.parent, store.name):
                    time.sleep(0.001)
        trial.killed_mid_write = proc.poll() is None and bool(temp_files(store.parent, store.name))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=120)
    trial.leftovers = len(temp_files(store.parent, store.name))


@pytest.mark.slow
def test_sigkill_during_build_and_import_leaves_old_or_new_store(tmp_path, mini_db):
    base = tmp_path / "base"
    big = synthetic_dataset(base / "big", BUILD_ENTITIES)
    imp = synthetic_import(base / "imp", IMPORT_ENTITIES)
    old = digest(mini_db)

    # the new versions, from uninterrupted runs of the same code
    ref_build = tmp_path / "ref-build" / "atlas.duckdb"
    build_store(big, ref_build)
    new_build = digest(ref_build)
    ref_import = tmp_path / "ref-import" / "atlas.duckdb"
    ref_import.parent.mkdir()
    shutil.copyfile(mini_db, ref_import)
    from statecap.io import import_files

    import_files("csv", [imp], ref_import)
    new_import = digest(ref_import)
    assert len({old, new_build, new_import}) == 3

    rng = random.Random(SEED)
    jobs = []
    for command in ("build", "import"):
        for i in range(TRIALS_PER_COMMAND):
            trial = Trial(command, i, ("any", "write", "swap")[i % 3])
            store = tmp_path / f"{command}-{i}" / "atlas.duckdb"
            store.parent.mkdir()
            shutil.copyfile(mini_db, store)
            argv = (
                ["build", "--data", str(big), "--db", str(store)]
                if command == "build"
                else ["import", "csv", str(imp), "--db", str(store)]
            )
            jobs.append((trial, argv, store, random.Random(rng.random())))
    with ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(lambda job: run_trial(*job), jobs))

    for trial, _, store, _ in jobs:
        got = digest(store)
        new = new_build if trial.command == "build" else new_import
        assert got in (old, new), f"{trial}: the store is neither the old nor the new version"
        trial.outcome = "old" if got == old else "new"

    trials = [job[0] for job in jobs]
    assert len(trials) >= 20
    # the kills did land inside writes: the temporary file existed and the old store survived
    assert sum(t.killed_mid_write and t.outcome == "old" for t in trials) >= 2, trials
    # and just after the swap: the new store is whole
    for command in ("build", "import"):
        assert any(t.command == command and t.outcome == "new" for t in trials), trials

    # the next writer clears what killed writers left, and succeeds
    dirty = [job for job in jobs if job[0].leftovers]
    assert dirty, "no kill left a temporary file behind"
    trial, _, store, _ = dirty[0]
    build_store(MINI, store)
    assert temp_files(store.parent, store.name) == []
    assert digest(store) == old


def test_concurrent_imports_both_land(tmp_path, mini_db):
    """Two imports started together: both are in the store afterwards (writers take turns)."""
    store = tmp_path / "store" / "atlas.duckdb"
    store.parent.mkdir()
    shutil.copyfile(mini_db, store)
    folders = [synthetic_import(tmp_path / name, 300, prefix=f"cn-{name}") for name in ("one", "two")]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "statecap", "import", "csv", str(f), "--db", str(store)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for f in folders
    ]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    with connect(store) as con:
        ids = {r[0] for r in con.execute("SELECT id FROM entities").fetchall()}
    assert {f"cn-one-{i}" for i in range(300)} <= ids
    assert {f"cn-two-{i}" for i in range(300)} <= ids
