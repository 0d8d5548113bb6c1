"""Scale-out benchmarks of several nodes on one PostgreSQL database (``bench_scale.py``).

* ``nodes_throughput``: tasks/s of a shared queue drained by one node process, then by
  two, on the same database, the work CPU-bound per task (pure Python, holding the
  GIL). Interleaved 1/2/1/2 in one run. Reported with the load average and the CPU
  seconds the nodes used, so that a ratio on a shared two-core machine (where the
  PostgreSQL server and other programs compete for the same cores) can be read
  honestly: ``tasks_per_node_cpu_s`` is throughput per CPU-second actually granted.
* ``nodes_failover``: two node processes share eight agents; one is killed with
  ``kill -9``; the time from the kill until each of its agents answered an acknowledged
  call on the survivor (max over its agents), against the lease duration.
"""

from __future__ import annotations

import asyncio
import os
import select
import signal
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Protocol

from bastion.cluster import SharedQueue
from bastion.persistence import PostgresStore

NODE = Path(__file__).resolve().with_name("_scale_node.py")
LIMIT = 120.0


class _Context(Protocol):
    dsn: str
    quick: bool
    rounds: int


class _Node:
    """A node process and the lines it printed."""

    def __init__(self, dsn: str, schema: str, node_id: str, work: int, lease: float) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(NODE), dsn, schema, node_id, str(work), str(lease)],
            stdout=subprocess.PIPE,
            bufsize=0,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self.proc.stdout is not None
        self._fd = self.proc.stdout.fileno()
        self._pending = b""
        self.lines: list[str] = []

    def read_until(self, prefix: str, deadline: float) -> str:
        while True:
            while b"\n" in self._pending:
                raw, self._pending = self._pending.split(b"\n", 1)
                line = raw.decode().strip()
                self.lines.append(line)
                if line.startswith(prefix):
                    return line
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._fd], [], [], left)[0]:
                raise TimeoutError(f"node never printed {prefix!r}: {self.lines[-3:]}")
            chunk = os.read(self._fd, 65536)
            if not chunk:
                raise RuntimeError(f"node exited before {prefix!r}: {self.lines[-3:]}")
            self._pending += chunk

    def new_lines(self, wait: float) -> list[str]:
        """The complete lines printed since the last call (waiting up to ``wait`` s)."""
        if b"\n" not in self._pending and select.select([self._fd], [], [], wait)[0]:
            self._pending += os.read(self._fd, 65536)
        *lines, self._pending = self._pending.split(b"\n")
        fresh = [line.decode().strip() for line in lines]
        self.lines.extend(fresh)
        return fresh

    def stop(self) -> float:
        """SIGTERM; the CPU seconds the node process used."""
        self.proc.send_signal(signal.SIGTERM)
        line = self.read_until("CPU", time.monotonic() + LIMIT)
        self.proc.wait(timeout=LIMIT)
        return float(line.split()[1])

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=LIMIT)


async def _drain(dsn: str, schema: str, tasks: int) -> float:
    """Queue ``tasks`` tasks and wait until none is pending; the seconds it took."""
    async with await PostgresStore.open(dsn, schema=schema, op_timeout=30.0) as store:
        queue = SharedQueue(store, "jobs")
        start = time.monotonic()
        for first in range(0, tasks, 100):
            await asyncio.gather(
                *(queue.put(f"t{i}", b"") for i in range(first, min(tasks, first + 100)))
            )
        while await queue.pending(1):
            if time.monotonic() - start > LIMIT:
                raise TimeoutError("the queue did not drain")
            await asyncio.sleep(0.02)
        return time.monotonic() - start


async def _throughput_round(ctx: _Context, nodes: int, tasks: int, work: int) -> dict[str, float]:
    schema = f"bench_nodes_{uuid.uuid4().hex[:10]}"
    procs = [_Node(ctx.dsn, schema, f"n{i}", work, 5.0) for i in range(nodes)]
    try:
        for proc in procs:
            proc.read_until("READY", time.monotonic() + LIMIT)
        load_before = os.getloadavg()[0]
        seconds = await _drain(ctx.dsn, schema, tasks)
        cpu = sum(proc.stop() for proc in procs)
    finally:
        for proc in procs:
            proc.kill()
    return {
        "tasks_per_s": tasks / seconds,
        "tasks_per_node_cpu_s": tasks / cpu,
        "node_cpu_share": cpu / seconds / nodes,
        "load": load_before,
    }


async def nodes_throughput(ctx: _Context) -> dict[str, Any]:
    """Two nodes vs one on one database, CPU-bound tasks: tasks/s, ratio, CPU figures."""
    tasks = 300 if ctx.quick else 800
    work = 60_000  # about 5 ms of pure-Python CPU per task on this kind of machine
    runs: dict[int, list[dict[str, float]]] = {1: [], 2: []}
    for r in range(ctx.rounds):
        for nodes in (1, 2) if r % 2 == 0 else (2, 1):
            runs[nodes].append(await _throughput_round(ctx, nodes, tasks, work))

    def median(nodes: int, key: str) -> float:
        return round(statistics.median(run[key] for run in runs[nodes]), 3)

    one, two = median(1, "tasks_per_s"), median(2, "tasks_per_s")
    return {
        "tasks_per_round": tasks,
        "cpu_rounds_per_task": work,
        "tasks_per_s": {"one_node": one, "two_nodes": two},
        "tasks_per_node_cpu_s": {
            "one_node": median(1, "tasks_per_node_cpu_s"),
            "two_nodes": median(2, "tasks_per_node_cpu_s"),
        },
        "node_cpu_share": {
            "one_node": median(1, "node_cpu_share"),
            "two_nodes": median(2, "node_cpu_share"),
        },
        "load_average_1m": round(statistics.median(r["load"] for v in runs.values() for r in v), 2),
        "cpu_count": os.cpu_count(),
        "ratios": {"two_nodes_vs_one_throughput": round(two / one, 3)},
    }


async def _failover_round(ctx: _Context, lease: float) -> float:
    schema = f"bench_failover_{uuid.uuid4().hex[:10]}"
    a = _Node(ctx.dsn, schema, "a", 0, lease)
    b = _Node(ctx.dsn, schema, "b", 0, lease)
    try:
        a.read_until("READY", time.monotonic() + LIMIT)
        b.read_until("READY", time.monotonic() + LIMIT)
        served: dict[str, str] = {}  # key -> the node that served it last
        deadline = time.monotonic() + LIMIT
        while sorted(served.values()) != ["a"] * 4 + ["b"] * 4:  # balanced: 4 each
            if time.monotonic() > deadline:
                raise TimeoutError(f"the agents never spread: {served}")
            for node, name in ((a, "a"), (b, "b")):
                for line in node.new_lines(0.01):
                    if line.startswith("SERVED"):
                        served[line.split()[1]] = name
        theirs = {k for k, n in served.items() if n == "a"}
        killed_at = time.monotonic()
        a.proc.send_signal(signal.SIGKILL)
        back: dict[str, float] = {}
        while not theirs <= back.keys():
            _, key, at = b.read_until("SERVED", deadline).split()
            if float(at) > killed_at:
                back[key] = float(at)
        return max(back[k] for k in theirs) - killed_at
    finally:
        a.kill()
        b.kill()


async def nodes_failover(ctx: _Context) -> dict[str, Any]:
    """Seconds from kill -9 of a node to its agents answering on the survivor."""
    lease = 2.0
    times = [await _failover_round(ctx, lease) for _ in range(ctx.rounds)]
    return {
        "lease_s": lease,
        "failover_s": {"median": round(statistics.median(times), 3), "max": round(max(times), 3)},
        "rounds": [round(t, 3) for t in times],
        "ratios": {"failover_over_lease": round(statistics.median(times) / lease, 3)},
    }
