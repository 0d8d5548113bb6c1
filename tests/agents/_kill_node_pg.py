"""A node for the PostgreSQL kill -9 test: a TaskAgent on PostgresStore, as a child process.

``python _kill_node_pg.py DSN SCHEMA produce N``: queue N tasks, printing ``ACK <id>``
after each acknowledged one; as in ``_kill_node.py``, the task numbered ``GATE`` prints
``GATE <id>`` and waits for the kill, so the kill lands with work left behind.
``python _kill_node_pg.py DSN SCHEMA resume``: restart the agent from the database, print
``DONE <processed> <recovered in flight>`` when its queue is empty, and exit.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import bastion
from bastion.agents import TaskAgent
from bastion.persistence import PostgresStore

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # as a script: tests.agents

from tests.agents._kill_node import gated, produce_or_drain, work


async def main(dsn: str, schema: str, mode: str, count: int) -> None:
    async with (
        await PostgresStore.open(dsn, schema=schema, op_timeout=30.0) as store,
        bastion.open_runtime() as rt,
    ):
        ref = await rt.spawn(
            TaskAgent,
            name="w",
            store=store,
            handlers={"work": gated if mode == "produce" else work},
            max_queue_size=10_000,
            task_timeout=3600.0,  # the gated task is killed, never timed out
        )
        await produce_or_drain(ref, mode, count)


if __name__ == "__main__":
    args = sys.argv[1:]
    asyncio.run(main(args[0], args[1], args[2], int(args[3]) if len(args) > 3 else 0))
