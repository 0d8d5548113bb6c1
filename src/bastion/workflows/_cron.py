"""Five-field cron expressions (``minute hour day-of-month month day-of-week``), in UTC.

The usual Vixie-cron syntax: ``*``, numbers, ranges ``a-b``, steps ``*/n`` and ``a-b/n``,
lists ``a,b,c``, month names ``jan``-``dec``, weekday names ``sun``-``sat`` (``0`` and
``7`` are both Sunday), and the macros ``@hourly``, ``@daily`` (``@midnight``),
``@weekly``, ``@monthly``, ``@yearly`` (``@annually``). When both day fields are
restricted a day matches if *either* does (as cron does). A bad expression is a
``ValueError`` that names the field and the part it could not read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

__all__ = ["CronExpression", "parse_cron"]

_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    names_from: int = 0


_FIELDS = (
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day-of-month", 1, 31),
    _Field("month", 1, 12, _MONTHS, 1),
    _Field("day-of-week", 0, 7, _DAYS, 0),
)
#: How far ahead a match is looked for (covers leap days: 8 years).
_HORIZON = timedelta(days=8 * 366)


def _value(text: str, field: _Field) -> int:
    lowered = text.lower()
    if lowered in field.names:
        return field.names.index(lowered) + field.names_from
    if not text.isdigit():
        hint = f" or a name ({field.names[0]}..)" if field.names else ""
        raise ValueError(f"{text!r} is not a number{hint}")
    number = int(text)
    if not field.low <= number <= field.high:
        raise ValueError(f"{number} is outside {field.low}-{field.high}")
    return number


def _part(part: str, field: _Field) -> set[int]:
    base, slash, step_text = part.partition("/")
    step = 1
    if slash:
        if not step_text.isdigit() or int(step_text) == 0:
            raise ValueError(f"step {step_text!r} is not a positive number")
        step = int(step_text)
    if base == "*":
        low, high = field.low, field.high
    elif "-" in base:
        first, _, last = base.partition("-")
        low, high = _value(first, field), _value(last, field)
        if low > high:
            raise ValueError(f"range {base!r} runs backwards")
    else:
        low = _value(base, field)
        high = field.high if slash else low
    return set(range(low, high + 1, step))


def _parse_field(text: str, field: _Field) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        try:
            if not part:
                raise ValueError("empty list item")
            values |= _part(part, field)
        except ValueError as exc:
            raise ValueError(f"cron field {field.name} ({text!r}): {exc}") from None
    if field.name == "day-of-week" and 7 in values:
        values = (values - {7}) | {0}
    return frozenset(values)


@dataclass(frozen=True, slots=True)
class CronExpression:
    """A parsed cron expression; :meth:`next_after` gives its next tick (UTC)."""

    text: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    any_day: bool  # day-of-month is "*"
    any_weekday: bool  # day-of-week is "*"

    def _day_matches(self, moment: datetime) -> bool:
        by_day = moment.day in self.days
        by_weekday = (moment.isoweekday() % 7) in self.weekdays
        if self.any_day or self.any_weekday:
            return by_day and by_weekday
        return by_day or by_weekday

    def next_after(self, moment: datetime) -> datetime | None:
        """The first tick strictly after ``moment`` (an aware datetime), or None if none
        falls within eight years (``30 2``: February 30th never comes)."""
        if moment.tzinfo is None:
            raise ValueError("next_after() needs a timezone-aware datetime")
        t = moment.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
        horizon = t + _HORIZON
        while t < horizon:
            if t.month not in self.months:
                t = (t.replace(day=1, hour=0, minute=0) + timedelta(days=32)).replace(day=1)
            elif not self._day_matches(t):
                t = t.replace(hour=0, minute=0) + timedelta(days=1)
            elif t.hour not in self.hours:
                t = t.replace(minute=0) + timedelta(hours=1)
            elif t.minute not in self.minutes:
                t += timedelta(minutes=1)
            else:
                return t
        return None


def parse_cron(text: str) -> CronExpression:
    """Parse a five-field cron expression (or a macro such as ``@hourly``); ``ValueError``
    naming the bad field otherwise, or if the expression never matches a date."""
    if not isinstance(text, str):
        raise TypeError(f"a cron expression is a string, not {type(text).__name__}")
    expanded = _MACROS.get(text.strip().lower(), text)
    if expanded.strip().startswith("@"):
        raise ValueError(f"unknown cron macro {text.strip()!r} (known: {', '.join(_MACROS)})")
    parts = expanded.split()
    if len(parts) != len(_FIELDS):
        raise ValueError(
            f"a cron expression has 5 fields (minute hour day-of-month month day-of-week), "
            f"{text!r} has {len(parts)}"
        )
    values = [_parse_field(part, field) for part, field in zip(parts, _FIELDS, strict=True)]
    any_day, any_weekday = parts[2].startswith("*"), parts[4].startswith("*")
    minutes, hours, days, months, weekdays = values
    cron = CronExpression(
        text, minutes, hours, days, months, weekdays, any_day=any_day, any_weekday=any_weekday
    )
    if cron.next_after(datetime(2000, 1, 1, tzinfo=UTC)) is None:
        raise ValueError(f"cron expression {text!r} never matches a date")
    return cron
