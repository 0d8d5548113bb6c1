"""What a CoordinatorAgent writes (issue 15): acknowledgements of ``start_workflow`` sent
in different turns of the loop share one group commit, each still answered only once
committed; messages handled back to back are saved once."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import bastion
from bastion.agents import CoordinatorAgent, Task, TaskAgent, TaskStatus, act
from bastion.agents._task_types import TaskFinished, TaskOutcome
from bastion.persistence import MemoryStore, Op, WriteResult
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
            "SELECT 1 FROM items WHERE ns = 'agent/coord' AND coll = 'workflows' AND item = ?",
            (workflow,),
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
        assert _group_commits(rt) - before == 1  # one commit for the four (before: four)
        await coord.stop()


class CountingStore(MemoryStore):
    """Counts the batches that write the coordinator's namespace."""

    def __init__(self) -> None:
        super().__init__()
        self.coordinator_batches = 0

    async def submit(
        self, ops: Sequence[Op], *, sync: bool = False, defer: bool = False
    ) -> asyncio.Future[WriteResult]:
        if any(getattr(op, "namespace", None) == "agent/coord" for op in ops):
            self.coordinator_batches += 1
        return await super().submit(ops, sync=sync, defer=defer)


async def test_outcomes_handled_back_to_back_are_saved_once(rt: bastion.Runtime) -> None:
    gate = asyncio.Event()

    async def held(task: Task) -> None:
        await gate.wait()

    store = CountingStore()
    worker = await rt.spawn(TaskAgent, name="w", store=store, handlers={"x": held})
    coord = await rt.spawn(CoordinatorAgent, name="coord", store=store)
    for i in range(3):
        await act(
            coord, "start_workflow", workflow_id=f"wf{i}", steps=[{"name": "a", "task_type": "x"}]
        )
    before = store.coordinator_batches
    for i in range(3):  # three outcomes in the mailbox at once, as a TaskAgent's batch sends
        outcome = TaskOutcome(id=f"wf{i}/a/1", type="x", status=TaskStatus.COMPLETED, result=i)
        coord.cast_nowait(TaskFinished(outcome))
    statuses = [await act(coord, "workflow_status", workflow_id=f"wf{i}") for i in range(3)]
    assert [s.status for s in statuses] == ["completed"] * 3
    assert store.coordinator_batches - before == 1  # one save for the three (before: three)
    gate.set()
    await coord.stop()
    await worker.stop()
