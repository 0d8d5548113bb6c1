"""One node of the kill -9 soak (``bench/bench_kill_soak.py``), run as a child process.

``python bench/_kill_soak_node.py DB TOTAL FROM [WRITER]``: four TaskAgents on SQLite,
each with ``OutcomeRetention(max_outcomes=10_000)``, restored from ``DB`` (their queues
run on). A producer queues the tasks ``t<n>`` for ``n`` in ``FROM``..``TOTAL - 1`` in
chunks of 500 (chunk ``c`` holds ``n`` in ``[500 c, 500 c + 500)`` and goes to agent
``c % 4``), keeping at most 2,000 tasks per agent waiting. The chunk starting at ``FROM``
may have been accepted by a node killed before it printed the acknowledgement: it is
re-offered with the idempotent ``queue`` action, one task at a time; later chunks go out
with ``queue_many``. Lines printed:

- ``READY <processed> <queued>`` per agent, comma-separated (``w0`` first), once restored;
- ``ACK <first> <last>`` once the tasks ``t<first>``..``t<last>`` are acknowledged;
- ``P <processed> <process seconds>`` each time the agents' total of processed tasks
  passes another 0.5 % of ``TOTAL`` (``time.process_time``: the loop and the store's
  helper thread);
- ``DONE <processed> <failed>`` once every task up to ``TOTAL`` is finished; then it exits.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import TYPE_CHECKING, Any, cast

import bastion
from bastion.agents import OutcomeRetention, Task, TaskAgent, act
from bastion.persistence import SQLiteStore

if TYPE_CHECKING:
    from bastion import ActorRef
    from bastion.persistence._sqlite_options import WriterKind

AGENTS = 4
CHUNK = 500
BACKLOG = 4 * CHUNK  # tasks waiting per agent: far fewer than the outcomes retention keeps
KEEP = OutcomeRetention(max_outcomes=10_000)
RUN_LIMIT = 6 * 3600.0  # seconds; a node that runs longer is stuck


def agent_of(n: int) -> int:
    """The agent that task ``t<n>`` is queued on."""
    return (n // CHUNK) % AGENTS


def _zero(task: Task) -> int:
    return int(task.payload)


class Producer:
    """Queues the tasks in chunks, never more than ``BACKLOG`` waiting per agent."""

    def __init__(self, refs: list[ActorRef], total: int) -> None:
        self.refs, self.total = refs, total
        self.step = max(1, total // 200)
        self.processed = [0] * AGENTS
        self.queued_upto = [0] * AGENTS  # tasks this agent holds or finished, as far as we know
        self.next_report = 0

    async def poll(self) -> int:
        """Read every agent's processed count; print a ``P`` line per 0.5 % passed."""
        for i, ref in enumerate(self.refs):
            self.processed[i] = (await act(ref, "status")).processed
        done = sum(self.processed)
        if done >= self.next_report:
            print(f"P {done} {time.process_time():.4f}", flush=True)
            self.next_report = (done // self.step + 1) * self.step
        return done

    async def room_for(self, agent: int) -> None:
        """Wait until ``agent`` has fewer than ``BACKLOG`` tasks waiting."""
        while self.queued_upto[agent] - self.processed[agent] >= BACKLOG:
            await asyncio.sleep(0.01)  # 2,000 waiting: the agents never run dry meanwhile
            await self.poll()

    async def offer(self, first: int, resend: bool) -> None:
        """Queue the chunk starting at ``first``; ``resend``: it may be in already."""
        last = min(first + CHUNK, self.total) - 1
        agent = agent_of(first)
        await self.room_for(agent)
        ref = self.refs[agent]
        specs: list[dict[str, Any]] = [
            {"type": "zero", "id": f"t{n}", "payload": n} for n in range(first, last + 1)
        ]
        if resend:
            for spec in specs:
                await act(ref, "queue", **spec)
        else:
            await act(ref, "queue_many", tasks=specs)
        self.queued_upto[agent] += len(specs)
        print(f"ACK {first} {last}", flush=True)
        await self.poll()

    async def run(self, start: int) -> None:
        """Queue ``t<start>``.. and wait until every task is processed."""
        for first in range(start, self.total, CHUNK):
            await self.offer(first, resend=first == start)
        while True:  # the status polls are what the node waits on
            if await self.poll() >= self.total:
                return
            await asyncio.sleep(0.01)


async def main(db: str, total: int, start: int, writer: WriterKind | None) -> None:
    async with (
        await SQLiteStore.open(db, writer=writer) as store,
        bastion.open_runtime(call_timeout=60.0) as rt,
    ):
        refs = [
            await rt.spawn(
                TaskAgent,
                name=f"w{i}",
                store=store,
                handlers={"zero": _zero},
                max_queue_size=2 * BACKLOG + CHUNK,
                retention=KEEP,
            )
            for i in range(AGENTS)
        ]
        states = [await act(ref, "status") for ref in refs]
        print("READY " + ",".join(f"{s.processed} {s.queued}" for s in states), flush=True)
        producer = Producer(refs, total)
        for i, state in enumerate(states):  # what each agent holds or finished already
            producer.queued_upto[i] = state.processed + state.queued
        async with asyncio.timeout(RUN_LIMIT):
            await producer.run(start)
        states = [await act(ref, "status") for ref in refs]
        print(f"P {sum(s.processed for s in states)} {time.process_time():.4f}", flush=True)
        failed = sum(s.failed for s in states)
        print(f"DONE {sum(producer.processed)} {failed}", flush=True)
        for ref in refs:
            await ref.stop()


if __name__ == "__main__":
    args: list[Any] = sys.argv[1:]
    kind = cast("WriterKind | None", args[3] if len(args) > 3 else None)
    asyncio.run(main(args[0], int(args[1]), int(args[2]), kind))
