"""A node for the kill -9 soak: two TaskAgents on SQLite, run as a child process.

``python _soak_node.py DB produce PHASE COUNT``: restore both agents (their queues run
on), re-offer the previous phase's last ids (idempotent by id), then queue COUNT new
tasks ``p<PHASE>-<n>`` alternately, printing ``ACK <id>`` after each acknowledged one;
processing goes on until the parent kills the process.
``python _soak_node.py DB drain``: restore, print ``DONE`` once both queues are empty.
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

AGENTS = ("w0", "w1")


async def work(task: Task) -> int:
    await current_clock().sleep(0.0005)  # real work the kill interrupts
    return int(task.payload)


async def main(db: str, mode: str, phase: int, count: int) -> None:
    writer = cast("WriterKind | None", os.environ.get("BASTION_TEST_WRITER"))  # the test's
    async with await SQLiteStore.open(db, writer=writer) as store, bastion.open_runtime() as rt:
        refs = [
            await rt.spawn(
                TaskAgent, name=name, store=store, handlers={"work": work}, max_queue_size=100_000
            )
            for name in AGENTS
        ]
        print("READY", flush=True)
        if mode == "produce":
            for n in range(max(0, count - 10), count):  # a client retrying the last ids
                if phase > 0:
                    await act(refs[n % 2], "queue", type="work", id=f"p{phase - 1}-{n}", payload=n)
            for n in range(count):
                accepted = await act(
                    refs[n % 2], "queue", type="work", id=f"p{phase}-{n}", payload=n
                )
                print(f"ACK {accepted.id}", flush=True)
            await asyncio.Event().wait()  # keep processing until killed

        async def drained() -> Any:
            states = [await act(ref, "status") for ref in refs]
            idle = all(s.queued == 0 and s.current_task is None for s in states)
            return states if idle else None

        states = await wait_for(drained, timeout=120.0, what="the queues to drain")
        print(f"DONE {sum(s.processed for s in states)}", flush=True)
        for ref in refs:
            await ref.stop()


if __name__ == "__main__":
    args = [*sys.argv[1:], "0", "0"]
    asyncio.run(main(args[0], args[1], int(args[2]), int(args[3])))
