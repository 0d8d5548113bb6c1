"""The 3-step job every variant of ``bench_workflows.py`` runs, and its driver.

fetch → transform → store; each step does ~100 µs of CPU (``cpu``) or ~1 ms of awaited
I/O (``io``), its value depends on the previous step's, and every final value is
checked. At most :data:`CONCURRENCY` jobs run at once (8 clients, each starting a job
and waiting for its result before the next).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

__all__ = [
    "CONCURRENCY",
    "drive",
    "expected",
    "fetch_value",
    "store_value",
    "transform_value",
    "work",
]

CONCURRENCY = 8
CPU_SECONDS = 100e-6
IO_SECONDS = 1e-3


def fetch_value(i: int) -> int:
    """Step 1's value."""
    return i * 3 + 1


def transform_value(x: int) -> int:
    """Step 2's value."""
    return x * 7 % 1_000_003


def store_value(x: int) -> int:
    """Step 3's value (the job's result)."""
    return x + 5


def expected(i: int) -> int:
    """What job ``i`` must return."""
    return store_value(transform_value(fetch_value(i)))


async def work(kind: str) -> None:
    """One step's work: ~100 µs of CPU or ~1 ms of awaited I/O."""
    if kind == "io":
        await asyncio.sleep(IO_SECONDS)
        return
    end = time.perf_counter() + CPU_SECONDS
    while time.perf_counter() < end:
        pass


async def drive(n: int, run_job: Callable[[int], Awaitable[int]]) -> float:
    """Run jobs ``0..n-1`` with :data:`CONCURRENCY` clients; jobs per second. Checks every
    result."""
    todo = iter(range(n))
    wrong: list[int] = []

    async def client() -> None:
        for i in todo:
            if await run_job(i) != expected(i):
                wrong.append(i)

    start = time.perf_counter()
    async with asyncio.timeout(1800), asyncio.TaskGroup() as group:
        for _ in range(CONCURRENCY):
            group.create_task(client())
    elapsed = time.perf_counter() - start
    if wrong:
        raise AssertionError(f"{len(wrong)} jobs returned a wrong value, e.g. job {wrong[0]}")
    return n / elapsed
