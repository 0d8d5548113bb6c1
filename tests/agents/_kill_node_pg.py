"""A node for the PostgreSQL kill -9 test: a TaskAgent on PostgresStore, as a child process.

``python _kill_node_pg.py DSN SCHEMA produce N``: queue N tasks, printing ``ACK <id>``
after each acknowledged one (processing goes on until the parent kills the process).
``python _kill_node_pg.py DSN SCHEMA resume``: restart the agent from the database, print
``DONE <processed> <recovered in flight>`` when its queue is empty, and exit.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import bastion
from bastion._core._clock import current_clock
from bastion.agents import Task, TaskAgent
from bastion.persistence import PostgresStore

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # as a script: tests.agents

from tests.agents._kill_node import produce_or_drain


async def work(task: Task) -> dict[str, int]:
    await current_clock().sleep(0.002)  # a node doing real work; the parent kills it mid-stream
    return {"n": int(task.payload)}


async def main(dsn: str, schema: str, mode: str, count: int) -> None:
    async with (
        await PostgresStore.open(dsn, schema=schema, op_timeout=30.0) as store,
        bastion.open_runtime() as rt,
    ):
        ref = await rt.spawn(
            TaskAgent, name="w", store=store, handlers={"work": work}, max_queue_size=10_000
        )
        await produce_or_drain(ref, mode, count)


if __name__ == "__main__":
    args = sys.argv[1:]
    asyncio.run(main(args[0], args[1], args[2], int(args[3]) if len(args) > 3 else 0))
