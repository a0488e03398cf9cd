"""Access: read-only by default, bearer token for every data-changing endpoint, paths confined to
the data directory, the server on loopback, no secret in any log; imports through the API land in
the served store exactly as `statecap import` would put them."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from statecap.api.app import create_app  # noqa: E402
from statecap.api.security import AccessDenied, Security, confine  # noqa: E402
from statecap.errors import UsageError  # noqa: E402

TOKEN = "access-test-token-" + "9f3b2c71d4e8a605"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
# POSTs that compute and change nothing (the policy lab); every other data-changing operation
# must ask for the token
READ_ONLY_POSTS = {"/api/simulate", "/api/simulate/export"}

STAKES_CSV = (
    "owner,owned,share,valid_from,sources\n"
    "cn-organ-a,cn-aico,12.5,2021-03-01,src-test\n"
    "cn-organ-b,cn-chipdesign,30,2021-03-01,src-test\n"
)
ENTITIES_CSV = (
    "id,name,kind,sources\ncn-newco,New Co,company,src-test\ncn-newco-sub,New Co Sub,company,src-test\n"
)


@pytest.fixture
def store(tmp_path, mini_db) -> Path:
    path = tmp_path / "store" / "atlas.duckdb"
    path.parent.mkdir()
    shutil.copyfile(mini_db, path)
    return path


def client_for(store: Path, **kw) -> TestClient:
    return TestClient(create_app(store, security=Security(**kw)))


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def table(db: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return sorted(con.execute(sql).fetchall(), key=repr)
    finally:
        con.close()


# ---- who may write --------------------------------------------------------------------------------


def data_changing_operations(app) -> list[tuple[str, str]]:
    ops = []
    for path, methods in app.openapi()["paths"].items():
        for method in methods:
            if method.upper() in ("POST", "PUT", "PATCH", "DELETE") and path not in READ_ONLY_POSTS:
                ops.append((method.upper(), path))
    return ops


def test_every_data_changing_endpoint_needs_the_token(store):
    app = create_app(store, security=Security(token=TOKEN))
    ops = data_changing_operations(app)
    assert ("POST", "/api/imports") in ops
    spec = app.openapi()
    with TestClient(app) as client:
        for method, path in ops:
            assert spec["paths"][path][method.lower()].get("security"), f"{method} {path} declares no token"
            for headers in (
                {},
                {"Authorization": "Bearer wrong-token-wrong-token"},
                {"Authorization": TOKEN},
            ):
                r = client.request(method, path, headers=headers)
                assert r.status_code == 401, (method, path, headers, r.text)
                assert r.headers.get("www-authenticate") == "Bearer"
    before = sha(store)
    assert sha(store) == before


def test_read_only_by_default_even_with_a_token_sent(store, monkeypatch):
    monkeypatch.delenv("STATECAP_TOKEN", raising=False)
    app = create_app(store)  # settings from the environment: no token, so read-only
    with TestClient(app) as client:
        for method, path in data_changing_operations(app):
            r = client.request(method, path, headers=AUTH)
            assert r.status_code == 403, (method, path, r.text)
            assert "writes are disabled" in r.json()["detail"]
        assert client.get("/api/health").status_code == 200


def test_token_from_the_environment(store, monkeypatch):
    monkeypatch.setenv("STATECAP_TOKEN", TOKEN)
    with TestClient(create_app(store)) as client:
        files = {"file": ("stakes.csv", STAKES_CSV.encode())}
        assert client.post("/api/imports", files=files, data={"format": "csv"}).status_code == 401
        r = client.post("/api/imports", files=files, data={"format": "csv"}, headers=AUTH)
        assert r.status_code == 200, r.text


def test_a_short_token_is_refused_without_echoing_it():
    with pytest.raises(UsageError) as info:
        Security(token="hunter2")
    assert "hunter2" not in str(info.value)
    assert "16" in str(info.value)


def test_token_compared_in_constant_time(store, monkeypatch):
    import statecap.api.security as sec

    calls = []
    real = sec.hmac.compare_digest

    def spy(a, b):
        calls.append((len(a), len(b)))
        return real(a, b)

    monkeypatch.setattr(sec.hmac, "compare_digest", spy)
    with client_for(store, token=TOKEN) as client:
        client.post("/api/imports", headers={"Authorization": "Bearer x"})
        client.post("/api/imports", headers={"Authorization": "Bearer " + "y" * 500})
    # both sides hashed first: equal lengths whatever was sent
    assert calls and all(a == b == 32 for a, b in calls)


# ---- imports through the API ----------------------------------------------------------------------


def test_upload_imports_into_the_served_store_like_the_cli(store, tmp_path, mini_db):
    with client_for(store, token=TOKEN) as client:
        before = client.get("/api/entities/cn-aico/owners").json()
        for name, text in (("entities.csv", ENTITIES_CSV), ("stakes.csv", STAKES_CSV)):
            r = client.post(
                "/api/imports", files={"file": (name, text.encode())}, data={"format": "csv"}, headers=AUTH
            )
            assert r.status_code == 200, r.text
        body = r.json()
        assert body["counts"]["stakes"] == 2 and body["rejected"] == 0
        assert "/tmp" not in r.text  # the server's paths stay on the server
        after = client.get("/api/entities/cn-aico/owners").json()  # the cache follows the store
        organ = {o["id"]: o for o in before["owners"]}["cn-organ-a"]
        assert organ["integrated"]["lo"] == 0.0  # only through the fund, whose stake is unknown
        organ = {o["id"]: o for o in after["owners"]}["cn-organ-a"]
        assert organ["direct"] == {"lo": 12.5, "hi": 12.5}  # the imported stake
        assert organ["integrated"]["lo"] == 12.5
        assert client.get("/api/entities/cn-newco").status_code == 200
        again = client.post(
            "/api/imports",
            files={"file": ("stakes.csv", STAKES_CSV.encode())},
            data={"format": "csv"},
            headers=AUTH,
        )
        assert again.status_code == 200
    # the oracle: the same files through `statecap import`'s function into another copy
    from statecap.io import import_files

    other = tmp_path / "other" / "atlas.duckdb"
    other.parent.mkdir()
    shutil.copyfile(mini_db, other)
    for name, text in (("entities.csv", ENTITIES_CSV), ("stakes.csv", STAKES_CSV)):
        folder = tmp_path / f"cli-{name}"
        folder.mkdir()
        (folder / name).write_text(text, encoding="utf-8")
        import_files("csv", [folder / name], other)
    for sql in (
        "SELECT id, owner, owned, share_lo, share_hi, valid_from, valid_to FROM stakes",
        "SELECT id, name, kind FROM entities",
    ):
        assert table(store, sql) == table(other, sql)


def test_bods_and_ftm_uploads(store):
    bods = [
        {
            "statementId": "a" * 36,
            "declarationSubject": "rec-x",
            "statementDate": "2026-01-01",
            "recordId": "rec-x",
            "recordType": "entity",
            "recordStatus": "new",
            "recordDetails": {
                "isComponent": False,
                "entityType": {"type": "registeredEntity"},
                "name": "X Ltd",
            },
            "publicationDetails": {
                "publicationDate": "2026-01-01",
                "bodsVersion": "0.4",
                "publisher": {"name": "t"},
            },
        }
    ]
    ftm = {"id": "acme", "schema": "Company", "properties": {"name": ["Acme Trading"]}}
    with client_for(store, token=TOKEN) as client:
        r = client.post(
            "/api/imports",
            files={"file": ("register.json", json.dumps(bods).encode())},
            data={"format": "bods"},
            headers=AUTH,
        )
        assert r.status_code == 200, r.text
        assert r.json()["counts"]["entities"] == 1
        r = client.post(
            "/api/imports",
            files={"file": ("entities.ftm.json", (json.dumps(ftm) + "\n").encode())},
            data={"format": "ftm"},
            headers=AUTH,
        )
        assert r.status_code == 200, r.text
        hits = client.get("/api/entities", params={"q": "Acme Trading"}).json()
        assert hits and hits[0]["name"] == "Acme Trading"


def test_skip_invalid_lists_the_rejects(store):
    bad = STAKES_CSV + "cn-organ-a,cn-founder,250,2021-03-01,src-test\n"
    with client_for(store, token=TOKEN) as client:
        r = client.post(
            "/api/imports",
            files={"file": ("stakes.csv", bad.encode())},
            data={"format": "csv", "skip_invalid": "true"},
            headers=AUTH,
        )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["rejected"] == 1 and body["counts"]["stakes"] == 2
    (reject,) = body["rejects"]
    assert reject["file"] == "stakes.csv" and reject["line"] == 4
    assert reject["problems"][0]["field"] == "share"


def test_import_from_the_data_directory(store, tmp_path):
    data = tmp_path / "incoming"
    (data / "batch").mkdir(parents=True)
    (data / "batch" / "stakes.csv").write_text(STAKES_CSV, encoding="utf-8")
    with client_for(store, token=TOKEN, data_dir=data) as client:
        r = client.post(
            "/api/imports/from-path", json={"format": "csv", "path": "batch/stakes.csv"}, headers=AUTH
        )
        assert r.status_code == 200, r.text
        assert r.json()["counts"]["stakes"] == 2
        r = client.post(
            "/api/imports/from-path", json={"format": "csv", "path": "batch/../../x"}, headers=AUTH
        )
        assert r.status_code == 403


# ---- paths cannot leave the data directory -------------------------------------------------------


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    """data/{a/, a/f.csv, b/, link -> ../outside, inner -> a} and outside/secret.csv."""
    root = tmp_path_factory.mktemp("confine")
    data = root / "data"
    (data / "a").mkdir(parents=True)
    (data / "b").mkdir()
    (data / "a" / "f.csv").write_text("x", encoding="utf-8")
    (root / "outside").mkdir()
    (root / "outside" / "secret.csv").write_text("secret", encoding="utf-8")
    (data / "link").symlink_to(root / "outside", target_is_directory=True)
    (data / "inner").symlink_to(data / "a", target_is_directory=True)
    return data


SEGMENTS = st.sampled_from(["..", ".", "a", "b", "f.csv", "link", "inner", "secret.csv", "", "//", "%2e%2e"])


@given(st.lists(SEGMENTS, min_size=1, max_size=7), st.booleans())
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_confined_paths_stay_inside(tree, parts, absolute):
    name = ("/" if absolute else "") + "/".join(parts)
    absolute = name.startswith("/")
    root = os.path.realpath(tree)
    try:
        got = confine(tree, name)
    except (AccessDenied, UsageError):
        # refused: then the path really leads outside, is absolute, or does not exist
        real = os.path.realpath(os.path.join(root, name.lstrip("/")))
        assert (
            absolute
            or not name.strip()
            or os.path.commonpath([root, real]) != root
            or not os.path.exists(real)
        )
        return
    assert not absolute
    assert os.path.commonpath([root, os.path.realpath(got)]) == root
    assert os.path.exists(got)


def test_symlink_out_of_the_data_directory_is_refused(tree):
    with pytest.raises(AccessDenied) as info:
        confine(tree, "link/secret.csv")
    assert info.value.status == 403
    assert confine(tree, "inner/f.csv") == (tree / "a" / "f.csv").resolve()


# ---- no secret in any log; loopback by default -------------------------------------------------------


def test_no_secret_in_the_logs(store, caplog):
    caplog.set_level(logging.DEBUG)
    with client_for(store, token=TOKEN) as client:
        for headers in (AUTH, {"Authorization": f"Bearer {TOKEN[:-1]}"}, {"Authorization": f"Basic {TOKEN}"}):
            r = client.post(
                "/api/imports",
                files={"file": ("stakes.csv", STAKES_CSV.encode())},
                data={"format": "csv"},
                headers=headers,
            )
            assert TOKEN not in r.text and TOKEN[:-1] not in r.text
    assert "import csv stakes.csv" in caplog.text  # imports are logged...
    assert TOKEN[:-1] not in caplog.text  # ...and no token, right or wrong, ever is
    assert TOKEN not in repr(Security(token=TOKEN))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_serve_binds_loopback_and_never_prints_the_token(store):
    psutil = pytest.importorskip("psutil")
    httpx = pytest.importorskip("httpx")
    port = free_port()
    env = {**os.environ, "STATECAP_TOKEN": TOKEN, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "statecap", "serve", "--port", str(port), "--db", str(store)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            try:
                if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.3)
        listening = [
            c.laddr
            for c in psutil.Process(proc.pid).net_connections(kind="inet")
            if c.status == psutil.CONN_LISTEN
        ]
        assert listening and all(addr.ip == "127.0.0.1" for addr in listening), listening
        files = {"file": ("stakes.csv", STAKES_CSV.encode())}
        assert httpx.post(f"{url}/api/imports", files=files, data={"format": "csv"}).status_code == 401
        wrong = {"Authorization": f"Bearer {TOKEN}0"}
        assert (
            httpx.post(f"{url}/api/imports", files=files, data={"format": "csv"}, headers=wrong).status_code
            == 401
        )
        r = httpx.post(f"{url}/api/imports", files=files, data={"format": "csv"}, headers=AUTH, timeout=60)
        assert r.status_code == 200, r.text
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            output, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
    assert "imports need the bearer token" in output
    assert TOKEN not in output


def test_streamed_bodies_over_the_limit_are_413(store):
    """Without a Content-Length (chunked), the limit holds while the body streams in."""

    def chunks(n: int):
        for _ in range(n):
            yield b"x" * 10_000

    with client_for(store, token=TOKEN, max_upload=100_000) as client:
        r = client.post("/api/simulate", content=chunks(200), headers={"content-type": "application/json"})
        assert r.status_code == 413
        assert "1,048,576 bytes" in r.json()["detail"]
        r = client.post(
            "/api/imports",
            content=chunks(50),
            headers={"content-type": "multipart/form-data; boundary=b", **AUTH},
        )
        assert r.status_code == 413
        assert "100,000 bytes" in r.json()["detail"]
    # an unauthenticated upload is refused before its body is read: 401, not 413
    with client_for(store, token=TOKEN, max_upload=100_000) as client:
        r = client.post(
            "/api/imports", content=chunks(50), headers={"content-type": "multipart/form-data; boundary=b"}
        )
        assert r.status_code == 401
