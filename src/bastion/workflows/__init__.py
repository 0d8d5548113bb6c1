"""Durable workflows as code: ``@workflow`` functions of ``@step`` calls on a state store.

::

    @bastion.step(max_attempts=5, backoff=bastion.Backoff(initial=1.0, maximum=60.0))
    async def fetch(doc_id: str) -> str: ...

    @bastion.workflow(version="1")
    async def review(ctx: bastion.WorkflowContext, doc_id: str) -> str:
        text = await fetch(doc_id)                   # recorded once per step number
        await ctx.sleep(3600)                        # a stored wake-up time
        approved = await ctx.recv("approval", timeout=86400)
        return text if approved else ""

    engine = await bastion.open_workflows(rt, store=store)
    handle = await engine.start(review, "doc-1", workflow_id="review-doc-1")
    await engine.send("review-doc-1", "approval", True)
    print(await handle.result(timeout=60.0))

A restarted workflow re-executes from the top; recorded steps return their stored
results without running. See ``docs/workflows.md`` for the recovery rules, messages,
cancellation, versioning and the read API (:func:`inspect` works without an engine).
"""

from __future__ import annotations

from bastion._public import publish
from bastion.agents._errors import UnknownWorkflow
from bastion.workflows._context import WorkflowContext
from bastion.workflows._current import step_attempt
from bastion.workflows._definitions import StepOptions, WorkflowDefinition, step, workflow
from bastion.workflows._engine import WorkflowEngine, WorkflowEngineStatistics, open_workflows
from bastion.workflows._errors import (
    CorruptWorkflow,
    InboxFull,
    IncompatibleWorkflow,
    NonDeterministicWorkflow,
    StepFailed,
    WorkflowCancelled,
    WorkflowError,
    WorkflowFailed,
    WorkflowFinished,
    WorkflowTimedOut,
    WorkflowWaitTimeout,
)
from bastion.workflows._handle import WorkflowHandle
from bastion.workflows._inspect import StepInfo, WorkflowInfo, WorkflowStore, inspect
from bastion.workflows._records import StepKind, StepStatus, WorkflowStatus
from bastion.workflows._schedule_state import ScheduleInfo, UnknownSchedule
from bastion.workflows._scheduler import Schedules, open_schedules
from bastion.workflows._schedules import scheduled

__all__ = [
    "CorruptWorkflow",
    "InboxFull",
    "IncompatibleWorkflow",
    "inspect",
    "NonDeterministicWorkflow",
    "open_schedules",
    "open_workflows",
    "scheduled",
    "ScheduleInfo",
    "Schedules",
    "step",
    "step_attempt",
    "StepFailed",
    "StepInfo",
    "StepKind",
    "StepOptions",
    "StepStatus",
    "UnknownSchedule",
    "UnknownWorkflow",
    "workflow",
    "WorkflowCancelled",
    "WorkflowContext",
    "WorkflowDefinition",
    "WorkflowEngine",
    "WorkflowEngineStatistics",
    "WorkflowError",
    "WorkflowFailed",
    "WorkflowFinished",
    "WorkflowHandle",
    "WorkflowInfo",
    "WorkflowStatus",
    "WorkflowStore",
    "WorkflowTimedOut",
    "WorkflowWaitTimeout",
]

publish(globals(), "bastion.workflows")
