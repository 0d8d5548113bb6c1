"""Sample workflows for the console test node and the ``bastion workflows`` tests: one
completed, one failed, one waiting for a message."""

from __future__ import annotations

import contextlib

import bastion
from bastion.persistence import MemoryStore
from bastion.workflows import WorkflowEngine


class Refused(bastion.BusinessError):
    """The tool said no (not retried)."""


@bastion.step
async def lookup(key: str) -> str:
    """A step that succeeds."""
    return f"value of {key}"


@bastion.step
async def refuse(key: str) -> str:
    """A step that fails for good."""
    raise Refused(f"no {key}")


@bastion.workflow(name="node.fetch")
async def fetch(ctx: bastion.WorkflowContext, key: str) -> str:
    """Completes."""
    return await lookup(key)


@bastion.workflow(name="node.broken")
async def broken(ctx: bastion.WorkflowContext, key: str) -> str:
    """Fails at its second step."""
    await lookup(key)
    return await refuse(key)


@bastion.workflow(name="node.approval")
async def approval(ctx: bastion.WorkflowContext, key: str) -> object:
    """Waits for a message (an hour at most)."""
    await lookup(key)
    return await ctx.recv("approval", timeout=3600.0)


async def start_samples(engine: WorkflowEngine, prefix: str = "") -> None:
    """Start the three as ``<prefix>done``, ``<prefix>failed`` and ``<prefix>waiting``;
    return once the first two finished."""
    done = await engine.start(fetch, "a", workflow_id=f"{prefix}done")
    await done.result(timeout=10.0)
    failed = await engine.start(broken, "b", workflow_id=f"{prefix}failed")
    with contextlib.suppress(bastion.workflows.WorkflowFailed):
        await failed.result(timeout=10.0)
    await engine.start(approval, "c", workflow_id=f"{prefix}waiting")


async def node_workflows(rt: bastion.Runtime) -> WorkflowEngine:
    """An engine on a fresh MemoryStore with the three workflows started and settled."""
    engine = await bastion.open_workflows(rt, store=MemoryStore())
    await start_samples(engine, "wf-")
    return engine
