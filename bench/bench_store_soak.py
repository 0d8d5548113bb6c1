"""Size soak: many tasks through TaskAgents on SQLite with outcome retention on.

Four TaskAgents (``OutcomeRetention(max_outcomes=10_000)`` each) run zero-work tasks fed
by a producer that keeps a bounded backlog (``queue_many`` of 500, progress read from
the agents' ``status``). Measured: the largest
database file and WAL seen (sampled every 1 % of the run, and at the end), and the
throughput of the last 10 % of the tasks against the first 10 % (1.0: no slowdown as
the file ages), twice: in wall-clock time, and in process CPU time per task
(``time.process_time``: the loop and the store's helper thread). Other jobs on the
machine slow the wall clock of one tenth and not the other; they barely move the CPU
time a task costs, so ``last_vs_first_10pct_cpu`` is the figure to compare on a shared
machine. ``python bench/bench_store_soak.py 1000000`` runs the full-size soak.
"""

from __future__ import annotations

import asyncio
import gc
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import bastion
from bastion.agents import OutcomeRetention, Task, TaskAgent, act
from bastion.persistence import SQLiteStore

AGENTS = 4
CHUNK = 500
BACKLOG = 4 * CHUNK * AGENTS


class GcClock:
    """CPU seconds spent in the cyclic garbage collector, and its full collections."""

    def __init__(self) -> None:
        self.seconds, self.full, self._began = 0.0, 0, 0.0

    def __enter__(self) -> GcClock:
        gc.callbacks.append(self._note)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._note)

    def _note(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._began = time.process_time()
        else:
            self.seconds += time.process_time() - self._began
            self.full += info["generation"] == 2


def _rss_mb() -> float:
    """This process's resident memory now (Linux), else its peak."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
    return pages * resource.getpagesize() / 1e6


class Progress:
    """Finished tasks so far, with a wall-clock and a CPU time stamp at every 1 % of
    ``target`` (and the garbage collector's CPU time and the resident memory then)."""

    def __init__(self, target: int, collector: GcClock) -> None:
        self.target, self.count, self.collector = target, 0, collector
        self.step = max(1, target // 100)
        self.stamps: list[float] = [time.perf_counter()]
        self.cpu: list[float] = [time.process_time()]
        self.gc: list[float] = [collector.seconds]
        self.rss: list[float] = [_rss_mb()]

    def update(self, count: int) -> None:
        """``count`` tasks have finished by now."""
        now, cpu = time.perf_counter(), time.process_time()
        while len(self.stamps) * self.step <= count:
            self.stamps.append(now)
            self.cpu.append(cpu)
            self.gc.append(self.collector.seconds)
            self.rss.append(_rss_mb())
            if len(self.stamps) % 5 == 1:  # progress every 5 %, on stderr
                print(f"soak: {count:,} / {self.target:,} tasks", file=sys.stderr, flush=True)
        self.count = count

    def per_tenth(self, stamps: list[float], scale: float) -> list[float]:
        """Each tenth of the run: ``scale`` * tasks per unit of ``stamps``, or per task
        with a negative scale."""
        tenth = max(1, (len(stamps) - 1) // 10)
        tasks = tenth * self.step
        spans = [stamps[i + tenth] - stamps[i] for i in range(0, len(stamps) - tenth, tenth)]
        if scale < 0:
            return [round(span / tasks * -scale, 1) for span in spans]
        return [round(tasks / span * scale) if span else 0 for span in spans]

    def tenths(self, stamps: list[float]) -> tuple[int, float, float]:
        """(tasks in a tenth, seconds of the first tenth, seconds of the last tenth)."""
        tenth = max(1, (len(stamps) - 1) // 10)
        first = stamps[tenth] - stamps[0]
        last = stamps[-1] - stamps[-1 - tenth]
        return tenth * self.step, first, last


def _zero(task: Task) -> int:
    return 0


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


async def soak(path: Path, tasks: int, collector: GcClock) -> dict[str, Any]:
    """Run ``tasks`` tasks; sizes in MB, throughput of the first and last 10 %."""
    wal = Path(f"{path}-wal")
    peak_db = peak_wal = 0
    async with (
        await SQLiteStore.open(path) as store,
        bastion.open_runtime(call_timeout=60.0) as rt,
    ):
        state = Progress(tasks, collector)
        keep = OutcomeRetention(max_outcomes=10_000)
        refs = [
            await rt.spawn(
                TaskAgent,
                name=f"s{i}",
                store=store,
                handlers={"zero": _zero},
                max_queue_size=BACKLOG,
                retention=keep,
            )
            for i in range(AGENTS)
        ]
        sent, turn, next_sample = 0, 0, 0
        async with asyncio.timeout(24 * 3600):
            while state.count < tasks:
                full = sent - state.count >= BACKLOG or sent >= tasks
                if turn % AGENTS == 0 or full:  # once per round of chunks, or when waiting
                    state.update(sum([(await act(r, "status")).processed for r in refs]))
                if sent - state.count >= BACKLOG or sent >= tasks:
                    await asyncio.sleep(0.001)
                else:
                    n = min(CHUNK, tasks - sent)
                    await act(refs[turn % AGENTS], "queue_many", tasks=[{"type": "zero"}] * n)
                    sent, turn = sent + n, turn + 1
                if state.count >= next_sample:
                    peak_db, peak_wal = max(peak_db, _size(path)), max(peak_wal, _size(wal))
                    next_sample += state.step
        for ref in refs:
            await ref.stop()
    peak_db, peak_wal = max(peak_db, _size(path)), max(peak_wal, _size(wal))
    count, first, last = state.tenths(state.stamps)
    _, first_cpu, last_cpu = state.tenths(state.cpu)
    return {
        "tasks": tasks,
        "peak_db_mb": round(peak_db / 1e6, 2),
        "peak_wal_mb": round(peak_wal / 1e6, 2),
        "final_db_mb": round(_size(path) / 1e6, 2),
        "first_10pct_tasks_per_s": round(count / first),
        "last_10pct_tasks_per_s": round(count / last),
        "last_vs_first_10pct": round(first / last, 3),
        "first_10pct_cpu_us_per_task": round(first_cpu / count * 1e6, 1),
        "last_10pct_cpu_us_per_task": round(last_cpu / count * 1e6, 1),
        "last_vs_first_10pct_cpu": round(first_cpu / last_cpu, 3),
        "tasks_per_s_by_tenth": state.per_tenth(state.stamps, 1.0),
        "cpu_us_per_task_by_tenth": state.per_tenth(state.cpu, -1e6),
        "gc_us_per_task_by_tenth": state.per_tenth(state.gc, -1e6),
        "full_gc_collections": collector.full,
        "rss_mb_by_tenth": [round(r) for r in state.rss[:: max(1, (len(state.rss) - 1) // 10)]],
    }


async def _main(tasks: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, GcClock() as collector:
        result = await soak(Path(tmp) / "soak.db", tasks, collector)
    return {
        "store_soak": result,
        "ratios": {
            "store_soak_last_vs_first_10pct": result["last_vs_first_10pct"],
            "store_soak_last_vs_first_10pct_cpu": result["last_vs_first_10pct_cpu"],
        },
    }


def run(quick: bool) -> dict[str, Any]:
    """Entry point for ``bench/run.py`` (20,000 tasks quick, 200,000 full)."""
    return asyncio.run(_main(20_000 if quick else 200_000))


if __name__ == "__main__":
    import json

    count = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    print(json.dumps(asyncio.run(_main(count)), indent=2), file=sys.stdout)
