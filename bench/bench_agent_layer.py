"""The agent layer's own cost (issue 15, targets 1 and 6), each figure next to a baseline.

* ``agent_pool``: 4 TaskAgents on ``MemoryStore`` against 4 hand-written asyncio workers
  (a heap per worker, the handler called, the outcome kept in a dict, the requester
  notified through an ``asyncio.Queue``) doing the same tasks: zero-work tasks and tasks
  of ~100 µs CPU. Loop CPU per task is ``time.process_time`` over the run divided by the
  number of tasks (the work itself included for the 100 µs tasks); for zero-work tasks
  also the marginal figure: the CPU of a run of N tasks minus that of a run of N/10,
  divided by 0.9 N (the fixed costs of a run cancel out).
* ``status_us``: the TaskAgent ``status`` action with an empty queue and with 100,000
  tasks queued (quick: 20,000).
* ``spawn``: sequential spawn rate of an Agent subclass (its ``on_start`` runs ``setup``)
  against plain actors, in the same run.
* ``gc``: the full-collection pause (``gc.collect()``) with 100,000 actors (quick:
  20,000) that have handled a message, before and after ``gc.freeze()``.

    python bench/run.py --only agent_layer [--quick]
"""

from __future__ import annotations

import asyncio
import gc
import heapq
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import bastion
from bastion.agents import Agent, Task, TaskAgent, act
from bastion.persistence import MemoryStore

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _tasks import Collector, spin

AGENTS = 4
#: The issue's targets.
TARGETS = {
    "loop_cpu_us_per_task_max": 30.0,
    "pool_vs_asyncio_min": 0.5,
    "agent_spawn_per_s_min": 50_000,
}


async def _agent_pool(tasks: int, work_s: float) -> tuple[float, float]:
    """Tasks per second and loop CPU µs per task of a TaskAgent pool on MemoryStore."""
    done = asyncio.Event()
    store = MemoryStore()
    async with bastion.open_runtime(call_timeout=60.0) as rt:
        await rt.spawn(Collector, tasks, done, name="collector")
        refs = [
            await rt.spawn(
                TaskAgent, name=f"w{i}", store=store, handlers={"cpu": spin}, max_queue_size=tasks
            )
            for i in range(AGENTS)
        ]
        for i, ref in enumerate(refs):
            await act(ref, "pause")
            share = [
                {"type": "cpu", "payload": work_s, "reply_to": "collector"}
                for _ in range(tasks // AGENTS + (i < tasks % AGENTS))
            ]
            for chunk in range(0, len(share), 500):
                await act(ref, "queue_many", tasks=share[chunk : chunk + 500])
        gc.collect()
        cpu, start = time.process_time(), time.perf_counter()
        for ref in refs:
            await act(ref, "resume")
        async with asyncio.timeout(600):
            await done.wait()
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    return tasks / elapsed, cpu / tasks * 1e6


async def _asyncio_pool(tasks: int, work_s: float) -> tuple[float, float]:
    """The same tasks on hand-written asyncio workers (same handler, outcome, notice)."""
    notices: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    outcomes: dict[str, Any] = {}

    async def worker(heap: list[tuple[int, int, Task]]) -> None:
        while heap:
            _, _, task = heapq.heappop(heap)
            result = spin(task)
            outcomes[task.id] = result
            notices.put_nowait((task.id, result))
            await asyncio.sleep(0)  # one task per turn of the loop, as an actor does

    async def requester() -> None:
        for _ in range(tasks):
            await notices.get()

    heaps: list[list[tuple[int, int, Task]]] = [[] for _ in range(AGENTS)]
    for n in range(tasks):
        heapq.heappush(heaps[n % AGENTS], (1, n, Task(f"t{n}", "cpu", work_s, 1)))
    gc.collect()
    cpu, start = time.process_time(), time.perf_counter()
    async with asyncio.timeout(600), asyncio.TaskGroup() as group:
        group.create_task(requester())
        for heap in heaps:
            group.create_task(worker(heap))
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    return tasks / elapsed, cpu / tasks * 1e6


async def _pools(quick: bool) -> dict[str, Any]:
    """Both pools, interleaved round by round (machine drift hits both alike); medians."""
    tasks, rounds = (4000, 3) if quick else (20000, 5)
    out: dict[str, Any] = {}
    for label, work_s in (("zero_work", 0.0), ("cpu_100us", 100e-6)):
        runs: dict[str, list[tuple[float, float]]] = {"agents": [], "asyncio": []}
        marginal: list[float] = []
        for _ in range(rounds):
            runs["agents"].append(await _agent_pool(tasks, work_s))
            runs["asyncio"].append(await _asyncio_pool(tasks, work_s))
            if work_s == 0.0:
                marginal.append(await _marginal_cpu_us(tasks, runs["agents"][-1][1]))
        out[label] = {
            f"{side}_{what}": round(statistics.median(r[i] for r in samples), 1)
            for side, samples in runs.items()
            for i, what in enumerate(("tasks_per_s", "cpu_us_per_task"))
        }
        if marginal:
            out[label]["agents_marginal_cpu_us_per_task"] = round(statistics.median(marginal), 1)
    return out


async def _marginal_cpu_us(tasks: int, cpu_us_per_task: float) -> float:
    """Loop CPU per task of a run of ``tasks`` minus a run of a tenth as many."""
    small = tasks // 10
    _, small_us = await _agent_pool(small, 0.0)
    return (cpu_us_per_task * tasks - small_us * small) / (tasks - small)


async def _status_cost(queued: int, samples: int) -> float:
    """µs per ``status`` action with ``queued`` tasks waiting."""
    async with bastion.open_runtime(call_timeout=60.0) as rt:
        ref = await rt.spawn(
            TaskAgent,
            name="s",
            store=MemoryStore(),
            handlers={"cpu": spin},
            max_queue_size=max(queued, 1),
        )
        await act(ref, "pause")
        for chunk in range(0, queued, 5000):
            n = min(5000, queued - chunk)
            await act(ref, "queue_many", tasks=[{"type": "cpu", "payload": 0.0}] * n)
        start = time.perf_counter()
        for _ in range(samples):
            await act(ref, "status")
        return (time.perf_counter() - start) / samples * 1e6


class _Idle(bastion.Actor):
    """A plain actor that does nothing."""


class _SetupAgent(Agent):
    """An agent whose ``on_start`` runs a ``setup`` of its own."""

    ready: bool = False

    async def setup(self) -> None:
        self.ready = True


async def _spawn_rate(cls: type[bastion.Actor], n: int) -> float:
    async with bastion.open_runtime() as rt:
        await rt.spawn(cls)
        # Start each round from a collected heap: otherwise the previous round's 20,000
        # dead actors are scanned by the first full collection of this one (the GC runs
        # during the round as usual; timeit would turn it off).
        gc.collect()
        start = time.perf_counter()
        for _ in range(n):
            await rt.spawn(cls)
        return n / (time.perf_counter() - start)


async def _spawns(quick: bool) -> dict[str, float]:
    n, rounds = (5000, 3) if quick else (20000, 5)
    agents, actors = [], []
    for _ in range(rounds):
        agents.append(await _spawn_rate(_SetupAgent, n))
        actors.append(await _spawn_rate(_Idle, n))
    return {
        "agent_per_s": round(statistics.median(agents)),
        "actor_per_s": round(statistics.median(actors)),
    }


class _Echo(bastion.Actor):
    """Answers a call (so each actor has handled a message)."""

    def handle_call(self, message: Any) -> Any:
        return message


def _full_gc_ms(rounds: int) -> float:
    pauses = []
    for _ in range(rounds):
        start = time.perf_counter()
        gc.collect()
        pauses.append((time.perf_counter() - start) * 1e3)
    return statistics.median(pauses)


async def _gc_pause(quick: bool) -> dict[str, float]:
    """Full-GC pause with N live actors that handled a call, before/after gc.freeze()."""
    n = 20_000 if quick else 100_000
    async with bastion.open_runtime() as rt:
        refs = [await rt.spawn(_Echo) for _ in range(n)]
        for ref in refs:
            await ref.call(1)
        before = _full_gc_ms(3)
        gc.freeze()
        try:
            after = _full_gc_ms(3)
        finally:
            gc.unfreeze()
    return {
        "actors": n,
        "full_gc_ms_before_freeze": round(before, 1),
        "full_gc_ms_after_freeze": round(after, 2),
    }


async def _main(quick: bool) -> dict[str, Any]:
    pools = await _pools(quick)
    big = 20_000 if quick else 100_000
    status = {
        "empty_us": round(await _status_cost(0, 2000), 1),
        f"queued_{big}_us": round(await _status_cost(big, 2000), 1),
    }
    spawns = await _spawns(quick)
    pause = await _gc_pause(quick)
    zero, cpu = pools["zero_work"], pools["cpu_100us"]
    return {
        "agent_layer": {
            "pools": pools,
            "status": status,
            "spawn": spawns,
            "gc": pause,
            "targets": TARGETS,
        },
        "ratios": {
            "agent_pool_vs_asyncio_cpu_100us": round(
                cpu["agents_tasks_per_s"] / cpu["asyncio_tasks_per_s"], 3
            ),
            "agent_pool_vs_asyncio_zero_work": round(
                zero["agents_tasks_per_s"] / zero["asyncio_tasks_per_s"], 3
            ),
            "agent_loop_cpu_us_per_zero_task": zero["agents_cpu_us_per_task"],
            "agent_loop_marginal_cpu_us_per_zero_task": zero["agents_marginal_cpu_us_per_task"],
            "status_big_queue_vs_empty": round(status[f"queued_{big}_us"] / status["empty_us"], 2),
            "agent_spawn_vs_actor_spawn": round(spawns["agent_per_s"] / spawns["actor_per_s"], 3),
            "full_gc_after_vs_before_freeze": round(
                pause["full_gc_ms_after_freeze"] / pause["full_gc_ms_before_freeze"], 3
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
