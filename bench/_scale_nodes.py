"""Scale-out benchmarks of several nodes on one PostgreSQL database (``bench_scale.py``).

* ``nodes_throughput``: tasks/s of a shared queue drained by one node process, then by
  two, on the same database, the work CPU-bound per task (pure Python, holding the
  GIL). Interleaved 1/2/1/2 in one run. Reported with the load average and the CPU
  seconds the nodes used, so that a ratio on a shared two-core machine (where the
  PostgreSQL server and other programs compete for the same cores) can be read
  honestly: ``tasks_per_node_cpu_s`` is throughput per CPU-second actually granted
  (the CPU of each node process from READY to its exit: its imports and start, about
  half a CPU-second each, are not the drain's), ``server_cpu_ms_per_task`` what the
  PostgreSQL server spent per task, and ``store_commits_per_task`` the nodes' write
  round trips per task.
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
    server_pid: int | None


def server_cpu(pid: int | None) -> float | None:
    """CPU seconds of a PostgreSQL server so far: its postmaster, the backends it reaped,
    and its live processes (Linux ``/proc``); None if unknown."""
    if pid is None:
        return None
    tick = os.sysconf("SC_CLK_TCK")

    def fields(p: int | str) -> list[str]:
        stat = Path(f"/proc/{p}/stat").read_text()
        return stat[stat.rindex(")") + 2 :].split()  # after the command name

    try:
        own = fields(pid)
        total = sum(int(v) for v in own[11:15])  # utime stime cutime cstime
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        for child in children:
            try:
                total += sum(int(v) for v in fields(child)[11:13])
            except OSError:
                continue  # exited meanwhile (counted in cutime once reaped)
    except OSError:
        return None
    return total / tick


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

    def stop(self) -> tuple[float, int, int]:
        """SIGTERM; the CPU seconds the node process used, its store's commits (round
        trips that wrote) and batches."""
        self.proc.send_signal(signal.SIGTERM)
        line = self.read_until("CPU", time.monotonic() + LIMIT)
        self.proc.wait(timeout=LIMIT)
        _, cpu, commits, batches = line.split()
        return float(cpu), int(commits), int(batches)

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
        started = 0.0  # CPU seconds of the nodes' imports and start: not the drain's
        for proc in procs:
            started += float(proc.read_until("READY", time.monotonic() + LIMIT).split()[1])
        load_before = os.getloadavg()[0]
        server_before = server_cpu(ctx.server_pid)
        seconds = await _drain(ctx.dsn, schema, tasks)
        stopped = [proc.stop() for proc in procs]
    finally:
        for proc in procs:
            proc.kill()
    await asyncio.sleep(0.5)  # the server reaps the nodes' backends (their CPU is counted)
    server_after = server_cpu(ctx.server_pid)
    cpu = sum(s[0] for s in stopped) - started
    server = None if server_before is None or server_after is None else server_after - server_before
    return {
        "server_cpu_ms_per_task": -1.0 if server is None else server / tasks * 1000,
        "tasks_per_s": tasks / seconds,
        "tasks_per_node_cpu_s": tasks / cpu,
        "node_cpu_share": cpu / seconds / nodes,
        "commits_per_task": sum(s[1] for s in stopped) / tasks,
        "batches_per_task": sum(s[2] for s in stopped) / tasks,
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
        "server_cpu_ms_per_task": {  # PostgreSQL's CPU (its drain included), per task
            "one_node": median(1, "server_cpu_ms_per_task"),
            "two_nodes": median(2, "server_cpu_ms_per_task"),
        },
        "store_commits_per_task": {  # write round trips of the nodes (heartbeats included)
            "one_node": median(1, "commits_per_task"),
            "two_nodes": median(2, "commits_per_task"),
        },
        "store_batches_per_task": {
            "one_node": median(1, "batches_per_task"),
            "two_nodes": median(2, "batches_per_task"),
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
