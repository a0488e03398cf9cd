"""The screening endpoint returns what `statecap screen ID --all-rules --json` prints."""

from __future__ import annotations

import pytest

from tests.test_api import cli_json, ok

pytest.importorskip("fastapi")

from fastapi.testclient import TestClient  # noqa: E402

from statecap.api.app import create_app  # noqa: E402


@pytest.fixture(scope="module")
def mini(mini_db):
    with TestClient(create_app(mini_db)) as client:
        yield client


def test_screen_equals_the_cli(mini, mini_db):
    api = ok(mini, "/api/entities/cn-chipco/screen")
    assert api == cli_json(mini_db, "screen", "cn-chipco", "--all-rules")
    assert api["rules"]["bis-affiliates"]["verdict"] == "designated"
    only = ok(mini, "/api/entities/cn-chipco/screen", params={"rule": ["ofac50", "outbound"]})
    assert set(only["rules"]) == {"ofac50", "outbound"}
    r = mini.get("/api/entities/cn-chipco/screen", params={"rule": "no-such-rule"})
    assert r.status_code == 422 and "rule" in r.json()["detail"]
