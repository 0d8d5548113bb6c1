"""Restart from the store: recorded steps are not re-run, sleeps and deadlines keep their
stored times, messages are delivered once, an engine crash resumes its workflows."""

from __future__ import annotations

from pathlib import Path

import bastion
from bastion.persistence import MemoryStore
from bastion.testing import VirtualClock, crash, wait_for
from bastion.workflows import StepStatus, WorkflowStatus, inspect
from tests.workflows.conftest import Journal, engine_on, open_store

DONE = Journal()


@bastion.step
async def first(x: int) -> int:
    DONE.add(f"first {x}")
    return x + 1


@bastion.step
async def held(x: int) -> int:
    DONE.add(f"held {x}")
    await DONE.gate("held").wait()
    return x * 10


@bastion.workflow(name="tests.recovery.pipeline")
async def pipeline(ctx: bastion.WorkflowContext, x: int) -> int:
    a = await first(x)
    b = await held(a)
    return b + 1


async def test_a_reopened_engine_resumes_without_rerunning_recorded_steps(
    rt: bastion.Runtime, store_kind: str, tmp_path: Path
) -> None:
    DONE.clear()
    async with open_store(store_kind, tmp_path) as store:
        async with engine_on(rt, store) as engine:
            await engine.start(pipeline, 1, workflow_id="p1")
            await wait_for(lambda: DONE.entries == ["first 1", "held 2"])
        # the engine is closed with "held" in flight: nothing of it was recorded
        steps = await inspect(store).steps("p1")
        assert [(s.name, s.status) for s in steps] == [("first", StepStatus.COMPLETED)]
        DONE.gate("held").set()
        async with engine_on(rt, store) as engine:
            assert await engine.handle("p1").result(timeout=5.0) == 21
            assert engine.statistics().resumed == 1
        assert DONE.entries == ["first 1", "held 2", "held 2"]  # first: once


@bastion.workflow(name="tests.recovery.sleeper")
async def sleeper(ctx: bastion.WorkflowContext) -> float:
    await first(0)
    await ctx.sleep(3600)
    await first(1)
    return 0.0


async def test_a_durable_sleep_wakes_at_its_stored_time_after_a_restart(
    rt: bastion.Runtime, clock: VirtualClock
) -> None:
    DONE.clear()
    store = MemoryStore()
    start = clock.now()
    async with engine_on(rt, store) as engine:
        await engine.start(sleeper, workflow_id="s1")
        await wait_for(lambda: DONE.entries == ["first 0"])
        await clock.advance(1000)  # a third of the sleep, then the engine stops
    await clock.advance(1000)  # nobody runs it for a while
    async with engine_on(rt, store) as engine:
        await engine.handle("s1").result(timeout=4000.0)
        woke = clock.now() - start
    assert 3600 <= woke < 3601
    assert DONE.entries == ["first 0", "first 1"]


@bastion.workflow(name="tests.recovery.listener")
async def listener(ctx: bastion.WorkflowContext) -> list[object]:
    got = [await ctx.recv("in", timeout=100.0)]
    DONE.add(f"got {got[0]}")
    got.append(await ctx.recv("in", timeout=100.0))
    DONE.add(f"got {got[1]}")
    return got


async def test_messages_are_delivered_once_across_a_restart(
    rt: bastion.Runtime, store_kind: str, tmp_path: Path
) -> None:
    DONE.clear()
    async with open_store(store_kind, tmp_path) as store:
        async with engine_on(rt, store) as engine:
            await engine.start(listener, workflow_id="l1")
            await engine.send("l1", "in", "a")
            await wait_for(lambda: DONE.entries == ["got a"])
            await engine.send("l1", "other", "x")  # another topic: not for recv("in")
        async with engine_on(rt, store) as engine:
            await engine.send("l1", "in", "b")
            assert await engine.handle("l1").result(timeout=5.0) == ["a", "b"]
        assert DONE.entries == ["got a", "got a", "got b"]  # replayed, not received again
        steps = await inspect(store).steps("l1")
        assert [s.result for s in steps] == ["a", "b"]


async def test_a_recv_times_out_at_its_stored_deadline(
    rt: bastion.Runtime, clock: VirtualClock
) -> None:
    DONE.clear()
    store = MemoryStore()
    start = clock.now()
    async with engine_on(rt, store) as engine:
        await engine.start(listener, workflow_id="l2")
        await clock.advance(60)
    async with engine_on(rt, store) as engine:
        assert await engine.handle("l2").result(timeout=500.0) == [None, None]
        assert 200 <= clock.now() - start < 201


@bastion.workflow(name="tests.recovery.event_reader")
async def event_reader(ctx: bastion.WorkflowContext, source: str) -> object:
    return await ctx.get_event(source, "ready", timeout=200.0)


@bastion.workflow(name="tests.recovery.announcer")
async def announcer(ctx: bastion.WorkflowContext) -> None:
    await ctx.set_event("ready", "go")


async def _a_minute_into_get_event(
    rt: bastion.Runtime, clock: VirtualClock, source: str
) -> MemoryStore:
    """A store whose workflow ``reader`` waited a minute for ``source``'s event, then its
    engine closed."""
    store = MemoryStore()
    async with engine_on(rt, store) as engine:
        await engine.start(event_reader, source, workflow_id="reader")
        await clock.advance(60)
    return store


async def test_a_get_event_times_out_at_its_stored_deadline(
    rt: bastion.Runtime, clock: VirtualClock
) -> None:
    start = clock.now()
    store = await _a_minute_into_get_event(rt, clock, "silent")
    async with engine_on(rt, store) as engine:
        assert await engine.handle("reader").result(timeout=500.0) is None
        assert 200 <= clock.now() - start < 201  # not 60 s + a fresh 200 s
    steps = await inspect(store).steps("reader")
    assert [(s.name, s.status, s.result) for s in steps] == [
        ("get_event:silent:ready", StepStatus.COMPLETED, None)
    ]


async def test_a_get_event_waiting_across_a_restart_returns_the_event_once_set(
    rt: bastion.Runtime, clock: VirtualClock
) -> None:
    start = clock.now()
    store = await _a_minute_into_get_event(rt, clock, "src")
    async with engine_on(rt, store) as engine:
        reader = engine.handle("reader")
        await wait_for(lambda: engine.statistics().running == 1)  # waiting again
        await clock.advance(30)
        await engine.start(announcer, workflow_id="src")
        assert await reader.result(timeout=500.0) == "go"
        assert clock.now() - start < 100  # woken by the event, not at the deadline
    steps = await inspect(store).steps("reader")
    assert [(s.status, s.result) for s in steps] == [(StepStatus.COMPLETED, "go")]


async def test_a_get_event_of_an_event_already_set_returns_it_at_once(
    rt: bastion.Runtime, clock: VirtualClock
) -> None:
    store = MemoryStore()
    async with engine_on(rt, store) as engine:
        await (await engine.start(announcer, workflow_id="early")).result(timeout=5.0)
        start = clock.now()
        reader = await engine.start(event_reader, "early", workflow_id="late-reader")
        assert await reader.result(timeout=5.0) == "go"
        assert clock.now() == start
    steps = await inspect(store).steps("late-reader")
    assert [(s.status, s.result, s.not_before) for s in steps] == [
        (StepStatus.COMPLETED, "go", None)
    ]


async def test_an_engine_actor_crash_resumes_its_workflows(rt: bastion.Runtime) -> None:
    DONE.clear()
    store = MemoryStore()
    async with engine_on(rt, store, name="wf-crash") as engine:
        handle = await engine.start(pipeline, 5, workflow_id="c1")
        await wait_for(lambda: DONE.entries == ["first 5", "held 6"])
        old = rt.whereis("wf-crash")
        assert old is not None
        await crash(old)
        await wait_for(lambda: DONE.entries == ["first 5", "held 6", "held 6"])
        DONE.gate("held").set()
        assert await handle.result(timeout=5.0) == 61
        info = await handle.status()
        assert info.status is WorkflowStatus.COMPLETED


@bastion.workflow(name="tests.recovery.many")
async def many(ctx: bastion.WorkflowContext, x: int) -> int:
    a = await first(x)
    await ctx.sleep(5)
    return a


async def test_a_large_backlog_is_resumed_in_pages_with_bounded_concurrency(
    rt: bastion.Runtime, store_kind: str, tmp_path: Path
) -> None:
    DONE.clear()
    n = 300  # more than one page of the active index
    async with open_store(store_kind, tmp_path) as store:
        async with engine_on(rt, store, max_running=50) as engine:
            for i in range(n):
                await engine.start(many, i, workflow_id=f"m{i:03d}")
            await wait_for(lambda: len(DONE.entries) == 50)
        async with engine_on(rt, store, max_running=7) as engine:
            results = [await engine.handle(f"m{i:03d}").result(timeout=600.0) for i in range(n)]
            assert engine.statistics().resumed == n
            assert engine.statistics().running == 0
        assert results == [i + 1 for i in range(n)]
        assert sorted(DONE.entries) == sorted(f"first {i}" for i in range(n))  # once each
