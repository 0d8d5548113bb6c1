"""A node for the kill -9 test: a TaskAgent on SQLite, run as a child process.

``python _kill_node.py DB produce N``: queue N tasks, printing ``ACK <id>`` after each
acknowledged one. Tasks run meanwhile, but the task numbered :data:`GATE` never
finishes in this mode: it prints ``GATE <id>`` and waits until the parent kills the
process, so the kill always lands with that task in flight and the tasks after it still
queued, however slow or fast the machine is.
``python _kill_node.py DB resume``: restart the agent from DB, print ``DONE`` when its
queue is empty, and exit.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import TYPE_CHECKING, Any, cast

import bastion
from bastion._core._clock import current_clock
from bastion.agents import Task, TaskAgent, act
from bastion.persistence import SQLiteStore
from bastion.testing import wait_for

if TYPE_CHECKING:
    from bastion.persistence._sqlite_options import WriterKind

#: In ``produce`` mode the task with this payload blocks until the process is killed.
GATE = 100


async def work(task: Task) -> dict[str, int]:
    await current_clock().sleep(0.002)  # a node doing real work
    return {"n": int(task.payload)}


async def gated(task: Task) -> dict[str, int]:
    """``work``, except that task GATE waits for the kill (``produce`` mode)."""
    if int(task.payload) == GATE:
        print(f"GATE {task.id}", flush=True)
        await asyncio.Event().wait()  # released only by SIGKILL
    return await work(task)


async def main(db: str, mode: str, count: int) -> None:
    handler = gated if mode == "produce" else work
    writer = cast("WriterKind | None", os.environ.get("BASTION_TEST_WRITER"))  # the test's
    async with await SQLiteStore.open(db, writer=writer) as store, bastion.open_runtime() as rt:
        ref = await rt.spawn(
            TaskAgent,
            name="w",
            store=store,
            handlers={"work": handler},
            max_queue_size=10_000,
            task_timeout=3600.0,  # the gated task is killed, never timed out
        )
        await produce_or_drain(ref, mode, count)


async def produce_or_drain(ref: bastion.ActorRef, mode: str, count: int) -> None:
    """Print ``READY``; then ``produce``: queue ``count`` tasks, printing ``ACK <id>`` after
    each, and go on processing until killed; ``resume``: print ``DONE <processed>
    <recovered in flight>`` once the queue is empty, and stop the agent."""
    print("READY", flush=True)
    if mode == "produce":
        for i in range(count):
            accepted = await act(ref, "queue", type="work", id=f"t{i}", payload=i)
            print(f"ACK {accepted.id}", flush=True)
        await asyncio.Event().wait()  # keep processing until killed

    async def drained() -> Any:
        status = await act(ref, "status")
        return status if status.queued == 0 and status.current_task is None else None

    status = await wait_for(drained, timeout=120.0, what="the queue to drain")
    print(f"DONE {status.processed} {status.recovered_in_flight}", flush=True)
    await ref.stop()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 0))
