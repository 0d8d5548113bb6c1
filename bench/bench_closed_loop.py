"""Acknowledged writes under closed-loop load: SQLite against MemoryStore.

Each of ``clients`` coroutines queues a task on a TaskAgent (round robin over
``agents``), **waits for the acknowledgement** (the ``queue`` reply, sent after the
task is committed) and only then queues the next one. The run ends when every task has
finished. Workloads: ``cpu`` (100 us of CPU per task), ``io`` (1 ms ``asyncio.sleep``)
and ``mixed`` (alternating). The stores run interleaved, round by round, in one process,
so machine drift hits all alike; ratios are SQLite throughput / MemoryStore throughput
(1.0: persistence is free). ``bulk_queued``: the same pool with every task queued in bulk
while paused (the ``bench_agents`` case) for reference. Next to each rate: the process
CPU time per task (``time.process_time``, the loop and the store's helper thread), which
other jobs on the machine move far less than wall-clock rates, and the event loop's own
thread CPU time per task (``time.thread_time``): the loop is what saturates, so where a
spare core runs the writer thread or process this is the figure throughput follows.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import bastion
from bastion.agents import Task, TaskAgent, act
from bastion.persistence import MemoryStore, SQLiteStore, StateStore

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _tasks import Collector, spin

WORK = {"cpu": 100e-6, "io": 1e-3}
STORES = ("memory", "process", "loop", "thread")


async def _io(task: Task) -> int:
    await asyncio.sleep(task.payload)
    return 0


HANDLERS = {"cpu": spin, "io": _io}


def _kind(workload: str, n: int) -> str:
    if workload == "mixed":
        return "cpu" if n % 2 else "io"
    return workload


async def _client(refs: list[bastion.ActorRef], first: int, count: int, workload: str) -> None:
    for n in range(count):
        kind = _kind(workload, n + first)
        ref = refs[(first + n) % len(refs)]
        await act(ref, "queue", type=kind, payload=WORK[kind], reply_to="collector")


async def _closed_loop(
    store: StateStore, agents: int, clients: int, tasks: int, workload: str
) -> float:
    """Tasks per second, from the first submission to the last outcome."""
    done = asyncio.Event()
    per_client = tasks // clients
    total = per_client * clients
    async with bastion.open_runtime(call_timeout=60.0) as rt:
        await rt.spawn(Collector, total, done, name="collector")
        refs = [
            await rt.spawn(
                TaskAgent, name=f"w{i}", store=store, handlers=HANDLERS, max_queue_size=total
            )
            for i in range(agents)
        ]
        start = time.perf_counter()
        async with asyncio.timeout(300):
            await asyncio.gather(*(_client(refs, c, per_client, workload) for c in range(clients)))
            await done.wait()
        elapsed = time.perf_counter() - start
        for ref in refs:
            await ref.stop()
    return total / elapsed


async def _bulk(store: StateStore, agents: int, tasks: int) -> float:
    """Tasks queued in bulk while paused, then run (100 us CPU tasks)."""
    done = asyncio.Event()
    async with bastion.open_runtime(call_timeout=60.0) as rt:
        await rt.spawn(Collector, tasks, done, name="collector")
        refs = [
            await rt.spawn(
                TaskAgent, name=f"w{i}", store=store, handlers=HANDLERS, max_queue_size=tasks
            )
            for i in range(agents)
        ]
        for i, ref in enumerate(refs):
            await act(ref, "pause")
            share = [
                {"type": "cpu", "payload": WORK["cpu"], "reply_to": "collector"}
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


async def _measure(tmp: Path, kind: str, tag: str, fn: Any) -> tuple[float, float, float]:
    """(tasks per second, process CPU seconds, loop-thread CPU seconds) of ``fn`` on a
    fresh store of ``kind``."""
    if kind == "memory":
        started, loop_started = time.process_time(), time.thread_time()
        result: float = await fn(MemoryStore())
        return result, time.process_time() - started, time.thread_time() - loop_started
    async with await SQLiteStore.open(tmp / f"{tag}-{kind}.db", writer=kind) as store:  # type: ignore[arg-type]
        started, loop_started = time.process_time(), time.thread_time()
        result = await fn(store)
        return result, time.process_time() - started, time.thread_time() - loop_started


async def _main(
    quick: bool, stores: tuple[str, ...] = STORES, only: tuple[str, ...] = ()
) -> dict[str, Any]:
    rounds = 2 if quick else 3
    cases = [(c, w) for c in (16, 64) for w in ("cpu", "io", "mixed")]
    cases = [(c, w) for c, w in cases if not only or f"{w}_{c}" in only]
    agents, tasks = 8, 1600 if quick else 4000
    runs: dict[str, dict[str, list[float]]] = {}
    cpu: dict[str, dict[str, list[float]]] = {}
    loop_cpu: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for r in range(rounds):
            for clients, workload in cases:
                case = f"{workload}_{clients}_clients"
                for kind in stores:
                    measured = await _measure(
                        tmp,
                        kind,
                        f"{case}-{r}",
                        lambda s, c=clients, w=workload: _closed_loop(s, agents, c, tasks, w),
                    )
                    _note(case, kind, measured, tasks, runs, cpu, loop_cpu)
            for kind in stores if not only or "bulk" in only else ():
                measured = await _measure(tmp, kind, f"bulk-{r}", lambda s: _bulk(s, 4, tasks))
                _note("bulk_queued", kind, measured, tasks, runs, cpu, loop_cpu)
    table: dict[str, dict[str, float]] = {}
    ratios: dict[str, float] = {}
    for case, by_kind in runs.items():
        med = {kind: statistics.median(v) for kind, v in by_kind.items()}
        us = {kind: statistics.median(v) * 1e6 for kind, v in cpu[case].items()}
        on_loop = {kind: statistics.median(v) * 1e6 for kind, v in loop_cpu[case].items()}
        table[case] = {f"{kind}_tasks_per_s": round(v) for kind, v in med.items()}
        table[case].update({f"{kind}_cpu_us_per_task": round(v, 1) for kind, v in us.items()})
        table[case].update(
            {f"{kind}_loop_cpu_us_per_task": round(v, 1) for kind, v in on_loop.items()}
        )
        for kind in stores[1:]:
            ratios[f"closed_loop_{case}_{kind}_vs_memory"] = round(med[kind] / med["memory"], 3)
            ratios[f"cpu_{case}_{kind}_vs_memory"] = round(us[kind] / us["memory"], 3)
            ratios[f"loop_cpu_{case}_{kind}_vs_memory"] = round(
                on_loop[kind] / on_loop["memory"], 3
            )
    return {
        "closed_loop": {"agents": agents, "tasks": tasks, "rounds": rounds, **table},
        "ratios": ratios,
    }


def _note(
    case: str,
    kind: str,
    measured: tuple[float, float, float],
    tasks: int,
    *series: dict[str, dict[str, list[float]]],
) -> None:
    """Append one run's rate, CPU and loop CPU per task to ``series`` (in that order)."""
    rate, seconds, loop_seconds = measured
    for values, value in zip(series, (rate, seconds / tasks, loop_seconds / tasks), strict=True):
        values.setdefault(case, {}).setdefault(kind, []).append(value)


def run(quick: bool) -> dict[str, Any]:
    """Entry point for ``bench/run.py``."""
    return asyncio.run(_main(quick))


def _option(name: str) -> tuple[str, ...]:
    """The comma-separated values of ``--name=a,b`` on the command line (empty if absent)."""
    for arg in sys.argv[1:]:
        if arg.startswith(f"--{name}="):
            return tuple(v for v in arg.split("=", 1)[1].split(",") if v)
    return ()


if __name__ == "__main__":
    import json

    # --stores=memory,process (MemoryStore first: the ratios are against it);
    # --cases=cpu_64,io_16,bulk (default: every case)
    chosen = _option("stores") or STORES
    if chosen[0] != "memory" or set(chosen) - set(STORES):
        raise SystemExit(f"--stores: 'memory' first, then some of {STORES[1:]}")
    main = _main("--quick" in sys.argv, chosen, _option("cases"))
    print(json.dumps(asyncio.run(main), indent=2))
