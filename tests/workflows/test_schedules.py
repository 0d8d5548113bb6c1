"""Schedules on virtual time: ticks start once each, missed ticks follow the policy and are
counted, pause/resume, and a crash between a tick's record and its start."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import bastion
from bastion.persistence import MemoryStore, SQLiteStore, StateStore
from bastion.testing import VirtualClock
from bastion.workflows import (
    Schedules,
    UnknownSchedule,
    WorkflowEngine,
    WorkflowStatus,
    open_schedules,
    scheduled,
)
from bastion.workflows._cron import parse_cron
from bastion.workflows._schedule_state import (
    load_state,
    read_schedules,
    set_paused,
    store_state,
)
from bastion.workflows._schedules import tick_id
from bastion.workflows._wall import wall_clock


class Ran:
    """Which schedule ran which tick, in order (the workflows are module-level)."""

    def __init__(self) -> None:
        self.ticks: list[tuple[str, datetime]] = []

    def add(self, schedule: str, tick: datetime) -> None:
        """Note one run."""
        self.ticks.append((schedule, tick))

    def of(self, schedule: str) -> list[datetime]:
        """The ticks ``schedule`` ran, in order."""
        return [tick for who, tick in self.ticks if who == schedule]


RAN = Ran()


@scheduled(interval=60.0, grace=1.0)
@bastion.workflow(name="tests.schedules.minutely")
async def minutely(ctx: bastion.WorkflowContext, tick: datetime) -> str:
    RAN.add("minutely", tick)
    return tick.isoformat()


@scheduled(interval=60.0, grace=1.0, missed="skip", name="skipper")
@bastion.workflow(name="tests.schedules.skipping")
async def skipping(ctx: bastion.WorkflowContext, tick: datetime) -> None:
    RAN.add("skipper", tick)


@scheduled(cron="*/5 * * * *")
@bastion.workflow(name="tests.schedules.five")
async def every_five(ctx: bastion.WorkflowContext, tick: datetime) -> None:
    RAN.add("five", tick)


@asynccontextmanager
async def running(
    rt: bastion.Runtime, store: StateStore, *workflows: Any
) -> AsyncIterator[tuple[WorkflowEngine, Schedules]]:
    engine = await bastion.open_workflows(rt, store=store)
    schedules = await open_schedules(rt, engine, list(workflows))
    try:
        yield engine, schedules
    finally:
        await schedules.close()
        await engine.close()


@pytest.fixture(autouse=True)
def _clear() -> None:
    RAN.ticks = []


def _ticks(name: str) -> list[datetime]:
    return RAN.of(name)


async def test_interval_ticks_run_once_each_with_their_tick_as_id(
    rt: bastion.Runtime, clock: VirtualClock
) -> None:
    store = MemoryStore()
    async with running(rt, store, minutely) as (engine, schedules):
        anchor = (await load_state(store, "tests.schedules.minutely"))[0]
        assert anchor is not None
        await clock.advance(300)
        ticks = [anchor.anchor + 60 * k for k in range(1, 6)]
        assert [t.timestamp() for t in _ticks("minutely")] == pytest.approx(ticks, abs=1e-3)
        listed = await engine.list(name="tests.schedules.minutely")
        assert [w.id for w in listed] == [tick_id("tests.schedules.minutely", t) for t in ticks]
        assert all(w.status is WorkflowStatus.COMPLETED for w in listed)
        [info] = await schedules.list()
        assert (info.started, info.skipped_missed, info.skipped_paused) == (5, 0, 0)
        assert info.next_tick is not None
        assert info.next_tick.timestamp() == pytest.approx(anchor.anchor + 360, abs=1e-3)


async def test_cron_ticks_fall_on_the_expression(rt: bastion.Runtime, clock: VirtualClock) -> None:
    wall = wall_clock(asyncio.get_running_loop())
    start = datetime.fromtimestamp(wall(), UTC)
    async with running(rt, MemoryStore(), every_five) as (engine, _):
        await clock.advance(16 * 60)
        cron = parse_cron("*/5 * * * *")
        expected: list[datetime] = []
        tick = cron.next_after(start)
        while tick is not None and tick.timestamp() <= start.timestamp() + 16 * 60:
            expected.append(tick)
            tick = cron.next_after(tick)
        assert len(expected) >= 3
        assert _ticks("five") == expected
        ids = [w.id for w in await engine.list(name="tests.schedules.five")]
        assert ids[0] == f"tests.schedules.five@{expected[0].strftime('%Y-%m-%dT%H:%M:%SZ')}"


async def test_run_once_runs_the_latest_missed_tick_and_counts_the_others(
    rt: bastion.Runtime, clock: VirtualClock
) -> None:
    store = MemoryStore()
    async with running(rt, store, minutely):
        await clock.advance(61)
    assert len(_ticks("minutely")) == 1
    await clock.advance(10 * 60)  # nothing runs: the process is "down"
    async with running(rt, store, minutely) as (_, schedules):
        await clock.advance(0)
        [info] = await schedules.list()
    state, _ = await load_state(store, "tests.schedules.minutely")
    assert state is not None
    ran = [t.timestamp() for t in _ticks("minutely")]
    assert len(ran) == 2  # the first tick, then the newest of the 10 missed ones
    assert ran[1] == pytest.approx(state.anchor + 11 * 60, abs=1e-3)
    assert (info.started, info.skipped_missed) == (2, 9)


async def test_skip_runs_no_missed_tick_but_counts_them(
    rt: bastion.Runtime, clock: VirtualClock
) -> None:
    store = MemoryStore()
    async with running(rt, store, skipping):
        await clock.advance(61)
    await clock.advance(5 * 60)
    async with running(rt, store, skipping) as (_, schedules):
        await clock.advance(0)
        assert len(_ticks("skipper")) == 1
        [info] = await schedules.list()
        assert (info.started, info.skipped_missed) == (1, 5)
        await clock.advance(60)  # the next tick on time runs
        assert len(_ticks("skipper")) == 2


async def test_a_paused_schedule_starts_nothing_and_counts_the_ticks(
    rt: bastion.Runtime, clock: VirtualClock
) -> None:
    async with running(rt, MemoryStore(), minutely) as (_, schedules):
        await clock.advance(61)
        paused = await schedules.pause("tests.schedules.minutely")
        assert paused.paused
        assert paused.next_tick is None
        await clock.advance(5 * 60)
        assert len(_ticks("minutely")) == 1
        resumed = await schedules.resume("tests.schedules.minutely")
        assert (resumed.paused, resumed.skipped_paused, resumed.skipped_missed) == (False, 5, 0)
        await clock.advance(60)
        assert len(_ticks("minutely")) == 2
        with pytest.raises(UnknownSchedule, match="no schedule 'nope'"):
            await schedules.pause("nope")


async def test_a_pause_stored_by_another_process_is_seen(
    rt: bastion.Runtime, clock: VirtualClock
) -> None:
    store = MemoryStore()
    async with running(rt, store, minutely):
        await clock.advance(61)
        await set_paused(store, "tests.schedules.minutely", True)  # as the CLI does
        await clock.advance(3 * 60)
        assert len(_ticks("minutely")) == 1
    [(name, state)] = await read_schedules(store)
    assert (name, state.paused, state.skipped_paused) == ("tests.schedules.minutely", True, 3)
    with pytest.raises(UnknownSchedule):
        await set_paused(store, "nope", True)


async def test_a_crash_between_the_record_and_the_start_starts_the_tick_once(
    rt: bastion.Runtime, clock: VirtualClock, tmp_path: Path
) -> None:
    async with await SQLiteStore.open(tmp_path / "wf.db") as store:
        async with running(rt, store, minutely):
            await clock.advance(61)
        # what a kill -9 right after the intent was stored leaves: the next tick recorded
        # as started, its workflow never started
        state, version = await load_state(store, "tests.schedules.minutely")
        assert state is not None
        assert state.last_started is not None
        state.last_started = state.cursor = state.last_started + 60
        state.started += 1
        await store_state(store, "tests.schedules.minutely", state, version)
        await clock.advance(30)
        for _ in range(2):  # recovery starts it; a second recovery does not start it again
            async with running(rt, store, minutely):
                await clock.advance(0)
        ran = [t.timestamp() for t in _ticks("minutely")]
        assert ran == pytest.approx([state.last_started - 60, state.last_started], abs=1e-3)


async def test_two_schedulers_on_one_store_start_each_tick_once(
    rt: bastion.Runtime, clock: VirtualClock
) -> None:
    store = MemoryStore()
    engine = await bastion.open_workflows(rt, store=store)
    first = await open_schedules(rt, engine, [minutely], name="s1")
    second = await open_schedules(rt, engine, [minutely], name="s2")
    try:
        await clock.advance(300)
    finally:
        await first.close()
        await second.close()
        await engine.close()
    assert len(_ticks("minutely")) == 5
    [(_, state)] = await read_schedules(store)
    assert state.started == 5


def test_declarations_are_checked() -> None:
    with pytest.raises(ValueError, match="cron field hour"):
        scheduled(cron="0 25 * * *")
    with pytest.raises(ValueError, match="exactly one of cron= and interval="):
        scheduled(cron="* * * * *", interval=5.0)(minutely)
    with pytest.raises(ValueError, match="missed must be one of"):
        scheduled(interval=5.0, missed="all")(minutely)
    with pytest.raises(TypeError, match="above @workflow"):
        scheduled(interval=5.0)(_ticks)  # type: ignore[arg-type]


async def test_open_schedules_needs_scheduled_workflows(rt: bastion.Runtime) -> None:
    @bastion.workflow(name="tests.schedules.plain")
    async def plain(ctx: bastion.WorkflowContext) -> None:
        return None

    async with running(rt, MemoryStore()) as (engine, _):
        with pytest.raises(ValueError, match="has no schedule"):
            await open_schedules(rt, engine, [plain], name="other")
