"""The CoordinatorAgent job of ``bench_workflow_scale`` and ``coordinator_ab``.

3-step workflows of zero-work plain handlers on ``AGENTS`` TaskAgents, started by
``CLIENTS`` clients that each start a job and wait for its last step, beside ``idle``
paused workflows that stay active. ``bastion`` is imported when a run starts, so a
caller can choose the source tree first (``coordinator_ab --tree``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

CLIENTS, AGENTS = 8, 4
STEPS = [{"name": s, "task_type": s} for s in ("s1", "s2", "s3")]


@asynccontextmanager
async def coordinated(
    store: Any, idle: int
) -> AsyncIterator[Callable[[str, int], Awaitable[None]]]:
    """A runtime with the pool and the coordinator on ``store``; yields ``run(tag, jobs)``,
    which runs ``jobs`` jobs (ids ``job-<tag>-<client>-<n>``) and returns when all finished."""
    import bastion
    from bastion.agents import CoordinatorAgent, Task, TaskAgent, act

    finished: dict[str, asyncio.Event] = {}

    def step(task: Task) -> int:
        return 0

    def last(task: Task) -> int:
        finished[task.id.partition("/")[0]].set()
        return 0

    handlers = {"s1": step, "s2": step, "s3": last}
    async with bastion.open_runtime(call_timeout=60.0) as rt:
        for i in range(AGENTS):
            await rt.spawn(
                TaskAgent, name=f"w{i}", store=store, handlers=handlers, max_queue_size=10_000
            )
        coord = await rt.spawn(
            CoordinatorAgent,
            name="coord",
            store=store,
            max_concurrent_workflows=idle + 2 * CLIENTS,
            max_pending_workflows=10,
            check_interval=3600.0,
        )
        never = [{"name": "x", "task_type": "nobody-runs-this"}]
        for i in range(idle):
            await act(coord, "start_workflow", workflow_id=f"idle-{i}", steps=never)
            await act(coord, "pause", workflow_id=f"idle-{i}")

        async def run(tag: str, jobs: int) -> None:
            async def client(c: int) -> None:
                for j in range(jobs // CLIENTS):
                    wf = f"job-{tag}-{c}-{j}"
                    done = finished[wf] = asyncio.Event()
                    await act(coord, "start_workflow", workflow_id=wf, steps=STEPS)
                    await done.wait()

            async with asyncio.timeout(600), asyncio.TaskGroup() as group:
                for c in range(CLIENTS):
                    group.create_task(client(c))

        yield run
