"""A node for the workflow kill -9 test, run as a child process on a SQLite store.

``python _crash_node.py DB SIDE run PHASE COUNT``: run the collector and the schedule,
start jobs ``PHASE*COUNT ..``, printing ``ACK <id>`` once a start is committed, and go
on working until the parent kills the process.
``python _crash_node.py DB SIDE drain``: resume everything, wait until every job is
finished and each finished job's message was received, print ``DONE``, and exit.

A job: step ``a`` → durable sleep (50 ms) → step ``flaky`` (its first attempt in each
process fails; retried 30 ms later, the delay stored; five attempts, because each of
the test's four processes can fail it once and be killed before the retry) →
``ctx.send`` of its result to the ``collector`` workflow → step ``c``. The collector
receives messages for ever, each received value recorded as its step. A scheduled
workflow ticks every 200 ms (missed ticks: run once). Every step execution appends
``<step> <key> <pid>`` to SIDE (how re-executions are counted).
"""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import datetime

import bastion
from bastion.persistence import SQLiteStore
from bastion.testing import wait_for
from bastion.workflows import WorkflowStatus, inspect, open_schedules, scheduled


class Side:
    """Appends one line per step execution (single small O_APPEND writes)."""

    path = ""

    @classmethod
    def note(cls, *fields: object) -> None:
        line = " ".join(str(f) for f in (*fields, os.getpid())) + "\n"
        fd = os.open(cls.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)


class Flaky(Exception):
    """The first attempt of ``flaky`` in each process fails with this."""


class Attempts:
    """Jobs whose ``flaky`` step failed once in this process."""

    failed: set[int] = set()  # noqa: RUF012 -- one process, one set: the point of the test


@bastion.step
async def a(i: int) -> int:
    Side.note("a", i)
    return i * 3


@bastion.step(
    max_attempts=5, backoff=bastion.Backoff(initial=0.03, maximum=0.03), retry_on=(Flaky,)
)
async def flaky(i: int, x: int) -> int:
    if i not in Attempts.failed:
        Attempts.failed.add(i)
        Side.note("flaky-fail", i)
        raise Flaky(f"first attempt of job {i}")
    Side.note("flaky", i)
    return x + 1


@bastion.step
async def c(i: int, x: int) -> int:
    Side.note("c", i)
    return x * 2


@bastion.workflow(name="crash.job")
async def job(ctx: bastion.WorkflowContext, i: int) -> int:
    x = await a(i)
    await ctx.sleep(0.05)
    x = await flaky(i, x)
    await ctx.send("collector", "result", i)
    return await c(i, x)


@bastion.step
async def got(value: int) -> int:
    Side.note("got", value)
    return value


@bastion.workflow(name="crash.collector")
async def collector(ctx: bastion.WorkflowContext) -> None:
    while True:
        value = await ctx.recv("result", timeout=3600.0)
        if value is not None:
            await got(value)


@bastion.step
async def tick_step(tick: str) -> str:
    Side.note("tick", tick)
    return tick


@scheduled(interval=0.2, grace=0.1, name="crash-tick")
@bastion.workflow(name="crash.tick")
async def tick(ctx: bastion.WorkflowContext, at: datetime) -> str:
    return await tick_step(at.isoformat())


async def _drained(store: SQLiteStore) -> bool:
    workflows = inspect(store)
    jobs = await workflows.list(name="crash.job")
    failed = [j for j in jobs if j.status is WorkflowStatus.FAILED]
    if failed:  # (then its message never comes: say so instead of waiting for it)
        raise RuntimeError(f"jobs failed: {[(j.id, j.error) for j in failed]}")
    if any(j.status is WorkflowStatus.RUNNING for j in jobs):
        return False
    received = [s for s in await workflows.steps("collector") if s.name == "got"]
    return len(received) == len(jobs)


async def main(db: str, mode: str, phase: int, count: int) -> None:
    async with await SQLiteStore.open(db) as store, bastion.open_runtime() as rt:
        engine = await bastion.open_workflows(rt, store=store)
        schedules = await open_schedules(rt, engine, [tick])
        await engine.start(collector, workflow_id="collector")
        print("READY", flush=True)
        if mode == "run":
            for i in range(phase * count, (phase + 1) * count):
                await engine.start(job, i, workflow_id=f"job-{i}")
                print(f"ACK job-{i}", flush=True)
            await asyncio.Event().wait()  # keep working until killed
        await wait_for(lambda: _drained(store), timeout=40.0, what="every job and message")
        await schedules.close()
        await engine.close()
        print("DONE", flush=True)


if __name__ == "__main__":
    Side.path = sys.argv[2]
    rest = [int(v) for v in sys.argv[4:6]] if len(sys.argv) > 4 else [0, 0]
    asyncio.run(main(sys.argv[1], sys.argv[3], *rest))
