"""Who may change data through the API, how big and how long a request may be, which files it may name.

* Read-only by default. Endpoints that change data depend on `require_writer`: with no token
  configured they answer 403 (writes are disabled); with ``STATECAP_TOKEN`` set they need
  ``Authorization: Bearer <token>`` and answer 401 otherwise. The comparison is constant-time
  (SHA-256 of both sides, then `hmac.compare_digest`), and the check runs before the request
  body is read, so an unauthenticated client cannot make the server parse an upload.
* Request limits (`RequestLimits`, an ASGI middleware): a body over the limit is refused with 413
  (by its Content-Length at once, or as soon as a streamed body passes the limit); a request
  that runs past the time limit is answered 408 (imports are exempt: they are bounded by size).
* File paths sent to the API are resolved inside the configured data directory (`confine`);
  ``..``, absolute paths and symbolic links that lead out are refused with 403.
* The token is never logged, echoed or put in an error message.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import re
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException

from statecap.errors import UsageError

ENV_TOKEN = "STATECAP_TOKEN"
ENV_DATA_DIR = "STATECAP_DATA_DIR"
ENV_MAX_UPLOAD_MB = "STATECAP_MAX_UPLOAD_MB"
ENV_TIMEOUT = "STATECAP_REQUEST_TIMEOUT"
MIN_TOKEN_LENGTH = 16
MAX_BODY_BYTES = 1024 * 1024  # JSON bodies (a simulation's levers)
MAX_UPLOAD_BYTES = 64 * 1024 * 1024  # import uploads
REQUEST_TIMEOUT_S = 60.0
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

log = logging.getLogger("statecap.api")
SCHEME = "StatecapToken"
bearer = HTTPBearer(auto_error=False, scheme_name=SCHEME, description="The server's STATECAP_TOKEN")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True)
class Security:
    """The server's access settings. `token` is None for a read-only server."""

    token: str | None = field(default=None, repr=False)
    data_dir: Path | None = None
    max_body: int = MAX_BODY_BYTES
    max_upload: int = MAX_UPLOAD_BYTES
    timeout_s: float = REQUEST_TIMEOUT_S

    def __post_init__(self) -> None:
        if self.token is not None and len(self.token) < MIN_TOKEN_LENGTH:
            raise UsageError(
                f"{ENV_TOKEN} is {len(self.token)} characters long; use at least {MIN_TOKEN_LENGTH}, e.g. "
                "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        if self.data_dir is not None and not self.data_dir.is_dir():
            raise UsageError(f"data directory {self.data_dir} does not exist")

    @property
    def writes_enabled(self) -> bool:
        return self.token is not None

    @classmethod
    def from_env(cls, data_dir: str | Path | None = None) -> Security:
        """Settings from ``STATECAP_TOKEN``, ``STATECAP_DATA_DIR``, ``STATECAP_MAX_UPLOAD_MB`` and
        ``STATECAP_REQUEST_TIMEOUT`` (seconds); `data_dir` wins over the environment."""
        token = os.environ.get(ENV_TOKEN) or None
        folder = data_dir if data_dir is not None else (os.environ.get(ENV_DATA_DIR) or None)
        upload = os.environ.get(ENV_MAX_UPLOAD_MB)
        timeout = os.environ.get(ENV_TIMEOUT)
        try:
            max_upload = int(float(upload) * 1024 * 1024) if upload else MAX_UPLOAD_BYTES
            timeout_s = float(timeout) if timeout else REQUEST_TIMEOUT_S
        except ValueError:
            raise UsageError(f"{ENV_MAX_UPLOAD_MB} and {ENV_TIMEOUT} must be numbers") from None
        return cls(
            token=token,
            data_dir=Path(folder).expanduser() if folder else None,
            max_upload=max_upload,
            timeout_s=timeout_s,
        )


class AccessDenied(Exception):
    """A request the server refuses: 401 (no or wrong token) or 403 (writes disabled, path outside)."""

    def __init__(self, status: int, detail: str):
        super().__init__(detail)
        self.status = status
        self.detail = detail


def settings(app: Any) -> Security:
    sec = getattr(app.state, "security", None)
    return sec if isinstance(sec, Security) else Security()


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).digest()


def check_writer(sec: Security, authorization: str | None) -> None:
    """Raise AccessDenied unless `authorization` carries the server's token."""
    if sec.token is None:
        raise AccessDenied(
            403,
            f"writes are disabled: this server is read-only (start it with {ENV_TOKEN} set to allow imports)",
        )
    scheme, _, supplied = (authorization or "").partition(" ")
    # hash both sides so that the comparison takes the same time whatever the lengths
    if scheme.lower() != "bearer" or not hmac.compare_digest(_digest(supplied.strip()), _digest(sec.token)):
        raise AccessDenied(401, "this endpoint changes data: send Authorization: Bearer <token>")


def require_writer(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)
) -> None:
    """Dependency of every endpoint that changes data (see the module docstring)."""
    check_writer(settings(request.app), request.headers.get("authorization"))


def confine(data_dir: Path | None, name: str) -> Path:
    """The file `name` inside `data_dir`, refusing anything that resolves outside it (403)."""
    if data_dir is None:
        raise AccessDenied(
            403, f"this server reads no files by path (start it with --data-dir or {ENV_DATA_DIR})"
        )
    if "\x00" in name or not name.strip():
        raise AccessDenied(403, "the path is empty or contains a NUL character")
    rel = Path(name)
    if rel.is_absolute() or rel.drive:
        raise AccessDenied(403, f"path {name!r} must be relative to the data directory")
    root = data_dir.resolve()
    target = (root / rel).resolve()  # resolves '..' and symbolic links
    if not target.is_relative_to(root):
        raise AccessDenied(403, f"path {name!r} leads outside the data directory")
    if not target.exists():
        raise UsageError(f"path {name!r}: no such file in the data directory")
    return target


# ---- the middleware ---------------------------------------------------------------------------


class _TooLarge(StarletteHTTPException):
    """A streamed body past the limit: an HTTP error, so that body parsing passes it on as 413."""

    def __init__(self, limit: int):
        super().__init__(413, _too_large(limit))


def _json(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(status_code=status, content={"detail": detail, "problems": []}, headers=headers)


def writer_operations(app: FastAPI) -> list[tuple[re.Pattern[str], str]]:
    """(path pattern, method) of every operation that needs the token, read from the OpenAPI spec
    (an operation depending on `require_writer` declares the bearer scheme)."""
    out = []
    for path, ops in app.openapi().get("paths", {}).items():
        for method, op in ops.items():
            if isinstance(op, dict) and any(SCHEME in req for req in op.get("security", [])):
                pattern = re.sub(r"\\\{[^}]*\\\}", "[^/]+", re.escape(path))
                out.append((re.compile(f"^{pattern}$"), method.upper()))
    return out


class RequestLimits:
    """Body size and time limits, and the token check of data-changing routes before any body is read."""

    def __init__(self, app: ASGIApp, fastapi_app: FastAPI):
        self.app = app
        self.fastapi_app = fastapi_app
        self._writers: list[tuple[re.Pattern[str], str]] | None = None

    def writer_routes(self) -> list[tuple[re.Pattern[str], str]]:
        if self._writers is None:
            self._writers = writer_operations(self.fastapi_app)
        return self._writers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sec = settings(self.fastapi_app)
        path, method = scope.get("path", ""), scope.get("method", "GET")
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        writer = method in WRITE_METHODS and any(
            rx.match(path) and method == m for rx, m in self.writer_routes()
        )
        if writer:
            try:
                check_writer(sec, headers.get("authorization"))
            except AccessDenied as exc:
                await _denied(exc)(scope, receive, send)
                return
        limit = sec.max_upload if writer else sec.max_body
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await _json(413, _too_large(limit))(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge(limit)
            return message

        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            if writer or not path.startswith("/api/"):
                # imports are bounded by size (a timeout would not stop a running import); files
                # of the dashboard may take long to reach a slow client
                await self.app(scope, limited, tracking)
            else:
                await asyncio.wait_for(self.app(scope, limited, tracking), timeout=sec.timeout_s)
        except _TooLarge:
            if not started:
                await _json(413, _too_large(limit))(scope, receive, send)
        except TimeoutError:
            if not started:
                detail = (
                    f"the request took longer than {sec.timeout_s:g} s and was stopped; "
                    "ask for less (a smaller page, fewer runs)"
                )
                await _json(408, detail)(scope, receive, send)


def _too_large(limit: int) -> str:
    return f"the request body is larger than the {limit:,} bytes allowed"


def _denied(exc: AccessDenied) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return _json(exc.status, exc.detail, headers)


ERROR_DOCS: dict[int, str] = {
    401: "The endpoint changes data and the bearer token is missing or wrong",
    403: "Writes are disabled (no token configured), or a path leads outside the data directory",
    408: "The request ran past the server's time limit",
    413: "The request body is over the size limit",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the statuses this module answers (add them to a route's `responses`)."""
    from statecap.api.models import ErrorOut

    return {code: {"model": ErrorOut, "description": ERROR_DOCS[code]} for code in codes}


def install_security(app: FastAPI, security: Security | None = None) -> None:
    """Attach the access settings, the request-limits middleware and the 401/403 handler to `app`."""
    app.state.security = security if security is not None else Security.from_env()

    @app.exception_handler(AccessDenied)
    async def _access(request: Request, exc: AccessDenied) -> JSONResponse:
        return _denied(exc)

    app.add_middleware(RequestLimits, fastapi_app=app)
    sec = app.state.security
    log.info(
        "access: %s; data directory: %s",
        "imports need a bearer token" if sec.writes_enabled else "read-only (no token configured)",
        sec.data_dir or "none",
    )
