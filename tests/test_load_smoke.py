"""A short run of the load benchmark (bench/load.py): concurrent clients against the real
`statecap serve` on loopback stop by themselves and see no error."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("httpx")
pytest.importorskip("uvicorn")

from bench.load import ENDPOINTS, run_load, sample_entities, serve  # noqa: E402


@pytest.mark.slow
def test_concurrent_clients_see_no_error(mini_db):
    ids = sample_entities(mini_db, 50)
    assert ids
    with serve(mini_db) as url:
        result = asyncio.run(run_load(url, ids, clients=8, seconds=3.0))
    assert result.errors == []
    assert set(result.latencies) == set(ENDPOINTS)  # every endpoint was asked and answered
    assert result.requests >= 8
    p = result.percentiles()
    assert p["p50"] <= p["p95"] <= p["p99"] <= p["max"]
