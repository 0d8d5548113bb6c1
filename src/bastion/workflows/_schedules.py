"""``@scheduled``: run a workflow on a cron expression or an interval.

::

    @bastion.workflows.scheduled(cron="*/5 * * * *")          # UTC
    @bastion.workflow
    async def report(ctx: bastion.WorkflowContext, tick: datetime) -> None: ...

    schedules = await bastion.workflows.open_schedules(rt, engine, [report])

Each tick starts the workflow with the tick's time (an aware UTC ``datetime``) as its
argument and the workflow id ``"<schedule>@<tick>"`` (``report@2026-11-30T21:05:00Z``),
so a tick is started at most once whatever crashes (the engine's start is idempotent
by id) and, its intent being stored before the start, at least once.

Missed ticks — the process was down, or the loop came to a tick more than ``grace``
seconds late — follow the schedule's ``missed`` policy:

* ``"run_once"`` (default): the latest missed tick runs once, the older ones are skipped;
* ``"skip"``: every missed tick is skipped; the next tick on time runs.

Skipped ticks are never silent: they are counted (``ScheduleInfo.skipped_missed``, and
``skipped_paused`` for ticks that fell while the schedule was paused) and logged as a
warning.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bastion._core._durations import positive_seconds
from bastion.workflows._cron import CronExpression, parse_cron
from bastion.workflows._definitions import WorkflowDefinition

__all__ = [
    "MISSED_POLICIES",
    "Schedule",
    "schedule_of",
    "scheduled",
    "tick_id",
]

MISSED_POLICIES = ("run_once", "skip")
_SCHEDULE_ATTR = "__bastion_schedule__"


@dataclass(frozen=True, slots=True)
class Schedule:
    """When a workflow runs: ``cron`` (UTC) or every ``interval`` seconds, and what a
    missed tick does (``missed``: ``"run_once"`` or ``"skip"``; missed = seen more than
    ``grace`` seconds after its time)."""

    name: str
    workflow: WorkflowDefinition
    cron: CronExpression | None = None
    interval: float | None = None
    missed: str = "run_once"
    grace: float = 60.0

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name or "@" in self.name:
            raise ValueError(f"a schedule name must be a non-empty string without '@', "
                             f"got {self.name!r}")  # fmt: skip
        if (self.cron is None) == (self.interval is None):
            raise ValueError("a schedule needs exactly one of cron= and interval=")
        if self.interval is not None:
            positive_seconds("schedule interval", self.interval)
        if self.missed not in MISSED_POLICIES:
            raise ValueError(f"missed must be one of {MISSED_POLICIES}, got {self.missed!r}")
        positive_seconds("schedule grace", self.grace)

    @property
    def spec(self) -> str:
        """The schedule as text: ``cron:<expression>`` or ``every:<seconds>``."""
        return f"cron:{self.cron.text}" if self.cron is not None else f"every:{self.interval:g}"

    def ticks(self, after: float, until: float, anchor: float) -> Iterator[float]:
        """Tick times (epoch seconds) in ``(after, until]``; intervals count from
        ``anchor``."""
        tick = self.next_tick(after, anchor)
        while tick is not None and tick <= until:
            yield tick
            tick = self.next_tick(tick, anchor)

    def next_tick(self, after: float, anchor: float) -> float | None:
        """The first tick strictly after ``after`` (None: a cron that never matches)."""
        if self.interval is not None:
            k = max(0, math.floor((after - anchor) / self.interval))
            while anchor + k * self.interval <= after:
                k += 1
            return anchor + k * self.interval
        assert self.cron is not None
        found = self.cron.next_after(datetime.fromtimestamp(after, UTC))
        return None if found is None else found.timestamp()


def tick_id(schedule: str, tick: float) -> str:
    """The workflow id of a tick: ``<schedule>@<UTC time>`` (milliseconds if any)."""
    moment = datetime.fromtimestamp(round(tick, 3), UTC)
    spec = "seconds" if moment.microsecond == 0 else "milliseconds"
    return f"{schedule}@{moment.isoformat(timespec=spec).replace('+00:00', 'Z')}"


def schedule_of(workflow: Any) -> Schedule | None:
    """The schedule a ``@scheduled`` workflow declared, or None."""
    found: Schedule | None = getattr(workflow, _SCHEDULE_ATTR, None)
    return found


def scheduled(
    *,
    cron: str | None = None,
    interval: float | None = None,
    name: str | None = None,
    missed: str = "run_once",
    grace: float = 60.0,
) -> Callable[[WorkflowDefinition], WorkflowDefinition]:
    """Declare when a ``@workflow`` runs: ``cron="*/5 * * * *"`` (UTC) or ``interval=``
    seconds (counted from when the schedule is first stored).

    Put it above ``@workflow``. ``name``: the schedule's name (default: the workflow's;
    it prefixes the tick workflow ids). ``missed``: ``"run_once"`` or ``"skip"`` (see
    the module docs). The workflow is called as ``fn(ctx, tick)`` with the tick as an
    aware UTC ``datetime``. Schedules run once passed to :func:`open_schedules`.
    """
    expression = parse_cron(cron) if cron is not None else None

    def decorate(definition: WorkflowDefinition) -> WorkflowDefinition:
        if not isinstance(definition, WorkflowDefinition):
            raise TypeError(
                f"@scheduled goes above @workflow (on a workflow definition), got {definition!r}"
            )
        schedule = Schedule(
            name=name or definition.name,
            workflow=definition,
            cron=expression,
            interval=interval,
            missed=missed,
            grace=grace,
        )
        setattr(definition, _SCHEDULE_ATTR, schedule)
        return definition

    return decorate
