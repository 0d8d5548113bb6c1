"""Non-determinism detection, version routing and refusal, ``ctx.patched``."""

from __future__ import annotations

import pytest

import bastion
from bastion.persistence import MemoryStore
from bastion.testing import capture_events, wait_for
from bastion.workflows import (
    IncompatibleWorkflow,
    NonDeterministicWorkflow,
    StepKind,
    WorkflowDefinition,
    WorkflowFailed,
    WorkflowStatus,
)
from tests.workflows.conftest import Journal, engine_on

LOG = Journal()


@bastion.step
async def load(x: int) -> int:
    LOG.add("load")
    return x


@bastion.step
async def enrich(x: int) -> int:
    LOG.add("enrich")
    return x + 1


@bastion.step
async def wait_gate(x: int) -> int:
    LOG.add("gate")
    await LOG.gate("gate").wait()
    return x


async def _changed_v1(ctx: bastion.WorkflowContext, x: int) -> int:
    a = await load(x)
    return await wait_gate(a)


async def _changed_v1_edited(ctx: bastion.WorkflowContext, x: int) -> int:
    a = await enrich(x)  # the first step changed under a workflow in flight
    return await wait_gate(a)


async def test_a_changed_step_at_a_recorded_number_is_reported_by_name(
    rt: bastion.Runtime,
) -> None:
    LOG.clear()
    store = MemoryStore()
    original = WorkflowDefinition(_changed_v1, "tests.versions.changed", "1")
    async with engine_on(rt, store, workflows=[original]) as engine:
        await engine.start(original, 1, workflow_id="n1")
        await wait_for(lambda: LOG.entries == ["load", "gate"])
    edited = WorkflowDefinition(_changed_v1_edited, "tests.versions.changed", "1")
    async with engine_on(rt, store, workflows=[edited]) as engine:
        with pytest.raises(WorkflowFailed, match="NonDeterministicWorkflow") as caught:
            await engine.handle("n1").result(timeout=5.0)
        assert caught.value.context["error_type"] == NonDeterministicWorkflow.__name__
        assert "step 0 is recorded as step 'load'" in str(caught.value)
        assert "calls step 'enrich'" in str(caught.value)
    assert LOG.entries == ["load", "gate"]  # enrich never ran


async def _versioned_v1(ctx: bastion.WorkflowContext, x: int) -> str:
    a = await load(x)
    await wait_gate(a)
    return "v1"


async def _versioned_v2(ctx: bastion.WorkflowContext, x: int) -> str:
    await enrich(x)
    return "v2"


async def test_a_workflow_is_resumed_by_the_code_of_its_version(rt: bastion.Runtime) -> None:
    LOG.clear()
    store = MemoryStore()
    v1 = WorkflowDefinition(_versioned_v1, "tests.versions.routed", "1")
    async with engine_on(rt, store, workflows=[v1]) as engine:
        await engine.start(v1, 1, workflow_id="old")
        await wait_for(lambda: LOG.entries == ["load", "gate"])
    v2 = WorkflowDefinition(_versioned_v2, "tests.versions.routed", "2")
    LOG.gate("gate").set()
    async with engine_on(rt, store, workflows=[v1, v2]) as engine:
        new = await engine.start("tests.versions.routed", 2, workflow_id="new")  # newest
        assert await new.result(timeout=5.0) == "v2"
        assert await engine.handle("old").result(timeout=5.0) == "v1"
        assert (await engine.get("old")).version == "1"
    assert v2.version == "2"


async def test_a_workflow_of_an_unknown_version_is_refused_with_a_clear_error(
    rt: bastion.Runtime,
) -> None:
    LOG.clear()
    store = MemoryStore()
    v9 = WorkflowDefinition(_versioned_v1, "tests.versions.refused", "9")
    async with engine_on(rt, store, workflows=[v9]) as engine:
        await engine.start(v9, 1, workflow_id="r1")
        await wait_for(lambda: LOG.entries == ["load", "gate"])
    v10 = WorkflowDefinition(_versioned_v2, "tests.versions.refused", "10")
    with capture_events(("bastion", "workflow", "refused")) as refused:
        async with engine_on(rt, store, workflows=[v10]) as engine:
            with pytest.raises(IncompatibleWorkflow, match=r"started on version 9 .* \['10'\]"):
                await engine.handle("r1").result(timeout=5.0)
            assert engine.statistics().refused == 1
            assert (await engine.get("r1")).status is WorkflowStatus.RUNNING  # left alone
    assert len(refused) == 1
    assert LOG.entries == ["load", "gate"]


@bastion.workflow(name="tests.versions.patched_old")
async def before_patch(ctx: bastion.WorkflowContext, x: int) -> str:
    await load(x)
    await enrich(x)
    await wait_gate(x)
    return "old path"


async def _after_patch(ctx: bastion.WorkflowContext, x: int) -> str:
    await load(x)
    if ctx.patched("skip-enrich"):
        return "new path"
    await enrich(x)
    await wait_gate(x)
    return "old path"


async def test_patched_keeps_the_old_path_for_old_histories(rt: bastion.Runtime) -> None:
    LOG.clear()
    store = MemoryStore()
    async with engine_on(rt, store) as engine:
        await engine.start(before_patch, 1, workflow_id="p-old")
        await wait_for(lambda: LOG.entries == ["load", "enrich", "gate"])
    LOG.gate("gate").set()
    patched = WorkflowDefinition(_after_patch, "tests.versions.patched_old", "1")
    async with engine_on(rt, store, workflows=[patched]) as engine:
        assert await engine.handle("p-old").result(timeout=5.0) == "old path"
        new = await engine.start("tests.versions.patched_old", 2, workflow_id="p-new")
        assert await new.result(timeout=5.0) == "new path"
        kinds = [(s.kind, s.name) for s in await new.steps()]
    assert kinds == [(StepKind.STEP, "load"), (StepKind.PATCH, "skip-enrich")]
    assert LOG.entries == ["load", "enrich", "gate", "gate", "load"]
