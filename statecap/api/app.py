"""The FastAPI application: the REST API (OpenAPI at /openapi.json, docs at /docs) and the dashboard.

Every endpoint parses its parameters, calls the one library function that answers the question
(the same one the CLI calls) and returns its result; it computes nothing itself. The store is
opened read-only for each request. Answers that take seconds (flows, indicators, the Sankey)
are cached per store file (see `statecap.api.cache`).

Errors: an unknown entity is 404; any other `UsageError` (a bad option value) is 400; a
`DataError` (an invalid scenario) is 422 with one problem per line; a missing or unreadable store
is 503; malformed parameters are 422. Every error body is ``{"detail": message, "problems": [...]}``.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import threading
from collections.abc import Callable
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import duckdb
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from statecap import __version__
from statecap.api import models as M
from statecap.api.cache import ResultCache, store_identity
from statecap.api.deps import AsOf, Con, Currency, EntityId, jsonable
from statecap.api.imports import install_imports
from statecap.api.lab import router as lab_router
from statecap.api.security import Security, install_security
from statecap.errors import DataError, StatecapError, StoreError, UsageError
from statecap.model.taxonomy import load_taxonomy
from statecap.store.db import connect, resolve_db_path

MAX_LIMIT = 500
MAX_OFFSET = 10_000_000
FLOW_KEYS = "(sector|sub_sector|mechanism|year|level|record_type|currency)"
BY_PATTERN = rf"^{FLOW_KEYS}(,{FLOW_KEYS})*$"
SECTOR_PATTERN = "^(" + "|".join(re.escape(c) for c in sorted(load_taxonomy().sectors)) + ")$"
Rule = Literal["ofac50", "bis-affiliates", "outbound", "owned-or-controlled"]
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": M.ErrorOut, "description": "A parameter has a value the question cannot take"},
    404: {"model": M.ErrorOut, "description": "No such entity"},
    422: {"model": M.ErrorOut, "description": "Malformed parameters or invalid scenario data"},
    503: {"model": M.ErrorOut, "description": "The store is missing or cannot be read"},
    408: {"model": M.ErrorOut, "description": "The request ran past the time limit"},
    413: {"model": M.ErrorOut, "description": "The request body is over the size limit"},
}


class EntityNotFound(Exception):
    """An entity id or identifier that matches nothing (answered with 404)."""


def web_dir() -> Path:
    """The dashboard's pages and scripts (statecap/web)."""
    return Path(str(resources.files("statecap") / "web"))


def plotly_js() -> Path:
    """plotly.js as shipped inside the `plotly` pip package (never a copy in this repository)."""
    try:
        import plotly
    except ImportError:  # pragma: no cover - the web extra brings it
        raise StoreError("the dashboard's charts need plotly: pip install 'statecap[web]'") from None
    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


class AppState:
    """The store path and the caches of one application."""

    def __init__(self, db: Path):
        self.db = db
        self.results = ResultCache(64)
        self.graphs = ResultCache(8)
        self.warmed = threading.Event()  # set once `_warm_up` has run (whether or not it succeeded)

    def identity(self) -> tuple[str, int, int, int]:
        return store_identity(self.db)

    def cached(self, name: str, args: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
        """A result computed once per store file, question and arguments."""
        return self.results.get((self.identity(), name, args), compute)

    def flows(
        self,
        con: duckdb.DuckDBPyConnection,
        keys: list[str],
        year_from: int | None = None,
        year_to: int | None = None,
        as_of: dt.date | None = None,
        currency: str = "CNY",
    ) -> Any:
        """`flows_report` (``statecap flows --json``), cached."""
        from statecap.queries.flows import flows_report

        def compute() -> Any:
            result = flows_report(con, keys, year_from, year_to, as_of, currency)
            result.pop("frame", None)
            return jsonable(result)

        return self.cached("flows", (tuple(keys), year_from, year_to, as_of, currency.upper()), compute)

    def sankey(
        self,
        con: duckdb.DuckDBPyConnection,
        as_of: dt.date | None = None,
        currency: str = "CNY",
        top_payers: int = 15,
        top_organs: int = 10,
    ) -> Any:
        """`state_money_sankey`, cached."""
        from statecap.queries.sankey import state_money_sankey

        return self.cached(
            "sankey",
            (as_of, currency.upper(), top_payers, top_organs),
            lambda: jsonable(state_money_sankey(con, as_of, currency, top_payers, top_organs)),
        )

    def indicators(
        self, con: duckdb.DuckDBPyConnection, as_of: dt.date | None = None, currency: str = "CNY"
    ) -> Any:
        """`indicators_report` (``statecap indicators --json``), cached."""
        from statecap.queries.indicators import indicators_report

        return self.cached(
            "indicators", (as_of, currency.upper()), lambda: jsonable(indicators_report(con, as_of, currency))
        )

    def graph(self, con: duckdb.DuckDBPyConnection, as_of: dt.date | None) -> Any:
        """The ownership graph as of a date (today when None), loaded once per store file."""
        from statecap.graph.load import load_graph

        day = as_of if as_of is not None else dt.date.today()
        return self.graphs.get((self.identity(), day), lambda: load_graph(con, day))


def _error(status: int, detail: str, problems: list[dict[str, Any]] | None = None) -> JSONResponse:
    return JSONResponse(status_code=status, content={"detail": detail, "problems": problems or []})


def create_app(db: str | Path | None = None, warm: bool = False, security: Security | None = None) -> FastAPI:
    """The application for one store.

    Args:
        db: the store path (default: ``$STATECAP_DB`` or the per-user default store).
        warm: load today's ownership graph in the background at start-up, so that the first
            entity page is quick.
        security: who may import, request limits, the data directory (default: from the
            environment, see `statecap.api.security`).
    """
    state = AppState(resolve_db_path(db))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        if warm:
            threading.Thread(target=_warm_up, args=(state,), daemon=True).start()
        yield

    app = FastAPI(
        title="statecap",
        version=__version__,
        description="Who owns and controls what (state shares as intervals), where state money goes, "
        "and what policy would do. Shares are percent; every answer carries its paths or records.",
        lifespan=lifespan,
        responses=ERRORS,
    )
    app.state.statecap = state

    @app.exception_handler(EntityNotFound)
    async def _not_found(request: Request, exc: EntityNotFound) -> JSONResponse:
        return _error(404, str(exc))

    @app.exception_handler(UsageError)
    async def _usage(request: Request, exc: UsageError) -> JSONResponse:
        return _error(400, str(exc))

    @app.exception_handler(DataError)
    async def _data(request: Request, exc: DataError) -> JSONResponse:
        problems = [
            {"file": p.file, "record": p.record, "field": p.field, "reason": p.reason, "line": p.line}
            for p in exc.problems
        ]
        return _error(422, str(exc), problems)

    @app.exception_handler(StoreError)
    async def _store(request: Request, exc: StoreError) -> JSONResponse:
        return _error(503, str(exc))

    @app.exception_handler(StatecapError)
    async def _other(request: Request, exc: StatecapError) -> JSONResponse:
        return _error(400, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for e in exc.errors():
            loc = [str(x) for x in e.get("loc", ())]
            problems.append(
                {"field": ".".join(loc[1:]) or None, "record": loc[0] if loc else None, "reason": e["msg"]}
            )
        detail = (
            "; ".join(f"{p['field'] or p['record']}: {p['reason']}" for p in problems) or "invalid request"
        )
        return _error(422, detail, problems)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        response = _error(exc.status_code, str(exc.detail))
        response.headers.update(exc.headers or {})  # e.g. Allow on 405
        return response

    def resolve(con: duckdb.DuckDBPyConnection, key: str) -> str:
        from statecap.store.query import resolve_entity

        try:
            return resolve_entity(con, key)
        except UsageError as exc:
            raise EntityNotFound(str(exc)) from None

    # ---- health and entities ----------------------------------------------------------------

    @app.get("/api/health", response_model=M.Health, response_model_exclude_unset=True, tags=["store"])
    def health(con: Con) -> Any:
        """Whether the service and its store are up, with the store's provenance and record counts."""
        from statecap.store.query import stats

        s = stats(con)
        return {"status": "ok", "statecap_version": __version__, "store": s["store"], "counts": s["counts"]}

    @app.get(
        "/api/entities",
        response_model=list[M.EntityBrief],
        response_model_exclude_unset=True,
        tags=["entities"],
    )
    def entities(
        con: Con,
        q: Annotated[
            str,
            Query(
                description="Id, English or Chinese name, alias or identifier.",
                min_length=1,
                max_length=200,
                pattern=r"[0-9A-Za-z\u00c0-\uffef]",
            ),
        ],
        limit: Annotated[int, Query(ge=1, le=100)] = 10,
    ) -> Any:
        """Entities matching a query, best match first (``statecap entity QUERY``)."""
        from statecap.store.query import search_entities

        return search_entities(con, q, limit=limit)

    @app.get(
        "/api/entities/{entity_id}",
        response_model=M.EntityDetail,
        response_model_exclude_unset=True,
        tags=["entities"],
    )
    def entity(con: Con, entity_id: EntityId) -> Any:
        """One entity with its identifiers, sources and designations."""
        from statecap.queries.profile import entity_profile

        return entity_profile(con, resolve(con, entity_id))

    @app.get(
        "/api/entities/{entity_id}/owners",
        response_model=M.OwnersReport,
        response_model_exclude_unset=True,
        tags=["ownership"],
    )
    def owners(
        con: Con,
        entity_id: EntityId,
        as_of: AsOf = None,
        paths: Annotated[int, Query(ge=1, le=20, description="Paths to give per owner.")] = 3,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    ) -> Any:
        """Every direct and indirect owner with integrated shares [lo, hi] and paths (``statecap owners``).

        The owners list is paged with ``limit`` and ``offset``; ``total`` says how many there are.
        """
        from statecap.analytics.ownership import owners_report

        eid = resolve(con, entity_id)
        report = state.cached(
            "owners",
            (eid, as_of, paths),
            lambda: owners_report(con, eid, as_of, paths=paths, graph=state.graph(con, as_of)),
        )
        page = dict(report)
        page["total"] = len(report["owners"])
        page["owners"] = report["owners"][offset : offset + limit]
        page["limit"], page["offset"] = limit, offset
        return jsonable(page)

    @app.get(
        "/api/entities/{entity_id}/control",
        response_model=M.ControlReport,
        response_model_exclude_unset=True,
        tags=["ownership"],
    )
    def control(con: Con, entity_id: EntityId, as_of: AsOf = None) -> Any:
        """The controller under each rule and the chain behind it (``statecap control``)."""
        from statecap.analytics.control import control_report

        eid = resolve(con, entity_id)
        return jsonable(
            state.cached(
                "control",
                (eid, as_of),
                lambda: control_report(con, eid, as_of, graph=state.graph(con, as_of)),
            )
        )

    @app.get(
        "/api/entities/{entity_id}/stakes",
        response_model=M.Neighbourhood,
        response_model_exclude_unset=True,
        tags=["ownership"],
    )
    def stakes(
        con: Con,
        entity_id: EntityId,
        direction: Annotated[
            str, Query(pattern="^(owners|holdings)$", description="owners or holdings")
        ] = "owners",
        as_of: AsOf = None,
        stake_type: Annotated[str, Query(alias="type", pattern="^(equity|voting)$")] = "equity",
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    ) -> Any:
        """The stakes held in the entity (``owners``) or by it (``holdings``), one page, with sources."""
        from statecap.queries.neighbours import neighbourhood

        eid = resolve(con, entity_id)
        return neighbourhood(con, eid, direction, as_of, limit=limit, offset=offset, stake_type=stake_type)

    @app.get(
        "/api/entities/{entity_id}/screen",
        response_model=M.ScreenReport,
        response_model_exclude_unset=True,
        tags=["screening"],
    )
    def screen(
        con: Con,
        entity_id: EntityId,
        as_of: AsOf = None,
        rule: Annotated[
            list[Rule] | None,
            Query(
                description="Rules to apply (default all): ofac50, bis-affiliates, outbound, owned-or-controlled."
            ),
        ] = None,
    ) -> Any:
        """The entity under every screening rule, side by side, with evidence (``statecap screen ID --all-rules``)."""
        from statecap.queries.screen import screen_entity

        eid = resolve(con, entity_id)
        rules = tuple(rule) if rule else None
        return state.cached(
            "screen", (eid, as_of, rules), lambda: jsonable(screen_entity(con, eid, rules=rules, as_of=as_of))
        )

    @app.get(
        "/api/state-share",
        response_model=M.StateShareReport,
        response_model_exclude_unset=True,
        tags=["ownership"],
    )
    def state_share(
        con: Con,
        top: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 20,
        sector: Annotated[
            str | None,
            Query(description="A sector or sub-sector code (sectors.yaml).", pattern=SECTOR_PATTERN),
        ] = None,
        as_of: AsOf = None,
    ) -> Any:
        """Entities with the largest integrated state shares (``statecap state-share``)."""
        from statecap.analytics.ownership import state_share_report

        return jsonable(
            state_share_report(con, top=top, sector=sector, as_of=as_of, graph=state.graph(con, as_of))
        )

    # ---- flows and indicators ---------------------------------------------------------------

    @app.get("/api/flows", response_model=M.FlowsReport, response_model_exclude_unset=True, tags=["flows"])
    def flows(
        con: Con,
        by: Annotated[
            str,
            Query(
                description="Comma-separated: sector, sub_sector, mechanism, year, level, record_type, currency.",
                pattern=BY_PATTERN,
            ),
        ] = "sector,mechanism",
        year_from: Annotated[int | None, Query(alias="from", ge=1900, le=2200)] = None,
        year_to: Annotated[int | None, Query(alias="to", ge=1900, le=2200)] = None,
        as_of: AsOf = None,
        currency: Currency = "CNY",
    ) -> Any:
        """State capital by sector, mechanism, year and organ level, with bounds (``statecap flows``)."""
        keys = [b.strip() for b in by.split(",") if b.strip()]
        return state.flows(con, keys, year_from, year_to, as_of, currency)

    @app.get(
        "/api/flows/sankey", response_model=M.SankeyOut, response_model_exclude_unset=True, tags=["flows"]
    )
    def sankey(
        con: Con,
        as_of: AsOf = None,
        currency: Currency = "CNY",
        top_payers: Annotated[int, Query(ge=1, le=100)] = 15,
        top_organs: Annotated[int, Query(ge=1, le=100)] = 10,
    ) -> Any:
        """State money from state organs through funds and SOEs to sectors (nodes and links)."""
        return state.sankey(con, as_of, currency, top_payers, top_organs)

    @app.get(
        "/api/entities/{entity_id}/trace",
        response_model=M.TraceOut,
        response_model_exclude_unset=True,
        tags=["flows"],
    )
    def trace(
        con: Con,
        entity_id: EntityId,
        as_of: AsOf = None,
        currency: Currency = "CNY",
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    ) -> Any:
        """Where one entity's money went and where the money reaching it came from (``statecap flows trace``)."""
        from statecap.queries.flows import trace as trace_query

        eid = resolve(con, entity_id)
        return state.cached(
            "trace",
            (eid, as_of, currency.upper(), limit),
            lambda: jsonable(trace_query(con, eid, as_of, currency, limit)),
        )

    @app.get(
        "/api/indicators", response_model=M.IndicatorsOut, response_model_exclude_unset=True, tags=["flows"]
    )
    def indicators(con: Con, as_of: AsOf = None, currency: Currency = "CNY") -> Any:
        """The system's indicators: efficiency, distortion, headwinds, debt, innovation, drivers (``statecap indicators``)."""
        return state.indicators(con, as_of, currency)

    # ---- the data ---------------------------------------------------------------------------

    @app.get("/api/summary", response_model=M.SummaryOut, response_model_exclude_unset=True, tags=["store"])
    def summary(con: Con) -> Any:
        """The atlas at a glance (``statecap summary``)."""
        from statecap.report.summary import atlas_summary

        return jsonable(atlas_summary(con))

    @app.get("/api/audit", response_model=M.AuditOut, response_model_exclude_unset=True, tags=["store"])
    def audit(con: Con) -> Any:
        """Coverage by sector x mechanism, sourcing and confidence (``statecap data audit``)."""
        from statecap.store.audit import audit as audit_query

        return state.cached("audit", (), lambda: jsonable(audit_query(con)))

    app.include_router(lab_router)

    # ---- the dashboard ----------------------------------------------------------------------

    static = web_dir() / "static"
    app.mount("/static", StaticFiles(directory=str(static)), name="static")

    @app.get("/assets/plotly.min.js", include_in_schema=False)
    def plotly_asset() -> FileResponse:
        return FileResponse(
            plotly_js(), media_type="text/javascript", headers={"Cache-Control": "max-age=86400"}
        )

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        return FileResponse(static / "favicon.svg", media_type="image/svg+xml")

    @app.get("/", include_in_schema=False, response_class=HTMLResponse)
    def index() -> HTMLResponse:
        return HTMLResponse((web_dir() / "index.html").read_text(encoding="utf-8"))

    install_imports(app)  # POST /api/imports (statecap.api.imports)
    install_security(app, security)  # token, request limits, data directory (statecap.api.security)
    return app


def _warm_up(state: AppState) -> None:
    """Load today's graph, then fill the caches of the dashboard's slow pages (flows, the Sankey,
    indicators) with their default questions. Errors are left for real requests to report."""
    try:
        with connect(state.db, read_only=True) as con:
            from statecap.analytics.ownership import state_share

            state_share(state.graph(con, None))
            state.sankey(con)
            state.flows(con, ["sector", "mechanism"])
            state.flows(con, ["year", "mechanism"])
            state.indicators(con)
    except Exception:  # noqa: BLE001 - warming is best effort; real requests report real errors
        return
    finally:
        state.warmed.set()


def app_from_env() -> FastAPI:
    """The application for ``$STATECAP_DB`` (for ``uvicorn --factory statecap.api.app:app_from_env``)."""
    return create_app(os.environ.get("STATECAP_DB"), warm=True)
