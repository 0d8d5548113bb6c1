"""Step failures: classified retries with durable backoff, StepFailed, step and workflow
timeouts."""

from __future__ import annotations

import asyncio

import pytest

import bastion
from bastion.persistence import MemoryStore
from bastion.testing import VirtualClock, wait_for
from bastion.workflows import (
    StepFailed,
    StepStatus,
    WorkflowFailed,
    WorkflowStatus,
    WorkflowTimedOut,
    inspect,
)
from tests.workflows.conftest import Journal, engine_on

TRIES = Journal()


@bastion.step(max_attempts=4, backoff=bastion.Backoff(initial=10.0, maximum=100.0, jitter=0.0))
async def flaky(doc: str) -> str:
    TRIES.add(f"{asyncio.get_running_loop().time():.0f}")
    if TRIES.switch("failures") > 0:
        TRIES.switch("failures", TRIES.switch("failures") - 1)
        raise ConnectionError("the tool is down")  # a NetworkError: retryable
    return doc.upper()


@bastion.workflow(name="tests.retries.uses_flaky")
async def uses_flaky(ctx: bastion.WorkflowContext, doc: str) -> str:
    return await flaky(doc)


async def test_a_retryable_failure_is_retried_with_backoff(
    rt: bastion.Runtime, clock: VirtualClock
) -> None:
    TRIES.clear()
    TRIES.switch("failures", 2)
    t0 = clock.now()
    async with engine_on(rt, MemoryStore()) as engine:
        handle = await engine.start(uses_flaky, "ok", workflow_id="r1")
        assert await handle.result(timeout=100.0) == "OK"
        steps = await handle.steps()
    assert [float(t) - t0 for t in TRIES.entries] == [0.0, 10.0, 30.0]  # 10 s, then 20 s
    assert steps[0].attempts == 3


async def test_a_retry_delay_is_stored_and_survives_a_restart(
    rt: bastion.Runtime, clock: VirtualClock
) -> None:
    TRIES.clear()
    TRIES.switch("failures", 1)
    store = MemoryStore()
    t0 = clock.now()
    async with engine_on(rt, store) as engine:
        await engine.start(uses_flaky, "x", workflow_id="r2")
        await wait_for(lambda: len(TRIES.entries) == 1)
        (step,) = await engine.steps("r2")
        assert step.status is StepStatus.RETRYING
        assert step.not_before is not None
        assert step.error_type == "ConnectionError"
    await clock.advance(3)
    async with engine_on(rt, store) as engine:
        assert await engine.handle("r2").result(timeout=100.0) == "X"
    assert [float(t) - t0 for t in TRIES.entries] == [0.0, 10.0]  # not retried at reopen


@bastion.step(max_attempts=3)
async def broken(doc: str) -> str:
    TRIES.add("broken")
    raise ValueError(f"cannot parse {doc}")  # a bug: not retryable


@bastion.workflow(name="tests.retries.catches")
async def catches(ctx: bastion.WorkflowContext) -> str:
    try:
        await broken("d")
    except StepFailed as exc:
        return f"handled {exc.step} {exc.error_type}"
    return "not reached"


async def test_a_non_retryable_failure_fails_the_step_once_and_replays_the_same(
    rt: bastion.Runtime,
) -> None:
    TRIES.clear()
    store = MemoryStore()
    async with engine_on(rt, store) as engine:
        handle = await engine.start(catches, workflow_id="f1")
        assert await handle.result(timeout=5.0) == "handled broken ValueError"
    assert TRIES.entries == ["broken"]
    (step,) = await inspect(store).steps("f1")
    assert (step.status, step.attempts, step.error) == (StepStatus.FAILED, 1, "cannot parse d")


@bastion.workflow(name="tests.retries.raises")
async def raises(ctx: bastion.WorkflowContext) -> str:
    return await broken("e")


async def test_an_uncaught_step_failure_fails_the_workflow(rt: bastion.Runtime) -> None:
    async with engine_on(rt, MemoryStore()) as engine:
        handle = await engine.start(raises, workflow_id="f2")
        with pytest.raises(WorkflowFailed, match="step 'broken' failed") as caught:
            await handle.result(timeout=5.0)
        assert isinstance(caught.value.__cause__, StepFailed)
        info = await handle.status()
        assert (info.status, info.error_type) == (WorkflowStatus.FAILED, "StepFailed")


@bastion.step(timeout=5.0, max_attempts=2, backoff=bastion.Backoff(initial=1.0, jitter=0.0))
async def slow() -> str:
    TRIES.add("slow")
    await TRIES.gate("never").wait()  # until the step timeout cancels it
    return "late"


@bastion.workflow(name="tests.retries.times_out")
async def times_out(ctx: bastion.WorkflowContext) -> str:
    return await slow()


async def test_a_step_timeout_is_a_retryable_failure(
    rt: bastion.Runtime, clock: VirtualClock
) -> None:
    TRIES.clear()
    t0 = clock.now()
    async with engine_on(rt, MemoryStore()) as engine:
        handle = await engine.start(times_out, workflow_id="t1")
        with pytest.raises(WorkflowFailed, match="timed out after 5s"):
            await handle.result(timeout=100.0)
    assert TRIES.entries == ["slow", "slow"]
    assert clock.now() - t0 == pytest.approx(11.0)


@bastion.workflow(name="tests.retries.long", timeout=100.0)
async def long(ctx: bastion.WorkflowContext) -> str:
    await ctx.sleep(1000)
    return "woke"


async def test_a_workflow_deadline_is_stored_and_fails_it(
    rt: bastion.Runtime, clock: VirtualClock
) -> None:
    store = MemoryStore()
    t0 = clock.now()
    async with engine_on(rt, store) as engine:
        await engine.start(long, workflow_id="d1")
        await clock.advance(40)
    async with engine_on(rt, store) as engine:
        with pytest.raises(WorkflowTimedOut, match="ran past its 100s"):
            await engine.handle("d1").result(timeout=1000.0)
    assert clock.now() - t0 == pytest.approx(100.0)
