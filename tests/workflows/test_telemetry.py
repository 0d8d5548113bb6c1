"""Metrics and span events per workflow and per step."""

from __future__ import annotations

import pytest

import bastion
from bastion.persistence import MemoryStore
from bastion.testing import capture_events
from tests.workflows.conftest import engine_on


@bastion.step(max_attempts=2, backoff=bastion.Backoff(initial=1.0, jitter=0.0))
async def shaky(x: int) -> int:
    if x < 0:
        raise ConnectionError("down")  # retried once, then failed
    return x


@bastion.workflow(name="tests.telemetry.measured")
async def measured(ctx: bastion.WorkflowContext, x: int) -> int:
    return await shaky(x)


def value(rt: bastion.Runtime, name: str, **labels: str) -> float:
    return rt.metrics.family(name).total(**labels)


async def test_workflows_and_steps_are_counted_and_traced(rt: bastion.Runtime) -> None:
    spans = [("bastion", "workflow", part, end) for part in ("run", "step")
             for end in ("start", "stop", "exception")]  # fmt: skip
    with capture_events(*spans) as events:
        async with engine_on(rt, MemoryStore()) as engine:
            assert await (await engine.start(measured, 3)).result(timeout=5.0) == 3
            failing = await engine.start(measured, -1)
            with pytest.raises(bastion.workflows.WorkflowFailed):
                await failing.result(timeout=50.0)
    assert value(rt, "bastion_workflows", workflow="tests.telemetry.measured") == 2
    assert value(rt, "bastion_workflows", status="completed") == 1
    assert value(rt, "bastion_workflows", status="failed") == 1
    assert value(rt, "bastion_workflow_steps", step="shaky", outcome="completed") == 1
    assert value(rt, "bastion_workflow_steps", step="shaky", outcome="retry") == 1
    assert value(rt, "bastion_workflow_steps", step="shaky", outcome="failed") == 1
    assert events.count("bastion", "workflow", "run", "start") == 2
    assert events.count("bastion", "workflow", "run", "stop") == 2  # a failure is recorded
    assert events.count("bastion", "workflow", "step", "start") == 3
    assert events.count("bastion", "workflow", "step", "exception") == 2
    (stop,) = events.named("bastion", "workflow", "step", "stop")
    assert stop.metadata["step"] == "shaky"
    assert stop.metadata["step_no"] == 0
