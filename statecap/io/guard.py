"""Checks on import files before and while they are read: hostile shapes become clear messages.

A file to import may be empty, in another encoding than UTF-8, nested ten thousand levels deep
(which makes streaming JSON parsers slow and recursive code overflow the stack), or hold a CSV
cell of megabytes. Each of these is refused with a message naming the file, never a traceback.
"""

from __future__ import annotations

import contextlib
import csv
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from statecap.errors import DataError, Problem

# Deeper than any BODS, FtM or GLEIF record (they nest about six levels); far below where
# recursive code fails.
MAX_JSON_DEPTH = 100
JSON_FORMATS = ("bods", "ftm", "gleif")
# Bytes scanned at a time; the scan holds about ten 8-byte integers per byte of a chunk.
CHUNK = 1 << 20
# The longest CSV cell read (Python's default limit): longer is a broken or hostile file.
MAX_CSV_CELL = 131_072
# Files up to this size are read whole to say where the first byte that is not UTF-8 is.
LOCATE_LIMIT = 64 * 1024 * 1024

_STEP = np.zeros(256, dtype=np.int64)
_STEP[[ord("["), ord("{")]] = 1
_STEP[[ord("]"), ord("}")]] = -1


def json_depth(path: Path, limit: int = MAX_JSON_DEPTH) -> tuple[int, int] | None:
    """(depth, line) where a JSON file (or JSON lines) first nests deeper than `limit`, or None.

    A vectorised scan that knows strings and escapes, so brackets inside names do not count; it
    is linear in the file size and reads it in chunks.
    """
    depth = 0
    in_string = False
    line = 1
    carry = b""  # trailing backslashes of the previous chunk, for escapes that straddle chunks
    with path.open("rb") as fh:
        while True:
            chunk = fh.read(CHUNK)
            if not chunk:
                return None
            data = carry + chunk
            a = np.frombuffer(data, dtype=np.uint8)
            idx = np.arange(a.size)
            backslash = a == 92
            last_other = np.maximum.accumulate(np.where(backslash, -1, idx))
            quotes = np.flatnonzero(a == 34)
            before = quotes - 1
            run = np.where(before >= 0, before - last_other[np.maximum(before, 0)], 0)
            real = quotes[run % 2 == 0]  # a quote after an even run of backslashes is not escaped
            toggles = np.zeros(a.size, dtype=np.int64)
            toggles[real] = 1
            inside = (np.cumsum(toggles) + int(in_string)) % 2 == 1
            inside[real] = True  # the quote characters themselves are not brackets anyway
            steps = np.where(inside, 0, _STEP[a])
            levels = np.cumsum(steps) + depth
            over = np.flatnonzero(levels > limit)
            if over.size:
                at = int(over[0])
                return int(levels[at]), line + int(np.count_nonzero(a[:at] == 10))
            if levels.size:
                depth = int(levels[-1])
            in_string = bool((int(np.count_nonzero(toggles)) + int(in_string)) % 2)
            line += int(np.count_nonzero(a[len(carry) :] == 10))
            stripped = data.rstrip(b"\\")
            carry = data[len(stripped) :]


def _looks_like_json(path: Path) -> bool:
    with path.open("rb") as fh:
        head = fh.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith((b"{", b"["))


def check_file(fmt: str, path: Path) -> None:
    """Refuse an import file that is empty or nested too deeply (DataError naming the file)."""
    files = sorted(p for p in path.iterdir() if p.suffix.lower() == ".csv") if path.is_dir() else [path]
    for f in files:
        if not f.is_file():
            continue
        if f.stat().st_size == 0:
            raise DataError(Problem(str(f), None, None, "file is empty: nothing to import"))
        if fmt in JSON_FORMATS and (fmt != "gleif" or _looks_like_json(f)):
            found = json_depth(f)
            if found is not None:
                raise DataError(
                    Problem(
                        str(f), None, None, f"JSON nested more than {MAX_JSON_DEPTH} levels deep", found[1]
                    )
                )


def _bad_utf8(file: str) -> Problem:
    path = Path(file)
    if path.is_dir():  # a folder of CSV files: name the one that is not UTF-8
        for f in sorted(p for p in path.iterdir() if p.suffix.lower() == ".csv"):
            if _is_bad_utf8(f):
                return _bad_utf8(str(f))
    with contextlib.suppress(OSError):
        raw = path.read_bytes() if path.is_file() and path.stat().st_size <= LOCATE_LIMIT else b""
        if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
            return Problem(
                file, None, None, "the file is UTF-16 (it starts with a byte-order mark); save it as UTF-8"
            )
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            return Problem(
                file, None, None, f"not valid UTF-8 (byte {exc.start}); save the file as UTF-8", line
            )
    return Problem(file, None, None, "not valid UTF-8; save the file as UTF-8")


def _is_bad_utf8(path: Path) -> bool:
    try:
        path.read_bytes().decode("utf-8")
    except (UnicodeDecodeError, OSError):
        return True
    return False


@contextlib.contextmanager
def reading(file: str) -> Iterator[None]:
    """Turn what a reader's parser raises on a hostile file into a DataError naming the file.

    CSV cells are limited to `MAX_CSV_CELL` characters while the file is read, whatever another
    library set the process-wide limit to (followthemoney raises it on import).
    """
    previous = csv.field_size_limit(MAX_CSV_CELL)
    try:
        yield
    except UnicodeDecodeError:
        raise DataError(_bad_utf8(file)) from None
    except csv.Error as exc:
        reason = str(exc)
        if "field larger than field limit" in reason:
            reason = f"a CSV cell is longer than {csv.field_size_limit():,} characters"
        raise DataError(Problem(file, None, None, f"not a readable CSV file: {reason}")) from None
    except RecursionError:
        raise DataError(Problem(file, None, None, "input nested too deeply to read")) from None
    finally:
        csv.field_size_limit(previous)
