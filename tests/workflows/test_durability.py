"""When a workflow waits for its writes: a step never runs before the record of the one
before it is committed; a step's own commit is shared with the next write."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import bastion
from bastion.persistence import MemoryStore, Op, WriteResult
from bastion.testing import VirtualClock
from tests.workflows.conftest import Journal, engine_on

LOG = Journal()


class SlowCommits(MemoryStore):
    """Applies each batch at once but acknowledges it one (virtual) second later."""

    async def submit(
        self, ops: Sequence[Op], *, sync: bool = False, defer: bool = False
    ) -> asyncio.Future[WriteResult]:
        applied = await super().submit(ops, sync=sync, defer=defer)
        loop = asyncio.get_running_loop()
        late: asyncio.Future[WriteResult] = loop.create_future()
        loop.call_later(1.0, late.set_result, applied.result())
        return late


@bastion.step
async def stamp(name: str) -> str:
    LOG.add(f"{name} {asyncio.get_running_loop().time():.0f}")
    return name


@bastion.workflow(name="tests.durability.two_steps")
async def two_steps(ctx: bastion.WorkflowContext) -> str:
    await stamp("a")
    await stamp("b")
    return "done"


async def test_a_step_waits_for_the_commit_of_the_step_before_it(
    rt: bastion.Runtime, clock: VirtualClock
) -> None:
    LOG.clear()
    t0 = clock.now()
    async with engine_on(rt, SlowCommits()) as engine:
        handle = await engine.start(two_steps, workflow_id="w")  # start: committed at +1
        assert await handle.result(timeout=10.0) == "done"
        finished = clock.now() - t0
    assert LOG.entries == [f"a {t0 + 1:.0f}", f"b {t0 + 2:.0f}"]  # b after a's commit
    assert finished == 3.0  # b's record and the finish share one wait
