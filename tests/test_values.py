import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from statecap.model.values import Interval, parse_amount, parse_date, parse_share


def test_share_forms():
    assert parse_share(17.44) == Interval(17.44, 17.44, "exact")
    assert parse_share([20, 30]) == Interval(20.0, 30.0, "range")
    assert parse_share("unknown") == Interval(0.0, 100.0, "unknown")
    assert parse_share(None) == Interval(0.0, 100.0, "unknown")
    assert parse_share("25%") == Interval(25.0, 25.0, "exact")
    assert parse_share([None, 50]) == Interval(0.0, 50.0, "range")
    assert parse_share([30, 30]).kind == "exact"


@pytest.mark.parametrize("bad", [-1, 100.01, [30, 20], [1, 2, 3], "lots", True, float("nan"), {"a": 1}])
def test_share_rejects(bad):
    with pytest.raises(ValueError):
        parse_share(bad)


@given(st.floats(0, 100), st.floats(0, 100))
def test_share_range_always_ordered_and_bounded(a, b):
    lo, hi = min(a, b), max(a, b)
    iv = parse_share([lo, hi])
    assert 0 <= iv.lo <= iv.hi <= 100


def test_dates():
    assert parse_date("2019") == dt.date(2019, 1, 1)
    assert parse_date("2019-05") == dt.date(2019, 5, 1)
    assert parse_date("2019-05-16") == dt.date(2019, 5, 16)
    assert parse_date(2019) == dt.date(2019, 1, 1)
    assert parse_date(dt.date(2020, 2, 29)) == dt.date(2020, 2, 29)
    assert parse_date(None) is None
    for bad in ("2019-13", "2019-02-30", "May 2019", "19-05-16", "0001"):
        with pytest.raises(ValueError):
            parse_date(bad)


def test_amounts():
    assert parse_amount("138.72bn") == pytest.approx(138.72e9)
    assert parse_amount("1.5m") == 1.5e6
    assert parse_amount("250k") == 250e3
    assert parse_amount("2.1tn") == pytest.approx(2.1e12)
    assert parse_amount("1,000") == 1000
    assert parse_amount(42) == 42.0
    assert parse_amount("-3bn", signed=True) == -3e9
    for bad in ("-3bn", "3 zillion", "1e20", "abc", True):
        with pytest.raises(ValueError):
            parse_amount(bad)
