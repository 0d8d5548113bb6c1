"""Durable messages between workflows and from outside, events, the inbox bound."""

from __future__ import annotations

import asyncio

import pytest

import bastion
from bastion.persistence import MemoryStore, NamespaceData
from bastion.testing import VirtualClock, wait_for
from bastion.workflows import (
    InboxFull,
    StepKind,
    UnknownWorkflow,
    WorkflowFinished,
    inspect,
)
from tests.workflows.conftest import Journal, engine_on

LOG = Journal()


@bastion.workflow(name="tests.messages.approver")
async def approver(ctx: bastion.WorkflowContext, target: str) -> str:
    await ctx.send(target, "approval", {"ok": True, "by": ctx.workflow_id})
    LOG.add("sent")
    return "done"


@bastion.workflow(name="tests.messages.requester")
async def requester(ctx: bastion.WorkflowContext) -> object:
    await ctx.set_event("stage", "waiting")
    answer = await ctx.recv("approval", timeout=3600.0)
    await ctx.set_event("stage", "approved")
    return answer


async def test_a_workflow_waits_for_a_message_from_another(rt: bastion.Runtime) -> None:
    LOG.clear()
    store = MemoryStore()
    async with engine_on(rt, store) as engine:
        waiting = await engine.start(requester, workflow_id="req")
        assert await engine.get_event("req", "stage", timeout=5.0) == "waiting"
        sender = await engine.start(approver, "req", workflow_id="app")
        assert await sender.result(timeout=5.0) == "done"
        assert await waiting.result(timeout=5.0) == {"ok": True, "by": "app"}
        assert await engine.get_event("req", "stage", timeout=5.0) == "approved"
        steps = await waiting.steps()
    assert [s.kind for s in steps] == [
        StepKind.SET_EVENT,
        StepKind.RECV,
        StepKind.SET_EVENT,
    ]
    sent = await inspect(store).steps("app")
    assert [(s.kind, s.name) for s in sent] == [(StepKind.SEND, "send:req:approval")]


async def test_get_event_returns_none_after_its_timeout(rt: bastion.Runtime) -> None:
    async with engine_on(rt, MemoryStore()) as engine:
        await engine.start(requester, workflow_id="quiet")
        assert await engine.get_event("quiet", "never-set", timeout=2.0) is None


async def test_the_inbox_is_bounded(rt: bastion.Runtime) -> None:
    store = MemoryStore()
    async with engine_on(rt, store, max_inbox=2) as engine:
        await engine.start(requester, workflow_id="busy")
        await wait_for(lambda: engine.statistics().running == 1)
        await engine.send("busy", "other", 1)
        await engine.send("busy", "other", 2)
        with pytest.raises(InboxFull, match=r"2 unread messages \(max_inbox=2\)"):
            await engine.send("busy", "other", 3)
    async with engine_on(rt, store, max_inbox=2, max_running=1) as engine:
        with pytest.raises(InboxFull):  # counted from the store as well
            await engine.send("busy", "other", 3)


async def test_messages_to_unknown_or_finished_workflows_are_refused(
    rt: bastion.Runtime,
) -> None:
    async with engine_on(rt, MemoryStore()) as engine:
        with pytest.raises(UnknownWorkflow):
            await engine.send("nobody", "approval", True)
        done = await engine.start(approver, "nobody", workflow_id="fails")
        with pytest.raises(bastion.workflows.WorkflowFailed, match="UnknownWorkflow"):
            await done.result(timeout=5.0)
        with pytest.raises(WorkflowFinished, match="failed"):
            await engine.send("fails", "approval", True)
        with pytest.raises(ValueError, match="topic"):
            await engine.send("fails", "", True)


class SlowLoads(MemoryStore):
    """A memory store whose next workflow read, once armed, returns only when ``gate``
    opens (what it returns was read before)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.armed = False
        self.held = 0

    async def load(self, namespace: str) -> NamespaceData:
        data = await super().load(namespace)
        if self.armed and namespace.startswith("workflow/"):
            self.armed = False
            self.held += 1
            await self.gate.wait()
        return data


@bastion.workflow(name="tests.messages.one")
async def one(ctx: bastion.WorkflowContext) -> object:
    return await ctx.recv("in", timeout=1000.0)


async def test_a_message_sent_while_its_workflow_is_being_loaded_is_not_missed(
    rt: bastion.Runtime, clock: VirtualClock
) -> None:
    store = SlowLoads()
    async with engine_on(rt, store) as engine:
        await engine.start(one, workflow_id="late")
    store.armed = True
    async with engine_on(rt, store) as engine:
        await wait_for(lambda: store.held == 1)  # its inbox was read, the run not yet set up
        await engine.send("late", "in", "hello")
        store.gate.set()
        t0 = clock.now()
        assert await engine.handle("late").result(timeout=2000.0) == "hello"
        assert clock.now() - t0 < 1.0  # not after the recv timeout
