"""A node for the coordinator kill -9 test: a CoordinatorAgent and two TaskAgents on SQLite.

``python _kill_coord_node.py DB produce``: :data:`CLIENTS` clients each start 3-step
workflows one after another (the next once the last step of the previous one ran),
printing ``ACK <id>`` after each acknowledged ``start_workflow``. The middle step of
workflow :data:`GATE` never finishes: it prints ``GATE <id>`` and waits for the kill. It
runs on an agent of its own (``wg``, task type ``s2g``): a TaskAgent runs one task at a
time, and the steps of other workflows queued behind it on a shared agent would never
run, stalling their clients before the kill.
``python _kill_coord_node.py DB resume``: restart from DB, print ``RUN <task id>`` for
every step run, and ``DONE`` once no workflow is active; exit.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import bastion
from bastion.agents import CoordinatorAgent, Task, TaskAgent, act
from bastion.persistence import SQLiteStore
from bastion.testing import wait_for

CLIENTS = 8
JOBS = 40  # per client
GATE = "job-3-5"
STEPS = [{"name": s, "task_type": s} for s in ("s1", "s2", "s3")]
GATED = [STEPS[0], {"name": "s2", "task_type": "s2g"}, STEPS[2]]


async def main(db: str, mode: str) -> None:
    finished: dict[str, asyncio.Event] = {}

    async def step(task: Task) -> str:
        wf = task.id.partition("/")[0]
        if mode == "produce" and task.type == "s2g" and wf == GATE:
            print(f"GATE {task.id}", flush=True)
            await asyncio.Event().wait()  # released only by SIGKILL
        if mode == "resume":
            print(f"RUN {task.id}", flush=True)
        if task.type == "s3" and wf in finished:
            finished[wf].set()
        return task.id

    handlers = {s: step for s in ("s1", "s2", "s3")}
    async with await SQLiteStore.open(db) as store, bastion.open_runtime() as rt:
        for name in ("w1", "w2"):
            await rt.spawn(TaskAgent, name=name, store=store, handlers=handlers)
        await rt.spawn(TaskAgent, name="wg", store=store, handlers={"s2g": step})
        coord = await rt.spawn(
            CoordinatorAgent, name="coord", store=store, max_concurrent_workflows=2 * CLIENTS
        )
        if mode == "produce":

            async def client(c: int) -> None:
                for j in range(JOBS):
                    wf = f"job-{c}-{j}"
                    done = finished[wf] = asyncio.Event()
                    steps = GATED if wf == GATE else STEPS
                    await act(coord, "start_workflow", workflow_id=wf, steps=steps)
                    print(f"ACK {wf}", flush=True)
                    await done.wait()

            await asyncio.gather(*(client(c) for c in range(CLIENTS)))
            await asyncio.Event().wait()  # keep running until killed

        async def idle() -> Any:
            stats = await act(coord, "statistics")
            return stats if stats.running + stats.pending + stats.paused == 0 else None

        stats: Any = await wait_for(idle, timeout=120.0, what="every workflow to finish")
        print(f"DONE {stats.completed}", flush=True)
        await coord.stop()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
