"""Bad arguments are clear errors; corrupt stored workflows are quarantined."""

from __future__ import annotations

import pytest

import bastion
from bastion.persistence import MemoryStore, Put, PutItem
from bastion.testing import capture_events
from bastion.workflows import (
    CorruptWorkflow,
    UnknownWorkflow,
    WorkflowDefinition,
    WorkflowFailed,
    WorkflowWaitTimeout,
    inspect,
)
from tests.workflows.conftest import Journal, engine_on

LOG = Journal()


@bastion.step
async def note(x: int) -> int:
    LOG.add(f"note {x}")
    return x


@bastion.workflow(name="tests.validation.simple")
async def simple(ctx: bastion.WorkflowContext, x: int) -> int:
    await note(x)
    await ctx.sleep(10)
    return await note(x + 1)


def test_decorators_refuse_what_they_cannot_run() -> None:
    def sync_fn(x: int) -> int:
        return x

    with pytest.raises(TypeError, match="async function"):
        bastion.step(sync_fn)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="async function"):
        bastion.workflow(sync_fn)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_attempts must be >= 1"):
        bastion.step(max_attempts=0)
    with pytest.raises(ValueError, match="version"):
        bastion.workflow(version="")
    with pytest.raises(ValueError, match="already defined by"):

        @bastion.workflow(name="tests.validation.simple")
        async def impostor(ctx: bastion.WorkflowContext) -> None: ...

    with pytest.raises(TypeError, match="async function"):
        WorkflowDefinition(sync_fn, "x", "1")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="context first"):

        @bastion.workflow
        async def no_ctx() -> None: ...


async def test_engine_calls_validate_their_arguments(rt: bastion.Runtime) -> None:
    store = MemoryStore()
    with pytest.raises(TypeError, match="StateStore"):
        await bastion.open_workflows(rt, store=object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_running"):
        await bastion.open_workflows(rt, store=store, max_running=0)
    async with engine_on(rt, store) as engine:
        with pytest.raises(TypeError, match="workflow id must be a string"):
            await engine.start(simple, 1, workflow_id=7)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="workflow id"):
            await engine.start(simple, 1, workflow_id="")
        with pytest.raises(ValueError, match="timeout"):
            await engine.start(simple, 1, timeout=-1.0)
        with pytest.raises(ValueError, match="no workflow named"):
            await engine.start("tests.validation.unknown")
        with pytest.raises(TypeError, match=r"no codec hook for builtins\.object"):
            await engine.start(simple, object())
        with pytest.raises(ValueError, match="timeout"):
            await engine.result("w", timeout=0)
        with pytest.raises(UnknownWorkflow):
            await engine.result("w", timeout=1.0)
        handle = await engine.start(simple, 1, workflow_id="w")
        with pytest.raises(WorkflowWaitTimeout, match="did not finish within 1s"):
            await handle.result(timeout=1.0)
        assert await handle.result(timeout=20.0) == 2
    assert await inspect(store).list(status="completed") != []
    with pytest.raises(bastion.RuntimeClosed, match="is closed"):
        await engine.start(simple, 1)
    with pytest.raises(bastion.RuntimeClosed, match="is closed"):
        await engine.send("w", "topic", 1)
    assert await engine.result("w", timeout=1.0) == 2  # reading goes on: it is the store's


async def test_a_corrupt_workflow_is_quarantined_with_a_clear_error(
    rt: bastion.Runtime,
) -> None:
    LOG.clear()
    store = MemoryStore()
    async with engine_on(rt, store) as engine:
        await engine.start(simple, 1, workflow_id="bad")
        await engine.start(simple, 5, workflow_id="good")
    await store.write([PutItem("workflow/bad", "steps", "00000000", b"{not json")])
    with capture_events(("bastion", "workflow", "quarantined")) as quarantined:
        async with engine_on(rt, store) as engine:
            with pytest.raises(CorruptWorkflow, match=r"'bad'.*quarantined"):
                await engine.handle("bad").result(timeout=20.0)
            assert await engine.handle("good").result(timeout=20.0) == 6
    assert [q.namespace for q in await store.quarantined()] == ["workflow/bad"]
    assert len(quarantined) == 1
    assert [w.id for w in await inspect(store).list()] == ["good"]


async def test_listing_quarantines_a_corrupt_record_and_goes_on(rt: bastion.Runtime) -> None:
    store = MemoryStore()
    async with engine_on(rt, store) as engine:
        await (await engine.start(simple, 1, workflow_id="a")).result(timeout=20.0)
        await (await engine.start(simple, 2, workflow_id="b")).result(timeout=20.0)
    await store.write([Put("workflow/a", "meta", b"[1, 2]")])
    workflows = inspect(store)
    assert [w.id for w in await workflows.list()] == ["b"]
    with pytest.raises(CorruptWorkflow, match="'a' was quarantined: CorruptState"):
        await workflows.get("a")
    assert [q.namespace for q in await store.quarantined()] == ["workflow/a"]


@bastion.step
async def makes_object() -> object:
    return object()


@bastion.workflow(name="tests.validation.unstorable")
async def unstorable(ctx: bastion.WorkflowContext, where: str) -> object:
    if where == "step":
        return await makes_object()
    return object()


async def test_a_result_that_cannot_be_stored_fails_clearly(rt: bastion.Runtime) -> None:
    store = MemoryStore()
    async with engine_on(rt, store) as engine:
        in_step = await engine.start(unstorable, "step", workflow_id="s")
        with pytest.raises(WorkflowFailed, match="result cannot be stored"):
            await in_step.result(timeout=5.0)
        at_end = await engine.start(unstorable, "end", workflow_id="e")
        with pytest.raises(WorkflowFailed, match="no codec hook"):
            await at_end.result(timeout=5.0)
