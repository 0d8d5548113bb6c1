"""The Bastion variants of ``bench_workflows.py``: ``@workflow`` (SQLite, memory) and
CoordinatorAgent workflows on TaskAgents (SQLite), and the resume-time measurement."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

import bastion
from _wf_jobs import CONCURRENCY, drive, fetch_value, store_value, transform_value, work
from bastion.agents import CoordinatorAgent, Task, TaskAgent, act
from bastion.persistence import MemoryStore, SQLiteStore, StateStore

__all__ = ["prepare_pending", "resume_to_first_step", "run_coordinator", "run_workflow"]


class _First:
    """When the first step of this process ran (wall clock), and an event for it."""

    def __init__(self) -> None:
        self.at: float | None = None
        self.ran = asyncio.Event()

    def note(self) -> None:
        if self.at is None:
            self.at = time.time()
            self.ran.set()


def _definitions(kind: str, first: _First | None = None, *, stuck: bool = False) -> Any:
    """The 3-step job as a @workflow (fresh definitions per process/kind); ``stuck``: its
    first step never finishes (to leave jobs pending)."""

    @bastion.step(name="fetch")
    async def fetch(i: int) -> int:
        if first is not None:
            first.note()
        if stuck:
            await asyncio.Event().wait()
        await work(kind)
        return fetch_value(i)

    @bastion.step(name="transform")
    async def transform(x: int) -> int:
        await work(kind)
        return transform_value(x)

    @bastion.step(name="store")
    async def store(x: int) -> int:
        await work(kind)
        return store_value(x)

    @bastion.workflow(name="bench.job")
    async def job(ctx: bastion.WorkflowContext, i: int) -> int:
        return await store(await transform(await fetch(i)))

    return job


async def run_workflow(kind: str, n: int, store: StateStore) -> float:
    """``@workflow`` jobs on ``store``: start, then wait for the result."""
    job = _definitions(kind)
    async with bastion.open_runtime(call_timeout=60.0) as rt:
        engine = await bastion.open_workflows(rt, store=store, workflows=[job])

        async def one(i: int) -> int:
            handle = await engine.start(job, i, workflow_id=f"job-{i}")
            result: int = await handle.result(timeout=600.0)
            return result

        try:
            return await drive(n, one)
        finally:
            await engine.close()


async def run_coordinator(kind: str, n: int, store: StateStore) -> float:
    """CoordinatorAgent workflows (3 ordered steps) dispatched to 8 TaskAgents."""
    finished: dict[str, asyncio.Future[int]] = {}

    async def step(task: Task) -> int:
        await work(kind)
        return 0

    async def last(task: Task) -> int:
        await work(kind)
        wf = task.id.partition("/")[0]
        i = int(wf.removeprefix("job-"))
        value = store_value(transform_value(fetch_value(i)))
        future = finished.get(wf)
        if future is not None and not future.done():
            future.set_result(value)
        return value

    handlers = {"fetch": step, "transform": step, "store": last}
    steps = [{"name": s, "task_type": s} for s in ("fetch", "transform", "store")]
    async with bastion.open_runtime(call_timeout=60.0) as rt:
        for a in range(CONCURRENCY):
            await rt.spawn(
                TaskAgent, name=f"w{a}", store=store, handlers=handlers, max_queue_size=10_000
            )
        coord = await rt.spawn(
            CoordinatorAgent,
            name="coord",
            store=store,
            max_concurrent_workflows=4 * CONCURRENCY,
            check_interval=3600.0,
        )

        async def one(i: int) -> int:
            wf = f"job-{i}"
            done = finished[wf] = asyncio.get_running_loop().create_future()
            await act(coord, "start_workflow", workflow_id=wf, steps=steps)
            return await asyncio.wait_for(done, 600.0)

        return await drive(n, one)


async def prepare_pending(path: Path, pending: int) -> None:
    """Store ``pending`` started @workflow jobs whose first step never finishes; the
    caller kills this process afterwards (prints READY)."""
    job = _definitions("cpu", stuck=True)
    async with await SQLiteStore.open(path) as store, bastion.open_runtime() as rt:
        engine = await bastion.open_workflows(rt, store=store, workflows=[job], max_running=8)
        for i in range(pending):
            await engine.start(job, i, workflow_id=f"job-{i}")
        print("READY", flush=True)
        await asyncio.Event().wait()


async def resume_to_first_step(path: Path, marker: Path) -> None:
    """Open an engine on ``path``: it resumes the pending jobs; the time of the first step
    execution goes to ``marker``. Exits once it ran (the rest is not measured)."""
    first = _First()
    job = _definitions("cpu", first)
    async with await SQLiteStore.open(path) as store, bastion.open_runtime() as rt:
        opening = time.time()  # imports done: from here on it is the engine's own work
        await bastion.open_workflows(rt, store=store, workflows=[job], max_running=8)
        await asyncio.wait_for(first.ran.wait(), 300.0)
        await asyncio.to_thread(marker.write_text, f"{first.at} {opening}\n")
        os._exit(0)


async def open_store(kind: str, path: Path) -> StateStore:
    """A fresh store of ``kind`` (``memory`` or ``sqlite``)."""
    return MemoryStore() if kind == "memory" else await SQLiteStore.open(path)


if __name__ == "__main__":  # pragma: no cover - used by bench_workflows.py
    sys.exit("run bench/bench_workflows.py")
