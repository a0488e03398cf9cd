"""Schemathesis against the API's own OpenAPI spec: generated requests, valid and invalid.

No answer may be a server error, every status must be one the spec declares, every body must
match its declared schema and content type, invalid requests must be refused with a 4xx, and an
endpoint that declares the bearer token must refuse requests without it. The app serves a copy
of the mini atlas with a token configured, so the import endpoints are fuzzed too (with the
token: random uploads must fail cleanly or import; without it: 401).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402
from schemathesis import checks as C  # noqa: E402

from statecap.api.app import create_app  # noqa: E402
from statecap.api.lab import MAX_API_RUNS  # noqa: E402
from statecap.api.security import Security  # noqa: E402

TOKEN = "schemathesis-token-4c1d2e9a7b"
CHECKS = [
    C.not_a_server_error,
    C.status_code_conformance,
    C.content_type_conformance,
    C.response_schema_conformance,
    C.response_headers_conformance,
    C.negative_data_rejection,
    C.ignored_auth,
]
# Monte Carlo runs per generated request: the bound itself (2000, a 422 past it) is tested in the
# bad-input corpus; fuzzing near it would spend minutes simulating.
MAX_FUZZ_RUNS = 20


# The schema is read from the app when this module is imported; the app opens its store only when
# a request comes, so the store is put in place by a fixture before the first test runs.
STORE = Path(tempfile.mkdtemp(prefix="statecap-schemathesis-")) / "atlas.duckdb"
APP = create_app(STORE, security=Security(token=TOKEN, timeout_s=120))
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], max_examples=12)


@pytest.fixture(scope="module", autouse=True)
def _store(mini_db):
    shutil.copyfile(mini_db, STORE)
    yield
    shutil.rmtree(STORE.parent, ignore_errors=True)


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_spec(case):
    runs = case.body.get("runs") if isinstance(case.body, dict) else None
    if isinstance(runs, int) and not isinstance(runs, bool) and MAX_FUZZ_RUNS < runs <= MAX_API_RUNS:
        case.body["runs"] = MAX_FUZZ_RUNS  # still valid; invalid run counts are sent as generated
    case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"}, checks=CHECKS)
