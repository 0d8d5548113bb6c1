"""What a CoordinatorAgent writes (issues 15 and 16): each ``start_workflow`` is answered
only once its start is committed; a step's outcome is one batch of its workflow's
engine records and no write of the coordinator's own record."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import bastion
from bastion.agents import CoordinatorAgent, Task, TaskAgent, TaskStatus, act
from bastion.agents._task_types import TaskFinished, TaskOutcome
from bastion.persistence import MemoryStore, Op, WriteResult
from bastion.testing import wait_for
from tests.agents.conftest import open_store

NOBODY = [{"name": "a", "task_type": "nobody-runs-this"}]


def _group_commits(rt: bastion.Runtime) -> int:
    family = rt.metrics.family("bastion_persistence_group_size")
    if not family.samples:
        return 0
    histogram = family.sample(store="sqlite").histogram
    assert histogram is not None
    return histogram.count


def _committed(db_path: Path, workflow: str) -> bool:
    """Whether another connection sees the workflow's row (only committed data)."""
    with sqlite3.connect(db_path) as conn:
        row = conn.execute(
            "SELECT 1 FROM records WHERE ns = ? AND key = 'meta'",
            (f"workflow/coordinator/coord/{workflow}",),
        ).fetchone()
    return row is not None


async def test_starts_acknowledged_in_different_loop_turns_share_one_commit(
    rt: bastion.Runtime, db_path: Path
) -> None:
    async with open_store("sqlite", db_path) as store:
        coord = await rt.spawn(CoordinatorAgent, name="coord", store=store)
        before = _group_commits(rt)

        async def start(i: int) -> bool:
            for _ in range(i):
                await asyncio.sleep(0)  # each call in a turn of the loop of its own
            await act(coord, "start_workflow", workflow_id=f"wf{i}", steps=NOBODY)
            return _committed(db_path, f"wf{i}")  # read as soon as the reply arrived

        async with asyncio.TaskGroup() as group:
            calls = [group.create_task(start(i)) for i in range(4)]
        assert [c.result() for c in calls] == [True] * 4  # each answered once committed
        assert _group_commits(rt) - before == 1  # one commit for the four
        await coord.stop()


class CountingStore(MemoryStore):
    """Counts the batches that write the coordinator's own namespace and its workflows'."""

    def __init__(self) -> None:
        super().__init__()
        self.coordinator_batches = 0
        self.workflow_batches = 0

    async def submit(
        self, ops: Sequence[Op], *, sync: bool = False, defer: bool = False
    ) -> asyncio.Future[WriteResult]:
        spaces = {getattr(op, "namespace", None) for op in ops}
        self.coordinator_batches += "agent/coord" in spaces
        self.workflow_batches += any(
            str(n).startswith("workflow/coordinator/coord/") for n in spaces
        )
        return await super().submit(ops, sync=sync, defer=defer)


async def test_an_outcome_is_one_engine_batch_and_no_coordinator_write(
    rt: bastion.Runtime,
) -> None:
    gate = asyncio.Event()

    async def held(task: Task) -> None:
        await gate.wait()

    store = CountingStore()
    worker = await rt.spawn(TaskAgent, name="w", store=store, handlers={"x": held})
    coord = await rt.spawn(CoordinatorAgent, name="coord", store=store)
    two = [{"name": "a", "task_type": "x"}, {"name": "b", "task_type": "nobody-runs-this"}]
    await act(coord, "start_workflow", workflow_id="wf", steps=two)

    async def dispatched() -> bool:
        status = await act(coord, "workflow_status", workflow_id="wf")
        return bool(status.steps["a"] == "dispatched")

    await wait_for(dispatched, timeout=5.0)
    before = (store.coordinator_batches, store.workflow_batches)
    outcome = TaskOutcome(id="wf/a/1", type="x", status=TaskStatus.COMPLETED, result=7)
    coord.cast_nowait(TaskFinished(outcome))  # as the TaskAgent would send it

    async def recorded() -> bool:
        status = await act(coord, "workflow_status", workflow_id="wf")
        return bool(status.results.get("a") == 7)

    await wait_for(recorded, timeout=5.0)
    await rt.wait_idle(timeout=1.0)
    after = (store.coordinator_batches, store.workflow_batches)
    assert (after[0] - before[0], after[1] - before[1]) == (0, 1)  # the step's record only
    gate.set()
    await coord.stop()
    await worker.stop()
