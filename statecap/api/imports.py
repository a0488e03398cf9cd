"""Imports through the API: ``POST /api/imports`` (an uploaded file) and ``POST /api/imports/from-path``
(a file in the server's data directory), into the served store.

Both call `statecap.io.import_files`, the function behind ``statecap import``: the same readers,
the same checks, all or nothing (a bad record changes nothing and answers 422 with one problem
per line, naming the file, record and field), written atomically, one writer at a time. Both
need the bearer token (`statecap.api.security.require_writer`); without a token configured the
server is read-only and they answer 403.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, File, Form, Request, UploadFile
from pydantic import Field

from statecap.api import models as M
from statecap.api.security import confine, error_responses, require_writer, settings
from statecap.errors import DataError, Problem, UsageError

log = logging.getLogger("statecap.api")
router = APIRouter(tags=["imports"], dependencies=[Depends(require_writer)])

Format = Literal["bods", "ftm", "csv", "gleif"]
MAX_REJECTS_SHOWN = 100
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


class Reject(M.Model):
    file: str | None = None
    record: str | None = None
    line: int | None = None
    problems: list[dict[str, Any]] = []


class ImportOut(M.Model):
    """What an import did: records read, rejected (with `skip_invalid`) and stored per table."""

    format: str
    file: str = Field(description="the file's name as sent (an upload) or its path in the data directory")
    items: int = Field(description="input records read")
    rejected: int = Field(description="input records left out (only with skip_invalid)")
    counts: dict[str, int] = Field(description="records stored per table (new or replaced)")
    rejects: list[Reject] = Field(description=f"the first {MAX_REJECTS_SHOWN} rejected records and why")


class FromPathIn(M.Model):
    format: Format
    path: str = Field(
        max_length=1000, description="a file (a folder, for csv) relative to the data directory"
    )
    skip_invalid: bool = False


def upload_name(fmt: str, filename: str | None) -> str:
    """A safe local name for an uploaded file: no folders, no odd characters.

    A CSV file's name says its record type (``stakes.csv``), so it must be one of them.
    """
    from statecap.io.store_read import ALL_TYPES

    base = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = _SAFE_NAME.sub("_", base).lstrip(".")[:100] or f"upload.{'csv' if fmt == 'csv' else 'json'}"
    if fmt == "csv":
        stem = name.rsplit(".", 1)[0].lower()
        if not name.lower().endswith(".csv") or stem not in ALL_TYPES:
            known = ", ".join(f"{t}.csv" for t in ALL_TYPES)
            raise UsageError(f"a statecap CSV upload is named after its record type ({known}), not {base!r}")
    return name


def _run_import(
    request: Request, fmt: str, path: Path, shown: str, skip_invalid: bool, workdir: Path
) -> dict[str, Any]:
    from statecap.io import import_files

    db = request.app.state.statecap.db
    rejects = workdir / "rejects.jsonl" if skip_invalid else None
    try:
        result = import_files(fmt, [path], db, skip_invalid=skip_invalid, rejects=rejects)
    except DataError as exc:  # name the file as the client knows it, not where the server put it
        raise DataError([_rename(p, path, shown) for p in exc.problems]) from None
    shown_rejects: list[dict[str, Any]] = []
    if rejects is not None and rejects.exists():
        with rejects.open(encoding="utf-8") as fh:
            for i, line in enumerate(fh):
                if i >= MAX_REJECTS_SHOWN:
                    break
                entry = json.loads(line)
                entry.pop("data", None)
                entry["file"] = _rename_text(entry.get("file"), path, shown)
                shown_rejects.append(entry)
    log.info(
        "import %s %s: %d items, %d rejected, %s",
        fmt,
        shown,
        result.items,
        result.rejected,
        result.counts,
    )
    return {
        "format": fmt,
        "file": shown,
        "items": result.items,
        "rejected": result.rejected,
        "counts": result.counts,
        "rejects": shown_rejects,
    }


def _rename_text(text: str | None, path: Path, shown: str) -> str | None:
    return None if text is None else text.replace(str(path), shown)


def _rename(p: Problem, path: Path, shown: str) -> Problem:
    return Problem(_rename_text(p.file, path, shown) or shown, p.record, p.field, p.reason, p.line)


@router.post(
    "/api/imports",
    response_model=ImportOut,
    response_model_exclude_unset=True,
    responses=error_responses(401, 403, 413),
)
def import_upload(
    request: Request,
    file: Annotated[
        UploadFile,
        File(description="a BODS 0.4 or FtM JSON (lines) file, a GLEIF file or a statecap CSV file"),
    ],
    format: Annotated[Format, Form(description="bods, ftm, csv or gleif")],
    skip_invalid: Annotated[bool, Form(description="import the valid records; list the others")] = False,
) -> Any:
    """Import an uploaded file into the served store (``statecap import``): all or nothing, idempotent.

    Needs ``Authorization: Bearer <token>``. A CSV upload is named after its record type
    (``stakes.csv``).
    """
    name = upload_name(format, file.filename)
    workdir = Path(tempfile.mkdtemp(prefix="statecap-upload-"))
    try:
        target = workdir / name
        with target.open("wb") as out:
            shutil.copyfileobj(file.file, out, 1 << 20)
        shown = file.filename or name
        return _run_import(request, format, target, shown, skip_invalid, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@router.post(
    "/api/imports/from-path",
    response_model=ImportOut,
    response_model_exclude_unset=True,
    responses=error_responses(401, 403, 413),
)
def import_from_path(request: Request, body: FromPathIn) -> Any:
    """Import a file that is already in the server's data directory (``--data-dir``).

    The path is relative to the data directory; one that leads outside it (``..``, an absolute
    path, a symbolic link) is refused with 403. Needs ``Authorization: Bearer <token>``.
    """
    target = confine(settings(request.app).data_dir, body.path)
    workdir = Path(tempfile.mkdtemp(prefix="statecap-import-"))
    try:
        return _run_import(request, body.format, target, body.path, body.skip_invalid, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def install_imports(app: FastAPI) -> None:
    """Add the import endpoints to `app`."""
    app.include_router(router)
