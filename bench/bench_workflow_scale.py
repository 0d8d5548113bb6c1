"""Workflows (issue 15, target 3): per-message cost against the number of active
workflows, and the durable path against the same code on ``MemoryStore``.

Jobs are 3-step workflows (``s1`` → ``s2`` → ``s3``, zero-work plain handlers) on one
CoordinatorAgent and 4 TaskAgents, run by 8 concurrent clients (each starts a job and
waits until its last step ran, then starts the next).

* ``scale``: jobs per second with 10, 1,000 and 10,000 other workflows active (paused:
  they hold a slot, as in a busy coordinator, and never finish) on ``MemoryStore``.
* ``durable``: jobs per second on SQLite (``batched``; the default loop writer and the
  writer process) and on ``MemoryStore``, interleaved, with 10 other workflows active.

    python bench/run.py --only workflow_scale [--quick]
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import bastion
from bastion.agents import CoordinatorAgent, Task, TaskAgent, act
from bastion.persistence import MemoryStore, SQLiteStore, StateStore

CLIENTS = 8
AGENTS = 4
STEPS = [{"name": s, "task_type": s} for s in ("s1", "s2", "s3")]


async def _jobs_per_s(store: StateStore, idle: int, jobs: int) -> float:
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

        async def client(c: int) -> None:
            for j in range(jobs // CLIENTS):
                wf = f"job-{c}-{j}"
                done = finished[wf] = asyncio.Event()
                await act(coord, "start_workflow", workflow_id=wf, steps=STEPS)
                await done.wait()

        start = time.perf_counter()
        async with asyncio.timeout(600), asyncio.TaskGroup() as group:
            for c in range(CLIENTS):
                group.create_task(client(c))
        return jobs / (time.perf_counter() - start)


async def _scale(quick: bool) -> dict[str, float]:
    jobs, rounds = (400, 2) if quick else (2000, 3)
    sizes = (10, 1_000, 10_000)
    runs: dict[int, list[float]] = {n: [] for n in sizes}
    for _ in range(rounds):
        for n in sizes:
            runs[n].append(await _jobs_per_s(MemoryStore(), n, jobs))
    return {f"jobs_per_s_at_{n}_active": round(statistics.median(r), 1) for n, r in runs.items()}


async def _durable(quick: bool) -> dict[str, float]:
    """Memory, then SQLite with each writer, interleaved round by round."""
    jobs, rounds = (400, 2) if quick else (2000, 3)
    runs: dict[str, list[float]] = {"memory": [], "loop": [], "process": []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(rounds):
            runs["memory"].append(await _jobs_per_s(MemoryStore(), 10, jobs))
            for writer in ("loop", "process"):
                path = Path(tmp) / f"wf{r}-{writer}.db"
                async with await SQLiteStore.open(path, writer=writer) as store:  # type: ignore[arg-type]
                    runs[writer].append(await _jobs_per_s(store, 10, jobs))
    return {f"{kind}_jobs_per_s": round(statistics.median(v), 1) for kind, v in runs.items()}


async def _main(quick: bool) -> dict[str, Any]:
    scale = await _scale(quick)
    durable = await _durable(quick)
    return {
        "workflow_scale": {"scale": scale, "durable": durable},
        "ratios": {
            "workflow_jobs_10k_vs_10_active": round(
                scale["jobs_per_s_at_10000_active"] / scale["jobs_per_s_at_10_active"], 3
            ),
            "workflow_jobs_1k_vs_10_active": round(
                scale["jobs_per_s_at_1000_active"] / scale["jobs_per_s_at_10_active"], 3
            ),
            "workflow_durable_vs_memory": round(
                durable["loop_jobs_per_s"] / durable["memory_jobs_per_s"], 3
            ),
            "workflow_durable_process_writer_vs_memory": round(
                durable["process_jobs_per_s"] / durable["memory_jobs_per_s"], 3
            ),
        },
    }


def run(quick: bool) -> dict[str, Any]:
    """Entry point for ``bench/run.py``."""
    return asyncio.run(_main(quick))


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
