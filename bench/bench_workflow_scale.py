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
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bastion.persistence import MemoryStore, SQLiteStore, StateStore

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _coordinator_jobs import coordinated


async def _jobs_per_s(store: StateStore, idle: int, jobs: int) -> float:
    async with coordinated(store, idle) as run:
        start = time.perf_counter()
        await run("run", jobs)
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
