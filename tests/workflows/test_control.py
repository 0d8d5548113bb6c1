"""Cancellation that fences a step in flight; resume and retry; fork from a step."""

from __future__ import annotations

import asyncio

import pytest

import bastion
from bastion.persistence import MemoryStore
from bastion.testing import VirtualClock, wait_for
from bastion.workflows import (
    StepStatus,
    UnknownWorkflow,
    WorkflowCancelled,
    WorkflowFailed,
    WorkflowFinished,
    WorkflowStatus,
    inspect,
)
from tests.workflows.conftest import Journal, engine_on

LOG = Journal()


@bastion.step
async def prepare(x: int) -> int:
    LOG.add(f"prepare {x}")
    return x


@bastion.step
async def slow_tool(x: int) -> int:
    LOG.add(f"tool {x} started")
    try:
        await LOG.gate("tool").wait()
    except asyncio.CancelledError:
        LOG.add(f"tool {x} cancelled")
        raise
    LOG.add(f"tool {x} finished")
    return x * 2


@bastion.step
async def maybe_break(x: int) -> int:
    LOG.add(f"maybe_break {x}")
    if LOG.switch("break"):
        raise ValueError("broken input")
    return x + 100


@bastion.workflow(name="tests.control.job")
async def job(ctx: bastion.WorkflowContext, x: int) -> int:
    a = await prepare(x)
    return await slow_tool(a)


@bastion.workflow(name="tests.control.fragile")
async def fragile(ctx: bastion.WorkflowContext, x: int) -> int:
    a = await prepare(x)
    return await maybe_break(a)


async def test_cancel_cancels_the_step_in_flight(rt: bastion.Runtime) -> None:
    LOG.clear()
    store = MemoryStore()
    async with engine_on(rt, store) as engine:
        handle = await engine.start(job, 1, workflow_id="c1")
        await wait_for(lambda: "tool 1 started" in LOG.entries)
        info = await handle.cancel()
        assert info.status is WorkflowStatus.CANCELLED
        await wait_for(lambda: "tool 1 cancelled" in LOG.entries)
        with pytest.raises(WorkflowCancelled):
            await handle.result(timeout=5.0)
        assert [s.name for s in await handle.steps()] == ["prepare"]
        assert (await engine.cancel("c1")).status is WorkflowStatus.CANCELLED  # idempotent


async def test_a_cancellation_from_the_store_fences_a_late_step_result(
    rt: bastion.Runtime, clock: VirtualClock
) -> None:
    """A cancellation made elsewhere (the CLI, another process) reaches this run only
    through the store: the step's result, produced after it, is rejected by the fence."""
    LOG.clear()
    store = MemoryStore()
    async with engine_on(rt, store) as engine:
        await engine.start(job, 2, workflow_id="c2")
        await wait_for(lambda: "tool 2 started" in LOG.entries)
        await inspect(store).cancel("c2")
        LOG.gate("tool").set()
        t0 = clock.now()
        with pytest.raises(WorkflowCancelled):
            await engine.handle("c2").result(timeout=5.0)  # woken by the fenced run
        assert clock.now() - t0 < 1.0
        assert engine.statistics().fenced == 1
        assert "tool 2 finished" in LOG.entries
        info = await engine.get("c2")
        assert info.status is WorkflowStatus.CANCELLED
        assert [s.name for s in await engine.steps("c2")] == ["prepare"]  # result rejected


async def test_resume_runs_a_cancelled_workflow_from_its_recorded_steps(
    rt: bastion.Runtime,
) -> None:
    LOG.clear()
    async with engine_on(rt, MemoryStore()) as engine:
        handle = await engine.start(job, 3, workflow_id="c3")
        await wait_for(lambda: "tool 3 started" in LOG.entries)
        await handle.cancel()
        LOG.gate("tool").set()
        info = await engine.resume("c3")
        assert info.status is WorkflowStatus.RUNNING
        assert await handle.result(timeout=5.0) == 6
    assert LOG.entries.count("prepare 3") == 1


async def test_resume_retries_a_failed_workflow_from_its_failed_step(
    rt: bastion.Runtime,
) -> None:
    LOG.clear()
    LOG.switch("break", 1)
    async with engine_on(rt, MemoryStore()) as engine:
        handle = await engine.start(fragile, 4, workflow_id="f1")
        with pytest.raises(WorkflowFailed):
            await handle.result(timeout=5.0)
        LOG.switch("break", 0)  # the fix is deployed
        await engine.resume("f1")
        assert await handle.result(timeout=5.0) == 104
        steps = await handle.steps()
    assert LOG.entries == ["prepare 4", "maybe_break 4", "maybe_break 4"]
    assert [s.status for s in steps] == [StepStatus.COMPLETED, StepStatus.COMPLETED]


async def test_fork_reuses_the_steps_before_the_fork_point(rt: bastion.Runtime) -> None:
    LOG.clear()
    LOG.switch("break", 0)
    async with engine_on(rt, MemoryStore()) as engine:
        original = await engine.start(fragile, 5, workflow_id="o1")
        assert await original.result(timeout=5.0) == 105
        fork = await engine.fork("o1", from_step=1, new_id="o1-fork")
        assert await fork.result(timeout=5.0) == 105
        info = await fork.status()
        assert info.forked_from == "o1"
        with pytest.raises(WorkflowFinished):
            await engine.resume("o1")
        with pytest.raises(UnknownWorkflow):
            await engine.fork("nope", from_step=0)
    assert LOG.entries == ["prepare 5", "maybe_break 5", "maybe_break 5"]


async def test_cancelling_or_resuming_never_rewrites_a_final_or_running_status(
    rt: bastion.Runtime,
) -> None:
    LOG.clear()
    store = MemoryStore()
    async with engine_on(rt, store) as engine:
        done = await engine.start(fragile, 6, workflow_id="done")
        assert await done.result(timeout=5.0) == 106
        assert (await engine.cancel("done")).status is WorkflowStatus.COMPLETED
        assert await done.result(timeout=5.0) == 106
        running = await engine.start(job, 7, workflow_id="running")
        await wait_for(lambda: "tool 7 started" in LOG.entries)
        assert (await inspect(store).resume("running")).status is WorkflowStatus.RUNNING
        LOG.gate("tool").set()
        assert await running.result(timeout=5.0) == 14  # not fenced by the resume
    assert engine.statistics().fenced == 0
