"""What the store costs per task and per acknowledgement: writes shared, not one per task."""

from __future__ import annotations

from pathlib import Path

import bastion
from bastion.agents import Task, TaskAgent, act
from bastion.persistence import SQLiteStore
from bastion.testing import wait_for


async def test_a_batch_of_plain_tasks_is_saved_in_one_write_on_sqlite(tmp_path: Path) -> None:
    ran: list[int] = []

    def note(task: Task) -> int:
        ran.append(int(task.payload))
        return 0

    async with (
        await SQLiteStore.open(tmp_path / "s.db") as store,
        bastion.open_runtime() as rt,
    ):
        ref = await rt.spawn(TaskAgent, name="w", store=store, handlers={"note": note})
        await act(ref, "pause")
        await act(ref, "queue_many", tasks=[{"type": "note", "payload": n} for n in range(60)])
        before = store.statistics().batches
        await act(ref, "resume")
        await wait_for(lambda: len(ran) == 60, timeout=10.0)
        await ref.stop()  # its last save
        assert ran == list(range(60))
        # one write per batch (the resume, the batch, the stop), not one per task
        assert store.statistics().batches - before <= 4
        outcomes = (await store.load("agent/w")).collections["done"]
        assert len(outcomes) == 60
