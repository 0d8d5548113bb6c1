"""``step_attempt()``: a step knows its attempt number, counted across a restart."""

from __future__ import annotations

import bastion
from bastion.persistence import MemoryStore
from bastion.testing import VirtualClock, wait_for
from bastion.workflows import step_attempt
from tests.workflows.conftest import Journal, engine_on

SEEN = Journal()


@bastion.step(max_attempts=4, backoff=bastion.Backoff(initial=10.0, maximum=10.0, jitter=0.0))
async def numbered(doc: str) -> str:
    attempt = step_attempt()
    SEEN.add(str(attempt))
    if attempt < SEEN.switch("succeed_at"):
        raise ConnectionError("not yet")  # retryable
    return f"{doc}@{attempt}"


@bastion.workflow(name="tests.step_attempt.numbered")
async def uses_numbered(ctx: bastion.WorkflowContext, doc: str) -> str:
    return await numbered(doc)


def test_outside_a_step_the_attempt_is_zero() -> None:
    assert step_attempt() == 0


async def test_each_attempt_sees_its_number(rt: bastion.Runtime) -> None:
    SEEN.clear()
    SEEN.switch("succeed_at", 3)
    async with engine_on(rt, MemoryStore()) as engine:
        handle = await engine.start(uses_numbered, "d", workflow_id="a1")
        assert await handle.result(timeout=100.0) == "d@3"
    assert SEEN.entries == ["1", "2", "3"]


async def test_the_attempt_number_continues_after_a_restart(
    rt: bastion.Runtime, clock: VirtualClock
) -> None:
    SEEN.clear()
    SEEN.switch("succeed_at", 2)
    store = MemoryStore()
    async with engine_on(rt, store) as engine:
        await engine.start(uses_numbered, "d", workflow_id="a2")
        await wait_for(lambda: SEEN.entries == ["1"])
    await clock.advance(3)
    async with engine_on(rt, store) as engine:
        assert await engine.handle("a2").result(timeout=100.0) == "d@2"
    assert SEEN.entries == ["1", "2"]  # the restart's attempt is the second, not a first
