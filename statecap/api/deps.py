"""Shared pieces of the API's endpoints: the per-request store connection and parameter types."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from typing import Annotated, Any

import duckdb
import numpy as np
from fastapi import Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError

from statecap.store.db import connect


def jsonable(x: Any) -> Any:
    """Plain JSON values: numpy scalars and arrays unpacked, dates as ISO text, NaN and inf as None."""
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return [jsonable(v) for v in x.tolist()]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dt.datetime | dt.date):
        return x.isoformat()
    return x


def get_con(request: Request) -> Iterator[duckdb.DuckDBPyConnection]:
    """The store, opened read-only for one request."""
    with connect(request.app.state.statecap.db, read_only=True) as con:
        yield con


Con = Annotated[duckdb.DuckDBPyConnection, Depends(get_con)]


def as_of_date(
    as_of: Annotated[
        str | None,
        Query(
            description="Answer as of this date (YYYY-MM-DD, years 1800-2199); default today.",
            pattern=r"^(18|19|20|21)[0-9]{2}-[0-9]{2}-[0-9]{2}$",
            json_schema_extra={"format": "date"},
        ),
    ] = None,
) -> dt.date | None:
    """``as_of`` as a date: only the ISO form YYYY-MM-DD (no timestamps, no other forms)."""
    if as_of is None:
        return None
    try:
        return dt.date.fromisoformat(as_of)
    except ValueError:
        raise RequestValidationError(
            [
                {
                    "loc": ("query", "as_of"),
                    "msg": f"{as_of!r} is not a calendar date (YYYY-MM-DD)",
                    "type": "value_error",
                }
            ]
        ) from None


AsOf = Annotated[dt.date | None, Depends(as_of_date)]
Currency = Annotated[
    str, Query(description="CNY, USD, EUR or HKD.", pattern="^(CNY|USD|EUR|HKD|cny|usd|eur|hkd)$")
]
EntityId = Annotated[
    str, PathParam(description="Entity id or identifier (USCC, LEI, ticker, ...).", max_length=300)
]
