"""``open_schedules``: a supervised actor that starts the ticks of ``@scheduled`` workflows.

On start (and after every restart) it loads each schedule's stored state, starts again
the tick it last recorded as started (a no-op unless a crash fell between its record
and its start), and catches up on the ticks that fell while nothing ran, by the
schedule's missed-tick policy. It then sleeps until the next tick on the runtime clock
(re-reading the stored state at least every :data:`POLL` seconds, so a pause from the
command line is seen).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bastion._core._actor import Actor
from bastion._core._childspec import ChildSpec
from bastion._core._durations import positive_seconds
from bastion._core._runtime import Runtime
from bastion._core._supervisor_handle import SupervisorHandle
from bastion._core._timers import Timer
from bastion.persistence import StateStore, VersionConflict
from bastion.workflows._engine import WorkflowEngine
from bastion.workflows._schedule_state import (
    ScheduleInfo,
    ScheduleState,
    UnknownSchedule,
    info_of,
    load_state,
    store_state,
)
from bastion.workflows._schedules import Schedule, schedule_of, tick_id
from bastion.workflows._wall import wall_clock

__all__ = ["POLL", "Schedules", "open_schedules"]

_log = logging.getLogger("bastion.workflows")
#: Longest sleep of the scheduler between two reads of the stored schedules (seconds).
POLL = 60.0
_CAS_TRIES = 5


class _Wake:
    """Timer message: look at the due ticks."""


@dataclass(frozen=True, slots=True)
class _SetPaused:
    name: str
    paused: bool


class _List:
    """Call: every schedule's info."""


class SchedulerActor(Actor):
    """Starts the due ticks of its schedules (one incarnation at a time)."""

    def __init__(
        self,
        engine: WorkflowEngine,
        schedules: dict[str, Schedule],
        wall: Callable[[], float],
        poll: float = POLL,
    ) -> None:
        self._engine = engine
        self._poll = poll
        self._store: StateStore = engine.store.store
        self._schedules = schedules
        self._wall = wall
        self._states: dict[str, tuple[ScheduleState, int]] = {}
        self._timer: Timer | None = None

    async def on_start(self) -> None:
        """Load or create each schedule's state, repair its last start, catch up."""
        for schedule in self._schedules.values():
            await self._recover(schedule)
        await self._advance_all()

    async def handle_info(self, message: Any) -> None:
        """A wake-up: start what is due, sleep until the next tick."""
        if isinstance(message, _Wake):
            await self._advance_all()

    async def handle_call(self, message: Any) -> Any:
        """Pause, resume, list."""
        if isinstance(message, _SetPaused):
            schedule = self._schedule(message.name)
            await self._advance(schedule)  # ticks up to now count under the old state
            for _ in range(_CAS_TRIES):
                state, version = self._states[schedule.name]
                state.paused = message.paused
                if await self._write(schedule, state, version):
                    break
            await self._advance_all()
            return self._info(schedule)
        if isinstance(message, _List):
            return [self._info(s) for s in self._schedules.values()]
        raise TypeError(f"the scheduler does not understand {message!r}")

    # -- state -----------------------------------------------------------------------------
    def _schedule(self, name: str) -> Schedule:
        schedule = self._schedules.get(name)
        if schedule is None:
            raise UnknownSchedule(f"no schedule {name!r} (known: {', '.join(self._schedules)})")
        return schedule

    def _info(self, schedule: Schedule) -> ScheduleInfo:
        state, _ = self._states[schedule.name]
        return info_of(schedule.name, state, schedule.next_tick(state.cursor, state.anchor))

    async def _reload(self, schedule: Schedule) -> ScheduleState:
        state, version = await load_state(self._store, schedule.name)
        if state is None:
            raise UnknownSchedule(f"schedule {schedule.name!r} vanished from the store")
        self._states[schedule.name] = (state, version)
        return state

    async def _write(self, schedule: Schedule, state: ScheduleState, version: int) -> bool:
        """Store ``state`` over ``version``; False (and the stored state reloaded) if
        another writer changed it first."""
        try:
            new_version = await store_state(self._store, schedule.name, state, version)
        except VersionConflict:
            await self._reload(schedule)
            return False
        self._states[schedule.name] = (state, new_version)
        return True

    async def _recover(self, schedule: Schedule) -> None:
        for _ in range(_CAS_TRIES):
            state, version = await load_state(self._store, schedule.name)
            now = math.floor(self._wall() * 1000) / 1000  # whole ms: tick ids name them
            if state is None:
                state = ScheduleState(
                    spec=schedule.spec, workflow=schedule.workflow.name, anchor=now, cursor=now
                )
            elif state.spec == schedule.spec and state.workflow == schedule.workflow.name:
                self._states[schedule.name] = (state, version)
                break
            else:  # the declaration changed: new ticks from now on, counters kept
                state.spec, state.workflow = schedule.spec, schedule.workflow.name
                state.anchor, state.cursor = now, max(state.cursor, now)
            if await self._write(schedule, state, version):
                break
        state, _ = self._states[schedule.name]
        if state.last_started is not None:
            await self._start(schedule, state.last_started)  # idempotent: repairs a crash

    # -- ticks -----------------------------------------------------------------------------
    async def _advance_all(self) -> None:
        for schedule in self._schedules.values():
            await self._advance(schedule)
        self._arm()

    async def _advance(self, schedule: Schedule) -> None:
        """Start (or count as skipped) every tick due now, one stored decision at a time."""
        for _ in range(_CAS_TRIES):
            state = await self._reload(schedule)
            now = self._wall()
            due = list(schedule.ticks(state.cursor, now, state.anchor))
            if not due:
                return
            if await self._decide(schedule, state, due, now):
                return

    async def _decide(
        self, schedule: Schedule, state: ScheduleState, due: list[float], now: float
    ) -> bool:
        """Apply the policy to ``due``; False if another writer got there first."""
        _, version = self._states[schedule.name]
        if state.paused:
            state.skipped_paused += len(due)
            state.cursor = due[-1]
            _warn(schedule, len(due), due, "the schedule is paused")
            return await self._write(schedule, state, version)
        missed = [t for t in due if now - t > schedule.grace]
        on_time = due[len(missed) :]
        skip = missed if schedule.missed == "skip" else missed[:-1]
        run = on_time if schedule.missed == "skip" else missed[-1:] + on_time
        if skip:
            state.skipped_missed += len(skip)
            _warn(schedule, len(skip), skip, f"they were missed (policy {schedule.missed!r})")
        if not run:
            state.cursor = due[-1]
            return await self._write(schedule, state, version)
        for tick in run:
            state.cursor = state.last_started = tick
            state.started += 1
            if not await self._write(schedule, state, version):
                return False
            await self._start(schedule, tick)
            state, version = self._states[schedule.name]
        return True

    async def _start(self, schedule: Schedule, tick: float) -> None:
        moment = datetime.fromtimestamp(tick, UTC)
        await self._engine.start(
            schedule.workflow, moment, workflow_id=tick_id(schedule.name, tick)
        )

    def _arm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        now = self._wall()
        delay = self._poll
        for schedule in self._schedules.values():
            state, _ = self._states[schedule.name]
            tick = schedule.next_tick(state.cursor, state.anchor)
            if tick is not None:
                delay = min(delay, max(0.0, tick - now))
        self._timer = self.send_after(delay, _Wake())


def _warn(schedule: Schedule, count: int, ticks: list[float], why: str) -> None:
    first, last = (datetime.fromtimestamp(t, UTC).isoformat() for t in (ticks[0], ticks[-1]))
    _log.warning(
        "schedule %r: skipped %d tick(s) from %s to %s: %s", schedule.name, count, first, last, why
    )


class Schedules:
    """The running schedules of an engine (from :func:`open_schedules`)."""

    def __init__(self, runtime: Runtime, name: str, supervisor: SupervisorHandle) -> None:
        """Use :func:`open_schedules`."""
        self.name = name
        self._ref = runtime.ref(name)
        self._supervisor = supervisor
        self.closed = False

    async def pause(self, name: str, *, timeout: float = 10.0) -> ScheduleInfo:
        """Stop starting ticks of schedule ``name``; ticks that fall meanwhile are counted
        as ``skipped_paused``. UnknownSchedule if there is no such schedule."""
        info: ScheduleInfo = await self._ref.call(_SetPaused(name, True), timeout=timeout)
        return info

    async def resume(self, name: str, *, timeout: float = 10.0) -> ScheduleInfo:
        """Start ticks of schedule ``name`` again, from the next one."""
        info: ScheduleInfo = await self._ref.call(_SetPaused(name, False), timeout=timeout)
        return info

    async def list(self, *, timeout: float = 10.0) -> list[ScheduleInfo]:
        """Every schedule: its next tick, the last started, started and skipped counts."""
        infos: list[ScheduleInfo] = await self._ref.call(_List(), timeout=timeout)
        return infos

    async def close(self, *, timeout: float = 5.0) -> None:
        """Stop starting ticks (the schedules stay stored). Idempotent."""
        if not self.closed:
            self.closed = True
            await self._supervisor.stop(timeout=timeout)

    async def __aenter__(self) -> Schedules:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def open_schedules(
    runtime: Runtime,
    engine: WorkflowEngine,
    workflows: Sequence[Any],
    *,
    name: str = "schedules",
    poll: float = POLL,
) -> Schedules:
    """Run the schedules of ``workflows`` (each ``@scheduled``) on ``engine``, supervised.

    Ticks missed while no scheduler ran are handled by each schedule's ``missed``
    policy as soon as this returns. ``poll``: the longest the scheduler sleeps between
    two reads of the stored schedules.
    """
    if not isinstance(runtime, Runtime):
        raise TypeError(f"open_schedules needs a bastion Runtime, got {runtime!r}")
    if not isinstance(engine, WorkflowEngine):
        raise TypeError(f"open_schedules needs a WorkflowEngine, got {engine!r}")
    positive_seconds("poll", poll)
    schedules: dict[str, Schedule] = {}
    for workflow in workflows:
        schedule = schedule_of(workflow)
        if schedule is None:
            raise ValueError(f"{workflow!r} has no schedule: put @scheduled(...) above @workflow")
        if schedule.name in schedules:
            raise ValueError(f"two schedules are named {schedule.name!r}")
        schedules[schedule.name] = schedule
    spec = ChildSpec(
        "scheduler",
        SchedulerActor,
        kwargs={
            "engine": engine,
            "schedules": schedules,
            "wall": wall_clock(runtime.loop),
            "poll": poll,
        },
        name=name,
    )
    supervisor = await runtime.start_supervisor([spec], name=f"{name}-supervisor")
    return Schedules(runtime, name, supervisor)
