"""Kill -9 soak: a node running TaskAgents on SQLite with retention on, killed and restarted.

The node (``bench/_kill_soak_node.py``: four TaskAgents, ``OutcomeRetention(max_outcomes=
10_000)`` each, zero-work tasks ``t0``.. queued in acknowledged chunks of 500) is killed
with SIGKILL at ``--kills`` points drawn at random, one in each equal stretch of the
run (measured in acknowledged tasks), each after a random 0-50 ms more, and restarted
with the first task not acknowledged (that chunk is re-offered with the idempotent
``queue``). The acknowledged ids are collected from its ``ACK`` lines, including those
still in the pipe when it died.

Checked, at every restart: for each agent, the tasks acknowledged to it <= its processed
+ queued tasks <= the tasks offered to it (no acknowledged task lost, none invented),
and processed never goes down. At the end: the acknowledged ids are ``t0``..``t<N-1>``
without a gap; the agents' processed counts (saved in the same write as each outcome)
add up to exactly ``N`` with 0 failed — each task's outcome recorded once; no queue row
is left; the outcomes retention kept are distinct, completed, carry their task's number,
and are each agent's latest tasks.

Reported: the largest database file and WAL seen (sampled at every 0.5 % and at each
kill), throughput and process CPU time per task of each tenth of the run (from the
node's ``P`` lines; a tenth's wall clock includes the restarts in it), their last /
first ratios, the total CPU of every node process (``wait4``), and the restart times.
``python bench/bench_kill_soak.py 1000000 --kills 20`` runs the full soak; progress goes
to stderr.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import select
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _kill_soak_node import AGENTS, CHUNK, KEEP, agent_of  # noqa: E402

NODE = HERE / "_kill_soak_node.py"
SILENCE_LIMIT = 600.0  # seconds without a line from the node: it is stuck


class SoakFailure(AssertionError):
    """A guarantee did not hold."""


@dataclass
class Run:
    """What the parent learned from the node processes so far."""

    total: int
    path: Path
    acked_upto: int = 0  # t0..t<acked_upto - 1> are acknowledged
    processed: list[int] = field(default_factory=lambda: [0] * AGENTS)
    marks: list[tuple[int, float, float]] = field(default_factory=list)  # processed, wall, cpu
    cpu_before: float = 0.0  # CPU of the nodes that are gone (wait4)
    peak_db: int = 0
    peak_wal: int = 0
    restarts: list[float] = field(default_factory=list)  # seconds from spawn to READY
    kills: list[dict[str, int]] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)  # every node started, to stop at the end

    def sample_sizes(self) -> None:
        """Note the database and WAL sizes."""
        self.peak_db = max(self.peak_db, _size(self.path))
        self.peak_wal = max(self.peak_wal, _size(Path(f"{self.path}-wal")))

    def line(self, text: str) -> None:
        """Take one line of the node's output."""
        kind, _, rest = text.partition(" ")
        if kind == "ACK":
            first, last = map(int, rest.split())
            if first > self.acked_upto:  # a re-offered chunk may come again; a gap may not
                raise SoakFailure(f"acknowledged t{first} with t{self.acked_upto} missing")
            self.acked_upto = max(self.acked_upto, last + 1)
        elif kind == "P":
            done, cpu = rest.split()
            self.marks.append((int(done), time.perf_counter(), self.cpu_before + float(cpu)))
            self.sample_sizes()

    def check_restart(self, states: list[tuple[int, int]]) -> None:
        """The restored agents hold every acknowledged task and nothing never offered."""
        offered_upto = min(self.acked_upto + CHUNK, self.total)
        for agent, (processed, queued) in enumerate(states):
            acked = _count_on(agent, self.acked_upto)
            offered = _count_on(agent, offered_upto)
            if not acked <= processed + queued <= offered:
                raise SoakFailure(
                    f"w{agent} restored {processed} processed + {queued} queued; "
                    f"{acked} were acknowledged to it and {offered} offered"
                )
            if processed < self.processed[agent]:
                raise SoakFailure(f"w{agent}: processed went from {self.processed[agent]} down")
            self.processed[agent] = processed


def _count_on(agent: int, upto: int) -> int:
    """How many of t0..t<upto - 1> go to ``agent``."""
    chunks, rest = divmod(upto, CHUNK)
    full, extra = divmod(chunks, AGENTS)
    return full * CHUNK + (CHUNK if agent < extra else 0) + (rest if agent == extra else 0)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


class Node:
    """One node process and its output, read line by line with a deadline."""

    def __init__(self, run: Run, writer: str | None) -> None:
        args = [str(run.path), str(run.total), str(run.acked_upto)]
        self.proc = subprocess.Popen(
            [sys.executable, str(NODE), *args, *([writer] if writer else [])],
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self.proc.stdout is not None
        self.fd = self.proc.stdout.fileno()
        self.pending = b""
        run.nodes.append(self)

    def stop(self) -> None:
        """Kill the process if it still runs (the soak failed or was interrupted)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=60.0)

    def next_line(self, limit: float = SILENCE_LIMIT) -> str | None:
        """The next line; None once the node closed its output."""
        deadline = time.monotonic() + limit
        while b"\n" not in self.pending:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                self.proc.kill()
                raise SoakFailure(f"the node printed nothing for {limit:.0f} s")
            chunk = os.read(self.fd, 1 << 16)
            if not chunk:
                return None
            self.pending += chunk
        line, _, self.pending = self.pending.partition(b"\n")
        return line.decode()

    def reap(self) -> tuple[int, float]:
        """Wait for the process to end: its wait status and CPU seconds (user + system)."""
        _, status, usage = os.wait4(self.proc.pid, 0)
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        return self.proc.returncode, usage.ru_utime + usage.ru_stime


def _kill_points(total: int, kills: int, rng: random.Random) -> list[int]:
    """One acknowledged-task count in each of ``kills`` equal stretches of the run."""
    if kills == 0:
        return []
    stretch = total / kills
    return [int((k + rng.uniform(0.05, 0.95)) * stretch) for k in range(kills)]


def _progress(text: str) -> None:
    print(f"kill-soak {time.strftime('%H:%M:%S')}: {text}", file=sys.stderr, flush=True)


def _start(run: Run, writer: str | None) -> Node:
    """A node restored from the database, its restored counts checked."""
    started = time.perf_counter()
    node = Node(run, writer)
    line = node.next_line()
    if line is None or not line.startswith("READY "):
        raise SoakFailure(f"the node did not start: {line!r}")
    run.restarts.append(time.perf_counter() - started)
    states = [tuple(map(int, s.split())) for s in line.removeprefix("READY ").split(",")]
    run.check_restart([(p, q) for p, q in states])
    return node


def soak(run: Run, kills: int, writer: str | None, seed: int) -> dict[str, Any]:
    """Run the soak with ``kills`` kill -9 points; the figures (raises SoakFailure)."""
    rng = random.Random(seed)
    points = _kill_points(run.total, kills, rng)
    node, done_line, report = _start(run, writer), None, 0
    while done_line is None:
        line = node.next_line()
        if line is None:
            raise SoakFailure(f"the node exited early: {node.reap()}")
        run.line(line)
        if run.marks and run.marks[-1][0] >= report:
            _progress(f"{run.marks[-1][0]:,} / {run.total:,} processed")
            step = max(1, run.total // 20)
            report = (run.marks[-1][0] // step + 1) * step
        if line.startswith("DONE "):
            done_line = line
        elif points and run.acked_upto >= points[0]:
            node = _kill(run, node, points.pop(0), rng, writer)
    code, cpu = node.reap()
    if code != 0:
        raise SoakFailure(f"the last node exited with {code}")
    run.cpu_before += cpu
    return _verify(run, done_line)


def _kill(run: Run, node: Node, point: int, rng: random.Random, writer: str | None) -> Node:
    """SIGKILL the node after a random 0-50 ms, read what it printed, restart it."""
    deadline = time.monotonic() + rng.uniform(0.0, 0.05)
    while (left := deadline - time.monotonic()) > 0 and select.select([node.fd], [], [], left)[0]:
        line = node.next_line()
        if line is None:
            break
        run.line(line)
    node.proc.send_signal(signal.SIGKILL)
    while (line := node.next_line()) is not None:  # acknowledged before it died
        run.line(line)
    _, cpu = node.reap()
    run.cpu_before += cpu
    run.sample_sizes()
    reported = run.marks[-1][0] if run.marks else 0  # in memory, maybe not yet saved
    run.kills.append({"point": point, "acked": run.acked_upto, "processed_reported": reported})
    _progress(f"kill {len(run.kills)} at {run.acked_upto:,} acknowledged")
    node = _start(run, writer)
    run.kills[-1]["restored_processed"] = sum(run.processed)
    return node


def _verify(run: Run, done_line: str) -> dict[str, Any]:
    """The end-of-run guarantees; the figures."""
    processed, failed = map(int, done_line.split()[1:])
    if run.acked_upto != run.total:
        raise SoakFailure(f"only t0..t{run.acked_upto - 1} were acknowledged")
    if processed != run.total or failed:  # an outcome lost or recorded twice
        raise SoakFailure(f"{processed} processed and {failed} failed of {run.total} tasks")
    latest = 0
    with sqlite3.connect(run.path) as conn:
        left = conn.execute("SELECT count(*) FROM items WHERE coll = 'queue'").fetchone()[0]
        if left:
            raise SoakFailure(f"{left} queue rows left after every task finished")
        seen: set[str] = set()
        for agent in range(AGENTS):
            rows = conn.execute(
                "SELECT item, data FROM items WHERE ns = ? AND coll = 'done'", (f"agent/w{agent}",)
            ).fetchall()
            ids = [item for item, _ in rows]
            if seen & set(ids) or len(set(ids)) != len(ids):
                raise SoakFailure(f"w{agent}: an outcome is recorded twice")
            seen |= set(ids)
            for item, data in rows:
                outcome = msgspec.json.decode(data)
                n = int(item.removeprefix("t"))
                if outcome["status"] != "completed" or outcome["result"] != n:
                    raise SoakFailure(f"{item}: outcome {outcome}")
                if agent_of(n) != agent:
                    raise SoakFailure(f"{item} finished on w{agent}")
            mine = [n for n in range(run.total) if agent_of(n) == agent]
            newest = {f"t{n}" for n in mine[-(KEEP.max_outcomes or 0) :]}
            if len(ids) != len(newest):
                raise SoakFailure(f"w{agent} kept {len(ids)} outcomes, not {len(newest)}")
            latest += len(newest & set(ids))
    return {
        "processed": processed,
        "failed": failed,
        "kept_outcomes": len(seen),
        "kept_outcomes_that_are_the_latest": latest,
    }


def _tenths(run: Run) -> dict[str, Any]:
    """Throughput and CPU per task of each tenth of the run, from the ``P`` marks."""
    bounds = []
    for k in range(11):
        goal = run.total * k // 10
        bounds.append(next(m for m in run.marks if m[0] >= goal))
    rates, cpus = [], []
    for (n0, t0, c0), (n1, t1, c1) in itertools.pairwise(bounds):
        rates.append(round((n1 - n0) / max(t1 - t0, 1e-3)))
        cpus.append(round((c1 - c0) / max(1, n1 - n0) * 1e6, 1))
    return {
        "tasks_per_s_by_tenth": rates,
        "cpu_us_per_task_by_tenth": cpus,
        "last_vs_first_10pct": round(rates[-1] / rates[0], 3) if rates[0] else None,
        "last_vs_first_10pct_cpu": round(cpus[0] / cpus[-1], 3) if cpus[-1] else None,
    }


def measure(tasks: int, kills: int, writer: str | None = None, seed: int = 15) -> dict[str, Any]:
    """The soak in a fresh database; the figures."""
    with tempfile.TemporaryDirectory() as tmp:
        run = Run(total=tasks, path=Path(tmp) / "soak.db")
        started = time.perf_counter()
        try:
            checks = soak(run, kills, writer, seed)
        finally:
            for node in run.nodes:
                node.stop()
        seconds = time.perf_counter() - started
        final_db = _size(run.path)
    return {
        "tasks": tasks,
        "kills": len(run.kills),
        "acknowledged": run.acked_upto,
        **checks,
        "seconds": round(seconds, 1),
        "tasks_per_s": round(tasks / seconds),
        "cpu_us_per_task_all_nodes": round(run.cpu_before / tasks * 1e6, 1),
        "peak_db_mb": round(run.peak_db / 1e6, 2),
        "peak_wal_mb": round(run.peak_wal / 1e6, 2),
        "final_db_mb": round(final_db / 1e6, 2),
        "restart_s_max": round(max(run.restarts), 3),
        "restart_s_median": round(sorted(run.restarts)[len(run.restarts) // 2], 3),
        **_tenths(run),
        "kill_points": run.kills,
    }


def run(quick: bool) -> dict[str, Any]:
    """Entry point for ``bench/run.py`` (10,000 tasks and 3 kills quick; 100,000 and 20)."""
    result = measure(10_000, 3) if quick else measure(100_000, 20)
    return {
        "kill_soak": result,
        "ratios": {
            "kill_soak_last_vs_first_10pct": result["last_vs_first_10pct"],
            "kill_soak_last_vs_first_10pct_cpu": result["last_vs_first_10pct_cpu"],
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tasks", type=int, nargs="?", default=20_000)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--writer", choices=["loop", "thread", "process"], default=None)
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args(argv)
    if args.tasks < 10 * CHUNK or args.kills < 0:
        parser.error(f"tasks must be >= {10 * CHUNK} and kills >= 0")
    print(json.dumps(measure(args.tasks, args.kills, args.writer, args.seed), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
