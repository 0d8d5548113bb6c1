"""Agents and persistence: overhead of durable TaskAgents, mutation cost growth, recovery.

* ``persistence_overhead``: a pool of TaskAgents on SQLite (default durability,
  ``batched``) against the same pool on a store that drops every write (no
  persistence), tasks doing ~100 us of CPU work, and zero-work tasks.
* ``mutation_cost_growth``: cost of one persisted mutation (an acknowledged ``queue``)
  with 10 against 10,000 tasks queued (median of interleaved blocks); the same for a
  naive whole-state snapshot per change (LangGraph's approach) in the same SQLite file.
* ``recovery_ms``: restoring a TaskAgent with 10,000 queued tasks.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec

import bastion
from bastion._core import _events
from bastion.agents import Task, TaskAgent, act
from bastion.persistence import (
    MemoryStore,
    Op,
    Put,
    SQLiteStore,
    StateStore,
    WriteResult,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _tasks import Collector, spin


class NullStore(MemoryStore):
    """A store that acknowledges and drops every write: agents without persistence."""

    async def submit(
        self, ops: Sequence[Op], *, sync: bool = False, defer: bool = False
    ) -> asyncio.Future[WriteResult]:
        fut: asyncio.Future[WriteResult] = asyncio.get_running_loop().create_future()
        fut.set_result(_EMPTY)
        return fut

    async def write(self, ops: Sequence[Op], *, sync: bool = False) -> WriteResult:
        return _EMPTY


_EMPTY = WriteResult()


async def _pool_run(store: StateStore, agents: int, tasks: int, work_s: float) -> float:
    done = asyncio.Event()
    async with bastion.open_runtime(call_timeout=60.0) as rt:
        await rt.spawn(Collector, tasks, done, name="collector")
        refs = [
            await rt.spawn(
                TaskAgent, name=f"w{i}", store=store, handlers={"cpu": spin}, max_queue_size=tasks
            )
            for i in range(agents)
        ]
        for i, ref in enumerate(refs):
            await act(ref, "pause")
            share = [
                {"type": "cpu", "payload": work_s, "reply_to": "collector"}
                for _ in range(tasks // agents + (i < tasks % agents))
            ]
            for chunk in range(0, len(share), 500):
                await act(ref, "queue_many", tasks=share[chunk : chunk + 500])
        start = time.perf_counter()
        for ref in refs:
            await act(ref, "resume")
        async with asyncio.timeout(300):
            await done.wait()
        elapsed = time.perf_counter() - start
        for ref in refs:
            await ref.stop()
    return tasks / elapsed


async def _overhead(quick: bool, work_s: float) -> dict[str, float]:
    """No persistence vs SQLite with the loop writer vs SQLite with the writer process.

    The three pools run interleaved, round by round, so machine drift hits all alike.
    """
    tasks = 2000 if quick else 10000
    rounds = 2 if quick else 3
    plain: list[float] = []
    durable: dict[str, list[float]] = {"loop": [], "process": []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(rounds):
            plain.append(await _pool_run(NullStore(), 4, tasks, work_s))
            for mode, runs in durable.items():
                async with await SQLiteStore.open(
                    Path(tmp) / f"o{r}{mode}.db", writer=mode
                ) as store:  # type: ignore[arg-type]
                    runs.append(await _pool_run(store, 4, tasks, work_s))
    p = statistics.median(plain)
    d, q = statistics.median(durable["loop"]), statistics.median(durable["process"])
    return {
        "no_persistence_tasks_per_s": round(p),
        "sqlite_batched_tasks_per_s": round(d),
        "slowdown": round(1 - d / p, 4),
        "sqlite_batched_process_writer_tasks_per_s": round(q),
        "slowdown_process_writer": round(1 - q / p, 4),
    }


async def _mutation_agent(
    rt: bastion.Runtime, store: StateStore, queued: int, samples: int
) -> bastion.ActorRef:
    ref = await rt.spawn(
        TaskAgent,
        name=f"m{queued}",
        store=store,
        handlers={"cpu": spin},
        max_queue_size=queued + 2 * samples + 10,
    )
    await act(ref, "pause")
    for chunk in range(0, queued, 1000):
        n = min(1000, queued - chunk)
        await act(ref, "queue_many", tasks=[{"type": "cpu", "payload": 0.0}] * n)
    return ref


async def _mutation_block(ref: bastion.ActorRef, samples: int) -> float:
    start = time.perf_counter()
    for _ in range(samples):
        await act(ref, "queue", type="cpu", payload=0.0)
    return (time.perf_counter() - start) / samples


async def _mutation_costs(
    store: StateStore, sizes: tuple[int, ...], samples: int, blocks: int
) -> dict[int, float]:
    """Median over ``blocks`` interleaved blocks of ``samples`` acknowledged mutations.

    Interleaving the sizes block by block makes machine drift hit both sides alike.
    """
    per = samples // blocks
    async with bastion.open_runtime(call_timeout=60.0) as rt:
        refs = {n: await _mutation_agent(rt, store, n, samples) for n in sizes}
        for ref in refs.values():
            await _mutation_block(ref, per)  # warm-up
        costs: dict[int, list[float]] = {n: [] for n in sizes}
        for _ in range(blocks):
            for n, ref in refs.items():
                costs[n].append(await _mutation_block(ref, per))
        for ref in refs.values():
            await ref.stop()
    return {n: statistics.median(c) for n, c in costs.items()}


async def _naive_cost(store: StateStore, queued: int, samples: int) -> float:
    """Whole-state snapshot per change: the full queue re-encoded and rewritten each time."""
    queue = [
        {"id": f"t{i}", "type": "cpu", "payload": 0.0, "priority": 1, "seq": i}
        for i in range(queued)
    ]
    enc = msgspec.json.Encoder()
    start = time.perf_counter()
    for i in range(samples):
        queue.append({"id": f"n{i}", "type": "cpu", "payload": 0.0, "priority": 1, "seq": i})
        await store.write([Put(f"naive/{queued}", "state", enc.encode(queue))])
    return (time.perf_counter() - start) / samples


async def _growth(quick: bool) -> dict[str, Any]:
    samples = 400 if quick else 3000
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        async with await SQLiteStore.open(Path(tmp) / "m.db") as store:
            costs = await _mutation_costs(store, (10, 10_000), samples, 10 if quick else 30)
            for n in (10, 10_000):
                out[f"bastion_us_at_{n}"] = round(costs[n] * 1e6, 1)
                out[f"naive_snapshot_us_at_{n}"] = round(
                    await _naive_cost(store, n, 50 if quick else 250) * 1e6, 1
                )
    return out


async def _recovery(quick: bool) -> dict[str, float]:
    durations: list[float] = []
    spawns: list[float] = []

    def record(event: Any, measurements: Any, metadata: Any) -> None:
        durations.append(measurements["duration_ns"] / 1e6)

    with tempfile.TemporaryDirectory() as tmp:
        async with (
            await SQLiteStore.open(Path(tmp) / "r.db") as store,
            bastion.open_runtime(call_timeout=60.0) as rt,
        ):
            ref = await rt.spawn(
                TaskAgent, name="r", store=store, handlers={"cpu": spin}, max_queue_size=10_000
            )
            await act(ref, "pause")
            for _ in range(10):
                await act(ref, "queue_many", tasks=[{"type": "cpu", "payload": 0.0}] * 1000)
            await ref.stop()
            _events.attach("bench.recovery", [("bastion", "agent", "state", "restored")], record)
            try:
                for _ in range(3 if quick else 7):
                    start = time.perf_counter()
                    ref = await rt.spawn(
                        TaskAgent,
                        name="r",
                        store=store,
                        handlers={"cpu": spin},
                        max_queue_size=10_000,
                    )
                    spawns.append((time.perf_counter() - start) * 1e3)
                    assert (await act(ref, "status")).queued == 10_000
                    await ref.stop()
            finally:
                _events.detach("bench.recovery")
    return {
        "restore_ms": round(statistics.median(durations), 2),
        "spawn_with_restore_ms": round(statistics.median(spawns), 2),
    }


async def _fill_large(path: Path, queued: int, finished: int) -> None:
    """A store as a node leaves it: ``finished`` outcomes recorded, ``queued`` tasks
    waiting, the first of them running when the agent stopped."""
    gate, recorded = asyncio.Event(), asyncio.Event()
    ran = 0

    async def hold(task: Task) -> None:
        await gate.wait()

    def zero(task: Task) -> None:
        nonlocal ran
        ran += 1
        if ran == finished:
            recorded.set()

    async with (
        await SQLiteStore.open(path) as store,
        bastion.open_runtime(call_timeout=120.0) as rt,
    ):
        ref = await rt.spawn(
            TaskAgent,
            name="r",
            store=store,
            handlers={"cpu": zero, "hold": hold},
            max_queue_size=queued + finished + 1,
            max_attempts=1000,
        )
        for start in range(0, finished, 1000):
            count = min(1000, finished - start)
            await act(ref, "queue_many", tasks=[{"type": "cpu", "payload": 0.0}] * count)
        async with asyncio.timeout(600):
            await recorded.wait()
        for start in range(0, queued, 1000):
            count = min(1000, queued - start)
            await act(ref, "queue_many", tasks=[{"type": "hold"}] * count)
        await ref.stop()  # the running task stays queued: it is recovered in flight


async def _first_dispatch(path: Path, queued: int) -> dict[str, float]:
    """Open the store, restore the agent, time its first task; then the whole queue."""
    first: list[float] = []
    dispatched, never = asyncio.Event(), asyncio.Event()

    async def mark(task: Task) -> None:  # holds the first task, as at the last stop
        first.append(time.perf_counter())
        dispatched.set()
        await never.wait()

    start = time.perf_counter()
    async with (
        await SQLiteStore.open(path) as store,
        bastion.open_runtime(call_timeout=120.0) as rt,
    ):
        opened = time.perf_counter()
        ref = await rt.spawn(
            TaskAgent,
            name="r",
            store=store,
            handlers={"cpu": spin, "hold": mark},
            max_queue_size=queued * 2,
            max_attempts=1000,  # every round recovers the same task in flight
        )
        async with asyncio.timeout(120):
            await dispatched.wait()
        assert (await act(ref, "status")).queued == queued  # counted before it streams in
        whole = time.perf_counter()
        await ref.stop()
    return {
        "open_ms": (opened - start) * 1e3,
        "first_dispatch_ms": (first[0] - opened) * 1e3,
        "status_after_ms": (whole - opened) * 1e3,
    }


async def _recovery_large(quick: bool) -> dict[str, float]:
    """Recovery of a large node: 100,000 queued tasks, 20,000 recorded outcomes (issue
    15, target 6): the store opened, then the agent restored up to its first dispatch."""
    queued, finished = (20_000, 5_000) if quick else (100_000, 20_000)
    runs: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "large.db"
        await _fill_large(path, queued, finished)
        for _ in range(3 if quick else 5):
            runs.append(await _first_dispatch(path, queued))
    return {
        "queued": queued,
        "outcomes": finished,
        **{k: round(statistics.median(r[k] for r in runs), 1) for k in runs[0]},
        "first_dispatch_ms_min": round(min(r["first_dispatch_ms"] for r in runs), 1),
        "first_dispatch_ms_max": round(max(r["first_dispatch_ms"] for r in runs), 1),
    }


async def _main(quick: bool) -> dict[str, Any]:
    cpu = await _overhead(quick, 100e-6)
    zero = await _overhead(quick, 0.0)
    growth = await _growth(quick)
    recovery = await _recovery(quick)
    large = await _recovery_large(quick)
    return {
        "recovery_large": large,
        "persistence_overhead": {"cpu_100us": cpu, "zero_work": zero},
        "mutation_cost_growth": growth,
        "recovery_ms": recovery,
        "ratios": {
            "persistence_overhead_cpu_100us": round(cpu["slowdown"], 4),
            "persistence_overhead_zero_work": round(zero["slowdown"], 4),
            "persistence_overhead_cpu_100us_process_writer": round(
                cpu["slowdown_process_writer"], 4
            ),
            "persistence_overhead_zero_work_process_writer": round(
                zero["slowdown_process_writer"], 4
            ),
            "mutation_cost_growth_10k_vs_10": round(
                growth["bastion_us_at_10000"] / growth["bastion_us_at_10"], 3
            ),
            "naive_snapshot_growth_10k_vs_10": round(
                growth["naive_snapshot_us_at_10000"] / growth["naive_snapshot_us_at_10"], 1
            ),
        },
    }


def run(quick: bool) -> dict[str, Any]:
    """Entry point for ``bench/run.py``."""
    return asyncio.run(_main(quick))


if __name__ == "__main__":
    import json

    print(json.dumps(run(quick=True), indent=2))
