"""Steps on branches (``asyncio.gather``): the run's end stops the branches still running."""

from __future__ import annotations

import asyncio

import pytest

import bastion
from bastion.persistence import MemoryStore
from bastion.workflows import StepStatus, WorkflowCancelled, WorkflowFailed, inspect
from tests.workflows.conftest import Journal, engine_on

CALLS = Journal()


@bastion.step
async def slow(label: str) -> str:
    CALLS.add(f"{label} started")
    await CALLS.gate(label).wait()
    CALLS.add(f"{label} finished")
    return label


@bastion.step
async def broken() -> str:
    await CALLS.gate("broken").wait()
    raise ValueError("broken branch")


@bastion.workflow(name="tests.branches.fan", version="1")
async def fan(ctx: bastion.WorkflowContext) -> list[str]:
    return list(await asyncio.gather(slow("left"), broken(), slow("right")))


async def test_a_failed_branch_stops_the_others_before_the_workflow_fails(
    rt: bastion.Runtime,
) -> None:
    CALLS.clear()
    store = MemoryStore()
    async with engine_on(rt, store) as engine:
        handle = await engine.start(fan, workflow_id="fan")
        await bastion.testing.wait_for(
            lambda: CALLS.entries == ["left started", "right started"], timeout=5.0
        )
        CALLS.gate("broken").set()
        with pytest.raises(WorkflowFailed, match="broken branch"):
            await handle.result(timeout=5.0)
        CALLS.gate("left").set()
        CALLS.gate("right").set()
        await rt.wait_idle(timeout=1.0)
        assert CALLS.entries == ["left started", "right started"]  # cancelled, not finished
        steps = await inspect(store).steps("fan")
        assert [(s.name, s.status) for s in steps] == [
            ("broken", StepStatus.FAILED)  # no branch recorded a result after the failure
        ]


async def test_cancelling_a_workflow_stops_its_branches(rt: bastion.Runtime) -> None:
    CALLS.clear()
    store = MemoryStore()
    async with engine_on(rt, store) as engine:
        handle = await engine.start(fan, workflow_id="fan")
        await bastion.testing.wait_for(
            lambda: CALLS.entries == ["left started", "right started"], timeout=5.0
        )
        await handle.cancel()
        with pytest.raises(WorkflowCancelled):
            await handle.result(timeout=5.0)
        CALLS.gate("left").set()
        await rt.wait_idle(timeout=1.0)
        assert CALLS.entries == ["left started", "right started"]
        assert await inspect(store).steps("fan") == []


@bastion.step
async def quick(i: int) -> int:
    return i


@bastion.workflow(name="tests.branches.loop", version="1")
async def gathers_in_a_loop(ctx: bastion.WorkflowContext, rounds: int) -> int:
    total = 0
    for i in range(rounds):
        total += sum(await asyncio.gather(quick(i), quick(i)))
    await slow("end")
    return total


async def test_finished_branches_are_not_kept_without_bound(rt: bastion.Runtime) -> None:
    CALLS.clear()
    async with engine_on(rt, MemoryStore()) as engine:
        handle = await engine.start(gathers_in_a_loop, 200, workflow_id="loop")
        await bastion.testing.wait_for(lambda: CALLS.entries == ["end started"], timeout=5.0)
        run = engine._core.active["loop"]
        assert run is not None
        assert len(run.branches) <= 128  # 400 branch tasks ran; the finished ones left
        CALLS.gate("end").set()
        assert await handle.result(timeout=5.0) == 2 * sum(range(200))
