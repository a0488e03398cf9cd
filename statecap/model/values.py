"""Value types: share intervals, partial dates and amounts, parsed from what data files hold."""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from typing import Any

UNKNOWN_WORDS = {"unknown", "?", "n/a", "na", "undisclosed"}


@dataclass(frozen=True, slots=True)
class Interval:
    """A percentage known to lie in [lo, hi] (0-100).

    `kind` says where the bounds come from: ``exact`` (lo == hi), ``range`` (a band from a
    source) or ``unknown`` (the holding exists, its size does not appear anywhere: [0, 100]).
    """

    lo: float
    hi: float
    kind: str = "exact"

    @classmethod
    def exact(cls, x: float) -> Interval:
        return cls(float(x), float(x), "exact")

    @classmethod
    def unknown(cls) -> Interval:
        return cls(0.0, 100.0, "unknown")

    def as_json(self) -> dict[str, float]:
        return {"lo": self.lo, "hi": self.hi}

    def __str__(self) -> str:
        if self.kind == "unknown":
            return "unknown"
        if self.lo == self.hi:
            return f"{self.lo:g}%"
        return f"{self.lo:g}-{self.hi:g}%"


def parse_share(value: Any) -> Interval:
    """Read a share as written in a data file: a number, ``[min, max]``, or ``unknown``/null.

    Raises ValueError with a reason a user can act on.
    """
    if value is None:
        return Interval.unknown()
    if isinstance(value, bool):
        raise ValueError("share must be a percentage, [min, max] or 'unknown', not a boolean")
    if isinstance(value, int | float):
        x = float(value)
        _check_pct(x)
        return Interval.exact(x)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in UNKNOWN_WORDS:
            return Interval.unknown()
        try:
            x = float(text.rstrip("%"))
        except ValueError:
            raise ValueError(f"share {value!r} is not a percentage, [min, max] or 'unknown'") from None
        _check_pct(x)
        return Interval.exact(x)
    if isinstance(value, list | tuple):
        if len(value) != 2:
            raise ValueError(f"share range must have two bounds [min, max], got {len(value)}")
        lo_raw, hi_raw = value
        lo = 0.0 if lo_raw is None else _num(lo_raw, "share minimum")
        hi = 100.0 if hi_raw is None else _num(hi_raw, "share maximum")
        _check_pct(lo)
        _check_pct(hi)
        if lo > hi:
            raise ValueError(f"share minimum {lo:g} is greater than maximum {hi:g}")
        if lo == hi:
            return Interval.exact(lo)
        return Interval(lo, hi, "range")
    raise ValueError(f"share {value!r} is not a percentage, [min, max] or 'unknown'")


def _num(x: Any, what: str) -> float:
    if isinstance(x, bool) or not isinstance(x, int | float | str):
        raise ValueError(f"{what} {x!r} is not a number")
    try:
        return float(str(x).rstrip("%"))
    except ValueError:
        raise ValueError(f"{what} {x!r} is not a number") from None


def _check_pct(x: float) -> None:
    if math.isnan(x) or x < 0 or x > 100:
        raise ValueError(f"share {x:g} is outside 0-100")


_DATE_RE = re.compile(r"^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?$")


def parse_date(value: Any) -> dt.date | None:
    """Read ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD`` (a partial date means the period's first day)."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, bool):
        raise ValueError(f"date {value!r} is not YYYY, YYYY-MM or YYYY-MM-DD")
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str):
        raise ValueError(f"date {value!r} is not YYYY, YYYY-MM or YYYY-MM-DD")
    m = _DATE_RE.match(value.strip())
    if m is None:
        raise ValueError(f"date {value!r} is not YYYY, YYYY-MM or YYYY-MM-DD")
    year, month, day = int(m.group(1)), int(m.group(2) or 1), int(m.group(3) or 1)
    if not 1800 <= year <= 2200:
        raise ValueError(f"date {value!r} has an implausible year")
    try:
        return dt.date(year, month, day)
    except ValueError as exc:
        raise ValueError(f"date {value!r} does not exist ({exc})") from None


_SCALES = {
    "": 1.0,
    "k": 1e3,
    "thousand": 1e3,
    "m": 1e6,
    "mn": 1e6,
    "million": 1e6,
    "bn": 1e9,
    "b": 1e9,
    "billion": 1e9,
    "tn": 1e12,
    "trillion": 1e12,
}
_AMOUNT_RE = re.compile(r"^([0-9][0-9_,]*(?:\.[0-9]+)?(?:e[+-]?[0-9]+)?)\s*([a-z]*)$")

# Largest amount we accept: well above any state budget, small enough to catch unit slips.
MAX_AMOUNT = 1e16


def parse_amount(value: Any, signed: bool = False) -> float | None:
    """Read an amount: a number, or a string with a scale suffix (``"138.72bn"``, ``"1.5m"``).

    ``signed`` admits negative values (losses in financial statements).
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"amount {value!r} is not a number")
    if isinstance(value, int | float):
        x = float(value)
    elif isinstance(value, str):
        text = value.strip().lower()
        sign = 1.0
        if signed and text.startswith("-"):
            sign, text = -1.0, text[1:].strip()
        m = _AMOUNT_RE.match(text)
        if m is None or m.group(2) not in _SCALES:
            raise ValueError(f"amount {value!r} is not a number with an optional k/m/bn/tn suffix")
        x = sign * float(m.group(1).replace(",", "").replace("_", "")) * _SCALES[m.group(2)]
    else:
        raise ValueError(f"amount {value!r} is not a number")
    if math.isnan(x) or math.isinf(x):
        raise ValueError(f"amount {value!r} is not finite")
    if x < 0 and not signed:
        raise ValueError(f"amount {value!r} is negative")
    if abs(x) > MAX_AMOUNT:
        raise ValueError(f"amount {value!r} is implausibly large (over 1e16)")
    return x


def format_interval(d: dict[str, float] | None, dash: str = "-") -> str:
    """A percentage interval as people read it: ``12.50%``, ``10.00-30.00%``, or ``-`` for none."""
    if d is None:
        return "-"
    if abs(d["hi"] - d["lo"]) < 5e-5:
        return f"{d['lo']:.2f}%"
    return f"{d['lo']:.2f}{dash}{d['hi']:.2f}%"
