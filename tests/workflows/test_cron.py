"""The cron parser: its syntax, its next tick, and errors that name the bad field."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from bastion.workflows._cron import parse_cron


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("*/5 * * * *", "2026-11-30T21:03:10", "2026-11-30T21:05:00"),
        ("*/5 * * * *", "2026-11-30T21:05:00", "2026-11-30T21:10:00"),  # strictly after
        ("0 * * * *", "2026-11-30T23:59:00", "2026-12-01T00:00:00"),
        ("30 2 * * *", "2026-12-31T03:00:00", "2027-01-01T02:30:00"),
        ("0 9 * * mon-fri", "2026-11-28T10:00:00", "2026-11-30T09:00:00"),  # Sat -> Mon
        ("0 0 * * 7", "2026-11-30T00:00:00", "2026-12-06T00:00:00"),  # 7 is Sunday
        ("0 0 29 feb *", "2026-03-01T00:00:00", "2028-02-29T00:00:00"),
        ("15,45 10-11 * * *", "2026-11-30T10:45:00", "2026-11-30T11:15:00"),
        ("0 12 1-10/3 * *", "2026-11-02T00:00:00", "2026-11-04T12:00:00"),
        ("@hourly", "2026-11-30T21:00:00", "2026-11-30T22:00:00"),
        ("@weekly", "2026-11-30T21:00:00", "2026-12-06T00:00:00"),
        # both day fields restricted: either one matches (cron's rule)
        ("0 0 13 * fri", "2026-11-01T00:00:00", "2026-11-06T00:00:00"),
        ("0 0 13 * fri", "2026-11-07T00:00:00", "2026-11-13T00:00:00"),
    ],
)
def test_next_tick(expression: str, after: str, expected: str) -> None:
    assert parse_cron(expression).next_after(_at(after)) == _at(expected)


def test_ticks_are_utc_whatever_the_input_zone() -> None:
    from datetime import timedelta, timezone

    paris = datetime(2026, 11, 30, 22, 3, tzinfo=timezone(timedelta(hours=1)))
    assert parse_cron("*/5 * * * *").next_after(paris) == _at("2026-11-30T21:05:00")


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("*/5 * * *", "has 4"),
        ("61 * * * *", "field minute ('61'): 61 is outside 0-59"),
        ("* 24 * * *", "field hour"),
        ("* * 0 * *", "field day-of-month ('0'): 0 is outside 1-31"),
        ("* * * foo *", "field month ('foo'): 'foo' is not a number or a name (jan..)"),
        ("* * * * 8", "field day-of-week"),
        ("*/0 * * * *", "field minute ('*/0'): step '0' is not a positive number"),
        ("5-1 * * * *", "range '5-1' runs backwards"),
        ("1,,2 * * * *", "empty list item"),
        ("0 0 30 2 *", "never matches"),
        ("@often", "unknown cron macro"),
    ],
)
def test_bad_expressions_name_the_field(expression: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_cron(expression)


def test_naive_datetimes_and_non_strings_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_cron("* * * * *").next_after(datetime(2026, 1, 1))
    with pytest.raises(TypeError, match="string"):
        parse_cron(5)  # type: ignore[arg-type]
