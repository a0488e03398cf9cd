"""The bad-input corpus (tests/bad_inputs/manifest.yaml): every hostile or malformed input fails cleanly.

A clean failure is: a non-zero exit code (or a 4xx status), a message naming what is wrong and
where (each fragment the manifest lists), no traceback, and the store byte-identical afterwards
with nothing left beside it. The manifest's fragments are written from what a user needs to be
told, not copied from the code's output, so a worse message fails the test.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import MINI

CORPUS = Path(__file__).parent / "bad_inputs"
MANIFEST = yaml.safe_load((CORPUS / "manifest.yaml").read_text(encoding="utf-8"))
CASES: list[dict[str, Any]] = MANIFEST["cases"]
CLI_KINDS = ("dataset", "import", "scenario", "cli")


# ---- generated inputs (too big or too deep to keep in git) ----------------------------------------


def _nested(path: Path, spec: dict[str, Any]) -> None:
    depth = int(spec["depth"])
    text = spec.get("prefix", "") + spec["open"] * depth + spec.get("middle", "") + spec["close"] * depth
    path.write_text(text + "\n", encoding="utf-8")


def _sparse(path: Path, spec: dict[str, Any]) -> None:
    with path.open("wb") as fh:
        fh.truncate(int(spec["size"]))


def _big_cell(path: Path, spec: dict[str, Any]) -> None:
    path.write_text(f"id,name,kind\ncn-big,{'A' * int(spec['size'])},company\n", encoding="utf-8")


GENERATORS = {"nested": _nested, "sparse": _sparse, "big_cell": _big_cell}


def generate(spec: dict[str, Any], root: Path) -> None:
    path = root / spec["path"]
    path.parent.mkdir(parents=True, exist_ok=True)
    GENERATORS[spec["kind"]](path, spec)


# ---- running one case ---------------------------------------------------------------------------


def sha256(path: Path) -> str | None:
    if not path.exists():
        return None
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def normalise(text: str) -> str:
    """Output with rich's box characters removed and whitespace collapsed (panels wrap lines)."""
    text = re.sub(r"[\u2500-\u257f]", " ", text)
    return " ".join(text.split())


def run_statecap(argv: list[str], in_process: bool, monkeypatch, capsys) -> tuple[int, str]:
    """Run `statecap ARGV`: in this process through the real entry point, or as a subprocess."""
    env = {"COLUMNS": "200", "TERMINAL_WIDTH": "200", "NO_COLOR": "1"}
    if not in_process:
        proc = subprocess.run(
            [sys.executable, "-m", "statecap", *argv],
            capture_output=True,
            text=True,
            env={**os.environ, **env},
            timeout=300,
        )
        return proc.returncode, proc.stdout + proc.stderr
    from statecap.cli import main

    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setattr(sys, "argv", ["statecap", *argv])
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def prepare(case: dict[str, Any], tmp: Path, mini_db: Path) -> tuple[list[str], Path]:
    """The argv of a case and the store it must leave unchanged."""
    store = tmp / "store" / "atlas.duckdb"
    store.parent.mkdir()
    origin = case.get("store_from", "mini")
    if origin == "mini":
        shutil.copyfile(mini_db, store)
    elif origin != "none":
        shutil.copyfile(CORPUS / origin, store)
    gen = tmp / "generated"
    gen.mkdir()
    subs = {"db": str(store), "corpus": str(CORPUS), "tmp": str(tmp), "generated": str(gen)}
    kind = case["kind"]
    if kind == "dataset":
        data = tmp / "data"
        shutil.copytree(MINI, data)
        if "dir" in case:
            shutil.copytree(CORPUS / "dataset" / case["dir"], data, dirs_exist_ok=True)
        if "generate" in case:
            generate(case["generate"], data)
        return ["build", "--data", str(data), "--db", str(store)], store
    if "generate" in case:
        generate(case["generate"], gen)
    if kind in ("import", "scenario"):
        file = case["file"].format(**subs)
        file = file if Path(file).is_absolute() else str(CORPUS / file)
        if kind == "import":
            return ["import", case["format"], file, "--db", str(store)], store
        return ["simulate", file, "--runs", "2", "--db", str(store)], store
    return [a.format(**subs) for a in case["argv"]], store


@pytest.mark.parametrize("case", [c for c in CASES if c["kind"] in CLI_KINDS], ids=lambda c: c["id"])
def test_bad_input_fails_cleanly_and_changes_nothing(case, tmp_path, mini_db, monkeypatch, capsys):
    argv, store = prepare(case, tmp_path, mini_db)
    before = sha256(store)
    code, output = run_statecap(argv, not case.get("subprocess", False), monkeypatch, capsys)
    text = normalise(output)
    assert code == case.get("exit", 2), f"exit code {code}; output:\n{output}"
    assert "Traceback" not in output, output
    for fragment in case["messages"]:
        assert normalise(fragment) in text, f"{fragment!r} not in the message:\n{output}"
    assert sha256(store) == before, "the store changed"
    left = sorted(p.name for p in store.parent.iterdir())
    assert left == ([store.name] if before is not None else []), f"files left beside the store: {left}"


# ---- API requests -----------------------------------------------------------------------------------

TOKEN = "corpus-token-0123456789abcdef"


def api_case_setup(case: dict[str, Any], tmp: Path, mini_db: Path):
    """The app over a copy of the mini store, with the case's access settings, and its store path."""
    from statecap.api.app import create_app
    from statecap.api.security import Security

    store = tmp / "store" / "atlas.duckdb"
    store.parent.mkdir()
    shutil.copyfile(mini_db, store)
    data_dir = tmp / "data-dir"
    (data_dir / "incoming").mkdir(parents=True)
    shutil.copyfile(CORPUS / "import/csv-share-over-100/stakes.csv", data_dir / "incoming" / "stakes.csv")
    (tmp / "outside").mkdir()
    shutil.copyfile(CORPUS / "import/csv-share-over-100/stakes.csv", tmp / "outside" / "stakes.csv")
    (data_dir / "link").symlink_to(tmp / "outside", target_is_directory=True)
    server = case.get("server", {})
    security = Security(
        token=TOKEN if server.get("token", True) else None,
        data_dir=data_dir if server.get("data_dir", True) else None,
        max_upload=server.get("max_upload", Security.max_upload),
        timeout_s=server.get("timeout_s", Security.timeout_s),
    )
    return create_app(store, security=security), store


def send(client, req: dict[str, Any], gen: Path):
    def fill(text: str) -> str:
        return text.replace("{token}", TOKEN).replace("{generated}", str(gen))

    kw: dict[str, Any] = {"headers": {k: fill(v) for k, v in req.get("headers", {}).items()}}
    if "params" in req:
        kw["params"] = req["params"]
    if "json" in req:
        kw["json"] = req["json"]
    if "data" in req:
        kw["data"] = req["data"]
    if "files" in req:
        kw["files"] = {}
        for field, ref in req["files"].items():
            path = Path(fill(ref)) if ref.startswith("{") else CORPUS / ref
            kw["files"][field] = (req.get("filename", path.name), path.read_bytes())
    if "body_bytes" in req:
        kw["content"] = b" " * int(req["body_bytes"])
    if "body_nested" in req:
        kw["content"] = b"[" * int(req["body_nested"]) + b"]" * int(req["body_nested"])
    return client.request(req["method"], req["path"], **kw)


@pytest.mark.parametrize("case", [c for c in CASES if c["kind"] == "api"], ids=lambda c: c["id"])
def test_bad_request_gets_a_4xx_and_changes_nothing(case, tmp_path, mini_db):
    from fastapi.testclient import TestClient

    app, store = api_case_setup(case, tmp_path, mini_db)
    gen = tmp_path / "generated"
    gen.mkdir()
    if "generate" in case:
        generate(case["generate"], gen)
    before = sha256(store)
    with TestClient(app, raise_server_exceptions=True) as client:
        response = send(client, case["request"], gen)
    assert response.status_code == case["status"], response.text
    body = response.json()
    assert set(body) >= {"detail", "problems"}, body
    text = normalise(body["detail"] + " " + " ".join(str(p) for p in body["problems"]))
    for fragment in case["messages"]:
        assert normalise(fragment) in text, f"{fragment!r} not in {body}"
    assert TOKEN not in response.text
    assert sha256(store) == before, "the store changed"
    assert sorted(p.name for p in store.parent.iterdir()) == [store.name]


# ---- the corpus itself ----------------------------------------------------------------------------


def test_corpus_is_large_and_every_file_is_used():
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids)), "case ids must be unique"
    assert len(CASES) >= 60
    for kind in ("dataset", "import", "scenario", "cli", "api"):
        assert any(c["kind"] == kind for c in CASES), f"no {kind} case"
    assert all(c["messages"] for c in CASES), "every case names the message it expects"
    used: set[Path] = set()
    for c in CASES:
        if c["kind"] == "dataset" and "dir" in c:
            used.update(p for p in (CORPUS / "dataset" / c["dir"]).rglob("*") if p.is_file())
        refs = [c.get("file", ""), c.get("store_from", ""), *c.get("argv", [])]
        refs += [v for v in (c.get("request") or {}).get("files", {}).values()]
        for ref in refs:
            ref = str(ref).replace("{corpus}/", "")
            if ref and not ref.startswith("{") and (CORPUS / ref).exists():
                target = CORPUS / ref
                used.update([target] if target.is_file() else (p for p in target.rglob("*") if p.is_file()))
    used.add(CORPUS / "scenario" / "extends-loop-b.yaml")  # reached through extends-loop-a
    files = {p for p in CORPUS.rglob("*") if p.is_file() and p.name not in ("manifest.yaml", "README.md")}
    assert sorted(map(str, files - used)) == [], "corpus files no case uses"
